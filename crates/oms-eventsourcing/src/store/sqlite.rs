//! The SQLite backend: the embedded default, one file per service, no server to run.
//!
//! SQLite allows one writer at a time; commits take the write lock up front
//! (`BEGIN IMMEDIATE`) so a transaction never has to upgrade a read lock and fail.
//! Rows are inserted with multi-row statements of a few fixed sizes, so the statement
//! cache stays small and a large batch costs few round trips to the database thread.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Row, SqliteConnection};
use uuid::Uuid;

use super::{
    CommitBatch, CommitError, Committed, EventView, InboxCheckpoint, OutboxMessage, OutboxPosition, OutboxRecord,
    Parked, RawEvent, RecordFingerprint, Snapshot, StoreError, decode_headers, encode_headers,
};
use crate::envelope::{EventMeta, Position};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// Row counts of the multi-row insert statements; a batch is cut into these.
const CHUNKS: [usize; 6] = [128, 32, 8, 4, 2, 1];

const EVENT_COLUMNS: &str = "INSERT INTO events (stream_id, version, event_id, event_type, schema_version, payload, \
     recorded_at, correlation_id, causation_id, traceparent) VALUES ";
const OUTBOX_COLUMNS: &str =
    "INSERT INTO outbox (message_id, topic, message_key, message_type, payload, headers, created_at) VALUES ";

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

    pub async fn commit(&self, batch: &CommitBatch) -> Result<Committed, CommitError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut last_position = None;
        let mut rest = &batch.events[..];
        while !rest.is_empty() {
            let n = chunk_len(rest.len());
            let (chunk, tail) = rest.split_at(n);
            let mut query = sqlx::query(insert_sql(EVENT_COLUMNS, 10, n, "RETURNING position"));
            for e in chunk {
                query = query
                    .bind(e.meta.stream_id.as_str())
                    .bind(e.meta.version as i64)
                    .bind(e.meta.event_id)
                    .bind(e.event_type)
                    .bind(e.schema_version as i64)
                    .bind(e.payload.as_slice())
                    .bind(micros(e.meta.recorded_at))
                    .bind(e.meta.correlation_id)
                    .bind(e.meta.causation_id)
                    .bind(e.meta.traceparent.as_deref());
            }
            match query.fetch_all(&mut *tx).await {
                Ok(rows) => {
                    let max = rows.iter().filter_map(|r| r.try_get::<i64, _>(0).ok()).max();
                    last_position = last_position.max(max);
                }
                Err(e) if is_unique_violation(&e, "events.stream_id") => {
                    for event in chunk {
                        let taken = sqlx::query(include_str!("sqlite/taken_version.sql"))
                            .bind(event.meta.stream_id.as_str())
                            .bind(event.meta.version as i64)
                            .fetch_optional(&mut *tx)
                            .await?;
                        if taken.is_some() {
                            return Err(CommitError::Conflict {
                                stream_id: event.meta.stream_id.clone(),
                                version: event.meta.version,
                            });
                        }
                    }
                    // The clash was between two events of this very batch.
                    let first = &chunk[0];
                    return Err(CommitError::Conflict {
                        stream_id: first.meta.stream_id.clone(),
                        version: first.meta.version,
                    });
                }
                Err(e) => return Err(e.into()),
            }
            rest = tail;
        }
        insert_outbox(&mut tx, &batch.outbox).await?;
        let (checkpoints, messages) = batch.split_inbox();
        for (consumer, source, position, fingerprint) in checkpoints {
            sqlx::query(include_str!("sqlite/upsert_checkpoint.sql"))
                .bind(consumer)
                .bind(source)
                .bind(position.tx)
                .bind(position.id)
                .bind(fingerprint.map(|f| f.digest))
                .bind(fingerprint.and_then(|f| f.timestamp_ms))
                .execute(&mut *tx)
                .await?;
        }
        for (consumer, message_id) in messages {
            let inserted = sqlx::query(include_str!("sqlite/insert_inbox_message.sql"))
                .bind(consumer)
                .bind(message_id)
                .bind(micros(batch.recorded_at))
                .execute(&mut *tx)
                .await;
            match inserted {
                Err(e) if is_unique_violation(&e, "inbox_messages") => {
                    return Err(CommitError::DuplicateMessage {
                        consumer: consumer.to_owned(),
                        message_id: message_id.to_owned(),
                    });
                }
                other => {
                    other?;
                }
            }
        }
        for (key, reply) in &batch.replies {
            let inserted = sqlx::query(include_str!("sqlite/insert_reply.sql"))
                .bind(key.as_str())
                .bind(reply.as_slice())
                .bind(micros(batch.recorded_at))
                .execute(&mut *tx)
                .await;
            match inserted {
                Err(e) if is_unique_violation(&e, "command_replies") => {
                    return Err(CommitError::DuplicateKey { key: key.clone() });
                }
                other => {
                    other?;
                }
            }
        }
        for parked in &batch.parked {
            sqlx::query(include_str!("sqlite/park.sql"))
                .bind(parked.consumer.as_str())
                .bind(parked.message.as_slice())
                .bind(parked.reason.as_str())
                .bind(micros(batch.recorded_at))
                .execute(&mut *tx)
                .await?;
        }
        for id in &batch.unparked {
            sqlx::query(include_str!("sqlite/unpark.sql"))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        for row in batch.last_projections() {
            sqlx::query(include_str!("sqlite/upsert_projection.sql"))
                .bind(row.name.as_str())
                .bind(row.key.as_str())
                .bind(row.value.as_slice())
                .bind(micros(batch.recorded_at))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Committed { last_position })
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

async fn insert_outbox(tx: &mut SqliteConnection, outbox: &[OutboxMessage]) -> Result<(), sqlx::Error> {
    let mut rest = outbox;
    while !rest.is_empty() {
        let n = chunk_len(rest.len());
        let (chunk, tail) = rest.split_at(n);
        let mut query = sqlx::query(insert_sql(OUTBOX_COLUMNS, 7, n, ""));
        for m in chunk {
            query = query
                .bind(m.message_id)
                .bind(m.topic.as_str())
                .bind(m.key.as_str())
                .bind(m.message_type.as_str())
                .bind(m.payload.as_slice())
                .bind(encode_headers(&m.headers))
                .bind(micros(m.created_at));
        }
        query.execute(&mut *tx).await?;
        rest = tail;
    }
    Ok(())
}

fn chunk_len(remaining: usize) -> usize {
    CHUNKS.iter().copied().find(|&c| c <= remaining).unwrap_or(1)
}

/// `INSERT … VALUES (?, …), (?, …) …` for `rows` rows, built once per shape.
fn insert_sql(prefix: &'static str, columns: usize, rows: usize, suffix: &'static str) -> AssertSqlSafe<&'static str> {
    static EVENTS: OnceLock<Vec<String>> = OnceLock::new();
    static OUTBOX: OnceLock<Vec<String>> = OnceLock::new();
    let cell = if prefix == EVENT_COLUMNS { &EVENTS } else { &OUTBOX };
    let shapes = cell.get_or_init(|| {
        CHUNKS
            .iter()
            .map(|&n| {
                let row = format!("({})", vec!["?"; columns].join(", "));
                format!("{prefix}{} {suffix}", vec![row; n].join(", "))
            })
            .collect()
    });
    let index = CHUNKS.iter().position(|&c| c == rows).unwrap_or(CHUNKS.len() - 1);
    // Built only from the constant column lists above: nothing of the input is in it.
    AssertSqlSafe(shapes[index].as_str())
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
