//! The SQLite write path: one [`CommitBatch`] in one `BEGIN IMMEDIATE` transaction, part
//! by part — events, outbox, inbox marks, replies, parked messages, read-model rows.
//!
//! Each part is a step of its own that either writes all its rows or says why the batch
//! is refused; the transaction is dropped (rolled back) on the first refusal, so nothing
//! of a refused batch is written.

use std::sync::OnceLock;

use sqlx::{AssertSqlSafe, Row, SqliteConnection};

use super::{SqliteStore, is_unique_violation, micros};
use crate::envelope::Position;
use crate::store::{CommitBatch, CommitError, Committed, NewEvent, OutboxMessage, encode_headers};

/// Row counts of the multi-row insert statements; a batch is cut into these.
const CHUNKS: [usize; 6] = [128, 32, 8, 4, 2, 1];

const EVENT_COLUMNS: &str = "INSERT INTO events (stream_id, version, event_id, event_type, schema_version, payload, \
     recorded_at, correlation_id, causation_id, traceparent) VALUES ";
const OUTBOX_COLUMNS: &str =
    "INSERT INTO outbox (message_id, topic, message_key, message_type, payload, headers, created_at) VALUES ";

impl SqliteStore {
    pub async fn commit(&self, batch: &CommitBatch) -> Result<Committed, CommitError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let last_position = insert_events(&mut tx, &batch.events).await?;
        insert_outbox(&mut tx, &batch.outbox).await?;
        write_inbox(&mut tx, batch).await?;
        insert_replies(&mut tx, batch).await?;
        park_and_unpark(&mut tx, batch).await?;
        upsert_projections(&mut tx, batch).await?;
        tx.commit().await?;
        Ok(Committed { last_position })
    }
}

/// Appends the events, chunk by chunk; the position of the last one. A version that is
/// taken already refuses the batch, naming the stream and version.
async fn insert_events(tx: &mut SqliteConnection, events: &[NewEvent]) -> Result<Option<Position>, CommitError> {
    let mut last_position = None;
    let mut rest = events;
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
            Err(e) if is_unique_violation(&e, "events.stream_id") => return Err(name_conflict(tx, chunk).await),
            Err(e) => return Err(e.into()),
        }
        rest = tail;
    }
    Ok(last_position)
}

/// The conflict a refused chunk of events ran into: the first of them whose version is
/// taken in the log, or else the chunk's first (two events of this very batch clashed).
async fn name_conflict(tx: &mut SqliteConnection, chunk: &[NewEvent]) -> CommitError {
    for event in chunk {
        let taken = sqlx::query(include_str!("taken_version.sql"))
            .bind(event.meta.stream_id.as_str())
            .bind(event.meta.version as i64)
            .fetch_optional(&mut *tx)
            .await;
        match taken {
            Ok(Some(_)) => {
                return CommitError::Conflict {
                    stream_id: event.meta.stream_id.clone(),
                    version: event.meta.version,
                };
            }
            Ok(None) => {}
            Err(e) => return e.into(),
        }
    }
    // The clash was between two events of this very batch.
    let first = &chunk[0];
    CommitError::Conflict {
        stream_id: first.meta.stream_id.clone(),
        version: first.meta.version,
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

/// Raises the consumers' checkpoints and records the ids of messages applied; a message
/// id recorded before refuses the batch.
async fn write_inbox(tx: &mut SqliteConnection, batch: &CommitBatch) -> Result<(), CommitError> {
    let (checkpoints, messages) = batch.split_inbox();
    for (consumer, source, position, fingerprint) in checkpoints {
        sqlx::query(include_str!("upsert_checkpoint.sql"))
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
        let inserted = sqlx::query(include_str!("insert_inbox_message.sql"))
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
    Ok(())
}

/// Records the first reply to each idempotent command; a key used before refuses the batch.
async fn insert_replies(tx: &mut SqliteConnection, batch: &CommitBatch) -> Result<(), CommitError> {
    for (key, reply) in &batch.replies {
        let inserted = sqlx::query(include_str!("insert_reply.sql"))
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
    Ok(())
}

/// Keeps the messages parked by this batch and deletes those it applied.
async fn park_and_unpark(tx: &mut SqliteConnection, batch: &CommitBatch) -> Result<(), sqlx::Error> {
    for parked in &batch.parked {
        sqlx::query(include_str!("park.sql"))
            .bind(parked.consumer.as_str())
            .bind(parked.message.as_slice())
            .bind(parked.reason.as_str())
            .bind(micros(batch.recorded_at))
            .execute(&mut *tx)
            .await?;
    }
    for id in &batch.unparked {
        sqlx::query(include_str!("unpark.sql"))
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Writes the read-model rows, the last one of the batch per name and key.
async fn upsert_projections(tx: &mut SqliteConnection, batch: &CommitBatch) -> Result<(), sqlx::Error> {
    for row in batch.last_projections() {
        sqlx::query(include_str!("upsert_projection.sql"))
            .bind(row.name.as_str())
            .bind(row.key.as_str())
            .bind(row.value.as_slice())
            .bind(micros(batch.recorded_at))
            .execute(&mut *tx)
            .await?;
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
