//! What the guard makes of each message received: hand it out under its partition's
//! epoch, hold it back, or read its partition from elsewhere. This is where a partition
//! whose log was replaced, or whose offsets went backwards, is noticed.

use oms_eventsourcing::store::RecordFingerprint;
use rdkafka::Offset;
use rdkafka::message::{BorrowedMessage, Message as _};

use super::{Check, Partition, PartitionGuard, Seek, Taken, gone, reset};
use crate::consumer::ConsumerStats;
use crate::kafka::record::to_message;
use crate::message::fingerprint;

impl PartitionGuard {
    /// What to do with a received message: hand it out (under its partition's epoch), hold
    /// it back, or read its partition from elsewhere.
    pub(in crate::kafka) fn take(&self, received: &BorrowedMessage<'_>) -> Taken {
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
        let (topic, partition) = (received.topic(), received.partition());
        let arrival = Arrival {
            topic,
            partition,
            offset: received.offset(),
            found,
            highest_checkpointed: guarded.highest_epoch(topic, partition),
            next_reading: guarded.readings + 1,
            stats: guarded.stats.clone(),
        };
        let Some(state) = guarded.partitions.get_mut(&(topic.to_owned(), partition)) else {
            // Not (or no longer) assigned to this member: it comes again to its owner.
            return Taken {
                message: None,
                seek: None,
            };
        };
        let (hand_out, seek) = match state.check {
            Check::At {
                offset: at,
                fingerprint: applied,
            } => arrival.after_start_at(state, at, applied),
            Check::Reading => (arrival.reading_on(state), None),
        };
        let message = hand_out.then(|| {
            state.last = Some((arrival.offset, found));
            to_message(received, state.epoch, state.reading, found)
        });
        if state.reading == arrival.next_reading {
            guarded.readings = arrival.next_reading;
        }
        Taken { message, seek }
    }
}

/// A message as it arrives in its partition: where it is, what it looks like, and what
/// resetting its partition to a new epoch would need.
struct Arrival<'a> {
    topic: &'a str,
    partition: i32,
    offset: i64,
    found: RecordFingerprint,
    /// The highest epoch the partition was checkpointed under.
    highest_checkpointed: u32,
    /// The reading a reset partition is read as.
    next_reading: u64,
    stats: Option<std::sync::Arc<ConsumerStats>>,
}

impl Arrival<'_> {
    /// The first message of a partition started at checkpoint `at` (whose message was
    /// `applied`, if known): whether to hand it out, and where to read the partition
    /// from instead. Either way, the partition is read on from here.
    fn after_start_at(
        &self,
        state: &mut Partition,
        at: i64,
        applied: Option<RecordFingerprint>,
    ) -> (bool, Option<Seek>) {
        let (offset, topic, partition) = (self.offset, self.topic, self.partition);
        let outcome = if offset == at {
            // Handed out or applied already.
            (false, self.compare_with_applied(state, at, applied))
        } else if offset < at {
            // The broker started the partition at its beginning: the checkpoint's
            // offset is beyond the end of its log.
            self.reset(
                state,
                at,
                format!("its log ends before checkpoint offset {at}; it starts at offset {offset}"),
            );
            (true, None)
        } else {
            if offset > at + 1 {
                gone(topic, partition, at, offset, self.stats.as_deref());
            } else {
                tracing::info!(%topic, partition, checkpoint = at, "the checkpoint's message is gone; its log cannot be compared, going on after it");
            }
            (true, None)
        };
        state.check = Check::Reading;
        outcome
    }

    /// The message at the checkpoint, against the one applied there: the same (or no
    /// fingerprint to compare), and the partition is read on after it; another, and the
    /// partition holds another log, to be read again from its start.
    fn compare_with_applied(&self, state: &mut Partition, at: i64, applied: Option<RecordFingerprint>) -> Option<Seek> {
        let (offset, topic, partition, found) = (self.offset, self.topic, self.partition, self.found);
        match applied {
            Some(applied) if applied != found => {
                self.reset(
                    state,
                    at,
                    format!("the message at checkpoint offset {at} is {found}, the one applied was {applied}"),
                );
                // Messages fetched before the seek are not delivered after it (librdkafka
                // drops what an older fetch version brought).
                Some((topic.to_owned(), partition, Offset::Beginning))
            }
            Some(_) => {
                tracing::debug!(%topic, partition, offset, "the message at the checkpoint is the one applied");
                state.last = Some((offset, found));
                None
            }
            None => {
                tracing::info!(%topic, partition, offset, "the checkpoint has no fingerprint to compare (it predates them); going on after it");
                state.last = Some((offset, found));
                None
            }
        }
    }

    /// A message of a partition being read: handed out, after resetting the partition if
    /// its offsets went back.
    fn reading_on(&self, state: &mut Partition) -> bool {
        if let Some((last, _)) = state.last
            && self.offset <= last
        {
            self.reset(
                state,
                last,
                format!("its offsets went back from {last} to {}", self.offset),
            );
        }
        true
    }

    fn reset(&self, state: &mut Partition, checkpoint: i64, what: String) {
        reset(
            state,
            (self.topic, self.partition, checkpoint),
            self.highest_checkpointed,
            self.next_reading,
            self.stats.as_deref(),
            &what,
        );
    }
}
