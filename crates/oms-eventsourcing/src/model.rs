//! The one decision model every service is built on.
//!
//! A service's state is a [`Model`]: what its decisions need, rebuilt by folding its own
//! events. A command is decided against the state at a moment ([`Decide`]) into
//! [`Change`]s — events, each tagged with the stream it is recorded on — or refused with a
//! typed reason a caller can act on. Nothing here does I/O: time arrives as an argument and
//! configuration inside the command, so every rule is a pure function, tested
//! given/when/then with [`crate::testing::Scenario`].

use std::fmt::Debug;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::envelope::EventHeader;
use crate::event::DomainEvent;

/// The in-memory state of a service (or of one partition of it).
pub trait Model: Default + Serialize + DeserializeOwned + Send + Sync + 'static {
    type Event: DomainEvent;

    /// Name under which snapshots of this state are kept.
    const NAME: &'static str;

    /// Bump when the serialised shape of the state changes: older snapshots are then
    /// ignored and the state is rebuilt from the log.
    const SNAPSHOT_VERSION: u32;

    /// Folds one recorded event into the state (evolve). Must be deterministic: replay
    /// calls it with exactly the events and headers the live writer applied.
    fn apply(&mut self, header: &EventHeader<'_>, event: &Self::Event);
}

/// An event and the stream it is recorded on.
#[derive(Debug, Clone, PartialEq)]
pub struct Change<E> {
    pub stream: String,
    pub event: E,
}

impl<E> Change<E> {
    pub fn new(stream: impl Into<String>, event: E) -> Self {
        Self {
            stream: stream.into(),
            event,
        }
    }
}

/// What one decision records, in order (possibly nothing).
pub type Changes<E> = Vec<Change<E>>;

/// A command of a model: decided against the state at `now` into the changes it records,
/// or refused.
pub trait Decide<M: Model>: Debug {
    type Refusal: std::error::Error + Send + 'static;

    fn decide(&self, state: &M, now: DateTime<Utc>) -> Result<Changes<M::Event>, Self::Refusal>;
}
