//! Access control: who may call which method, for which stores, channels and nodes.
//!
//! Every gRPC call carries a bearer token, a JWT signed with EdDSA (Ed25519) or RS256,
//! checked against the keys of a JWKS file, with its issuer, audience and expiry. Its
//! claims name a [`Role`] and the stores, channels and nodes the caller may act for.
//! Which role may call which method, and on what, is declared once per method in
//! [`policy`]; the [`gate`] applies it to every call before its service sees it. Health
//! and reflection stay open for probes and tools.
//!
//! A service that calls another (routing → the ledger, returns → order capture) carries
//! its own identity: a token of role `service` naming it, read from a file that whoever
//! issues it rotates ([`Identity`]).

pub mod gate;
pub mod keys;
pub mod policy;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tonic::Status;

pub use self::keys::{Jwks, LocalKey};

/// What a caller is, as its token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// A web shop, app or marketplace connector: places, tracks and cancels its channel's orders.
    SalesChannel,
    /// A store's point of sale: stock movements and look-ups for its stores.
    Pos,
    /// Staff of a store: its queue, its jobs, hand-overs, in-store returns.
    StoreStaff,
    /// Customer service: looks up, holds, cancels, changes and starts returns; reads any store.
    CustomerService,
    /// A warehouse or 3PL: its node's jobs and stock.
    Wms,
    /// Head office: the network, rules, imports and digests; everything.
    Operator,
    /// One of the OMS's own services calling another; the token's subject names it.
    Service,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::SalesChannel,
        Role::Pos,
        Role::StoreStaff,
        Role::CustomerService,
        Role::Wms,
        Role::Operator,
        Role::Service,
    ];

    /// The name tokens and `oms token issue --role` use.
    pub fn name(self) -> &'static str {
        match self {
            Role::SalesChannel => "sales-channel",
            Role::Pos => "pos",
            Role::StoreStaff => "store-staff",
            Role::CustomerService => "customer-service",
            Role::Wms => "wms",
            Role::Operator => "operator",
            Role::Service => "service",
        }
    }

    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// What a token says: the registered claims, the role, and what the caller acts for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// Who: a person, a system, or (role `service`) the calling service's name.
    pub sub: String,
    pub iat: u64,
    pub exp: u64,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stores: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
}

/// The kinds of things a token can be limited to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Realm {
    Stores,
    Channels,
    Nodes,
    /// A stock location: one of the caller's stores or nodes.
    Locations,
}

impl Realm {
    pub fn name(self) -> &'static str {
        match self {
            Realm::Stores => "stores",
            Realm::Channels => "channels",
            Realm::Nodes => "nodes",
            Realm::Locations => "locations",
        }
    }
}

/// The caller of a gRPC call, once its token was verified; the services find it in the
/// request's extensions to check what only they can (the channel of an order they hold).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub subject: String,
    pub role: Role,
    stores: BTreeSet<String>,
    channels: BTreeSet<String>,
    nodes: BTreeSet<String>,
}

impl Caller {
    pub fn of(claims: &Claims) -> Self {
        Self {
            subject: claims.sub.clone(),
            role: claims.role,
            stores: claims.stores.iter().cloned().collect(),
            channels: claims.channels.iter().cloned().collect(),
            nodes: claims.nodes.iter().cloned().collect(),
        }
    }

    /// Whether the caller acts for `value` of `realm`.
    pub fn acts_for(&self, realm: Realm, value: &str) -> bool {
        match realm {
            Realm::Stores => self.stores.contains(value),
            Realm::Channels => self.channels.contains(value),
            Realm::Nodes => self.nodes.contains(value),
            Realm::Locations => self.stores.contains(value) || self.nodes.contains(value),
        }
    }

    /// `PERMISSION_DENIED` unless the caller acts for `value`, for the service's own checks
    /// of what it holds (`what`: "order ORD-1").
    pub fn require(&self, realm: Realm, value: &str, what: &str) -> Result<(), Status> {
        if self.acts_for(realm, value) {
            Ok(())
        } else {
            Err(Status::permission_denied(format!(
                "{what} belongs to {value}, which this {} token does not act for (its {}: {})",
                self.role.name(),
                realm.name(),
                self.listed(realm)
            )))
        }
    }

    fn listed(&self, realm: Realm) -> String {
        let names: Vec<&str> = match realm {
            Realm::Stores => self.stores.iter().map(String::as_str).collect(),
            Realm::Channels => self.channels.iter().map(String::as_str).collect(),
            Realm::Nodes => self.nodes.iter().map(String::as_str).collect(),
            Realm::Locations => self.stores.iter().chain(&self.nodes).map(String::as_str).collect(),
        };
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    }
}

/// The caller of a request, when access control is on; `None` on a port serving without
/// it (`--insecure-no-auth`), where every check passes.
pub fn caller<T>(request: &tonic::Request<T>) -> Option<&Caller> {
    request.extensions().get::<Caller>()
}

/// The caller whose reach the service must check itself, when the method's policy says
/// so for the caller's role ([`policy::Scope::Held`]): the request names something only the
/// service can place (an order by its id), in this realm. `None`: nothing to check.
pub fn to_check_held<T>(request: &tonic::Request<T>) -> Option<(&Caller, Realm)> {
    let caller = caller(request)?;
    policy::held_realm(request_path(request), caller.role).map(|realm| (caller, realm))
}

