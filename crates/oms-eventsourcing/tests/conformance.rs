//! The event log conformance suite: every scenario runs against PostgreSQL and SQLite.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use oms_eventsourcing::clock::SharedClock;
use oms_eventsourcing::replay::{ReplayOptions, rebuild};
use oms_eventsourcing::store::{NewEvent, OutboxPosition};
use oms_eventsourcing::testing::{TestBackend, TestStore};
use oms_eventsourcing::writer::Context;
use oms_eventsourcing::{
    CommandError, CommandMeta, CommitBatch, CommitError, Decision, DomainEvent, EventHeader, EventMeta, EventStore,
    InboxMark, ManualClock, Model, OutboxMessage, StoreError, Writer, WriterConfig, event_type_names,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

// ---------------------------------------------------------------------------------------
// A small model to drive the log: shelves of units that can be received and picked.

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum ShelfEvent {
    Received { shelf: String, units: u64 },
    Picked { shelf: String, units: u64 },
}

impl DomainEvent for ShelfEvent {
    event_type_names!(ShelfEvent { Received, Picked });
}

#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
struct Shelves {
    units: HashMap<String, u64>,
    picks: u64,
    last_recorded: Option<DateTime<Utc>>,
}

impl Model for Shelves {
    type Event = ShelfEvent;
    const NAME: &'static str = "shelves";
    const SNAPSHOT_VERSION: u32 = 1;

    fn apply(&mut self, header: &EventHeader<'_>, event: &ShelfEvent) {
        match event {
            ShelfEvent::Received { shelf, units } => *self.units.entry(shelf.clone()).or_default() += units,
            ShelfEvent::Picked { shelf, units } => {
                *self.units.entry(shelf.clone()).or_default() -= units;
                self.picks += 1;
            }
        }
        self.last_recorded = Some(header.recorded_at);
    }
}

#[derive(Debug, PartialEq, thiserror::Error)]
#[error("shelf {shelf} holds only {available} units")]
struct NotEnough {
    shelf: String,
    available: u64,
}

fn stream(shelf: &str) -> String {
    format!("shelf-{shelf}")
}

fn announcement(shelf: &str, what: &str, at: DateTime<Utc>) -> OutboxMessage {
    OutboxMessage {
        message_id: Uuid::now_v7(),
        topic: "test.shelves".into(),
        key: shelf.into(),
        message_type: what.into(),
        payload: what.as_bytes().to_vec(),
        headers: vec![(
            "traceparent".into(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
        )],
        created_at: at,
    }
}

async fn receive(
    writer: &Writer<Shelves>,
    meta: CommandMeta,
    shelf: &str,
    units: u64,
) -> Result<u64, CommandError<NotEnough>> {
    let shelf = shelf.to_owned();
    writer
        .execute(meta, move |state: &Shelves, ctx: &Context<'_>| {
            let after = state.units.get(&shelf).copied().unwrap_or(0) + units;
            Ok(Decision::reply(after)
                .event(
                    stream(&shelf),
                    ShelfEvent::Received {
                        shelf: shelf.clone(),
                        units,
                    },
                )
                .publish(announcement(&shelf, "Received", ctx.now)))
        })
        .await
}

async fn pick(
    writer: &Writer<Shelves>,
    meta: CommandMeta,
    shelf: &str,
    units: u64,
) -> Result<u64, CommandError<NotEnough>> {
    let shelf = shelf.to_owned();
    writer
        .execute(meta, move |state: &Shelves, ctx: &Context<'_>| {
            let available = state.units.get(&shelf).copied().unwrap_or(0);
            if units > available {
                return Err(NotEnough { shelf, available });
            }
            Ok(Decision::reply(available - units)
                .event(
                    stream(&shelf),
                    ShelfEvent::Picked {
                        shelf: shelf.clone(),
                        units,
                    },
                )
                .publish(announcement(&shelf, "Picked", ctx.now)))
        })
        .await
}

fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T08:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

async fn start_writer(store: &EventStore, clock: &ManualClock, config: WriterConfig) -> Writer<Shelves> {
    let clock: SharedClock = Arc::new(clock.clone());
    Writer::<Shelves>::start(store.clone(), clock, config)
        .await
        .expect("writer starts")
        .0
}

fn event_at(stream_id: &str, version: u64, event: &ShelfEvent) -> NewEvent {
    NewEvent::from_event(
        EventMeta {
            event_id: Uuid::now_v7(),
            stream_id: stream_id.into(),
            version,
            recorded_at: start_time(),
            correlation_id: None,
            causation_id: None,
            traceparent: None,
        },
        event,
    )
    .expect("a shelf event encodes")
}

fn batch_of(events: Vec<NewEvent>) -> CommitBatch {
    CommitBatch {
        events,
        recorded_at: start_time(),
        ..CommitBatch::default()
    }
}

// ---------------------------------------------------------------------------------------
// The scenarios.

/// Many appenders race for the same versions of one stream: each version has exactly one
/// winner, and every loser is told which stream and version it lost.
async fn concurrent_appends_have_one_winner_per_version(t: TestStore) {
    let racers = 8;
    for version in 1..=5u64 {
        let mut tasks = Vec::new();
        for racer in 0..racers {
            let store = t.store.clone();
            tasks.push(tokio::spawn(async move {
                let event = ShelfEvent::Received {
                    shelf: "A".into(),
                    units: racer,
                };
                store
                    .commit(&batch_of(vec![event_at("shelf-A", version, &event)]))
                    .await
            }));
        }
        let mut winners = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => winners += 1,
                Err(CommitError::Conflict {
                    stream_id,
                    version: lost,
                }) => {
                    assert_eq!(stream_id, "shelf-A");
                    assert_eq!(lost, version);
                }
                Err(other) => panic!("unexpected error: {other}"),
            }
        }
        assert_eq!(winners, 1, "version {version} must have exactly one winner");
    }
    let events = t.store.read_stream("shelf-A", 1).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.meta.version).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
}

