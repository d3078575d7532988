//! The gate every gRPC call passes before its service sees it: the bearer token verified
//! (`UNAUTHENTICATED` saying what is wrong), the method's policy applied
//! (`PERMISSION_DENIED` saying who may), and the caller handed to the service in the
//! request's extensions. Health and reflection pass without a token.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http_body_util::{BodyExt, Full, Limited};
use oms_proto::limits::MAX_REQUEST_BYTES;
use prost_reflect::DynamicMessage;
use tonic::Status;
use tonic::body::Body;

use super::keys::Verifier;
use super::policy::{self, Verdict};
use super::{Caller, Gate};

/// The method a call was made to, for the services' own checks.
#[derive(Debug, Clone)]
pub struct Method(pub String);

/// The tower layer of the gate.
#[derive(Debug, Clone)]
pub struct GateLayer(pub Gate);

impl<S> tower::Layer<S> for GateLayer {
    type Service = Gated<S>;
    fn layer(&self, inner: S) -> Gated<S> {
        Gated {
            inner,
            gate: self.0.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Gated<S> {
    inner: S,
    gate: Gate,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S> tower::Service<http::Request<Body>> for Gated<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<S::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        let path = request.uri().path().to_owned();
        let verifier = match &self.gate {
            Gate::Verify(verifier) if !policy::is_open(&path) => Arc::clone(verifier),
            _ => return Box::pin(self.inner.call(request)),
        };
        let caller = match authenticate(&verifier, request.headers()) {
            Ok(caller) => caller,
            Err(status) => return refused(status),
        };
        let check = match policy::decide(&path, &caller) {
            Verdict::Allow => None,
            Verdict::Field(realm, field) => Some((realm, field)),
            Verdict::Deny(why) => return refused(Status::permission_denied(why)),
        };
        request.extensions_mut().insert(Method(path.clone()));
        request.extensions_mut().insert(caller.clone());
        let Some((realm, field)) = check else {
            return Box::pin(self.inner.call(request));
        };
        // The clone that was made ready serves this call; the fresh one waits for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let Ok(collected) = Limited::new(body, MAX_REQUEST_BYTES + 5).collect().await else {
                return Ok(
                    Status::out_of_range(format!("the request is larger than {MAX_REQUEST_BYTES} bytes")).into_http(),
                );
            };
            let bytes = collected.to_bytes();
            if let Err(why) = scoped(&path, &bytes, realm, field, &caller) {
                return Ok(Status::permission_denied(why).into_http());
            }
            inner
                .call(http::Request::from_parts(parts, Body::new(Full::new(bytes))))
                .await
        })
    }
}

fn refused<E: 'static>(status: Status) -> BoxFuture<http::Response<Body>, E> {
    Box::pin(async move { Ok(status.into_http()) })
}

/// The caller of a request's bearer token.
fn authenticate(verifier: &Arc<Verifier>, headers: &http::HeaderMap) -> Result<Caller, Status> {
    let Some(value) = headers.get(http::header::AUTHORIZATION) else {
        return Err(Status::unauthenticated(
            "no bearer token: send the metadata `authorization: Bearer <token>` (`oms token issue --help` says how to get one)",
        ));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .ok_or_else(|| Status::unauthenticated("the authorization metadata is not `Bearer <token>`"))?;
    verifier.verify_fresh(token.trim())
}

/// Checks the field scope of one unary request: the first gRPC frame decoded as the
/// method's request type.
fn scoped(path: &str, bytes: &[u8], realm: super::Realm, field: &str, caller: &Caller) -> Result<(), String> {
    let descriptor = oms_proto::limits::request_type(path).ok_or_else(|| format!("{path} is not an OMS method"))?;
    let message = crate::limits::first_message(bytes).ok_or("the request is not one uncompressed gRPC message")?;
    let request =
        DynamicMessage::decode(descriptor, message).map_err(|e| format!("the request cannot be read: {e}"))?;
    policy::check_field(&request, realm, field, caller)
}
