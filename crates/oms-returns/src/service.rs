//! The running service: returns, the API, the consumers of orders, deliveries and payment
//! results, and (on Kafka) the outbox relay, started together and stopped in order.

use std::net::SocketAddr;

use oms_eventsourcing::clock::SharedClock;
use oms_eventsourcing::{EventStore, StoreConfig, WriterConfig};
use oms_service::grpc::MAX_MESSAGE_BYTES;
use oms_service::wiring::Publisher;
use oms_service::{Tasks, Wiring, assemble};
use tokio::net::TcpListener;
use tonic::service::Routes;

use crate::app::ReturnsService;
use crate::consumers::{FULFILMENT_TOPIC, FulfilmentEvents, ORDERS_TOPIC, OrderEvents, PAYMENTS_TOPIC, PaymentResults};
use crate::domain::Policy;
use crate::grpc::ReturnsGrpc;
use crate::messages::TOPIC;

pub const SERVICE: &str = "returns";
pub const GRPC_SERVICE: &str = "oms.returns.v1.Returns";

#[derive(Debug, Clone)]
pub struct ReturnsConfig {
    pub store: StoreConfig,
    pub writer: WriterConfig,
    pub policy: Policy,
    /// Order capture's gRPC address, where exchanges place their replacement orders.
    pub orders_url: String,
}

pub struct RunningReturns {
    pub returns: ReturnsService,
    pub addr: SocketAddr,
    pub store: EventStore,
    tasks: Tasks,
}

impl RunningReturns {
    pub async fn stop(self) {
        self.tasks.stop().await;
    }
}

impl oms_service::process::Running for RunningReturns {
    async fn stop(self) {
        RunningReturns::stop(self).await;
    }
}

pub async fn start(
    config: ReturnsConfig,
    wiring: Wiring,
    clock: SharedClock,
    listener: TcpListener,
) -> anyhow::Result<RunningReturns> {
    let store = EventStore::connect(&config.store).await?;
    assemble::topics(&wiring, TOPIC, &[ORDERS_TOPIC, FULFILMENT_TOPIC, PAYMENTS_TOPIC]).await?;
    let returns = ReturnsService::start(
        store.clone(),
        clock,
        config.writer.clone(),
        config.policy,
        &config.orders_url,
    )
    .await?;
    assemble::publish_outbox(&wiring, SERVICE, &store);
    let addr = listener.local_addr()?;
    let mut tasks = Tasks::new();
    let api = returns.clone();
    assemble::grpc(
        &mut tasks,
        listener,
        returns.writer(),
        move |_| Routes::new(ReturnsGrpc::server(api).max_decoding_message_size(MAX_MESSAGE_BYTES)),
        &[GRPC_SERVICE],
    );
    let writer = returns.writer();
    let orders = Publisher::Service("order-capture");
    assemble::consumer(
        &mut tasks,
        &wiring,
        writer,
        "returns.orders",
        orders,
        ORDERS_TOPIC,
        OrderEvents,
    )
    .await?;
    let fulfilment = Publisher::Service("store-fulfilment");
    assemble::consumer(
        &mut tasks,
        &wiring,
        writer,
        "returns.fulfilment",
        fulfilment,
        FULFILMENT_TOPIC,
        FulfilmentEvents,
    )
    .await?;
    assemble::consumer(
        &mut tasks,
        &wiring,
        writer,
        "returns.payments",
        Publisher::External,
        PAYMENTS_TOPIC,
        PaymentResults,
    )
    .await?;
    assemble::writer(&mut tasks, writer);
    assemble::relay(&mut tasks, &wiring, &store, SERVICE)?;
    tracing::info!(%addr, service = SERVICE, "returns serving");
    Ok(RunningReturns {
        returns,
        addr,
        store,
        tasks,
    })
}
