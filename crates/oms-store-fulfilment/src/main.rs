//! `oms-store-fulfilment`: store fulfilment as a process of its own, on PostgreSQL (or
//! SQLite) and Kafka.

/// Store fulfilment: store queues and staff steps, pickup, lockers, ship-to-store, and jobs
/// for warehouse and supplier systems.
///
/// Kafka is configured with OMS_KAFKA_* variables (see the README); logs with RUST_LOG
/// and OMS_LOG_FORMAT; span export with OTEL_EXPORTER_OTLP_ENDPOINT.
#[derive(Debug, clap::Parser)]
#[command(name = "oms-store-fulfilment", version)]
struct Cli {
    #[command(flatten)]
    _config: oms_service::settings::ConfigFlag,
    #[command(flatten)]
    args: oms_store_fulfilment::cli::Args,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    oms_store_fulfilment::cli::run(oms_service::settings::parse::<Cli>()?.args).await
}
