//! The whole OMS in one process on the embedded default: every service on its own SQLite
//! file, talking through the in-process transport (each consumer reads the publishing
//! service's outbox), each gRPC API on its documented port.
//!
//! Nothing outside the OMS runs here, so two sandbox adapters stand in for the systems a
//! retailer connects: a WMS that ships every warehouse, 3PL and supplier job in full, and a
//! payment gateway that confirms every refund. They are consumers like any other.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use oms_eventsourcing::clock::SharedClock;
use oms_eventsourcing::writer::Context;
use oms_eventsourcing::{Decision, StoreConfig, WriterConfig};
use oms_inventory_ledger::service::RunningInventory;
use oms_order_capture::service::{OrderCaptureConfig, RunningOrderCapture};
use oms_proto::fulfilment::v1 as fulfilment;
use oms_proto::returns::v1 as returns;
use oms_returns::domain::{Returns, ReturnsEvent};
use oms_returns::service::RunningReturns;
use oms_routing::service::RunningRouting;
use oms_service::wiring::Publisher;
use oms_service::{Outboxes, Tasks, Wiring, assemble};
use oms_store_fulfilment::domain::{Fulfilment, JobEvent};
use oms_store_fulfilment::service::RunningFulfilment;
use oms_transport::{Handling, Message, MessageHandler};
use prost::Message as _;
use tokio::net::TcpListener;

/// Where the services keep their logs.
#[derive(Debug, Clone)]
pub enum Stores {
    /// A SQLite file per service in this directory (the embedded default).
    Sqlite(PathBuf),
    /// Given stores, by service store name (orders, inventory, routing, fulfilment,
    /// returns).
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
}

/// Events between two snapshots, as each service's own process takes them by default.
const SNAPSHOT_EVERY: u64 = 100_000;

/// Every service's settings, as `oms run` takes them (flags, `OMS_*` variables, the
/// configuration file) under the names each service's own process uses.
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// Events between two snapshots of a service's state.
    #[arg(long, env = "OMS_SNAPSHOT_EVERY", default_value_t = SNAPSHOT_EVERY)]
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
            snapshot_every: SNAPSHOT_EVERY,
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

/// Where each API answers.
#[derive(Debug, Clone, Copy)]
pub struct Addrs {
    pub orders: SocketAddr,
    pub ledger: SocketAddr,
    pub routing: SocketAddr,
    pub fulfilment: SocketAddr,
    pub returns: SocketAddr,
}

impl Addrs {
    /// The documented ports on `host`.
    pub fn on(host: &str, base_port: u16) -> anyhow::Result<Self> {
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
        })
    }
}

pub struct Embedded {
    pub addrs: Addrs,
    ledger: RunningInventory,
    orders: RunningOrderCapture,
    routing: RunningRouting,
    fulfilment: RunningFulfilment,
    returns: RunningReturns,
    sandbox: Tasks,
}

async fn bind(host: IpAddr, base_port: u16, offset: u16, service: &str) -> anyhow::Result<TcpListener> {
    let port = if base_port == 0 { 0 } else { base_port + offset };
    let addr = SocketAddr::new(host, port);
    TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr} for {service}: is another OMS running? Stop it, or pass --base-port")
    })
}

