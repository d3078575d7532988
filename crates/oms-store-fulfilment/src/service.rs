//! The running service: jobs, the staff API, the consumers of routing's requests and the
//! nodes' confirmations, the deadline watch, and (on Kafka) the outbox relay, started
//! together and stopped in order.

use std::time::Duration;

use oms_eventsourcing::clock::SharedClock;
use oms_eventsourcing::{EventStore, StoreConfig, WriterConfig};
use oms_proto::topics;
use oms_service::auth::Access;
use oms_service::grpc::MAX_MESSAGE_BYTES;
use oms_service::{Declared, Running, Wiring};
use tokio::net::TcpListener;
use tonic::service::Routes;

use crate::app::FulfilmentService;
use crate::carriers::Carriers;
use crate::consumers::{NodeConfirmations, RoutingRequests};
use crate::domain::Deadlines;
use crate::grpc::FulfilmentApi;

pub const SERVICE: &str = "store-fulfilment";
pub const GRPC_SERVICE: &str = "oms.fulfilment.v1.StoreFulfilment";

#[derive(Debug, Clone)]
pub struct FulfilmentConfig {
    pub store: StoreConfig,
    pub writer: WriterConfig,
    pub deadlines: Deadlines,
    pub carriers: Carriers,
    /// How often the clock is looked at for deadlines.
    pub deadline_every: Duration,
    /// Who may call its API, and who it is when it calls another service.
    pub access: Access,
}

/// Store fulfilment, running.
pub type RunningFulfilment = Running<FulfilmentService>;

pub async fn start(
    config: FulfilmentConfig,
    wiring: Wiring,
    clock: SharedClock,
    listener: TcpListener,
) -> anyhow::Result<RunningFulfilment> {
    let store = EventStore::connect(&config.store).await?;
    let fulfilment = FulfilmentService::start(
        store.clone(),
        clock,
        config.writer.clone(),
        config.deadlines,
        config.carriers.clone(),
    )
    .await?;
    let api = fulfilment.clone();
    let deadlines = fulfilment.clone();
    let requests = RoutingRequests {
        deadlines: config.deadlines,
    };
    Declared::new(
        SERVICE,
        GRPC_SERVICE,
        &topics::FULFILMENT,
        wiring,
        store,
        fulfilment.writer().clone(),
    )
    .api(move |_| Routes::new(FulfilmentApi::server(api).max_decoding_message_size(MAX_MESSAGE_BYTES)))
    .access(&config.access)
    .consumes(&topics::ROUTING, requests)
    .consumes(&topics::CONFIRMATIONS, NodeConfirmations)
    .task("deadlines", move |stop| {
        deadlines.run_deadlines(config.deadline_every, stop)
    })
    .start(listener, fulfilment)
    .await
}
