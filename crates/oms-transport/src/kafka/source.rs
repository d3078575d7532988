//! Reading in the consumer group: joining it, taking batches of messages through the
//! partition guard, committing the offsets of acknowledged batches, and leaving.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use oms_eventsourcing::EventStore;
use rdkafka::consumer::{CommitMode, Consumer as _, StreamConsumer};
use rdkafka::message::BorrowedMessage;
use rdkafka::{Offset, TopicPartitionList};

use super::guard::{PartitionGuard, Taken};
use super::{COMMIT_EVERY, Inbox, KafkaSource, Rejoin};
use crate::config::ClientKind;
use crate::consumer::ConsumerStats;
use crate::{KafkaConfig, Message, TransportError};

impl KafkaSource {
    /// Joins consumer group `group` and subscribes to `topics`.
    pub fn subscribe(config: &KafkaConfig, group: &str, topics: &[&str]) -> Result<Self, TransportError> {
        let consumer: StreamConsumer<PartitionGuard> = config
            .client(
                ClientKind::Consumer,
                &[
                    ("group.id", group),
                    // Offsets are committed by this code, and only for acknowledged messages:
                    // librdkafka never commits a position of its own (not even when closing).
                    ("enable.auto.commit", "false"),
                    ("enable.auto.offset.store", "false"),
                    // A partition whose position is beyond its log (a log that lost messages
                    // or was replaced) starts again at its beginning; the partition guard
                    // sees the offsets go backwards.
                    ("auto.offset.reset", "earliest"),
                    ("enable.partition.eof", "false"),
                    // Large fetches, answered soon: a consumer that applies thousands of
                    // messages per transaction should never wait for the next ones.
                    ("max.partition.fetch.bytes", "10485760"),
                    ("fetch.wait.max.ms", "20"),
                    // A subscribed topic that disappeared and came back (a broker that lost
                    // its topics) is noticed within seconds, not librdkafka's 5 minutes.
                    ("topic.metadata.refresh.interval.ms", "5000"),
                ],
            )
            .create_with_context(PartitionGuard::default())?;
        consumer.subscribe(topics)?;
        Ok(Self {
            consumer: Some(Arc::new(consumer)),
            kafka: Box::new(config.clone()),
            topics: topics.iter().map(std::string::ToString::to_string).collect(),
            acknowledged: HashMap::new(),
            uncommitted: false,
            last_commit: Instant::now(),
            inbox: None,
            topics_recreated: None,
            rejoin: Rejoin::No,
            asking: None,
        })
    }

    /// Keeps the partitions of messages without an outbox position at the offset
    /// checkpoints of `consumer`'s inbox in `store` (see the module documentation), and
    /// counts what it finds in `stats`. Without it, partitions start where the group's
    /// committed offsets say.
    pub fn bind_inbox(&mut self, store: EventStore, consumer: &str, stats: Arc<ConsumerStats>) {
        self.inbox = Some(Inbox {
            store,
            consumer: consumer.to_owned(),
            loaded: false,
        });
        if let Some(kafka) = &self.consumer {
            kafka.context().count_in(stats);
        }
    }

    /// Reads the consumer's offset checkpoints, once, before the first partition is
    /// assigned (assignments happen while polling, after this).
    async fn load_checkpoints(&mut self) -> Result<(), TransportError> {
        let (Some(inbox), Some(consumer)) = (&mut self.inbox, &self.consumer) else {
            return Ok(());
        };
        if inbox.loaded {
            return Ok(());
        }
        let stored = inbox.store.inbox_checkpoint_details(&inbox.consumer).await?;
        consumer.context().guard_from(stored, &self.topics);
        inbox.loaded = true;
        Ok(())
    }

    pub async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Vec<Message>, TransportError> {
        let Some(consumer) = self.consumer.clone() else {
            return Ok(Vec::new());
        };
        self.load_checkpoints().await?;
        self.ask_the_broker(&consumer).await;
        let deadline = tokio::time::Instant::now() + wait;
        let mut batch = Vec::new();
        // The first message is awaited (a message the guard holds back does not end the
        // wait); the rest are taken as long as they are there.
        while batch.is_empty() {
            let Ok(received) = tokio::time::timeout_at(deadline, consumer.recv()).await else {
                return Ok(batch);
            };
            match received {
                Ok(message) => batch.extend(self.admit(&consumer, message)),
                Err(e) => self.trouble(&consumer, e)?,
            }
        }
        while batch.len() < max {
            match consumer.recv().now_or_never() {
                Some(Ok(message)) => batch.extend(self.admit(&consumer, message)),
                Some(Err(e)) => {
                    self.trouble(&consumer, e)?;
                    break;
                }
                None => break,
            }
        }
        Ok(batch)
    }

