//! The transport conformance suite: every scenario runs over Kafka (a real tansu broker,
//! the outbox relay and a consumer group, stores on PostgreSQL) and over the in-process
//! transport of the embedded mode (consumers reading the publisher's outbox, stores on
//! SQLite).

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use oms_eventsourcing::store::OutboxPosition;
use oms_eventsourcing::{SystemClock, Writer, WriterConfig};
use oms_transport::consumer::ConsumerExit;
use oms_transport::{
    ConsumerConfig, KafkaSource, Message, OutboxSource, Projection, Projector, RelayExit, Source, headers,
};
use support::*;

// ---------------------------------------------------------------------------------------
// The scenarios.

/// At-least-once delivery, and the order of one key's messages is kept.
async fn every_message_arrives_once_in_order_per_key(transport: Transport) {
    let mut rig = Rig::new(transport).await;
    rig.start_relay(None);
    rig.start_consumer(None).await;
    for seq in 1..=30 {
        for key in 0..10 {
            rig.publish(&format!("k{key}"), seq).await;
        }
    }
    rig.wait_for_seen(300).await;
    assert_each_once_in_order(&rig.seen(), 10, 30);
    rig.wait_for_count("300 messages are counted applied", |s| &s.applied, 300)
        .await;
    assert_eq!(rig.total(|s| &s.applied), 300);
    rig.shutdown().await;
}

/// A consumer killed after committing a batch and before acknowledging it: the next one
/// gets those messages again, and applies none of them twice.
async fn a_consumer_killed_between_commit_and_offset_causes_no_double_effect(transport: Transport) {
    let mut rig = Rig::new(transport).await;
    rig.start_relay(None);
    for seq in 1..=20 {
        for key in 0..3 {
            rig.publish(&format!("k{key}"), seq).await;
        }
    }
    rig.start_consumer(Some(2)).await;
    assert_eq!(rig.consumer_exit().await, ConsumerExit::Halted);
    let applied_before = rig.total(|s| &s.applied);
    assert!(applied_before > 0);
    rig.start_consumer(None).await;
    rig.wait_for_seen(60).await;
    assert_each_once_in_order(&rig.seen(), 3, 20);
    if transport == Transport::Kafka {
        // The state shows a batch before its commit is settled and counted: wait for the
        // count.
        rig.wait_for_count(
            "the unacknowledged batch came again and was absorbed",
            |s| &s.already_applied,
            1,
        )
        .await;
    }
    rig.shutdown().await;
}

/// Stopped and started again, a consumer goes on from where it was.
async fn a_restarted_consumer_resumes_from_its_stored_position(transport: Transport) {
    let mut rig = Rig::new(transport).await;
    rig.start_relay(None);
    rig.start_consumer(None).await;
    for seq in 1..=10 {
        rig.publish("a", seq).await;
    }
    rig.wait_for_seen(10).await;
    assert_eq!(rig.stop_consumer().await, ConsumerExit::Stopped);
    for seq in 11..=20 {
        rig.publish("a", seq).await;
    }
    // The consumer's own state restarts too: rebuilt from its log.
    rig.consumer.shutdown().await;
    rig.consumer = Writer::<Seen>::start(
        rig.consumer_store.reopen().await,
        Arc::new(SystemClock),
        WriterConfig::default(),
    )
    .await
    .unwrap()
    .0;
    rig.start_consumer(None).await;
    rig.wait_for_seen(20).await;
    assert_each_once_in_order(&rig.seen(), 1, 20);
    rig.wait_for_count("20 messages are counted applied", |s| &s.applied, 20)
        .await;
    assert_eq!(rig.total(|s| &s.applied), 20);
    rig.shutdown().await;
}

