//! Test rig for order capture: the real service on PostgreSQL and a tansu broker, a real
//! gRPC client, and orders as channels send them.
#![allow(dead_code)]

use std::sync::Arc;

use oms_eventsourcing::{StoreConfig, SystemClock};
use oms_order_capture::service::RunningOrderCapture;
use oms_order_capture::testing;
use oms_proto::common::v1 as common;
use oms_proto::orders::v1 as pb;
use oms_proto::orders::v1::order_capture_client::OrderCaptureClient;
use oms_service::testing::Testbed;
use oms_transport::{KafkaConfig, Message};
use tonic::transport::Channel;

// Not every test file waits on its own.
#[allow(unused_imports)]
pub use oms_transport::testing::{produce, wait_until};

pub type Client = OrderCaptureClient<Channel>;

pub struct Rig {
    pub testbed: Testbed,
    pub kafka: KafkaConfig,
    pub store: StoreConfig,
    pub service: Option<RunningOrderCapture>,
    pub client: Client,
}

impl Rig {
    pub async fn start() -> Self {
        let mut testbed = Testbed::kafka("orders-test").await;
        let store = testbed.store().await;
        let service = testing::start(testing::config(store.clone()), testbed.wiring(), Arc::new(SystemClock)).await;
        let client = testing::client(&service).await;
        Self {
            kafka: testbed.kafka_config().clone(),
            testbed,
            store,
            service: Some(service),
            client,
        }
    }

    pub async fn stop(mut self) {
        if let Some(service) = self.service.take() {
            service.stop().await;
        }
    }

    pub async fn produce(&self, topic: &str, key: &str, payload: Vec<u8>) {
        produce(&self.kafka, topic, key, &payload).await;
    }

    pub async fn read_topic(&self, topic: &str, group: &str, enough: impl FnMut(&[Message]) -> bool) -> Vec<Message> {
        oms_transport::testing::read_topic(&self.kafka, topic, group, enough).await
    }

    pub async fn order(&mut self, order_id: &str) -> pb::Order {
        self.client
            .get_order(pb::GetOrderRequest {
                order_id: order_id.into(),
            })
            .await
            .unwrap()
            .into_inner()
    }

    /// Waits until the order's status is `status`.
    pub async fn wait_for_status(&self, order_id: &str, status: pb::OrderStatus) {
        oms_order_capture::testing::wait_for_status(&self.client, order_id, status).await;
    }
}

/// A client of the API at `url`, once it answers.
pub async fn connect_to(url: &str) -> Client {
    let addr = url.trim_start_matches("http://").parse().expect("http://host:port");
    OrderCaptureClient::new(oms_service::testing::channel(addr).await)
}

pub fn money(amount_minor: i64) -> Option<common::Money> {
    Some(common::Money {
        amount_minor,
        currency: "EUR".into(),
    })
}

/// A web order of customer C-42's of two lines, shipped standard to Berlin Mitte.
pub fn web_order(external_id: &str) -> pb::OrderDraft {
    let mut draft = testing::web_order(external_id, &[("SKU-1", 2, 1_000), ("SKU-2", 1, 2_500)]);
    if let Some(customer) = draft.customer.as_mut() {
        customer.customer_id = "C-42".into();
    }
    draft.payments[0].reference = "psp-1".into();
    draft
}
