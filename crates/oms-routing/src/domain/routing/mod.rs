//! Routing's state as its events build it — the network, every order being routed, the
//! capacity each node used per day — and what can be read from it. The commands decided
//! against it live beside it, one file per seam: [`configuration`] (nodes and rule sets),
//! [`orders`] (what order capture reports), [`nodes`] (what the nodes report about their
//! jobs) and [`attempts`] (the router's steps).

mod attempts;
mod configuration;
mod nodes;
mod orders;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use oms_eventsourcing::{EventHeader, Model};
use serde::{Deserialize, Serialize};

pub use attempts::{AbandonAttempt, BeginAttempt, FinishAttempt, GiveUp, ReservedAllocation};
pub use configuration::{ImportNetwork, RemoveNode, ReplaceRuleSets, UpsertNode};
pub use nodes::{JobAccepted, JobCompleted, JobDropped};
pub use orders::{CancelLines, ChangeDelivery, ChangeShippingAddress, HoldOrder, ReceiveOrder, ReleaseOrder};

use super::payloads::AllocationMade;
use super::plan::CapacityUsage;
use super::{
    JobId, LocationId, Network, Node, OrderId, OrderToRoute, ReservationId, RoutedOrder, RoutingError, RoutingEvent,
    RuleSet,
};

/// Days of capacity use kept per node (older days are never asked about).
const CAPACITY_DAYS_KEPT: i64 = 7;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Routing {
    network: Network,
    orders: HashMap<OrderId, RoutedOrder>,
    /// Capacity used per local day and node.
    capacity: BTreeMap<NaiveDate, HashMap<LocationId, u32>>,
    /// Orders with units that need a node (pre-orders included: their date is checked
    /// when routing runs).
    routable: BTreeSet<OrderId>,
    /// Orders with units waiting for supply.
    backordered: BTreeSet<OrderId>,
    /// Orders whose last attempt did not finish.
    pending: BTreeSet<OrderId>,
    /// Fulfilment request id → order id.
    requests: HashMap<JobId, OrderId>,
}

impl Model for Routing {
    type Event = RoutingEvent;
    const NAME: &'static str = "routing";
    const SNAPSHOT_VERSION: u32 = 1;

    fn apply(&mut self, header: &EventHeader<'_>, event: &RoutingEvent) {
        match event {
            RoutingEvent::NodeUpserted { node } => self.network.upsert(Node::from(&**node)),
            RoutingEvent::NodeRemoved { node_id } => self.network.remove(node_id),
            RoutingEvent::RuleSetsReplaced { rule_sets } => self
                .network
                .replace_rule_sets(rule_sets.iter().map(RuleSet::from).collect()),
            RoutingEvent::OrderReceived { order } => self.order_received(OrderToRoute::from(&**order)),
            _ => {
                if let Some(order_id) = header.stream_id.strip_prefix("order:") {
                    self.order_changed(&OrderId::new(order_id), event);
                }
            }
        }
    }
}

impl CapacityUsage for Routing {
    fn used(&self, node_id: &str, day: NaiveDate) -> u32 {
        self.capacity
            .get(&day)
            .and_then(|nodes| nodes.get(node_id))
            .copied()
            .unwrap_or(0)
    }
}

impl Routing {
    fn refresh(&mut self, order_id: &OrderId) {
        let Some(order) = self.orders.get(order_id) else { return };
        let mark = |set: &mut BTreeSet<OrderId>, on: bool| {
            if on {
                set.insert(order_id.clone());
            } else {
                set.remove(order_id);
            }
        };
        mark(&mut self.routable, order.wants_routing());
        mark(&mut self.backordered, order.is_backordered());
        mark(&mut self.pending, !order.pending_reservations.is_empty());
    }

    pub fn network(&self) -> &Network {
        &self.network
    }

    pub fn order(&self, order_id: &str) -> Option<&RoutedOrder> {
        self.orders.get(order_id)
    }

    pub fn orders(&self) -> impl Iterator<Item = &RoutedOrder> {
        self.orders.values()
    }