/// A message that can never be applied goes to the dead-letter topic with the reason and
/// where it came from; the messages after it are applied.
async fn poison_goes_to_the_dead_letter_topic_and_the_consumer_moves_on(transport: Transport) {
    let mut rig = Rig::new(transport).await;
    rig.start_relay(None);
    rig.start_consumer(None).await;
    rig.publish("a", 1).await;
    rig.publish_raw("a", vec![0xff, 0xfe, 0x00]).await;
    rig.publish_raw("a", b"a:not-a-number".to_vec()).await;
    rig.publish("a", 2).await;
    rig.wait_for_seen(2).await;
    assert_eq!(rig.seen()["a"], vec![1, 2]);
    let consumer = rig.stats[0].clone();
    wait_until("both poison messages are dead-lettered", || {
        consumer.dead_lettered.load(Ordering::Relaxed) == 2
    })
    .await;
    let letters = rig.dead_letters(2).await;
    assert_eq!(letters.len(), 2, "{letters:?}");
    let reasons: Vec<&str> = letters.iter().filter_map(|l| l.header(headers::DLQ_REASON)).collect();
    assert_eq!(
        reasons,
        vec!["payload is not UTF-8", "\"not-a-number\" is not a number"]
    );
    for letter in &letters {
        assert_eq!(letter.header(headers::DLQ_TOPIC), Some(TOPIC));
        assert_eq!(letter.header(headers::DLQ_CONSUMER), Some("seen"));
        assert!(
            letter
                .header(headers::DLQ_OFFSET)
                .is_some_and(|o| o.parse::<i64>().is_ok())
        );
        assert!(letter.header(headers::DLQ_PARTITION).is_some());
        assert_eq!(letter.key.as_deref(), Some("a"));
    }
    assert_eq!(
        letters[0].payload,
        vec![0xff, 0xfe, 0x00],
        "the message is kept as it was received"
    );
    rig.shutdown().await;
}

/// The relay dies after producing a batch and before moving its cursor: the batch is
/// produced again, and the consumer's inbox absorbs the copies. (In process there is no
/// relay; the same copies arise when a consumer reads the outbox again from the start.)
async fn a_relay_killed_after_producing_causes_copies_the_inbox_absorbs(transport: Transport) {
    let mut rig = Rig::new(transport).await;
    for seq in 1..=15 {
        rig.publish("a", seq).await;
        rig.publish("b", seq).await;
    }
    match transport {
        Transport::Kafka => {
            rig.start_relay(Some(1));
            assert_eq!(rig.relay_exit().await, Some(RelayExit::Halted));
            rig.start_relay(None);
            rig.start_consumer(None).await;
            rig.wait_for_seen(30).await;
            // The halted relay produced its first outbox batch: all 30 rows, or fewer when
            // a transaction still running elsewhere in the database held the rest back.
            let stats = rig.stats[0].clone();
            wait_until("the copies are absorbed", || {
                stats.already_applied.load(Ordering::Relaxed) >= 1
            })
            .await;
            assert!(stats.already_applied.load(Ordering::Relaxed) <= 30);
        }
        Transport::InProcess => {
            rig.start_consumer(None).await;
            rig.wait_for_seen(30).await;
            rig.stop_consumer().await;
            let mut source = OutboxSource::open(
                "tally",
                rig.publisher_store.store.clone(),
                &[TOPIC],
                "seen",
                &rig.consumer_store.store,
            )
            .await
            .unwrap();
            source.rewind(OutboxPosition::default());
            rig.run_consumer(
                Source::Outbox(source),
                ConsumerConfig {
                    wait: Duration::from_millis(50),
                    ..ConsumerConfig::new("seen")
                },
            );
            let stats = rig.stats[1].clone();
            wait_until("30 copies are absorbed", || {
                stats.already_applied.load(Ordering::Relaxed) == 30
            })
            .await;
        }
    }
    assert_each_once_in_order(&rig.seen(), 2, 15);
    rig.wait_for_count("30 messages are counted applied", |s| &s.applied, 30)
        .await;
    assert_eq!(rig.total(|s| &s.applied), 30);
    rig.shutdown().await;
}

/// A message that needs another one first is parked, and applied once that one arrived.
async fn a_message_that_arrives_early_is_parked_and_applied_later(transport: Transport) {
    let mut rig = Rig::new(transport).await;
    rig.start_relay(None);
    rig.start_consumer(None).await;
    rig.publish_raw("a", b"after:b:a:1".to_vec()).await;
    let stats = rig.stats[0].clone();
    wait_until("the early message is parked", || {
        stats.parked.load(Ordering::Relaxed) == 1
    })
    .await;
    assert_eq!(rig.consumer_store.store.parked("seen", 0, 10).await.unwrap().len(), 1);
    rig.publish("b", 1).await;
    rig.wait_for_seen(2).await;
    assert_eq!(rig.seen()["a"], vec![1]);
    wait_until("the parked message is gone", || {
        stats.unparked.load(Ordering::Relaxed) == 1
    })
    .await;
    assert!(rig.consumer_store.store.parked("seen", 0, 10).await.unwrap().is_empty());
    rig.shutdown().await;
}

