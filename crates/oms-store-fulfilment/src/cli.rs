//! Store fulfilment's process settings, shared by its binary and `oms serve store-fulfilment`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use oms_eventsourcing::{StoreConfig, WriterConfig};

use crate::carriers::Carriers;
use crate::domain::Deadlines;
use crate::service::{self, FulfilmentConfig, SERVICE};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the jobs' log is kept: postgres://user@host/db?schema=fulfilment or sqlite://path.
    #[arg(long, env = "OMS_STORE_URL")]
    pub store_url: String,
    /// Address of the gRPC API.
    #[arg(long, env = "OMS_GRPC_ADDR", default_value = "0.0.0.0:50054")]
    pub grpc_addr: SocketAddr,
    /// Minutes a store has to accept a job before it goes to another node.
    #[arg(long, env = "OMS_ACCEPT_WITHIN_MINUTES", default_value_t = 60)]
    pub accept_within_minutes: i64,
    /// Days units ready for pickup wait for the customer before they go back to stock.
    #[arg(long, env = "OMS_COLLECT_WITHIN_DAYS", default_value_t = 7)]
    pub collect_within_days: i64,
    /// A JSON file of carrier services ({"services": [{"carrier", "service", "rate_minor",
    /// "transit_days", "tracking_prefix"}]}); without it, a default set.
    #[arg(long, env = "OMS_CARRIERS_FILE")]
    pub carriers_file: Option<PathBuf>,
    /// Events between two snapshots of the jobs.
    #[arg(long, env = "OMS_SNAPSHOT_EVERY", default_value_t = 100_000)]
    pub snapshot_every: u64,
}

impl Args {
    pub fn config(&self) -> anyhow::Result<FulfilmentConfig> {
        let carriers = match &self.carriers_file {
            None => Carriers::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the carriers file {}", path.display()))?;
                serde_json::from_str(&text).with_context(|| {
                    format!(
                        "{} is not a carriers file: expected {{\"services\": [{{\"carrier\", \"service\", \"rate_minor\", \"transit_days\"}}]}}",
                        path.display()
                    )
                })?
            }
        };
        anyhow::ensure!(
            self.accept_within_minutes > 0 && self.collect_within_days > 0,
            "--accept-within-minutes and --collect-within-days must be 1 or more"
        );
        Ok(FulfilmentConfig {
            store: StoreConfig::from_url(&self.store_url, "fulfilment")?,
            writer: WriterConfig {
                snapshot_every: self.snapshot_every,
                ..WriterConfig::default()
            },
            deadlines: Deadlines {
                accept_within: chrono::Duration::minutes(self.accept_within_minutes),
                collect_within: chrono::Duration::days(self.collect_within_days),
            },
            carriers,
            deadline_every: Duration::from_secs(5),
        })
    }
}

/// Runs store fulfilment on PostgreSQL (or SQLite) and Kafka until SIGTERM or Ctrl-C.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let config = args.config()?;
    oms_service::process::serve(SERVICE, args.grpc_addr, |wiring, clock, listener| {
        service::start(config, wiring, clock, listener)
    })
    .await
}
