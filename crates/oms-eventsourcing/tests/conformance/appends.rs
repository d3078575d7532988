//! Appending to the log: one winner per stream version, a conflicting batch writes nothing,
//! an append behind a writer's back is a conflict it recovers from, and a stream can be read
//! as it was.

use std::collections::BTreeSet;

use chrono::Duration;
use oms_eventsourcing::replay::{ReplayOptions, rebuild};
use oms_eventsourcing::store::OutboxPosition;
use oms_eventsourcing::testing::TestStore;
use oms_eventsourcing::{CommandError, CommandMeta, CommitError, ManualClock, WriterConfig};

use crate::shelves::{ShelfEvent, Shelves, announcement, batch_of, event_at, pick, receive, start_time, start_writer};

/// Many appenders race for the same versions of one stream: each version has exactly one
/// winner, and every loser is told which stream and version it lost.
pub(crate) async fn concurrent_appends_have_one_winner_per_version(t: TestStore) {
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
pub(crate) async fn a_conflicting_batch_writes_nothing(t: TestStore) {
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

/// Another writer appends to a stream behind the writer's back: the writer's command
/// conflicts, the writer reloads the state, and the retried command sees the change.
pub(crate) async fn a_foreign_append_is_a_conflict_and_the_state_is_reloaded(t: TestStore) {
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
pub(crate) async fn a_stream_can_be_read_as_of_a_past_time(t: TestStore) {
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
