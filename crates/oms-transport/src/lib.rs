//! How OMS services publish and consume integration events.
//!
//! A service never sends to the broker inside a command: its decisions write
//! [`OutboxMessage`](oms_eventsourcing::OutboxMessage)s in the same transaction as its
//! events. From there, one of two transports carries them:
//!
//! - **Kafka** (production): a [`Relay`] drains the outbox in batches to the broker with an
//!   idempotent producer and moves its cursor only after the delivery reports;
//!   [`KafkaSource`] consumes in a consumer group and stores offsets only after the
//!   effects are committed.
//! - **In-process** (embedded default): an [`OutboxSource`] reads the publishing service's
//!   outbox directly from its store; no broker at all.
//!
//! Either way the [`Consumer`] applies each batch of messages through the service's
//! [`Writer`](oms_eventsourcing::Writer) in one transaction together with the inbox marks,
//! so a redelivered or republished message has no second effect; poison messages go to
//! `<topic>.dlq` with the reason, messages that arrive early are parked and retried, and a
//! transient failure is retried with backoff.

mod backoff;
mod checkpoints;
pub mod config;
pub mod consumer;
pub mod dead_letter;
pub mod handler;
pub mod in_process;
pub mod kafka;
pub mod message;
pub mod projector;
pub mod relay;
#[cfg(feature = "testing")]
pub mod testing;
mod warnings;

pub use config::KafkaConfig;
pub use consumer::{Consumer, ConsumerConfig, ConsumerStats};
pub use handler::{Handling, MessageHandler};
pub use in_process::OutboxSource;
pub use kafka::{KafkaSource, ensure_topics};
pub use message::{Message, headers};
pub use projector::{Projection, Projector};
pub use relay::{Relay, RelayConfig, RelayExit, RelayStats};

/// Errors of the transports.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("Kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error(transparent)]
    Store(#[from] oms_eventsourcing::StoreError),
    #[error("configuration: {0}")]
    Config(String),
    /// Messages handed to the producer were not (all) delivered.
    #[error("not delivered: {0}")]
    Undelivered(String),
}

/// Where a consumer takes its messages from: a Kafka consumer group or a publisher's
/// outbox.
pub enum Source {
    Kafka(KafkaSource),
    Outbox(OutboxSource),
}

impl Source {
    /// The next messages, waiting up to `wait` for the first; empty if none came.
    pub async fn next_batch(&mut self, max: usize, wait: std::time::Duration) -> Result<Vec<Message>, TransportError> {
        match self {
            Source::Kafka(s) => s.next_batch(max, wait).await,
            Source::Outbox(s) => s.next_batch(max, wait).await,
        }
    }

    /// Tells a Kafka source which inbox keeps the consumer's offset checkpoints, so it
    /// starts partitions at them and notices a log that went backwards (see [`kafka`]).
    /// An outbox source already reads from its inbox checkpoint.
    pub fn bind_inbox(
        &mut self,
        store: &oms_eventsourcing::EventStore,
        consumer: &str,
        stats: std::sync::Arc<ConsumerStats>,
    ) {
        if let Source::Kafka(s) = self {
            s.bind_inbox(store.clone(), consumer, stats);
        }
    }

    /// The batch's effects are committed: the source may move past it.
    pub fn acknowledge(&mut self, batch: &[std::sync::Arc<Message>]) {
        match self {
            Source::Kafka(s) => s.acknowledge(batch),
            Source::Outbox(s) => s.acknowledge(batch),
        }
    }

    /// Leaves the consumer group (or stops reading), deliberately and with a time limit.
    pub async fn close(self) {
        match self {
            Source::Kafka(s) => s.close().await,
            Source::Outbox(_) => {}
        }
    }
}
