//! The ledger's process settings, shared by its binary and `oms serve inventory-ledger`.

use std::net::SocketAddr;
use std::time::Duration;

use oms_eventsourcing::{StoreConfig, WriterConfig};

use crate::domain::{LedgerPolicy, UnknownSkus};
use crate::service::{self, InventoryConfig, SERVICE};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the ledger keeps its log: postgres://user@host/db?schema=inventory or sqlite://path.
    #[arg(long, env = "OMS_STORE_URL")]
    pub store_url: String,
    /// Address of the gRPC API.
    #[arg(long, env = "OMS_GRPC_ADDR", default_value = "0.0.0.0:50052")]
    pub grpc_addr: SocketAddr,
    /// What to do with a SKU never seen before: accept it, or refuse it until registered.
    #[arg(long, env = "OMS_INVENTORY_UNKNOWN_SKUS", default_value = "accept", value_parser = ["accept", "refuse"])]
    pub unknown_skus: String,
    /// How long a reservation holds when the caller names no time, in seconds.
    #[arg(long, env = "OMS_INVENTORY_RESERVATION_TTL_SECONDS", default_value_t = 3600)]
    pub reservation_ttl_seconds: i64,
    /// Events between two snapshots of the ledger.
    #[arg(long, env = "OMS_SNAPSHOT_EVERY", default_value_t = 100_000)]
    pub snapshot_every: u64,
}

impl Args {
    pub fn config(&self) -> anyhow::Result<InventoryConfig> {
        Ok(InventoryConfig {
            store: StoreConfig::from_url(&self.store_url, "inventory")?,
            policy: LedgerPolicy {
                unknown_skus: if self.unknown_skus == "refuse" {
                    UnknownSkus::Refuse
                } else {
                    UnknownSkus::Accept
                },
                default_ttl: chrono::Duration::seconds(self.reservation_ttl_seconds.max(1)),
            },
            writer: WriterConfig {
                snapshot_every: self.snapshot_every,
                ..WriterConfig::default()
            },
            expiry_every: Duration::from_secs(1),
        })
    }
}

/// Runs the ledger on PostgreSQL (or SQLite) and Kafka until SIGTERM or Ctrl-C.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let config = args.config()?;
    oms_service::process::serve(SERVICE, args.grpc_addr, |wiring, clock, listener| {
        service::start(config, wiring, clock, listener)
    })
    .await
}
