//! A simulated omnichannel day against a running system, through its public APIs only:
//! channels place orders of every delivery method ([`customers`]), tills sell from the
//! stores' shelves, staff work their stores' queues with some rejects and short picks
//! ([`staff`]), customers collect and return. At the end, the figures a retailer looks at
//! ([`kpis`]).

mod customers;
mod kpis;
mod staff;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use indicatif::{ProgressBar, ProgressStyle};
use oms_proto::fulfilment::v1::store_fulfilment_client::StoreFulfilmentClient;
use oms_proto::inventory::v1 as inventory;
use oms_proto::inventory::v1::inventory_ledger_client::InventoryLedgerClient;
use oms_proto::orders::v1 as orders;
use oms_proto::orders::v1::order_capture_client::OrderCaptureClient;
use oms_proto::pos::v1 as pos;
use oms_proto::returns::v1::returns_client::ReturnsClient;
use oms_proto::routing::v1 as routing;
use oms_proto::routing::v1::routing_client::RoutingClient;
use oms_service::convert::timestamp;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub use kpis::Kpis;

use crate::embedded::Addrs;
use crate::seed::{CATALOGUE, LOCKER, STORES, seed, sku};
use oms_service::auth::AuthorisedChannel;
use oms_service::auth::Role;
use oms_service::auth::keys::ActsFor;

#[derive(Debug, Clone)]
pub struct SimulationConfig {
    pub orders: usize,
    /// Orders placed at the same time.
    pub concurrency: usize,
    pub seed: u64,
    /// Shares of jobs staff reject, of picks that come up short, of delivered orders
    /// returned.
    pub reject_share: f64,
    pub short_pick_share: f64,
    pub return_share: f64,
    /// Gives up waiting for orders to settle after this.
    pub timeout: Duration,
    pub progress: bool,
}

impl Default for SimulationConfig {
    fn default() -> Self {
        Self {
            orders: 200,
            concurrency: 16,
            seed: 7,
            reject_share: 0.03,
            short_pick_share: 0.03,
            return_share: 0.1,
            timeout: Duration::from_secs(180),
            progress: true,
        }
    }
}

struct Clients {
    orders: OrderCaptureClient<AuthorisedChannel>,
    ledger: InventoryLedgerClient<AuthorisedChannel>,
    routing: RoutingClient<AuthorisedChannel>,
    staff: StoreFulfilmentClient<AuthorisedChannel>,
    returns: ReturnsClient<AuthorisedChannel>,
}

/// One order's story as the simulation saw it.
struct Tracked {
    placed: Instant,
    fulfilled: Option<Duration>,
    status: i32,
    returned: bool,
    /// Routing could not place it and parked it for a person to decide.
    review: bool,
}

impl Tracked {
    fn placed_at(placed: Instant) -> Self {
        Self {
            placed,
            fulfilled: None,
            status: 0,
            returned: false,
            review: false,
        }
    }

    /// Nothing more will happen to it today without a person.
    fn settled(&self) -> bool {
        self.fulfilled.is_some() || self.review || SETTLED.iter().any(|s| *s as i32 == self.status)
    }
}

const SETTLED: [orders::OrderStatus; 5] = [
    orders::OrderStatus::Shipped,
    orders::OrderStatus::Collected,
    orders::OrderStatus::Delivered,
    orders::OrderStatus::Cancelled,
    orders::OrderStatus::Refunded,
];

const FULFILLED: [orders::OrderStatus; 3] = [
    orders::OrderStatus::Shipped,
    orders::OrderStatus::Collected,
    orders::OrderStatus::Delivered,
];

/// The day under way: who is being followed, and what moved last.
struct Day<'a> {
    config: &'a SimulationConfig,
    c: Clients,
    rng: StdRng,
    /// Tells this run's ids from another's against the same system.
    run: u64,
    bar: ProgressBar,
    tracked: HashMap<String, Tracked>,
    kpis: Kpis,
    /// The status each job was in when staff last stepped it.
    handled_jobs: HashMap<String, i32>,
    quiet_since: Instant,
}

