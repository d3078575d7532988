//! The running service: returns, the API, the consumers of orders, deliveries and payment
//! results, and (on Kafka) the outbox relay, started together and stopped in order.

use oms_eventsourcing::clock::SharedClock;
use oms_eventsourcing::{EventStore, StoreConfig, WriterConfig};
use oms_proto::topics;
use oms_service::auth::Access;
use oms_service::grpc::MAX_MESSAGE_BYTES;
use oms_service::{Declared, Running, Wiring};
use tokio::net::TcpListener;
use tonic::service::Routes;

use crate::app::ReturnsService;
use crate::consumers::{FulfilmentEvents, OrderEvents, PaymentResults};
use crate::domain::Policy;
use crate::grpc::ReturnsGrpc;

pub const SERVICE: &str = "returns";
pub const GRPC_SERVICE: &str = "oms.returns.v1.Returns";

#[derive(Debug, Clone)]
pub struct ReturnsConfig {
    pub store: StoreConfig,
    pub writer: WriterConfig,
    pub policy: Policy,
    /// Order capture's gRPC address, where exchanges place their replacement orders.
    pub orders_url: String,
    /// Who may call its API, and who it is when it calls another service.
    pub access: Access,
}

/// Returns, running.
pub type RunningReturns = Running<ReturnsService>;

pub async fn start(
    config: ReturnsConfig,
    wiring: Wiring,
    clock: SharedClock,
    listener: TcpListener,
) -> anyhow::Result<RunningReturns> {
    let store = EventStore::connect(&config.store).await?;
    let returns = ReturnsService::start(
        store.clone(),
        clock,
        config.writer.clone(),
        config.policy,
        &config.orders_url,
        &config.access,
    )
    .await?;
    let api = returns.clone();
    Declared::new(
        SERVICE,
        GRPC_SERVICE,
        &topics::RETURNS,
        wiring,
        store,
        returns.writer().clone(),
    )
    .api(move |_| Routes::new(ReturnsGrpc::server(api).max_decoding_message_size(MAX_MESSAGE_BYTES)))
    .access(&config.access)
    .consumes(&topics::ORDERS, OrderEvents)
    .consumes(&topics::FULFILMENT, FulfilmentEvents)
    .consumes(&topics::PAYMENTS, PaymentResults)
    .start(listener, returns)
    .await
}
