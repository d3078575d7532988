//! `oms-store-fulfilment`: store fulfilment as a process of its own, on PostgreSQL (or
//! SQLite) and Kafka.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use oms_eventsourcing::telemetry::{self, TelemetryConfig};
use oms_eventsourcing::{StoreConfig, SystemClock, WriterConfig};
use oms_service::{Shutdown, Wiring};
use oms_store_fulfilment::carriers::Carriers;
use oms_store_fulfilment::domain::Deadlines;
use oms_store_fulfilment::service::{self, FulfilmentConfig, SERVICE};
use oms_transport::KafkaConfig;

/// Store fulfilment: store queues and staff steps, pickup, lockers, ship-to-store, and jobs
/// for warehouse and supplier systems.
///
/// Kafka is configured with OMS_KAFKA_* variables (see the README); logs with RUST_LOG
/// and OMS_LOG_FORMAT; span export with OTEL_EXPORTER_OTLP_ENDPOINT.
#[derive(Debug, Parser)]
#[command(name = "oms-store-fulfilment", version)]
struct Args {
    /// Where the jobs' log is kept: postgres://user@host/db?schema=fulfilment or sqlite://path.
    #[arg(long, env = "OMS_STORE_URL")]
    store_url: String,
    /// Address of the gRPC API.
    #[arg(long, env = "OMS_GRPC_ADDR", default_value = "0.0.0.0:50054")]
    grpc_addr: SocketAddr,
    /// Minutes a store has to accept a job before it goes to another node.
    #[arg(long, env = "OMS_ACCEPT_WITHIN_MINUTES", default_value_t = 60)]
    accept_within_minutes: i64,
    /// Days units ready for pickup wait for the customer before they go back to stock.
    #[arg(long, env = "OMS_COLLECT_WITHIN_DAYS", default_value_t = 7)]
    collect_within_days: i64,
    /// A JSON file of carrier services ({"services": [{"carrier", "service", "rate_minor",
    /// "transit_days", "tracking_prefix"}]}); without it, a default set.
    #[arg(long, env = "OMS_CARRIERS_FILE")]
    carriers_file: Option<std::path::PathBuf>,
    /// Events between two snapshots of the jobs.
    #[arg(long, env = "OMS_SNAPSHOT_EVERY", default_value_t = 100_000)]
    snapshot_every: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let _telemetry = telemetry::init(&TelemetryConfig::from_env(SERVICE))?;
    let carriers = match &args.carriers_file {
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
        args.accept_within_minutes > 0 && args.collect_within_days > 0,
        "--accept-within-minutes and --collect-within-days must be 1 or more"
    );
    let config = FulfilmentConfig {
        store: StoreConfig::from_url(&args.store_url, "fulfilment")?,
        writer: WriterConfig {
            snapshot_every: args.snapshot_every,
            ..WriterConfig::default()
        },
        deadlines: Deadlines {
            accept_within: chrono::Duration::minutes(args.accept_within_minutes),
            collect_within: chrono::Duration::days(args.collect_within_days),
        },
        carriers,
        deadline_every: Duration::from_secs(5),
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
