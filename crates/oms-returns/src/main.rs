//! `oms-returns`: returns as a process of its own, on PostgreSQL (or SQLite) and Kafka.

/// Returns: return anywhere, inspect and restock, refund the original tender, exchanges.
///
/// Kafka is configured with OMS_KAFKA_* variables (see the README); logs with RUST_LOG
/// and OMS_LOG_FORMAT; span export with OTEL_EXPORTER_OTLP_ENDPOINT.
#[derive(Debug, clap::Parser)]
#[command(name = "oms-returns", version)]
struct Cli {
    #[command(flatten)]
    _config: oms_service::settings::ConfigFlag,
    #[command(flatten)]
    args: oms_returns::cli::Args,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    oms_returns::cli::run(oms_service::settings::parse::<Cli>()?.args).await
}
