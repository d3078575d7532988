//! The systems outside the OMS that feed it — sales channels, POS, WMS and 3PL systems,
//! the payment gateway adapter — as the embedded mode plays them.
//!
//! In production they publish on the inbound topics of [`oms_proto::topics`] and the
//! services' consumers read those topics from Kafka. In the embedded mode whatever plays
//! them (the sandbox WMS and payment gateway, a test, a tool) sends through [`Feeds`]: its
//! messages are written to an outbox of their own, which the same consumers read as the
//! in-process source of those topics, checked against the same limits and dead-lettered
//! the same way. On Kafka the feeds' outbox is relayed like a service's.

use chrono::{DateTime, Utc};
use oms_eventsourcing::store::CommitBatch;
use oms_eventsourcing::{EventStore, OutboxMessage};
use oms_proto::topics::{self, Topic};

use crate::Tasks;
use crate::Wiring;

/// What the outside systems played in the process publish as (their outbox's name).
pub const PUBLISHER: &str = "outside";

/// The inbound topics, fed from one outbox.
#[derive(Clone)]
pub struct Feeds {
    store: EventStore,
}

impl Feeds {
    /// Feeds written to `store`. In the embedded mode they become the source of every
    /// inbound topic: open them before the services start, so their consumers find them.
    pub fn open(store: EventStore, wiring: &Wiring) -> Self {
        if let Wiring::InProcess(outboxes) = wiring {
            for topic in topics::ALL.into_iter().filter(|t| t.is_inbound()) {
                outboxes.register_feed(topic, PUBLISHER, store.clone());
            }
        }
        Self { store }
    }

    /// Where the feeds are written (and the players keep their checkpoints).
    pub fn store(&self) -> &EventStore {
        &self.store
    }

    /// On Kafka, relays what is sent to the topics, as a stage of `tasks`.
    pub fn relay(&self, tasks: &mut Tasks, wiring: &Wiring) -> anyhow::Result<()> {
        crate::assemble::relay(tasks, wiring, &self.store, PUBLISHER)
    }

    /// Sends `payload` on the inbound `topic`, keyed by `key`, as its outside system would.
    pub async fn send(&self, topic: &'static Topic, key: &str, payload: &impl prost::Message) -> anyhow::Result<()> {
        let batch = CommitBatch {
            outbox: vec![message(topic, key, payload, Utc::now())?],
            recorded_at: Utc::now(),
            ..CommitBatch::default()
        };
        self.store.commit(&batch).await?;
        Ok(())
    }
}

/// The message `payload` on the inbound `topic`, keyed by `key`, as an outside system sends
/// it (for a player that answers what it reads, see
/// [`Projection::answers`](oms_transport::Projection::answers)).
pub fn message(
    topic: &'static Topic,
    key: &str,
    payload: &impl prost::Message,
    at: DateTime<Utc>,
) -> anyhow::Result<OutboxMessage> {
    anyhow::ensure!(
        topic.is_inbound(),
        "{} is published by {:?}, not by a system outside the OMS",
        topic.name,
        topic.publisher
    );
    Ok(OutboxMessage::new(
        topic.name,
        key,
        topic.payload,
        payload.encode_to_vec(),
        at,
    ))
}
