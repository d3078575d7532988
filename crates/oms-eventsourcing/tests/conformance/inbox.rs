//! The inbox: a message applied once is not applied again, and an offset checkpoint keeps the
//! fingerprint of the message at it.

use oms_eventsourcing::store::OutboxPosition;
use oms_eventsourcing::testing::TestStore;
use oms_eventsourcing::{CommandError, CommandMeta, CommitBatch, CommitError, InboxMark, ManualClock, WriterConfig};

use crate::shelves::{ShelfEvent, batch_of, event_at, receive, start_time, start_writer};

/// A message applied once is not applied again, whether the inbox knows it by id or by
/// a checkpoint position; the writer answers `AlreadyApplied` and writes nothing.
pub(crate) async fn the_inbox_absorbs_redelivered_messages(t: TestStore) {
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

/// An offset checkpoint keeps the fingerprint of the message at it and moves with it: a
/// consumer can tell later whether the partition still holds the log it applied. A
/// checkpoint by outbox position has none.
pub(crate) async fn an_offset_checkpoint_keeps_the_fingerprint_of_its_message(t: TestStore) {
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
