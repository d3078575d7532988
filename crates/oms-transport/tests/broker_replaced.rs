//! A broker that lost everything — stopped and replaced by an empty one on the same
//! address, as after a restart without its storage, a topic deleted and created again, or
//! a move to another cluster — under running consumers and relays: offsets start at 0
//! again, topics, consumer groups and producer ids are gone. Nothing may be lost silently,
//! and nothing applied twice.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use oms_eventsourcing::store::OutboxPosition;
use oms_transport::consumer::ConsumerExit;
use oms_transport::testing::{TansuBroker, produce};
use oms_transport::{Relay, RelayConfig, RelayExit, ensure_topics};
use support::*;
use tokio::sync::watch;

/// Stops the rig's broker and starts an empty one on the same port.
async fn replace_broker(rig: &mut Rig) {
    let mut broker: TansuBroker = rig.broker.take().expect("a broker");
    let broker = tokio::task::spawn_blocking(move || {
        broker.replace_with_empty();
        broker
    })
    .await
    .unwrap();
    rig.broker = Some(broker);
}

/// A POS streams movements to the feed topic as a system outside the OMS does: raw
/// records, no outbox position. One key, so one partition, whose offsets are 0, 1, ...
async fn pos_sends(rig: &Rig, seqs: std::ops::RangeInclusive<u64>) {
    let kafka = rig.kafka.as_ref().expect("Kafka");
    for seq in seqs {
        produce(kafka, TOPIC, "store-1", format!("store-1:{seq}").as_bytes()).await;
    }
}

/// The topic as the feed's owner creates it on a new broker (the consumer creates it too
/// when it finds it missing; whoever is first, it is created once).
async fn feed_topic_exists(rig: &Rig) {
    ensure_topics(rig.kafka.as_ref().expect("Kafka"), &[TOPIC.into()])
        .await
        .unwrap();
}

/// The inbox checkpoints of the consumer by source, with their offsets.
async fn checkpoints(rig: &Rig) -> Vec<(String, i64)> {
    let mut stored: Vec<(String, i64)> = rig
        .consumer_store
        .store
        .inbox_checkpoint_details("seen")
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.source, c.position.id))
        .collect();
    stored.sort();
    stored
}

/// A consumer applied movements at offsets 0..4 of its partition; the broker is replaced
/// under it; the POS sends two more, which land at offsets 0 and 1 of the new log. They
/// are applied (not mistaken for the first two, applied before), the reset is counted,
/// and nothing is applied twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_movements_at_offsets_already_checkpointed_are_applied_after_the_broker_is_replaced() {
    let mut rig = Rig::new(Transport::Kafka).await;
    rig.start_consumer(None).await;
    pos_sends(&rig, 1..=5).await;
    rig.wait_for_seen(5).await;

    replace_broker(&mut rig).await;
    feed_topic_exists(&rig).await;
    pos_sends(&rig, 6..=7).await;

    rig.wait_for_seen(7).await;
    assert_eq!(
        rig.seen()["store-1"],
        (1..=7).collect::<Vec<_>>(),
        "each movement once, in order"
    );
    rig.wait_for_count("the reset is counted", |s| &s.partition_resets, 1)
        .await;
    let stored = checkpoints(&rig).await;
    assert!(
        stored
            .iter()
            .any(|(source, offset)| source.ends_with("~2") && *offset == 1),
        "the new log is checkpointed under a new epoch: {stored:?}"
    );
    rig.shutdown().await;
}

/// Stopped while the broker is replaced, a consumer starts again at its checkpoint
/// (offset 2): the new log holds another movement there. It is not skipped as applied:
/// the whole new log is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_started_on_a_new_log_with_another_message_at_its_checkpoint_reads_it_all() {
    let mut rig = Rig::new(Transport::Kafka).await;
    rig.start_consumer(None).await;
    pos_sends(&rig, 1..=3).await;
    rig.wait_for_seen(3).await;
    assert_eq!(rig.stop_consumer().await, ConsumerExit::Stopped);

    replace_broker(&mut rig).await;
    feed_topic_exists(&rig).await;
    pos_sends(&rig, 4..=8).await;
    rig.start_consumer(None).await;

    rig.wait_for_seen(8).await;
    assert_eq!(rig.seen()["store-1"], (1..=8).collect::<Vec<_>>());
    rig.wait_for_count("the reset is counted", |s| &s.partition_resets, 1)
        .await;
    assert_eq!(rig.total(|s| &s.partition_resets), 1);
    rig.shutdown().await;
}

