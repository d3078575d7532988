//! A service as a process of its own: what its binary and `oms serve <service>` share.
//! Logs and spans set up, Kafka configured from `OMS_KAFKA_*`, the API's address bound,
//! the service started on the system clock and stopped in order on SIGTERM or Ctrl-C.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use oms_eventsourcing::clock::SharedClock;
use oms_eventsourcing::{StoreConfig, SystemClock, WriterConfig};
use oms_transport::KafkaConfig;
use tokio::net::TcpListener;

use crate::telemetry::{self, TelemetryConfig};
use crate::{Shutdown, Wiring};

/// Events between two snapshots of a service's state, unless told otherwise.
pub const SNAPSHOT_EVERY: u64 = 100_000;

/// What every service process is told, whichever service it is: where its log is kept,
/// where its API listens (`PORT` by default), how often it snapshots its state. Each
/// service's `Args` flattens it beside the settings of its own.
#[derive(Debug, Clone, clap::Args)]
pub struct ProcessArgs<const PORT: u16> {
    /// Where the service's log is kept: postgres://user@host/db?schema=<service> or
    /// sqlite://path.
    #[arg(long, env = "OMS_STORE_URL")]
    pub store_url: String,
    /// Address of the gRPC API.
    #[arg(long, env = "OMS_GRPC_ADDR", default_value_t = SocketAddr::from(([0, 0, 0, 0], PORT)))]
    pub grpc_addr: SocketAddr,
    /// Events between two snapshots of the service's state.
    #[arg(long, env = "OMS_SNAPSHOT_EVERY", default_value_t = SNAPSHOT_EVERY)]
    pub snapshot_every: u64,
}

impl<const PORT: u16> ProcessArgs<PORT> {
    /// The store of `--store-url`, in the PostgreSQL schema `schema` unless the URL names one.
    pub fn store(&self, schema: &str) -> anyhow::Result<StoreConfig> {
        Ok(StoreConfig::from_url(&self.store_url, schema)?)
    }

    pub fn writer(&self) -> WriterConfig {
        WriterConfig {
            snapshot_every: self.snapshot_every,
            ..WriterConfig::default()
        }
    }
}

/// A started service that can be stopped: in-flight calls finish, the writer drains, the
/// relay flushes.
pub trait Running {
    fn stop(self) -> impl Future<Output = ()> + Send;
}

/// Runs one service until SIGTERM or Ctrl-C: `start` gets the Kafka wiring, the system
/// clock and the bound listener of `grpc_addr`.
pub async fn serve<R, Fut>(
    service: &'static str,
    grpc_addr: SocketAddr,
    start: impl FnOnce(Wiring, SharedClock, TcpListener) -> Fut,
) -> anyhow::Result<()>
where
    R: Running,
    Fut: Future<Output = anyhow::Result<R>>,
{
    let _telemetry = telemetry::init(&TelemetryConfig::from_env(service))?;
    let kafka = KafkaConfig::from_env(service)?;
    let listener = TcpListener::bind(grpc_addr)
        .await
        .with_context(|| format!("cannot listen on {grpc_addr}: is another process using it? Set --grpc-addr"))?;
    let running = start(Wiring::Kafka(kafka), Arc::new(SystemClock), listener).await?;
    tracing::info!(service, %grpc_addr, "serving");
    let shutdown = Shutdown::new();
    shutdown.on_signals();
    shutdown.wait().await;
    running.stop().await;
    tracing::info!(service, "stopped");
    Ok(())
}
