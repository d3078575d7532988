//! The running service: the ledger, its gRPC API, its consumers, its timers and (on Kafka)
//! its outbox relay, started together and stopped in order.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use oms_eventsourcing::clock::SharedClock;
use oms_eventsourcing::{EventStore, StoreConfig, WriterConfig};
use oms_service::grpc::MAX_MESSAGE_BYTES;
use oms_service::wiring::Publisher;
use oms_service::{Tasks, Wiring, assemble};
use tokio::net::TcpListener;
use tonic::service::Routes;

use crate::app::Inventory;
use crate::consumers::{
    FULFILMENT_TOPIC, FulfilmentEvents, POS_TOPIC, PosMovements, RETURNS_TOPIC, ROUTING_TOPIC, ReturnEvents,
    RoutingEvents,
};
use crate::domain::LedgerPolicy;
use crate::grpc::InventoryApi;
use crate::messages::TOPIC;

/// The service's name: its consumer groups, `ce_source`, and its outbox in the embedded mode.
pub const SERVICE: &str = "inventory-ledger";
/// The gRPC service name, for health checks.
pub const GRPC_SERVICE: &str = "oms.inventory.v1.InventoryLedger";

#[derive(Debug, Clone)]
pub struct InventoryConfig {
    pub store: StoreConfig,
    pub policy: LedgerPolicy,
    pub writer: WriterConfig,
    /// How often the clock is looked at for lapsed reservations.
    pub expiry_every: Duration,
}

/// A started service.
pub struct RunningInventory {
    pub inventory: Inventory,
    pub addr: SocketAddr,
    pub store: EventStore,
    tasks: Tasks,
}

impl RunningInventory {
    /// Stops in order: no new calls (those in flight finish), consumers finish their batch,
    /// timers stop, the writer drains and snapshots, the relay flushes the outbox.
    pub async fn stop(self) {
        self.tasks.stop().await;
    }
}

impl oms_service::process::Running for RunningInventory {
    async fn stop(self) {
        RunningInventory::stop(self).await;
    }
}

/// Starts the ledger on `listener`.
pub async fn start(
    config: InventoryConfig,
    wiring: Wiring,
    clock: SharedClock,
    listener: TcpListener,
) -> anyhow::Result<RunningInventory> {
    let store = EventStore::connect(&config.store).await?;
    assemble::topics(
        &wiring,
        TOPIC,
        &[POS_TOPIC, FULFILMENT_TOPIC, RETURNS_TOPIC, ROUTING_TOPIC],
    )
    .await?;
    let inventory = Inventory::start(store.clone(), clock, config.policy.clone(), config.writer.clone()).await?;
    assemble::publish_outbox(&wiring, SERVICE, &store);
    let addr = listener.local_addr()?;
    let mut tasks = Tasks::new();
    let api = inventory.clone();
    assemble::grpc(
        &mut tasks,
        listener,
        inventory.writer(),
        move |stopping| Routes::new(InventoryApi::server(api, stopping).max_decoding_message_size(MAX_MESSAGE_BYTES)),
        &[GRPC_SERVICE],
    );
    let writer = inventory.writer();
    let policy = Arc::new(config.policy.clone());
    let pos = PosMovements { policy };
    assemble::consumer(
        &mut tasks,
        &wiring,
        writer,
        "inventory-ledger.pos",
        Publisher::External,
        POS_TOPIC,
        pos,
    )
    .await?;
    let fulfilment = Publisher::Service("store-fulfilment");
    assemble::consumer(
        &mut tasks,
        &wiring,
        writer,
        "inventory-ledger.fulfilment",
        fulfilment,
        FULFILMENT_TOPIC,
        FulfilmentEvents,
    )
    .await?;
    let returns = Publisher::Service("returns");
    assemble::consumer(
        &mut tasks,
        &wiring,
        writer,
        "inventory-ledger.returns",
        returns,
        RETURNS_TOPIC,
        ReturnEvents,
    )
    .await?;
    let routing = Publisher::Service("routing");
    assemble::consumer(
        &mut tasks,
        &wiring,
        writer,
        "inventory-ledger.routing",
        routing,
        ROUTING_TOPIC,
        RoutingEvents,
    )
    .await?;
    let stop = tasks.stage("timers");
    tasks.spawn(inventory.clone().run_expiry(config.expiry_every, stop));
    assemble::writer(&mut tasks, writer);
    assemble::relay(&mut tasks, &wiring, &store, SERVICE)?;
    tracing::info!(%addr, service = SERVICE, "inventory ledger serving");
    Ok(RunningInventory {
        inventory,
        addr,
        store,
        tasks,
    })
}
