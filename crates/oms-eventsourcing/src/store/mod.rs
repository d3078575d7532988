//! The event log port and its two backends.
//!
//! One service owns one store: its events (optimistic concurrency per stream), the
//! outbox of integration messages written in the same transaction, the inbox of what its
//! consumers have applied, the first replies to idempotent commands, and snapshots.
//! [`EventStore`] is the one interface; PostgreSQL is the production backend, SQLite the
//! embedded default. Both pass the same conformance suite (`tests/conformance.rs`).

mod postgres;
mod sqlite;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use uuid::Uuid;

pub use self::postgres::PostgresStore;
pub use self::sqlite::SqliteStore;
use crate::envelope::{EventHeader, EventMeta, Position, Recorded};
use crate::event::{DomainEvent, EncodeError};

/// Where a service keeps its log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// A PostgreSQL database; the service's tables live in `schema`.
    Postgres {
        url: String,
        schema: String,
        max_connections: u32,
    },
    /// A SQLite file (created if missing), or `:memory:`.
    Sqlite { path: String },
}

impl StoreConfig {
    /// Reads `postgres://…?schema=name` / `postgresql://…` or `sqlite://path` /
    /// `sqlite::memory:`. `default_schema` is used when a PostgreSQL URL names none;
    /// `max_connections=N` sizes the pool (8 by default). Other parameters go to the driver.
    pub fn from_url(url: &str, default_schema: &str) -> Result<Self, StoreError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            return Ok(Self::Sqlite { path: path.to_owned() });
        }
        if url == "sqlite::memory:" {
            return Ok(Self::Sqlite {
                path: ":memory:".to_owned(),
            });
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let (base, query) = url.split_once('?').unwrap_or((url, ""));
            let mut schema = default_schema.to_owned();
            let mut max_connections = 8;
            let mut kept = Vec::new();
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                match pair.split_once('=') {
                    Some(("schema", value)) => schema = value.to_owned(),
                    Some(("max_connections", value)) => {
                        max_connections = value.parse().ok().filter(|n| *n >= 2).ok_or_else(|| {
                            StoreError::Config(format!(
                                "max_connections={value:?} in the store URL: give a number of connections, 2 or more"
                            ))
                        })?;
                    }
                    _ => kept.push(pair),
                }
            }
            let url = if kept.is_empty() {
                base.to_owned()
            } else {
                format!("{base}?{}", kept.join("&"))
            };
            validate_schema_name(&schema)?;
            return Ok(Self::Postgres {
                url,
                schema,
                max_connections,
            });
        }
        Err(StoreError::Config(format!(
            "unsupported store URL {url:?}: use postgres://user@host/db?schema=name or sqlite://path/to/file.db"
        )))
    }
}

pub(crate) fn validate_schema_name(schema: &str) -> Result<(), StoreError> {
    let mut chars = schema.chars();
    let valid = matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && schema.len() <= 63;
    if valid {
        Ok(())
    } else {
        Err(StoreError::Config(format!(
            "schema name {schema:?} must be lower-case letters, digits and underscores, starting with a letter"
        )))
    }
}

/// Errors of the event log.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or could not be reached; usually worth retrying.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("could not migrate the event log schema: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A stored event cannot be read: the log is damaged or was written by a newer build.
    #[error("event {version} of stream {stream_id} (position {position}) cannot be read: {reason}")]
    Corrupt {
        stream_id: String,
        version: u64,
        position: Position,
        reason: String,
    },
    /// A snapshot cannot be read. Snapshots are a cache: callers fall back to a full replay.
    #[error("snapshot {name} cannot be read: {reason}")]
    Snapshot { name: String, reason: String },
    #[error("configuration: {0}")]
    Config(String),
}

impl StoreError {
    /// Whether trying again later may succeed (the database was down or busy).
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Database(e) => !matches!(
                e,
                sqlx::Error::Database(_) | sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_)
            ),
            _ => false,
        }
    }
}

