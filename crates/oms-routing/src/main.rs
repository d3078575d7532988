//! `oms-routing`: routing as a process of its own, on PostgreSQL (or SQLite) and Kafka.

/// Routing: which node fulfils each order, by rules that are data; re-routing, backorders
/// and delivery options.
///
/// Kafka is configured with OMS_KAFKA_* variables (see the README); logs with RUST_LOG
/// and OMS_LOG_FORMAT; span export with OTEL_EXPORTER_OTLP_ENDPOINT.
#[derive(Debug, clap::Parser)]
#[command(name = "oms-routing", version)]
struct Cli {
    #[command(flatten)]
    _config: oms_service::settings::ConfigFlag,
    #[command(flatten)]
    args: oms_routing::cli::Args,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    oms_routing::cli::run(oms_service::settings::parse::<Cli>()?.args).await
}
