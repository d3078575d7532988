//! A simulated omnichannel day against a running system, through its public APIs only:
//! channels place orders of every delivery method, tills sell from the stores' shelves,
//! staff work their stores' queues (with some rejects and short picks), customers collect
//! and return. At the end, the figures a retailer looks at.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use oms_proto::common::v1 as common;
use oms_proto::fulfilment::v1 as fulfilment;
use oms_proto::fulfilment::v1::store_fulfilment_client::StoreFulfilmentClient;
use oms_proto::inventory::v1 as inventory;
use oms_proto::inventory::v1::inventory_ledger_client::InventoryLedgerClient;
use oms_proto::orders::v1 as orders;
use oms_proto::orders::v1::order_capture_client::OrderCaptureClient;
use oms_proto::pos::v1 as pos;
use oms_proto::returns::v1 as returns;
use oms_proto::returns::v1::returns_client::ReturnsClient;
use oms_proto::routing::v1 as routing;
use oms_proto::routing::v1::routing_client::RoutingClient;
use oms_service::convert::timestamp;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tonic::transport::Channel;

use crate::embedded::Addrs;
use crate::grpc_channel;
use crate::seed::{CATALOGUE, LOCKER, STORES, seed, sku};

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

/// What the day looked like.
#[derive(Debug, Clone, Default)]
pub struct Kpis {
    pub orders: usize,
    pub placed_per_s: f64,
    pub fulfilled: usize,
    pub backordered: usize,
    /// Orders routing parked for review (no node could take them under the rules).
    pub review: usize,
    /// Orders neither fulfilled, backordered nor parked at the end, by status.
    pub open: std::collections::BTreeMap<String, usize>,
    pub split: usize,
    pub mean_distance_km: f64,
    /// Fulfilment requests, and those given to stores.
    pub jobs: usize,
    pub jobs_at_stores: usize,
    pub jobs_shipped_from_stores: usize,
    pub jobs_collected: usize,
    pub rejects: usize,
    pub short_picks: usize,
    pub sla_breaches: usize,
    pub returns: usize,
    pub refunded_minor: i64,
    pub till_sales: usize,
    pub routed_p50_ms: f64,
    pub routed_p99_ms: f64,
    pub fulfilled_p50_ms: f64,
    pub fulfilled_p99_ms: f64,
    pub elapsed: Duration,
}

impl Kpis {
    pub fn fill_rate(&self) -> f64 {
        ratio(self.fulfilled, self.orders)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

impl fmt::Display for Kpis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "orders placed          {} ({:.0} orders/s)",
            self.orders, self.placed_per_s
        )?;
        writeln!(
            f,
            "fill rate              {:.1}% ({} shipped or collected, {} backordered, {} parked for review)",
            100.0 * self.fill_rate(),
            self.fulfilled,
            self.backordered,
            self.review
        )?;
        if !self.open.is_empty() {
            writeln!(f, "still open             {:?}", self.open)?;
        }
        writeln!(
            f,
            "split rate             {:.1}%",
            100.0 * ratio(self.split, self.orders)
        )?;
        writeln!(
            f,
            "mean distance          {:.1} km to the customer",
            self.mean_distance_km
        )?;
        writeln!(
            f,
            "fulfilled by stores    {:.1}% of {} fulfilment requests ({} shipped from stores, {} collected)",
            100.0 * ratio(self.jobs_at_stores, self.jobs),
            self.jobs,
            self.jobs_shipped_from_stores,
            self.jobs_collected
        )?;
        writeln!(f, "rejects / short picks  {} / {}", self.rejects, self.short_picks)?;
        writeln!(f, "SLA breaches           {}", self.sla_breaches)?;
        writeln!(
            f,
            "returns                {} ({}.{:02} refunded)",
            self.returns,
            self.refunded_minor / 100,
            self.refunded_minor % 100
        )?;
        writeln!(f, "till sales             {}", self.till_sales)?;
        writeln!(
            f,
            "placed → requested     p50 {:.1} ms, p99 {:.1} ms (order placed to fulfilment requested, system clock)",
            self.routed_p50_ms, self.routed_p99_ms
        )?;
        writeln!(
            f,
            "placed → fulfilled     p50 {:.0} ms, p99 {:.0} ms (shipped or collected, seen by polling)",
            self.fulfilled_p50_ms, self.fulfilled_p99_ms
        )?;
        write!(f, "took                   {:.1} s", self.elapsed.as_secs_f64())
    }
}

