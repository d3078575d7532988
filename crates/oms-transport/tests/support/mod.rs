//! The rig of the transport tests: a publisher service, a consumer service, and either
//! transport between them — Kafka (a real tansu broker, the outbox relay and a consumer
//! group, stores on PostgreSQL) or in-process (consumers reading the publisher's outbox,
//! stores on SQLite).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use oms_eventsourcing::store::OutboxPosition;
use oms_eventsourcing::testing::{TestBackend, TestStore};
use oms_eventsourcing::writer::Context;
use oms_eventsourcing::{
    CommandMeta, Decision, DomainEvent, EventHeader, Model, OutboxMessage, SystemClock, Writer, WriterConfig,
    event_type_names,
};
use oms_transport::consumer::ConsumerExit;
use oms_transport::testing::TansuBroker;
use oms_transport::{
    Consumer, ConsumerConfig, ConsumerStats, Handling, KafkaConfig, KafkaSource, Message, MessageHandler, OutboxSource,
    Relay, RelayConfig, RelayExit, RelayStats, Source, ensure_topics,
};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

pub const TOPIC: &str = "test.tally.v1";
pub const DLQ: &str = "test.tally.v1.dlq";

// ---------------------------------------------------------------------------------------
// The publisher: counts per key and announces each count.

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TallyEvent {
    Counted { key: String, seq: u64 },
}

impl DomainEvent for TallyEvent {
    event_type_names!(TallyEvent { Counted });
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Tally {
    counts: BTreeMap<String, u64>,
}

impl Model for Tally {
    type Event = TallyEvent;
    const NAME: &'static str = "tally";
    const SNAPSHOT_VERSION: u32 = 1;
    fn apply(&mut self, _: &EventHeader<'_>, event: &TallyEvent) {
        let TallyEvent::Counted { key, seq } = event;
        self.counts.insert(key.clone(), *seq);
    }
}

pub fn message(key: &str, payload: Vec<u8>, at: chrono::DateTime<chrono::Utc>) -> OutboxMessage {
    OutboxMessage {
        message_id: Uuid::now_v7(),
        topic: TOPIC.into(),
        key: key.into(),
        message_type: "test.tally.v1.Counted".into(),
        payload,
        headers: vec![],
        created_at: at,
    }
}

// ---------------------------------------------------------------------------------------
// The consumer: remembers every count it saw, per key, in order.

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SeenEvent {
    Seen { key: String, seq: u64 },
}

impl DomainEvent for SeenEvent {
    event_type_names!(SeenEvent { Seen });
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Seen {
    pub by_key: BTreeMap<String, Vec<u64>>,
}

impl Seen {
    pub fn total(&self) -> usize {
        self.by_key.values().map(Vec::len).sum()
    }
}

impl Model for Seen {
    type Event = SeenEvent;
    const NAME: &'static str = "seen";
    const SNAPSHOT_VERSION: u32 = 1;
    fn apply(&mut self, _: &EventHeader<'_>, event: &SeenEvent) {
        let SeenEvent::Seen { key, seq } = event;
        self.by_key.entry(key.clone()).or_default().push(*seq);
    }
}

/// Payloads are `key:seq`; `after:other:key:seq` may only be applied once `other` was seen.
pub struct SeenHandler;

impl MessageHandler<Seen> for SeenHandler {
    fn handle(&self, state: &Seen, message: &Message, _: &Context<'_>) -> Result<Decision<SeenEvent, ()>, Handling> {
        let text = std::str::from_utf8(&message.payload).map_err(|_| Handling::poison("payload is not UTF-8"))?;
        let (needs, body) = match text.strip_prefix("after:") {
            Some(rest) => rest
                .split_once(':')
                .map(|(needs, body)| (Some(needs), body))
                .ok_or_else(|| Handling::poison("bad after: prefix"))?,
            None => (None, text),
        };
        if let Some(needs) = needs
            && !state.by_key.contains_key(needs)
        {
            return Err(Handling::park(format!("waiting for {needs}")));
        }
        let (key, seq) = body
            .split_once(':')
            .ok_or_else(|| Handling::poison(format!("{body:?} is not key:seq")))?;
        let seq: u64 = seq
            .parse()
            .map_err(|_| Handling::poison(format!("{seq:?} is not a number")))?;
        Ok(Decision::reply(()).event(format!("seen-{key}"), SeenEvent::Seen { key: key.into(), seq }))
    }
}

// ---------------------------------------------------------------------------------------
// The rig: a publisher, a consumer, and the transport between them.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Transport {
    Kafka,
    InProcess,
}

/// A relay task and the switch that stops it.
pub type RunningRelay = (
    watch::Sender<bool>,
    JoinHandle<Result<RelayExit, oms_transport::TransportError>>,
);

pub struct Rig {
    pub broker: Option<TansuBroker>,
    pub kafka: Option<KafkaConfig>,
    pub publisher_store: TestStore,
    pub consumer_store: TestStore,
    pub publisher: Writer<Tally>,
    pub consumer: Writer<Seen>,
    pub relay: Option<RunningRelay>,
    pub dlq_relay: Option<RunningRelay>,
    pub running: Option<(watch::Sender<bool>, JoinHandle<ConsumerExit>, Arc<ConsumerStats>)>,
    pub stats: Vec<Arc<ConsumerStats>>,
}

impl Rig {
    pub async fn new(transport: Transport) -> Self {
        // OMS_TEST_LOG=<filter> (e.g. `warn,oms_transport=trace`) prints the logs.
        if let Ok(filter) = std::env::var("OMS_TEST_LOG") {
            oms_eventsourcing::testing::install_tracing(&filter);
        }
        let backend = match transport {
            Transport::Kafka => TestBackend::Postgres,
            Transport::InProcess => TestBackend::Sqlite,
        };
        let publisher_store = TestStore::new(backend).await;
        let consumer_store = TestStore::new(backend).await;
        let clock = Arc::new(SystemClock);
        let publisher = Writer::<Tally>::start(publisher_store.store.clone(), clock.clone(), WriterConfig::default())
            .await
            .unwrap()
            .0;
        let consumer = Writer::<Seen>::start(consumer_store.store.clone(), clock, WriterConfig::default())
            .await
            .unwrap()
            .0;
        let (broker, kafka) = match transport {
            Transport::Kafka => {
                let broker = tokio::task::spawn_blocking(TansuBroker::start).await.unwrap();
                let mut kafka = broker.config("conformance");
                // A member that dies is replaced after seconds, not the default 45.
                kafka.properties.insert("session.timeout.ms".into(), "6000".into());
                kafka.properties.insert("heartbeat.interval.ms".into(), "500".into());
                ensure_topics(&kafka, &[TOPIC.into(), DLQ.into()]).await.unwrap();
                (Some(broker), Some(kafka))
            }
            Transport::InProcess => (None, None),
        };
        Self {
            broker,
            kafka,
            publisher_store,
            consumer_store,
            publisher,
            consumer,
            relay: None,
            dlq_relay: None,
            running: None,
            stats: Vec::new(),
        }
    }