/// A batch with one conflicting event writes nothing at all.
async fn a_conflicting_batch_writes_nothing(t: TestStore) {
    let received = ShelfEvent::Received {
        shelf: "A".into(),
        units: 1,
    };
    t.store
        .commit(&batch_of(vec![event_at("shelf-A", 1, &received)]))
        .await
        .unwrap();
    let mut batch = batch_of(vec![
        event_at("shelf-B", 1, &received),
        event_at("shelf-A", 1, &received),
    ]);
    batch.outbox.push(announcement("B", "Received", start_time()));
    let err = t.store.commit(&batch).await.unwrap_err();
    assert!(
        matches!(err, CommitError::Conflict { ref stream_id, version: 1 } if stream_id == "shelf-A"),
        "{err}"
    );
    assert!(t.store.read_stream("shelf-B", 1).await.unwrap().is_empty());
    assert!(
        t.store
            .read_outbox(OutboxPosition::default(), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Commands from many callers are written together, each gets its own answer, and a
/// refused command in the middle of a batch does not disturb the others.
async fn group_commit_answers_each_command(t: TestStore) {
    let clock = ManualClock::new(start_time());
    let writer = start_writer(&t.store, &clock, WriterConfig::default()).await;
    receive(&writer, CommandMeta::new(), "A", 100).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..200u64 {
        let writer = writer.clone();
        tasks.push(tokio::spawn(async move {
            if i % 10 == 0 {
                pick(&writer, CommandMeta::new(), "A", 1_000).await
            } else {
                pick(&writer, CommandMeta::new(), "A", if i % 2 == 0 { 1 } else { 0 }).await
            }
        }));
    }
    let (mut done, mut refused) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => done += 1,
            Err(CommandError::Rejected(NotEnough { available, .. })) => {
                assert!(available <= 100);
                refused += 1;
            }
            Err(other) => panic!("unexpected: {other}"),
        }
    }
    assert_eq!((done, refused), (180, 20));
    // 80 picks of one unit, 100 picks of none, 20 refused.
    assert_eq!(writer.read(|s| s.units["A"]), 20);
    assert_eq!(t.store.read_stream("shelf-A", 1).await.unwrap().len(), 1 + 180);
    writer.shutdown().await;
}

/// The state rebuilt from the log has the same digest as the live one.
async fn replay_equals_live(t: TestStore) {
    let clock = ManualClock::new(start_time());
    let writer = start_writer(
        &t.store,
        &clock,
        WriterConfig {
            snapshot_every: 0,
            ..WriterConfig::default()
        },
    )
    .await;
    for i in 0..300u64 {
        let shelf = format!("S{}", i % 17);
        receive(&writer, CommandMeta::new(), &shelf, i % 5 + 1).await.unwrap();
        let _ = pick(&writer, CommandMeta::new(), &shelf, i % 3).await;
        clock.advance(Duration::seconds(1));
    }
    let (position, live) = writer.digest();
    let (rebuilt, report) = rebuild::<Shelves>(&t.store, ReplayOptions::default(), |_| {})
        .await
        .unwrap();
    assert_eq!(rebuilt.position, position);
    assert_eq!(rebuilt.digest(), live);
    assert_eq!(report.snapshot_position, None);
    assert_eq!(writer.read(|s| s.last_recorded), rebuilt.state.last_recorded);
    writer.shutdown().await;
}

/// While commands stream in, the live state is compared with the log only between batches:
/// every digest the writer gives at rest equals a replay up to its position.
async fn the_digest_at_rest_equals_a_replay_up_to_its_position(t: TestStore) {
    let clock = ManualClock::new(start_time());
    let writer = start_writer(&t.store, &clock, WriterConfig::default()).await;
    let mut senders = Vec::new();
    for task in 0..8u64 {
        let writer = writer.clone();
        senders.push(tokio::spawn(async move {
            for i in 0..60u64 {
                let shelf = format!("S{}", (task * 7 + i) % 11);
                receive(&writer, CommandMeta::new(), &shelf, i % 4 + 1).await.unwrap();
            }
        }));
    }
    let mut compared = 0;
    while senders.iter().any(|s| !s.is_finished()) && compared < 10 {
        if let Some((position, live)) = writer.digest_at_rest() {
            let options = ReplayOptions {
                until: Some(position),
                ..ReplayOptions::default()
            };
            let (rebuilt, _) = rebuild::<Shelves>(&t.store, options, |_| {}).await.unwrap();
            assert_eq!(rebuilt.digest(), live, "the state at rest at {position}");
            compared += 1;
        }
        tokio::task::yield_now().await;
    }
    for sender in senders {
        sender.await.unwrap();
    }
    // Every command answered: nothing is in flight.
    let (position, live) = writer.digest_at_rest().expect("a writer with nothing to do is at rest");
    let (rebuilt, _) = rebuild::<Shelves>(&t.store, ReplayOptions::default(), |_| {})
        .await
        .unwrap();
    assert_eq!((rebuilt.position, rebuilt.digest()), (position, live));
    writer.shutdown().await;
}

/// Snapshots are taken every N events; the newest snapshot plus the tail equals a full
/// replay, and a restarted writer starts from it.
async fn snapshot_plus_tail_equals_full_replay(t: TestStore) {
    let clock = ManualClock::new(start_time());
    let config = WriterConfig {
        snapshot_every: 50,
        ..WriterConfig::default()
    };
    let writer = start_writer(&t.store, &clock, config.clone()).await;
    for i in 0..120u64 {
        receive(&writer, CommandMeta::new(), &format!("S{}", i % 7), 2)
            .await
            .unwrap();
    }
    let (_, live) = writer.digest();
    let snapshot = t
        .store
        .load_snapshot("shelves")
        .await
        .unwrap()
        .expect("a snapshot was taken");
    assert!(
        snapshot.position >= 50 && snapshot.position < 120,
        "snapshot at {}",
        snapshot.position
    );

    let full = ReplayOptions {
        use_snapshot: false,
        ..ReplayOptions::default()
    };
    let (from_log, full_report) = rebuild::<Shelves>(&t.store, full, |_| {}).await.unwrap();
    let (from_snapshot, report) = rebuild::<Shelves>(&t.store, ReplayOptions::default(), |_| {})
        .await
        .unwrap();
    assert_eq!(report.snapshot_position, Some(snapshot.position));
    assert_eq!(report.events_applied as i64, 120 - snapshot.position);
    assert_eq!(full_report.events_applied, 120);
    assert_eq!(from_snapshot.digest(), from_log.digest());
    assert_eq!(from_snapshot.digest(), live);

    // Shutting down takes a last snapshot; a restarted writer replays nothing.
    writer.shutdown().await;
    let restarted = Writer::<Shelves>::start(t.reopen().await, Arc::new(clock.clone()), config)
        .await
        .unwrap();
    assert_eq!(restarted.1.events_applied, 0);
    assert_eq!(restarted.0.digest().1, live);
    restarted.0.shutdown().await;
}

/// A snapshot of an older state schema, or one that cannot be read, is ignored.
async fn stale_or_unreadable_snapshots_are_ignored(t: TestStore) {
    let clock = ManualClock::new(start_time());
    let writer = start_writer(
        &t.store,
        &clock,
        WriterConfig {
            snapshot_every: 0,
            ..WriterConfig::default()
        },
    )
    .await;
    for i in 0..20u64 {
        receive(&writer, CommandMeta::new(), &format!("S{i}"), 1).await.unwrap();
    }
    let (_, live) = writer.digest();
    writer.shutdown().await;
    let mut stale = oms_eventsourcing::store::Snapshot {
        position: 10,
        schema_version: 0,
        state: b"an older shape".to_vec(),
        taken_at: start_time(),
    };
    t.store.save_snapshot("shelves", &stale).await.unwrap();
    let (rebuilt, report) = rebuild::<Shelves>(&t.store, ReplayOptions::default(), |_| {})
        .await
        .unwrap();
    assert_eq!(report.snapshot_position, None);
    assert_eq!(rebuilt.digest(), live);

    stale.schema_version = Shelves::SNAPSHOT_VERSION;
    t.store.save_snapshot("shelves", &stale).await.unwrap();
    let (rebuilt, report) = rebuild::<Shelves>(&t.store, ReplayOptions::default(), |_| {})
        .await
        .unwrap();
    assert_eq!(report.snapshot_position, None);
    assert_eq!(rebuilt.digest(), live);
}

/// Events written under an older schema version are upcast when read.
async fn old_event_versions_are_upcast_on_read(t: TestStore) {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    enum Counted {
        /// v1 stored `count`; v2 stores `units`.
        Added { units: u64 },
    }
    impl DomainEvent for Counted {
        event_type_names!(Counted { Added });
        fn schema_version(_: &str) -> u16 {
            2
        }
        fn upcast(_: &str, from: u16, mut json: serde_json::Value) -> Result<serde_json::Value, String> {
            if from != 1 {
                return Err(format!("unknown version {from}"));
            }
            let body = json
                .get_mut("Added")
                .and_then(|b| b.as_object_mut())
                .ok_or("not an Added")?;
            let count = body.remove("count").ok_or("no count")?;
            body.insert("units".into(), count);
            Ok(json)
        }
    }
    let mut old = event_at(
        "counter-1",
        1,
        &ShelfEvent::Received {
            shelf: "x".into(),
            units: 0,
        },
    );
    old.event_type = "Added";
    old.schema_version = 1;
    old.payload = br#"{"Added":{"count":7}}"#.to_vec();
    let current = NewEvent::from_event(
        EventMeta {
            version: 2,
            ..old.meta.clone()
        },
        &Counted::Added { units: 3 },
    )
    .unwrap();
    t.store.commit(&batch_of(vec![old, current])).await.unwrap();
    let events = t.store.load_stream::<Counted>("counter-1").await.unwrap();
    let units: Vec<_> = events.iter().map(|e| e.event.clone()).collect();
    assert_eq!(units, vec![Counted::Added { units: 7 }, Counted::Added { units: 3 }]);
}

/// A row that cannot be decoded is an error naming its stream and version, not a panic.
async fn a_corrupt_or_unknown_event_names_its_stream_and_version(t: TestStore) {
    let good = event_at(
        "shelf-Z",
        1,
        &ShelfEvent::Received {
            shelf: "Z".into(),
            units: 1,
        },
    );
    let mut garbage = event_at(
        "shelf-Z",
        2,
        &ShelfEvent::Received {
            shelf: "Z".into(),
            units: 1,
        },
    );
    garbage.payload = vec![0xff, 0x00, 0x13];
    let mut unknown = event_at(
        "shelf-Y",
        1,
        &ShelfEvent::Received {
            shelf: "Y".into(),
            units: 1,
        },
    );
    unknown.event_type = "Teleported";
    unknown.payload = br#"{"Teleported":{"shelf":"Y"}}"#.to_vec();
    t.store.commit(&batch_of(vec![good, garbage])).await.unwrap();

    let err = t.store.load_stream::<ShelfEvent>("shelf-Z").await.unwrap_err();
    assert!(
        matches!(err, StoreError::Corrupt { ref stream_id, version: 2, .. } if stream_id == "shelf-Z"),
        "{err}"
    );
    let err = rebuild::<Shelves>(&t.store, ReplayOptions::default(), |_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("event 2 of stream shelf-Z"), "{err}");

    let other = TestStore::new(if t.store.backend_name() == "postgres" {
        TestBackend::Postgres
    } else {
        TestBackend::Sqlite
    })
    .await;
    other.store.commit(&batch_of(vec![unknown])).await.unwrap();
    let err = rebuild::<Shelves>(&other.store, ReplayOptions::default(), |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Corrupt { ref stream_id, version: 1, ref reason, .. } if stream_id == "shelf-Y" && reason.contains("Teleported")),
        "{err}"
    );
}

