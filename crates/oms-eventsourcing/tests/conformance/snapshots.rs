//! Snapshots: the newest one plus the tail equals a full replay, and one that is stale or
//! unreadable is ignored.

use std::sync::Arc;

use oms_eventsourcing::replay::{ReplayOptions, rebuild};
use oms_eventsourcing::testing::TestStore;
use oms_eventsourcing::{CommandMeta, ManualClock, Model, Writer, WriterConfig};

use crate::shelves::{Shelves, receive, start_time, start_writer};

/// Snapshots are taken every N events; the newest snapshot plus the tail equals a full
/// replay, and a restarted writer starts from it.
pub(crate) async fn snapshot_plus_tail_equals_full_replay(t: TestStore) {
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
pub(crate) async fn stale_or_unreadable_snapshots_are_ignored(t: TestStore) {
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
