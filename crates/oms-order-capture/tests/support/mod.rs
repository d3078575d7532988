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
        let client = self.client.clone();
        let id = order_id.to_owned();
        wait_until(&format!("order {order_id} is {status:?}"), || {
            let mut client = client.clone();
            let id = id.clone();
            async move {
                client
                    .get_order(pb::GetOrderRequest { order_id: id })
                    .await
                    .is_ok_and(|o| o.into_inner().status == status as i32)
            }
        })
        .await;
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

/// A web order of two lines, shipped standard to Berlin.
pub fn web_order(external_id: &str) -> pb::OrderDraft {
    pb::OrderDraft {
        channel: pb::Channel::Web as i32,
        external_order_id: external_id.into(),
        customer: Some(pb::Customer {
            customer_id: "C-42".into(),
            name: "Ada".into(),
            email: "ada@example.com".into(),
            phone: String::new(),
        }),
        lines: vec![
            pb::OrderLine {
                line_id: "1".into(),
                sku: "SKU-1".into(),
                quantity: 2,
                unit_price: money(1_000),
                description: String::new(),
            },
            pb::OrderLine {
                line_id: "2".into(),
                sku: "SKU-2".into(),
                quantity: 1,
                unit_price: money(2_500),
                description: String::new(),
            },
        ],
        currency: "EUR".into(),
        delivery_method: pb::DeliveryMethod::Standard as i32,
        shipping_address: Some(common::Address {
            name: "Ada Lovelace".into(),
            lines: vec!["Unter den Linden 1".into()],
            city: "Berlin".into(),
            postal_code: "10117".into(),
            country: "DE".into(),
            location: Some(common::GeoPoint {
                latitude: 52.517,
                longitude: 13.389,
            }),
            ..Default::default()
        }),
        payments: vec![pb::Payment {
            reference: "psp-1".into(),
            tender: pb::TenderType::Card as i32,
            authorised: money(4_500),
        }],
        priority: pb::Priority::Normal as i32,
        ..Default::default()
    }
}
