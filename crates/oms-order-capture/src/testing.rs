//! Order capture started for a test, on a store of the test's own (see
//! `oms_service::testing::Testbed`), with a client of its API.

use std::sync::Arc;

use oms_eventsourcing::SystemClock;
use oms_eventsourcing::clock::SharedClock;
use oms_eventsourcing::{StoreConfig, WriterConfig};
use oms_proto::orders::v1::order_capture_client::OrderCaptureClient;
use oms_service::Wiring;
use oms_service::testing::Testbed;
use tonic::transport::Channel;

use crate::service::{self, OrderCaptureConfig, RunningOrderCapture};

/// Order capture's settings for a test, on `store`.
pub fn config(store: StoreConfig) -> OrderCaptureConfig {
    OrderCaptureConfig {
        store,
        writer: WriterConfig::default(),
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
