//! The running service: jobs, the staff API, the consumers of routing's requests and the
//! nodes' confirmations, the deadline watch, and (on Kafka) the outbox relay, started
//! together and stopped in order.

use std::net::SocketAddr;
use std::time::Duration;

use oms_eventsourcing::clock::SharedClock;
use oms_eventsourcing::{EventStore, StoreConfig, WriterConfig};
use oms_service::grpc::MAX_MESSAGE_BYTES;
use oms_service::wiring::Publisher;
use oms_service::{Tasks, Wiring, assemble};
use tokio::net::TcpListener;
use tonic::service::Routes;

use crate::app::FulfilmentService;
use crate::carriers::Carriers;
use crate::consumers::{CONFIRMATIONS_TOPIC, NodeConfirmations, ROUTING_TOPIC, RoutingRequests};
use crate::domain::Deadlines;
use crate::grpc::FulfilmentApi;
use crate::messages::TOPIC;

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
}

pub struct RunningFulfilment {
    pub fulfilment: FulfilmentService,
    pub addr: SocketAddr,
    pub store: EventStore,
    tasks: Tasks,
}

impl RunningFulfilment {
    /// Stops in order: no new calls, consumers finish their batch, the deadline watch
    /// stops, the writer drains, the relay flushes.
    pub async fn stop(self) {
        self.tasks.stop().await;
    }
}

impl oms_service::process::Running for RunningFulfilment {
    async fn stop(self) {
        RunningFulfilment::stop(self).await;
    }
}

pub async fn start(
    config: FulfilmentConfig,
    wiring: Wiring,
    clock: SharedClock,
    listener: TcpListener,
) -> anyhow::Result<RunningFulfilment> {
    let store = EventStore::connect(&config.store).await?;
    assemble::topics(&wiring, TOPIC, &[ROUTING_TOPIC, CONFIRMATIONS_TOPIC]).await?;
    let fulfilment = FulfilmentService::start(
        store.clone(),
        clock,
        config.writer.clone(),
        config.deadlines,
        config.carriers.clone(),
    )
    .await?;
    assemble::publish_outbox(&wiring, SERVICE, &store);
    let addr = listener.local_addr()?;
    let mut tasks = Tasks::new();
    let api = fulfilment.clone();
    assemble::grpc(
        &mut tasks,
        listener,
        fulfilment.writer(),
        move |_| Routes::new(FulfilmentApi::server(api).max_decoding_message_size(MAX_MESSAGE_BYTES)),
        &[GRPC_SERVICE],
    );
    let writer = fulfilment.writer();
    let requests = RoutingRequests {
        deadlines: config.deadlines,
    };
    let routing = Publisher::Service("routing");
    assemble::consumer(
        &mut tasks,
        &wiring,
        writer,
        "store-fulfilment.routing",
        routing,
        ROUTING_TOPIC,
        requests,
    )
    .await?;
    assemble::consumer(
        &mut tasks,
        &wiring,
        writer,
        "store-fulfilment.confirmations",
        Publisher::External,
        CONFIRMATIONS_TOPIC,
        NodeConfirmations,
    )
    .await?;
    let stop = tasks.stage("deadlines");
    tasks.spawn(fulfilment.clone().run_deadlines(config.deadline_every, stop));
    assemble::writer(&mut tasks, writer);
    assemble::relay(&mut tasks, &wiring, &store, SERVICE)?;
    tracing::info!(%addr, service = SERVICE, "store fulfilment serving");
    Ok(RunningFulfilment {
        fulfilment,
        addr,
        store,
        tasks,
    })
}
