//! `oms-inventory-ledger`: the inventory ledger as a process of its own, on PostgreSQL (or
//! SQLite) and Kafka.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use oms_eventsourcing::telemetry::{self, TelemetryConfig};
use oms_eventsourcing::{StoreConfig, SystemClock, WriterConfig};
use oms_inventory_ledger::domain::{LedgerPolicy, UnknownSkus};
use oms_inventory_ledger::service::{self, InventoryConfig, SERVICE};
use oms_service::{Shutdown, Wiring};
use oms_transport::KafkaConfig;

/// The inventory ledger: real-time stock of every SKU at every location.
///
/// Kafka is configured with OMS_KAFKA_* variables (see the README); logs with RUST_LOG
/// and OMS_LOG_FORMAT; span export with OTEL_EXPORTER_OTLP_ENDPOINT.
#[derive(Debug, Parser)]
#[command(name = "oms-inventory-ledger", version)]
struct Args {
    /// Where the ledger keeps its log: postgres://user@host/db?schema=inventory or sqlite://path.
    #[arg(long, env = "OMS_STORE_URL")]
    store_url: String,
    /// Address of the gRPC API.
    #[arg(long, env = "OMS_GRPC_ADDR", default_value = "0.0.0.0:50052")]
    grpc_addr: SocketAddr,
    /// What to do with a SKU never seen before: accept it, or refuse it until registered.
    #[arg(long, env = "OMS_INVENTORY_UNKNOWN_SKUS", default_value = "accept", value_parser = ["accept", "refuse"])]
    unknown_skus: String,
    /// How long a reservation holds when the caller names no time, in seconds.
    #[arg(long, env = "OMS_INVENTORY_RESERVATION_TTL_SECONDS", default_value_t = 3600)]
    reservation_ttl_seconds: i64,
    /// Events between two snapshots of the ledger.
    #[arg(long, env = "OMS_SNAPSHOT_EVERY", default_value_t = 100_000)]
    snapshot_every: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let _telemetry = telemetry::init(&TelemetryConfig::from_env(SERVICE))?;
    let store = StoreConfig::from_url(&args.store_url, "inventory")?;
    let kafka = KafkaConfig::from_env(SERVICE)?;
    let policy = LedgerPolicy {
        unknown_skus: if args.unknown_skus == "refuse" {
            UnknownSkus::Refuse
        } else {
            UnknownSkus::Accept
        },
        default_ttl: chrono::Duration::seconds(args.reservation_ttl_seconds.max(1)),
    };
    let config = InventoryConfig {
        store,
        policy,
        writer: WriterConfig {
            snapshot_every: args.snapshot_every,
            ..WriterConfig::default()
        },
        expiry_every: Duration::from_secs(1),
    };
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