fn store(config: &EmbeddedConfig, name: &str) -> anyhow::Result<StoreConfig> {
    match &config.stores {
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

impl Embedded {
    pub async fn start(config: EmbeddedConfig, clock: SharedClock) -> anyhow::Result<Self> {
        if let Stores::Sqlite(dir) = &config.stores {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the data directory {}: pass --data-dir", dir.display()))?;
        }
        let outboxes = Outboxes::new();
        let wiring = || match &config.transport {
            Transport::InProcess => Wiring::InProcess(outboxes.clone()),
            Transport::Kafka(kafka) => Wiring::Kafka(kafka.clone()),
        };
        let (host, base) = (config.host, config.base_port);
        let settings = &config.settings;
        let ledger = oms_inventory_ledger::service::start(
            settings.ledger.config(store(&config, "inventory")?, settings.writer()),
            wiring(),
            clock.clone(),
            bind(host, base, 1, "the inventory ledger").await?,
        )
        .await?;
        let orders = oms_order_capture::service::start(
            OrderCaptureConfig {
                store: store(&config, "orders")?,
                writer: settings.writer(),
            },
            wiring(),
            clock.clone(),
            bind(host, base, 0, "order capture").await?,
        )
        .await?;
        let routing = oms_routing::service::start(
            settings.routing.config(
                store(&config, "routing")?,
                settings.writer(),
                format!("http://{}", ledger.addr),
            ),
            wiring(),
            clock.clone(),
            bind(host, base, 2, "routing").await?,
        )
        .await?;
        let fulfilment = oms_store_fulfilment::service::start(
            settings
                .fulfilment
                .config(store(&config, "fulfilment")?, settings.writer())?,
            wiring(),
            clock.clone(),
            bind(host, base, 3, "store fulfilment").await?,
        )
        .await?;
        let returns = oms_returns::service::start(
            settings.returns.config(
                store(&config, "returns")?,
                settings.writer(),
                format!("http://{}", orders.addr),
            )?,
            wiring(),
            clock,
            bind(host, base, 4, "returns").await?,
        )
        .await?;
        let mut sandbox = Tasks::new();
        if config.sandbox {
            let w = wiring();
            let writer = fulfilment.fulfilment.writer();
            let from = Publisher::Service("store-fulfilment");
            assemble::consumer(
                &mut sandbox,
                &w,
                writer,
                "sandbox.wms",
                from,
                "oms.fulfilment.v1",
                SandboxWms,
            )
            .await?;
            let writer = returns.returns.writer();
            let from = Publisher::Service("returns");
            assemble::consumer(
                &mut sandbox,
                &w,
                writer,
                "sandbox.payments",
                from,
                "oms.returns.v1",
                SandboxPayments,
            )
            .await?;
        }
        let addrs = Addrs {
            orders: orders.addr,
            ledger: ledger.addr,
            routing: routing.addr,
            fulfilment: fulfilment.addr,
            returns: returns.addr,
        };
        Ok(Self {
            addrs,
            ledger,
            orders,
            routing,
            fulfilment,
            returns,
            sandbox,
        })
    }

    /// Stops everything: each service finishes what it is doing and snapshots.
    pub async fn stop(self) {
        self.sandbox.stop().await;
        self.returns.stop().await;
        self.fulfilment.stop().await;
        self.routing.stop().await;
        self.orders.stop().await;
        self.ledger.stop().await;
    }
}

/// A WMS that ships every job it is given, in full, at once.
struct SandboxWms;

impl MessageHandler<Fulfilment> for SandboxWms {
    fn handle(
        &self,
        state: &Fulfilment,
        message: &Message,
        ctx: &Context<'_>,
    ) -> Result<Decision<JobEvent, ()>, Handling> {
        let event = fulfilment::FulfilmentEvent::decode(message.payload.as_slice())
            .map_err(|e| Handling::poison(format!("not an oms.fulfilment.v1.FulfilmentEvent: {e}")))?;
        let Some(fulfilment::fulfilment_event::Event::JobRequested(job)) = event.event else {
            return Ok(Decision::reply(()));
        };
        let shipped = job
            .lines
            .iter()
            .map(|l| (l.order_line_id.clone(), l.quantity))
            .collect();
        let tracking = format!("SBX{}", job.job_id.len() * 7919 + job.order_id.len());
        let events = state
            .node_shipped(&job.job_id, "sandbox".to_owned(), tracking, shipped, ctx.now)
            .map_err(|e| Handling::poison(e.to_string()))?;
        Ok(oms_store_fulfilment::app::decision(state, events, ctx.now))
    }
}

/// A payment gateway that refunds every request.
struct SandboxPayments;

impl MessageHandler<Returns> for SandboxPayments {
    fn handle(
        &self,
        state: &Returns,
        message: &Message,
        ctx: &Context<'_>,
    ) -> Result<Decision<ReturnsEvent, ()>, Handling> {
        let event = returns::ReturnEvent::decode(message.payload.as_slice())
            .map_err(|e| Handling::poison(format!("not an oms.returns.v1.ReturnEvent: {e}")))?;
        let Some(returns::return_event::Event::RefundRequested(refund)) = event.event else {
            return Ok(Decision::reply(()));
        };
        let events = state
            .payment_result(&refund.refund_id, None, ctx.now)
            .map_err(|e| Handling::poison(e.to_string()))?;
        Ok(oms_returns::app::decision(state, events, ctx.now))
    }
}

/// The clock of a running system.
pub fn system_clock() -> SharedClock {
    Arc::new(oms_eventsourcing::SystemClock)
}