/// The latest count per key, as a read model.
#[derive(Default)]
struct Latest(std::sync::Mutex<std::collections::BTreeMap<String, u64>>);

impl Projection for Latest {
    fn rows(&self, message: &Message) -> Result<Vec<(String, Vec<u8>)>, String> {
        let text = std::str::from_utf8(&message.payload).map_err(|_| "payload is not UTF-8".to_string())?;
        let (key, seq) = text.split_once(':').ok_or_else(|| format!("{text:?} is not key:seq"))?;
        seq.parse::<u64>().map_err(|_| format!("{seq:?} is not a number"))?;
        Ok(vec![(key.to_string(), seq.as_bytes().to_vec())])
    }

    fn applied(&self, rows: &[(String, Vec<u8>)]) {
        let mut latest = self.0.lock().unwrap();
        for (key, value) in rows {
            latest.insert(key.clone(), std::str::from_utf8(value).unwrap().parse().unwrap());
        }
    }
}

/// A projector writes the rows of each batch with its checkpoint, dead-letters what it
/// cannot read, and a new one starts from the stored rows and position.
async fn a_projection_survives_a_restart_and_skips_what_it_applied(transport: Transport) {
    let mut rig = Rig::new(transport).await;
    rig.start_relay(None);
    for seq in 1..=5 {
        rig.publish("a", seq).await;
        rig.publish("b", seq * 10).await;
    }
    rig.publish_raw("c", b"c:not-a-number".to_vec()).await;

    let run = |rig: &Rig, latest: Arc<Latest>| {
        let store = rig.consumer_store.store.clone();
        let publisher_store = rig.publisher_store.store.clone();
        let kafka = rig.kafka.clone();
        async move {
            let projector = Projector::new(store.clone(), "latest", latest);
            let loaded = projector.load().await.unwrap();
            let source = match &kafka {
                Some(kafka) => Source::Kafka(KafkaSource::subscribe(kafka, "latest", &[TOPIC]).unwrap()),
                None => Source::Outbox(
                    OutboxSource::open("tally", publisher_store, &[TOPIC], "latest", &store)
                        .await
                        .unwrap(),
                ),
            };
            let (stop, stopped) = tokio::sync::watch::channel(false);
            (loaded, stop, tokio::spawn(projector.run(source, stopped)))
        }
    };

    let latest = Arc::new(Latest::default());
    let (loaded, stop, task) = run(&rig, latest.clone()).await;
    assert_eq!(loaded, 0);
    let seen = latest.clone();
    wait_until("the projection caught up", move || {
        let l = seen.0.lock().unwrap();
        l.get("a") == Some(&5) && l.get("b") == Some(&50)
    })
    .await;
    let _ = stop.send(true);
    task.await.unwrap();

    rig.publish("a", 6).await;
    let restarted = Arc::new(Latest::default());
    let (loaded, stop, task) = run(&rig, restarted.clone()).await;
    assert_eq!(loaded, 2, "both keys are loaded from the store");
    let seen = restarted.clone();
    wait_until("the new message is projected", move || {
        seen.0.lock().unwrap().get("a") == Some(&6)
    })
    .await;
    assert_eq!(restarted.0.lock().unwrap().get("b"), Some(&50));
    assert!(!restarted.0.lock().unwrap().contains_key("c"));
    let _ = stop.send(true);
    task.await.unwrap();

    let dead: Vec<_> = rig
        .consumer_store
        .store
        .read_outbox(OutboxPosition::default(), 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.message.topic == DLQ)
        .collect();
    assert_eq!(dead.len(), 1, "the unreadable message is dead-lettered once");
    assert_eq!(dead[0].message.payload, b"c:not-a-number");
    rig.shutdown().await;
}

macro_rules! conformance {
    ($($scenario:ident),+ $(,)?) => {
        mod kafka {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(super::Transport::Kafka).await;
                }
            )+
        }
        mod in_process {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(super::Transport::InProcess).await;
                }
            )+
        }
    };
}

conformance!(
    every_message_arrives_once_in_order_per_key,
    a_consumer_killed_between_commit_and_offset_causes_no_double_effect,
    a_restarted_consumer_resumes_from_its_stored_position,
    poison_goes_to_the_dead_letter_topic_and_the_consumer_moves_on,
    a_relay_killed_after_producing_causes_copies_the_inbox_absorbs,
    a_message_that_arrives_early_is_parked_and_applied_later,
    a_projection_survives_a_restart_and_skips_what_it_applied,
);
