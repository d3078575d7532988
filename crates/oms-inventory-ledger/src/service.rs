//! The running service: the ledger, its gRPC API, its consumers, its timers and (on Kafka)
//! its outbox relay, started together and stopped in order.

use std::sync::Arc;
use std::time::Duration;

use oms_eventsourcing::clock::SharedClock;
use oms_eventsourcing::{EventStore, StoreConfig, WriterConfig};
use oms_proto::topics;
use oms_service::auth::Access;
use oms_service::grpc::MAX_MESSAGE_BYTES;
use oms_service::{Declared, Running, Wiring};
use tokio::net::TcpListener;
use tonic::service::Routes;

use crate::app::Inventory;
use crate::consumers::{FulfilmentEvents, PosMovements, ReturnEvents, RoutingEvents};
use crate::domain::LedgerPolicy;
use crate::grpc::InventoryApi;

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
    /// Who may call its API, and who it is when it calls another service.
    pub access: Access,
}

/// The ledger, running.
pub type RunningInventory = Running<Inventory>;

/// Starts the ledger on `listener`.
pub async fn start(
    config: InventoryConfig,
    wiring: Wiring,
    clock: SharedClock,
    listener: TcpListener,
) -> anyhow::Result<RunningInventory> {
    let store = EventStore::connect(&config.store).await?;
    let inventory = Inventory::start(store.clone(), clock, config.policy.clone(), config.writer.clone()).await?;
    let api = inventory.clone();
    let timers = inventory.clone();
    let pos = PosMovements {
        policy: Arc::new(config.policy.clone()),
    };
    Declared::new(
        SERVICE,
        GRPC_SERVICE,
        &topics::INVENTORY,
        wiring,
        store,
        inventory.writer().clone(),
    )
    .api(move |stopping| Routes::new(InventoryApi::server(api, stopping).max_decoding_message_size(MAX_MESSAGE_BYTES)))
    .access(&config.access)
    .consumes(&topics::POS_MOVEMENTS, pos)
    .consumes(&topics::FULFILMENT, FulfilmentEvents)
    .consumes(&topics::RETURNS, ReturnEvents)
    .consumes(&topics::ROUTING, RoutingEvents)
    .task("timers", move |stop| timers.run_expiry(config.expiry_every, stop))
    .start(listener, inventory)
    .await
}
