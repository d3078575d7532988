//! The SQLite backend: the embedded default, one file per service, no server to run.
//!
//! SQLite allows one writer at a time; commits take the write lock up front
//! (`BEGIN IMMEDIATE`) so a transaction never has to upgrade a read lock and fail.
//! Rows are inserted with multi-row statements of a few fixed sizes, so the statement
//! cache stays small and a large batch costs few round trips to the database thread
//! (the write path is in `commit`; the reads are here).

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use uuid::Uuid;

use super::{
    EventView, InboxCheckpoint, OutboxMessage, OutboxPosition, OutboxRecord, Parked, RawEvent, RecordFingerprint,
    Snapshot, StoreError, decode_headers,
};
use crate::envelope::{EventMeta, Position};

mod commit;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub async fn connect(path: &str) -> Result<Self, StoreError> {
        let in_memory = path == ":memory:";
        let url = if in_memory {
            "sqlite::memory:".to_owned()
        } else {
            format!("sqlite://{path}")
        };
        let options = SqliteConnectOptions::from_str(&url)?
            .create_if_missing(true)
            .journal_mode(if in_memory {
                SqliteJournalMode::Memory
            } else {
                SqliteJournalMode::Wal
            })
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10));
        // Every connection to `:memory:` is a database of its own: keep exactly one.
        let max = if in_memory { 1 } else { 4 };
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .min_connections(1)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub async fn read_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        until: Option<DateTime<Utc>>,
    ) -> Result<Vec<RawEvent>, StoreError> {
        let rows = sqlx::query(include_str!("sqlite/read_stream.sql"))
            .bind(stream_id)
            .bind(from_version as i64)
            .bind(until.map(micros))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(raw_event).collect()
    }

    pub async fn read_range(&self, after: Position, upto: Position, limit: usize) -> Result<Vec<RawEvent>, StoreError> {
        let rows = sqlx::query(include_str!("sqlite/read_all.sql"))
            .bind(after)
            .bind(upto)
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(raw_event).collect()
    }

    pub async fn scan<F>(&self, after: Position, upto: Position, mut visit: F) -> Result<(), StoreError>
    where
        F: FnMut(EventView<'_>) -> Result<(), StoreError> + Send,
    {
        const PAGE: usize = 10_000;
        let mut from = after;
        loop {
            let page = self.read_range(from, upto, PAGE).await?;
            for event in &page {
                visit(event.view())?;
            }
            match page.last() {
                Some(last) if page.len() == PAGE => from = last.position,
                _ => return Ok(()),
            }
        }
    }

    pub async fn last_position(&self) -> Result<Position, StoreError> {
        let row = sqlx::query(include_str!("sqlite/last_position.sql"))
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>(0)?)
    }

    pub async fn save_snapshot(&self, name: &str, snapshot: &Snapshot) -> Result<(), StoreError> {
        sqlx::query(include_str!("sqlite/save_snapshot.sql"))
            .bind(name)
            .bind(snapshot.position)
            .bind(snapshot.schema_version as i64)
            .bind(snapshot.state.as_slice())
            .bind(micros(snapshot.taken_at))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn load_snapshot(&self, name: &str) -> Result<Option<Snapshot>, StoreError> {
        let row = sqlx::query(include_str!("sqlite/load_snapshot.sql"))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(Snapshot {
            position: row.try_get(0)?,
            schema_version: row.try_get::<i64, _>(1)? as u32,
            state: row.try_get(2)?,
            taken_at: from_micros(row.try_get(3)?),
        }))
    }

    pub async fn read_outbox(&self, after: OutboxPosition, limit: usize) -> Result<Vec<OutboxRecord>, StoreError> {
        let rows = sqlx::query(include_str!("sqlite/read_outbox.sql"))
            .bind(after.id)
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(OutboxRecord {
                    position: OutboxPosition {
                        tx: r.try_get(0)?,
                        id: r.try_get(1)?,
                    },
                    message: OutboxMessage {
                        message_id: r.try_get(2)?,
                        topic: r.try_get(3)?,
                        key: r.try_get(4)?,
                        message_type: r.try_get(5)?,
                        payload: r.try_get(6)?,
                        headers: decode_headers(r.try_get::<Option<&str>, _>(7)?),
                        created_at: from_micros(r.try_get(8)?),
                    },
                })
            })
            .collect()
    }

    pub async fn outbox_rows_after(&self, after: OutboxPosition) -> Result<u64, StoreError> {
        let row = sqlx::query(include_str!("sqlite/outbox_rows_after.sql"))
            .bind(after.id)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>(0)?.max(0) as u64)
    }

    pub async fn prune_outbox(&self, upto: OutboxPosition, older_than: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = sqlx::query(include_str!("sqlite/prune_outbox.sql"))
            .bind(upto.id)
            .bind(micros(older_than))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    pub async fn relay_cursor(&self, relay: &str) -> Result<OutboxPosition, StoreError> {
        let row = sqlx::query(include_str!("sqlite/relay_cursor.sql"))
            .bind(relay)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => OutboxPosition {
                tx: r.try_get(0)?,
                id: r.try_get(1)?,
            },
            None => OutboxPosition::default(),
        })
    }

    pub async fn save_relay_cursor(&self, relay: &str, position: OutboxPosition) -> Result<(), StoreError> {
        sqlx::query(include_str!("sqlite/save_relay_cursor.sql"))
            .bind(relay)
            .bind(position.tx)
            .bind(position.id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn inbox_checkpoints(&self, consumer: &str) -> Result<HashMap<String, OutboxPosition>, StoreError> {
        let rows = sqlx::query(include_str!("sqlite/inbox_checkpoints.sql"))
            .bind(consumer)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get(0)?,
                    OutboxPosition {
                        tx: r.try_get(1)?,
                        id: r.try_get(2)?,
                    },
                ))
            })
            .collect()
    }

    pub async fn inbox_checkpoint_details(&self, consumer: &str) -> Result<Vec<InboxCheckpoint>, StoreError> {
        let rows = sqlx::query(include_str!("sqlite/inbox_checkpoint_details.sql"))
            .bind(consumer)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let digest: Option<i64> = r.try_get(3)?;
                let timestamp_ms: Option<i64> = r.try_get(4)?;
                Ok(InboxCheckpoint {
                    source: r.try_get(0)?,
                    position: OutboxPosition {
                        tx: r.try_get(1)?,
                        id: r.try_get(2)?,
                    },
                    fingerprint: digest.map(|digest| RecordFingerprint { digest, timestamp_ms }),
                })
            })
            .collect()
    }

    pub async fn inbox_seen(&self, consumer: &str, message_ids: &[String]) -> Result<HashSet<String>, StoreError> {
        let ids = serde_json::to_string(message_ids).unwrap_or_else(|_| "[]".into());
        let rows = sqlx::query(include_str!("sqlite/inbox_seen.sql"))
            .bind(consumer)
            .bind(ids)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    pub async fn command_replies(&self, keys: &[String]) -> Result<HashMap<String, Vec<u8>>, StoreError> {
        let keys = serde_json::to_string(keys).unwrap_or_else(|_| "[]".into());
        let rows = sqlx::query(include_str!("sqlite/command_replies.sql"))
            .bind(keys)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    pub async fn parked(&self, consumer: &str, after: i64, limit: usize) -> Result<Vec<Parked>, StoreError> {
        let rows = sqlx::query(include_str!("sqlite/parked.sql"))
            .bind(consumer)
            .bind(after)
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Parked {
                    id: r.try_get(0)?,
                    message: r.try_get(1)?,
                    reason: r.try_get(2)?,
                    parked_at: from_micros(r.try_get(3)?),
                })
            })
            .collect()
    }

    pub async fn load_projection(&self, name: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let rows = sqlx::query(include_str!("sqlite/load_projection.sql"))
            .bind(name)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    pub async fn prune_idempotency(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let replies = sqlx::query(include_str!("sqlite/prune_replies.sql"))
            .bind(micros(before))
            .execute(&self.pool)
            .await?;
        let messages = sqlx::query(include_str!("sqlite/prune_inbox_messages.sql"))
            .bind(micros(before))
            .execute(&self.pool)
            .await?;
        Ok(replies.rows_affected() + messages.rows_affected())
    }
}

fn is_unique_violation(error: &sqlx::Error, table_and_column: &str) -> bool {
    match error {
        sqlx::Error::Database(db) => db.is_unique_violation() && db.message().contains(table_and_column),
        _ => false,
    }
}

pub(crate) fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

pub(crate) fn from_micros(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

fn raw_event(row: &SqliteRow) -> Result<RawEvent, StoreError> {
    Ok(RawEvent {
        position: row.try_get(0)?,
        meta: EventMeta {
            stream_id: row.try_get(1)?,
            version: row.try_get::<i64, _>(2)? as u64,
            event_id: row.try_get::<Uuid, _>(3)?,
            recorded_at: from_micros(row.try_get(7)?),
            correlation_id: row.try_get(8)?,
            causation_id: row.try_get(9)?,
            traceparent: row.try_get(10)?,
        },
        event_type: row.try_get(4)?,
        schema_version: row.try_get::<i64, _>(5)? as u16,
        payload: row.try_get(6)?,
    })
}
