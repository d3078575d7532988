//! The outbox relay: drains a service's outbox to Kafka.
//!
//! It reads committed outbox rows in the order the store guarantees no late commit can
//! overtake (see `EventStore::read_outbox`), produces them with an idempotent producer
//! (acks from all replicas, no reordering, no duplicates from producer retries), waits
//! for every delivery report of the batch, and only then moves its cursor. If it dies
//! between producing and moving the cursor, the batch is produced again after the restart;
//! each copy carries the same `oms_outbox_position`, and consumers' inboxes drop the copy.
//!
//! It carries on unaided when the broker loses its state: a round that is not delivered
//! (within `deliver_within`) is produced again by a new producer — an idempotent producer
//! whose producer id the broker no longer knows never recovers — after the round's topics
//! (its own, and the dead-letter topics a consumer's outbox holds) are created again if
//! they are gone. Asked to stop, it drains the outbox for `drain_within` at most, and
//! leaves the rest to the next start.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use oms_eventsourcing::EventStore;
use oms_eventsourcing::store::{OutboxPosition, OutboxRecord};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer as _};
use rdkafka::util::Timeout;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::backoff::{Backoff, until_ok};
use crate::config::ClientKind;
use crate::kafka::create_missing_topics;
use crate::message::headers;
use crate::warnings::{QuietLog, Warnings};
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
    /// A round whose delivery reports have not all come back by then is given up and
    /// produced again by a new producer.
    pub deliver_within: Duration,
    /// How long the relay goes on draining the outbox once asked to stop; what is left
    /// then stays in the outbox and is relayed after the next start.
    pub drain_within: Duration,
    /// For crash tests: stop, as if killed, after producing this many batches and before
    /// moving the cursor past the last of them.
    pub halt_after_batches: Option<u64>,
}

/// The variable that sets [`RelayConfig::drain_within`], in seconds.
pub const DRAIN_SECONDS_VAR: &str = "OMS_RELAY_DRAIN_SECONDS";

impl RelayConfig {
    pub fn new(source: impl Into<String>) -> Self {
        Self {
            name: "kafka".into(),
            source: source.into(),
            batch: 1_000,
            idle_wait: Duration::from_millis(250),
            retention: Duration::from_secs(24 * 3600),
            deliver_within: Duration::from_secs(10),
            drain_within: Duration::from_secs(5),
            halt_after_batches: None,
        }
    }

    /// [`RelayConfig::new`], with `OMS_RELAY_DRAIN_SECONDS` from the environment.
    pub fn from_env(source: impl Into<String>) -> Result<Self, TransportError> {
        Self::from_vars(std::env::vars(), source)
    }

    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
        source: impl Into<String>,
    ) -> Result<Self, TransportError> {
        let mut config = Self::new(source);
        if let Some((_, seconds)) = vars.into_iter().find(|(name, _)| name == DRAIN_SECONDS_VAR) {
            let seconds: f64 = seconds
                .parse()
                .ok()
                .filter(|s: &f64| s.is_finite() && *s >= 0.0)
                .ok_or_else(|| {
                    TransportError::Config(format!("{DRAIN_SECONDS_VAR}={seconds:?} is not a number of seconds"))
                })?;
            config.drain_within = Duration::from_secs_f64(seconds);
        }
        Ok(config)
    }
}

/// Counters of a relay.
#[derive(Debug, Default)]
pub struct RelayStats {
    pub messages: AtomicU64,
    pub batches: AtomicU64,
    pub failed_rounds: AtomicU64,
    /// Producers made anew after a round that was not delivered.
    pub producers_replaced: AtomicU64,
    /// Topics the relay found missing on the broker and created again.
    pub topics_recreated: AtomicU64,
}

pub struct Relay {
    store: EventStore,
    kafka: KafkaConfig,
    producer: FutureProducer<QuietLog>,
    /// Shared by every producer the relay makes, so a new one does not log anew what the
    /// last one just logged.
    log: QuietLog,
    warnings: Warnings,
    config: RelayConfig,
    stats: Arc<RelayStats>,
}

