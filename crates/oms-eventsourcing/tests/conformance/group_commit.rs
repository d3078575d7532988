//! The writer's group commit: many commands in one transaction, each with its own answer,
//! all or nothing for a group, and no batch getting ahead of an earlier one that failed.

use oms_eventsourcing::store::OutboxPosition;
use oms_eventsourcing::testing::TestStore;
use oms_eventsourcing::writer::Context;
use oms_eventsourcing::{CommandError, CommandMeta, Decision, InboxMark, ManualClock, WriterConfig};

use crate::shelves::{
    NotEnough, ShelfEvent, Shelves, batch_of, event_at, pick, receive, start_time, start_writer, stream,
};

/// Commands from many callers are written together, each gets its own answer, and a
/// refused command in the middle of a batch does not disturb the others.
pub(crate) async fn group_commit_answers_each_command(t: TestStore) {
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

/// Commands sent as a group are decided in order, each seeing the ones before, and are
/// committed together — or, when one of them cannot be, none of them is.
pub(crate) async fn a_group_of_commands_commits_together_or_not_at_all(t: TestStore) {
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
pub(crate) async fn a_batch_behind_a_failed_one_cannot_get_ahead_of_it(t: TestStore) {
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
