//! Event log benchmark.
//!
//! 1. Appends: commands sent by many concurrent callers through the group-committing
//!    [`Writer`] (decide, encode, apply, one transaction per batch) against the same rows
//!    written by a raw batched `INSERT … SELECT FROM UNNEST` into the same table of the same
//!    PostgreSQL, one transaction per batch of the same size. The ratio is the figure.
//! 2. Replay: one million events rebuilt into an in-memory state, from PostgreSQL and
//!    from SQLite.
//!
//! Ends with `RESULT eventlog_append_ratio_vs_raw <ratio>` and
//! `RESULT eventlog_replay_events_per_s <n>` (PostgreSQL, the production backend).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use oms_eventsourcing::replay::{ReplayOptions, rebuild};
use oms_eventsourcing::store::NewEvent;
use oms_eventsourcing::testing::{TestBackend, TestStore};
use oms_eventsourcing::{
    CommandError, CommandMeta, CommitBatch, Decision, DomainEvent, EventHeader, EventMeta, EventStore, Model,
    SystemClock, Writer, WriterConfig, event_type_names,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const APPENDS: usize = 204_800;
const BATCH: usize = 512;
const CALLERS: usize = 8;
const WINDOW: usize = 256;
const REPLAY_EVENTS: usize = 1_000_000;
const STREAMS: usize = 10_000;

/// A stock movement, about the size of the services' own events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum StockEvent {
    Moved {
        sku: String,
        location: String,
        delta: i64,
        reason: String,
        movement_id: Uuid,
    },
}

impl DomainEvent for StockEvent {
    event_type_names!(StockEvent { Moved });
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Stock {
    on_hand: HashMap<String, i64>,
}

impl Model for Stock {
    type Event = StockEvent;
    const NAME: &'static str = "bench-stock";
    const SNAPSHOT_VERSION: u32 = 1;

