//! The outbox relay: drains a service's outbox to Kafka.
//!
//! It reads committed outbox rows in the order the store guarantees no late commit can
//! overtake (see `EventStore::read_outbox`), produces them with an idempotent producer
//! (acks from all replicas, no reordering, no duplicates from producer retries), waits
//! for every delivery report of the batch, and only then moves its cursor. If it dies
//! between producing and moving the cursor, the batch is produced again after the restart;
//! each copy carries the same `oms_outbox_position`, and consumers' inboxes drop the copy.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use oms_eventsourcing::EventStore;
use oms_eventsourcing::store::{OutboxPosition, OutboxRecord};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use rdkafka::util::Timeout;
use tokio::sync::watch;

use crate::config::ClientKind;
use crate::message::headers;
use crate::{KafkaConfig, TransportError};

#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Names the cursor in the store; one relay per name.
    pub name: String,
    /// `ce_source` of every message: the publishing service.
    pub source: String,
    /// Outbox rows read and produced per round.
    pub batch: usize,
    /// How long to wait for new rows before looking again (rows committed by this process
    /// wake the relay at once).
    pub idle_wait: Duration,
    /// Relayed rows are deleted once they are this old.
    pub retention: Duration,
    /// For crash tests: stop, as if killed, after producing this many batches and before
    /// moving the cursor past the last of them.
    pub halt_after_batches: Option<u64>,
}

impl RelayConfig {
    pub fn new(source: impl Into<String>) -> Self {
        Self {
            name: "kafka".into(),
            source: source.into(),
            batch: 1_000,
            idle_wait: Duration::from_millis(250),
            retention: Duration::from_secs(24 * 3600),
            halt_after_batches: None,
        }
    }
}

/// Counters of a relay.
#[derive(Debug, Default)]
pub struct RelayStats {
    pub messages: AtomicU64,
    pub batches: AtomicU64,
    pub failed_rounds: AtomicU64,
}

pub struct Relay {
    store: EventStore,
    producer: FutureProducer,
    config: RelayConfig,
    stats: Arc<RelayStats>,
}

/// Why a relay stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum RelayExit {
    /// Asked to stop, with the outbox drained.
    Stopped,
    /// Halted at the configured crash point.
    Halted,
}

impl Relay {
    pub fn new(store: EventStore, kafka: &KafkaConfig, config: RelayConfig) -> Result<Self, TransportError> {
        let producer: FutureProducer = kafka
            .client(
                ClientKind::Producer,
                &[
                    ("enable.idempotence", "true"),
                    ("acks", "all"),
                    ("linger.ms", "5"),
                    ("batch.num.messages", "10000"),
                    // The partitioner of the Java client, so other producers agree on placement.
                    ("partitioner", "murmur2_random"),
                    ("message.timeout.ms", "60000"),
                ],
            )
            .create()?;
        Ok(Self {
            store,
            producer,
            config,
            stats: Arc::new(RelayStats::default()),
        })
    }

    pub fn stats(&self) -> Arc<RelayStats> {
        self.stats.clone()
    }

