//! The running service: routing's state, the gRPC API, the availability read model fed by
//! the ledger's events, the consumers of orders and node reports, the router, and (on
//! Kafka) the outbox relay, started together and stopped in order.

use std::net::SocketAddr;
use std::sync::Arc;

use oms_eventsourcing::clock::SharedClock;
use oms_eventsourcing::{EventStore, StoreConfig, WriterConfig};
use oms_service::grpc::MAX_MESSAGE_BYTES;
use oms_service::wiring::Publisher;
use oms_service::{Tasks, Wiring, assemble};
use oms_transport::Projector;
use tokio::net::TcpListener;
use tonic::service::Routes;

use crate::app::RoutingService;
use crate::availability::{self, Availability};
use crate::consumers::{FULFILMENT_TOPIC, FulfilmentEvents, ORDERS_TOPIC, OrderEvents};
use crate::grpc::RoutingGrpc;
use crate::ledger::Ledger;
use crate::messages::TOPIC;
use crate::router::{Router, RouterConfig};

pub const SERVICE: &str = "routing";
pub const GRPC_SERVICE: &str = "oms.routing.v1.Routing";
/// The ledger's events, whose positions feed the availability read model.
pub const INVENTORY_TOPIC: &str = "oms.inventory.v1";

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
}

pub struct RunningRouting {
    pub routing: RoutingService,
    pub addr: SocketAddr,
    pub store: EventStore,
    tasks: Tasks,
}

impl RunningRouting {
    /// Stops in order: no new calls, consumers and the read model finish their batch,
    /// the router finishes its attempts, the writer drains, the relay flushes.
    pub async fn stop(self) {
        self.tasks.stop().await;
    }
}

impl oms_service::process::Running for RunningRouting {
    async fn stop(self) {
        RunningRouting::stop(self).await;
    }
}

pub async fn start(
    config: RoutingConfig,
    wiring: Wiring,
    clock: SharedClock,
    listener: TcpListener,
) -> anyhow::Result<RunningRouting> {
    let store = EventStore::connect(&config.store).await?;
    assemble::topics(&wiring, TOPIC, &[ORDERS_TOPIC, FULFILMENT_TOPIC, INVENTORY_TOPIC]).await?;
    let ledger = Ledger::new(&config.ledger_url, config.reservation_ttl)?;
    let availability = Arc::new(Availability::new());
    let projector = Projector::new(store.clone(), availability::PROJECTION, availability.clone());
    let rows = projector.load().await?;
    tracing::info!(rows, "availability loaded");
    let routing = RoutingService::start(store.clone(), clock, config.writer.clone(), availability).await?;
    assemble::publish_outbox(&wiring, SERVICE, &store);
    let addr = listener.local_addr()?;
    let mut tasks = Tasks::new();
    let api = routing.clone();
    assemble::grpc(
        &mut tasks,
        listener,
        routing.writer(),
        move |_| Routes::new(RoutingGrpc::server(api).max_decoding_message_size(MAX_MESSAGE_BYTES)),
        &[GRPC_SERVICE],
    );
    let writer = routing.writer();
    let orders = Publisher::Service("order-capture");
    assemble::consumer(
        &mut tasks,
        &wiring,
        writer,
        "routing.orders",
        orders,
        ORDERS_TOPIC,
        OrderEvents,
    )
    .await?;
    let nodes = Publisher::Service("store-fulfilment");
    assemble::consumer(
        &mut tasks,
        &wiring,
        writer,
        "routing.fulfilment",
        nodes,
        FULFILMENT_TOPIC,
        FulfilmentEvents,
    )
    .await?;
    let inventory = Publisher::Service("inventory-ledger");
    if let Some(source) = wiring
        .source(availability::PROJECTION, &store, inventory, &[INVENTORY_TOPIC])
        .await?
    {
        let stop = tasks.stage("availability");
        tasks.spawn(projector.run(source, stop));
    }
    let router = Router::new(routing.clone(), ledger, config.router.clone());
    let stop = tasks.stage("router");
    tasks.spawn(router.run(stop));
    assemble::writer(&mut tasks, writer);
    assemble::relay(&mut tasks, &wiring, &store, SERVICE)?;
    tracing::info!(%addr, service = SERVICE, "routing serving");
    Ok(RunningRouting {
        routing,
        addr,
        store,
        tasks,
    })
}
