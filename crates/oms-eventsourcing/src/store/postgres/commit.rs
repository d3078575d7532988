//! The PostgreSQL write path: one [`CommitBatch`] as one statement (`commit.sql`).
//!
//! The statement takes every part of the batch as arrays, one per column, and `UNNEST`s
//! them; so each part here becomes its columns, and the columns are bound in the order of
//! the statement's parameters. A refused statement writes nothing, and is then named: which
//! stream version, message or idempotency key was taken.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::Postgres;
use sqlx::Row;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use uuid::Uuid;

use super::{PostgresStore, is_unique_violation};
use crate::store::{CommitBatch, CommitError, Committed, MessageMark, NewEvent, encode_headers};

/// `commit.sql` with (some of) its parameters bound.
type CommitQuery = Query<'static, Postgres, PgArguments>;

impl PostgresStore {
    pub async fn commit(&self, batch: &CommitBatch) -> Result<Committed, CommitError> {
        let events = EventColumns::of(&batch.events);
        let outbox = OutboxColumns::of(batch);
        let (checkpoints, messages) = batch.split_inbox();
        let inbox = InboxColumns::of(&checkpoints, &messages);
        let replies = ReplyColumns::of(batch);
        let parked = ParkColumns::of(batch);
        let projections = ProjectionColumns::of(batch);

        // $1-$33 in the order of the batch's parts; $34-$35 (the checkpoints' fingerprints)
        // came later and sit at the end.
        let query = sqlx::query(include_str!("commit.sql"));
        let query = events.bind(query);
        let query = outbox.bind(query);
        let query = inbox.bind_positions(query).bind(batch.recorded_at);
        let query = replies.bind(query);
        let query = parked.bind(query).bind(&batch.unparked);
        let query = projections.bind(query);
        let query = inbox.bind_fingerprints(query);

        match self.run_on_committer(query).await {
            Ok(row) => Ok(Committed {
                last_position: row.try_get::<Option<i64>, _>(0)?,
            }),
            Err(e) if is_unique_violation(&e, "events_stream_version") => {
                Err(self.name_conflict(batch, &events.streams, &events.versions).await)
            }
            Err(e) if is_unique_violation(&e, "inbox_messages_pkey") => {
                Err(self.name_duplicate_message(&messages).await)
            }
            Err(e) if is_unique_violation(&e, "command_replies_pkey") => {
                Err(self.name_duplicate_key(&replies.keys).await)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Runs the commit on the connection kept for commits (taking one from the pool if
    /// there is none), and lets it go if it may be broken.
    async fn run_on_committer(&self, query: CommitQuery) -> Result<PgRow, sqlx::Error> {
        let mut committer = self.committer.lock().await;
        let conn = match committer.as_mut() {
            Some(conn) => conn,
            None => committer.insert(self.pool.acquire().await?),
        };
        let written = query.fetch_one(&mut **conn).await;
        if matches!(&written, Err(e) if !matches!(e, sqlx::Error::Database(_))) {
            // The connection may be broken: take a fresh one for the next commit.
            *committer = None;
        }
        written
    }

    async fn name_conflict(&self, batch: &CommitBatch, streams: &[&str], versions: &[i64]) -> CommitError {
        let taken: Result<Vec<PgRow>, _> = sqlx::query(include_str!("taken_versions.sql"))
            .bind(streams)
            .bind(versions)
            .fetch_all(&self.pool)
            .await;
        let taken: HashSet<(String, i64)> = match taken {
            Ok(rows) => rows
                .iter()
                .filter_map(|r| Some((r.try_get::<String, _>(0).ok()?, r.try_get::<i64, _>(1).ok()?)))
                .collect(),
            Err(e) => return e.into(),
        };
        match first_taken(batch, &taken) {
            Some(e) => CommitError::Conflict {
                stream_id: e.meta.stream_id.clone(),
                version: e.meta.version,
            },
            // The competing transaction rolled back in between: still a conflict of this batch.
            None => CommitError::Conflict {
                stream_id: streams
                    .first()
                    .map(std::string::ToString::to_string)
                    .unwrap_or_default(),
                version: versions.first().copied().unwrap_or_default() as u64,
            },
        }
    }

    async fn name_duplicate_message(&self, messages: &[MessageMark<'_>]) -> CommitError {
        for (consumer, id) in messages {
            match self.inbox_seen(consumer, &[id.to_string()]).await {
                Ok(seen) if !seen.is_empty() => {
                    return CommitError::DuplicateMessage {
                        consumer: consumer.to_string(),
                        message_id: id.to_string(),
                    };
                }
                Ok(_) => {}
                Err(e) => return e.into(),
            }
        }
        let (consumer, id) = messages.first().copied().unwrap_or_default();
        CommitError::DuplicateMessage {
            consumer: consumer.to_owned(),
            message_id: id.to_owned(),
        }
    }

    /// The idempotency key of the batch that was used before (all of them, joined, if the
    /// store cannot say which).
    async fn name_duplicate_key(&self, reply_keys: &[&str]) -> CommitError {
        let owned: Vec<String> = reply_keys.iter().map(std::string::ToString::to_string).collect();
        let key = match self.command_replies(&owned).await {
            Ok(found) => owned.into_iter().find(|k| found.contains_key(k)),
            Err(_) => None,
        };
        CommitError::DuplicateKey {
            key: key.unwrap_or_else(|| reply_keys.join(",")),
        }
    }
}

/// Naming the version that conflicted, once the batch as a whole was refused.
fn first_taken<'a>(batch: &'a CommitBatch, taken: &HashSet<(String, i64)>) -> Option<&'a NewEvent> {
    batch
        .events
        .iter()
        .find(|e| taken.contains(&(e.meta.stream_id.clone(), e.meta.version as i64)))
}

/// The events to append ($1-$10).
struct EventColumns<'a> {
    streams: Vec<&'a str>,
    versions: Vec<i64>,
    ids: Vec<Uuid>,
    types: Vec<&'a str>,
    schemas: Vec<i16>,
    payloads: Vec<&'a [u8]>,
    times: Vec<DateTime<Utc>>,
    correlations: Vec<Option<Uuid>>,
    causations: Vec<Option<Uuid>>,
    traces: Vec<Option<&'a str>>,
}

impl<'a> EventColumns<'a> {
    fn of(events: &'a [NewEvent]) -> Self {
        let n = events.len();
        let mut columns = Self {
            streams: Vec::with_capacity(n),
            versions: Vec::with_capacity(n),
            ids: Vec::with_capacity(n),
            types: Vec::with_capacity(n),
            schemas: Vec::with_capacity(n),
            payloads: Vec::with_capacity(n),
            times: Vec::with_capacity(n),
            correlations: Vec::with_capacity(n),
            causations: Vec::with_capacity(n),
            traces: Vec::with_capacity(n),
        };
        for e in events {
            columns.streams.push(e.meta.stream_id.as_str());
            columns.versions.push(e.meta.version as i64);
            columns.ids.push(e.meta.event_id);
            columns.types.push(e.event_type);
            columns.schemas.push(e.schema_version as i16);
            columns.payloads.push(e.payload.as_slice());
            columns.times.push(e.meta.recorded_at);
            columns.correlations.push(e.meta.correlation_id);
            columns.causations.push(e.meta.causation_id);
            columns.traces.push(e.meta.traceparent.as_deref());
        }
        columns
    }

    fn bind(&self, query: CommitQuery) -> CommitQuery {
        query
            .bind(&self.streams)
            .bind(&self.versions)
            .bind(&self.ids)
            .bind(&self.types)
            .bind(&self.schemas)
            .bind(&self.payloads)
            .bind(&self.times)
            .bind(&self.correlations)
            .bind(&self.causations)
            .bind(&self.traces)
    }
}

/// The outbox messages ($11-$17).
struct OutboxColumns<'a> {
    message_ids: Vec<Uuid>,
    topics: Vec<&'a str>,
    keys: Vec<&'a str>,
    message_types: Vec<&'a str>,
    payloads: Vec<&'a [u8]>,
    headers: Vec<Option<String>>,
    created: Vec<DateTime<Utc>>,
}

impl<'a> OutboxColumns<'a> {
    fn of(batch: &'a CommitBatch) -> Self {
        let outbox = &batch.outbox;
        Self {
            message_ids: outbox.iter().map(|m| m.message_id).collect(),
            topics: outbox.iter().map(|m| m.topic.as_str()).collect(),
            keys: outbox.iter().map(|m| m.key.as_str()).collect(),
            message_types: outbox.iter().map(|m| m.message_type.as_str()).collect(),
            payloads: outbox.iter().map(|m| m.payload.as_slice()).collect(),
            headers: outbox.iter().map(|m| encode_headers(&m.headers)).collect(),
            created: outbox.iter().map(|m| m.created_at).collect(),
        }
    }