    /// Starts relaying the publisher's outbox (Kafka only).
    pub fn start_relay(&mut self, halt_after_batches: Option<u64>) {
        let Some(kafka) = &self.kafka else { return };
        let config = RelayConfig {
            halt_after_batches,
            ..RelayConfig::new("test/tally")
        };
        let relay = Relay::new(self.publisher_store.store.clone(), kafka, config).unwrap();
        let (stop, stopped) = watch::channel(false);
        self.relay = Some((stop, tokio::spawn(relay.run(stopped))));
    }

    /// Starts relaying the publisher's outbox with `config` (Kafka only); its counters.
    pub fn start_relay_with(&mut self, config: RelayConfig) -> Arc<RelayStats> {
        let kafka = self.kafka.as_ref().expect("a relay needs Kafka");
        let relay = Relay::new(self.publisher_store.store.clone(), kafka, config).unwrap();
        let stats = relay.stats();
        let (stop, stopped) = watch::channel(false);
        self.relay = Some((stop, tokio::spawn(relay.run(stopped))));
        stats
    }

    pub async fn relay_exit(&mut self) -> Option<RelayExit> {
        let (_, task) = self.relay.take()?;
        Some(task.await.unwrap().unwrap())
    }

    pub async fn start_consumer(&mut self, halt_after_batches: Option<u64>) {
        let config = ConsumerConfig {
            halt_after_batches,
            max_batch: 16,
            wait: Duration::from_millis(50),
            parked_retry_every: Duration::from_millis(200),
            ..ConsumerConfig::new("seen")
        };
        let source = match &self.kafka {
            Some(kafka) => Source::Kafka(KafkaSource::subscribe(kafka, "seen", &[TOPIC]).unwrap()),
            None => Source::Outbox(
                OutboxSource::open(
                    "tally",
                    self.publisher_store.store.clone(),
                    &[TOPIC],
                    "seen",
                    &self.consumer_store.store,
                )
                .await
                .unwrap(),
            ),
        };
        self.run_consumer(source, config);
    }

    pub fn run_consumer(&mut self, source: Source, config: ConsumerConfig) {
        let consumer = Consumer::new(self.consumer.clone(), Arc::new(SeenHandler), config);
        let stats = consumer.stats();
        self.stats.push(stats.clone());
        let (stop, stopped) = watch::channel(false);
        self.running = Some((stop, tokio::spawn(consumer.run(source, stopped)), stats));
    }

