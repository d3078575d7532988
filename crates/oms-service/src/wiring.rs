//! Where a service's consumers read, and whether its outbox is relayed.
//!
//! In production every service relays its outbox to Kafka and consumes topics in consumer
//! groups. In the embedded mode all services run in one process: a consumer reads the
//! publishing service's outbox from its store, and nothing is relayed. Inbound feeds from
//! outside (POS movements, channel orders, WMS confirmations) exist only as Kafka topics;
//! in the embedded mode they arrive over the services' gRPC APIs instead.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use oms_eventsourcing::EventStore;
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
}

impl Outboxes {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(&self, service: &str, store: EventStore) {
        self.stores
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(service.to_owned(), store);
    }

    pub fn get(&self, service: &str) -> Option<EventStore> {
        self.stores
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(service)
            .cloned()
    }
}

/// Who publishes a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publisher<'a> {
    /// An OMS service, by name.
    Service(&'a str),
    /// A system outside the OMS (POS, sales channel, WMS); Kafka only.
    External,
}

impl Wiring {
    /// The source for consumer `consumer` of `topics`. `None` when the topic has no
    /// producer in this wiring (an external feed in the embedded mode).
    pub async fn source(
        &self,
        consumer: &str,
        consumer_store: &EventStore,
        publisher: Publisher<'_>,
        topics: &[&str],
    ) -> Result<Option<Source>, TransportError> {
        match (self, publisher) {
            (Wiring::Kafka(kafka), _) => Ok(Some(Source::Kafka(KafkaSource::subscribe(kafka, consumer, topics)?))),
            (Wiring::InProcess(_), Publisher::External) => Ok(None),
            (Wiring::InProcess(outboxes), Publisher::Service(service)) => {
                // The publisher may start after this consumer: its outbox is found when it does.
                let outboxes = outboxes.clone();
                let name = service.to_owned();
                let find = move || outboxes.get(&name);
                let source = OutboxSource::awaiting(service, find, topics, consumer, consumer_store).await?;
                Ok(Some(Source::Outbox(source)))
            }
        }
    }
}
