//! A service as a process of its own: what its binary and `oms serve <service>` share.
//! Logs and spans set up, Kafka configured from `OMS_KAFKA_*`, the API's address bound,
//! the service started on the system clock and stopped in order on SIGTERM or Ctrl-C.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use oms_eventsourcing::clock::SharedClock;
use oms_eventsourcing::{StoreConfig, SystemClock, WriterConfig};
use oms_transport::KafkaConfig;
use tokio::net::TcpListener;

use crate::auth::{self, Access, Gate, Identity};
use crate::telemetry::{self, TelemetryConfig};
use crate::{Shutdown, Wiring};

/// Events between two snapshots of a service's state, unless told otherwise.
pub const SNAPSHOT_EVERY: u64 = 100_000;

/// What every service process is told, whichever service it is: where its log is kept,
/// where its API listens (`PORT` by default), how often it snapshots its state. Each
/// service's `Args` flattens it beside the settings of its own.
#[derive(Debug, Clone, clap::Args)]
pub struct ProcessArgs<const PORT: u16> {
    /// Where the service's log is kept: postgres://user@host/db?schema=<service> or
    /// sqlite://path.
    #[arg(long, env = "OMS_STORE_URL")]
    pub store_url: String,
    /// Address of the gRPC API.
    #[arg(long, env = "OMS_GRPC_ADDR", default_value_t = SocketAddr::from(([0, 0, 0, 0], PORT)))]
    pub grpc_addr: SocketAddr,
    /// Events between two snapshots of the service's state.
    #[arg(long, env = "OMS_SNAPSHOT_EVERY", default_value_t = SNAPSHOT_EVERY)]
    pub snapshot_every: u64,
    #[command(flatten)]
    pub auth: AuthArgs,
    #[command(flatten)]
    pub tls: crate::tls::TlsArgs,
}

/// How a service process checks its callers, and who it is when it calls another service.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct AuthArgs {
    /// The public keys tokens are checked against: a JWKS file (your identity provider's,
    /// or the `jwks.json` that `oms token keygen` writes).
    #[arg(long, env = "OMS_AUTH_JWKS_FILE", conflicts_with = "auth_jwks_url")]
    pub auth_jwks_file: Option<PathBuf>,
    /// Or the URL of your identity provider's JWKS (its OIDC `jwks_uri`), fetched at start,
    /// every 10 minutes, and when a token names a key not seen yet.
    #[arg(long, env = "OMS_AUTH_JWKS_URL")]
    pub auth_jwks_url: Option<String>,
    /// The issuer (`iss`) tokens must name.
    #[arg(long, env = "OMS_AUTH_ISSUER", default_value = auth::keys::DEFAULT_ISSUER)]
    pub auth_issuer: String,
    /// The audience (`aud`) tokens must name.
    #[arg(long, env = "OMS_AUTH_AUDIENCE", default_value = auth::keys::DEFAULT_AUDIENCE)]
    pub auth_audience: String,
    /// A file holding this service's own token (role `service`), sent when it calls
    /// another service; read at every call, so it can be rotated in place.
    #[arg(long, env = "OMS_SERVICE_TOKEN_FILE")]
    pub service_token_file: Option<PathBuf>,
    /// Serve without access control: anyone who reaches the port may call anything.
    /// Logged as a warning at start and every minute.
    #[arg(long, env = "OMS_INSECURE_NO_AUTH")]
    pub insecure_no_auth: bool,
}

impl AuthArgs {
    /// The access control these flags ask for, over `tls`; without keys, an error saying
    /// what to give.
    pub async fn access(&self, tls: crate::tls::Tls) -> anyhow::Result<Access> {
        let identity = self
            .service_token_file
            .clone()
            .map_or(Identity::Anonymous, Identity::File);
        if self.insecure_no_auth {
            return Ok(Access {
                gate: Gate::Open,
                identity,
                tls,
            });
        }
        let verifier = match (&self.auth_jwks_file, &self.auth_jwks_url) {
            (Some(file), _) => {
                auth::keys::Verifier::new(auth::Jwks::load(file)?, &self.auth_issuer, &self.auth_audience)
            }
            (None, Some(url)) => auth::keys::Verifier::fetching(url, &self.auth_issuer, &self.auth_audience).await?,
            (None, None) => anyhow::bail!(
                "no keys to check tokens with: give --auth-jwks-file (OMS_AUTH_JWKS_FILE), e.g. the \
                 jwks.json of `oms token keygen`, or --auth-jwks-url (OMS_AUTH_JWKS_URL), your identity \
                 provider's, or --insecure-no-auth on a closed network"
            ),
        };
        Ok(Access {
            gate: Gate::Verify(Arc::new(verifier)),
            identity,
            tls,
        })
    }
}

impl<const PORT: u16> ProcessArgs<PORT> {
    /// The store of `--store-url`, in the PostgreSQL schema `schema` unless the URL names one.
    pub fn store(&self, schema: &str) -> anyhow::Result<StoreConfig> {
        Ok(StoreConfig::from_url(&self.store_url, schema)?)
    }

    /// Its access control (`--auth-*`, `--insecure-no-auth`) and TLS (`--tls-*`).
    pub async fn access(&self) -> anyhow::Result<Access> {
        self.auth.access(self.tls.tls()?).await
    }

    pub fn writer(&self) -> WriterConfig {
        WriterConfig {
            snapshot_every: self.snapshot_every,
            ..WriterConfig::default()
        }
    }
}

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
