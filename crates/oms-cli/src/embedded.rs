//! The whole OMS in one process on the embedded default: every service on its own SQLite
//! file, talking through the in-process transport (each consumer reads the publishing
//! service's outbox), each gRPC API on its documented port.
//!
//! Nothing outside the OMS runs here: what its systems send (channel orders, POS movements,
//! node confirmations, payment results) is sent through [`Feeds`], whose outbox the
//! services' consumers read as they read the topics in production. Two sandbox systems
//! answer through them ([`crate::sandbox`]): a WMS that ships every warehouse, 3PL and
//! supplier job in full, and a payment gateway that confirms every refund.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use oms_eventsourcing::clock::SharedClock;
use oms_eventsourcing::{EventStore, StoreConfig, WriterConfig};
use oms_inventory_ledger::service::RunningInventory;
use oms_order_capture::service::{OrderCaptureConfig, RunningOrderCapture};
use oms_returns::service::RunningReturns;
use oms_routing::service::RunningRouting;
use oms_service::auth::keys::ActsFor;
use oms_service::auth::{Access, AuthorisedChannel, Bearer, Gate, Identity, LocalKey, Role};
use oms_service::feeds::Feeds;
use oms_service::{Outboxes, Tasks, Wiring};
use oms_store_fulfilment::service::RunningFulfilment;
use tokio::net::TcpListener;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::ClientTlsConfig;

/// Where the services keep their logs.
#[derive(Debug, Clone)]
pub enum Stores {
    /// A SQLite file per service in this directory (the embedded default).
    Sqlite(PathBuf),
    /// Given stores, by service store name (orders, inventory, routing, fulfilment,
    /// returns; `outside` for the feeds of the systems outside the OMS).
    Each(Vec<(String, StoreConfig)>),
}

/// How the services talk.
#[derive(Debug, Clone)]
pub enum Transport {
    /// Consumers read the publisher's outbox (the embedded default).
    InProcess,
    Kafka(oms_transport::KafkaConfig),
}

#[derive(Debug, Clone)]
pub struct EmbeddedConfig {
    pub stores: Stores,
    pub transport: Transport,
    pub host: IpAddr,
    /// Order capture listens here, the ledger on the next port, then routing, store
    /// fulfilment and returns. 0: any free ports.
    pub base_port: u16,
    /// Run the sandbox WMS and payment gateway.
    pub sandbox: bool,
    /// The services' settings: the same as each one's when it runs as a process of its own.
    pub settings: Settings,
    /// The key tokens are signed with: every API checks callers against it, and the
    /// services call each other with identities it signs. `None`: no access control
    /// (tests of behaviour only; `oms run` always has a key).
    pub key: Option<LocalKey>,
}

/// Every service's settings, as `oms run` takes them (flags, `OMS_*` variables, the
/// configuration file) under the names each service's own process uses.
#[derive(Debug, Clone, clap::Args)]
// Several services' `Settings` sit side by side in `oms run`: no argument group of their own.
#[group(skip)]
pub struct Settings {
    /// Events between two snapshots of a service's state.
    #[arg(long, env = "OMS_SNAPSHOT_EVERY", default_value_t = oms_service::process::SNAPSHOT_EVERY)]
    pub snapshot_every: u64,
    #[command(flatten)]
    pub ledger: oms_inventory_ledger::cli::Settings,
    #[command(flatten)]
    pub routing: oms_routing::cli::Settings,
    #[command(flatten)]
    pub fulfilment: oms_store_fulfilment::cli::Settings,
    #[command(flatten)]
    pub returns: oms_returns::cli::Settings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            snapshot_every: oms_service::process::SNAPSHOT_EVERY,
            ledger: Default::default(),
            routing: Default::default(),
            fulfilment: Default::default(),
            returns: Default::default(),
        }
    }
}

impl Settings {
    fn writer(&self) -> WriterConfig {
        WriterConfig {
            snapshot_every: self.snapshot_every,
            ..WriterConfig::default()
        }
    }
}

