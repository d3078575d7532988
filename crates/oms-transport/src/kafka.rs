//! Kafka: topics, and the consumer-group source of a [`Consumer`](crate::Consumer).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::DateTime;
use futures::FutureExt;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{CommitMode, Consumer as _, StreamConsumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::{BorrowedMessage, Headers, Message as _};
use rdkafka::{Offset, TopicPartitionList};

use crate::config::ClientKind;
use crate::message::{headers, kafka_inbox_source};
use crate::{KafkaConfig, Message, TransportError};

/// Creates `topics` (with the configured partitions and replication) unless they exist.
pub async fn ensure_topics(config: &KafkaConfig, topics: &[String]) -> Result<(), TransportError> {
    let admin: AdminClient<DefaultClientContext> = config.client(ClientKind::Admin, &[]).create()?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| {
            NewTopic::new(
                t,
                config.topic_partitions,
                TopicReplication::Fixed(config.topic_replication),
            )
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    for result in admin.create_topics(new.iter(), &options).await? {
        match result {
            Ok(topic) => tracing::info!(%topic, partitions = config.topic_partitions, "topic created"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(TransportError::Config(format!("cannot create topic {topic}: {code}")));
            }
        }
    }
    Ok(())
}

/// Messages from Kafka topics, read in a consumer group. Offsets are committed only for
/// acknowledged batches (whose effects are committed), at most every `COMMIT_EVERY`, and
/// once more when the source closes.
pub struct KafkaSource {
    consumer: Option<StreamConsumer>,
    /// The offset of the last acknowledged message per topic partition.
    acknowledged: HashMap<(String, i32), i64>,
    /// Acknowledged since the last commit.
    uncommitted: bool,
    last_commit: Instant,
}

const COMMIT_EVERY: Duration = Duration::from_millis(500);

impl KafkaSource {
    /// Joins consumer group `group` and subscribes to `topics`.
    pub fn subscribe(config: &KafkaConfig, group: &str, topics: &[&str]) -> Result<Self, TransportError> {
        let consumer: StreamConsumer = config
            .client(
                ClientKind::Consumer,
                &[
                    ("group.id", group),
                    // Offsets are committed by this code, and only for acknowledged messages:
                    // librdkafka never commits a position of its own (not even when closing).
                    ("enable.auto.commit", "false"),
                    ("enable.auto.offset.store", "false"),
                    ("auto.offset.reset", "earliest"),
                    ("enable.partition.eof", "false"),
                    // Large fetches, answered soon: a consumer that applies thousands of
                    // messages per transaction should never wait for the next ones.
                    ("max.partition.fetch.bytes", "10485760"),
                    ("fetch.wait.max.ms", "20"),
                ],
            )
            .create()?;
        consumer.subscribe(topics)?;
        Ok(Self {
            consumer: Some(consumer),
            acknowledged: HashMap::new(),
            uncommitted: false,
            last_commit: Instant::now(),
        })
    }

    pub async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Vec<Message>, TransportError> {
        let Some(consumer) = &self.consumer else {
            return Ok(Vec::new());
        };
        let first = match tokio::time::timeout(wait, consumer.recv()).await {
            Err(_) => return Ok(Vec::new()),
            Ok(received) => received?,
        };
        let mut batch = vec![to_message(&first)];
        drop(first);
        while batch.len() < max {
            match consumer.recv().now_or_never() {
                Some(Ok(next)) => batch.push(to_message(&next)),
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "Kafka consumer error while batching");
                    break;
                }
                None => break,
            }
        }
        Ok(batch)
    }

    /// Records the batch as done; its offsets are committed soon after.
    pub fn acknowledge(&mut self, batch: &[std::sync::Arc<Message>]) {
        for message in batch {
            let last = self
                .acknowledged
                .entry((message.topic.clone(), message.partition))
                .or_insert(message.offset);
            *last = (*last).max(message.offset);
            self.uncommitted = true;
        }
        if self.uncommitted && self.last_commit.elapsed() >= COMMIT_EVERY {
            self.commit(CommitMode::Async);
        }
    }

    /// Commits the acknowledged offsets of the partitions this member still owns: after a
    /// rebalance another member may own, and have moved, the others.
    fn commit(&mut self, mode: CommitMode) {
        let Some(consumer) = &self.consumer else { return };
        self.last_commit = Instant::now();
        self.uncommitted = false;
        let assigned = consumer.assignment().unwrap_or_default();
        let mut offsets = TopicPartitionList::new();
        for ((topic, partition), offset) in &self.acknowledged {
            if assigned.find_partition(topic, *partition).is_some() {
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

fn to_message(m: &BorrowedMessage<'_>) -> Message {
    let mut message_headers = Vec::new();
    if let Some(hs) = m.headers() {
        for header in hs.iter() {
            let value = header
                .value
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default();
            message_headers.push((header.key.to_owned(), value));
        }
    }
    let find = |name: &str| message_headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let publisher = find(headers::SOURCE);
    let outbox_position = find(headers::OUTBOX_POSITION).and_then(|p| p.parse().ok());
    Message {
        inbox_source: kafka_inbox_source(
            m.topic(),
            m.partition(),
            publisher.as_deref(),
            outbox_position.is_some(),
        ),
        topic: m.topic().to_owned(),
        partition: m.partition(),
        offset: m.offset(),
        key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
        id: find(headers::ID),
        message_type: find(headers::TYPE),
        published_at: find(headers::TIME)
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.to_utc()),
        publisher,
        headers: message_headers,
        payload: m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
        outbox_position,
    }
}
