//! Order capture started for a test, on a store of the test's own (see
//! `oms_service::testing::Testbed`), with a client of its API.

use std::sync::Arc;

use oms_eventsourcing::SystemClock;
use oms_eventsourcing::clock::SharedClock;
use oms_eventsourcing::{StoreConfig, WriterConfig};
use oms_proto::common::v1 as common;
use oms_proto::orders::v1 as pb;
use oms_proto::orders::v1::order_capture_client::OrderCaptureClient;
use oms_service::Wiring;
use oms_service::auth::Access;
use oms_service::testing::Testbed;
use tonic::transport::Channel;

use crate::service::{self, OrderCaptureConfig, RunningOrderCapture};

/// Order capture's settings for a test, on `store`.
pub fn config(store: StoreConfig) -> OrderCaptureConfig {
    OrderCaptureConfig {
        store,
        writer: WriterConfig::default(),
        // Tests of what a service does run it without access control; the access
        // suite and the end-to-end journeys run it with.
        access: Access::open(),
    }
}

/// Starts order capture on a free loopback port.
pub async fn start(config: OrderCaptureConfig, wiring: Wiring, clock: SharedClock) -> RunningOrderCapture {
    service::start(config, wiring, clock, oms_service::testing::listener().await)
        .await
        .expect("order capture starts")
}

/// Starts order capture with these settings on a store of `testbed`'s, on its broker, on the
/// system clock.
pub async fn started(testbed: &mut Testbed) -> RunningOrderCapture {
    start(config(testbed.store().await), testbed.wiring(), Arc::new(SystemClock)).await
}

/// A client of its API, once it answers.
pub async fn client(running: &RunningOrderCapture) -> OrderCaptureClient<Channel> {
    OrderCaptureClient::new(oms_service::testing::channel(running.addr).await)
}

/// Waits until the order's status is `status`.
pub async fn wait_for_status(client: &OrderCaptureClient<Channel>, order_id: &str, status: pb::OrderStatus) {
    oms_transport::testing::wait_until(&format!("order {order_id} is {status:?}"), || {
        let mut client = client.clone();
        let order_id = order_id.to_owned();
        async move {
            client
                .get_order(pb::GetOrderRequest { order_id })
                .await
                .is_ok_and(|o| o.into_inner().status == status as i32)
        }
    })
    .await;
}

/// A web order of Ada's (customer C-1), shipped standard to Berlin Mitte and paid by
/// card for its total: one line per `(sku, units, unit price in cents)`, numbered from 1.
pub fn web_order(external_id: &str, lines: &[(&str, i64, i64)]) -> pb::OrderDraft {
    let euros = |amount_minor| {
        Some(common::Money {
            amount_minor,
            currency: "EUR".into(),
        })
    };
    pb::OrderDraft {
        channel: pb::Channel::Web as i32,
        external_order_id: external_id.into(),
        customer: Some(pb::Customer {
            customer_id: "C-1".into(),
            name: "Ada".into(),
            email: "ada@example.com".into(),
            phone: String::new(),
        }),
        lines: (1..)
            .zip(lines)
            .map(|(n, &(sku, quantity, cents))| pb::OrderLine {
                line_id: n.to_string(),
                sku: sku.into(),
                quantity,
                unit_price: euros(cents),
                description: String::new(),
            })
            .collect(),
        currency: "EUR".into(),
        delivery_method: pb::DeliveryMethod::Standard as i32,
        shipping_address: Some(mitte()),
        payments: vec![pb::Payment {
            reference: format!("psp-{external_id}"),
            tender: pb::TenderType::Card as i32,
            authorised: euros(lines.iter().map(|&(_, units, cents)| units * cents).sum()),
        }],
        priority: pb::Priority::Normal as i32,
        ..Default::default()
    }
}

/// Ada's address, in Berlin Mitte.
pub fn mitte() -> common::Address {
    common::Address {
        name: "Ada Lovelace".into(),
        lines: vec!["Unter den Linden 1".into()],
        city: "Berlin".into(),
        region: "BE".into(),
        postal_code: "10117".into(),
        country: "DE".into(),
        location: Some(common::GeoPoint {
            latitude: 52.5200,
            longitude: 13.4050,
        }),
        ..Default::default()
    }
}
