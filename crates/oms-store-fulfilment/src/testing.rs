//! Store fulfilment started for a test, on a store of the test's own (see
//! `oms_service::testing::Testbed`), with a client of its API.

use std::time::Duration;

use oms_eventsourcing::clock::SharedClock;
use oms_eventsourcing::{StoreConfig, WriterConfig};
use oms_proto::fulfilment::v1::store_fulfilment_client::StoreFulfilmentClient;
use oms_service::Wiring;
use oms_service::auth::Access;
use tonic::transport::Channel;

use crate::carriers::Carriers;
use crate::domain::Deadlines;
use crate::service::{self, FulfilmentConfig, RunningFulfilment};

/// Store fulfilment's settings for a test, on `store`: its clock is looked at every 50 ms,
/// so a deadline passes as soon as a test moves its clock past it.
pub fn config(store: StoreConfig) -> FulfilmentConfig {
    FulfilmentConfig {
        store,
        writer: WriterConfig::default(),
        deadlines: Deadlines::default(),
        carriers: Carriers::default(),
        deadline_every: Duration::from_millis(50),
        // Tests of what a service does run it without access control; the access
        // suite and the end-to-end journeys run it with.
        access: Access::open(),
    }
}

/// Starts store fulfilment on a free loopback port.
pub async fn start(config: FulfilmentConfig, wiring: Wiring, clock: SharedClock) -> RunningFulfilment {
    service::start(config, wiring, clock, oms_service::testing::listener().await)
        .await
        .expect("store fulfilment starts")
}

/// A client of its API, once it answers.
pub async fn client(running: &RunningFulfilment) -> StoreFulfilmentClient<Channel> {
    StoreFulfilmentClient::new(oms_service::testing::channel(running.addr).await)
}
