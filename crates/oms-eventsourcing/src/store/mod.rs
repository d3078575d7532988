//! The event log port and its two backends.
//!
//! One service owns one store: its events (optimistic concurrency per stream), the
//! outbox of integration messages written in the same transaction, the inbox of what its
//! consumers have applied, the first replies to idempotent commands, and snapshots.
//! [`EventStore`] is the one interface; PostgreSQL is the production backend, SQLite the
//! embedded default. Both pass the same conformance suite (`tests/conformance/`).
//!
//! The types the interface speaks in live in files by what they are about — `events`,
//! `outbox`, `inbox`, `batch`, `config`, `error` — and are all re-exported here, so
//! `store::CommitBatch` and the like are the one path to each.

mod batch;
mod config;
mod error;
mod events;
mod inbox;
mod outbox;
mod postgres;
mod sqlite;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

pub(crate) use self::batch::{CheckpointMark, MessageMark};
pub use self::batch::{CommitBatch, Committed, ProjectionRow};
pub use self::config::StoreConfig;
pub(crate) use self::config::validate_schema_name;
pub use self::error::{CommitError, StoreError};
pub use self::events::{EventView, NewEvent, RawEvent, Snapshot};
pub use self::inbox::{InboxCheckpoint, InboxMark, Parked, ParkedMessage, RecordFingerprint};
pub use self::outbox::{OutboxMessage, OutboxPosition, OutboxRecord};
pub(crate) use self::outbox::{decode_headers, encode_headers};
pub use self::postgres::PostgresStore;
pub use self::sqlite::SqliteStore;
use crate::envelope::{Position, Recorded};
use crate::event::DomainEvent;

/// One service's event log, on PostgreSQL or SQLite.
#[derive(Clone)]
pub struct EventStore {
    backend: Backend,
    /// Woken after every commit that wrote outbox rows, so an in-process relay or consumer
    /// need not poll. Rows written by other processes are found by polling.
    outbox_written: Arc<Notify>,
}

#[derive(Clone)]
enum Backend {
    Postgres(PostgresStore),
    Sqlite(SqliteStore),
}

macro_rules! dispatch {
    ($self:ident, $store:ident => $call:expr) => {
        match &$self.backend {
            Backend::Postgres($store) => $call,
            Backend::Sqlite($store) => $call,
        }
    };
}

impl EventStore {
    /// Connects (creating the schema or file if needed) and brings the tables up to date.
    pub async fn connect(config: &StoreConfig) -> Result<Self, StoreError> {
        let backend = match config {
            StoreConfig::Postgres {
                url,
                schema,
                max_connections,
            } => Backend::Postgres(PostgresStore::connect(url, schema, *max_connections).await?),
            StoreConfig::Sqlite { path } => Backend::Sqlite(SqliteStore::connect(path).await?),
        };
        Ok(Self {
            backend,
            outbox_written: Arc::new(Notify::new()),
        })
    }