/// Outbox rows are relayed in order, and a transaction that took its row first but
/// commits last is still relayed: the relay never skips it.
async fn the_outbox_never_skips_a_row_committed_late(t: TestStore) {
    let (slow, url_or_path) = open_raw_writer(&t).await;
    // The slow transaction takes the first id and keeps its transaction open.
    let mut slow = slow;
    raw_outbox_insert(&mut slow, &url_or_path).await;

    // A fast transaction commits after it (on SQLite it has to wait for the write lock).
    let store = t.store.clone();
    let fast = tokio::spawn(async move {
        let mut batch = batch_of(vec![]);
        batch.outbox.push(announcement("fast", "Fast", start_time()));
        store.commit(&batch).await
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let mut cursor = OutboxPosition::default();
    let mut relayed = Vec::new();
    for record in t.store.read_outbox(cursor, 100).await.unwrap() {
        cursor = record.position;
        relayed.push(record.message.message_type);
    }
    assert!(
        relayed.is_empty(),
        "nothing may be relayed past the open transaction: {relayed:?}"
    );

    commit_raw(slow).await;
    fast.await.unwrap().unwrap();
    for record in t.store.read_outbox(cursor, 100).await.unwrap() {
        assert!(record.position > cursor);
        cursor = record.position;
        relayed.push(record.message.message_type);
    }
    assert_eq!(relayed, vec!["Slow".to_string(), "Fast".to_string()]);
    assert!(t.store.read_outbox(cursor, 100).await.unwrap().is_empty());

    // The relay's cursor survives a restart.
    t.store.save_relay_cursor("kafka", cursor).await.unwrap();
    assert_eq!(t.reopen().await.relay_cursor("kafka").await.unwrap(), cursor);
}

/// A message applied once is not applied again, whether the inbox knows it by id or by
/// a checkpoint position; the writer answers `AlreadyApplied` and writes nothing.
async fn the_inbox_absorbs_redelivered_messages(t: TestStore) {
    let clock = ManualClock::new(start_time());
    let writer = start_writer(&t.store, &clock, WriterConfig::default()).await;
    let by_id = || InboxMark::Message {
        consumer: "stock-feed".into(),
        message_id: "movement-42".into(),
    };
    receive(&writer, CommandMeta::new().with_inbox(by_id()), "A", 5)
        .await
        .unwrap();
    let again = receive(&writer, CommandMeta::new().with_inbox(by_id()), "A", 5).await;
    assert!(matches!(again, Err(CommandError::AlreadyApplied)), "{again:?}");

    let at = |id| InboxMark::Checkpoint {
        consumer: "orders-feed".into(),
        source: "oms.orders.v1/0".into(),
        position: OutboxPosition { tx: 7, id },
        fingerprint: None,
    };
    receive(&writer, CommandMeta::new().with_inbox(at(10)), "B", 1)
        .await
        .unwrap();
    receive(&writer, CommandMeta::new().with_inbox(at(11)), "B", 1)
        .await
        .unwrap();
    for old in [10, 11, 3] {
        let redelivered = receive(&writer, CommandMeta::new().with_inbox(at(old)), "B", 1).await;
        assert!(
            matches!(redelivered, Err(CommandError::AlreadyApplied)),
            "{old}: {redelivered:?}"
        );
    }
    assert_eq!(writer.read(|s| (s.units["A"], s.units["B"])), (5, 2));
    writer.shutdown().await;

    // After a restart the inbox still knows, from the store.
    let writer = start_writer(&t.reopen().await, &clock, WriterConfig::default()).await;
    assert!(matches!(
        receive(&writer, CommandMeta::new().with_inbox(by_id()), "A", 5).await,
        Err(CommandError::AlreadyApplied)
    ));
    assert!(matches!(
        receive(&writer, CommandMeta::new().with_inbox(at(11)), "B", 1).await,
        Err(CommandError::AlreadyApplied)
    ));
    receive(&writer, CommandMeta::new().with_inbox(at(12)), "B", 1)
        .await
        .unwrap();
    assert_eq!(
        t.store.inbox_checkpoints("orders-feed").await.unwrap()["oms.orders.v1/0"],
        OutboxPosition { tx: 7, id: 12 }
    );
    writer.shutdown().await;

    // At the store level, a second mark of the same message refuses the whole batch.
    let mut batch = batch_of(vec![event_at(
        "shelf-C",
        1,
        &ShelfEvent::Received {
            shelf: "C".into(),
            units: 1,
        },
    )]);
    batch.inbox.push(by_id());
    let err = t.store.commit(&batch).await.unwrap_err();
    assert!(
        matches!(err, CommitError::DuplicateMessage { ref message_id, .. } if message_id == "movement-42"),
        "{err}"
    );
    assert!(t.store.read_stream("shelf-C", 1).await.unwrap().is_empty());
}

/// A command retried with the same idempotency key gets the first answer and acts once,
/// also when the retry reaches a restarted writer.
async fn an_idempotent_retry_returns_the_first_answer(t: TestStore) {
    let clock = ManualClock::new(start_time());
    let writer = start_writer(&t.store, &clock, WriterConfig::default()).await;
    let keyed = || CommandMeta::new().with_idempotency_key("receipt-2026-0001");
    assert_eq!(receive(&writer, keyed(), "A", 5).await.unwrap(), 5);
    receive(&writer, CommandMeta::new(), "A", 1).await.unwrap();
    assert_eq!(
        receive(&writer, keyed(), "A", 5).await.unwrap(),
        5,
        "the first answer, not 11"
    );
    // Concurrent retries in one batch: still one effect.
    let retries: Vec<_> = (0..10)
        .map(|_| {
            let writer = writer.clone();
            tokio::spawn(async move {
                receive(
                    &writer,
                    CommandMeta::new().with_idempotency_key("receipt-2026-0002"),
                    "B",
                    3,
                )
                .await
            })
        })
        .collect();
    for retry in retries {
        assert_eq!(retry.await.unwrap().unwrap(), 3);
    }
    assert_eq!(writer.read(|s| (s.units["A"], s.units["B"])), (6, 3));
    writer.shutdown().await;

    let writer = start_writer(
        &t.reopen().await,
        &clock,
        WriterConfig {
            reply_cache: 0,
            ..WriterConfig::default()
        },
    )
    .await;
    assert_eq!(receive(&writer, keyed(), "A", 5).await.unwrap(), 5);
    assert_eq!(writer.read(|s| s.units["A"]), 6);
    writer.shutdown().await;
}

/// Another writer appends to a stream behind the writer's back: the writer's command
/// conflicts, the writer reloads the state, and the retried command sees the change.
async fn a_foreign_append_is_a_conflict_and_the_state_is_reloaded(t: TestStore) {
    let clock = ManualClock::new(start_time());
    let writer = start_writer(&t.store, &clock, WriterConfig::default()).await;
    receive(&writer, CommandMeta::new(), "A", 5).await.unwrap();
    let foreign = ShelfEvent::Received {
        shelf: "A".into(),
        units: 100,
    };
    t.store
        .commit(&batch_of(vec![event_at("shelf-A", 2, &foreign)]))
        .await
        .unwrap();

    let err = receive(&writer, CommandMeta::new(), "A", 1).await.unwrap_err();
    assert!(
        matches!(err, CommandError::Conflict { ref stream_id, version: 2 } if stream_id == "shelf-A"),
        "{err}"
    );
    assert!(err.is_retryable());
    // The reloaded state holds the foreign event and nothing of the refused batch.
    let (position, live) = writer.digest_at_rest().expect("at rest after the reload");
    let (rebuilt, _) = rebuild::<Shelves>(&t.store, ReplayOptions::default(), |_| {})
        .await
        .unwrap();
    assert_eq!((rebuilt.position, rebuilt.digest()), (position, live));
    assert_eq!(pick(&writer, CommandMeta::new(), "A", 50).await.unwrap(), 55);
    writer.shutdown().await;
}

/// A stream can be read as it was at a past moment.
async fn a_stream_can_be_read_as_of_a_past_time(t: TestStore) {
    let clock = ManualClock::new(start_time());
    let writer = start_writer(&t.store, &clock, WriterConfig::default()).await;
    receive(&writer, CommandMeta::new(), "A", 5).await.unwrap();
    clock.advance(Duration::hours(1));
    pick(&writer, CommandMeta::new(), "A", 2).await.unwrap();
    clock.advance(Duration::hours(1));
    receive(&writer, CommandMeta::new(), "A", 10).await.unwrap();
    writer.shutdown().await;

    let at = start_time() + Duration::minutes(90);
    let then = t.store.read_stream_until("shelf-A", at).await.unwrap();
    assert_eq!(
        then.iter().map(|e| e.meta.version).collect::<BTreeSet<_>>(),
        BTreeSet::from([1, 2])
    );
    let all = t.store.read_stream("shelf-A", 1).await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[1].meta.recorded_at, start_time() + Duration::hours(1));
}

/// Commands sent as a group are decided in order, each seeing the ones before, and are
/// committed together — or, when one of them cannot be, none of them is.
async fn a_group_of_commands_commits_together_or_not_at_all(t: TestStore) {
    let clock = ManualClock::new(start_time());
    let writer = start_writer(&t.store, &clock, WriterConfig::default()).await;
    let add = |shelf: &'static str, units: u64| {
        (CommandMeta::new(), move |state: &Shelves, _: &Context<'_>| {
            let after = state.units.get(shelf).copied().unwrap_or(0) + units;
            Ok::<_, NotEnough>(Decision::reply(after).event(
                stream(shelf),
                ShelfEvent::Received {
                    shelf: shelf.into(),
                    units,
                },
            ))
        })
    };
    let answers = writer.execute_all(vec![add("A", 1), add("A", 2), add("B", 5)]).await;
    let answers: Vec<u64> = answers.into_iter().map(|a| a.unwrap()).collect();
    assert_eq!(answers, vec![1, 3, 5], "each command sees the ones before it");

    // Another writer takes the next version of B: the whole group is refused.
    let foreign = ShelfEvent::Received {
        shelf: "B".into(),
        units: 100,
    };
    t.store
        .commit(&batch_of(vec![event_at("shelf-B", 2, &foreign)]))
        .await
        .unwrap();
    let answers = writer.execute_all(vec![add("A", 10), add("B", 1)]).await;
    assert!(
        answers.iter().all(|a| matches!(a, Err(CommandError::Conflict { .. }))),
        "{answers:?}"
    );
    assert_eq!(
        t.store.read_stream("shelf-A", 1).await.unwrap().len(),
        2,
        "A's command was not kept either"
    );
    assert_eq!(writer.read(|s| (s.units["A"], s.units["B"])), (3, 105));
    writer.shutdown().await;
}