/// Why a relay stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum RelayExit {
    /// Asked to stop, with the outbox drained.
    Stopped,
    /// Asked to stop, and out of time before the outbox was drained (the broker or the
    /// database did not answer): the rows left (when they could be counted) stay in the
    /// outbox and are relayed after the next start.
    Unfinished { rows_left: Option<u64> },
    /// Halted at the configured crash point.
    Halted,
}

impl Relay {
    pub fn new(store: EventStore, kafka: &KafkaConfig, config: RelayConfig) -> Result<Self, TransportError> {
        let log = QuietLog::default();
        Ok(Self {
            producer: new_producer(kafka, &log)?,
            store,
            kafka: kafka.clone(),
            log,
            warnings: Warnings::default(),
            config,
            stats: Arc::new(RelayStats::default()),
        })
    }

    pub fn stats(&self) -> Arc<RelayStats> {
        self.stats.clone()
    }

    /// Relays until `stop` turns true, then drains what is left in the outbox, for
    /// `drain_within` at most.
    pub async fn run(mut self, stop: watch::Receiver<bool>) -> Result<RelayExit, TransportError> {
        let exit = self.relay(stop).await;
        retire(self.producer);
        exit
    }

    async fn relay(&mut self, stop: watch::Receiver<bool>) -> Result<RelayExit, TransportError> {
        let mut stopping = Stopping::new(stop, self.config.drain_within);
        let Some(mut cursor) = stopping
            .bounded(self.with_retry("read the relay cursor", || self.store.relay_cursor(&self.config.name)))
            .await
        else {
            return Ok(self.unfinished(None).await);
        };
        let mut last_prune = Instant::now();
        let mut produced_batches = 0u64;
        tracing::info!(relay = %self.config.name, %cursor, "outbox relay started");
        loop {
            let read = stopping
                .bounded(self.with_retry("read the outbox", || self.store.read_outbox(cursor, self.config.batch)))
                .await;
            let Some(batch) = read else {
                return Ok(self.unfinished(Some(cursor)).await);
            };
            if batch.is_empty() {
                if stopping.asked() {
                    tracing::info!(relay = %self.config.name, %cursor, "outbox drained; relay stopped");
                    return Ok(RelayExit::Stopped);
                }
                stopping.bounded(self.store.outbox_written(self.config.idle_wait)).await;
                continue;
            }
            let last = batch.last().map_or(cursor, |r| r.position);
            if !self.produce_until_delivered(&batch, &mut stopping).await {
                return Ok(self.unfinished(Some(cursor)).await);
            }
            produced_batches += 1;
            if self.config.halt_after_batches == Some(produced_batches) {
                tracing::warn!(relay = %self.config.name, "halting at the configured crash point");
                return Ok(RelayExit::Halted);
            }
            let saved = stopping
                .bounded(self.with_retry("save the relay cursor", || {
                    self.store.save_relay_cursor(&self.config.name, last)
                }))
                .await;
            if saved.is_none() {
                // Delivered, but not recorded as such: produced again after the next start.
                return Ok(self.unfinished(Some(cursor)).await);
            }
            cursor = last;
            self.stats.messages.fetch_add(batch.len() as u64, Ordering::Relaxed);
            self.stats.batches.fetch_add(1, Ordering::Relaxed);
            if last_prune.elapsed() > Duration::from_secs(60) {
                last_prune = Instant::now();
                self.prune(cursor).await;
            }
        }
    }

    /// Out of time to drain: says how much stays in the outbox for the next start.
    async fn unfinished(&self, cursor: Option<OutboxPosition>) -> RelayExit {
        let counted = match cursor {
            Some(cursor) => tokio::time::timeout(Duration::from_secs(2), self.store.outbox_rows_after(cursor))
                .await
                .ok()
                .and_then(Result::ok),
            None => None,
        };
        match counted {
            Some(rows) => tracing::warn!(
                relay = %self.config.name, rows, within_ms = self.config.drain_within.as_millis() as u64,
                "relay stopped before the outbox was drained; the rows left are relayed after the next start"
            ),
            None => tracing::warn!(
                relay = %self.config.name, within_ms = self.config.drain_within.as_millis() as u64,
                "relay stopped before the outbox was drained (the rows left could not be counted); they are relayed \
                 after the next start"
            ),
        }
        RelayExit::Unfinished { rows_left: counted }
    }

