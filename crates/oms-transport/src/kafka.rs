//! Kafka: topics, and the consumer-group source of a [`Consumer`](crate::Consumer).
//!
//! Messages from OMS services carry their publisher's outbox position: the inbox
//! checkpoints them by it, whatever offset the broker gave them. Messages from systems
//! outside the OMS (channel orders, POS movements, WMS confirmations, payments) carry none
//! and are checkpointed by offset, and an offset is only meaningful in one log: a broker
//! that lost its topics, a topic deleted and created again, a migration to another cluster
//! all start the partition's offsets at 0 again. So for those partitions the inbox, not the
//! group's committed offsets, says where a consumer is: each partition is started at its
//! offset checkpoint, and the message found there must be the one applied (the checkpoint
//! keeps its fingerprint). If the log is shorter than the checkpoint, or holds another
//! message there, the partition holds another log: that is logged and counted, and the
//! partition is read from its start under a new inbox epoch (`topic/partition~2`, ...),
//! never skipped. The same check runs again after the client lost its broker, and whenever
//! a partition's offsets go backwards.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::DateTime;
use futures::FutureExt;
use oms_eventsourcing::EventStore;
use oms_eventsourcing::store::RecordFingerprint;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _, ConsumerContext, RebalanceProtocol, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Headers, Message as _};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use crate::config::ClientKind;
use crate::consumer::ConsumerStats;
use crate::message::{fingerprint, headers, kafka_inbox_source, parse_offset_source};
use crate::warnings::QuietLog;
use crate::{KafkaConfig, Message, TransportError};

/// Creates `topics` (with the configured partitions and replication) unless they exist.
pub async fn ensure_topics(config: &KafkaConfig, topics: &[String]) -> Result<(), TransportError> {
    for topic in create_missing_topics(config, topics).await? {
        tracing::info!(%topic, partitions = config.topic_partitions, "topic created");
    }
    Ok(())
}

/// Creates those of `topics` the broker does not have; returns them.
pub(crate) async fn create_missing_topics(
    config: &KafkaConfig,
    topics: &[String],
) -> Result<Vec<String>, TransportError> {
    let admin: AdminClient<QuietLog> = config
        .client(ClientKind::Admin, &[])
        .create_with_context(QuietLog::default())?;
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
    let mut created = Vec::new();
    for result in admin.create_topics(new.iter(), &options).await? {
        match result {
            Ok(topic) => created.push(topic),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(TransportError::Config(format!("cannot create topic {topic}: {code}")));
            }
        }
    }
    Ok(created)
}

/// How often a source that finds its topics missing creates them again, at most.
const RECREATE_TOPICS_EVERY: Duration = Duration::from_secs(10);