/// A consumer queues its next batch before it hears that the previous one failed: the
/// writer refuses the later messages of that source too, so none of them gets ahead of an
/// earlier message that was not applied.
async fn a_batch_behind_a_failed_one_cannot_get_ahead_of_it(t: TestStore) {
    let clock = ManualClock::new(start_time());
    let writer = start_writer(&t.store, &clock, WriterConfig::default()).await;
    receive(&writer, CommandMeta::new(), "A", 1).await.unwrap();
    let at = |id| InboxMark::Checkpoint {
        consumer: "feed".into(),
        source: "topic/0".into(),
        position: OutboxPosition { tx: 0, id },
        fingerprint: None,
    };
    let add = |shelf: &'static str, id: i64| {
        (
            CommandMeta::new().with_inbox(at(id)),
            move |state: &Shelves, _: &Context<'_>| {
                let after = state.units.get(shelf).copied().unwrap_or(0) + 1;
                Ok::<_, NotEnough>(Decision::reply(after).event(
                    stream(shelf),
                    ShelfEvent::Received {
                        shelf: shelf.into(),
                        units: 1,
                    },
                ))
            },
        )
    };
    // Another writer takes the next version of A: the first batch will conflict.
    let foreign = ShelfEvent::Received {
        shelf: "A".into(),
        units: 10,
    };
    t.store
        .commit(&batch_of(vec![event_at("shelf-A", 2, &foreign)]))
        .await
        .unwrap();
    let first = writer.submit_all(vec![add("A", 1), add("B", 2)]).await;
    let second = writer.submit_all(vec![add("B", 3), add("C", 4)]).await;
    assert!(
        first
            .outcome()
            .await
            .iter()
            .all(|a| a.as_ref().is_err_and(CommandError::is_retryable))
    );
    let second = second.outcome().await;
    assert!(
        second.iter().all(|a| a.as_ref().is_err_and(CommandError::is_retryable)),
        "{second:?}"
    );
    // A third batch of the same source, sent later, is refused as well.
    let third = writer.execute_all(vec![add("D", 5)]).await;
    assert!(third[0].as_ref().is_err_and(CommandError::is_retryable), "{third:?}");
    // Applied again in order, everything goes through once.
    for (shelf, id) in [("A", 1), ("B", 2), ("B", 3), ("C", 4), ("D", 5)] {
        writer
            .execute_all(vec![add(shelf, id)])
            .await
            .into_iter()
            .for_each(|a| {
                a.unwrap();
            });
    }
    assert_eq!(
        writer.read(|s| (s.units["A"], s.units["B"], s.units["C"], s.units["D"])),
        (12, 2, 1, 1)
    );
    writer.shutdown().await;
}