    fn apply(&mut self, header: &EventHeader<'_>, event: &StockEvent) {
        let StockEvent::Moved { delta, .. } = event;
        match self.on_hand.get_mut(header.stream_id) {
            Some(units) => *units += delta,
            None => {
                self.on_hand.insert(header.stream_id.to_owned(), *delta);
            }
        }
    }
}

fn movement(i: usize) -> (String, StockEvent) {
    let sku = format!("SKU-{:06}", i % STREAMS);
    let location = format!("STORE-{:03}", (i % STREAMS) % 97);
    let stream = format!("position-{sku}@{location}");
    (
        stream,
        StockEvent::Moved {
            sku,
            location,
            delta: 3,
            reason: "receipt".into(),
            movement_id: Uuid::now_v7(),
        },
    )
}

async fn writer_appends(store: &EventStore) -> f64 {
    let config = WriterConfig {
        max_batch: BATCH,
        snapshot_every: 0,
        ..WriterConfig::default()
    };
    assert_eq!(APPENDS % CALLERS, 0);
    let (writer, _) = Writer::<Stock>::start(store.clone(), Arc::new(SystemClock), config)
        .await
        .expect("writer");
    // Callers as a busy service has them: many commands at once, each caller keeping a
    // window of commands in flight and sending the next as soon as one is answered.
    let per_caller = APPENDS / CALLERS;
    let work: Vec<Vec<(String, StockEvent)>> = (0..CALLERS)
        .map(|c| (0..per_caller).map(|i| movement(c * per_caller + i)).collect())
        .collect();
    let started = Instant::now();
    let mut callers: tokio::task::JoinSet<()> = tokio::task::JoinSet::new();
    for commands in work {
        let writer = writer.clone();
        callers.spawn(async move {
            let mut window = FuturesUnordered::new();
            let done = |appended: Option<Result<(), CommandError<Infallible>>>| {
                appended.expect("a command in flight").expect("appended");
            };
            for (stream, event) in commands {
                if window.len() >= WINDOW {
                    done(window.next().await);
                }
                let writer = writer.clone();
                window.push(async move {
                    let appended: Result<(), CommandError<Infallible>> = writer
                        .execute(CommandMeta::new(), move |_: &Stock, _| {
                            Ok(Decision::reply(()).event(stream, event))
                        })
                        .await;
                    appended
                });
            }
            while !window.is_empty() {
                done(window.next().await);
            }
        });
    }
    while let Some(done) = callers.join_next().await {
        done.expect("caller");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let stats = writer.stats();
    eprintln!(
        "  writer: {} batches, {:.0} commands per batch, {:.1} ms per commit, {:.0}% of the time committing",
        stats.batches,
        stats.commands as f64 / stats.batches.max(1) as f64,
        stats.commit_time.as_secs_f64() * 1e3 / stats.batches.max(1) as f64,
        stats.commit_time.as_secs_f64() / elapsed * 100.0
    );
    writer.shutdown().await;
    APPENDS as f64 / elapsed
}

fn raw_rows(count: usize) -> Vec<NewEvent> {
    let mut versions: HashMap<String, u64> = HashMap::new();
    (0..count)
        .map(|i| {
            let (stream, event) = movement(i);
            let version = versions.entry(stream.clone()).or_default();
            *version += 1;
            let meta = EventMeta {
                event_id: Uuid::now_v7(),
                stream_id: stream,
                version: *version,
                recorded_at: Utc::now(),
                correlation_id: None,
                causation_id: None,
                traceparent: None,
            };
            NewEvent::from_event(meta, &event).expect("a benchmark event encodes")
        })
        .collect()
}

/// The same rows, batched the same way, each batch one plain INSERT statement.
async fn raw_inserts(url: &str, schema: &str, rows: &[NewEvent]) -> f64 {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
    sqlx::query(sqlx::AssertSqlSafe(format!("SET search_path TO \"{schema}\"")))
        .execute(&mut conn)
        .await
        .expect("path");
    let started = Instant::now();
    for chunk in rows.chunks(BATCH) {
        let streams: Vec<&str> = chunk.iter().map(|e| e.meta.stream_id.as_str()).collect();
        let versions: Vec<i64> = chunk.iter().map(|e| e.meta.version as i64).collect();
        let ids: Vec<Uuid> = chunk.iter().map(|e| e.meta.event_id).collect();
        let types: Vec<&str> = chunk.iter().map(|e| e.event_type).collect();
        let schemas: Vec<i16> = chunk.iter().map(|e| e.schema_version as i16).collect();
        let payloads: Vec<&[u8]> = chunk.iter().map(|e| e.payload.as_slice()).collect();
        let times: Vec<chrono::DateTime<Utc>> = chunk.iter().map(|e| e.meta.recorded_at).collect();
        let nones: Vec<Option<Uuid>> = vec![None; chunk.len()];
        let no_trace: Vec<Option<&str>> = vec![None; chunk.len()];
        // One INSERT is its own transaction: no BEGIN/COMMIT round trips.
        sqlx::query(
            "INSERT INTO events (stream_id, version, event_id, event_type, schema_version, payload, \
             recorded_at, correlation_id, causation_id, traceparent) \
             SELECT * FROM UNNEST($1::text[], $2::int8[], $3::uuid[], $4::text[], $5::int2[], $6::bytea[], \
             $7::timestamptz[], $8::uuid[], $9::uuid[], $10::text[])",
        )
        .bind(&streams)
        .bind(&versions)
        .bind(&ids)
        .bind(&types)
        .bind(&schemas)
        .bind(&payloads)
        .bind(&times)
        .bind(&nones)
        .bind(&nones)
        .bind(&no_trace)
        .execute(&mut conn)
        .await
        .expect("raw insert");
    }
    rows.len() as f64 / started.elapsed().as_secs_f64()
}

async fn fill(store: &EventStore, count: usize) {
    let rows = raw_rows(count);
    let started = Instant::now();
    for (i, chunk) in rows.chunks(10_000).enumerate() {
        let batch = CommitBatch {
            events: chunk.to_vec(),
            recorded_at: Utc::now(),
            ..CommitBatch::default()
        };
        store.commit(&batch).await.expect("fill");
        if i % 20 == 19 {
            eprintln!("  … {} events written", (i + 1) * 10_000);
        }
    }
    eprintln!("  {} events written in {:.1}s", count, started.elapsed().as_secs_f64());
}

/// Median of three full replays, after one that brings the table into the page cache
/// (as on a service restart, where the log was just written).
async fn replay(store: &EventStore) -> f64 {
    let options = ReplayOptions {
        use_snapshot: false,
        ..ReplayOptions::default()
    };
    let _ = rebuild::<Stock>(store, options, |_| {}).await.expect("replay");
    let mut rates = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let (state, report) = rebuild::<Stock>(store, options, |_| {}).await.expect("replay");
        let elapsed = started.elapsed().as_secs_f64();
        assert_eq!(report.events_applied as usize, REPLAY_EVENTS);
        assert_eq!(state.state.on_hand.len(), STREAMS);
        rates.push(REPLAY_EVENTS as f64 / elapsed);
    }
    rates.sort_by(f64::total_cmp);
    eprintln!(
        "  replays: {:.0} / {:.0} / {:.0} events/s",
        rates[0], rates[1], rates[2]
    );
    rates[1]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!("event log benchmark: {APPENDS} appends in batches of up to {BATCH}, replay of {REPLAY_EVENTS} events");
    let only = std::env::var("EVENTLOG_BENCH_ONLY").unwrap_or_default();
    if only == "replay" {
        let pg = TestStore::new(TestBackend::Postgres).await;
        fill(&pg.store, REPLAY_EVENTS).await;
        println!("replay events/s   PostgreSQL: {:>10.0}", replay(&pg.store).await);
        return;
    }

    let writer_store = TestStore::new(TestBackend::Postgres).await;
    let group_commit = writer_appends(&writer_store.store).await;
    drop(writer_store);

    let raw_store = TestStore::new(TestBackend::Postgres).await;
    let oms_eventsourcing::StoreConfig::Postgres { url, schema, .. } = raw_store.config.clone() else {
        unreachable!()
    };
    let rows = raw_rows(APPENDS);
    let raw = raw_inserts(&url, &schema, &rows).await;
    drop(raw_store);
    let store_only = TestStore::new(TestBackend::Postgres).await;
    let started = Instant::now();
    for chunk in rows.chunks(BATCH) {
        let batch = CommitBatch {
            events: chunk.to_vec(),
            recorded_at: Utc::now(),
            ..CommitBatch::default()
        };
        store_only.store.commit(&batch).await.expect("store commit");
    }
    let store_rate = rows.len() as f64 / started.elapsed().as_secs_f64();
    println!("appends/s   store.commit, same batches:      {store_rate:>10.0}");
    drop(store_only);
    let ratio = group_commit / raw;
    println!("appends/s   group commit through the writer: {group_commit:>10.0}");
    println!("appends/s   raw batched INSERT, same rows:    {raw:>10.0}");
    println!("ratio (writer / raw):                         {ratio:>10.2}   (target >= 0.8)");

    if only == "appends" {
        return;
    }
    let sqlite_store = TestStore::new(TestBackend::Sqlite).await;
    let sqlite_appends = writer_appends(&sqlite_store.store).await;
    println!("appends/s   group commit on SQLite:            {sqlite_appends:>10.0}");

    eprintln!("filling PostgreSQL with {REPLAY_EVENTS} events for replay");
    let pg = TestStore::new(TestBackend::Postgres).await;
    fill(&pg.store, REPLAY_EVENTS).await;
    let pg_replay = replay(&pg.store).await;
    drop(pg);
    eprintln!("filling SQLite with {REPLAY_EVENTS} events for replay");
    let sqlite = TestStore::new(TestBackend::Sqlite).await;
    fill(&sqlite.store, REPLAY_EVENTS).await;
    let sqlite_replay = replay(&sqlite.store).await;
    println!("replay events/s   PostgreSQL: {pg_replay:>10.0}   (target >= 1,000,000)");
    println!("replay events/s   SQLite:     {sqlite_replay:>10.0}");

    println!("RESULT eventlog_append_ratio_vs_raw {ratio:.3}");
    println!("RESULT eventlog_appends_per_s {group_commit:.0}");
    println!("RESULT eventlog_replay_events_per_s {pg_replay:.0}");
    println!("RESULT eventlog_replay_sqlite_events_per_s {sqlite_replay:.0}");
}
