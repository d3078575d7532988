//! Routing's process settings, shared by its binary and `oms serve routing`.

use std::net::SocketAddr;
use std::time::Duration;

use oms_eventsourcing::{StoreConfig, WriterConfig};

use crate::router::RouterConfig;
use crate::service::{self, RoutingConfig, SERVICE};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where routing's log is kept: postgres://user@host/db?schema=routing or sqlite://path.
    #[arg(long, env = "OMS_STORE_URL")]
    pub store_url: String,
    /// Address of the gRPC API.
    #[arg(long, env = "OMS_GRPC_ADDR", default_value = "0.0.0.0:50053")]
    pub grpc_addr: SocketAddr,
    /// The inventory ledger's gRPC API, where routed units are reserved.
    #[arg(long, env = "OMS_LEDGER_URL", default_value = "http://127.0.0.1:50052")]
    pub ledger_url: String,
    /// Hours a routed order's reservation holds its units if nothing ships or releases them.
    #[arg(long, env = "OMS_RESERVATION_TTL_HOURS", default_value_t = 336)]
    pub reservation_ttl_hours: u64,
    /// Orders routed at the same time.
    #[arg(long, env = "OMS_ROUTING_CONCURRENCY", default_value_t = 16)]
    pub concurrency: usize,
    /// Seconds between two tries of every backorder (they are tried at once when stock
    /// for them arrives).
    #[arg(long, env = "OMS_BACKORDER_RETRY_SECS", default_value_t = 60)]
    pub backorder_retry_secs: u64,
    /// Events between two snapshots of routing's state.
    #[arg(long, env = "OMS_SNAPSHOT_EVERY", default_value_t = 100_000)]
    pub snapshot_every: u64,
}

impl Args {
    pub fn config(&self) -> anyhow::Result<RoutingConfig> {
        Ok(RoutingConfig {
            store: StoreConfig::from_url(&self.store_url, "routing")?,
            writer: WriterConfig {
                snapshot_every: self.snapshot_every,
                ..WriterConfig::default()
            },
            router: RouterConfig {
                concurrency: self.concurrency.max(1),
                backorder_retry_every: Duration::from_secs(self.backorder_retry_secs.max(1)),
                ..RouterConfig::default()
            },
            ledger_url: self.ledger_url.clone(),
            reservation_ttl: Duration::from_secs(self.reservation_ttl_hours.saturating_mul(3600)),
        })
    }
}

/// Runs routing on PostgreSQL (or SQLite) and Kafka until SIGTERM or Ctrl-C.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let config = args.config()?;
    oms_service::process::serve(SERVICE, args.grpc_addr, |wiring, clock, listener| {
        service::start(config, wiring, clock, listener)
    })
    .await
}
