//! The ledger's process settings, shared by its binary, `oms serve inventory-ledger` and
//! (its [`Settings`]) `oms run`.

use oms_service::auth::Access;
use oms_service::process::ProcessArgs;
use std::time::Duration;

use oms_eventsourcing::{StoreConfig, WriterConfig};

use crate::domain::{LedgerPolicy, UnknownSkus};
use crate::service::{self, InventoryConfig, SERVICE};

const RESERVATION_TTL_SECONDS: i64 = 3600;

/// How the ledger works, whichever way it runs (`oms run` or a process of its own).
#[derive(Debug, Clone, clap::Args)]
// Several services' `Settings` sit side by side in `oms run`: no argument group of their own.
#[group(skip)]
pub struct Settings {
    /// What to do with a SKU never seen before: accept it, or refuse it until registered.
    #[arg(long, env = "OMS_INVENTORY_UNKNOWN_SKUS", default_value = "accept", value_parser = ["accept", "refuse"])]
    pub inventory_unknown_skus: String,
    /// How long a reservation holds when the caller names no time, in seconds.
    #[arg(long, env = "OMS_INVENTORY_RESERVATION_TTL_SECONDS", default_value_t = RESERVATION_TTL_SECONDS)]
    pub inventory_reservation_ttl_seconds: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            inventory_unknown_skus: "accept".to_owned(),
            inventory_reservation_ttl_seconds: RESERVATION_TTL_SECONDS,
        }
    }
}

impl Settings {
    pub fn policy(&self) -> LedgerPolicy {
        LedgerPolicy {
            unknown_skus: if self.inventory_unknown_skus == "refuse" {
                UnknownSkus::Refuse
            } else {
                UnknownSkus::Accept
            },
            default_ttl: chrono::Duration::seconds(self.inventory_reservation_ttl_seconds.max(1)),
        }
    }

    /// The service's configuration on `store`.
    pub fn config(&self, store: StoreConfig, writer: WriterConfig, access: Access) -> InventoryConfig {
        InventoryConfig {
            store,
            policy: self.policy(),
            writer,
            expiry_every: Duration::from_secs(1),
            access,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub process: ProcessArgs<50052>,
    #[command(flatten)]
    pub settings: Settings,
}

impl Args {
    pub async fn config(&self) -> anyhow::Result<InventoryConfig> {
        Ok(self.settings.config(
            self.process.store("inventory")?,
            self.process.writer(),
            self.process.access().await?,
        ))
    }
}

/// Runs the ledger on PostgreSQL (or SQLite) and Kafka until SIGTERM or Ctrl-C.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let config = args.config().await?;
    oms_service::process::serve(SERVICE, args.process.grpc_addr, |wiring, clock, listener| {
        service::start(config, wiring, clock, listener)
    })
    .await
}
