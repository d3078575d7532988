//! The PostgreSQL backend: production. One schema per service; a group commit of many
//! commands is a single statement (one `UNNEST` insert per table, as data-modifying CTEs),
//! so it costs one round trip whatever its size (the write path is in `commit`; the reads
//! are here).

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;

use sqlx::Postgres;
use sqlx::pool::PoolConnection;
use tokio::sync::Mutex;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, Connection, Row};

mod binary;
mod commit;

use super::{
    EventView, InboxCheckpoint, OutboxMessage, OutboxPosition, OutboxRecord, Parked, RawEvent, RecordFingerprint,
    Snapshot, StoreError, decode_headers,
};
use crate::envelope::{EventMeta, Position};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// The connection commits go through. A service has one writer, so commits are
    /// sequential anyway; keeping their connection saves a pool checkout per batch.
    committer: Arc<Mutex<Option<PoolConnection<Postgres>>>>,
}

impl PostgresStore {
    pub async fn connect(url: &str, schema: &str, max_connections: u32) -> Result<Self, StoreError> {
        super::validate_schema_name(schema)?;
        let options = PgConnectOptions::from_str(url)?;
        let mut admin = sqlx::PgConnection::connect_with(&options).await?;
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")))
            .execute(&mut admin)
            .await?;
        admin.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(2))
            // A broken connection shows itself as an error of the next statement, which the
            // writer already handles; a ping before every batch would cost a round trip.
            .test_before_acquire(false)
            .connect_with(options.options([("search_path", schema)]))
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self {
            pool,
            committer: Arc::new(Mutex::new(None)),
        })
    }

    /// The pool, for services that keep read models of their own next to the log.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub async fn read_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        until: Option<DateTime<Utc>>,
    ) -> Result<Vec<RawEvent>, StoreError> {
        let rows = sqlx::query(include_str!("postgres/read_stream.sql"))
            .bind(stream_id)
            .bind(from_version as i64)
            .bind(until)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(raw_event).collect()
    }

    pub async fn read_range(&self, after: Position, upto: Position, limit: usize) -> Result<Vec<RawEvent>, StoreError> {
        let rows = sqlx::query(include_str!("postgres/read_all.sql"))
            .bind(after)
            .bind(upto)
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(raw_event).collect()
    }

    /// Streams the events in `(after, upto]` in order. The range is cut into slices that
    /// two connections fetch side by side (so two PostgreSQL backends produce rows while
    /// this process parses and applies them), and applied slice after slice.
    pub async fn scan<F>(&self, after: Position, upto: Position, mut visit: F) -> Result<(), StoreError>
    where
        F: FnMut(EventView<'_>) -> Result<(), StoreError> + Send,
    {
        const SLICE: i64 = 32_768;
        const FETCHERS: usize = 2;
        // Slices are cut from positions: only up to the newest event there is.
        let upto = upto.min(self.last_position().await?);
        if upto <= after {
            return Ok(());
        }
        let slices: Vec<(Position, Position)> = (0..)
            .map(|i| after + i * SLICE)
            .take_while(|lo| *lo < upto)
            .map(|lo| (lo, (lo + SLICE).min(upto)))
            .collect();
        let mut receivers = Vec::new();
        let mut fetchers = Vec::new();
        for first in 0..FETCHERS.min(slices.len()) {
            let mine: Vec<(Position, Position)> = slices.iter().copied().skip(first).step_by(FETCHERS).collect();
            let (tx, rx) = tokio::sync::mpsc::channel(2);
            fetchers.push(tokio::spawn(fetch_slices(self.pool.clone(), mine, tx)));
            receivers.push(rx);
        }
        let mut outcome = Ok(());
        let readers = receivers.len();
        'slices: for i in 0..slices.len() {
            let received = receivers[i % readers].recv().await;
            let messages = match received {
                Some(Ok(messages)) => messages,
                Some(Err(e)) => {
                    outcome = Err(e);
                    break;
                }
                None => {
                    outcome = Err(StoreError::Config("a log reader stopped early".into()));
                    break;
                }
            };
            if let Err(e) = binary::parse_copy(messages.iter().map(|m| &m[..]), &mut visit) {
                outcome = Err(e);
                break 'slices;
            }
        }
        drop(receivers);
        for fetcher in fetchers {
            let _ = fetcher.await;
        }
        outcome
    }

    pub async fn last_position(&self) -> Result<Position, StoreError> {
        let row = sqlx::query(include_str!("postgres/last_position.sql"))
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>(0)?)
    }

    pub async fn save_snapshot(&self, name: &str, snapshot: &Snapshot) -> Result<(), StoreError> {
        sqlx::query(include_str!("postgres/save_snapshot.sql"))
            .bind(name)
            .bind(snapshot.position)
            .bind(snapshot.schema_version as i32)
            .bind(&snapshot.state)
            .bind(snapshot.taken_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn load_snapshot(&self, name: &str) -> Result<Option<Snapshot>, StoreError> {
        let row = sqlx::query(include_str!("postgres/load_snapshot.sql"))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(Snapshot {
            position: row.try_get(0)?,
            schema_version: row.try_get::<i32, _>(1)? as u32,
            state: row.try_get(2)?,
            taken_at: row.try_get(3)?,
        }))
    }

    pub async fn read_outbox(&self, after: OutboxPosition, limit: usize) -> Result<Vec<OutboxRecord>, StoreError> {
        let rows = sqlx::query(include_str!("postgres/read_outbox.sql"))
            .bind(after.tx)
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
                        created_at: r.try_get(8)?,
                    },
                })
            })
            .collect()
    }

    pub async fn outbox_rows_after(&self, after: OutboxPosition) -> Result<u64, StoreError> {
        let row = sqlx::query(include_str!("postgres/outbox_rows_after.sql"))
            .bind(after.tx)
            .bind(after.id)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>(0)?.max(0) as u64)
    }

    pub async fn prune_outbox(&self, upto: OutboxPosition, older_than: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = sqlx::query(include_str!("postgres/prune_outbox.sql"))
            .bind(upto.tx)
            .bind(upto.id)
            .bind(older_than)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    pub async fn relay_cursor(&self, relay: &str) -> Result<OutboxPosition, StoreError> {
        let row = sqlx::query(include_str!("postgres/relay_cursor.sql"))
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
        sqlx::query(include_str!("postgres/save_relay_cursor.sql"))
            .bind(relay)
            .bind(position.tx)
            .bind(position.id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn inbox_checkpoints(&self, consumer: &str) -> Result<HashMap<String, OutboxPosition>, StoreError> {
        let rows = sqlx::query(include_str!("postgres/inbox_checkpoints.sql"))
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
        let rows = sqlx::query(include_str!("postgres/inbox_checkpoint_details.sql"))
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
        let rows = sqlx::query(include_str!("postgres/inbox_seen.sql"))
            .bind(consumer)
            .bind(message_ids)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    pub async fn command_replies(&self, keys: &[String]) -> Result<HashMap<String, Vec<u8>>, StoreError> {
        let rows = sqlx::query(include_str!("postgres/command_replies.sql"))
            .bind(keys)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    pub async fn parked(&self, consumer: &str, after: i64, limit: usize) -> Result<Vec<Parked>, StoreError> {
        let rows = sqlx::query(include_str!("postgres/parked.sql"))
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
                    parked_at: r.try_get(3)?,
                })
            })
            .collect()
    }

    pub async fn load_projection(&self, name: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let rows = sqlx::query(include_str!("postgres/load_projection.sql"))
            .bind(name)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    pub async fn prune_idempotency(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let replies = sqlx::query(include_str!("postgres/prune_replies.sql"))
            .bind(before)
            .execute(&self.pool)
            .await?;
        let messages = sqlx::query(include_str!("postgres/prune_inbox_messages.sql"))
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(replies.rows_affected() + messages.rows_affected())
    }
}

/// Fetches the COPY output of each slice, whole, and hands it over in order. Each COPY is
/// read to its end before the next starts, so the connection stays usable.
async fn fetch_slices(
    pool: PgPool,
    slices: Vec<(Position, Position)>,
    out: tokio::sync::mpsc::Sender<Result<Vec<bytes::Bytes>, StoreError>>,
) {
    use futures::TryStreamExt;

    let mut conn = match pool.acquire().await {
        Ok(conn) => conn,
        Err(e) => {
            let _ = out.send(Err(e.into())).await;
            return;
        }
    };
    for (after, upto) in slices {
        let statement = include_str!("postgres/scan_events.sql")
            .replace("{after}", &after.to_string())
            .replace("{upto}", &upto.to_string());
        let fetched: Result<Vec<bytes::Bytes>, sqlx::Error> = async {
            let rows = conn.copy_out_raw(&statement).await?;
            rows.try_collect().await
        }
        .await;
        let failed = fetched.is_err();
        if out.send(fetched.map_err(StoreError::from)).await.is_err() || failed {
            if failed {
                conn.detach();
            }
            return;
        }
    }
}

fn is_unique_violation(error: &sqlx::Error, constraint: &str) -> bool {
    match error {
        sqlx::Error::Database(db) => db.is_unique_violation() && db.constraint() == Some(constraint),
        _ => false,
    }
}

fn raw_event(row: &PgRow) -> Result<RawEvent, StoreError> {
    Ok(RawEvent {
        position: row.try_get(0)?,
        meta: EventMeta {
            stream_id: row.try_get(1)?,
            version: row.try_get::<i64, _>(2)? as u64,
            event_id: row.try_get(3)?,
            recorded_at: row.try_get(7)?,
            correlation_id: row.try_get(8)?,
            causation_id: row.try_get(9)?,
            traceparent: row.try_get(10)?,
        },
        event_type: row.try_get(4)?,
        schema_version: row.try_get::<i16, _>(5)? as u16,
        payload: row.try_get(6)?,
    })
}