/// Where each API answers, and who calls them.
#[derive(Debug, Clone)]
pub struct Addrs {
    pub orders: SocketAddr,
    pub ledger: SocketAddr,
    pub routing: SocketAddr,
    pub fulfilment: SocketAddr,
    pub returns: SocketAddr,
    /// The token sent with every call.
    pub identity: Identity,
    /// TLS to the APIs (none: plaintext, as `oms run` serves on loopback).
    pub tls: Option<ClientTlsConfig>,
    /// The key that signs the tokens, when the caller holds it (`oms run`, or `oms
    /// simulate` beside it): each actor of a simulated day then calls with its own.
    pub key: Option<LocalKey>,
}

impl Addrs {
    /// The documented ports on `host`, called as `identity`.
    pub fn on(host: &str, base_port: u16, identity: Identity) -> anyhow::Result<Self> {
        let at = |offset: u16| -> anyhow::Result<SocketAddr> {
            format!("{host}:{}", base_port + offset)
                .parse()
                .with_context(|| format!("{host} is not an IP address"))
        };
        Ok(Self {
            orders: at(0)?,
            ledger: at(1)?,
            routing: at(2)?,
            fulfilment: at(3)?,
            returns: at(4)?,
            identity,
            tls: None,
            key: None,
        })
    }

    /// The same APIs called as `role` acting for `acts_for`, when the key is at hand; else
    /// as before.
    pub fn acting(&self, subject: &str, role: Role, acts_for: ActsFor) -> Self {
        let mut addrs = self.clone();
        if let Some(key) = &self.key {
            addrs.identity = Identity::acting(key, subject, role, acts_for);
        }
        addrs
    }

    /// A channel to the API at `addr` (one of these), carrying the identity; it waits up
    /// to 30 s for the API to answer.
    pub async fn channel(&self, addr: SocketAddr) -> anyhow::Result<AuthorisedChannel> {
        let channel = match &self.tls {
            None => crate::grpc_channel(addr).await?,
            Some(tls) => oms_service::grpc::tls_channel_when_up(addr, tls.clone(), Duration::from_secs(30))
                .await
                .map_err(|e| anyhow::anyhow!("nothing answers over TLS at https://{addr} ({e})"))?,
        };
        Ok(InterceptedService::new(channel, Bearer(self.identity.clone())))
    }
}

pub struct Embedded {
    pub addrs: Addrs,
    ledger: RunningInventory,
    orders: RunningOrderCapture,
    routing: RunningRouting,
    fulfilment: RunningFulfilment,
    returns: RunningReturns,
    feeds: Feeds,
    /// The sandbox systems and, on Kafka, the feeds' relay.
    players: Tasks,
}

impl EmbeddedConfig {
    /// Where the service store `name` keeps its log.
    fn store(&self, name: &str) -> anyhow::Result<StoreConfig> {
        match &self.stores {
            Stores::Sqlite(dir) => {
                let path = dir.join(format!("{name}.db"));
                Ok(StoreConfig::from_url(&format!("sqlite://{}", path.display()), name)?)
            }
            Stores::Each(stores) => stores
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, s)| s.clone())
                .ok_or_else(|| anyhow::anyhow!("no store given for {name}")),
        }
    }

    /// The API port of `service`, `offset` after the base port (any free port with 0).
    async fn listener(&self, offset: u16, service: &str) -> anyhow::Result<TcpListener> {
        let port = if self.base_port == 0 {
            0
        } else {
            self.base_port + offset
        };
        let addr = SocketAddr::new(self.host, port);
        TcpListener::bind(addr).await.with_context(|| {
            format!("cannot listen on {addr} for {service}: is another OMS running? Stop it, or pass --base-port")
        })
    }

    /// How `service` checks its callers, and who it is when it calls another.
    fn access(&self, service: &str) -> anyhow::Result<Access> {
        Ok(match &self.key {
            // One process on loopback: no TLS between its services.
            Some(key) => Access {
                gate: Gate::Verify(Arc::new(key.verifier()?)),
                identity: Identity::service(key, service),
                tls: oms_service::tls::Tls::default(),
            },
            None => Access::open(),
        })
    }

    fn wiring(&self, outboxes: &Outboxes) -> Wiring {
        match &self.transport {
            Transport::InProcess => Wiring::InProcess(outboxes.clone()),
            Transport::Kafka(kafka) => Wiring::Kafka(kafka.clone()),
        }
    }
}

