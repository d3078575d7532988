//! Store fulfilment's process settings, shared by its binary, `oms serve store-fulfilment`
//! and (its [`Settings`]) `oms run`.

use oms_service::auth::Access;
use oms_service::process::ProcessArgs;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use oms_eventsourcing::{StoreConfig, WriterConfig};

use crate::carriers::Carriers;
use crate::domain::Deadlines;
use crate::service::{self, FulfilmentConfig, SERVICE};

const ACCEPT_WITHIN_MINUTES: i64 = 60;
const COLLECT_WITHIN_DAYS: i64 = 7;

/// How store fulfilment works, whichever way it runs (`oms run` or a process of its own).
#[derive(Debug, Clone, clap::Args)]
// Several services' `Settings` sit side by side in `oms run`: no argument group of their own.
#[group(skip)]
pub struct Settings {
    /// Minutes a store has to accept a job before it goes to another node.
    #[arg(long, env = "OMS_ACCEPT_WITHIN_MINUTES", default_value_t = ACCEPT_WITHIN_MINUTES)]
    pub accept_within_minutes: i64,
    /// Days units ready for pickup wait for the customer before they go back to stock.
    #[arg(long, env = "OMS_COLLECT_WITHIN_DAYS", default_value_t = COLLECT_WITHIN_DAYS)]
    pub collect_within_days: i64,
    /// A JSON file of carrier services ({"services": [{"carrier", "service", "rate_minor",
    /// "transit_days", "tracking_prefix"}]}); without it, a default set.
    #[arg(long, env = "OMS_CARRIERS_FILE")]
    pub carriers_file: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            accept_within_minutes: ACCEPT_WITHIN_MINUTES,
            collect_within_days: COLLECT_WITHIN_DAYS,
            carriers_file: None,
        }
    }
}

impl Settings {
    pub fn deadlines(&self) -> anyhow::Result<Deadlines> {
        anyhow::ensure!(
            self.accept_within_minutes > 0 && self.collect_within_days > 0,
            "accept_within_minutes and collect_within_days must be 1 or more"
        );
        Ok(Deadlines {
            accept_within: chrono::Duration::minutes(self.accept_within_minutes),
            collect_within: chrono::Duration::days(self.collect_within_days),
        })
    }

    pub fn carriers(&self) -> anyhow::Result<Carriers> {
        let Some(path) = &self.carriers_file else {
            return Ok(Carriers::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the carriers file {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a carriers file: expected {{\"services\": [{{\"carrier\", \"service\", \"rate_minor\", \"transit_days\"}}]}}",
                path.display()
            )
        })
    }

    /// The service's configuration on `store`.
    pub fn config(&self, store: StoreConfig, writer: WriterConfig, access: Access) -> anyhow::Result<FulfilmentConfig> {
        Ok(FulfilmentConfig {
            store,
            writer,
            deadlines: self.deadlines()?,
            carriers: self.carriers()?,
            deadline_every: Duration::from_secs(1),
            access,
        })
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub process: ProcessArgs<50054>,
    #[command(flatten)]
    pub settings: Settings,
}

impl Args {
    pub async fn config(&self) -> anyhow::Result<FulfilmentConfig> {
        self.settings.config(
            self.process.store("fulfilment")?,
            self.process.writer(),
            self.process.access().await?,
        )
    }
}

/// Runs store fulfilment on PostgreSQL (or SQLite) and Kafka until SIGTERM or Ctrl-C.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let config = args.config().await?;
    oms_service::process::serve(SERVICE, args.process.grpc_addr, |wiring, clock, listener| {
        service::start(config, wiring, clock, listener)
    })
    .await
}
