//! Replaying the log: the rebuilt state equals the live one, at rest and at the end, however
//! long the log.

use chrono::Duration;
use oms_eventsourcing::replay::{ReplayOptions, rebuild};
use oms_eventsourcing::store::NewEvent;
use oms_eventsourcing::testing::TestStore;
use oms_eventsourcing::{CommandMeta, ManualClock, WriterConfig};

use crate::shelves::{ShelfEvent, Shelves, batch_of, event_at, pick, receive, start_time, start_writer};

/// The state rebuilt from the log has the same digest as the live one.
pub(crate) async fn replay_equals_live(t: TestStore) {
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
pub(crate) async fn the_digest_at_rest_equals_a_replay_up_to_its_position(t: TestStore) {
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

/// A long log is streamed in order, whatever way the backend cuts it up to read it fast.
pub(crate) async fn a_long_log_replays_in_order(t: TestStore) {
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
