//! Transport benchmark, against a real tansu broker and PostgreSQL.
//!
//! 1. Relay: messages/s from a PostgreSQL outbox to the broker through [`Relay`] (read in
//!    commit order, produce with the idempotent producer, wait for every delivery report,
//!    move the cursor) against a raw rdkafka producer with the same settings sending the
//!    same messages to the same broker. The ratio is the figure.
//! 2. Consumer: messages/s consumed from the topic in a consumer group and applied to a
//!    service state through its writer, each with its inbox checkpoint, in one transaction
//!    per batch.
//!
//! Ends with `RESULT relay_ratio_vs_raw_producer <ratio>` and `RESULT consumer_msgs_per_s <n>`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::Utc;
use oms_eventsourcing::testing::{TestBackend, TestStore};
use oms_eventsourcing::writer::Context;
use oms_eventsourcing::{
    CommitBatch, Decision, DomainEvent, EventHeader, Model, OutboxMessage, SystemClock, Writer, WriterConfig,
    event_type_names,
};
use oms_transport::testing::TansuBroker;
use oms_transport::{
    Consumer, ConsumerConfig, Handling, KafkaConfig, KafkaSource, Message, MessageHandler, Relay, RelayConfig, Source,
    ensure_topics,
};
use rdkafka::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use uuid::Uuid;

const MESSAGES: usize = 100_000;
const KEYS: usize = 5_000;