/// Runs the day; `addrs` is where the five APIs answer.
pub async fn simulate(addrs: &Addrs, config: &SimulationConfig) -> anyhow::Result<Kpis> {
    seed(addrs).await?;
    // Each actor of the day calls with a token of its own role, as in a deployment (with
    // a token given instead of the key, all call with that one).
    let stores = |with_locker: bool| ActsFor {
        stores: STORES
            .iter()
            .chain(with_locker.then_some(&LOCKER))
            .map(|s| (*s).to_owned())
            .collect(),
        ..ActsFor::default()
    };
    let channels = ActsFor {
        channels: ["web", "app", "marketplace", "store", "call-centre"]
            .map(str::to_owned)
            .to_vec(),
        ..ActsFor::default()
    };
    let shops = addrs.acting("simulated-channels", Role::SalesChannel, channels);
    let tills = addrs.acting("simulated-tills", Role::Pos, stores(false));
    // The stores' staff, who also work the locker bank's queue.
    let staff = addrs.acting("simulated-staff", Role::StoreStaff, stores(true));
    let service_desk = addrs.acting("simulated-customer-service", Role::CustomerService, ActsFor::default());
    let c = Clients {
        orders: OrderCaptureClient::new(shops.channel(addrs.orders).await?),
        ledger: InventoryLedgerClient::new(tills.channel(addrs.ledger).await?),
        routing: RoutingClient::new(service_desk.channel(addrs.routing).await?),
        staff: StoreFulfilmentClient::new(staff.channel(addrs.fulfilment).await?),
        returns: ReturnsClient::new(staff.channel(addrs.returns).await?),
    };
    let started = Instant::now();
    let mut day = Day {
        config,
        c,
        rng: StdRng::seed_from_u64(config.seed),
        run: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        bar: progress(config)?,
        tracked: HashMap::new(),
        kpis: Kpis::default(),
        handled_jobs: HashMap::new(),
        quiet_since: Instant::now(),
    };
    day.place_orders().await?;
    day.bar.set_message("working the stores");
    let deadline = Instant::now() + config.timeout;
    loop {
        day.round().await?;
        if day.over() {
            break;
        }
        if Instant::now() > deadline {
            day.bar
                .println("the time limit passed before every order settled; figures are as they stand");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    day.bar.finish_and_clear();
    let Day {
        mut c,
        tracked,
        mut kpis,
        ..
    } = day;
    kpis::measure(&mut c, &tracked, &mut kpis).await?;
    kpis.elapsed = started.elapsed();
    Ok(kpis)
}

/// A bar for placing and for settling every order (hidden without `progress`).
fn progress(config: &SimulationConfig) -> anyhow::Result<ProgressBar> {
    let bar = if config.progress {
        ProgressBar::new(config.orders as u64 * 2)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:<28} [{bar:40}] {pos}/{len} ({elapsed})")
            .map_err(|e| anyhow::anyhow!(e))?
            .progress_chars("=> "),
    );
    Ok(bar)
}

impl Day<'_> {
    /// The channels place the day's orders, `concurrency` at a time.
    async fn place_orders(&mut self) -> anyhow::Result<()> {
        self.bar.set_message("placing orders");
        let drafts: Vec<orders::OrderDraft> = (0..self.config.orders)
            .map(|i| customers::draft(&mut self.rng, i, self.run))
            .collect();
        let placing = Instant::now();
        let placed: Vec<anyhow::Result<(String, Instant)>> = futures::stream::iter(drafts)
            .map(|draft| {
                let mut client = self.c.orders.clone();
                let bar = self.bar.clone();
                async move {
                    let at = Instant::now();
                    let order = client
                        .place_order(orders::PlaceOrderRequest { order: Some(draft) })
                        .await
                        .map_err(|e| anyhow::anyhow!("an order was refused: {}", e.message()))?
                        .into_inner();
                    bar.inc(1);
                    Ok((order.order_id, at))
                }
            })
            .buffer_unordered(self.config.concurrency.max(1))
            .collect()
            .await;
        let placed_in = placing.elapsed();
        for p in placed {
            let (id, at) = p?;
            self.tracked.insert(id, Tracked::placed_at(at));
        }
        self.kpis.orders = self.tracked.len();
        self.kpis.placed_per_s = self.tracked.len() as f64 / placed_in.as_secs_f64().max(1e-9);
        Ok(())
    }

    /// One round of the day: a till sale now and then, every queue worked one step, every
    /// order followed, some customers bringing things back.
    async fn round(&mut self) -> anyhow::Result<()> {
        if self.rng.random_bool(0.3) {
            self.till_sale().await;
        }
        for store in STORES.iter().chain([&LOCKER]) {
            let steps = staff::work_queue(
                &mut self.c,
                store,
                self.config,
                &mut self.rng,
                &mut self.kpis,
                &mut self.handled_jobs,
            )
            .await?;
            if steps > 0 {
                self.quiet_since = Instant::now();
            }
        }
        self.follow_orders().await;
        self.bring_back().await;
        Ok(())
    }

    /// A till sells one unit of a random SKU in a random store.
    async fn till_sale(&mut self) {
        let store = STORES[self.rng.random_range(0..STORES.len())];
        let sale = pos::StockMovement {
            movement_id: format!("sim-{}-sale-{}", self.run, self.kpis.till_sales),
            location_id: store.into(),
            sku: sku(self.rng.random_range(0..CATALOGUE)),
            kind: pos::MovementKind::Sale as i32,
            quantity: 1,
            occurred_at: Some(timestamp(chrono::Utc::now())),
            ..Default::default()
        };
        let sold = self
            .c
            .ledger
            .record_movements(inventory::RecordMovementsRequest { movements: vec![sale] })
            .await;
        if sold.is_ok() {
            self.kpis.till_sales += 1;
        }
    }

    /// Looks at every order not settled yet.
    async fn follow_orders(&mut self) {
        for (id, t) in &mut self.tracked {
            if t.settled() {
                continue;
            }
            if t.status == orders::OrderStatus::Placed as i32
                && t.placed.elapsed() > Duration::from_secs(1)
                && parked_for_review(&mut self.c, id).await
            {
                t.review = true;
                self.quiet_since = Instant::now();
                continue;
            }
            let Ok(order) = self
                .c
                .orders
                .get_order(orders::GetOrderRequest { order_id: id.clone() })
                .await
            else {
                continue;
            };
            let status = order.into_inner().status;
            if status != t.status {
                self.quiet_since = Instant::now();
            }
            t.status = status;
            if t.fulfilled.is_none() && FULFILLED.iter().any(|s| *s as i32 == status) {
                t.fulfilled = Some(t.placed.elapsed());
                self.bar.inc(1);
            }
        }
    }

    /// Some customers bring back what they received.
    async fn bring_back(&mut self) {
        for (id, t) in &mut self.tracked {
            if t.fulfilled.is_some() && !t.returned {
                t.returned = true;
                if self.rng.random_bool(self.config.return_share)
                    && customers::return_in_store(&mut self.c, id, &mut self.kpis)
                        .await
                        .is_ok()
                {
                    self.kpis.returns += 1;
                }
            }
        }
    }

    /// Every order is fulfilled or waits for stock, or nothing moved for a while (orders
    /// partly shipped with the rest backordered).
    fn over(&self) -> bool {
        let settled = self.tracked.values().filter(|t| t.settled()).count();
        let waiting = self
            .tracked
            .values()
            .filter(|t| t.status == orders::OrderStatus::Backordered as i32)
            .count();
        settled + waiting >= self.tracked.len() || self.quiet_since.elapsed() > Duration::from_secs(5)
    }
}

/// Still placed a while after: routing may have decided nothing for it, parking it for a
/// person to review.
async fn parked_for_review(c: &mut Clients, id: &str) -> bool {
    let decided = c
        .routing
        .get_decision(routing::GetDecisionRequest {
            order_id: id.to_owned(),
        })
        .await
        .map(tonic::Response::into_inner);
    matches!(decided, Ok(d) if d.allocations.is_empty() && d.backordered.is_empty())
}