/// A parked message waits in the store until the transaction that applies it deletes it.
async fn parked_messages_wait_until_applied(t: TestStore) {
    use oms_eventsourcing::store::ParkedMessage;
    let clock = ManualClock::new(start_time());
    let writer = start_writer(&t.store, &clock, WriterConfig::default()).await;
    let early = ParkedMessage {
        consumer: "orders-feed".into(),
        message: b"cancel order 7".to_vec(),
        reason: "order 7 unknown".into(),
    };
    writer
        .execute(CommandMeta::new(), move |_: &Shelves, _: &Context<'_>| {
            Ok::<_, NotEnough>(Decision::reply(()).park(early))
        })
        .await
        .unwrap();
    let parked = t.store.parked("orders-feed", 0, 10).await.unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(
        (parked[0].message.as_slice(), parked[0].reason.as_str()),
        (&b"cancel order 7"[..], "order 7 unknown")
    );
    assert_eq!(parked[0].parked_at, start_time());
    assert!(t.store.parked("other-consumer", 0, 10).await.unwrap().is_empty());

    let id = parked[0].id;
    writer
        .execute(CommandMeta::new(), move |_: &Shelves, _: &Context<'_>| {
            Ok::<_, NotEnough>(
                Decision::reply(())
                    .event(
                        stream("A"),
                        ShelfEvent::Received {
                            shelf: "A".into(),
                            units: 1,
                        },
                    )
                    .unpark(id),
            )
        })
        .await
        .unwrap();
    assert!(t.store.parked("orders-feed", 0, 10).await.unwrap().is_empty());
    writer.shutdown().await;
}

