//! A service as a process of its own: what its binary and `oms serve <service>` share.
//! Logs and spans set up, Kafka configured from `OMS_KAFKA_*`, the API's address bound,
//! the service started on the system clock and stopped in order on SIGTERM or Ctrl-C.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::telemetry::{self, TelemetryConfig};
use anyhow::Context as _;
use oms_eventsourcing::SystemClock;
use oms_eventsourcing::clock::SharedClock;
use oms_transport::KafkaConfig;
use tokio::net::TcpListener;

use crate::{Shutdown, Wiring};

/// A started service that can be stopped: in-flight calls finish, the writer drains, the
/// relay flushes.
pub trait Running {
    fn stop(self) -> impl Future<Output = ()> + Send;
}

/// Runs one service until SIGTERM or Ctrl-C: `start` gets the Kafka wiring, the system
/// clock and the bound listener of `grpc_addr`.
pub async fn serve<R, Fut>(
    service: &'static str,
    grpc_addr: SocketAddr,
    start: impl FnOnce(Wiring, SharedClock, TcpListener) -> Fut,
) -> anyhow::Result<()>
where
    R: Running,
    Fut: Future<Output = anyhow::Result<R>>,
{
    let _telemetry = telemetry::init(&TelemetryConfig::from_env(service))?;
    let kafka = KafkaConfig::from_env(service)?;
    let listener = TcpListener::bind(grpc_addr)
        .await
        .with_context(|| format!("cannot listen on {grpc_addr}: is another process using it? Set --grpc-addr"))?;
    let running = start(Wiring::Kafka(kafka), Arc::new(SystemClock), listener).await?;
    tracing::info!(service, %grpc_addr, "serving");
    let shutdown = Shutdown::new();
    shutdown.on_signals();
    shutdown.wait().await;
    running.stop().await;
    tracing::info!(service, "stopped");
    Ok(())
}
