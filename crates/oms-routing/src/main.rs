//! `oms-routing`: routing as a process of its own, on PostgreSQL (or SQLite) and Kafka.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use oms_eventsourcing::telemetry::{self, TelemetryConfig};
use oms_eventsourcing::{StoreConfig, SystemClock, WriterConfig};
use oms_routing::router::RouterConfig;
use oms_routing::service::{self, RoutingConfig, SERVICE};
use oms_service::{Shutdown, Wiring};
use oms_transport::KafkaConfig;

/// Routing: which node fulfils each order, by rules that are data; re-routing, backorders
/// and delivery options.
///
/// Kafka is configured with OMS_KAFKA_* variables (see the README); logs with RUST_LOG
/// and OMS_LOG_FORMAT; span export with OTEL_EXPORTER_OTLP_ENDPOINT.
#[derive(Debug, Parser)]
#[command(name = "oms-routing", version)]
struct Args {
    /// Where routing's log is kept: postgres://user@host/db?schema=routing or sqlite://path.
    #[arg(long, env = "OMS_STORE_URL")]
    store_url: String,
    /// Address of the gRPC API.
    #[arg(long, env = "OMS_GRPC_ADDR", default_value = "0.0.0.0:50053")]
    grpc_addr: SocketAddr,
    /// The inventory ledger's gRPC API, where routed units are reserved.
    #[arg(long, env = "OMS_LEDGER_URL", default_value = "http://127.0.0.1:50052")]
    ledger_url: String,
    /// Hours a routed order's reservation holds its units if nothing ships or releases them.
    #[arg(long, env = "OMS_RESERVATION_TTL_HOURS", default_value_t = 336)]
    reservation_ttl_hours: u64,
    /// Orders routed at the same time.
    #[arg(long, env = "OMS_ROUTING_CONCURRENCY", default_value_t = 16)]
    concurrency: usize,
    /// Seconds between two tries of every backorder (they are tried at once when stock
    /// for them arrives).
    #[arg(long, env = "OMS_BACKORDER_RETRY_SECS", default_value_t = 60)]
    backorder_retry_secs: u64,
    /// Events between two snapshots of routing's state.
    #[arg(long, env = "OMS_SNAPSHOT_EVERY", default_value_t = 100_000)]
    snapshot_every: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let _telemetry = telemetry::init(&TelemetryConfig::from_env(SERVICE))?;
    let config = RoutingConfig {
        store: StoreConfig::from_url(&args.store_url, "routing")?,
        writer: WriterConfig {
            snapshot_every: args.snapshot_every,
            ..WriterConfig::default()
        },
        router: RouterConfig {
            concurrency: args.concurrency.max(1),
            backorder_retry_every: Duration::from_secs(args.backorder_retry_secs.max(1)),
            ..RouterConfig::default()
        },
        ledger_url: args.ledger_url,
        reservation_ttl: Duration::from_secs(args.reservation_ttl_hours.saturating_mul(3600)),
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
