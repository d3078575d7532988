//! The input limits at the door: every gRPC request, before its service decodes it, is
//! checked against the contract's limits ([`oms_proto::limits`]) and refused with
//! `INVALID_ARGUMENT` naming each field beyond them; every message from a system outside
//! the OMS is checked the same way before its consumer applies it, and dead-lettered
//! with the reason.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http_body_util::{BodyExt, Full, Limited};
use oms_proto::limits::{self, MAX_REQUEST_BYTES, MAX_TOPIC_MESSAGE_BYTES};
use oms_transport::{Handling, Message, MessageHandler};
use tonic::Status;
use tonic::body::Body;

use crate::Violations;

/// Checks a message from an inbound topic: its size, then its fields.
pub fn check_inbound(message_type: &str, payload: &[u8]) -> Result<(), String> {
    if payload.len() > MAX_TOPIC_MESSAGE_BYTES {
        return Err(format!(
            "a message of {} bytes: at most {MAX_TOPIC_MESSAGE_BYTES} are taken",
            payload.len()
        ));
    }
    limits::check_encoded(message_type, payload).map_err(|bad| limits::describe(&bad))
}

/// A message handler that applies only messages within the limits; the others are
/// dead-lettered with the fields named. Without a message type (a topic of the OMS's own),
/// every message goes to the handler.
pub struct WithinLimits<H> {
    pub handler: H,
    pub message_type: Option<&'static str>,
}

impl<M: oms_eventsourcing::Model, H: MessageHandler<M>> MessageHandler<M> for WithinLimits<H> {
    fn handle(
        &self,
        state: &M,
        message: &Message,
        ctx: &oms_eventsourcing::writer::Context<'_>,
    ) -> Result<oms_eventsourcing::Decision<M::Event, ()>, Handling> {
        if let Some(message_type) = self.message_type {
            check_inbound(message_type, &message.payload).map_err(Handling::poison)?;
        }
        self.handler.handle(state, message, ctx)
    }
}

/// The message of a request body that is one uncompressed gRPC frame: a zero flag, the
/// length, the message.
pub(crate) fn first_message(body: &[u8]) -> Option<&[u8]> {
    match body {
        [0, a, b, c, d, rest @ ..] => rest.get(..usize::try_from(u32::from_be_bytes([*a, *b, *c, *d])).ok()?),
        _ => None,
    }
}

/// The tower layer that checks every request of a gRPC server.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits;

impl<S> tower::Layer<S> for RequestLimits {
    type Service = Checked<S>;
    fn layer(&self, inner: S) -> Checked<S> {
        Checked { inner }
    }
}

#[derive(Debug, Clone)]
pub struct Checked<S> {
    inner: S,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S> tower::Service<http::Request<Body>> for Checked<S>
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

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let Some(input) = limits::request_type(request.uri().path()) else {
            // Health, reflection, or a path no OMS contract names: not ours to check.
            return Box::pin(self.inner.call(request));
        };
        // The clone that was made ready serves this call; the fresh one waits for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let bytes = match Limited::new(body, MAX_REQUEST_BYTES + 5).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(_) => {
                    let status = Status::out_of_range(format!(
                        "the request is larger than {MAX_REQUEST_BYTES} bytes, or could not be read"
                    ));
                    return Ok(status.into_http());
                }
            };
            // Anything but one uncompressed message is left to tonic, which refuses what it
            // cannot read.
            if let Some(message) = first_message(&bytes)
                && let Err(bad) = limits::check_as(&input, message)
            {
                let mut violations = Violations::new();
                for (field, what) in bad {
                    violations.add(field, what);
                }
                return Ok(violations.into_status().into_http());
            }
            inner
                .call(http::Request::from_parts(parts, Body::new(Full::new(bytes))))
                .await
        })
    }
}
