//! Serving gRPC: health, reflection, a span per call, and the one error mapping.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use oms_eventsourcing::CommandError;
use oms_eventsourcing::telemetry::continue_trace;
use tokio::net::TcpListener;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use tracing::Instrument;

/// A channel to the gRPC server at `addr`, trying again every 50 ms while nothing answers
/// there yet (a service still starting), for `within` at most.
pub async fn channel_when_up(
    addr: std::net::SocketAddr,
    within: std::time::Duration,
) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?;
    let deadline = std::time::Instant::now() + within;
    loop {
        match endpoint.connect().await {
            Ok(channel) => return Ok(channel),
            Err(e) if std::time::Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
}

/// Serves `routes` on `listener` until `shutdown` resolves, then lets calls in flight
/// finish. Adds the standard health service (every name in `services` reported serving)
/// and server reflection over every OMS contract.
pub async fn serve(
    listener: TcpListener,
    routes: Routes,
    services: &[&'static str],
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let (reporter, health) = tonic_health::server::health_reporter();
    for name in services {
        reporter
            .set_service_status(*name, tonic_health::ServingStatus::Serving)
            .await;
    }
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(oms_proto::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    tonic::transport::Server::builder()
        .layer(TraceLayer)
        .add_routes(routes)
        .add_service(health)
        .add_service(reflection)
        // Small answers go out at once: without TCP_NODELAY a reply can wait ~40 ms for the
        // client's delayed acknowledgement.
        .serve_with_incoming_shutdown(TcpIncoming::from(listener).with_nodelay(Some(true)), shutdown)
        .await?;
    Ok(())
}

/// A span per gRPC call, named by its method and continuing the trace in the caller's
/// `traceparent` metadata.
#[derive(Debug, Clone, Copy)]
pub struct TraceLayer;

impl<S> tower::Layer<S> for TraceLayer {
    type Service = Traced<S>;
    fn layer(&self, inner: S) -> Traced<S> {
        Traced { inner }
    }
}

#[derive(Debug, Clone)]
pub struct Traced<S> {
    inner: S,
}

impl<S, B> tower::Service<http::Request<B>> for Traced<S>
where
    S: tower::Service<http::Request<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let span = tracing::info_span!("grpc", method = %request.uri().path());
        if let Some(parent) = request.headers().get("traceparent").and_then(|v| v.to_str().ok()) {
            continue_trace(&span, parent);
        }
        Box::pin(self.inner.call(request).instrument(span))
    }
}

/// The bad fields of a request, collected so that one answer names all of them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldViolations(Vec<(String, String)>);

impl FieldViolations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push((field.into(), description.into()));
    }

    /// Adds a violation when `bad` holds.
    pub fn check(&mut self, bad: bool, field: impl Into<String>, description: impl Into<String>) {
        if bad {
            self.add(field, description);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(f, d)| (f.as_str(), d.as_str()))
    }

    /// `Ok` when there are none, else `INVALID_ARGUMENT` listing them all (in the message,
    /// and as `google.rpc.BadRequest` details).
    pub fn into_result(self) -> Result<(), Status> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.into_status())
        }
    }

    pub fn into_status(self) -> Status {
        let message = self
            .0
            .iter()
            .map(|(f, d)| format!("{f}: {d}"))
            .collect::<Vec<_>>()
            .join("; ");
        let details = ErrorDetails::with_bad_request(
            self.0
                .into_iter()
                .map(|(field, description)| tonic_types::FieldViolation::new(field, description))
                .collect::<Vec<_>>(),
        );
        Status::with_error_details(Code::InvalidArgument, message, details)
    }
}

/// `FAILED_PRECONDITION` with a `google.rpc.PreconditionFailure` detail per violated
/// condition: (type, subject, description), e.g. ("STOCK", "SKU-1", "3 requested, 1 available").
pub fn precondition_failed(message: impl Into<String>, violations: Vec<(String, String, String)>) -> Status {
    let details = ErrorDetails::with_precondition_failure(
        violations
            .into_iter()
            .map(|(kind, subject, description)| tonic_types::PreconditionViolation::new(kind, subject, description))
            .collect::<Vec<_>>(),
    );
    Status::with_error_details(Code::FailedPrecondition, message, details)
}

/// How a domain refusal is told to a gRPC caller.
pub trait ToStatus {
    fn to_status(&self) -> Status;
}

/// The status for a command that did not take effect.
pub fn command_status<X: ToStatus>(error: CommandError<X>) -> Status {
    match error {
        CommandError::Rejected(refusal) => refusal.to_status(),
        CommandError::AlreadyApplied => Status::already_exists("already applied"),
        CommandError::Conflict { stream_id, version } => Status::aborted(format!(
            "{stream_id} was changed concurrently at version {version}; try again"
        )),
        CommandError::Unavailable(reason) => Status::unavailable(format!("{reason}; try again")),
        CommandError::Stopped => Status::unavailable("the service is shutting down; try again"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_field_is_named_once_in_one_answer() {
        let mut violations = FieldViolations::new();
        violations.check(true, "lines[0].quantity", "must be greater than 0");
        violations.check(false, "location_id", "is required");
        violations.add("location_id", "unknown location STORE-9");
        let status = violations.into_result().unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(
            status.message(),
            "lines[0].quantity: must be greater than 0; location_id: unknown location STORE-9"
        );
        let details = status.get_error_details();
        let bad = details.bad_request().expect("bad request details");
        assert_eq!(bad.field_violations.len(), 2);
        assert_eq!(bad.field_violations[0].field, "lines[0].quantity");
    }
}
