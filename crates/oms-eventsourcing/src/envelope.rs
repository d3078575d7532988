//! The envelope around every event: where it sits in the log and where it came from.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::store::InboxMark;

/// Position of an event in a service's log: 1 for the first event, then increasing.
pub type Position = i64;

/// Everything the log records about an event besides its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMeta {
    pub event_id: Uuid,
    pub stream_id: String,
    /// 1 for the first event of a stream, then +1 per event.
    pub version: u64,
    pub recorded_at: DateTime<Utc>,
    /// The business flow this event belongs to (the same for a whole order journey).
    pub correlation_id: Option<Uuid>,
    /// The command or message that caused this event.
    pub causation_id: Option<Uuid>,
    /// W3C trace context of the span that recorded the event.
    pub traceparent: Option<String>,
}

impl EventMeta {
    /// The part of the envelope a state sees when the event is applied.
    pub fn header(&self) -> EventHeader<'_> {
        EventHeader {
            stream_id: &self.stream_id,
            version: self.version,
            event_id: self.event_id,
            recorded_at: self.recorded_at,
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
        }
    }
}

/// What a state is told about an event when it applies it: the same live and on replay.
/// (Trace context is for observability and is not part of it.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventHeader<'a> {
    pub stream_id: &'a str,
    pub version: u64,
    pub event_id: Uuid,
    pub recorded_at: DateTime<Utc>,
    pub correlation_id: Option<Uuid>,
    pub causation_id: Option<Uuid>,
}

/// An event read back from the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded<E> {
    pub position: Position,
    pub meta: EventMeta,
    pub event: E,
}

/// What a command brings with it besides its own data: where it came from, the key that
/// makes a retry safe, and, for a command made from a consumed message, the inbox mark
/// that makes a redelivery harmless.
#[derive(Debug, Clone, Default)]
pub struct CommandMeta {
    /// Stable identifier of this command. Events record it as their causation id.
    pub command_id: Option<Uuid>,
    pub correlation_id: Option<Uuid>,
    pub traceparent: Option<String>,
    /// A retry with the same key returns the first answer instead of acting again.
    pub idempotency_key: Option<String>,
    /// Marks the consumed message this command was made from as applied, in the same
    /// transaction as its effect.
    pub inbox: Option<InboxMark>,
}

impl CommandMeta {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    pub fn with_correlation(mut self, correlation_id: Uuid) -> Self {
        self.correlation_id = Some(correlation_id);
        self
    }

    pub fn with_command_id(mut self, command_id: Uuid) -> Self {
        self.command_id = Some(command_id);
        self
    }

    pub fn with_traceparent(mut self, traceparent: Option<String>) -> Self {
        self.traceparent = traceparent;
        self
    }

    pub fn with_inbox(mut self, mark: InboxMark) -> Self {
        self.inbox = Some(mark);
        self
    }
}
