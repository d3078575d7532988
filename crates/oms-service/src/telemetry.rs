//! Logs, spans and traces for every service, set up in one place.
//!
//! Logs go to stderr, human-readable or as JSON lines (`OMS_LOG_FORMAT=json`), filtered by
//! `RUST_LOG` (default `info`). Spans always carry W3C trace context, so a trace id
//! travels through gRPC metadata and Kafka headers even when nothing exports it; setting
//! `OTEL_EXPORTER_OTLP_ENDPOINT` also exports the spans over OTLP/gRPC.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

/// Telemetry settings of one process.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// `service.name` of exported spans.
    pub service: String,
    pub log_format: LogFormat,
    /// An `EnvFilter` directive, e.g. `info,oms_routing=debug`.
    pub filter: String,
    /// OTLP/gRPC collector endpoint, e.g. `http://localhost:4317`; none: no export.
    pub otlp_endpoint: Option<String>,
}

impl TelemetryConfig {
    /// Reads `OMS_LOG_FORMAT` (`human`|`json`), `RUST_LOG` and `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn from_env(service: &str) -> Self {
        let log_format = match std::env::var("OMS_LOG_FORMAT").ok().as_deref() {
            Some("json") => LogFormat::Json,
            _ => LogFormat::Human,
        };
        Self {
            service: service.to_owned(),
            log_format,
            filter: std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned()),
            otlp_endpoint: std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
                .ok()
                .filter(|s| !s.is_empty()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("invalid log filter {filter:?}: {reason}")]
    Filter { filter: String, reason: String },
    #[error("cannot build the OTLP exporter for {endpoint}: {reason}")]
    Exporter { endpoint: String, reason: String },
    #[error("a global subscriber is already installed")]
    AlreadyInstalled,
}

/// Flushes exported spans when dropped; keep it alive for the life of the process.
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        let _ = self.provider.shutdown();
    }
}

/// Installs the global subscriber. Call once, at the start of `main`.
pub fn init(config: &TelemetryConfig) -> Result<TelemetryGuard, TelemetryError> {
    let filter = EnvFilter::try_new(&config.filter).map_err(|e| TelemetryError::Filter {
        filter: config.filter.clone(),
        reason: e.to_string(),
    })?;
    let resource = Resource::builder().with_service_name(config.service.clone()).build();
    let mut provider = SdkTracerProvider::builder().with_resource(resource);
    if let Some(endpoint) = &config.otlp_endpoint {
        use opentelemetry_otlp::WithExportConfig;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint.clone())
            .build()
            .map_err(|e| TelemetryError::Exporter {
                endpoint: endpoint.clone(),
                reason: e.to_string(),
            })?;
        provider = provider.with_batch_exporter(exporter);
    }
    let provider = provider.build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer("oms"));
    let fmt = match config.log_format {
        LogFormat::Human => tracing_subscriber::fmt::layer().with_writer(std::io::stderr).boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .boxed(),
    };
    // The log filter only decides what is written; spans are always made at `info` and
    // above, so trace context keeps travelling whatever the log level.
    tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(otel.with_filter(LevelFilter::INFO))
        .try_init()
        .map_err(|_| TelemetryError::AlreadyInstalled)?;
    Ok(TelemetryGuard { provider })
}

#[cfg(test)]
mod propagation_tests {
    use super::*;
    use oms_eventsourcing::trace::{continue_trace, current_traceparent, trace_id_of};

    #[test]
    fn a_span_continuing_a_remote_trace_is_its_child() {
        let init = init(&TelemetryConfig {
            service: "test".into(),
            log_format: LogFormat::Human,
            filter: "warn".into(),
            otlp_endpoint: None,
        });
        eprintln!("init: {:?}", init.as_ref().err());
        let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let span = tracing::info_span!("consume");
        continue_trace(&span, parent);
        let child = span.in_scope(current_traceparent);
        eprintln!("child: {child:?}");
        let child = child.expect("a traceparent inside the span");
        assert_eq!(trace_id_of(&child), trace_id_of(parent));
        assert_ne!(child, parent);
    }
}