/// Messages from Kafka topics, read in a consumer group. Offsets are committed only for
/// acknowledged batches (whose effects are committed), at most every `COMMIT_EVERY`, and
/// once more when the source closes.
pub struct KafkaSource {
    consumer: Option<Arc<StreamConsumer<PartitionGuard>>>,
    /// To create the topics again; boxed, as it is seldom used.
    kafka: Box<KafkaConfig>,
    topics: Vec<String>,
    /// The reading and offset of the last acknowledged message per topic partition.
    acknowledged: HashMap<(String, i32), (u64, i64)>,
    /// Acknowledged since the last commit.
    uncommitted: bool,
    last_commit: Instant,
    /// Where the consumer's offset checkpoints are, once bound.
    inbox: Option<Inbox>,
    /// When this source last created its topics again.
    topics_recreated: Option<Instant>,
    /// The client lost its broker or a topic: once the broker answers with every topic
    /// again, the source rejoins its group, so the partitions are assigned afresh (a new
    /// broker knows nothing of the group) and each starts where the inbox says.
    rejoin: Rejoin,
    /// Questions to the broker under way on a blocking thread.
    asking: Option<tokio::task::JoinHandle<TopicsThere>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rejoin {
    No,
    /// When the topics are there again; asked no sooner than the instant.
    Pending(Instant),
}

/// Whether every subscribed topic exists with partitions; `None`: no answer.
type TopicsThere = Option<bool>;

/// The store and name of the consumer whose inbox holds this source's offset checkpoints.
struct Inbox {
    store: EventStore,
    consumer: String,
    /// The checkpoints were read into the partition guard.
    loaded: bool,
}

const COMMIT_EVERY: Duration = Duration::from_millis(500);

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
            topics: topics.iter().map(|t| t.to_string()).collect(),
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
            kafka.context().lock().stats = Some(stats);
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
        let mut guarded = consumer.context().lock();
        guarded.active = true;
        for checkpoint in stored {
            let Some((topic, partition, epoch)) = parse_offset_source(&checkpoint.source) else {
                continue;
            };
            if !self.topics.iter().any(|t| t == topic) {
                continue;
            }
            guarded
                .checkpoints
                .entry((topic.to_owned(), partition))
                .or_default()
                .insert(
                    epoch,
                    Checkpoint {
                        offset: checkpoint.position.id,
                        fingerprint: checkpoint.fingerprint,
                    },
                );
        }
        inbox.loaded = true;
        Ok(())
    }

    pub async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Vec<Message>, TransportError> {
        let Some(consumer) = self.consumer.clone() else {
            return Ok(Vec::new());
        };
        self.load_checkpoints().await?;
        self.ask_the_broker(&consumer).await;
        let guard = consumer.context().clone();
        let deadline = tokio::time::Instant::now() + wait;
        let mut batch = Vec::new();
        // The first message is awaited (a message the guard holds back does not end the
        // wait); the rest are taken as long as they are there.
        while batch.is_empty() {
            let received = match tokio::time::timeout_at(deadline, consumer.recv()).await {
                Err(_) => return Ok(batch),
                Ok(received) => received,
            };
            match received {
                Ok(message) => {
                    let taken = guard.take(&message);
                    drop(message);
                    batch.extend(self.follow(&consumer, taken));
                }
                Err(e) => self.trouble(&consumer, e)?,
            }
        }
        while batch.len() < max {
            match consumer.recv().now_or_never() {
                Some(Ok(message)) => {
                    let taken = guard.take(&message);
                    drop(message);
                    batch.extend(self.follow(&consumer, taken));
                }
                Some(Err(e)) => {
                    self.trouble(&consumer, e)?;
                    break;
                }
                None => break,
            }
        }
        Ok(batch)
    }

    /// After trouble, asks the broker (on a thread of its own: the question blocks)
    /// whether every subscribed topic is there again, and once they are, rejoins the group.
    async fn ask_the_broker(&mut self, consumer: &Arc<StreamConsumer<PartitionGuard>>) {
        if let Some(asking) = self.asking.take_if(|a| a.is_finished()) {
            match asking.await {
                Ok(topics_there) => self.take_in(consumer, topics_there),
                Err(e) => tracing::warn!(error = %e, "the question to the broker failed"),
            }
        }
        if self.asking.is_some() || !matches!(self.rejoin, Rejoin::Pending(after) if Instant::now() >= after) {
            return;
        }
        self.rejoin = Rejoin::Pending(Instant::now() + Duration::from_secs(1));
        let (asked, topics) = (consumer.clone(), self.topics.clone());
        self.asking = Some(tokio::task::spawn_blocking(move || {
            let mut all = Some(true);
            for topic in &topics {
                match asked.fetch_metadata(Some(topic), Duration::from_secs(2)) {
                    Ok(metadata) => {
                        let there = metadata
                            .topics()
                            .iter()
                            .any(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty());
                        if !there {
                            all = all.map(|_| false);
                        }
                    }
                    Err(_) => all = None,
                }
            }
            all
        }));
    }

    fn take_in(&mut self, consumer: &StreamConsumer<PartitionGuard>, topics_there: TopicsThere) {
        match topics_there {
            Some(true) if self.rejoin != Rejoin::No => {
                self.rejoin = Rejoin::No;
                tracing::info!(topics = ?self.topics, "the broker answers with every topic; rejoining the group for a fresh assignment");
                let topics: Vec<&str> = self.topics.iter().map(String::as_str).collect();
                consumer.unsubscribe();
                if let Err(e) = consumer.subscribe(&topics) {
                    tracing::warn!(error = %e, "cannot subscribe again; trying later");
                    self.rejoin = Rejoin::Pending(Instant::now() + Duration::from_secs(1));
                }
            }
            Some(false) => self.recreate_topics(),
            _ => {}
        }
    }

    /// Creates the subscribed topics again (in the background), at most every
    /// `RECREATE_TOPICS_EVERY`: the service created them at its start, and a broker that
    /// lost them has them again without waiting for a restart.
    fn recreate_topics(&mut self) {
        if self
            .topics_recreated
            .is_some_and(|at| at.elapsed() < RECREATE_TOPICS_EVERY)
        {
            return;
        }
        self.topics_recreated = Some(Instant::now());
        let (kafka, topics) = (self.kafka.as_ref().clone(), self.topics.clone());
        tokio::spawn(async move {
            match tokio::time::timeout(Duration::from_secs(30), create_missing_topics(&kafka, &topics)).await {
                Ok(Ok(created)) if !created.is_empty() => {
                    tracing::warn!(topics = ?created, "subscribed topics were missing on the broker; created them again")
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(?topics, error = %e, "topics not created; trying again later"),
                Err(_) => tracing::warn!(?topics, "topics not created within 30 s; trying again later"),
            }
        });
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

    /// A consumption error. The broker may have been replaced, or a topic deleted: the
    /// partitions are paused, as their positions may lie beyond the end of a new log (some
    /// brokers answer a fetch there with nothing, and tansu with a leader hint librdkafka
    /// 2.12 crashes on); topics that are gone are created again; and once the broker
    /// answers with all of them the source rejoins its group, so every partition is
    /// assigned afresh and started where the inbox says. Fatal errors end the batch.
    fn trouble(&mut self, consumer: &StreamConsumer<PartitionGuard>, error: KafkaError) -> Result<(), TransportError> {
        let code = match &error {
            KafkaError::MessageConsumption(code) => *code,
            _ => return Err(error.into()),
        };
        // Logged by the client's context, once per cause and interval.
        tracing::debug!(error = %error, "Kafka consumer error");
        if let Ok(assigned) = consumer.assignment()
            && assigned.count() > 0
            && let Err(e) = consumer.pause(&assigned)
        {
            tracing::debug!(error = %e, "cannot pause the partitions");
        }
        if matches!(
            code,
            RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic
        ) {
            self.recreate_topics();
        }
        if self.rejoin == Rejoin::No {
            self.rejoin = Rejoin::Pending(Instant::now());
        }
        Ok(())
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

/// The consumer's context: starts each partition it is given at the inbox's offset
/// checkpoint, checks that the partition still holds the log that was applied, and keeps
/// the inbox epoch of each partition. Its state is shared by the rebalance callback (which
/// runs while the consumer is polled) and the source.
#[derive(Default)]
struct PartitionGuard {
    log: QuietLog,
    state: Mutex<Guarded>,
}

#[derive(Default)]
struct Guarded {
    /// Whether partitions are kept at the inbox's checkpoints (the source is bound to an
    /// inbox and has read it). If not, messages are handed out as they come.
    active: bool,
    /// Offset checkpoints per partition and epoch, as committed: read from the inbox, then
    /// raised by acknowledged batches.
    checkpoints: HashMap<(String, i32), BTreeMap<u32, Checkpoint>>,
    /// The partitions this member reads now.
    partitions: HashMap<(String, i32), Partition>,
    /// The last reading started, of any partition.
    readings: u64,
    stats: Option<Arc<ConsumerStats>>,
}

/// The newest epoch of a partition's offset checkpoints, and its checkpoint.
type Newest = Option<(u32, Checkpoint)>;

#[derive(Debug, Clone, Copy)]
struct Checkpoint {
    offset: i64,
    fingerprint: Option<RecordFingerprint>,
}

#[derive(Debug)]
struct Partition {
    /// The inbox epoch its messages without an outbox position are checkpointed under.
    epoch: u32,
    /// Counts the times the partition was started; a message of an earlier reading is
    /// not acknowledged to the group.
    reading: u64,
    /// The offset and fingerprint of the last message handed out.
    last: Option<(i64, RecordFingerprint)>,
    check: Check,
}

#[derive(Debug, Clone, Copy)]
enum Check {
    /// Started at `offset`, whose message was handed out (or applied) already: the first
    /// message must be that one, with this fingerprint (if known).
    At {
        offset: i64,
        fingerprint: Option<RecordFingerprint>,
    },
    Reading,
}

/// What the guard made of a received message.
struct Taken {
    message: Option<Message>,
    /// Where to read the partition from next, when not on from this message.
    seek: Option<(String, i32, Offset)>,
}

impl PartitionGuard {
    fn lock(&self) -> std::sync::MutexGuard<'_, Guarded> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Partitions assigned: each with offset checkpoints starts at the newest epoch's
    /// checkpoint (set in `assignment`) if its log still reaches it, the others where the
    /// group's committed offset says. `watermarks` asks the broker for a partition's low
    /// and high watermarks: a log that ends at or before the checkpoint is another log
    /// (and a fetch beyond the end of a log is not asked of a broker at all), one that
    /// starts after the checkpoint lost messages nobody read.
    fn assigned(&self, assignment: &mut TopicPartitionList, watermarks: impl Fn(&str, i32) -> Option<(i64, i64)>) {
        let given: Vec<(String, i32, Newest)> = {
            let guarded = self.lock();
            assignment
                .elements()
                .iter()
                .map(|e| {
                    let newest = guarded
                        .checkpoints
                        .get(&(e.topic().to_owned(), e.partition()))
                        .and_then(|epochs| epochs.last_key_value())
                        .map(|(epoch, checkpoint)| (*epoch, *checkpoint))
                        .filter(|_| guarded.active);
                    (e.topic().to_owned(), e.partition(), newest)
                })
                .collect()
        };
        // Asked before taking the lock again: each is a round trip to the broker.
        let measured: Vec<Option<(i64, i64)>> = given
            .iter()
            .map(|(topic, partition, newest)| newest.and_then(|_| watermarks(topic, *partition)))
            .collect();
        let mut guarded = self.lock();
        let stats = guarded.stats.clone();
        for ((topic, partition, newest), marks) in given.into_iter().zip(measured) {
            guarded.readings += 1;
            let reading = guarded.readings;
            let mut state = Partition {
                epoch: newest.map(|(epoch, _)| epoch).unwrap_or(1),
                reading,
                last: None,
                check: Check::Reading,
            };
            if let Some((epoch, checkpoint)) = newest {
                let at = checkpoint.offset;
                let start = match marks {
                    Some((low, high)) if high <= at => {
                        reset(
                            &mut state,
                            (&topic, partition, at),
                            epoch,
                            reading,
                            stats.as_deref(),
                            &format!(
                                "its log ends before checkpoint offset {at}: it holds offsets {low} to {high} (exclusive)"
                            ),
                        );
                        Offset::Beginning
                    }
                    Some((low, _)) if low > at => {
                        if low > at + 1 {
                            gone(&topic, partition, at, low, stats.as_deref());
                        }
                        Offset::Offset(low)
                    }
                    // The message at the checkpoint is there (or the broker did not say):
                    // it is compared when it comes.
                    _ => {
                        state.check = Check::At {
                            offset: at,
                            fingerprint: checkpoint.fingerprint,
                        };
                        Offset::Offset(at)
                    }
                };
                tracing::debug!(%topic, partition, epoch = state.epoch, checkpoint = at, ?marks, ?start, "partition assigned; starting after its offset checkpoint");
                if let Err(e) = assignment.set_partition_offset(&topic, partition, start) {
                    tracing::warn!(%topic, partition, error = %e, "cannot start the partition at its checkpoint");
                }
            }
            guarded.partitions.insert((topic, partition), state);
        }
    }

    fn revoked(&self, revocation: &TopicPartitionList) {
        let mut guarded = self.lock();
        for element in revocation.elements() {
            guarded
                .partitions
                .remove(&(element.topic().to_owned(), element.partition()));
        }
    }

    /// What to do with a received message: hand it out (under its partition's epoch), hold
    /// it back, or read its partition from elsewhere.
    fn take(&self, received: &BorrowedMessage<'_>) -> Taken {
        let found = fingerprint(
            received.key(),
            received.payload().unwrap_or_default(),
            received.timestamp().to_millis(),
        );
        let mut guarded = self.lock();
        if !guarded.active {
            return Taken {
                message: Some(to_message(received, 1, 0, found)),
                seek: None,
            };
        }
        let (topic, partition, offset) = (received.topic(), received.partition(), received.offset());
        let highest_checkpointed = guarded.highest_epoch(topic, partition);
        let stats = guarded.stats.clone();
        let next_reading = guarded.readings + 1;
        let Some(state) = guarded.partitions.get_mut(&(topic.to_owned(), partition)) else {
            // Not (or no longer) assigned to this member: it comes again to its owner.
            return Taken {
                message: None,
                seek: None,
            };
        };
        let reset_for = |state: &mut Partition, checkpoint: i64, what: String| {
            reset(
                state,
                (topic, partition, checkpoint),
                highest_checkpointed,
                next_reading,
                stats.as_deref(),
                &what,
            )
        };
        let mut seek = None;
        let hand_out = match state.check {
            Check::At {
                offset: at,
                fingerprint: applied,
            } => {
                if offset == at {
                    match applied {
                        Some(applied) if applied != found => {
                            reset_for(
                                state,
                                at,
                                format!(
                                    "the message at checkpoint offset {at} is {found}, the one applied was {applied}"
                                ),
                            );
                            // Messages fetched before the seek are not delivered after
                            // it (librdkafka drops what an older fetch version brought).
                            state.check = Check::Reading;
                            seek = Some((topic.to_owned(), partition, Offset::Beginning));
                        }
                        Some(_) => {
                            tracing::debug!(%topic, partition, offset, "the message at the checkpoint is the one applied");
                            state.check = Check::Reading;
                            state.last = Some((offset, found));
                        }
                        None => {
                            tracing::info!(%topic, partition, offset, "the checkpoint has no fingerprint to compare (it predates them); going on after it");
                            state.check = Check::Reading;
                            state.last = Some((offset, found));
                        }
                    }
                    // Handed out or applied already.
                    false
                } else if offset < at {
                    // The broker started the partition at its beginning: the checkpoint's
                    // offset is beyond the end of its log.
                    reset_for(
                        state,
                        at,
                        format!("its log ends before checkpoint offset {at}; it starts at offset {offset}"),
                    );
                    state.check = Check::Reading;
                    true
                } else {
                    if offset > at + 1 {
                        gone(topic, partition, at, offset, stats.as_deref());
                    } else {
                        tracing::info!(%topic, partition, checkpoint = at, "the checkpoint's message is gone; its log cannot be compared, going on after it");
                    }
                    state.check = Check::Reading;
                    true
                }
            }
            Check::Reading => {
                if let Some((last, _)) = state.last
                    && offset <= last
                {
                    reset_for(state, last, format!("its offsets went back from {last} to {offset}"));
                }
                true
            }
        };
        let message = hand_out.then(|| {
            state.last = Some((offset, found));
            to_message(received, state.epoch, state.reading, found)
        });
        if state.reading == next_reading {
            guarded.readings = next_reading;
        }
        Taken { message, seek }
    }

    /// A message without an outbox position was applied and acknowledged: its offset is
    /// its source's checkpoint now.
    fn applied(&self, message: &Message, fingerprint: RecordFingerprint) {
        let Some((topic, partition, epoch)) = parse_offset_source(&message.inbox_source) else {
            return;
        };
        let mut guarded = self.lock();
        let at = guarded
            .checkpoints
            .entry((topic.to_owned(), partition))
            .or_default()
            .entry(epoch)
            .or_insert(Checkpoint {
                offset: message.offset,
                fingerprint: Some(fingerprint),
            });
        if message.offset > at.offset {
            *at = Checkpoint {
                offset: message.offset,
                fingerprint: Some(fingerprint),
            };
        }
    }

    /// Whether `reading` is the partition's current one (always, when not guarding).
    fn is_current(&self, topic: &str, partition: i32, reading: u64) -> bool {
        let guarded = self.lock();
        !guarded.active
            || guarded
                .partitions
                .get(&(topic.to_owned(), partition))
                .is_some_and(|p| p.reading == reading)
    }
}

impl Guarded {
    /// The highest epoch a checkpoint of the partition was committed under (1 if none).
    fn highest_epoch(&self, topic: &str, partition: i32) -> u32 {
        self.checkpoints
            .get(&(topic.to_owned(), partition))
            .and_then(|epochs| epochs.last_key_value())
            .map(|(epoch, _)| *epoch)
            .unwrap_or(1)
    }
}

/// The partition holds another log than the one applied: said loudly, counted, and the
/// partition is read again as a new inbox epoch — one above both the epoch it was read
/// under and the highest one checkpointed, so a consumer that crashes before committing
/// under the new epoch chooses the same one again from its checkpoints.
fn reset(
    state: &mut Partition,
    (topic, partition, checkpoint): (&str, i32, i64),
    highest_checkpointed: u32,
    reading: u64,
    stats: Option<&ConsumerStats>,
    what: &str,
) {
    let epoch = state.epoch.max(highest_checkpointed) + 1;
    tracing::error!(
        %topic, partition, checkpoint, old_epoch = state.epoch, new_epoch = epoch,
        "the partition holds another log than the one applied ({what}): the broker lost the topic, or it was \
         recreated; its messages are read again from its start and checkpointed under a new inbox epoch"
    );
    if let Some(stats) = stats {
        stats.partition_resets.fetch_add(1, Ordering::Relaxed);
    }
    state.epoch = epoch;
    state.reading = reading;
    state.last = None;
}

/// Offsets after the checkpoint were gone before they were read: said loudly, counted.
fn gone(topic: &str, partition: i32, checkpoint: i64, first: i64, stats: Option<&ConsumerStats>) {
    let missing = first - checkpoint - 1;
    tracing::warn!(
        %topic, partition, checkpoint, first_offset = first, missing,
        "offsets after the checkpoint were gone before they were read (deleted by retention?); the consumer goes \
         on from the first message there is"
    );
    if let Some(stats) = stats {
        stats.offsets_gone.fetch_add(missing.max(0) as u64, Ordering::Relaxed);
    }
}

impl ClientContext for PartitionGuard {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, line: &str) {
        self.log.log(level, facility, line);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.log.error(&error, reason);
    }
}

impl ConsumerContext for PartitionGuard {
    /// librdkafka's own rebalance, with the start offsets of the assigned partitions taken
    /// from the inbox before they are assigned.
    fn rebalance(&self, consumer: &BaseConsumer<Self>, err: RDKafkaRespErr, partitions: &mut TopicPartitionList) {
        let cooperative = matches!(consumer.rebalance_protocol(), RebalanceProtocol::Cooperative);
        let done = if err == RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS {
            self.assigned(partitions, |topic, partition| {
                consumer
                    .fetch_watermarks(topic, partition, Duration::from_secs(5))
                    .inspect_err(|e| tracing::warn!(%topic, partition, error = %e, "no watermarks; the checkpoint's message is compared when it comes"))
                    .ok()
            });
            let assigned = if cooperative {
                consumer.incremental_assign(partitions)
            } else {
                consumer.assign(partitions)
            };
            // Paused when the broker was in trouble; started where just decided now.
            assigned.and_then(|()| consumer.resume(partitions))
        } else {
            if err != RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS {
                let code: RDKafkaErrorCode = err.into();
                tracing::warn!(%code, "rebalance failed; giving up the assignment");
            }
            self.revoked(partitions);
            if cooperative {
                consumer.incremental_unassign(partitions)
            } else {
                consumer.unassign()
            }
        };
        if let Err(e) = done {
            tracing::warn!(error = %e, "the assignment was not changed");
        }
    }
}

fn to_message(m: &BorrowedMessage<'_>, epoch: u32, reading: u64, fingerprint: RecordFingerprint) -> Message {
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
            epoch,
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
        fingerprint: Some(fingerprint),
        reading,
    }
}