/// Read-model rows are upserted with the batch: the last value per key wins, names are apart.
async fn projection_rows_are_upserted_with_the_batch(t: TestStore) {
    use oms_eventsourcing::store::{CommitBatch, ProjectionRow};
    let row = |name: &str, key: &str, value: &str| ProjectionRow {
        name: name.into(),
        key: key.into(),
        value: value.as_bytes().to_vec(),
    };
    let first = CommitBatch {
        projections: vec![
            row("atp", "sku-1", "3"),
            row("atp", "sku-1", "5"),
            row("atp", "sku-2", "1"),
        ],
        recorded_at: start_time(),
        ..CommitBatch::default()
    };
    t.store.commit(&first).await.unwrap();
    let second = CommitBatch {
        projections: vec![row("atp", "sku-2", "0"), row("other", "sku-1", "x")],
        recorded_at: start_time(),
        ..CommitBatch::default()
    };
    t.store.commit(&second).await.unwrap();
    let mut atp = t.store.load_projection("atp").await.unwrap();
    atp.sort();
    assert_eq!(
        atp,
        vec![
            ("sku-1".to_string(), b"5".to_vec()),
            ("sku-2".to_string(), b"0".to_vec())
        ]
    );
    assert_eq!(t.store.load_projection("other").await.unwrap().len(), 1);
    assert!(t.store.load_projection("none").await.unwrap().is_empty());
}

