//! Test rig for the ledger: the real service on PostgreSQL, a real tansu broker, a real
//! gRPC client.
#![allow(dead_code)]

use std::sync::Arc;

use oms_eventsourcing::SystemClock;
use oms_eventsourcing::clock::SharedClock;
use oms_eventsourcing::testing::{TestBackend, TestStore};
use oms_inventory_ledger::service::RunningInventory;
use oms_inventory_ledger::testing;
use oms_proto::inventory::v1 as pb;
use oms_proto::inventory::v1::inventory_ledger_client::InventoryLedgerClient;
use oms_service::testing::Testbed;
use oms_service::{Outboxes, Wiring};
use oms_transport::{KafkaConfig, Message};
use prost::Message as _;
use tonic::transport::Channel;

pub type Client = InventoryLedgerClient<Channel>;

pub struct Rig {
    /// Kafka rigs only.
    pub testbed: Option<Testbed>,
    pub kafka: Option<KafkaConfig>,
    /// Keeps the embedded rigs' store.
    pub store: Option<TestStore>,
    pub service: Option<RunningInventory>,
    pub client: Client,
}

impl Rig {
    /// The ledger on PostgreSQL and Kafka (a tansu broker of its own).
    pub async fn kafka() -> Self {
        let mut testbed = Testbed::kafka("inventory-test").await;
        let store = testbed.store().await;
        let service = testing::start(testing::config(store), testbed.wiring(), Arc::new(SystemClock)).await;
        Self::of(Some(testbed), None, service).await
    }

    /// The ledger on its own, in-process wiring, with the given clock.
    pub async fn embedded(clock: SharedClock) -> Self {
        Self::in_process(TestStore::new(TestBackend::Sqlite).await, clock).await
    }

    /// The ledger on PostgreSQL (a schema of its own), in-process wiring, with the given clock.
    pub async fn postgres(clock: SharedClock) -> Self {
        Self::in_process(TestStore::new(TestBackend::Postgres).await, clock).await
    }

    async fn in_process(store: TestStore, clock: SharedClock) -> Self {
        let config = testing::config(store.config.clone());
        let service = testing::start(config, Wiring::InProcess(Outboxes::new()), clock).await;
        Self::of(None, Some(store), service).await
    }

    async fn of(testbed: Option<Testbed>, store: Option<TestStore>, service: RunningInventory) -> Self {
        let client = testing::client(&service).await;
        Self {
            kafka: testbed.as_ref().map(|t| t.kafka_config().clone()),
            testbed,
            store,
            service: Some(service),
            client,
        }
    }

    pub fn service(&self) -> &RunningInventory {
        self.service.as_ref().expect("running")
    }

    pub async fn stop(mut self) {
        if let Some(service) = self.service.take() {
            service.stop().await;
        }
    }

    pub async fn add_store(&mut self, id: &str) {
        add_location(&mut self.client, id, pb::LocationType::Store).await;
    }

    /// Produces `payload` on `topic` with `key`.
    pub async fn produce(&self, topic: &str, key: &str, payload: Vec<u8>) {
        oms_transport::testing::produce(self.kafka.as_ref().expect("a Kafka rig"), topic, key, &payload).await;
    }

    /// Reads `topic` from the start until `enough` says so (or a minute passes).
    pub async fn read_topic(&self, topic: &str, group: &str, enough: impl FnMut(&[Message]) -> bool) -> Vec<Message> {
        oms_transport::testing::read_topic(self.kafka.as_ref().expect("a Kafka rig"), topic, group, enough).await
    }

    pub async fn availability(&mut self, sku: &str, channel: &str) -> pb::SkuAvailability {
        let request = pb::GetAvailabilityRequest {
            skus: vec![sku.into()],
            location_ids: vec![],
            channel: channel.into(),
        };
        self.client
            .get_availability(request)
            .await
            .unwrap()
            .into_inner()
            .skus
            .remove(0)
    }
}

/// A client of the API at `url`, once it answers.
pub async fn connect_to(url: &str) -> Client {
    let addr = url.trim_start_matches("http://").parse().expect("http://host:port");
    InventoryLedgerClient::new(oms_service::testing::channel(addr).await)
}

pub async fn add_location(client: &mut Client, id: &str, kind: pb::LocationType) {
    client
        .upsert_location(pb::Location {
            location_id: id.into(),
            r#type: kind as i32,
            name: format!("Location {id}"),
            active: true,
            ..Default::default()
        })
        .await
        .unwrap();
}

pub fn movement(
    id: &str,
    location: &str,
    sku: &str,
    kind: oms_proto::pos::v1::MovementKind,
    quantity: i64,
) -> oms_proto::pos::v1::StockMovement {
    oms_proto::pos::v1::StockMovement {
        movement_id: id.into(),
        location_id: location.into(),
        sku: sku.into(),
        kind: kind as i32,
        quantity,
        occurred_at: Some(oms_service::convert::timestamp(chrono::Utc::now())),
        ..Default::default()
    }
}

pub fn encode<M: prost::Message>(message: &M) -> Vec<u8> {
    message.encode_to_vec()
}

// Not every test binary waits on a condition.
#[allow(unused_imports)]
pub use oms_transport::testing::wait_until;

pub fn decode_inventory(message: &Message) -> Option<pb::inventory_event::Event> {
    pb::InventoryEvent::decode(message.payload.as_slice()).ok()?.event
}