    /// Passes a received message through the partition guard: the message to hand out, if
    /// any. The record is let go before its partition is moved.
    fn admit(&self, consumer: &StreamConsumer<PartitionGuard>, received: BorrowedMessage<'_>) -> Option<Message> {
        let taken = consumer.context().take(&received);
        drop(received);
        self.follow(consumer, taken)
    }

    /// Carries out what the guard decided about a message: seeks its partition if it is
    /// to be read from elsewhere, and gives back the message to hand out, if any.
    fn follow(&self, consumer: &StreamConsumer<PartitionGuard>, taken: Taken) -> Option<Message> {
        if let Some((topic, partition, offset)) = taken.seek {
            // Asynchronous: messages fetched before the seek are not delivered after it.
            if let Err(e) = consumer.seek(&topic, partition, offset, Duration::ZERO) {
                tracing::warn!(%topic, partition, ?offset, error = %e, "cannot move the partition; it is checked again when reassigned");
            }
        }
        taken.message
    }

    /// Records the batch as done; its offsets are committed soon after.
    pub fn acknowledge(&mut self, batch: &[std::sync::Arc<Message>]) {
        let guard = self.consumer.as_ref().map(|c| c.context().clone());
        for message in batch {
            let at = self
                .acknowledged
                .entry((message.topic.clone(), message.partition))
                .or_insert((message.reading, message.offset));
            // A message of an earlier reading of the partition (read again since) moves
            // nothing: its offset belongs to another log, or is behind.
            if message.reading > at.0 {
                *at = (message.reading, message.offset);
            } else if message.reading == at.0 {
                at.1 = at.1.max(message.offset);
            }
            self.uncommitted = true;
            if let (Some(guard), None, Some(fingerprint)) = (&guard, message.outbox_position, message.fingerprint) {
                guard.applied(message, fingerprint);
            }
        }
        if self.uncommitted && self.last_commit.elapsed() >= COMMIT_EVERY {
            self.commit(CommitMode::Async);
        }
    }

    /// Commits the acknowledged offsets of the partitions this member still owns, as read
    /// now: after a rebalance another member may own, and have moved, the others.
    fn commit(&mut self, mode: CommitMode) {
        let Some(consumer) = &self.consumer else { return };
        self.last_commit = Instant::now();
        self.uncommitted = false;
        let assigned = consumer.assignment().unwrap_or_default();
        let guard = consumer.context();
        let mut offsets = TopicPartitionList::new();
        for ((topic, partition), (reading, offset)) in &self.acknowledged {
            if assigned.find_partition(topic, *partition).is_some() && guard.is_current(topic, *partition, *reading) {
                let _ = offsets.add_partition_offset(topic, *partition, Offset::Offset(offset + 1));
            }
        }
        self.acknowledged
            .retain(|(topic, partition), _| assigned.find_partition(topic, *partition).is_some());
        tracing::debug!(offsets = ?offsets.to_topic_map(), "committing offsets");
        if offsets.count() > 0
            && let Err(e) = consumer.commit(&offsets, mode)
        {
            // The messages will come again, and the inbox will absorb them.
            tracing::debug!(error = %e, "offsets not committed");
        }
    }

    /// Commits the offsets of what was acknowledged (only that: messages received but not
    /// applied must come again), leaves the group and destroys the client, within a time
    /// limit: librdkafka can hang while destroying a consumer that holds prefetched
    /// messages, and a stuck shutdown must not keep the process alive.
    pub async fn close(mut self) {
        let (Some(_), true) = (&self.consumer, self.uncommitted) else {
            return self.destroy().await;
        };
        let committing = tokio::task::spawn_blocking(move || {
            self.commit(CommitMode::Sync);
            self
        });
        match tokio::time::timeout(Duration::from_secs(10), committing).await {
            Ok(Ok(source)) => source.destroy().await,
            _ => tracing::warn!("the last offsets were not committed within 10 s; the messages will come again"),
        }
    }

    async fn destroy(mut self) {
        let Some(consumer) = self.consumer.take() else { return };
        let closing = tokio::task::spawn_blocking(move || {
            consumer.unsubscribe();
            drop(consumer);
        });
        if tokio::time::timeout(Duration::from_secs(10), closing).await.is_err() {
            tracing::warn!("the Kafka consumer did not close within 10 s; leaving it behind");
        }
    }
}

impl Drop for KafkaSource {
    fn drop(&mut self) {
        if let Some(consumer) = self.consumer.take() {
            // Not closed deliberately (a panic, an aborted task): never block here.
            std::thread::spawn(move || drop(consumer));
        }
    }
}
