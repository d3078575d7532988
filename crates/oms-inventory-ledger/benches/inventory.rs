//! Inventory ledger benchmark, end to end against PostgreSQL and a tansu broker.
//!
//! 1. POS movements/s: movements already on `oms.pos-movements.v1` (10,000 SKUs at 20
//!    stores) consumed, applied and announced on `oms.inventory.v1` by the running service,
//!    from its start until the last one is applied.
//! 2. Availability look-ups/s over gRPC, with p50/p99 latency: many concurrent callers
//!    asking for one SKU across the network.
//! 3. Reservations/s over gRPC: concurrent Reserve calls of one line each.
//!
//! Ends with `RESULT inventory_movements_per_s`, `RESULT inventory_lookups_per_s`,
//! `RESULT inventory_lookup_p99_ms` and `RESULT inventory_reservations_per_s`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use oms_eventsourcing::testing::{TestBackend, TestStore};
use oms_eventsourcing::{SystemClock, WriterConfig};
use oms_inventory_ledger::domain::LedgerPolicy;
use oms_inventory_ledger::service::{self, InventoryConfig};
use oms_proto::inventory::v1 as pb;
use oms_proto::inventory::v1::inventory_ledger_client::InventoryLedgerClient;
use oms_proto::pos::v1 as pos;
use oms_service::Wiring;
use oms_transport::testing::TansuBroker;
use oms_transport::{KafkaConfig, ensure_topics};
use prost::Message as _;
use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tonic::transport::Channel;

const MOVEMENTS: usize = 200_000;
const SKUS: usize = 10_000;
const STORES: usize = 20;
const LOOKUP_SECONDS: u64 = 5;
const CALLERS: usize = 64;
const CONNECTIONS: usize = 4;

fn sku(i: usize) -> String {
    format!("SKU-{:05}", i % SKUS)
}

fn store(i: usize) -> String {
    format!("S{:02}", i % STORES)
}

