//! Parked messages: kept in the store until the transaction that applies them.

use oms_eventsourcing::testing::TestStore;
use oms_eventsourcing::writer::Context;
use oms_eventsourcing::{CommandMeta, Decision, ManualClock, WriterConfig};

use crate::shelves::{NotEnough, ShelfEvent, Shelves, start_time, start_writer, stream};

/// A parked message waits in the store until the transaction that applies it deletes it.
pub(crate) async fn parked_messages_wait_until_applied(t: TestStore) {
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