impl Embedded {
    pub async fn start(config: EmbeddedConfig, clock: SharedClock) -> anyhow::Result<Self> {
        if let Stores::Sqlite(dir) = &config.stores {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the data directory {}: pass --data-dir", dir.display()))?;
        }
        let outboxes = Outboxes::new();
        let wiring = config.wiring(&outboxes);
        // The outside systems' feeds first: the services' consumers of them find them.
        let feeds = Feeds::open(EventStore::connect(&config.store("outside")?).await?, &wiring);
        let settings = &config.settings;
        let ledger = oms_inventory_ledger::service::start(
            settings.ledger.config(
                config.store("inventory")?,
                settings.writer(),
                config.access("inventory-ledger")?,
            ),
            wiring.clone(),
            clock.clone(),
            config.listener(1, "the inventory ledger").await?,
        )
        .await?;
        let orders = oms_order_capture::service::start(
            OrderCaptureConfig {
                store: config.store("orders")?,
                writer: settings.writer(),
                access: config.access("order-capture")?,
            },
            wiring.clone(),
            clock.clone(),
            config.listener(0, "order capture").await?,
        )
        .await?;
        let ledger_url = format!("http://{}", ledger.addr);
        let routing = oms_routing::service::start(
            settings.routing.config(
                config.store("routing")?,
                settings.writer(),
                ledger_url,
                config.access("routing")?,
            ),
            wiring.clone(),
            clock.clone(),
            config.listener(2, "routing").await?,
        )
        .await?;
        let fulfilment = oms_store_fulfilment::service::start(
            settings.fulfilment.config(
                config.store("fulfilment")?,
                settings.writer(),
                config.access("store-fulfilment")?,
            )?,
            wiring.clone(),
            clock.clone(),
            config.listener(3, "store fulfilment").await?,
        )
        .await?;
        let orders_url = format!("http://{}", orders.addr);
        let returns = oms_returns::service::start(
            settings.returns.config(
                config.store("returns")?,
                settings.writer(),
                orders_url,
                config.access("returns")?,
            )?,
            wiring.clone(),
            clock,
            config.listener(4, "returns").await?,
        )
        .await?;
        let mut players = Tasks::new();
        if config.sandbox {
            crate::sandbox::start(&mut players, &wiring, &feeds).await?;
        }
        feeds.relay(&mut players, &wiring)?;
        Ok(Self {
            addrs: Addrs {
                orders: orders.addr,
                ledger: ledger.addr,
                routing: routing.addr,
                fulfilment: fulfilment.addr,
                returns: returns.addr,
                identity: match &config.key {
                    Some(key) => Identity::minted(key, "oms", Role::Operator),
                    None => Identity::Anonymous,
                },
                tls: None,
                key: config.key.clone(),
            },
            ledger,
            orders,
            routing,
            fulfilment,
            returns,
            feeds,
            players,
        })
    }

    /// The inbound topics as the embedded mode feeds them: what is sent here reaches the
    /// services' consumers as it would from the sales channels, POS, WMS and payment
    /// gateway in production.
    pub fn feeds(&self) -> &Feeds {
        &self.feeds
    }

    /// Stops everything: each service finishes what it is doing and snapshots.
    pub async fn stop(self) {
        self.players.stop().await;
        self.returns.stop().await;
        self.fulfilment.stop().await;
        self.routing.stop().await;
        self.orders.stop().await;
        self.ledger.stop().await;
    }
}

/// The clock of a running system.
pub fn system_clock() -> SharedClock {
    Arc::new(oms_eventsourcing::SystemClock)
}