/// An offset checkpoint keeps the fingerprint of the message at it and moves with it: a
/// consumer can tell later whether the partition still holds the log it applied. A
/// checkpoint by outbox position has none.
async fn an_offset_checkpoint_keeps_the_fingerprint_of_its_message(t: TestStore) {
    use oms_eventsourcing::store::{InboxCheckpoint, RecordFingerprint};
    let mark = |source: &str, offset: i64, fingerprint: Option<RecordFingerprint>| InboxMark::Checkpoint {
        consumer: "pos-feed".into(),
        source: source.into(),
        position: OutboxPosition { tx: 0, id: offset },
        fingerprint,
    };
    let sale = RecordFingerprint {
        digest: -7_046_029_254_386_353_131,
        timestamp_ms: Some(1_760_000_000_123),
    };
    let count = RecordFingerprint {
        digest: 42,
        timestamp_ms: None,
    };
    let commit = |marks: Vec<InboxMark>| CommitBatch {
        inbox: marks,
        recorded_at: start_time(),
        ..CommitBatch::default()
    };
    t.store
        .commit(&commit(vec![
            mark("oms.pos-movements.v1/0", 3, Some(count)),
            mark("oms.pos-movements.v1/0", 4, Some(sale)),
            mark("oms.orders.v1/0/oms/order-capture", 9, None),
        ]))
        .await
        .unwrap();
    // A redelivered message below the checkpoint changes neither the position nor the
    // fingerprint; the next one moves both.
    t.store
        .commit(&commit(vec![mark("oms.pos-movements.v1/0", 2, Some(count))]))
        .await
        .unwrap();
    t.store
        .commit(&commit(vec![mark("oms.pos-movements.v1/0~2", 0, Some(count))]))
        .await
        .unwrap();
    let mut stored = t.store.inbox_checkpoint_details("pos-feed").await.unwrap();
    stored.sort_by(|a, b| a.source.cmp(&b.source));
    let at = |source: &str, offset: i64, fingerprint: Option<RecordFingerprint>| InboxCheckpoint {
        source: source.into(),
        position: OutboxPosition { tx: 0, id: offset },
        fingerprint,
    };
    assert_eq!(
        stored,
        vec![
            at("oms.orders.v1/0/oms/order-capture", 9, None),
            at("oms.pos-movements.v1/0", 4, Some(sale)),
            at("oms.pos-movements.v1/0~2", 0, Some(count)),
        ]
    );
    t.store
        .commit(&commit(vec![mark("oms.pos-movements.v1/0", 5, Some(count))]))
        .await
        .unwrap();
    let moved = t.store.inbox_checkpoint_details("pos-feed").await.unwrap();
    assert!(
        moved.contains(&at("oms.pos-movements.v1/0", 5, Some(count))),
        "{moved:?}"
    );
    assert!(t.store.inbox_checkpoint_details("nobody").await.unwrap().is_empty());
}

/// What a relay leaves in the outbox when it stops is counted from its cursor on.
async fn the_outbox_rows_after_a_cursor_are_counted(t: TestStore) {
    let batch = CommitBatch {
        outbox: ["placed", "routed", "shipped"]
            .map(|what| announcement("A", what, start_time()))
            .to_vec(),
        recorded_at: start_time(),
        ..CommitBatch::default()
    };
    t.store.commit(&batch).await.unwrap();
    assert_eq!(t.store.outbox_rows_after(OutboxPosition::default()).await.unwrap(), 3);
    // The relay reads rows once no older transaction (of any test) is still running.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let rows = loop {
        let rows = t.store.read_outbox(OutboxPosition::default(), 10).await.unwrap();
        if rows.len() == 3 || std::time::Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(rows.len(), 3);
    assert_eq!(t.store.outbox_rows_after(rows[0].position).await.unwrap(), 2);
    assert_eq!(t.store.outbox_rows_after(rows[2].position).await.unwrap(), 0);
}

