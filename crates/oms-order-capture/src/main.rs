//! `oms-order-capture`: order capture as a process of its own, on PostgreSQL (or SQLite)
//! and Kafka.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use oms_eventsourcing::telemetry::{self, TelemetryConfig};
use oms_eventsourcing::{StoreConfig, SystemClock, WriterConfig};
use oms_order_capture::service::{self, OrderCaptureConfig, SERVICE};
use oms_service::{Shutdown, Wiring};
use oms_transport::KafkaConfig;

/// Order capture: orders from every channel, one lifecycle, customer-service operations.
///
/// Kafka is configured with OMS_KAFKA_* variables (see the README); logs with RUST_LOG
/// and OMS_LOG_FORMAT; span export with OTEL_EXPORTER_OTLP_ENDPOINT.
#[derive(Debug, Parser)]
#[command(name = "oms-order-capture", version)]
struct Args {
    /// Where the orders' log is kept: postgres://user@host/db?schema=orders or sqlite://path.
    #[arg(long, env = "OMS_STORE_URL")]
    store_url: String,
    /// Address of the gRPC API.
    #[arg(long, env = "OMS_GRPC_ADDR", default_value = "0.0.0.0:50051")]
    grpc_addr: SocketAddr,
    /// Events between two snapshots of the orders.
    #[arg(long, env = "OMS_SNAPSHOT_EVERY", default_value_t = 100_000)]
    snapshot_every: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let _telemetry = telemetry::init(&TelemetryConfig::from_env(SERVICE))?;
    let config = OrderCaptureConfig {
        store: StoreConfig::from_url(&args.store_url, "orders")?,
        writer: WriterConfig {
            snapshot_every: args.snapshot_every,
            ..WriterConfig::default()
        },
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