/// Why a commit was refused. Nothing of the batch was written.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// Another writer appended to the stream first.
    #[error("stream {stream_id} already has a version {version}")]
    Conflict { stream_id: String, version: u64 },
    /// The consumer already applied this message.
    #[error("consumer {consumer} already applied message {message_id}")]
    DuplicateMessage { consumer: String, message_id: String },
    /// A command with this idempotency key was already committed.
    #[error("a command with idempotency key {key} was already committed")]
    DuplicateKey { key: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for CommitError {
    fn from(e: sqlx::Error) -> Self {
        CommitError::Store(StoreError::Database(e))
    }
}

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

/// Position in an outbox, in the order the relay (or an in-process consumer) reads it.
/// Ordered by the writing transaction first, then by row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OutboxPosition {
    pub tx: i64,
    pub id: i64,
}

impl std::fmt::Display for OutboxPosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.tx, self.id)
    }
}

impl std::str::FromStr for OutboxPosition {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (tx, id) = s
            .split_once(':')
            .ok_or_else(|| format!("outbox position {s:?} is not tx:id"))?;
        Ok(Self {
            tx: tx.parse().map_err(|_| format!("outbox position {s:?} has a bad tx"))?,
            id: id.parse().map_err(|_| format!("outbox position {s:?} has a bad id"))?,
        })
    }
}

/// An integration message to publish once the transaction that writes it commits.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    pub message_id: Uuid,
    pub topic: String,
    /// The aggregate id: messages with one key stay in order.
    pub key: String,
    /// The message's type name (the CloudEvents `ce_type`).
    pub message_type: String,
    pub payload: Vec<u8>,
    /// Extra headers (trace context, dead-letter reasons...).
    pub headers: Vec<(String, String)>,
    pub created_at: DateTime<Utc>,
}

impl OutboxMessage {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// An outbox row as read back, with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRecord {
    pub position: OutboxPosition,
    pub message: OutboxMessage,
}

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

/// A snapshot of a service's in-memory state.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub position: Position,
    pub schema_version: u32,
    pub state: Vec<u8>,
    pub taken_at: DateTime<Utc>,
}

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

/// Naming the version that conflicted, once the batch as a whole was refused.
pub(crate) fn first_taken<'a>(batch: &'a CommitBatch, taken: &HashSet<(String, i64)>) -> Option<&'a NewEvent> {
    batch
        .events
        .iter()
        .find(|e| taken.contains(&(e.meta.stream_id.clone(), e.meta.version as i64)))
}

/// Headers are stored as a JSON object; an empty list as NULL.
pub(crate) fn encode_headers(headers: &[(String, String)]) -> Option<String> {
    if headers.is_empty() {
        return None;
    }
    let map: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    Some(serde_json::Value::Object(map).to_string())
}

pub(crate) fn decode_headers(text: Option<&str>) -> Vec<(String, String)> {
    let Some(text) = text else { return Vec::new() };
    match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text) {
        Ok(map) => map
            .into_iter()
            .map(|(k, v)| (k, v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())))
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod url_tests {
    use super::*;

    #[test]
    fn a_postgres_url_names_the_schema_and_the_pool_size_and_keeps_the_rest() {
        let config = StoreConfig::from_url(
            "postgres://oms@db/oms?sslmode=require&schema=routing&max_connections=4",
            "ignored",
        )
        .unwrap();
        let StoreConfig::Postgres {
            url,
            schema,
            max_connections,
        } = config
        else {
            panic!("a PostgreSQL store")
        };
        assert_eq!(url, "postgres://oms@db/oms?sslmode=require");
        assert_eq!(schema, "routing");
        assert_eq!(max_connections, 4);
        let StoreConfig::Postgres {
            schema,
            max_connections,
            ..
        } = StoreConfig::from_url("postgres://oms@db/oms", "orders").unwrap()
        else {
            panic!("a PostgreSQL store")
        };
        assert_eq!((schema.as_str(), max_connections), ("orders", 8));
    }

    #[test]
    fn a_bad_pool_size_is_refused_naming_it() {
        for bad in ["x", "1", "-3"] {
            let error = StoreConfig::from_url(&format!("postgres://db/oms?max_connections={bad}"), "orders")
                .unwrap_err()
                .to_string();
            assert!(error.contains("max_connections"), "{error}");
        }
    }
}
