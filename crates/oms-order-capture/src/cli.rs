//! Order capture's process settings, shared by its binary and `oms serve order-capture`.

use oms_service::process::ProcessArgs;

use crate::service::{self, OrderCaptureConfig, SERVICE};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub process: ProcessArgs<50051>,
}

impl Args {
    pub async fn config(&self) -> anyhow::Result<OrderCaptureConfig> {
        Ok(OrderCaptureConfig {
            store: self.process.store("orders")?,
            writer: self.process.writer(),
            access: self.process.access().await?,
        })
    }
}

/// Runs order capture on PostgreSQL (or SQLite) and Kafka until SIGTERM or Ctrl-C.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let config = args.config().await?;
    oms_service::process::serve(SERVICE, args.process.grpc_addr, |wiring, clock, listener| {
        service::start(config, wiring, clock, listener)
    })
    .await
}
