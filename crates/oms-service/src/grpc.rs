//! Serving gRPC: a port's own service with health, reflection and admin (a call meant for
//! another service is told its port), a span per call, and the one error mapping.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use oms_eventsourcing::CommandError;
use oms_eventsourcing::trace::continue_trace;
use prost::Message as _;
use prost_types::{FileDescriptorProto, FileDescriptorSet};
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
    connect_when_up(
        tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?,
        within,
    )
    .await
}

/// [`channel_when_up`] over TLS: the server's certificate checked with `tls` for the
/// address itself (a certificate for a loopback port names 127.0.0.1).
pub async fn tls_channel_when_up(
    addr: std::net::SocketAddr,
    tls: tonic::transport::ClientTlsConfig,
    within: std::time::Duration,
) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    let endpoint = tonic::transport::Endpoint::from_shared(format!("https://{addr}"))?.tls_config(tls)?;
    connect_when_up(endpoint, within).await
}

async fn connect_when_up(
    endpoint: tonic::transport::Endpoint,
    within: std::time::Duration,
) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    let deadline = std::time::Instant::now() + within;
    loop {
        match endpoint.connect().await {
            Ok(channel) => return Ok(channel),
            Err(e) if std::time::Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
}

/// A request to another service that carries the current trace (`traceparent` metadata),
/// so the callee's span joins the caller's trace.
pub fn traced<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(traceparent) = oms_eventsourcing::trace::current_traceparent()
        && let Ok(value) = traceparent.parse()
    {
        request.metadata_mut().insert("traceparent", value);
    }
    request
}

/// The largest request message a service reads: 4 MiB, the usual gRPC default, stated as a
/// decision of the contracts' own ([`oms_proto::limits`]). A larger message is refused
/// with `OUT_OF_RANGE` naming the limit.
pub const MAX_MESSAGE_BYTES: usize = oms_proto::limits::MAX_REQUEST_BYTES;

/// One of the five OMS services: the gRPC service, who answers it, and its port by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OmsService {
    name: &'static str,
    answered_by: &'static str,
    default_port: u16,
}

/// The five OMS services, so that a call reaching the port of another one is told where to go.
const OMS_SERVICES: [OmsService; 5] = [
    OmsService {
        name: oms_proto::orders::v1::order_capture_server::SERVICE_NAME,
        answered_by: "order capture",
        default_port: 50051,
    },
    OmsService {
        name: oms_proto::inventory::v1::inventory_ledger_server::SERVICE_NAME,
        answered_by: "the inventory ledger",
        default_port: 50052,
    },
    OmsService {
        name: oms_proto::routing::v1::routing_server::SERVICE_NAME,
        answered_by: "routing",
        default_port: 50053,
    },
    OmsService {
        name: oms_proto::fulfilment::v1::store_fulfilment_server::SERVICE_NAME,
        answered_by: "store fulfilment",
        default_port: 50054,
    },
    OmsService {
        name: oms_proto::returns::v1::returns_server::SERVICE_NAME,
        answered_by: "returns",
        default_port: 50055,
    },
];

/// What every port answers besides its own service.
const ALSO_SERVED: [&str; 4] = [
    tonic_health::pb::health_server::SERVICE_NAME,
    tonic_reflection::pb::v1::server_reflection_server::SERVICE_NAME,
    tonic_reflection::pb::v1alpha::server_reflection_server::SERVICE_NAME,
    oms_proto::admin::v1::admin_server::SERVICE_NAME,
];

