//! The running service: orders, the gRPC API, the consumers and (on Kafka) the outbox
//! relay, started together and stopped in order.

use std::net::SocketAddr;

use oms_eventsourcing::clock::SharedClock;
use oms_eventsourcing::{EventStore, StoreConfig, WriterConfig};
use oms_service::grpc::MAX_MESSAGE_BYTES;
use oms_service::wiring::Publisher;
use oms_service::{Tasks, Wiring, assemble};
use tokio::net::TcpListener;
use tonic::service::Routes;

use crate::app::OrderCapture;
use crate::consumers::{
    CHANNEL_ORDERS_TOPIC, ChannelOrders, FULFILMENT_TOPIC, FulfilmentEvents, RETURNS_TOPIC, ROUTING_TOPIC,
    ReturnEvents, RoutingEvents,
};
use crate::grpc::OrdersApi;
use crate::messages::TOPIC;

pub const SERVICE: &str = "order-capture";
pub const GRPC_SERVICE: &str = "oms.orders.v1.OrderCapture";

#[derive(Debug, Clone)]
pub struct OrderCaptureConfig {
    pub store: StoreConfig,
    pub writer: WriterConfig,
}

pub struct RunningOrderCapture {
    pub orders: OrderCapture,
    pub addr: SocketAddr,
    pub store: EventStore,
    tasks: Tasks,
}

impl RunningOrderCapture {
    /// Stops in order: no new calls, consumers finish their batch, the writer drains, the
    /// relay flushes.
    pub async fn stop(self) {
        self.tasks.stop().await;
    }
}

impl oms_service::process::Running for RunningOrderCapture {
    async fn stop(self) {
        RunningOrderCapture::stop(self).await;
    }
}

pub async fn start(
    config: OrderCaptureConfig,
    wiring: Wiring,
    clock: SharedClock,
    listener: TcpListener,
) -> anyhow::Result<RunningOrderCapture> {
    let store = EventStore::connect(&config.store).await?;
    assemble::topics(
        &wiring,
        TOPIC,
        &[CHANNEL_ORDERS_TOPIC, ROUTING_TOPIC, FULFILMENT_TOPIC, RETURNS_TOPIC],
    )
    .await?;
    let orders = OrderCapture::start(store.clone(), clock, config.writer.clone()).await?;
    assemble::publish_outbox(&wiring, SERVICE, &store);
    let addr = listener.local_addr()?;
    let mut tasks = Tasks::new();
    let api = orders.clone();
    assemble::grpc(
        &mut tasks,
        listener,
        orders.writer(),
        move |_| Routes::new(OrdersApi::server(api).max_decoding_message_size(MAX_MESSAGE_BYTES)),
        &[GRPC_SERVICE],
    );
    let writer = orders.writer();
    let consumer = |name, publisher, topic| (name, publisher, topic);
    let (name, from, topic) = consumer(
        "order-capture.channel-orders",
        Publisher::External,
        CHANNEL_ORDERS_TOPIC,
    );
    assemble::consumer(&mut tasks, &wiring, writer, name, from, topic, ChannelOrders).await?;
    let (name, from, topic) = consumer("order-capture.routing", Publisher::Service("routing"), ROUTING_TOPIC);
    assemble::consumer(&mut tasks, &wiring, writer, name, from, topic, RoutingEvents).await?;
    let (name, from, topic) = consumer(
        "order-capture.fulfilment",
        Publisher::Service("store-fulfilment"),
        FULFILMENT_TOPIC,
    );
    assemble::consumer(&mut tasks, &wiring, writer, name, from, topic, FulfilmentEvents).await?;
    let (name, from, topic) = consumer("order-capture.returns", Publisher::Service("returns"), RETURNS_TOPIC);
    assemble::consumer(&mut tasks, &wiring, writer, name, from, topic, ReturnEvents).await?;
    assemble::writer(&mut tasks, writer);
    assemble::relay(&mut tasks, &wiring, &store, SERVICE)?;
    tracing::info!(%addr, service = SERVICE, "order capture serving");
    Ok(RunningOrderCapture {
        orders,
        addr,
        store,
        tasks,
    })
}
