//! The inventory ledger started for a test, on a store of the test's own (see
//! `oms_service::testing::Testbed`), with a client of its API.

use std::sync::Arc;
use std::time::Duration;

use oms_eventsourcing::SystemClock;
use oms_eventsourcing::clock::SharedClock;
use oms_eventsourcing::{StoreConfig, WriterConfig};
use oms_proto::inventory::v1::inventory_ledger_client::InventoryLedgerClient;
use oms_service::Wiring;
use oms_service::auth::Access;
use oms_service::testing::Testbed;
use tonic::transport::Channel;

use crate::domain::LedgerPolicy;
use crate::service::{self, InventoryConfig, RunningInventory};

/// The ledger's settings for a test, on `store`: lapsed reservations are looked for every
/// 50 ms, so a test that moves its clock sees them go at once.
pub fn config(store: StoreConfig) -> InventoryConfig {
    InventoryConfig {
        store,
        policy: LedgerPolicy::default(),
        writer: WriterConfig::default(),
        expiry_every: Duration::from_millis(50),
        // Tests of what a service does run it without access control; the access
        // suite and the end-to-end journeys run it with.
        access: Access::open(),
    }
}

/// Starts the ledger on a free loopback port.
pub async fn start(config: InventoryConfig, wiring: Wiring, clock: SharedClock) -> RunningInventory {
    service::start(config, wiring, clock, oms_service::testing::listener().await)
        .await
        .expect("the ledger starts")
}

/// Starts the ledger with these settings on a store of `testbed`'s, on its broker, on the
/// system clock.
pub async fn started(testbed: &mut Testbed) -> RunningInventory {
    start(config(testbed.store().await), testbed.wiring(), Arc::new(SystemClock)).await
}

/// A client of its API, once it answers.
pub async fn client(running: &RunningInventory) -> InventoryLedgerClient<Channel> {
    InventoryLedgerClient::new(oms_service::testing::channel(running.addr).await)
}
