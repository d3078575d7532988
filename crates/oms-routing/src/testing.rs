//! Routing started for a test, on a store of the test's own (see
//! `oms_service::testing::Testbed`), with a client of its API.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use oms_eventsourcing::SystemClock;
use oms_eventsourcing::clock::SharedClock;
use oms_eventsourcing::{StoreConfig, WriterConfig};
use oms_proto::routing::v1::routing_client::RoutingClient;
use oms_service::Wiring;
use oms_service::auth::Access;
use oms_service::testing::Testbed;
use tonic::transport::Channel;

use crate::router::RouterConfig;
use crate::service::{self, RoutingConfig, RunningRouting};

/// Routing's settings for a test, on `store`, reserving at the ledger at `ledger_url`: the
/// router looks at its clock every 200 ms, and backorders are tried again only when
/// something happens to them (a test that waits passes by what routing does at once, not
/// by a timer).
pub fn config(store: StoreConfig, ledger_url: String) -> RoutingConfig {
    RoutingConfig {
        store,
        writer: WriterConfig::default(),
        router: RouterConfig {
            tick: Duration::from_millis(200),
            backorder_retry_every: Duration::from_secs(3600),
            ..RouterConfig::default()
        },
        ledger_url,
        reservation_ttl: Duration::from_secs(24 * 3600),
        // Tests of what a service does run it without access control; the access
        // suite and the end-to-end journeys run it with.
        access: Access::open(),
    }
}

/// Starts routing on a free loopback port.
pub async fn start(config: RoutingConfig, wiring: Wiring, clock: SharedClock) -> RunningRouting {
    service::start(config, wiring, clock, oms_service::testing::listener().await)
        .await
        .expect("routing starts")
}

/// Starts routing with these settings on a store of `testbed`'s, on its broker, on the
/// system clock, reserving at the ledger `ledger`.
pub async fn started(testbed: &mut Testbed, ledger: SocketAddr) -> RunningRouting {
    let config = config(testbed.store().await, format!("http://{ledger}"));
    start(config, testbed.wiring(), Arc::new(SystemClock)).await
}

/// A client of its API, once it answers.
pub async fn client(running: &RunningRouting) -> RoutingClient<Channel> {
    RoutingClient::new(oms_service::testing::channel(running.addr).await)
}