    /// Relays until `stop` turns true, then drains what is left in the outbox.
    pub async fn run(self, mut stop: watch::Receiver<bool>) -> Result<RelayExit, TransportError> {
        let mut cursor = self
            .with_retry("read the relay cursor", || self.store.relay_cursor(&self.config.name))
            .await;
        let mut last_prune = Instant::now();
        let mut produced_batches = 0u64;
        tracing::info!(relay = %self.config.name, %cursor, "outbox relay started");
        loop {
            let batch = self
                .with_retry("read the outbox", || self.store.read_outbox(cursor, self.config.batch))
                .await;
            if batch.is_empty() {
                if *stop.borrow() {
                    tracing::info!(relay = %self.config.name, %cursor, "outbox drained; relay stopped");
                    return Ok(RelayExit::Stopped);
                }
                tokio::select! {
                    _ = self.store.outbox_written(self.config.idle_wait) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
            let last = batch.last().map(|r| r.position).unwrap_or(cursor);
            self.produce_until_delivered(&batch).await;
            produced_batches += 1;
            if self.config.halt_after_batches == Some(produced_batches) {
                tracing::warn!(relay = %self.config.name, "halting at the configured crash point");
                return Ok(RelayExit::Halted);
            }
            self.with_retry("save the relay cursor", || {
                self.store.save_relay_cursor(&self.config.name, last)
            })
            .await;
            cursor = last;
            self.stats.messages.fetch_add(batch.len() as u64, Ordering::Relaxed);
            self.stats.batches.fetch_add(1, Ordering::Relaxed);
            if last_prune.elapsed() > Duration::from_secs(60) {
                last_prune = Instant::now();
                self.prune(cursor).await;
            }
        }
    }

    /// Produces every record of the batch and waits for all delivery reports; on any
    /// failure, produces the whole batch again (the copies are harmless) after a pause.
    async fn produce_until_delivered(&self, batch: &[OutboxRecord]) {
        let mut delay = Duration::from_millis(100);
        loop {
            match self.produce(batch).await {
                Ok(()) => return,
                Err(e) => {
                    self.stats.failed_rounds.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "relay batch not delivered");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
            }
        }
    }

    async fn produce(&self, batch: &[OutboxRecord]) -> Result<(), TransportError> {
        let mut deliveries = Vec::with_capacity(batch.len());
        for record in batch {
            let message = &record.message;
            let position = record.position.to_string();
            let id = message.message_id.to_string();
            let time = message.created_at.to_rfc3339();
            let mut hs = OwnedHeaders::new_with_capacity(8 + message.headers.len())
                .insert(Header {
                    key: headers::ID,
                    value: Some(id.as_str()),
                })
                .insert(Header {
                    key: headers::TYPE,
                    value: Some(message.message_type.as_str()),
                })
                .insert(Header {
                    key: headers::SOURCE,
                    value: Some(self.config.source.as_str()),
                })
                .insert(Header {
                    key: headers::TIME,
                    value: Some(time.as_str()),
                })
                .insert(Header {
                    key: headers::SPEC_VERSION,
                    value: Some("1.0"),
                })
                .insert(Header {
                    key: headers::CONTENT_TYPE,
                    value: Some(headers::PROTOBUF),
                })
                .insert(Header {
                    key: headers::OUTBOX_POSITION,
                    value: Some(position.as_str()),
                });
            for (key, value) in &message.headers {
                hs = hs.insert(Header {
                    key: key.as_str(),
                    value: Some(value.as_str()),
                });
            }
            let mut future_record = FutureRecord::to(&message.topic)
                .key(message.key.as_str())
                .payload(message.payload.as_slice())
                .timestamp(message.created_at.timestamp_millis())
                .headers(hs);
            loop {
                match self.producer.send_result(future_record) {
                    Ok(delivery) => {
                        deliveries.push(delivery);
                        break;
                    }
                    Err((
                        rdkafka::error::KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull),
                        returned,
                    )) => {
                        // The local queue is full: let deliveries drain, then try again.
                        future_record = returned;
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    Err((e, _)) => return Err(e.into()),
                }
            }
        }
        for delivery in deliveries {
            match delivery.await {
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => return Err(e.into()),
                Err(_) => return Err(TransportError::Config("the producer dropped a delivery report".into())),
            }
        }
        Ok(())
    }

    async fn prune(&self, cursor: OutboxPosition) {
        let Ok(retention) = chrono::Duration::from_std(self.config.retention) else {
            return;
        };
        match self.store.prune_outbox(cursor, chrono::Utc::now() - retention).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(rows = n, "relayed outbox rows pruned"),
            Err(e) => tracing::warn!(error = %e, "outbox not pruned"),
        }
    }

    /// Runs `op` until it succeeds, backing off while the store is unavailable.
    async fn with_retry<T, F, Fut>(&self, what: &str, mut op: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, oms_eventsourcing::StoreError>>,
    {
        let mut delay = Duration::from_millis(100);
        loop {
            match op().await {
                Ok(value) => return value,
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "relay cannot {what}");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
            }
        }
    }

    /// Waits until every message handed to the producer is delivered.
    pub fn flush(&self, timeout: Duration) -> Result<(), TransportError> {
        self.producer.flush(Timeout::After(timeout))?;
        Ok(())
    }
}