/// The method a request was made to, as the gate recorded it.
fn request_path<T>(request: &tonic::Request<T>) -> &str {
    request.extensions().get::<gate::Method>().map_or("", |m| m.0.as_str())
}

/// How a port checks its callers.
#[derive(Clone)]
pub enum Gate {
    /// Every call must carry a valid token the policy admits.
    Verify(Arc<keys::Verifier>),
    /// No checks at all (`--insecure-no-auth`): for a closed network or a test of a
    /// service's behaviour only. Logged as a warning at start and every minute.
    Open,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Gate::Verify(_) => f.write_str("Gate::Verify"),
            Gate::Open => f.write_str("Gate::Open"),
        }
    }
}

/// The token a service presents when it calls another service.
#[derive(Clone, Default)]
pub enum Identity {
    /// Read from this file at every call, so whoever issues it can rotate it.
    File(PathBuf),
    /// Minted on demand with a local key (the embedded mode, the `oms` command, tests).
    Minted(Arc<keys::Minter>),
    /// This token, as given (`oms simulate --token`).
    Token(String),
    /// None (the callee serves without access control).
    #[default]
    Anonymous,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Identity::File(path) => write!(f, "Identity::File({})", path.display()),
            Identity::Minted(_) => f.write_str("Identity::Minted"),
            Identity::Token(_) => f.write_str("Identity::Token(..)"),
            Identity::Anonymous => f.write_str("Identity::Anonymous"),
        }
    }
}

impl Identity {
    /// The identity of the OMS service `service`, minted with `key`.
    pub fn service(key: &LocalKey, service: &str) -> Self {
        Identity::minted(key, service, Role::Service)
    }

    /// Tokens for `subject` in `role`, minted with `key`.
    pub fn minted(key: &LocalKey, subject: &str, role: Role) -> Self {
        Identity::acting(key, subject, role, keys::ActsFor::default())
    }

    /// Tokens for `subject` in `role`, acting for these stores, channels and nodes,
    /// minted with `key`.
    pub fn acting(key: &LocalKey, subject: &str, role: Role, acts_for: keys::ActsFor) -> Self {
        Identity::Minted(Arc::new(keys::Minter::new(key.clone(), subject, role, acts_for)))
    }

    /// The `authorization` header value to send, if any.
    pub fn bearer(&self) -> Result<Option<String>, Status> {
        let token = match self {
            Identity::Anonymous => return Ok(None),
            Identity::File(path) => std::fs::read_to_string(path)
                .map_err(|e| Status::unauthenticated(format!("this service's token file {}: {e}", path.display())))?
                .trim()
                .to_owned(),
            Identity::Minted(minter) => minter.token()?,
            Identity::Token(token) => token.clone(),
        };
        Ok(Some(format!("Bearer {token}")))
    }
}

/// A client interceptor that adds the service's identity to every call.
#[derive(Clone, Debug)]
pub struct Bearer(pub Identity);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        if let Some(value) = self.0.bearer()? {
            let value = value
                .parse()
                .map_err(|_| Status::unauthenticated("this service's token is not a valid header value"))?;
            request.metadata_mut().insert("authorization", value);
        }
        Ok(request)
    }
}

/// A channel to another service that carries this service's identity.
pub type AuthorisedChannel = tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Bearer>;

/// A lazily connected channel to the service at `url`, with the service's identity on
/// every call; over TLS for an `https://` URL.
pub fn connect_lazy(url: &str, access: &Access, timeout: Duration) -> anyhow::Result<AuthorisedChannel> {
    let mut endpoint = tonic::transport::Endpoint::from_shared(url.to_owned())
        .map_err(|e| anyhow::anyhow!("{url:?} is not a URL: {e}"))?
        .connect_timeout(Duration::from_secs(3))
        .timeout(timeout)
        .tcp_nodelay(true);
    if url.starts_with("https://") {
        let tls = access.tls.client.clone().ok_or_else(|| {
            anyhow::anyhow!("{url} is https: give the CA of its certificate (--tls-ca-file, OMS_TLS_CA_FILE)")
        })?;
        endpoint = endpoint.tls_config(tls)?;
    }
    Ok(tonic::service::interceptor::InterceptedService::new(
        endpoint.connect_lazy(),
        Bearer(access.identity.clone()),
    ))
}

/// How a service process controls access: how its port checks callers, and who it is
/// when it calls another service.
#[derive(Clone, Debug)]
pub struct Access {
    pub gate: Gate,
    pub identity: Identity,
    /// TLS on its port and on its calls (none: plaintext, for loopback and tests).
    pub tls: crate::tls::Tls,
}

impl Access {
    /// No checks, no identity: for tests of a service's behaviour, never for a deployment.
    pub fn open() -> Self {
        Self {
            gate: Gate::Open,
            identity: Identity::Anonymous,
            tls: crate::tls::Tls::default(),
        }
    }
}

/// Warns that `service` answers anyone, at once and every minute until `stop`.
pub async fn warn_while_open(service: &'static str, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut every = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = every.tick() => tracing::warn!(
                service,
                "access control is OFF (--insecure-no-auth): anyone who reaches this port may call every method"
            ),
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
