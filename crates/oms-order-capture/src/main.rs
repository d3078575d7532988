//! `oms-order-capture`: order capture as a process of its own, on PostgreSQL (or SQLite)
//! and Kafka.

/// Order capture: orders from every channel, one lifecycle, customer-service operations.
///
/// Kafka is configured with OMS_KAFKA_* variables (see the README); logs with RUST_LOG
/// and OMS_LOG_FORMAT; span export with OTEL_EXPORTER_OTLP_ENDPOINT.
#[derive(Debug, clap::Parser)]
#[command(name = "oms-order-capture", version)]
struct Cli {
    #[command(flatten)]
    _config: oms_service::settings::ConfigFlag,
    #[command(flatten)]
    args: oms_order_capture::cli::Args,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    oms_order_capture::cli::run(oms_service::settings::parse::<Cli>()?.args).await
}