/// The same log after a restart is recognised: a consumer killed between committing a
/// batch and committing its offsets starts again at its checkpoint, finds there the message
/// it applied, applies the rest once, and reports no reset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivery_after_a_crash_is_absorbed_and_no_reset_is_reported() {
    let mut rig = Rig::new(Transport::Kafka).await;
    let kafka = rig.kafka.clone().expect("Kafka");
    for seq in 1..=20 {
        for key in ["store-1", "store-2", "store-3"] {
            produce(&kafka, TOPIC, key, format!("{key}:{seq}").as_bytes()).await;
        }
    }
    rig.start_consumer(Some(2)).await;
    assert_eq!(rig.consumer_exit().await, ConsumerExit::Halted);
    assert!(rig.total(|s| &s.applied) > 0);
    rig.start_consumer(None).await;
    rig.wait_for_seen(60).await;
    let seen = rig.seen();
    assert_eq!(seen.len(), 3);
    for seqs in seen.values() {
        assert_eq!(seqs, &(1..=20).collect::<Vec<_>>(), "each once, in order");
    }
    rig.wait_for_count("60 movements are counted applied", |s| &s.applied, 60)
        .await;
    assert_eq!(rig.total(|s| &s.applied), 60);
    assert_eq!(rig.total(|s| &s.partition_resets), 0);
    assert!(
        checkpoints(&rig).await.iter().all(|(source, _)| !source.contains('~')),
        "no new epoch"
    );
    rig.shutdown().await;
}

/// A relay whose broker was replaced by an empty one creates its topic again, makes a new
/// producer (the broker does not know the old one's id), and delivers what was published
/// meanwhile; a consumer reads it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_whose_broker_lost_its_topics_creates_them_and_delivers() {
    let mut rig = Rig::new(Transport::Kafka).await;
    let relay = rig.start_relay_with(RelayConfig::new("test/tally"));
    rig.start_consumer(None).await;
    for seq in 1..=3 {
        rig.publish("a", seq).await;
    }
    rig.wait_for_seen(3).await;
    assert_eq!(rig.stop_consumer().await, ConsumerExit::Stopped);

    replace_broker(&mut rig).await;
    for seq in 4..=6 {
        rig.publish("a", seq).await;
    }
    wait_until("the relay delivered all six", || {
        relay.messages.load(Ordering::Relaxed) == 6
    })
    .await;
    assert!(relay.topics_recreated.load(Ordering::Relaxed) >= 1);
    assert!(relay.producers_replaced.load(Ordering::Relaxed) >= 1);

    rig.start_consumer(None).await;
    rig.wait_for_seen(6).await;
    assert_each_once_in_order(&rig.seen(), 1, 6);
    rig.shutdown().await;
}

/// Asked to stop while its broker is unreachable, a relay stops within its bound and says
/// what stays in the outbox; a relay started later delivers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_stopping_with_an_unreachable_broker_stops_within_its_bound() {
    let mut rig = Rig::new(Transport::Kafka).await;
    rig.broker.as_mut().expect("a broker").stop();
    let kafka = rig.kafka.clone().expect("Kafka");
    let relay = Relay::new(
        rig.publisher_store.store.clone(),
        &kafka,
        RelayConfig {
            drain_within: Duration::from_secs(1),
            ..RelayConfig::new("test/tally")
        },
    )
    .unwrap();
    rig.publish("a", 1).await;
    rig.publish("a", 2).await;
    // The relay reads a row once no older transaction (of any test) is still running.
    let store = rig.publisher_store.store.clone();
    let mut visible = 0;
    for _ in 0..600 {
        visible = store.read_outbox(OutboxPosition::default(), 10).await.unwrap().len();
        if visible == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(visible, 2, "both rows are there to relay");
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(relay.run(stopped));
    // Asked to stop while it tries to deliver them.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = stop.send(true);
    let exit = tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("the relay stops though the broker does not answer")
        .unwrap()
        .unwrap();
    assert_eq!(exit, RelayExit::Unfinished { rows_left: Some(2) });
    assert_eq!(
        rig.publisher_store.store.relay_cursor("kafka").await.unwrap(),
        OutboxPosition::default(),
        "nothing is recorded as relayed"
    );

    let mut broker = rig.broker.take().expect("a broker");
    rig.broker = Some(
        tokio::task::spawn_blocking(move || {
            broker.start_empty();
            broker
        })
        .await
        .unwrap(),
    );
    ensure_topics(&kafka, &[TOPIC.into()]).await.unwrap();
    rig.start_relay(None);
    rig.start_consumer(None).await;
    rig.wait_for_seen(2).await;
    assert_each_once_in_order(&rig.seen(), 1, 2);
    rig.shutdown().await;
}