/// A long log is streamed in order, whatever way the backend cuts it up to read it fast.
async fn a_long_log_replays_in_order(t: TestStore) {
    let events = 70_000u64;
    let mut version = 0;
    for chunk in 0..(events / 10_000) {
        let batch: Vec<NewEvent> = (0..10_000)
            .map(|i| {
                version += 1;
                let shelf = if (chunk * 10_000 + i) % 2 == 0 { "even" } else { "odd" };
                let mut event = event_at(
                    "shelf-all",
                    version,
                    &ShelfEvent::Received {
                        shelf: shelf.into(),
                        units: 1,
                    },
                );
                event.meta.recorded_at = start_time() + Duration::seconds(version as i64);
                event
            })
            .collect();
        t.store.commit(&batch_of(batch)).await.unwrap();
    }
    let mut seen = 0u64;
    let mut last = 0;
    t.store
        .scan(0, i64::MAX, |view| {
            seen += 1;
            assert!(view.position > last, "positions must increase");
            assert_eq!(view.version, seen, "versions come in order");
            assert_eq!(view.recorded_at, start_time() + Duration::seconds(seen as i64));
            last = view.position;
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(seen, events);
    let (rebuilt, report) = rebuild::<Shelves>(&t.store, ReplayOptions::default(), |_| {})
        .await
        .unwrap();
    assert_eq!(report.events_applied, events);
    assert_eq!(
        (rebuilt.state.units["even"], rebuilt.state.units["odd"]),
        (events / 2, events / 2)
    );
    assert_eq!(rebuilt.versions["shelf-all"], events);
}

// ---------------------------------------------------------------------------------------
// Raw access for the outbox gap scenario: a second connection that holds a transaction
// open, as a concurrent writer would.

enum RawWriter {
    Postgres(sqlx::PgConnection),
    Sqlite(sqlx::SqliteConnection),
}

async fn open_raw_writer(t: &TestStore) -> (RawWriter, String) {
    use sqlx::Connection;
    match &t.config {
        oms_eventsourcing::StoreConfig::Postgres { url, schema, .. } => {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("SET search_path TO \"{schema}\"")))
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
            (RawWriter::Postgres(conn), url.clone())
        }
        oms_eventsourcing::StoreConfig::Sqlite { path } => {
            let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{path}"))
                .await
                .unwrap();
            sqlx::query("BEGIN IMMEDIATE").execute(&mut conn).await.unwrap();
            (RawWriter::Sqlite(conn), path.clone())
        }
    }
}

async fn raw_outbox_insert(raw: &mut RawWriter, _: &str) {
    let id = Uuid::now_v7();
    match raw {
        RawWriter::Postgres(conn) => {
            sqlx::query(
                "INSERT INTO outbox (message_id, topic, message_key, message_type, payload, created_at) \
                 VALUES ($1, 'test.shelves', 'slow', 'Slow', '\\x00', now())",
            )
            .bind(id)
            .execute(conn)
            .await
            .unwrap();
        }
        RawWriter::Sqlite(conn) => {
            sqlx::query(
                "INSERT INTO outbox (message_id, topic, message_key, message_type, payload, created_at) \
                 VALUES (?1, 'test.shelves', 'slow', 'Slow', x'00', 0)",
            )
            .bind(id)
            .execute(conn)
            .await
            .unwrap();
        }
    }
}

async fn commit_raw(raw: RawWriter) {
    match raw {
        RawWriter::Postgres(mut conn) => {
            sqlx::query("COMMIT").execute(&mut conn).await.unwrap();
        }
        RawWriter::Sqlite(mut conn) => {
            sqlx::query("COMMIT").execute(&mut conn).await.unwrap();
        }
    }
}

// ---------------------------------------------------------------------------------------

macro_rules! conformance {
    ($($scenario:ident),+ $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(super::TestStore::new(super::TestBackend::Postgres).await).await;
                }
            )+
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(super::TestStore::new(super::TestBackend::Sqlite).await).await;
                }
            )+
        }
    };
}

conformance!(
    concurrent_appends_have_one_winner_per_version,
    a_conflicting_batch_writes_nothing,
    group_commit_answers_each_command,
    replay_equals_live,
    the_digest_at_rest_equals_a_replay_up_to_its_position,
    snapshot_plus_tail_equals_full_replay,
    stale_or_unreadable_snapshots_are_ignored,
    old_event_versions_are_upcast_on_read,
    a_corrupt_or_unknown_event_names_its_stream_and_version,
    the_outbox_never_skips_a_row_committed_late,
    the_inbox_absorbs_redelivered_messages,
    an_idempotent_retry_returns_the_first_answer,
    a_foreign_append_is_a_conflict_and_the_state_is_reloaded,
    a_stream_can_be_read_as_of_a_past_time,
    a_long_log_replays_in_order,
    a_group_of_commands_commits_together_or_not_at_all,
    parked_messages_wait_until_applied,
    a_batch_behind_a_failed_one_cannot_get_ahead_of_it,
    projection_rows_are_upserted_with_the_batch,
    an_offset_checkpoint_keeps_the_fingerprint_of_its_message,
    the_outbox_rows_after_a_cursor_are_counted,
);