    /// Produces every record of the batch and waits for all delivery reports; on any
    /// failure, makes a new producer, creates the batch's topics if they are gone, and
    /// produces the whole batch again (the copies are harmless) after a pause. `false` if
    /// the relay ran out of time to stop meanwhile.
    async fn produce_until_delivered(&mut self, batch: &[OutboxRecord], stopping: &mut Stopping) -> bool {
        let mut pause = Backoff::from(Duration::from_millis(100));
        loop {
            let Some(produced) = stopping.bounded(self.produce(batch)).await else {
                return false;
            };
            let Err(e) = produced else { return true };
            self.stats.failed_rounds.fetch_add(1, Ordering::Relaxed);
            if let Some(times) = self.warnings.admit(&format!("undelivered: {e}")) {
                tracing::warn!(
                    relay = %self.config.name, error = %e, times, retry_in_ms = pause.pause().as_millis() as u64,
                    "relay batch not delivered; producing it again with a new producer"
                );
            }
            if stopping.bounded(self.recover(batch)).await.is_none() {
                return false;
            }
            if stopping.bounded(pause.wait()).await.is_none() {
                return false;
            }
        }
    }

    /// After a round that was not delivered: a new idempotent producer (the broker may
    /// have lost the old one's producer id and sequence numbers, which it never recovers
    /// from), and the round's topics created again if the broker lost them.
    async fn recover(&mut self, batch: &[OutboxRecord]) {
        match new_producer(&self.kafka, &self.log) {
            Ok(producer) => {
                let old = std::mem::replace(&mut self.producer, producer);
                retire(old);
                self.stats.producers_replaced.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                if let Some(times) = self.warnings.admit("no new producer") {
                    tracing::warn!(relay = %self.config.name, error = %e, times, "cannot make a new producer; keeping the old one");
                }
            }
        }
        let topics: Vec<String> = batch
            .iter()
            .map(|r| r.message.topic.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        match tokio::time::timeout(Duration::from_secs(10), create_missing_topics(&self.kafka, &topics)).await {
            Ok(Ok(created)) if !created.is_empty() => {
                self.stats
                    .topics_recreated
                    .fetch_add(created.len() as u64, Ordering::Relaxed);
                tracing::warn!(relay = %self.config.name, topics = ?created, "topics were missing on the broker; created them again");
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                if let Some(times) = self.warnings.admit("topics not checked") {
                    tracing::warn!(relay = %self.config.name, error = %e, times, "cannot check the topics on the broker");
                }
            }
            Err(_) => {
                if let Some(times) = self.warnings.admit("topics not checked") {
                    tracing::warn!(relay = %self.config.name, times, "the broker did not answer about the topics within 10 s");
                }
            }
        }
    }

    /// Produces every record of the batch, then waits for all their delivery reports.
    async fn produce(&self, batch: &[OutboxRecord]) -> Result<(), TransportError> {
        let mut deliveries = Vec::with_capacity(batch.len());
        for record in batch {
            deliveries.push(self.send(record).await?);
        }
        self.delivered(deliveries).await
    }

    /// Hands one record to the producer; its delivery report, to come.
    async fn send(&self, record: &OutboxRecord) -> Result<DeliveryFuture, TransportError> {
        let message = &record.message;
        let mut future_record = FutureRecord::to(&message.topic)
            .key(message.key.as_str())
            .payload(message.payload.as_slice())
            .timestamp(message.created_at.timestamp_millis())
            .headers(self.headers_of(record));
        loop {
            match self.producer.send_result(future_record) {
                Ok(delivery) => return Ok(delivery),
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

    /// The record's CloudEvents headers (with its outbox position, by which consumers'
    /// inboxes know a copy), then the message's own.
    fn headers_of(&self, record: &OutboxRecord) -> OwnedHeaders {
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
        hs
    }

    /// Waits for every delivery report, for `deliver_within` at most; the first failure
    /// it reports, if any.
    async fn delivered(&self, deliveries: Vec<DeliveryFuture>) -> Result<(), TransportError> {
        let reports = async {
            for delivery in deliveries {
                match delivery.await {
                    Ok(Ok(_)) => {}
                    Ok(Err((e, _))) => return Err(e.into()),
                    Err(_) => {
                        return Err(TransportError::Undelivered(
                            "the producer dropped a delivery report".into(),
                        ));
                    }
                }
            }
            Ok(())
        };
        match tokio::time::timeout(self.config.deliver_within, reports).await {
            Ok(reported) => reported,
            Err(_) => Err(TransportError::Undelivered(format!(
                "not every delivery report came back within {} s",
                self.config.deliver_within.as_secs_f64()
            ))),
        }
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
    async fn with_retry<T, F, Fut>(&self, what: &str, op: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, oms_eventsourcing::StoreError>>,
    {
        until_ok(Duration::from_millis(100), op, |e, pause| {
            if let Some(times) = self.warnings.admit(what) {
                tracing::warn!(error = %e, times, retry_in_ms = pause.as_millis() as u64, "relay cannot {what}");
            }
        })
        .await
    }

    /// Waits until every message handed to the producer is delivered.
    pub fn flush(&self, timeout: Duration) -> Result<(), TransportError> {
        self.producer.flush(Timeout::After(timeout))?;
        Ok(())
    }
}

/// An idempotent producer logging through `log`.
fn new_producer(kafka: &KafkaConfig, log: &QuietLog) -> Result<FutureProducer<QuietLog>, TransportError> {
    Ok(kafka
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
        .create_with_context(log.clone())?)
}

/// Drops a producer on a thread of its own: dropping purges what it still holds and waits
/// for the purge a little, which must not hold up the relay or its runtime.
fn retire(producer: FutureProducer<QuietLog>) {
    std::thread::spawn(move || drop(producer));
}

/// The relay's stop: once asked, it has `within` to finish.
struct Stopping {
    stop: watch::Receiver<bool>,
    within: Duration,
    deadline: Option<Instant>,
}

impl Stopping {
    fn new(stop: watch::Receiver<bool>, within: Duration) -> Self {
        Self {
            stop,
            within,
            deadline: None,
        }
    }

    /// Whether the relay was asked to stop (which starts its time to finish).
    fn asked(&mut self) -> bool {
        if self.deadline.is_none() && *self.stop.borrow() {
            self.deadline = Some(Instant::now() + self.within);
        }
        self.deadline.is_some()
    }

    /// `work`'s outcome, unless the time to finish runs out first (`None` then).
    async fn bounded<F: Future>(&mut self, work: F) -> Option<F::Output> {
        tokio::pin!(work);
        loop {
            self.asked();
            if let Some(deadline) = self.deadline {
                return tokio::time::timeout_at(deadline, work).await.ok();
            }
            tokio::select! {
                done = &mut work => return Some(done),
                changed = self.stop.changed() => {
                    if changed.is_err() {
                        // Nobody can ask any more: as good as asked.
                        self.deadline = Some(Instant::now() + self.within);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_to_drain_is_read_from_the_environment() {
        let vars = |value: &str| [(DRAIN_SECONDS_VAR.to_owned(), value.to_owned())];
        assert_eq!(
            RelayConfig::from_vars(Vec::new(), "oms/routing").unwrap().drain_within,
            Duration::from_secs(5)
        );
        let config = RelayConfig::from_vars(vars("2.5"), "oms/routing").unwrap();
        assert_eq!(config.drain_within, Duration::from_millis(2_500));
        assert_eq!(config.source, "oms/routing");
        for bad in ["soon", "-1", "NaN"] {
            let error = RelayConfig::from_vars(vars(bad), "oms/routing")
                .unwrap_err()
                .to_string();
            assert!(error.contains(DRAIN_SECONDS_VAR), "{error}");
        }
    }
}