    fn bind(&self, query: CommitQuery) -> CommitQuery {
        query
            .bind(&self.message_ids)
            .bind(&self.topics)
            .bind(&self.keys)
            .bind(&self.message_types)
            .bind(&self.payloads)
            .bind(&self.headers)
            .bind(&self.created)
    }
}

/// The inbox marks, as reduced by [`CommitBatch::split_inbox`]: checkpoints ($18-$21, with
/// their fingerprints in $34-$35) and applied message ids ($22-$23).
struct InboxColumns<'a> {
    checkpoint_consumers: Vec<&'a str>,
    checkpoint_sources: Vec<&'a str>,
    checkpoint_txs: Vec<i64>,
    checkpoint_ids: Vec<i64>,
    checkpoint_digests: Vec<Option<i64>>,
    checkpoint_times: Vec<Option<i64>>,
    message_consumers: Vec<&'a str>,
    applied_ids: Vec<&'a str>,
}

impl<'a> InboxColumns<'a> {
    fn of(checkpoints: &[crate::store::CheckpointMark<'a>], messages: &[MessageMark<'a>]) -> Self {
        Self {
            checkpoint_consumers: checkpoints.iter().map(|c| c.0).collect(),
            checkpoint_sources: checkpoints.iter().map(|c| c.1).collect(),
            checkpoint_txs: checkpoints.iter().map(|c| c.2.tx).collect(),
            checkpoint_ids: checkpoints.iter().map(|c| c.2.id).collect(),
            checkpoint_digests: checkpoints.iter().map(|c| c.3.map(|f| f.digest)).collect(),
            checkpoint_times: checkpoints.iter().map(|c| c.3.and_then(|f| f.timestamp_ms)).collect(),
            message_consumers: messages.iter().map(|m| m.0).collect(),
            applied_ids: messages.iter().map(|m| m.1).collect(),
        }
    }

