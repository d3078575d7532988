//! Partitions given to and taken from this member: each one given starts at its offset
//! checkpoint if its log still reaches it, and is read under the checkpoint's inbox epoch.

use rdkafka::{Offset, TopicPartitionList};

use super::{Check, Checkpoint, Newest, Partition, PartitionGuard, gone, reset};
use crate::consumer::ConsumerStats;

impl PartitionGuard {
    /// Partitions assigned: each with offset checkpoints starts at the newest epoch's
    /// checkpoint (set in `assignment`) if its log still reaches it, the others where the
    /// group's committed offset says. `watermarks` asks the broker for a partition's low
    /// and high watermarks: a log that ends at or before the checkpoint is another log
    /// (and a fetch beyond the end of a log is not asked of a broker at all), one that
    /// starts after the checkpoint lost messages nobody read.
    pub(super) fn assigned(
        &self,
        assignment: &mut TopicPartitionList,
        watermarks: impl Fn(&str, i32) -> Option<(i64, i64)>,
    ) {
        let given = self.newest_checkpoints(assignment);
        // Asked before taking the lock again: each is a round trip to the broker.
        let measured: Vec<Option<(i64, i64)>> = given
            .iter()
            .map(|(topic, partition, newest)| newest.and_then(|_| watermarks(topic, *partition)))
            .collect();
        let mut guarded = self.lock();
        let stats = guarded.stats.clone();
        for ((topic, partition, newest), marks) in given.into_iter().zip(measured) {
            guarded.readings += 1;
            let mut state = Partition {
                epoch: newest.map_or(1, |(epoch, _)| epoch),
                reading: guarded.readings,
                last: None,
                check: Check::Reading,
            };
            if let Some((epoch, checkpoint)) = newest {
                let start = start_at(
                    &mut state,
                    (&topic, partition),
                    (epoch, checkpoint),
                    marks,
                    stats.as_deref(),
                );
                tracing::debug!(%topic, partition, epoch = state.epoch, checkpoint = checkpoint.offset, ?marks, ?start, "partition assigned; starting after its offset checkpoint");
                if let Err(e) = assignment.set_partition_offset(&topic, partition, start) {
                    tracing::warn!(%topic, partition, error = %e, "cannot start the partition at its checkpoint");
                }
            }
            guarded.partitions.insert((topic, partition), state);
        }
    }

    /// The assigned partitions, each with its newest epoch's checkpoint (none when the
    /// guard is not active).
    fn newest_checkpoints(&self, assignment: &TopicPartitionList) -> Vec<(String, i32, Newest)> {
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
    }

    pub(super) fn revoked(&self, revocation: &TopicPartitionList) {
        let mut guarded = self.lock();
        for element in revocation.elements() {
            guarded
                .partitions
                .remove(&(element.topic().to_owned(), element.partition()));
        }
    }
}

/// Where a partition checkpointed at `checkpoint` (under `epoch`) starts, given its log's
/// low and high watermarks when the broker said them: from its start under a new epoch if
/// the log ends before the checkpoint, from its first offset if the log starts after it,
/// and otherwise at the checkpoint, whose message is then compared when it comes.
fn start_at(
    state: &mut Partition,
    (topic, partition): (&str, i32),
    (epoch, checkpoint): (u32, Checkpoint),
    marks: Option<(i64, i64)>,
    stats: Option<&ConsumerStats>,
) -> Offset {
    let at = checkpoint.offset;
    let reading = state.reading;
    match marks {
        Some((low, high)) if high <= at => {
            reset(
                state,
                (topic, partition, at),
                epoch,
                reading,
                stats,
                &format!("its log ends before checkpoint offset {at}: it holds offsets {low} to {high} (exclusive)"),
            );
            Offset::Beginning
        }
        Some((low, _)) if low > at => {
            if low > at + 1 {
                gone(topic, partition, at, low, stats);
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
    }
}
