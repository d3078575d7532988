//! What a consumer keeps in its service's store: the inbox marks that make a second
//! delivery harmless, the fingerprints that tell one broker log from another, and the
//! messages it parked until what they depend on arrives.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::OutboxPosition;

/// What a consumer records, in the transaction of the effect, about the message it applied.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum InboxMark {
    /// Everything from `source` up to and including `position` has been applied. One row
    /// per source; a redelivered or republished message at or below it is skipped.
    Checkpoint {
        consumer: String,
        source: String,
        position: OutboxPosition,
        /// For a source checkpointed by broker offset: what the message at `position` looked
        /// like, kept with the checkpoint so the consumer can tell later whether the
        /// partition still holds the log it applied.
        fingerprint: Option<RecordFingerprint>,
    },
    /// The message with this id has been applied (for sources without positions).
    Message { consumer: String, message_id: String },
}

/// What identifies a broker record at its offset: the xxh3 of its key and payload, and its
/// timestamp. A partition whose record at a checkpointed offset has another fingerprint
/// holds another log than the one the consumer applied (the broker lost the topic, or it
/// was recreated), even though its offsets look the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RecordFingerprint {
    /// xxh3-64 of the key and the payload, as stored (the bits of the `u64`).
    pub digest: i64,
    /// The record's timestamp in milliseconds since the Unix epoch, if it has one.
    pub timestamp_ms: Option<i64>,
}

impl std::fmt::Display for RecordFingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "digest {:016x}", self.digest as u64)?;
        match self.timestamp_ms.and_then(DateTime::<Utc>::from_timestamp_millis) {
            Some(at) => write!(f, " at {}", at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            None => write!(f, " without a timestamp"),
        }
    }
}

/// A consumer's checkpoint of one source, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxCheckpoint {
    pub source: String,
    pub position: OutboxPosition,
    /// For offset checkpoints written with one: the record at the checkpointed offset.
    pub fingerprint: Option<RecordFingerprint>,
}

/// A message a consumer keeps for later, because it arrived before what it depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedMessage {
    pub consumer: String,
    /// The message as the transport received it, encoded by the transport.
    pub message: Vec<u8>,
    pub reason: String,
}

/// A parked message as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Parked {
    pub id: i64,
    pub message: Vec<u8>,
    pub reason: String,
    pub parked_at: DateTime<Utc>,
}
