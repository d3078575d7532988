//! Where a service's consumers read, and whether its outbox is relayed.
//!
//! In production every service relays its outbox to Kafka and consumes topics in consumer
//! groups. In the embedded mode all services run in one process: a consumer reads the
//! publishing service's outbox from its store, and nothing is relayed. A topic fed by a
//! system outside the OMS is read, in the embedded mode, from the outbox of whatever plays
//! that system in the process (the sandbox WMS and payment gateway, or a feed a test or a
//! tool writes to), through the same consumer as in production.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use oms_eventsourcing::EventStore;
use oms_proto::topics::{Publisher, Topic};
use oms_transport::{KafkaConfig, KafkaSource, OutboxSource, Source, TransportError};

#[derive(Clone)]
pub enum Wiring {
    Kafka(KafkaConfig),
    InProcess(Outboxes),
}

/// The stores of the services of this process, by service name, whose outboxes in-process
/// consumers read.
#[derive(Clone, Default)]
pub struct Outboxes {
    stores: Arc<Mutex<HashMap<String, EventStore>>>,
    /// Inbound topic → who plays its publisher in the process.
    feeds: Arc<Mutex<HashMap<String, String>>>,
}

impl Outboxes {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(&self, service: &str, store: EventStore) {
        self.stores
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(service.to_owned(), store);
    }

    /// `publisher`, whose outbox is `store`, plays the system outside the OMS that feeds
    /// `topic`.
    pub fn register_feed(&self, topic: &Topic, publisher: &str, store: EventStore) {
        self.register(publisher, store);
        self.feeds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(topic.name.to_owned(), publisher.to_owned());
    }

    fn feed_of(&self, topic: &str) -> Option<String> {
        self.feeds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(topic)
            .cloned()
    }

    pub fn get(&self, service: &str) -> Option<EventStore> {
        self.stores
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(service)
            .cloned()
    }
}

impl Wiring {
    /// The source of the reader `reader` of `topic`. `None` in the embedded mode when
    /// nothing in the process publishes on it.
    pub async fn source(
        &self,
        reader: &str,
        reader_store: &EventStore,
        topic: &Topic,
    ) -> Result<Option<Source>, TransportError> {
        let outboxes = match self {
            Wiring::Kafka(kafka) => {
                return Ok(Some(Source::Kafka(KafkaSource::subscribe(
                    kafka,
                    reader,
                    &[topic.name],
                )?)));
            }
            Wiring::InProcess(outboxes) => outboxes,
        };
        let publisher = match topic.publisher {
            Publisher::Service(service) => service.to_owned(),
            Publisher::Outside(_) => match outboxes.feed_of(topic.name) {
                Some(publisher) => publisher,
                None => return Ok(None),
            },
        };
        // The publisher may start after this reader: its outbox is found when it does.
        let outboxes = outboxes.clone();
        let name = publisher.clone();
        let find = move || outboxes.get(&name);
        let source = OutboxSource::awaiting(&publisher, find, &[topic.name], reader, reader_store).await?;
        Ok(Some(Source::Outbox(source)))
    }
}