/// Serves `routes` (the port's own `services`, and the admin API) on `listener` until
/// `shutdown` resolves, then lets calls in flight finish. Adds the standard health service
/// (every name in `services` reported serving) and server reflection, v1 and v1alpha, that
/// lists and describes only what this port serves. A call of any other method answers
/// `UNIMPLEMENTED` naming it, and, for another OMS service, the port to use. Every call but
/// health and reflection passes the gate of `access` first (see [`crate::auth`]); with a
/// server TLS configuration in `access`, the port speaks TLS only.
pub async fn serve(
    listener: TcpListener,
    routes: Routes,
    services: &[&'static str],
    access: &crate::auth::Access,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let (reporter, health) = tonic_health::server::health_reporter();
    for name in services {
        reporter
            .set_service_status(*name, tonic_health::ServingStatus::Serving)
            .await;
    }
    let contracts = contracts_of(services)?;
    let reflection = || {
        let builder = tonic_reflection::server::Builder::configure()
            .register_file_descriptor_set(contracts.clone())
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET);
        services
            .iter()
            .chain(&ALSO_SERVED)
            .fold(builder, |builder, name| builder.with_service_name(*name))
    };
    let reflection_v1 = reflection().build_v1()?.max_decoding_message_size(MAX_MESSAGE_BYTES);
    // grpcurl and most clients speak v1; Python's grpcio-reflection, among others, only v1alpha.
    let reflection_v1alpha = reflection()
        .build_v1alpha()?
        .max_decoding_message_size(MAX_MESSAGE_BYTES);
    let port = Port::new(services);
    let routes = Routes::from(routes.into_axum_router().fallback(move |uri: http::Uri| {
        let answer = Status::unimplemented(port.not_served(uri.path())).into_http::<tonic::body::Body>();
        async move { answer }
    }));
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = access.tls.server.clone() {
        builder = builder.tls_config(tls)?;
    }
    builder
        .layer(
            tower::ServiceBuilder::new()
                .layer(TraceLayer)
                .layer(NameUnknownMethods)
                // Who calls, and whether they may, before anything reads the request.
                .layer(crate::auth::gate::GateLayer(access.gate.clone()))
                // Every request within the contracts' input limits, or refused naming the
                // fields, before its service decodes it.
                .layer(crate::limits::RequestLimits)
                .into_inner(),
        )
        .add_routes(routes)
        .add_service(health.max_decoding_message_size(MAX_MESSAGE_BYTES))
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        // Small answers go out at once: without TCP_NODELAY a reply can wait ~40 ms for the
        // client's delayed acknowledgement.
        .serve_with_incoming_shutdown(TcpIncoming::from(listener).with_nodelay(Some(true)), shutdown)
        .await?;
    Ok(())
}

/// The contracts a port describes: the files of its own services' packages and of the
/// admin API, with every file they import. Other services' contracts are left out: a
/// client asking this port about them is told they are not found here.
fn contracts_of(services: &[&str]) -> anyhow::Result<FileDescriptorSet> {
    let all = FileDescriptorSet::decode(oms_proto::FILE_DESCRIPTOR_SET)?;
    let package_of = |service: &'_ str| service.rsplit_once('.').map_or("", |(package, _)| package).to_owned();
    let packages: BTreeSet<String> = services
        .iter()
        .copied()
        .chain([oms_proto::admin::v1::admin_server::SERVICE_NAME])
        .map(package_of)
        .collect();
    let by_name: HashMap<&str, &FileDescriptorProto> = all.file.iter().map(|f| (f.name(), f)).collect();
    let mut wanted: Vec<&str> = all
        .file
        .iter()
        .filter(|f| packages.contains(f.package()))
        .map(prost_types::FileDescriptorProto::name)
        .collect();
    let mut kept = BTreeSet::new();
    while let Some(name) = wanted.pop() {
        if kept.insert(name)
            && let Some(file) = by_name.get(name)
        {
            wanted.extend(file.dependency.iter().map(String::as_str));
        }
    }
    Ok(FileDescriptorSet {
        file: all.file.iter().filter(|f| kept.contains(f.name())).cloned().collect(),
    })
}

/// What one port serves, to tell a caller who reached it with a method it does not serve.
#[derive(Debug, Clone)]
struct Port {
    /// Its own services, e.g. "oms.orders.v1.OrderCapture".
    serves: String,
}

impl Port {
    fn new(services: &[&str]) -> Self {
        Self {
            serves: services.join(", "),
        }
    }

