//! The partition guard: the consumer's context, which keeps each partition's messages
//! without an outbox position at the inbox's offset checkpoints.
//!
//! It starts each partition it is given at its checkpoint (`assignment`), checks every
//! message received against what was applied there (`received`), and raises the
//! checkpoints as batches are acknowledged. A partition found holding another log is
//! [`reset`] to a new inbox epoch; offsets found gone are counted ([`gone`]).

mod assignment;
mod received;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oms_eventsourcing::store::{InboxCheckpoint, RecordFingerprint};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer as _, ConsumerContext, RebalanceProtocol};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use crate::Message;
use crate::consumer::ConsumerStats;
use crate::message::parse_offset_source;
use crate::warnings::QuietLog;

/// The consumer's context: starts each partition it is given at the inbox's offset
/// checkpoint, checks that the partition still holds the log that was applied, and keeps
/// the inbox epoch of each partition. Its state is shared by the rebalance callback (which
/// runs while the consumer is polled) and the source.
#[derive(Default)]
pub(super) struct PartitionGuard {
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
pub(super) struct Taken {
    pub(super) message: Option<Message>,
    /// Where to read the partition from next, when not on from this message.
    pub(super) seek: Option<Seek>,
}

/// A partition to read from an offset: (topic, partition, where).
type Seek = (String, i32, Offset);

impl PartitionGuard {
    fn lock(&self) -> std::sync::MutexGuard<'_, Guarded> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts what the guard finds (partitions reset, offsets gone) in `stats`.
    pub(super) fn count_in(&self, stats: Arc<ConsumerStats>) {
        self.lock().stats = Some(stats);
    }

    /// Keeps partitions at the inbox's offset checkpoints from now on, starting from those
    /// `stored` for the subscribed `topics`.
    pub(super) fn guard_from(&self, stored: Vec<InboxCheckpoint>, topics: &[String]) {
        let mut guarded = self.lock();
        guarded.active = true;
        for checkpoint in stored {
            let Some((topic, partition, epoch)) = parse_offset_source(&checkpoint.source) else {
                continue;
            };
            if !topics.iter().any(|t| t == topic) {
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
    }

    /// A message without an outbox position was applied and acknowledged: its offset is
    /// its source's checkpoint now.
    pub(super) fn applied(&self, message: &Message, fingerprint: RecordFingerprint) {
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
    pub(super) fn is_current(&self, topic: &str, partition: i32, reading: u64) -> bool {
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
            .map_or(1, |(epoch, _)| *epoch)
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
