//! Routing's process settings, shared by its binary, `oms serve routing` and (its
//! [`Settings`]) `oms run`.

use oms_service::auth::Access;
use oms_service::process::ProcessArgs;
use std::time::Duration;

use oms_eventsourcing::{StoreConfig, WriterConfig};

use crate::router::RouterConfig;
use crate::service::{self, RoutingConfig, SERVICE};

const RESERVATION_TTL_HOURS: u64 = 336;
const CONCURRENCY: usize = 16;
const BACKORDER_RETRY_SECS: u64 = 60;

/// How routing works, whichever way it runs (`oms run` or a process of its own).
#[derive(Debug, Clone, clap::Args)]
// Several services' `Settings` sit side by side in `oms run`: no argument group of their own.
#[group(skip)]
pub struct Settings {
    /// Hours a routed order's reservation holds its units if nothing ships or releases them.
    #[arg(long, env = "OMS_RESERVATION_TTL_HOURS", default_value_t = RESERVATION_TTL_HOURS)]
    pub reservation_ttl_hours: u64,
    /// Orders routed at the same time.
    #[arg(long, env = "OMS_ROUTING_CONCURRENCY", default_value_t = CONCURRENCY)]
    pub routing_concurrency: usize,
    /// Seconds between two tries of every backorder (they are tried at once when stock
    /// for them arrives, or when a held order is released).
    #[arg(long, env = "OMS_BACKORDER_RETRY_SECS", default_value_t = BACKORDER_RETRY_SECS)]
    pub backorder_retry_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            reservation_ttl_hours: RESERVATION_TTL_HOURS,
            routing_concurrency: CONCURRENCY,
            backorder_retry_secs: BACKORDER_RETRY_SECS,
        }
    }
}

impl Settings {
    /// The service's configuration on `store`, reserving at the ledger at `ledger_url`.
    pub fn config(
        &self,
        store: StoreConfig,
        writer: WriterConfig,
        ledger_url: String,
        access: Access,
    ) -> RoutingConfig {
        RoutingConfig {
            store,
            writer,
            router: RouterConfig {
                concurrency: self.routing_concurrency.max(1),
                backorder_retry_every: Duration::from_secs(self.backorder_retry_secs.max(1)),
                ..RouterConfig::default()
            },
            ledger_url,
            reservation_ttl: Duration::from_secs(self.reservation_ttl_hours.saturating_mul(3600)),
            access,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub process: ProcessArgs<50053>,
    /// The inventory ledger's gRPC API, where routed units are reserved.
    #[arg(long, env = "OMS_LEDGER_URL", default_value = "http://127.0.0.1:50052")]
    pub ledger_url: String,
    #[command(flatten)]
    pub settings: Settings,
}

impl Args {
    pub async fn config(&self) -> anyhow::Result<RoutingConfig> {
        Ok(self.settings.config(
            self.process.store("routing")?,
            self.process.writer(),
            self.ledger_url.clone(),
            self.process.access().await?,
        ))
    }
}

/// Runs routing on PostgreSQL (or SQLite) and Kafka until SIGTERM or Ctrl-C.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let config = args.config().await?;
    oms_service::process::serve(SERVICE, args.process.grpc_addr, |wiring, clock, listener| {
        service::start(config, wiring, clock, listener)
    })
    .await
}