    /// Why a call of `path` (`/package.Service/Method`) is not answered here, and where it is.
    fn not_served(&self, path: &str) -> String {
        let service = path.trim_start_matches('/').split('/').next().unwrap_or_default();
        match OMS_SERVICES.iter().find(|s| s.name == service) {
            Some(elsewhere) => format!(
                "{} is not served here (this port serves {}): {} answers on its own port, {} by default",
                elsewhere.name, self.serves, elsewhere.answered_by, elsewhere.default_port
            ),
            None => format!(
                "unknown method {path}: this port serves {}, with {}",
                self.serves,
                ALSO_SERVED.join(", ")
            ),
        }
    }
}

/// Names the method in an `UNIMPLEMENTED` answer that has no message, which is how a
/// service answers a method it does not have.
#[derive(Debug, Clone, Copy)]
pub struct NameUnknownMethods;

impl<S> tower::Layer<S> for NameUnknownMethods {
    type Service = UnknownMethodsNamed<S>;
    fn layer(&self, inner: S) -> UnknownMethodsNamed<S> {
        UnknownMethodsNamed { inner }
    }
}

#[derive(Debug, Clone)]
pub struct UnknownMethodsNamed<S> {
    inner: S,
}

impl<S, B, R> tower::Service<http::Request<B>> for UnknownMethodsNamed<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let uri = request.uri().clone();
        let answer = self.inner.call(request);
        Box::pin(async move {
            let mut response = answer.await?;
            let headers = response.headers_mut();
            let unimplemented = headers
                .get("grpc-status")
                .is_some_and(|code| Code::from_bytes(code.as_bytes()) == Code::Unimplemented);
            if unimplemented && !headers.contains_key("grpc-message") {
                let named = Status::unimplemented(format!("unknown method {}", uri.path()));
                // The message is percent-encoded; a path that cannot be is left unnamed.
                let _ = named.add_header(headers);
            }
            Ok(response)
        })
    }
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

/// The bad fields of a request, collected so that one answer names all of them: the
/// contract kernel's [`Violations`](oms_proto::kernel::Violations), answered as
/// `INVALID_ARGUMENT` with `google.rpc.BadRequest` details.
pub use oms_proto::kernel::Violations;

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
        let mut violations = Violations::new();
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

    #[test]
    fn a_call_meant_for_another_service_is_told_its_port() {
        let orders = Port::new(&["oms.orders.v1.OrderCapture"]);
        assert_eq!(
            orders.not_served("/oms.inventory.v1.InventoryLedger/Reserve"),
            "oms.inventory.v1.InventoryLedger is not served here (this port serves oms.orders.v1.OrderCapture): \
             the inventory ledger answers on its own port, 50052 by default"
        );
        assert_eq!(
            orders.not_served("/shop.Cart/Checkout"),
            "unknown method /shop.Cart/Checkout: this port serves oms.orders.v1.OrderCapture, with \
             grpc.health.v1.Health, grpc.reflection.v1.ServerReflection, \
             grpc.reflection.v1alpha.ServerReflection, oms.admin.v1.Admin"
        );
    }

    #[test]
    fn a_port_describes_its_own_contracts_and_what_they_import_only() {
        let files: Vec<String> = contracts_of(&["oms.inventory.v1.InventoryLedger"])
            .unwrap()
            .file
            .into_iter()
            .map(|f| f.name().to_owned())
            .collect();
        for needed in [
            "oms/inventory/v1/inventory.proto",
            "oms/inventory/v1/events.proto",
            "oms/pos/v1/movements.proto",
            "oms/common/v1/common.proto",
            "oms/admin/v1/admin.proto",
            "google/protobuf/timestamp.proto",
        ] {
            assert!(files.iter().any(|f| f == needed), "{needed} missing from {files:?}");
        }
        assert!(
            !files
                .iter()
                .any(|f| f.starts_with("oms/orders/") || f.starts_with("oms/routing/")),
            "{files:?}"
        );
    }
}