    fn bind_positions(&self, query: CommitQuery) -> CommitQuery {
        query
            .bind(&self.checkpoint_consumers)
            .bind(&self.checkpoint_sources)
            .bind(&self.checkpoint_txs)
            .bind(&self.checkpoint_ids)
            .bind(&self.message_consumers)
            .bind(&self.applied_ids)
    }

    fn bind_fingerprints(&self, query: CommitQuery) -> CommitQuery {
        query.bind(&self.checkpoint_digests).bind(&self.checkpoint_times)
    }
}

/// The first replies to idempotent commands ($25-$26).
struct ReplyColumns<'a> {
    keys: Vec<&'a str>,
    replies: Vec<&'a [u8]>,
}

impl<'a> ReplyColumns<'a> {
    fn of(batch: &'a CommitBatch) -> Self {
        Self {
            keys: batch.replies.iter().map(|r| r.0.as_str()).collect(),
            replies: batch.replies.iter().map(|r| r.1.as_slice()).collect(),
        }
    }

    fn bind(&self, query: CommitQuery) -> CommitQuery {
        query.bind(&self.keys).bind(&self.replies)
    }
}

/// The messages parked by the batch ($27-$29; those it unparks are $30).
struct ParkColumns<'a> {
    consumers: Vec<&'a str>,
    messages: Vec<&'a [u8]>,
    reasons: Vec<&'a str>,
}

impl<'a> ParkColumns<'a> {
    fn of(batch: &'a CommitBatch) -> Self {
        Self {
            consumers: batch.parked.iter().map(|p| p.consumer.as_str()).collect(),
            messages: batch.parked.iter().map(|p| p.message.as_slice()).collect(),
            reasons: batch.parked.iter().map(|p| p.reason.as_str()).collect(),
        }
    }

    fn bind(&self, query: CommitQuery) -> CommitQuery {
        query.bind(&self.consumers).bind(&self.messages).bind(&self.reasons)
    }
}

/// The read-model rows, the last one per name and key ($31-$33).
struct ProjectionColumns<'a> {
    names: Vec<&'a str>,
    keys: Vec<&'a str>,
    values: Vec<&'a [u8]>,
}

impl<'a> ProjectionColumns<'a> {
    fn of(batch: &'a CommitBatch) -> Self {
        let projections = batch.last_projections();
        Self {
            names: projections.iter().map(|p| p.name.as_str()).collect(),
            keys: projections.iter().map(|p| p.key.as_str()).collect(),
            values: projections.iter().map(|p| p.value.as_slice()).collect(),
        }
    }

    fn bind(&self, query: CommitQuery) -> CommitQuery {
        query.bind(&self.names).bind(&self.keys).bind(&self.values)
    }
}
