//! The running service: routing's state, the gRPC API, the availability read model fed by
//! the ledger's events, the consumers of orders and node reports, the router, and (on
//! Kafka) the outbox relay, started together and stopped in order.

use std::sync::Arc;

use oms_eventsourcing::clock::SharedClock;
use oms_eventsourcing::{EventStore, StoreConfig, WriterConfig};
use oms_proto::topics;
use oms_service::auth::Access;
use oms_service::grpc::MAX_MESSAGE_BYTES;
use oms_service::{Declared, Running, Wiring};
use oms_transport::Projector;
use tokio::net::TcpListener;
use tonic::service::Routes;

use crate::app::RoutingService;
use crate::availability::{self, Availability};
use crate::consumers::{FulfilmentEvents, OrderEvents};
use crate::grpc::RoutingGrpc;
use crate::ledger::LedgerClient;
use crate::router::{Router, RouterConfig};

pub const SERVICE: &str = "routing";
pub const GRPC_SERVICE: &str = "oms.routing.v1.Routing";

#[derive(Debug, Clone)]
pub struct RoutingConfig {
    pub store: StoreConfig,
    pub writer: WriterConfig,
    pub router: RouterConfig,
    /// The inventory ledger's gRPC address (http://host:port).
    pub ledger_url: String,
    /// How long a routed order's reservation holds its units when nothing consumes or
    /// releases it.
    pub reservation_ttl: std::time::Duration,
    /// Who may call its API, and who it is when it calls another service.
    pub access: Access,
}

/// Routing, running.
pub type RunningRouting = Running<RoutingService>;

pub async fn start(
    config: RoutingConfig,
    wiring: Wiring,
    clock: SharedClock,
    listener: TcpListener,
) -> anyhow::Result<RunningRouting> {
    let store = EventStore::connect(&config.store).await?;
    let ledger = LedgerClient::new(&config.ledger_url, &config.access, config.reservation_ttl)?;
    let availability = Arc::new(Availability::new());
    let projector = Projector::new(store.clone(), availability::PROJECTION, availability.clone());
    let rows = projector.load().await?;
    tracing::info!(rows, "availability loaded");
    let routing = RoutingService::start(store.clone(), clock, config.writer.clone(), availability).await?;
    let api = routing.clone();
    let router = Router::new(routing.clone(), ledger, config.router.clone());
    Declared::new(
        SERVICE,
        GRPC_SERVICE,
        &topics::ROUTING,
        wiring,
        store,
        routing.writer().clone(),
    )
    .api(move |_| Routes::new(RoutingGrpc::server(api).max_decoding_message_size(MAX_MESSAGE_BYTES)))
    .access(&config.access)
    .consumes(&topics::ORDERS, OrderEvents)
    .consumes(&topics::FULFILMENT, FulfilmentEvents)
    .follows(&topics::INVENTORY, availability::PROJECTION, move |source, stop| {
        Box::pin(projector.run(source, stop))
    })
    .task("router", move |stop| router.run(stop))
    .start(listener, routing)
    .await
}
