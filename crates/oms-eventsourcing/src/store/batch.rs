//! One transaction's worth of writes: the [`CommitBatch`] a writer or projector hands the
//! store, the reductions both backends apply to it before writing, and what a commit
//! reports.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{InboxMark, NewEvent, OutboxMessage, OutboxPosition, ParkedMessage, RecordFingerprint};
use crate::envelope::Position;

/// Everything one transaction writes: the events of many commands (group commit), their
/// outbox messages, inbox marks and idempotent replies.
#[derive(Debug, Clone, Default)]
pub struct CommitBatch {
    pub events: Vec<NewEvent>,
    pub outbox: Vec<OutboxMessage>,
    pub inbox: Vec<InboxMark>,
    /// (idempotency key, encoded reply)
    pub replies: Vec<(String, Vec<u8>)>,
    pub parked: Vec<ParkedMessage>,
    /// Ids of parked messages applied by this batch.
    pub unparked: Vec<i64>,
    /// Read-model rows to write (the last one per name and key wins).
    pub projections: Vec<ProjectionRow>,
    pub recorded_at: DateTime<Utc>,
}

/// One row of a read model: the value of `key` in projection `name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectionRow {
    pub name: String,
    pub key: String,
    pub value: Vec<u8>,
}

impl CommitBatch {
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
            && self.outbox.is_empty()
            && self.inbox.is_empty()
            && self.replies.is_empty()
            && self.parked.is_empty()
            && self.unparked.is_empty()
            && self.projections.is_empty()
    }

    /// Projection rows with one row per (name, key): the last one of the batch.
    pub(crate) fn last_projections(&self) -> Vec<&ProjectionRow> {
        let mut last: HashMap<(&str, &str), &ProjectionRow> = HashMap::new();
        for row in &self.projections {
            last.insert((row.name.as_str(), row.key.as_str()), row);
        }
        last.into_values().collect()
    }

    /// Checkpoints reduced to the highest position per (consumer, source), each with the
    /// fingerprint of the message at that position, and message marks.
    pub(crate) fn split_inbox(&self) -> (Vec<CheckpointMark<'_>>, Vec<MessageMark<'_>>) {
        let mut checkpoints: HashMap<(&str, &str), (OutboxPosition, Option<RecordFingerprint>)> = HashMap::new();
        let mut messages = Vec::new();
        for mark in &self.inbox {
            match mark {
                InboxMark::Checkpoint {
                    consumer,
                    source,
                    position,
                    fingerprint,
                } => {
                    let entry = checkpoints
                        .entry((consumer.as_str(), source.as_str()))
                        .or_insert((*position, *fingerprint));
                    if *position > entry.0 {
                        *entry = (*position, *fingerprint);
                    }
                }
                InboxMark::Message { consumer, message_id } => messages.push((consumer.as_str(), message_id.as_str())),
            }
        }
        let checkpoints = checkpoints.into_iter().map(|((c, s), (p, f))| (c, s, p, f)).collect();
        (checkpoints, messages)
    }
}

/// (consumer, source, position, fingerprint of the message at it)
pub(crate) type CheckpointMark<'a> = (&'a str, &'a str, OutboxPosition, Option<RecordFingerprint>);
/// (consumer, message id)
pub(crate) type MessageMark<'a> = (&'a str, &'a str);

/// What a successful commit reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Committed {
    /// Position of the last event written, if any were.
    pub last_position: Option<Position>,
}