struct Clients {
    orders: OrderCaptureClient<Channel>,
    ledger: InventoryLedgerClient<Channel>,
    routing: RoutingClient<Channel>,
    staff: StoreFulfilmentClient<Channel>,
    returns: ReturnsClient<Channel>,
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

const SETTLED: [orders::OrderStatus; 5] = [
    orders::OrderStatus::Shipped,
    orders::OrderStatus::Collected,
    orders::OrderStatus::Delivered,
    orders::OrderStatus::Cancelled,
    orders::OrderStatus::Refunded,
];

fn draft(rng: &mut StdRng, i: usize, run: u64) -> orders::OrderDraft {
    let method = match rng.random_range(0..100) {
        0..55 => orders::DeliveryMethod::Standard,
        55..65 => orders::DeliveryMethod::Express,
        65..85 => orders::DeliveryMethod::ClickAndCollect,
        85..92 => orders::DeliveryMethod::Curbside,
        92..96 => orders::DeliveryMethod::ShipToStore,
        _ => orders::DeliveryMethod::Locker,
    };
    let pickup = matches!(
        method,
        orders::DeliveryMethod::ClickAndCollect
            | orders::DeliveryMethod::Curbside
            | orders::DeliveryMethod::ShipToStore
            | orders::DeliveryMethod::Locker
    );
    let mut skus = BTreeSet::new();
    for _ in 0..rng.random_range(1..=3) {
        skus.insert(rng.random_range(0..CATALOGUE));
    }
    let lines: Vec<orders::OrderLine> = skus
        .iter()
        .enumerate()
        .map(|(n, s)| orders::OrderLine {
            line_id: (n + 1).to_string(),
            sku: sku(*s),
            quantity: rng.random_range(1..=2),
            unit_price: Some(common::Money {
                amount_minor: 1_000 + (*s as i64) * 250,
                currency: "EUR".into(),
            }),
            description: String::new(),
        })
        .collect();
    let total: i64 = lines
        .iter()
        .map(|l| l.quantity * l.unit_price.as_ref().map_or(0, |p| p.amount_minor))
        .sum();
    let channel = [orders::Channel::Web, orders::Channel::App, orders::Channel::Marketplace][i % 3];
    orders::OrderDraft {
        channel: channel as i32,
        external_order_id: format!("SIM-{run}-{i}"),
        customer: Some(orders::Customer {
            customer_id: format!("C-{}", rng.random_range(1..5_000)),
            name: "Sim Customer".into(),
            ..Default::default()
        }),
        lines,
        currency: "EUR".into(),
        delivery_method: method as i32,
        shipping_address: (!pickup).then(|| common::Address {
            name: "Sim Customer".into(),
            lines: vec![format!("Straße {}", i)],
            city: "Berlin".into(),
            region: "BE".into(),
            postal_code: "10117".into(),
            country: "DE".into(),
            location: Some(common::GeoPoint {
                latitude: rng.random_range(52.45..52.57),
                longitude: rng.random_range(13.30..13.50),
            }),
            ..Default::default()
        }),
        pickup_location_id: match (pickup, method) {
            (false, _) => String::new(),
            (true, orders::DeliveryMethod::Locker) => LOCKER.to_owned(),
            (true, _) => STORES[rng.random_range(0..2)].to_owned(),
        },
        payments: vec![orders::Payment {
            reference: format!("psp-{run}-{i}"),
            tender: orders::TenderType::Card as i32,
            authorised: Some(common::Money {
                amount_minor: total,
                currency: "EUR".into(),
            }),
        }],
        ..Default::default()
    }
}

/// Runs the day; `addrs` is where the five APIs answer.
pub async fn simulate(addrs: &Addrs, config: &SimulationConfig) -> anyhow::Result<Kpis> {
    seed(addrs).await?;
    let mut c = Clients {
        orders: OrderCaptureClient::new(grpc_channel(addrs.orders).await?),
        ledger: InventoryLedgerClient::new(grpc_channel(addrs.ledger).await?),
        routing: RoutingClient::new(grpc_channel(addrs.routing).await?),
        staff: StoreFulfilmentClient::new(grpc_channel(addrs.fulfilment).await?),
        returns: ReturnsClient::new(grpc_channel(addrs.returns).await?),
    };
    let started = Instant::now();
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
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
    bar.set_message("placing orders");
    let mut rng = StdRng::seed_from_u64(config.seed);
    let drafts: Vec<orders::OrderDraft> = (0..config.orders).map(|i| draft(&mut rng, i, run)).collect();
    let placing = Instant::now();
    let placed: Vec<anyhow::Result<(String, Instant)>> = futures::stream::iter(drafts)
        .map(|draft| {
            let mut client = c.orders.clone();
            let bar = bar.clone();
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
        .buffer_unordered(config.concurrency.max(1))
        .collect()
        .await;
    let placed_in = placing.elapsed();
    let mut tracked: HashMap<String, Tracked> = HashMap::new();
    for p in placed {
        let (id, at) = p?;
        tracked.insert(
            id,
            Tracked {
                placed: at,
                fulfilled: None,
                status: 0,
                returned: false,
                review: false,
            },
        );
    }
    let mut kpis = Kpis {
        orders: tracked.len(),
        placed_per_s: tracked.len() as f64 / placed_in.as_secs_f64().max(1e-9),
        ..Kpis::default()
    };
    bar.set_message("working the stores");
    let deadline = Instant::now() + config.timeout;
    let mut quiet_since = Instant::now();
    let mut handled_jobs: HashMap<String, i32> = HashMap::new();
    loop {
        // Tills sell a unit now and then.
        if rng.random_bool(0.3) {
            let store = STORES[rng.random_range(0..STORES.len())];
            let sale = pos::StockMovement {
                movement_id: format!("sim-{run}-sale-{}", kpis.till_sales),
                location_id: store.into(),
                sku: sku(rng.random_range(0..CATALOGUE)),
                kind: pos::MovementKind::Sale as i32,
                quantity: 1,
                occurred_at: Some(timestamp(chrono::Utc::now())),
                ..Default::default()
            };
            if c.ledger
                .record_movements(inventory::RecordMovementsRequest { movements: vec![sale] })
                .await
                .is_ok()
            {
                kpis.till_sales += 1;
            }
        }
        for store in STORES.iter().chain([&LOCKER]) {
            if work_queue(&mut c, store, config, &mut rng, &mut kpis, &mut handled_jobs).await? > 0 {
                quiet_since = Instant::now();
            }
        }
        // Follow every order not settled yet.
        let mut settled = 0;
        for (id, t) in tracked.iter_mut() {
            if t.fulfilled.is_some() || t.review || SETTLED.iter().any(|s| *s as i32 == t.status) {
                settled += 1;
                continue;
            }
            if t.status == orders::OrderStatus::Placed as i32 && t.placed.elapsed() > Duration::from_secs(1) {
                // Still placed a while after: routing may have parked it for review.
                let decided = c
                    .routing
                    .get_decision(routing::GetDecisionRequest { order_id: id.clone() })
                    .await
                    .map(|d| d.into_inner());
                if let Ok(d) = decided
                    && d.allocations.is_empty()
                    && d.backordered.is_empty()
                {
                    t.review = true;
                    quiet_since = Instant::now();
                    continue;
                }
            }
            let Ok(order) = c
                .orders
                .get_order(orders::GetOrderRequest { order_id: id.clone() })
                .await
            else {
                continue;
            };
            let status = order.into_inner().status;
            if status != t.status {
                quiet_since = Instant::now();
            }
            t.status = status;
            if t.fulfilled.is_none()
                && [
                    orders::OrderStatus::Shipped,
                    orders::OrderStatus::Collected,
                    orders::OrderStatus::Delivered,
                ]
                .iter()
                .any(|s| *s as i32 == status)
            {
                t.fulfilled = Some(t.placed.elapsed());
                bar.inc(1);
            }
        }
        // Some customers bring things back.
        for (id, t) in tracked.iter_mut() {
            if t.fulfilled.is_some() && !t.returned {
                t.returned = true;
                if rng.random_bool(config.return_share) && return_in_store(&mut c, id, &mut kpis).await.is_ok() {
                    kpis.returns += 1;
                }
            }
        }
        let waiting = tracked
            .values()
            .filter(|t| t.status == orders::OrderStatus::Backordered as i32)
            .count();
        // Done when every order is fulfilled or waits for stock, or nothing moved for a
        // while (orders partly shipped with the rest backordered).
        if settled + waiting >= tracked.len() || quiet_since.elapsed() > Duration::from_secs(5) {
            break;
        }
        if Instant::now() > deadline {
            bar.println("the time limit passed before every order settled; figures are as they stand");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bar.finish_and_clear();
    let mut routed = Histogram::<u64>::new(3)?;
    let mut fulfilled = Histogram::<u64>::new(3)?;
    let mut distances = Vec::new();
    for (id, t) in &tracked {
        // Placed → fulfilment requested, by the system's own clock: the order's first
        // allocation as order capture recorded it (routing's decision time).
        if let Ok(history) = c
            .orders
            .get_order_history(orders::GetOrderHistoryRequest { order_id: id.clone() })
            .await
        {
            let history = history.into_inner();
            let at = |kind: &str| {
                history
                    .entries
                    .iter()
                    .find(|e| e.r#type == kind)
                    .and_then(|e| e.at.as_ref())
                    .and_then(oms_service::convert::time)
            };
            if let (Some(placed), Some(allocated)) = (at("Placed"), at("Allocated")) {
                let ms = (allocated - placed).num_microseconds().unwrap_or(0).max(0) as f64 / 1000.0;
                routed.record((ms * 1000.0) as u64)?;
            }
        }
        if let Some(d) = t.fulfilled {
            fulfilled.record(d.as_millis() as u64)?;
            kpis.fulfilled += 1;
        }
        if t.status == orders::OrderStatus::Backordered as i32 {
            kpis.backordered += 1;
        } else if t.review {
            kpis.review += 1;
        } else if t.fulfilled.is_none() {
            let status = orders::OrderStatus::try_from(t.status)
                .map(|s| s.as_str_name().trim_start_matches("ORDER_STATUS_").to_lowercase())
                .unwrap_or_default();
            *kpis.open.entry(status).or_default() += 1;
        }
        if let Ok(decision) = c
            .routing
            .get_decision(routing::GetDecisionRequest { order_id: id.clone() })
            .await
        {
            let decision = decision.into_inner();
            let nodes: BTreeSet<&str> = decision.allocations.iter().map(|a| a.node_id.as_str()).collect();
            if nodes.len() > 1 {
                kpis.split += 1;
            }
            kpis.jobs += decision.allocations.len();
            kpis.jobs_at_stores += decision
                .allocations
                .iter()
                .filter(|a| a.node_type == "NODE_TYPE_STORE")
                .count();
            distances.extend(
                decision
                    .candidates
                    .iter()
                    .filter(|c| c.chosen && c.distance_km >= 0.0)
                    .map(|c| c.distance_km),
            );
        }
    }
    kpis.mean_distance_km = if distances.is_empty() {
        0.0
    } else {
        distances.iter().sum::<f64>() / distances.len() as f64
    };
    // Recorded in microseconds.
    kpis.routed_p50_ms = routed.value_at_quantile(0.5) as f64 / 1000.0;
    kpis.routed_p99_ms = routed.value_at_quantile(0.99) as f64 / 1000.0;
    kpis.fulfilled_p50_ms = fulfilled.value_at_quantile(0.5) as f64;
    kpis.fulfilled_p99_ms = fulfilled.value_at_quantile(0.99) as f64;
    for store in STORES {
        let all = c
            .staff
            .list_queue(fulfilment::ListQueueRequest {
                store_id: store.into(),
                include_finished: true,
            })
            .await?
            .into_inner();
        kpis.sla_breaches += all.jobs.iter().filter(|j| j.late).count();
    }
    kpis.elapsed = started.elapsed();
    Ok(kpis)
}

/// Staff at `store` take one step on every open job of their queue.
async fn work_queue(
    c: &mut Clients,
    store: &str,
    config: &SimulationConfig,
    rng: &mut StdRng,
    kpis: &mut Kpis,
    handled: &mut HashMap<String, i32>,
) -> anyhow::Result<usize> {
    use fulfilment::JobStatus as S;
    let queue = c
        .staff
        .list_queue(fulfilment::ListQueueRequest {
            store_id: store.into(),
            include_finished: false,
        })
        .await?
        .into_inner();
    let mut steps = 0;
    for job in queue.jobs {
        // One step per job per round; a step already taken is not repeated.
        if handled.get(&job.job_id) == Some(&job.status) {
            continue;
        }
        handled.insert(job.job_id.clone(), job.status);
        steps += 1;
        let r = fulfilment::JobRef {
            store_id: store.into(),
            job_id: job.job_id.clone(),
        };
        let status = S::try_from(job.status).unwrap_or(S::Unspecified);
        let result = match status {
            S::Requested if rng.random_bool(config.reject_share) => {
                kpis.rejects += 1;
                c.staff
                    .reject_job(fulfilment::RejectJobRequest {
                        store_id: store.into(),
                        job_id: job.job_id.clone(),
                        reason: fulfilment::RejectReason::Capacity as i32,
                    })
                    .await
                    .map(|_| ())
            }
            S::Requested => c.staff.accept_job(r).await.map(|_| ()),
            S::Accepted => {
                let short = rng.random_bool(config.short_pick_share);
                if short {
                    kpis.short_picks += 1;
                }
                let lines = job
                    .lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| fulfilment::PickedLine {
                        order_line_id: l.order_line_id.clone(),
                        picked: if short && i == 0 { l.ordered - 1 } else { l.ordered },
                        ..Default::default()
                    })
                    .collect();
                c.staff
                    .pick_job(fulfilment::PickJobRequest {
                        store_id: store.into(),
                        job_id: job.job_id.clone(),
                        lines,
                    })
                    .await
                    .map(|_| ())
            }
            S::Picked if matches!(job.kind.as_str(), "ship" | "ship_to_store" | "ship_to_locker") => c
                .staff
                .pack_job(fulfilment::PackJobRequest {
                    store_id: store.into(),
                    job_id: job.job_id.clone(),
                    packages: vec![fulfilment::Package { weight_grams: 800 }],
                })
                .await
                .map(|_| ()),
            S::Packed => c.staff.label_job(r).await.map(|_| ()),
            S::Labelled => {
                kpis.jobs_shipped_from_stores += 1;
                c.staff.ship_job(r).await.map(|_| ())
            }
            // The store's own locker, or a locker bank's courier depositing a parcel.
            S::Picked | S::InTransitToLocker if job.kind == "locker" || status == S::InTransitToLocker => c
                .staff
                .deposit_in_locker(fulfilment::DepositInLockerRequest {
                    store_id: store.into(),
                    job_id: job.job_id.clone(),
                    locker_id: format!("compartment-{}", steps % 40 + 1),
                })
                .await
                .map(|_| ()),
            S::Picked => c.staff.mark_ready_for_pickup(r).await.map(|_| ()),
            S::InTransitToStore => c.staff.receive_parcel(r).await.map(|_| ()),
            S::ReadyForPickup | S::CustomerWaiting => {
                kpis.jobs_collected += 1;
                c.staff
                    .hand_over(fulfilment::HandOverRequest {
                        store_id: store.into(),
                        job_id: job.job_id.clone(),
                        pickup_code: job.pickup_code.clone(),
                    })
                    .await
                    .map(|_| ())
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            // Another step got there first (a deadline, a re-route): the next round sees it.
            tracing::debug!(job_id = %job.job_id, error = %e, "a staff step did not apply");
        }
    }
    Ok(steps)
}

/// The customer brings the first unit of the order back to a store.
async fn return_in_store(c: &mut Clients, order_id: &str, kpis: &mut Kpis) -> anyhow::Result<()> {
    let order = c
        .orders
        .get_order(orders::GetOrderRequest {
            order_id: order_id.into(),
        })
        .await?
        .into_inner();
    let Some(line) = order.lines.first() else { return Ok(()) };
    let store = STORES[0];
    let started = c
        .returns
        .start_return(returns::StartReturnRequest {
            order_id: order_id.into(),
            lines: vec![returns::ReturnRequestLine {
                order_line_id: line.line_id.clone(),
                quantity: 1,
                reason_code: "changed-mind".into(),
            }],
            method: returns::ReturnMethod::InStore as i32,
            store_id: store.into(),
            requested_by: format!("store:{store}"),
            request_id: format!("sim-{order_id}"),
            ..Default::default()
        })
        .await?
        .into_inner();
    c.returns
        .receive_return(returns::ReceiveReturnRequest {
            return_id: started.return_id.clone(),
            location_id: store.into(),
            lines: vec![],
        })
        .await?;
    let inspected = c
        .returns
        .inspect_return(returns::InspectReturnRequest {
            return_id: started.return_id.clone(),
            lines: started
                .lines
                .iter()
                .map(|l| returns::InspectedLine {
                    order_line_id: l.order_line_id.clone(),
                    resellable: l.quantity,
                    damaged: 0,
                })
                .collect(),
        })
        .await?
        .into_inner();
    kpis.refunded_minor += inspected
        .refunds
        .iter()
        .filter_map(|r| r.amount.as_ref())
        .map(|m| m.amount_minor)
        .sum::<i64>();
    Ok(())
}
