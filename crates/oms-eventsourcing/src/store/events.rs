//! Events as the log holds them: a [`NewEvent`] to append, a [`RawEvent`] read back (owned)
//! or an [`EventView`] (borrowed from a page), and the [`Snapshot`] of a state built from
//! them.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreError;
use crate::envelope::{EventHeader, EventMeta, Position, Recorded};
use crate::event::{DomainEvent, EncodeError};

/// An event ready to be appended.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub meta: EventMeta,
    pub event_type: &'static str,
    pub schema_version: u16,
    pub payload: Vec<u8>,
}

impl NewEvent {
    pub fn from_event<E: DomainEvent>(meta: EventMeta, event: &E) -> Result<Self, EncodeError> {
        let event_type = event.event_type();
        Ok(Self {
            schema_version: E::schema_version(event_type),
            payload: event.encode()?,
            event_type,
            meta,
        })
    }
}

/// An event as stored: envelope plus encoded payload, not yet decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct RawEvent {
    pub position: Position,
    pub meta: EventMeta,
    pub event_type: String,
    pub schema_version: u16,
    pub payload: Vec<u8>,
}

impl RawEvent {
    /// Decodes (and upcasts) the payload; an unreadable row names its stream and version.
    pub fn decode<E: DomainEvent>(self) -> Result<Recorded<E>, StoreError> {
        match E::decode(&self.event_type, self.schema_version, &self.payload) {
            Ok(event) => Ok(Recorded {
                position: self.position,
                meta: self.meta,
                event,
            }),
            Err(e) => Err(StoreError::Corrupt {
                stream_id: self.meta.stream_id,
                version: self.meta.version,
                position: self.position,
                reason: format!("{} (event type {})", e, self.event_type),
            }),
        }
    }
}

/// An event as it lies in a page of the log, borrowed: what a replay reads without
/// copying.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventView<'a> {
    pub position: Position,
    pub stream_id: &'a str,
    pub version: u64,
    pub event_id: Uuid,
    pub event_type: &'a str,
    pub schema_version: u16,
    pub payload: &'a [u8],
    pub recorded_at: DateTime<Utc>,
    pub correlation_id: Option<Uuid>,
    pub causation_id: Option<Uuid>,
}

impl<'a> EventView<'a> {
    pub fn header(&self) -> EventHeader<'a> {
        EventHeader {
            stream_id: self.stream_id,
            version: self.version,
            event_id: self.event_id,
            recorded_at: self.recorded_at,
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
        }
    }

    /// Decodes (and upcasts) the payload; an unreadable row names its stream and version.
    pub fn decode<E: DomainEvent>(&self) -> Result<E, StoreError> {
        E::decode(self.event_type, self.schema_version, self.payload).map_err(|e| StoreError::Corrupt {
            stream_id: self.stream_id.to_owned(),
            version: self.version,
            position: self.position,
            reason: format!("{} (event type {})", e, self.event_type),
        })
    }
}

impl RawEvent {
    pub fn view(&self) -> EventView<'_> {
        EventView {
            position: self.position,
            stream_id: &self.meta.stream_id,
            version: self.meta.version,
            event_id: self.meta.event_id,
            event_type: &self.event_type,
            schema_version: self.schema_version,
            payload: &self.payload,
            recorded_at: self.meta.recorded_at,
            correlation_id: self.meta.correlation_id,
            causation_id: self.meta.causation_id,
        }
    }
}

/// A snapshot of a service's in-memory state.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub position: Position,
    pub schema_version: u32,
    pub state: Vec<u8>,
    pub taken_at: DateTime<Utc>,
}
