//! What can go wrong with the log: [`StoreError`] for reads and the store itself,
//! [`CommitError`] for a batch refused as a whole.

use crate::envelope::Position;

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