    pub async fn stop_consumer(&mut self) -> ConsumerExit {
        let (stop, task, _) = self.running.take().expect("a running consumer");
        let _ = stop.send(true);
        task.await.unwrap()
    }

    pub async fn consumer_exit(&mut self) -> ConsumerExit {
        let (_stop, task, _) = self.running.take().expect("a running consumer");
        tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .expect("the consumer stops")
            .unwrap()
    }

    pub async fn publish(&self, key: &str, seq: u64) {
        let key = key.to_owned();
        self.publisher
            .execute(CommandMeta::new(), move |_: &Tally, ctx: &Context<'_>| {
                Ok::<_, std::convert::Infallible>(
                    Decision::reply(())
                        .event(format!("tally-{key}"), TallyEvent::Counted { key: key.clone(), seq })
                        .publish(message(&key, format!("{key}:{seq}").into_bytes(), ctx.now)),
                )
            })
            .await
            .unwrap();
    }

    pub async fn publish_raw(&self, key: &str, payload: Vec<u8>) {
        let key = key.to_owned();
        self.publisher
            .execute(CommandMeta::new(), move |_: &Tally, ctx: &Context<'_>| {
                Ok::<_, std::convert::Infallible>(Decision::reply(()).publish(message(&key, payload, ctx.now)))
            })
            .await
            .unwrap();
    }

    pub fn seen(&self) -> BTreeMap<String, Vec<u64>> {
        self.consumer.read(|s| s.by_key.clone())
    }

    pub async fn wait_for_seen(&self, total: usize) {
        let consumer = self.consumer.clone();
        wait_until(&format!("{total} messages applied"), move || {
            consumer.read(Seen::total) >= total
        })
        .await;
    }

    /// Waits until the consumers' `counter` reaches `at_least`: the state shows a batch as
    /// soon as it is decided, and its outcome is counted once its commit is settled.
    pub async fn wait_for_count(
        &self,
        what: &str,
        counter: impl Fn(&ConsumerStats) -> &std::sync::atomic::AtomicU64,
        at_least: u64,
    ) {
        wait_until(what, || self.total(&counter) >= at_least).await;
    }

    pub fn total(&self, counter: impl Fn(&ConsumerStats) -> &std::sync::atomic::AtomicU64) -> u64 {
        self.stats.iter().map(|s| counter(s).load(Ordering::Relaxed)).sum()
    }

    /// The dead letters the consumer wrote: on Kafka, read from the DLQ topic (relayed from
    /// the consumer's outbox); in process, straight from the consumer's outbox.
    pub async fn dead_letters(&mut self, expected: usize) -> Vec<Message> {
        match &self.kafka {
            None => {
                let records = self
                    .consumer_store
                    .store
                    .read_outbox(OutboxPosition::default(), 100)
                    .await
                    .unwrap();
                records
                    .into_iter()
                    .filter(|r| r.message.topic == DLQ)
                    .map(|r| Message::from_outbox("seen", r))
                    .collect()
            }
            Some(kafka) => {
                let kafka = kafka.clone();
                if self.dlq_relay.is_none() {
                    let relay =
                        Relay::new(self.consumer_store.store.clone(), &kafka, RelayConfig::new("test/seen")).unwrap();
                    let (stop, stopped) = watch::channel(false);
                    self.dlq_relay = Some((stop, tokio::spawn(relay.run(stopped))));
                }
                let mut source = Source::Kafka(KafkaSource::subscribe(&kafka, "dlq-reader", &[DLQ]).unwrap());
                let deadline = Instant::now() + Duration::from_secs(60);
                let mut letters = Vec::new();
                while letters.len() < expected && Instant::now() < deadline {
                    letters.extend(source.next_batch(100, Duration::from_millis(200)).await.unwrap());
                }
                source.close().await;
                letters
            }
        }
    }

    pub async fn shutdown(mut self) {
        if self.running.is_some() {
            self.stop_consumer().await;
        }
        for (stop, task) in [self.relay.take(), self.dlq_relay.take()].into_iter().flatten() {
            let _ = stop.send(true);
            let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
        }
        self.publisher.shutdown().await;
        self.consumer.shutdown().await;
        drop(self.broker.take());
    }
}

pub async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn assert_each_once_in_order(seen: &BTreeMap<String, Vec<u64>>, keys: usize, per_key: u64) {
    assert_eq!(seen.len(), keys, "every key arrived");
    for (key, seqs) in seen {
        assert_eq!(
            seqs,
            &(1..=per_key).collect::<Vec<_>>(),
            "key {key}: each count once, in order"
        );
    }
}
