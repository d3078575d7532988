//! The in-process transport of the embedded mode: a consumer reads the publishing
//! service's outbox straight from its store. There is no broker and nothing to relay;
//! where the consumer has got to is its inbox checkpoint for that outbox, written with the
//! effects, so it resumes exactly where it left off.

use std::time::Duration;

use oms_eventsourcing::EventStore;
use oms_eventsourcing::store::OutboxPosition;

use crate::{Message, TransportError};

pub struct OutboxSource {
    publisher: String,
    store: PublisherStore,
    topics: Vec<String>,
    /// Everything at or below it has been read (not necessarily applied).
    read: OutboxPosition,
}

/// The publisher's store, or how to find it once the publisher has started (services of
/// one process start one after the other and read each other's outboxes).
enum PublisherStore {
    Open(EventStore),
    Awaited(Box<dyn Fn() -> Option<EventStore> + Send + Sync>),
}

impl OutboxSource {
    /// Reads `publisher`'s outbox (in `publisher_store`) for messages on `topics`, from
    /// where `consumer`'s inbox (in `consumer_store`) says it stopped.
    pub async fn open(
        publisher: &str,
        publisher_store: EventStore,
        topics: &[&str],
        consumer: &str,
        consumer_store: &EventStore,
    ) -> Result<Self, TransportError> {
        let checkpoints = consumer_store.inbox_checkpoints(consumer).await?;
        let read = checkpoints
            .get(&Self::inbox_source(publisher))
            .copied()
            .unwrap_or_default();
        Ok(Self {
            publisher: publisher.to_owned(),
            store: PublisherStore::Open(publisher_store),
            topics: topics.iter().map(std::string::ToString::to_string).collect(),
            read,
        })
    }

    /// As [`OutboxSource::open`], for a publisher that may not have started yet: `find`
    /// is asked for its store until it has one; meanwhile there are no messages.
    pub async fn awaiting(
        publisher: &str,
        find: impl Fn() -> Option<EventStore> + Send + Sync + 'static,
        topics: &[&str],
        consumer: &str,
        consumer_store: &EventStore,
    ) -> Result<Self, TransportError> {
        let checkpoints = consumer_store.inbox_checkpoints(consumer).await?;
        let read = checkpoints
            .get(&Self::inbox_source(publisher))
            .copied()
            .unwrap_or_default();
        let store = match find() {
            Some(store) => PublisherStore::Open(store),
            None => PublisherStore::Awaited(Box::new(find)),
        };
        Ok(Self {
            publisher: publisher.to_owned(),
            store,
            topics: topics.iter().map(std::string::ToString::to_string).collect(),
            read,
        })
    }

    /// The inbox source under which consumers record their position in this outbox.
    pub fn inbox_source(publisher: &str) -> String {
        format!("outbox:{publisher}")
    }

    /// Starts over from `position` (for operators replaying a consumer, and for tests).
    pub fn rewind(&mut self, position: OutboxPosition) {
        self.read = position;
    }

    pub async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Vec<Message>, TransportError> {
        if let PublisherStore::Awaited(find) = &self.store {
            match find() {
                Some(store) => self.store = PublisherStore::Open(store),
                None => {
                    tokio::time::sleep(wait).await;
                    return Ok(Vec::new());
                }
            }
        }
        let PublisherStore::Open(store) = &self.store else {
            return Ok(Vec::new());
        };
        let store = store.clone();
        let mut waited = false;
        loop {
            let records = store.read_outbox(self.read, max).await?;
            let complete = records.len() < max;
            if let Some(last) = records.last() {
                self.read = last.position;
            }
            let batch: Vec<Message> = records
                .into_iter()
                .filter(|r| self.topics.contains(&r.message.topic))
                .map(|r| Message::from_outbox(&self.publisher, r))
                .collect();
            if !batch.is_empty() {
                return Ok(batch);
            }
            if !complete {
                continue;
            }
            if waited {
                return Ok(Vec::new());
            }
            store.outbox_written(wait).await;
            waited = true;
        }
    }

    /// Nothing to do: the position is recorded by the inbox with the effects.
    pub fn acknowledge(&mut self, _batch: &[std::sync::Arc<Message>]) {}
}