fn outbox_message(i: usize, topic: &str) -> OutboxMessage {
    OutboxMessage {
        message_id: Uuid::now_v7(),
        topic: topic.into(),
        key: format!("order-{:06}", i % KEYS),
        message_type: "oms.orders.v1.OrderPlaced".into(),
        // About the size of an order event with a few lines.
        payload: vec![(i % 251) as u8; 240],
        headers: vec![(
            "traceparent".into(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
        )],
        created_at: Utc::now(),
    }
}

async fn relay_rate(kafka: &KafkaConfig, topic: &str) -> f64 {
    let store = TestStore::new(TestBackend::Postgres).await;
    for chunk in (0..MESSAGES).collect::<Vec<_>>().chunks(5_000) {
        let batch = CommitBatch {
            outbox: chunk.iter().map(|i| outbox_message(*i, topic)).collect(),
            recorded_at: Utc::now(),
            ..CommitBatch::default()
        };
        store.store.commit(&batch).await.expect("outbox filled");
    }
    let relay = Relay::new(store.store.clone(), kafka, RelayConfig::new("bench/orders")).expect("relay");
    let stats = relay.stats();
    let (stop, stopped) = watch::channel(false);
    let started = Instant::now();
    let task = tokio::spawn(relay.run(stopped));
    while stats.messages.load(Ordering::Relaxed) < MESSAGES as u64 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let _ = stop.send(true);
    task.await.expect("relay task").expect("relay");
    MESSAGES as f64 / elapsed
}

async fn raw_rate(kafka: &KafkaConfig, topic: &str) -> f64 {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &kafka.bootstrap_servers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("batch.num.messages", "10000")
        .set("partitioner", "murmur2_random")
        .create()
        .expect("producer");
    let messages: Vec<OutboxMessage> = (0..MESSAGES).map(|i| outbox_message(i, topic)).collect();
    let started = Instant::now();
    for (c, chunk) in messages.chunks(1_000).enumerate() {
        let mut deliveries = Vec::with_capacity(chunk.len());
        for (i, m) in chunk.iter().enumerate() {
            let id = m.message_id.to_string();
            let time = m.created_at.to_rfc3339();
            let position = format!("0:{}", c * 1_000 + i + 1);
            let mut headers = OwnedHeaders::new_with_capacity(8)
                .insert(Header {
                    key: "ce_id",
                    value: Some(id.as_str()),
                })
                .insert(Header {
                    key: "ce_type",
                    value: Some(m.message_type.as_str()),
                })
                .insert(Header {
                    key: "ce_source",
                    value: Some("bench/raw"),
                })
                .insert(Header {
                    key: "ce_time",
                    value: Some(time.as_str()),
                })
                .insert(Header {
                    key: "ce_specversion",
                    value: Some("1.0"),
                })
                .insert(Header {
                    key: "content-type",
                    value: Some("application/protobuf"),
                })
                .insert(Header {
                    key: "oms_outbox_position",
                    value: Some(position.as_str()),
                });
            for (k, v) in &m.headers {
                headers = headers.insert(Header {
                    key: k.as_str(),
                    value: Some(v.as_str()),
                });
            }
            let record = FutureRecord::to(topic)
                .key(m.key.as_str())
                .payload(m.payload.as_slice())
                .headers(headers);
            deliveries.push(producer.send_result(record).map_err(|(e, _)| e).expect("enqueued"));
        }
        for delivery in deliveries {
            delivery.await.expect("report").expect("delivered");
        }
    }
    MESSAGES as f64 / started.elapsed().as_secs_f64()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Received {
    OrderSeen { key: String, bytes: usize },
}

impl DomainEvent for Received {
    event_type_names!(Received { OrderSeen });
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Orders {
    seen: std::collections::HashMap<String, u64>,
}

impl Model for Orders {
    type Event = Received;
    const NAME: &'static str = "bench-orders";
    const SNAPSHOT_VERSION: u32 = 1;
    fn apply(&mut self, _: &EventHeader<'_>, event: &Received) {
        let Received::OrderSeen { key, .. } = event;
        *self.seen.entry(key.clone()).or_default() += 1;
    }
}

struct CountOrders;

impl MessageHandler<Orders> for CountOrders {
    fn handle(&self, _: &Orders, message: &Message, _: &Context<'_>) -> Result<Decision<Received, ()>, Handling> {
        let key = message.key.clone().ok_or_else(|| Handling::poison("no key"))?;
        let bytes = message.payload.len();
        Ok(Decision::reply(()).event(format!("order-seen-{key}"), Received::OrderSeen { key, bytes }))
    }
}

async fn consumer_rate(kafka: &KafkaConfig, topic: &str) -> (f64, u64) {
    let store = TestStore::new(TestBackend::Postgres).await;
    let (writer, _) = Writer::<Orders>::start(
        store.store.clone(),
        Arc::new(SystemClock),
        WriterConfig {
            snapshot_every: 0,
            ..WriterConfig::default()
        },
    )
    .await
    .expect("writer");
    let config = ConsumerConfig {
        max_batch: 2_000,
        ..ConsumerConfig::new("bench-orders")
    };
    let consumer = Consumer::new(writer.clone(), Arc::new(CountOrders), config);
    let stats = consumer.stats();
    let source = Source::Kafka(KafkaSource::subscribe(kafka, "bench-orders", &[topic]).expect("subscribe"));
    let (stop, stopped) = watch::channel(false);
    let started = Instant::now();
    let task = tokio::spawn(consumer.run(source, stopped));
    // The relay and the raw producer both wrote the topic: every message twice over.
    let expected = 2 * MESSAGES as u64;
    while stats.applied.load(Ordering::Relaxed) < expected {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let _ = stop.send(true);
    let _ = task.await;
    let batches = stats.batches.load(Ordering::Relaxed);
    writer.shutdown().await;
    (expected as f64 / elapsed, expected / batches.max(1))
}

/// How fast a bare consumer in a group reads the topic, doing nothing with the messages:
/// the ceiling set by the broker and the client.
async fn raw_consumer_rate(kafka: &KafkaConfig, topic: &str) -> f64 {
    use rdkafka::consumer::{Consumer as _, StreamConsumer};
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &kafka.bootstrap_servers)
        .set("group.id", "bench-raw-reader")
        .set("max.partition.fetch.bytes", "10485760")
        .set("fetch.wait.max.ms", "20")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let expected = 2 * MESSAGES;
    let started = Instant::now();
    let mut bytes = 0usize;
    for _ in 0..expected {
        let message = consumer.recv().await.expect("message");
        bytes += rdkafka::Message::payload(&message).map_or(0, <[u8]>::len);
    }
    let rate = expected as f64 / started.elapsed().as_secs_f64();
    assert!(bytes > 0);
    let _ = tokio::task::spawn_blocking(move || drop(consumer)).await;
    rate
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!("transport benchmark: {MESSAGES} messages of 240 bytes over {KEYS} keys, tansu broker, PostgreSQL stores");
    let broker = tokio::task::spawn_blocking(TansuBroker::start).await.expect("tansu");
    let mut kafka = KafkaConfig::new(broker.bootstrap_servers(), "transport-bench");
    kafka.topic_partitions = 6;
    let topic = "bench.orders.v1";
    ensure_topics(&kafka, &[topic.to_owned()]).await.expect("topic");

    let relay = relay_rate(&kafka, topic).await;
    let raw = raw_rate(&kafka, topic).await;
    let ratio = relay / raw;
    println!("relay msgs/s   outbox -> broker through the relay: {relay:>10.0}");
    println!("raw msgs/s     rdkafka producer, same messages:    {raw:>10.0}");
    println!("ratio (relay / raw):                               {ratio:>10.2}");

    let bare = raw_consumer_rate(&kafka, topic).await;
    let (consumed, per_batch) = consumer_rate(&kafka, topic).await;
    println!(
        "consumer msgs/s  consumer group -> writer with inbox:  {consumed:>9.0}   ({per_batch} messages per transaction)"
    );
    println!("consumer msgs/s  bare rdkafka consumer, same topic:    {bare:>9.0}   (reads only)");

    println!("RESULT relay_ratio_vs_raw_producer {ratio:.3}");
    println!("RESULT relay_msgs_per_s {relay:.0}");
    println!("RESULT consumer_msgs_per_s {consumed:.0}");
    println!("RESULT consumer_ratio_vs_bare_consumer {:.3}", consumed / bare);
}
