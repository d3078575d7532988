//! The running service: orders, the gRPC API, the consumers and (on Kafka) the outbox
//! relay, started together and stopped in order.

use oms_eventsourcing::clock::SharedClock;
use oms_eventsourcing::{EventStore, StoreConfig, WriterConfig};
use oms_proto::topics;
use oms_service::auth::Access;
use oms_service::grpc::MAX_MESSAGE_BYTES;
use oms_service::{Declared, Running, Wiring};
use tokio::net::TcpListener;
use tonic::service::Routes;

use crate::app::OrderCapture;
use crate::consumers::{ChannelOrders, FulfilmentEvents, ReturnEvents, RoutingEvents};
use crate::grpc::OrdersApi;

pub const SERVICE: &str = "order-capture";
pub const GRPC_SERVICE: &str = "oms.orders.v1.OrderCapture";

#[derive(Debug, Clone)]
pub struct OrderCaptureConfig {
    pub store: StoreConfig,
    pub writer: WriterConfig,
    /// Who may call its API, and who it is when it calls another service.
    pub access: Access,
}

/// Order capture, running.
pub type RunningOrderCapture = Running<OrderCapture>;

pub async fn start(
    config: OrderCaptureConfig,
    wiring: Wiring,
    clock: SharedClock,
    listener: TcpListener,
) -> anyhow::Result<RunningOrderCapture> {
    let store = EventStore::connect(&config.store).await?;
    let orders = OrderCapture::start(store.clone(), clock, config.writer.clone()).await?;
    let api = orders.clone();
    Declared::new(
        SERVICE,
        GRPC_SERVICE,
        &topics::ORDERS,
        wiring,
        store,
        orders.writer().clone(),
    )
    .api(move |_| Routes::new(OrdersApi::server(api).max_decoding_message_size(MAX_MESSAGE_BYTES)))
    .access(&config.access)
    .consumes(&topics::CHANNEL_ORDERS, ChannelOrders)
    .consumes(&topics::ROUTING, RoutingEvents)
    .consumes(&topics::FULFILMENT, FulfilmentEvents)
    .consumes(&topics::RETURNS, ReturnEvents)
    .start(listener, orders)
    .await
}
