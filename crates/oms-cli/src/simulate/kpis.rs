//! What the day looked like: the figures a retailer looks at, measured at the end of the
//! day from the services' own records (order histories, routing decisions, store queues).

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;
use oms_proto::fulfilment::v1 as fulfilment;
use oms_proto::orders::v1 as orders;
use oms_proto::routing::v1 as routing;

use super::{Clients, Tracked};
use crate::seed::STORES;

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

/// Fills in `kpis` from what the services recorded about the `tracked` orders.
pub(super) async fn measure(
    c: &mut Clients,
    tracked: &HashMap<String, Tracked>,
    kpis: &mut Kpis,
) -> anyhow::Result<()> {
    let mut routed = Histogram::<u64>::new(3)?;
    let mut fulfilled = Histogram::<u64>::new(3)?;
    let mut distances = Vec::new();
    for (id, t) in tracked {
        if let Some(us) = placed_to_requested_us(c, id).await {
            routed.record(us)?;
        }
        if let Some(d) = t.fulfilled {
            fulfilled.record(d.as_millis() as u64)?;
            kpis.fulfilled += 1;
        }
        count_outcome(t, kpis);
        routing_figures(c, id, kpis, &mut distances).await;
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
    Ok(())
}

/// Placed → fulfilment requested, by the system's own clock: the order's first allocation
/// as order capture recorded it (routing's decision time), in microseconds.
async fn placed_to_requested_us(c: &mut Clients, id: &str) -> Option<u64> {
    let history = c
        .orders
        .get_order_history(orders::GetOrderHistoryRequest {
            order_id: id.to_owned(),
        })
        .await
        .ok()?
        .into_inner();
    let at = |kind: &str| {
        history
            .entries
            .iter()
            .find(|e| e.r#type == kind)
            .and_then(|e| e.at.as_ref())
            .and_then(oms_service::convert::time)
    };
    let (placed, allocated) = (at("Placed")?, at("Allocated")?);
    Some((allocated - placed).num_microseconds().unwrap_or(0).max(0) as u64)
}

/// How the order ended the day: backordered, parked for review, or still open (by status).
fn count_outcome(t: &Tracked, kpis: &mut Kpis) {
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
}

/// Splits, fulfilment requests (and those given to stores) and distances, from routing's
/// decision for the order.
async fn routing_figures(c: &mut Clients, id: &str, kpis: &mut Kpis, distances: &mut Vec<f64>) {
    let Ok(decision) = c
        .routing
        .get_decision(routing::GetDecisionRequest {
            order_id: id.to_owned(),
        })
        .await
    else {
        return;
    };
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
