//! `oms-returns`: returns as a process of its own, on PostgreSQL (or SQLite) and Kafka.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use oms_eventsourcing::telemetry::{self, TelemetryConfig};
use oms_eventsourcing::{StoreConfig, SystemClock, WriterConfig};
use oms_returns::domain::Policy;
use oms_returns::service::{self, ReturnsConfig, SERVICE};
use oms_service::{Shutdown, Wiring};
use oms_transport::KafkaConfig;

/// Returns: return anywhere, inspect and restock, refund the original tender, exchanges.
///
/// Kafka is configured with OMS_KAFKA_* variables (see the README); logs with RUST_LOG
/// and OMS_LOG_FORMAT; span export with OTEL_EXPORTER_OTLP_ENDPOINT.
#[derive(Debug, Parser)]
#[command(name = "oms-returns", version)]
struct Args {
    /// Where the returns' log is kept: postgres://user@host/db?schema=returns or sqlite://path.
    #[arg(long, env = "OMS_STORE_URL")]
    store_url: String,
    /// Address of the gRPC API.
    #[arg(long, env = "OMS_GRPC_ADDR", default_value = "0.0.0.0:50055")]
    grpc_addr: SocketAddr,
    /// Order capture's gRPC API, where exchanges place their replacement orders.
    #[arg(long, env = "OMS_ORDERS_URL", default_value = "http://127.0.0.1:50051")]
    orders_url: String,
    /// Days after delivery a line may be returned.
    #[arg(long, env = "OMS_RETURN_WINDOW_DAYS", default_value_t = 30)]
    return_window_days: i64,
    /// Refund damaged returned units too (true) or only resellable ones (false).
    #[arg(long, env = "OMS_REFUND_DAMAGED", default_value_t = true, action = clap::ArgAction::Set)]
    refund_damaged: bool,
    /// Events between two snapshots of the returns.
    #[arg(long, env = "OMS_SNAPSHOT_EVERY", default_value_t = 100_000)]
    snapshot_every: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let _telemetry = telemetry::init(&TelemetryConfig::from_env(SERVICE))?;
    anyhow::ensure!(args.return_window_days > 0, "--return-window-days must be 1 or more");
    let config = ReturnsConfig {
        store: StoreConfig::from_url(&args.store_url, "returns")?,
        writer: WriterConfig {
            snapshot_every: args.snapshot_every,
            ..WriterConfig::default()
        },
        policy: Policy {
            window: chrono::Duration::days(args.return_window_days),
            refund_damaged: args.refund_damaged,
        },
        orders_url: args.orders_url,
    };
    let kafka = KafkaConfig::from_env(SERVICE)?;
    let listener = tokio::net::TcpListener::bind(args.grpc_addr).await.with_context(|| {
        format!(
            "cannot listen on {}: is another process using it? Set --grpc-addr",
            args.grpc_addr
        )
    })?;
    let running = service::start(config, Wiring::Kafka(kafka), Arc::new(SystemClock), listener).await?;
    let shutdown = Shutdown::new();
    shutdown.on_signals();
    shutdown.wait().await;
    running.stop().await;
    tracing::info!("stopped");
    Ok(())
}
