//! The inbox checkpoints a consumer or a projector commits with what it applied: for each
//! source of messages, the position it has applied up to, and — for a source
//! checkpointed by broker offset — what the message there looked like. One place for
//! them, as both build the same marks.

use std::collections::HashMap;

use oms_eventsourcing::store::{InboxMark, OutboxPosition, RecordFingerprint};

use crate::Message;

/// The checkpoint that records that `consumer` applied `message`, and everything of its
/// source before it.
pub(crate) fn checkpoint_of(consumer: &str, message: &Message) -> InboxMark {
    InboxMark::Checkpoint {
        consumer: consumer.to_owned(),
        source: message.inbox_source.clone(),
        position: message.inbox_position(),
        fingerprint: offset_fingerprint(message),
    }
}

/// A checkpoint by offset keeps what the message there looked like; one by outbox
/// position needs nothing of the kind.
fn offset_fingerprint(message: &Message) -> Option<RecordFingerprint> {
    message.fingerprint.filter(|_| message.outbox_position.is_none())
}

/// The highest checkpoint per source a batch reaches.
#[derive(Default)]
pub(crate) struct BatchCheckpoints(HashMap<String, (OutboxPosition, Option<RecordFingerprint>)>);

impl BatchCheckpoints {
    /// `message` is applied by the batch.
    pub(crate) fn reach(&mut self, message: &Message) {
        let (position, fingerprint) = (message.inbox_position(), offset_fingerprint(message));
        let mark = self
            .0
            .entry(message.inbox_source.clone())
            .or_insert((position, fingerprint));
        if position > mark.0 {
            *mark = (position, fingerprint);
        }
    }

    /// The inbox marks that record the batch as applied by `consumer`.
    pub(crate) fn marks(&self, consumer: &str) -> Vec<InboxMark> {
        self.0
            .iter()
            .map(|(source, (position, fingerprint))| InboxMark::Checkpoint {
                consumer: consumer.to_owned(),
                source: source.clone(),
                position: *position,
                fingerprint: *fingerprint,
            })
            .collect()
    }
}

/// What a projector has applied, by source: the checkpoints it read at its start, raised
/// by every batch it commits. (A consumer needs none: its writer knows.)
pub(crate) struct Applied(HashMap<String, OutboxPosition>);

impl Applied {
    pub(crate) fn new(checkpoints: HashMap<String, OutboxPosition>) -> Self {
        Self(checkpoints)
    }

    /// Whether `message` lies at or below its source's checkpoint: applied before, and
    /// delivered again.
    pub(crate) fn already(&self, message: &Message) -> bool {
        self.0
            .get(&message.inbox_source)
            .is_some_and(|at| message.inbox_position() <= *at)
    }

    /// The batch that reached these checkpoints was committed.
    pub(crate) fn raise(&mut self, batch: BatchCheckpoints) {
        self.0
            .extend(batch.0.into_iter().map(|(source, (position, _))| (source, position)));
    }
}
