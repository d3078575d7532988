//! Returns started for a test, on a store of the test's own (see
//! `oms_service::testing::Testbed`), with a client of its API.

use oms_eventsourcing::clock::SharedClock;
use oms_eventsourcing::{StoreConfig, WriterConfig};
use oms_proto::returns::v1::returns_client::ReturnsClient;
use oms_service::Wiring;
use oms_service::auth::Access;
use tonic::transport::Channel;

use crate::domain::Policy;
use crate::service::{self, ReturnsConfig, RunningReturns};

/// Returns' settings for a test, on `store`, placing exchanges at order capture's
/// `orders_url`.
pub fn config(store: StoreConfig, orders_url: String) -> ReturnsConfig {
    ReturnsConfig {
        store,
        writer: WriterConfig::default(),
        policy: Policy::default(),
        orders_url,
        // Tests of what a service does run it without access control; the access
        // suite and the end-to-end journeys run it with.
        access: Access::open(),
    }
}

/// Starts returns on a free loopback port.
pub async fn start(config: ReturnsConfig, wiring: Wiring, clock: SharedClock) -> RunningReturns {
    service::start(config, wiring, clock, oms_service::testing::listener().await)
        .await
        .expect("returns starts")
}

/// A client of its API, once it answers.
pub async fn client(running: &RunningReturns) -> ReturnsClient<Channel> {
    ReturnsClient::new(oms_service::testing::channel(running.addr).await)
}