async fn produce_movements(kafka: &KafkaConfig) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &kafka.bootstrap_servers)
        .set("linger.ms", "5")
        .set("batch.num.messages", "10000")
        .create()
        .expect("producer");
    let now = oms_service::convert::timestamp(chrono::Utc::now());
    let started = Instant::now();
    for chunk in (0..MOVEMENTS).collect::<Vec<_>>().chunks(5_000) {
        let mut deliveries = Vec::new();
        for &i in chunk {
            let location = store(i / SKUS);
            let movement = pos::StockMovement {
                movement_id: format!("m-{i}"),
                location_id: location.clone(),
                sku: sku(i),
                kind: if i < SKUS * STORES {
                    pos::MovementKind::Receipt
                } else {
                    pos::MovementKind::Sale
                } as i32,
                quantity: if i < SKUS * STORES { 50 } else { 1 },
                occurred_at: Some(now),
                ..Default::default()
            };
            let payload = movement.encode_to_vec();
            let record = FutureRecord::to("oms.pos-movements.v1")
                .key(&location)
                .payload(&payload);
            deliveries.push(producer.send_result(record).map_err(|(e, _)| e).expect("queued"));
        }
        for delivery in deliveries {
            delivery.await.expect("report").expect("delivered");
        }
    }
    eprintln!(
        "  {MOVEMENTS} movements on the POS topic in {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

async fn connect(addr: std::net::SocketAddr) -> InventoryLedgerClient<Channel> {
    InventoryLedgerClient::connect(format!("http://{addr}"))
        .await
        .expect("connect")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!(
        "inventory benchmark: {MOVEMENTS} POS movements over {SKUS} SKUs at {STORES} stores; look-ups for {LOOKUP_SECONDS}s from {CALLERS} callers"
    );
    let broker = tokio::task::spawn_blocking(TansuBroker::start).await.expect("tansu");
    let mut kafka = KafkaConfig::new(broker.bootstrap_servers(), "inventory-bench");
    kafka.topic_partitions = 6;
    ensure_topics(&kafka, &["oms.pos-movements.v1".to_owned()])
        .await
        .expect("topic");
    produce_movements(&kafka).await;

    let database = TestStore::new(TestBackend::Postgres).await;
    let config = InventoryConfig {
        store: database.config.clone(),
        policy: LedgerPolicy::default(),
        writer: WriterConfig {
            snapshot_every: 0,
            ..WriterConfig::default()
        },
        expiry_every: Duration::from_secs(1),
        // The service's own work, as before access control: the end-to-end benchmark
        // measures the whole path with it.
        access: oms_service::auth::Access::open(),
    };
    // The stores are known before the movements for them are read.
    let setup_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("port");
    let setup = service::start(
        config.clone(),
        Wiring::InProcess(Default::default()),
        Arc::new(SystemClock),
        setup_listener,
    )
    .await
    .expect("setup");
    for i in 0..STORES {
        let location = oms_inventory_ledger::domain::LocationRecord {
            location_id: store(i).into(),
            kind: oms_inventory_ledger::domain::NodeType::Store,
            name: store(i),
            attributes: Default::default(),
            location: None,
            active: true,
        };
        setup.app.upsert_location(location).await.expect("location");
    }
    setup.stop().await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("port");
    let started = Instant::now();
    let running = service::start(config, Wiring::Kafka(kafka.clone()), Arc::new(SystemClock), listener)
        .await
        .expect("service");
    let writer = running.app.writer().clone();
    let expected_events = (MOVEMENTS + STORES) as u64;
    loop {
        let applied = writer.stats().events + STORES as u64;
        if applied >= expected_events {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let ingest = MOVEMENTS as f64 / started.elapsed().as_secs_f64();
    let stats = writer.stats();
    println!(
        "movements/s   POS topic -> ledger (events + announcements, committed):  {ingest:>9.0}   ({} per transaction)",
        stats.events / stats.batches.max(1)
    );

    // The announcements are relayed to the broker after the movements are applied; the
    // look-ups are measured once the relay is done, on a service at rest.
    let relayed = Instant::now();
    loop {
        let cursor = running.store.relay_cursor("kafka").await.expect("cursor");
        if running.store.read_outbox(cursor, 1).await.expect("outbox").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "  announcements relayed {:.1}s after the last movement was applied",
        relayed.elapsed().as_secs_f64()
    );

    // Look-ups.
    let addr = running.addr;
    let mut channels = Vec::new();
    for _ in 0..CONNECTIONS {
        channels.push(connect(addr).await);
    }
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(LOOKUP_SECONDS);
    let mut callers = Vec::new();
    for c in 0..CALLERS {
        let mut client = channels[c % CONNECTIONS].clone();
        let done = done.clone();
        callers.push(tokio::spawn(async move {
            let mut latencies = Histogram::<u64>::new(3).expect("histogram");
            let mut i = c * 7_919;
            while Instant::now() < deadline {
                i += 1;
                let request = pb::GetAvailabilityRequest {
                    skus: vec![sku(i)],
                    location_ids: vec![],
                    channel: String::new(),
                };
                let sent = Instant::now();
                let answer = client.get_availability(request).await.expect("look-up");
                latencies.record(sent.elapsed().as_micros() as u64).expect("record");
                assert_eq!(answer.into_inner().skus.len(), 1);
                done.fetch_add(1, Ordering::Relaxed);
            }
            latencies
        }));
    }
    let started = Instant::now();
    let mut latencies = Histogram::<u64>::new(3).expect("histogram");
    for caller in callers {
        latencies.add(caller.await.expect("caller")).expect("merge");
    }
    let lookups = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    let p50 = latencies.value_at_quantile(0.5) as f64 / 1000.0;
    let p99 = latencies.value_at_quantile(0.99) as f64 / 1000.0;
    println!(
        "look-ups/s    GetAvailability of one SKU across {STORES} stores:        {lookups:>9.0}   p50 {p50:.2} ms, p99 {p99:.2} ms"
    );

    // The same with a cart of five SKUs per call, as a checkout asks.
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(LOOKUP_SECONDS);
    let mut callers = Vec::new();
    for c in 0..CALLERS {
        let mut client = channels[c % CONNECTIONS].clone();
        let done = done.clone();
        callers.push(tokio::spawn(async move {
            let mut latencies = Histogram::<u64>::new(3).expect("histogram");
            let mut i = c * 7_919;
            while Instant::now() < deadline {
                i += 5;
                let skus = (i..i + 5).map(sku).collect();
                let request = pb::GetAvailabilityRequest {
                    skus,
                    location_ids: vec![],
                    channel: String::new(),
                };
                let sent = Instant::now();
                let answer = client.get_availability(request).await.expect("look-up");
                latencies.record(sent.elapsed().as_micros() as u64).expect("record");
                assert_eq!(answer.into_inner().skus.len(), 5);
                done.fetch_add(5, Ordering::Relaxed);
            }
            latencies
        }));
    }
    let started = Instant::now();
    let mut cart_latencies = Histogram::<u64>::new(3).expect("histogram");
    for caller in callers {
        cart_latencies.add(caller.await.expect("caller")).expect("merge");
    }
    let sku_lookups = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    let cart_p99 = cart_latencies.value_at_quantile(0.99) as f64 / 1000.0;
    println!(
        "look-ups/s    SKUs answered, five per GetAvailability call:          {sku_lookups:>9.0}   p99 {cart_p99:.2} ms per call"
    );

    // Reservations.
    let reserved = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(LOOKUP_SECONDS);
    let mut callers = Vec::new();
    for c in 0..CALLERS {
        let mut client = channels[c % CONNECTIONS].clone();
        let reserved = reserved.clone();
        callers.push(tokio::spawn(async move {
            let mut i = 0usize;
            while Instant::now() < deadline {
                i += 1;
                let request = pb::ReserveRequest {
                    reservation_id: format!("res-{c}-{i}"),
                    reference: format!("order-{c}-{i}"),
                    location_id: store(c),
                    lines: vec![pb::ReservationLine {
                        sku: sku(c * 131 + i),
                        quantity: 1,
                    }],
                    ttl_seconds: 3600,
                    channel: String::new(),
                };
                if client.reserve(request).await.is_ok() {
                    reserved.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let started = Instant::now();
    for caller in callers {
        caller.await.expect("caller");
    }
    let reservations = reserved.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    println!("reservations/s  Reserve of one line over gRPC:                         {reservations:>9.0}");
    println!("targets: >= 50,000 movements/s; >= 50,000 look-ups/s with p99 <= 5 ms");

    running.stop().await;
    println!("RESULT inventory_movements_per_s {ingest:.0}");
    println!("RESULT inventory_lookups_per_s {lookups:.0}");
    println!("RESULT inventory_lookup_p99_ms {p99:.2}");
    println!("RESULT inventory_reservations_per_s {reservations:.0}");
    println!("RESULT inventory_sku_lookups_in_carts_per_s {sku_lookups:.0}");
}
