//! Order capture's process settings, shared by its binary and `oms serve order-capture`.

use std::net::SocketAddr;

use oms_eventsourcing::{StoreConfig, WriterConfig};

use crate::service::{self, OrderCaptureConfig, SERVICE};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the orders' log is kept: postgres://user@host/db?schema=orders or sqlite://path.
    #[arg(long, env = "OMS_STORE_URL")]
    pub store_url: String,
    /// Address of the gRPC API.
    #[arg(long, env = "OMS_GRPC_ADDR", default_value = "0.0.0.0:50051")]
    pub grpc_addr: SocketAddr,
    /// Events between two snapshots of the orders.
    #[arg(long, env = "OMS_SNAPSHOT_EVERY", default_value_t = 100_000)]
    pub snapshot_every: u64,
}

impl Args {
    pub fn config(&self) -> anyhow::Result<OrderCaptureConfig> {
        Ok(OrderCaptureConfig {
            store: StoreConfig::from_url(&self.store_url, "orders")?,
            writer: WriterConfig {
                snapshot_every: self.snapshot_every,
                ..WriterConfig::default()
            },
        })
    }
}

/// Runs order capture on PostgreSQL (or SQLite) and Kafka until SIGTERM or Ctrl-C.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let config = args.config()?;
    oms_service::process::serve(SERVICE, args.grpc_addr, |wiring, clock, listener| {
        service::start(config, wiring, clock, listener)
    })
    .await
}
