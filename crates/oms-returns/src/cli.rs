//! The returns service's process settings, shared by its binary, `oms serve returns` and
//! (its [`Settings`]) `oms run`.

use oms_service::auth::Access;
use oms_service::process::ProcessArgs;

use oms_eventsourcing::{StoreConfig, WriterConfig};

use crate::domain::Policy;
use crate::service::{self, ReturnsConfig, SERVICE};

const RETURN_WINDOW_DAYS: i64 = 30;

/// How returns work, whichever way the service runs (`oms run` or a process of its own).
#[derive(Debug, Clone, clap::Args)]
// Several services' `Settings` sit side by side in `oms run`: no argument group of their own.
#[group(skip)]
pub struct Settings {
    /// Days after the customer received a line that it may be returned.
    #[arg(long, env = "OMS_RETURN_WINDOW_DAYS", default_value_t = RETURN_WINDOW_DAYS)]
    pub return_window_days: i64,
    /// Refund damaged returned units too (true) or only resellable ones (false).
    #[arg(long, env = "OMS_REFUND_DAMAGED", default_value_t = true, action = clap::ArgAction::Set)]
    pub refund_damaged: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            return_window_days: RETURN_WINDOW_DAYS,
            refund_damaged: true,
        }
    }
}

impl Settings {
    pub fn policy(&self) -> anyhow::Result<Policy> {
        anyhow::ensure!(self.return_window_days > 0, "return_window_days must be 1 or more");
        Ok(Policy {
            window: chrono::Duration::days(self.return_window_days),
            refund_damaged: self.refund_damaged,
        })
    }

    /// The service's configuration on `store`, placing exchanges at `orders_url`.
    pub fn config(
        &self,
        store: StoreConfig,
        writer: WriterConfig,
        orders_url: String,
        access: Access,
    ) -> anyhow::Result<ReturnsConfig> {
        Ok(ReturnsConfig {
            store,
            writer,
            policy: self.policy()?,
            orders_url,
            access,
        })
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub process: ProcessArgs<50055>,
    /// Order capture's gRPC API, where exchanges place their replacement orders.
    #[arg(long, env = "OMS_ORDERS_URL", default_value = "http://127.0.0.1:50051")]
    pub orders_url: String,
    #[command(flatten)]
    pub settings: Settings,
}

impl Args {
    pub async fn config(&self) -> anyhow::Result<ReturnsConfig> {
        self.settings.config(
            self.process.store("returns")?,
            self.process.writer(),
            self.orders_url.clone(),
            self.process.access().await?,
        )
    }
}

/// Runs returns on PostgreSQL (or SQLite) and Kafka until SIGTERM or Ctrl-C.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let config = args.config().await?;
    oms_service::process::serve(SERVICE, args.process.grpc_addr, |wiring, clock, listener| {
        service::start(config, wiring, clock, listener)
    })
    .await
}