    pub fn len(&self) -> usize {
        self.orders.len()
    }

    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }

    /// Orders that want routing and whose release date has come.
    pub fn routable(&self, now: DateTime<Utc>) -> Vec<OrderId> {
        self.routable
            .iter()
            .filter(|id| self.orders.get(*id).is_some_and(|o| o.is_released(now)))
            .cloned()
            .collect()
    }

    /// Orders waiting for supply; with `skus`, only those waiting for one of them.
    pub fn backordered(&self, skus: Option<&BTreeSet<String>>) -> Vec<OrderId> {
        self.backordered
            .iter()
            .filter(|id| {
                skus.is_none_or(|skus| {
                    self.orders
                        .get(*id)
                        .is_some_and(|o| o.backordered.iter().any(|l| skus.contains(l.sku.as_str())))
                })
            })
            .cloned()
            .collect()
    }

    /// Backorders whose time is up.
    pub fn backorders_due(&self, now: DateTime<Utc>) -> Vec<OrderId> {
        self.backordered
            .iter()
            .filter(|id| {
                self.orders
                    .get(*id)
                    .and_then(|o| o.give_up_at)
                    .is_some_and(|at| at <= now)
            })
            .cloned()
            .collect()
    }

    /// Orders with reservations of an attempt that never finished.
    pub fn unfinished(&self) -> Vec<(OrderId, u32, Vec<ReservationId>)> {
        self.pending
            .iter()
            .filter_map(|id| {
                self.orders
                    .get(id)
                    .map(|o| (id.clone(), o.attempt, o.pending_reservations.clone()))
            })
            .collect()
    }

    /// The order a fulfilment request belongs to.
    pub fn order_of_request(&self, request_id: &JobId) -> Option<&RoutedOrder> {
        self.requests.get(request_id).and_then(|id| self.orders.get(id))
    }

    // ------------------------------------------------------------------------------------
    // The fold, in its parts.

    fn order_received(&mut self, order: OrderToRoute) {
        let id = order.order_id.clone();
        self.orders.entry(id.clone()).or_insert_with(|| RoutedOrder::new(order));
        self.refresh(&id);
    }

    /// An event of a known order: the capacity and requests it takes or gives back, then
    /// the order itself.
    fn order_changed(&mut self, order_id: &OrderId, event: &RoutingEvent) {
        if !self.orders.contains_key(order_id) {
            return;
        }
        match event {
            RoutingEvent::Routed { allocations, .. } => self.capacity_taken(order_id, allocations),
            RoutingEvent::AllocationDropped {
                request_id,
                give_back_capacity: true,
                ..
            } => self.capacity_given_back(order_id, request_id),
            _ => {}
        }
        if let Some(order) = self.orders.get_mut(order_id) {
            order.evolve(event);
        }
        self.refresh(order_id);
    }

    fn capacity_taken(&mut self, order_id: &OrderId, allocations: &[AllocationMade]) {
        for a in allocations {
            *self
                .capacity
                .entry(a.capacity_day)
                .or_default()
                .entry(a.node_id.clone())
                .or_default() += a.capacity_used;
            self.requests.insert(a.request_id.clone(), order_id.clone());
        }
        if let Some(newest) = self.capacity.keys().next_back().copied() {
            let oldest = newest - Duration::days(CAPACITY_DAYS_KEPT);
            self.capacity.retain(|day, _| *day >= oldest);
        }
    }

    /// An open allocation taken back gives its node the capacity it took.
    fn capacity_given_back(&mut self, order_id: &OrderId, request_id: &JobId) {
        let Some(a) = self
            .orders
            .get(order_id)
            .and_then(|o| o.allocation(request_id))
            .filter(|a| a.is_open())
        else {
            return;
        };
        if let Some(used) = self
            .capacity
            .get_mut(&a.capacity_day)
            .and_then(|day| day.get_mut(&a.node_id))
        {
            *used = used.saturating_sub(a.capacity_used);
        }
    }

    /// The order a command names.
    fn known(&self, order_id: &OrderId) -> Result<&RoutedOrder, RoutingError> {
        self.orders
            .get(order_id)
            .ok_or_else(|| RoutingError::UnknownOrder(order_id.clone()))
    }
}
