//! Kafka: topics, and the consumer-group source of a [`Consumer`](crate::Consumer).
//!
//! Messages from OMS services carry their publisher's outbox position: the inbox
//! checkpoints them by it, whatever offset the broker gave them. Messages from systems
//! outside the OMS (channel orders, POS movements, WMS confirmations, payments) carry none
//! and are checkpointed by offset, and an offset is only meaningful in one log: a broker
//! that lost its topics, a topic deleted and created again, a migration to another cluster
//! all start the partition's offsets at 0 again. So for those partitions the inbox, not the
//! group's committed offsets, says where a consumer is: each partition is started at its
//! offset checkpoint, and the message found there must be the one applied (the checkpoint
//! keeps its fingerprint). If the log is shorter than the checkpoint, or holds another
//! message there, the partition holds another log: that is logged and counted, and the
//! partition is read from its start under a new inbox epoch (`topic/partition~2`, ...),
//! never skipped. The same check runs again after the client lost its broker, and whenever
//! a partition's offsets go backwards.
//!
//! The parts, by concern: [`KafkaSource`] (here) reads in the consumer group (`source`),
//! and finds its way back after the broker lost its state (`trouble`); its partition guard
//! (`guard`) starts each assigned partition at its checkpoint and checks every message
//! received against what was applied; `record` turns a broker record into a
//! [`Message`](crate::Message);
//! `topics` creates the topics.

mod guard;
mod record;
mod source;
mod topics;
mod trouble;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use oms_eventsourcing::EventStore;
use rdkafka::consumer::StreamConsumer;

use self::guard::PartitionGuard;
pub(crate) use self::topics::create_missing_topics;
pub use self::topics::ensure_topics;
use crate::KafkaConfig;

/// Messages from Kafka topics, read in a consumer group. Offsets are committed only for
/// acknowledged batches (whose effects are committed), at most every `COMMIT_EVERY`, and
/// once more when the source closes.
pub struct KafkaSource {
    consumer: Option<Arc<StreamConsumer<PartitionGuard>>>,
    /// To create the topics again; boxed, as it is seldom used.
    kafka: Box<KafkaConfig>,
    topics: Vec<String>,
    /// The reading and offset of the last acknowledged message per topic partition.
    acknowledged: HashMap<(String, i32), (u64, i64)>,
    /// Acknowledged since the last commit.
    uncommitted: bool,
    last_commit: Instant,
    /// Where the consumer's offset checkpoints are, once bound.
    inbox: Option<Inbox>,
    /// When this source last created its topics again.
    topics_recreated: Option<Instant>,
    /// The client lost its broker or a topic: once the broker answers with every topic
    /// again, the source rejoins its group, so the partitions are assigned afresh (a new
    /// broker knows nothing of the group) and each starts where the inbox says.
    rejoin: Rejoin,
    /// Questions to the broker under way on a blocking thread.
    asking: Option<tokio::task::JoinHandle<TopicsThere>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rejoin {
    No,
    /// When the topics are there again; asked no sooner than the instant.
    Pending(Instant),
}

/// Whether every subscribed topic exists with partitions; `None`: no answer.
type TopicsThere = Option<bool>;

/// The store and name of the consumer whose inbox holds this source's offset checkpoints.
struct Inbox {
    store: EventStore,
    consumer: String,
    /// The checkpoints were read into the partition guard.
    loaded: bool,
}

/// How often acknowledged offsets are committed, at most.
const COMMIT_EVERY: Duration = Duration::from_millis(500);

/// How often a source that finds its topics missing creates them again, at most.
const RECREATE_TOPICS_EVERY: Duration = Duration::from_secs(10);
