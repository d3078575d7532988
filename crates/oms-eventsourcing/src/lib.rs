//! The event-sourcing core every OMS service is built on.
//!
//! A service keeps its working state in memory and rebuilds it at start by replaying
//! its own event log. This crate gives it the pieces to do that safely and fast:
//!
//! - [`Model`], [`Decide`], [`Change`] — the one decision model: a service's state, the
//!   commands decided against it into events tagged with their streams, and the fold of
//!   those events; every rule tested given/when/then with [`testing::Scenario`];
//! - [`DomainEvent`] — how events are named, versioned, encoded and upcast (with the
//!   tools of [`upcast`]);
//! - [`EventStore`] — the event log with optimistic concurrency per stream, snapshots,
//!   the transactional outbox, the consumer inbox and command idempotency, on
//!   PostgreSQL or SQLite behind one interface;
//! - [`Writer`] — the single writer of a service's state: it decides commands against
//!   the in-memory state and appends many of them in one transaction (group commit);
//! - [`replay`] — rebuilding a state from the newest snapshot plus the tail, and the
//!   [`digest`] that proves a rebuilt state equals the live one;
//! - [`Clock`] — injectable time, so timers can be moved by tests and simulations;
//! - [`trace`] — W3C trace context carried from a command into what it records.

pub mod clock;
pub mod digest;
pub mod envelope;
pub mod event;
pub mod model;
pub mod replay;
pub mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod trace;
pub mod upcast;
pub mod writer;

pub use clock::{Clock, ManualClock, SystemClock};
pub use digest::{StateDigest, state_digest};
pub use envelope::{CommandMeta, EventHeader, EventMeta, Position, Recorded};
pub use event::{DecodeError, DomainEvent, EncodeError};
pub use model::{Change, Changes, Decide, Model};
pub use replay::ReplayProgress;
pub use store::{
    CommitBatch, CommitError, EventStore, InboxMark, OutboxMessage, OutboxRecord, StoreConfig, StoreError,
};
pub use writer::{CommandError, Decision, Submitted, Writer, WriterConfig};