    /// "postgres" or "sqlite".
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Postgres(_) => "postgres",
            Backend::Sqlite(_) => "sqlite",
        }
    }

    /// Writes everything in `batch` in one transaction, or nothing.
    pub async fn commit(&self, batch: &CommitBatch) -> Result<Committed, CommitError> {
        if batch.is_empty() {
            return Ok(Committed::default());
        }
        let committed = dispatch!(self, s => s.commit(batch).await)?;
        if !batch.outbox.is_empty() {
            self.outbox_written.notify_waiters();
        }
        Ok(committed)
    }

    /// Events of one stream from `from_version` on, in order.
    pub async fn read_stream(&self, stream_id: &str, from_version: u64) -> Result<Vec<RawEvent>, StoreError> {
        dispatch!(self, s => s.read_stream(stream_id, from_version, None).await)
    }

    /// Events of one stream recorded at or before `at`: the stream as it was then.
    pub async fn read_stream_until(&self, stream_id: &str, at: DateTime<Utc>) -> Result<Vec<RawEvent>, StoreError> {
        dispatch!(self, s => s.read_stream(stream_id, 1, Some(at)).await)
    }

    /// Decoded events of one stream.
    pub async fn load_stream<E: DomainEvent>(&self, stream_id: &str) -> Result<Vec<Recorded<E>>, StoreError> {
        self.read_stream(stream_id, 1)
            .await?
            .into_iter()
            .map(RawEvent::decode)
            .collect()
    }

    /// Up to `limit` events after `after`, in log order.
    pub async fn read_all(&self, after: Position, limit: usize) -> Result<Vec<RawEvent>, StoreError> {
        self.read_range(after, Position::MAX, limit).await
    }

    /// Up to `limit` events after `after` and at or before `upto`, in log order.
    pub async fn read_range(&self, after: Position, upto: Position, limit: usize) -> Result<Vec<RawEvent>, StoreError> {
        dispatch!(self, s => s.read_range(after, upto, limit).await)
    }

    /// Calls `visit` with every event after `after` up to `upto`, in log order, as fast as
    /// the backend can stream them. Stops at the first error `visit` returns.
    pub async fn scan<F>(&self, after: Position, upto: Position, visit: F) -> Result<(), StoreError>
    where
        F: FnMut(EventView<'_>) -> Result<(), StoreError> + Send,
    {
        dispatch!(self, s => s.scan(after, upto, visit).await)
    }

    /// Position of the newest event (0 for an empty log).
    pub async fn last_position(&self) -> Result<Position, StoreError> {
        dispatch!(self, s => s.last_position().await)
    }

    pub async fn save_snapshot(&self, name: &str, snapshot: &Snapshot) -> Result<(), StoreError> {
        dispatch!(self, s => s.save_snapshot(name, snapshot).await)
    }

    pub async fn load_snapshot(&self, name: &str) -> Result<Option<Snapshot>, StoreError> {
        dispatch!(self, s => s.load_snapshot(name).await)
    }

    /// Up to `limit` outbox messages after `after`, only from transactions that can no
    /// longer be overtaken by one committing later.
    pub async fn read_outbox(&self, after: OutboxPosition, limit: usize) -> Result<Vec<OutboxRecord>, StoreError> {
        dispatch!(self, s => s.read_outbox(after, limit).await)
    }

    /// How many outbox rows there are after `after` (committed or not): what a relay that
    /// stops there leaves for the next one.
    pub async fn outbox_rows_after(&self, after: OutboxPosition) -> Result<u64, StoreError> {
        dispatch!(self, s => s.outbox_rows_after(after).await)
    }

    /// Deletes outbox rows at or below `upto` that are older than `older_than`.
    pub async fn prune_outbox(&self, upto: OutboxPosition, older_than: DateTime<Utc>) -> Result<u64, StoreError> {
        dispatch!(self, s => s.prune_outbox(upto, older_than).await)
    }

    /// Waits until a commit of this store writes outbox rows (or `timeout` passes).
    pub async fn outbox_written(&self, timeout: std::time::Duration) {
        let _ = tokio::time::timeout(timeout, self.outbox_written.notified()).await;
    }

    pub async fn relay_cursor(&self, relay: &str) -> Result<OutboxPosition, StoreError> {
        dispatch!(self, s => s.relay_cursor(relay).await)
    }

    pub async fn save_relay_cursor(&self, relay: &str, position: OutboxPosition) -> Result<(), StoreError> {
        dispatch!(self, s => s.save_relay_cursor(relay, position).await)
    }

    /// Every source's checkpoint for a consumer.
    pub async fn inbox_checkpoints(&self, consumer: &str) -> Result<HashMap<String, OutboxPosition>, StoreError> {
        dispatch!(self, s => s.inbox_checkpoints(consumer).await)
    }

    /// Every source's checkpoint for a consumer, with the fingerprint of the message at it
    /// where one was recorded (sources checkpointed by broker offset).
    pub async fn inbox_checkpoint_details(&self, consumer: &str) -> Result<Vec<InboxCheckpoint>, StoreError> {
        dispatch!(self, s => s.inbox_checkpoint_details(consumer).await)
    }

    /// Which of `message_ids` the consumer has already applied.
    pub async fn inbox_seen(&self, consumer: &str, message_ids: &[String]) -> Result<HashSet<String>, StoreError> {
        if message_ids.is_empty() {
            return Ok(HashSet::new());
        }
        dispatch!(self, s => s.inbox_seen(consumer, message_ids).await)
    }

    /// The recorded first replies for those of `keys` that have one.
    pub async fn command_replies(&self, keys: &[String]) -> Result<HashMap<String, Vec<u8>>, StoreError> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        dispatch!(self, s => s.command_replies(keys).await)
    }

    /// Up to `limit` messages the consumer parked, oldest first, after the one with id `after`.
    pub async fn parked(&self, consumer: &str, after: i64, limit: usize) -> Result<Vec<Parked>, StoreError> {
        dispatch!(self, s => s.parked(consumer, after, limit).await)
    }

    /// Every row of read model `name`, as (key, value).
    pub async fn load_projection(&self, name: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        dispatch!(self, s => s.load_projection(name).await)
    }

    /// Deletes idempotency records and applied message ids older than `before`.
    pub async fn prune_idempotency(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        dispatch!(self, s => s.prune_idempotency(before).await)
    }
}
