//! `oms-inventory-ledger`: the inventory ledger as a process of its own, on PostgreSQL (or
//! SQLite) and Kafka.

/// The inventory ledger: real-time stock of every SKU at every location.
///
/// Kafka is configured with OMS_KAFKA_* variables (see the README); logs with RUST_LOG
/// and OMS_LOG_FORMAT; span export with OTEL_EXPORTER_OTLP_ENDPOINT.
#[derive(Debug, clap::Parser)]
#[command(name = "oms-inventory-ledger", version)]
struct Cli {
    #[command(flatten)]
    _config: oms_service::settings::ConfigFlag,
    #[command(flatten)]
    args: oms_inventory_ledger::cli::Args,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    oms_inventory_ledger::cli::run(oms_service::settings::parse::<Cli>()?.args).await
}
