//! Order capture benchmark, against PostgreSQL and a tansu broker.
//!
//! 1. PlaceOrder/s over gRPC with p50/p99 latency: 64 concurrent callers placing web orders
//!    of three lines (each order validated, recorded, announced on `oms.orders.v1`).
//! 2. Channel-topic ingestion/s: orders already on `oms.channel-orders.v1` placed by the
//!    running service, from its start until the last one is placed.
//!
//! Ends with `RESULT order_place_per_s`, `RESULT order_place_p99_ms` and
//! `RESULT order_channel_ingest_per_s`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use oms_eventsourcing::testing::{TestBackend, TestStore};
use oms_eventsourcing::{SystemClock, WriterConfig};
use oms_order_capture::service::{self, OrderCaptureConfig};
use oms_proto::common::v1 as common;
use oms_proto::orders::v1 as pb;
use oms_proto::orders::v1::order_capture_client::OrderCaptureClient;
use oms_service::Wiring;
use oms_transport::testing::TansuBroker;
use oms_transport::{KafkaConfig, ensure_topics};
use prost::Message as _;
use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};

const SECONDS: u64 = 5;
const CALLERS: usize = 64;
const CONNECTIONS: usize = 4;
const CHANNEL_ORDERS: usize = 50_000;

fn money(amount_minor: i64) -> Option<common::Money> {
    Some(common::Money {
        amount_minor,
        currency: "EUR".into(),
    })
}

fn order(channel: pb::Channel, external_id: String, n: usize) -> pb::OrderDraft {
    let lines: Vec<pb::OrderLine> = (0..3)
        .map(|l| pb::OrderLine {
            line_id: (l + 1).to_string(),
            sku: format!("SKU-{:05}", (n * 7 + l) % 10_000),
            quantity: 1 + (l as i64),
            unit_price: money(1_999),
            description: String::new(),
        })
        .collect();
    pb::OrderDraft {
        channel: channel as i32,
        external_order_id: external_id,
        customer: Some(pb::Customer {
            customer_id: format!("C-{}", n % 5_000),
            ..Default::default()
        }),
        lines,
        currency: "EUR".into(),
        delivery_method: pb::DeliveryMethod::Standard as i32,
        shipping_address: Some(common::Address {
            lines: vec![format!("Street {n}")],
            city: "Berlin".into(),
            postal_code: "10117".into(),
            country: "DE".into(),
            location: Some(common::GeoPoint {
                latitude: 52.5,
                longitude: 13.4,
            }),
            ..Default::default()
        }),
        payments: vec![pb::Payment {
            reference: format!("psp-{n}"),
            tender: pb::TenderType::Card as i32,
            authorised: money(6 * 1_999),
        }],
        priority: pb::Priority::Normal as i32,
        ..Default::default()
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!(
        "order capture benchmark: PlaceOrder for {SECONDS}s from {CALLERS} callers; {CHANNEL_ORDERS} orders from the channel topic"
    );
    let broker = tokio::task::spawn_blocking(TansuBroker::start).await.expect("tansu");
    let mut kafka = KafkaConfig::new(broker.bootstrap_servers(), "orders-bench");
    kafka.topic_partitions = 6;

    // PlaceOrder over gRPC.
    let database = TestStore::new(TestBackend::Postgres).await;
    let config = OrderCaptureConfig {
        store: database.config.clone(),
        writer: WriterConfig {
            snapshot_every: 0,
            ..WriterConfig::default()
        },
        // The service's own work, as before access control: the end-to-end benchmark
        // measures the whole path with it.
        access: oms_service::auth::Access::open(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("port");
    let running = service::start(config, Wiring::Kafka(kafka.clone()), Arc::new(SystemClock), listener)
        .await
        .expect("service");
    let mut channels = Vec::new();
    for _ in 0..CONNECTIONS {
        channels.push(
            OrderCaptureClient::connect(format!("http://{}", running.addr))
                .await
                .expect("connect"),
        );
    }
    let placed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(SECONDS);
    let mut callers = Vec::new();
    for c in 0..CALLERS {
        let mut client = channels[c % CONNECTIONS].clone();
        let placed = placed.clone();
        callers.push(tokio::spawn(async move {
            let mut latencies = Histogram::<u64>::new(3).expect("histogram");
            let mut i = 0;
            while Instant::now() < deadline {
                i += 1;
                let request = pb::PlaceOrderRequest {
                    order: Some(order(pb::Channel::Web, format!("W-{c}-{i}"), c * 1_000_000 + i)),
                };
                let sent = Instant::now();
                client.place_order(request).await.expect("placed");
                latencies.record(sent.elapsed().as_micros() as u64).expect("record");
                placed.fetch_add(1, Ordering::Relaxed);
            }
            latencies
        }));
    }
    let started = Instant::now();
    let mut latencies = Histogram::<u64>::new(3).expect("histogram");
    for caller in callers {
        latencies.add(caller.await.expect("caller")).expect("merge");
    }
    let rate = placed.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    let p50 = latencies.value_at_quantile(0.5) as f64 / 1000.0;
    let p99 = latencies.value_at_quantile(0.99) as f64 / 1000.0;
    let stats = running.app.writer().stats();
    println!(
        "PlaceOrder/s  over gRPC, validated, recorded and announced:   {rate:>9.0}   p50 {p50:.2} ms, p99 {p99:.2} ms   ({} per transaction)",
        stats.commands / stats.batches.max(1)
    );
    running.stop().await;
    drop(database);

    // Channel orders from the topic.
    ensure_topics(&kafka, &["oms.channel-orders.v1".to_owned()])
        .await
        .expect("topic");
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &kafka.bootstrap_servers)
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    for chunk in (0..CHANNEL_ORDERS).collect::<Vec<_>>().chunks(5_000) {
        let mut deliveries = Vec::new();
        for &n in chunk {
            let key = format!("marketplace/M-{n}");
            let payload = order(pb::Channel::Marketplace, format!("M-{n}"), n).encode_to_vec();
            deliveries.push(
                producer
                    .send_result(FutureRecord::to("oms.channel-orders.v1").key(&key).payload(&payload))
                    .map_err(|(e, _)| e)
                    .expect("queued"),
            );
        }
        for delivery in deliveries {
            delivery.await.expect("report").expect("delivered");
        }
    }
    let database = TestStore::new(TestBackend::Postgres).await;
    let config = OrderCaptureConfig {
        store: database.config.clone(),
        writer: WriterConfig {
            snapshot_every: 0,
            ..WriterConfig::default()
        },
        // The service's own work, as before access control: the end-to-end benchmark
        // measures the whole path with it.
        access: oms_service::auth::Access::open(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("port");
    let started = Instant::now();
    let running = service::start(config, Wiring::Kafka(kafka), Arc::new(SystemClock), listener)
        .await
        .expect("service");
    while running.app.writer().read(oms_order_capture::domain::Orders::len) < CHANNEL_ORDERS {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let ingest = CHANNEL_ORDERS as f64 / started.elapsed().as_secs_f64();
    println!("orders/s      from the channel topic, placed and announced:  {ingest:>9.0}");
    running.stop().await;

    println!("RESULT order_place_per_s {rate:.0}");
    println!("RESULT order_place_p99_ms {p99:.2}");
    println!("RESULT order_channel_ingest_per_s {ingest:.0}");
}
