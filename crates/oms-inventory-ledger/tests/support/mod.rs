//! Test rig for the ledger: the real service on PostgreSQL, a real tansu broker, a real
//! gRPC client.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use oms_eventsourcing::clock::SharedClock;
use oms_eventsourcing::testing::{TestBackend, TestStore};
use oms_eventsourcing::{SystemClock, WriterConfig};
use oms_inventory_ledger::domain::LedgerPolicy;
use oms_inventory_ledger::service::{self, InventoryConfig, RunningInventory};
use oms_proto::inventory::v1 as pb;
use oms_proto::inventory::v1::inventory_ledger_client::InventoryLedgerClient;
use oms_service::{Outboxes, Wiring};
use oms_transport::testing::TansuBroker;
use oms_transport::{KafkaConfig, Message};
use prost::Message as _;
use tonic::transport::Channel;

pub type Client = InventoryLedgerClient<Channel>;

pub struct Rig {
    pub broker: Option<TansuBroker>,
    pub kafka: Option<KafkaConfig>,
    pub store: TestStore,
    pub service: Option<RunningInventory>,
    pub client: Client,
}

impl Rig {
    /// The ledger on PostgreSQL and Kafka (a tansu broker of its own).
    pub async fn kafka() -> Self {
        let broker = tokio::task::spawn_blocking(TansuBroker::start).await.unwrap();
        let kafka = broker.config("inventory-test");
        let store = TestStore::new(TestBackend::Postgres).await;
        let service = start(&store, Wiring::Kafka(kafka.clone()), Arc::new(SystemClock)).await;
        let client = connect(&service).await;
        Self {
            broker: Some(broker),
            kafka: Some(kafka),
            store,
            service: Some(service),
            client,
        }
    }

    /// The ledger on its own, in-process wiring, with the given clock.
    pub async fn embedded(clock: SharedClock) -> Self {
        let store = TestStore::new(TestBackend::Sqlite).await;
        let service = start(&store, Wiring::InProcess(Outboxes::new()), clock).await;
        let client = connect(&service).await;
        Self {
            broker: None,
            kafka: None,
            store,
            service: Some(service),
            client,
        }
    }

    /// The ledger on PostgreSQL (a schema of its own), in-process wiring, with the given clock.
    pub async fn postgres(clock: SharedClock) -> Self {
        let store = TestStore::new(TestBackend::Postgres).await;
        let service = start(&store, Wiring::InProcess(Outboxes::new()), clock).await;
        let client = connect(&service).await;
        Self {
            broker: None,
            kafka: None,
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

pub async fn start(store: &TestStore, wiring: Wiring, clock: SharedClock) -> RunningInventory {
    let config = InventoryConfig {
        store: store.config.clone(),
        policy: LedgerPolicy::default(),
        writer: WriterConfig::default(),
        expiry_every: Duration::from_millis(50),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    service::start(config, wiring, clock, listener)
        .await
        .expect("the ledger starts")
}

pub async fn connect(service: &RunningInventory) -> Client {
    connect_to(&format!("http://{}", service.addr)).await
}

pub async fn connect_to(url: &str) -> Client {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match InventoryLedgerClient::connect(url.to_owned()).await {
            Ok(client) => return client,
            Err(e) if Instant::now() > deadline => panic!("cannot connect to {url}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
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
