//! Idempotent commands: a retry with the same key gets the first answer and acts once.

use oms_eventsourcing::testing::TestStore;
use oms_eventsourcing::{CommandMeta, ManualClock, WriterConfig};

use crate::shelves::{receive, start_time, start_writer};

/// A command retried with the same idempotency key gets the first answer and acts once,
/// also when the retry reaches a restarted writer.
pub(crate) async fn an_idempotent_retry_returns_the_first_answer(t: TestStore) {
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
