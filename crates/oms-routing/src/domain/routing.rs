//! Routing's state as its events build it — the network, every order being routed, the
//! capacity each node used per day — and the decisions that change it. Each decision is a
//! pure function from the state and a command to the events it records.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use oms_eventsourcing::{EventHeader, Model};
use serde::{Deserialize, Serialize};

use super::network::rule_set_violations;
use super::plan::{CapacityUsage, DecisionRecord, Plan, PlannedAllocation, Unrouted};
use super::{
    Address, AllocationRecord, AllocationStatus, DeliveryMethod, LineNeed, NETWORK_STREAM, Network, NetworkDocument,
    Node, OrderToRoute, RoutedOrder, RoutingError, RoutingEvent, RuleSet, order_stream,
};

/// Days of capacity use kept per node (older days are never asked about).
const CAPACITY_DAYS_KEPT: i64 = 7;

pub type Events = Vec<(String, RoutingEvent)>;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Routing {
    network: Network,
    orders: HashMap<String, RoutedOrder>,
    /// Capacity used per local day and node.
    capacity: BTreeMap<NaiveDate, HashMap<String, u32>>,
    /// Orders with units that need a node (pre-orders included: their date is checked
    /// when routing runs).
    routable: BTreeSet<String>,
    /// Orders with units waiting for supply.
    backordered: BTreeSet<String>,
    /// Orders whose last attempt did not finish.
    pending: BTreeSet<String>,
    /// Fulfilment request id → order id.
    requests: HashMap<String, String>,
}

impl Model for Routing {
    type Event = RoutingEvent;
    const NAME: &'static str = "routing";
    const SNAPSHOT_VERSION: u32 = 1;

    fn apply(&mut self, header: &EventHeader<'_>, event: &RoutingEvent) {
        match event {
            RoutingEvent::NodeUpserted { node } => self.network.upsert((**node).clone()),
            RoutingEvent::NodeRemoved { node_id } => self.network.remove(node_id),
            RoutingEvent::RuleSetsReplaced { rule_sets } => self.network.replace_rule_sets(rule_sets.clone()),
            RoutingEvent::OrderReceived { order } => {
                let id = order.order_id.clone();
                self.orders
                    .entry(id.clone())
                    .or_insert_with(|| RoutedOrder::new((**order).clone()));
                self.refresh(&id);
            }
            _ => {
                let Some(order_id) = header.stream_id.strip_prefix("order:") else {
                    return;
                };
                let Some(order) = self.orders.get_mut(order_id) else {
                    return;
                };
                match event {
                    RoutingEvent::Routed { allocations, .. } => {
                        for a in allocations {
                            *self
                                .capacity
                                .entry(a.capacity_day)
                                .or_default()
                                .entry(a.node_id.clone())
                                .or_default() += a.capacity_used;
                            self.requests.insert(a.request_id.clone(), order_id.to_owned());
                        }
                        if let Some(newest) = self.capacity.keys().next_back().copied() {
                            let oldest = newest - Duration::days(CAPACITY_DAYS_KEPT);
                            self.capacity.retain(|day, _| *day >= oldest);
                        }
                    }
                    RoutingEvent::AllocationDropped {
                        request_id,
                        give_back_capacity: true,
                        ..
                    } => {
                        if let Some(a) = order.allocation(request_id).filter(|a| a.is_open())
                            && let Some(used) = self
                                .capacity
                                .get_mut(&a.capacity_day)
                                .and_then(|day| day.get_mut(&a.node_id))
                        {
                            *used = used.saturating_sub(a.capacity_used);
                        }
                    }
                    _ => {}
                }
                order.evolve(event);
                let id = order_id.to_owned();
                self.refresh(&id);
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
    fn refresh(&mut self, order_id: &str) {
        let Some(order) = self.orders.get(order_id) else { return };
        let mark = |set: &mut BTreeSet<String>, on: bool| {
            if on {
                set.insert(order_id.to_owned());
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
    pub fn routable(&self, now: DateTime<Utc>) -> Vec<String> {
        self.routable
            .iter()
            .filter(|id| self.orders.get(*id).is_some_and(|o| o.is_released(now)))
            .cloned()
            .collect()
    }

    /// Orders waiting for supply; with `skus`, only those waiting for one of them.
    pub fn backordered(&self, skus: Option<&BTreeSet<String>>) -> Vec<String> {
        self.backordered
            .iter()
            .filter(|id| {
                skus.is_none_or(|skus| {
                    self.orders
                        .get(*id)
                        .is_some_and(|o| o.backordered.iter().any(|l| skus.contains(&l.sku)))
                })
            })
            .cloned()
            .collect()
    }

    /// Backorders whose time is up.
    pub fn backorders_due(&self, now: DateTime<Utc>) -> Vec<String> {
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
    pub fn unfinished(&self) -> Vec<(String, u32, Vec<String>)> {
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
    pub fn order_of_request(&self, request_id: &str) -> Option<&RoutedOrder> {
        self.requests.get(request_id).and_then(|id| self.orders.get(id))
    }

    // ------------------------------------------------------------------------------------
    // The network.

    pub fn upsert_node(&self, node: Node) -> Result<Events, RoutingError> {
        let bad = node.violations();
        if !bad.is_empty() {
            return Err(RoutingError::Invalid(bad));
        }
        if self.network.node(&node.node_id) == Some(&node) {
            return Ok(Vec::new());
        }
        Ok(vec![(
            NETWORK_STREAM.to_owned(),
            RoutingEvent::NodeUpserted { node: Box::new(node) },
        )])
    }

    pub fn remove_node(&self, node_id: &str) -> Result<Events, RoutingError> {
        if self.network.node(node_id).is_none() {
            return Err(RoutingError::UnknownNode(node_id.to_owned()));
        }
        Ok(vec![(
            NETWORK_STREAM.to_owned(),
            RoutingEvent::NodeRemoved {
                node_id: node_id.to_owned(),
            },
        )])
    }

    pub fn set_rule_sets(&self, rule_sets: Vec<RuleSet>) -> Result<Events, RoutingError> {
        let bad = rule_set_violations(&rule_sets);
        if !bad.is_empty() {
            return Err(RoutingError::Invalid(bad));
        }
        if self.network.configured_rule_sets() == rule_sets.as_slice() {
            return Ok(Vec::new());
        }
        Ok(vec![(
            NETWORK_STREAM.to_owned(),
            RoutingEvent::RuleSetsReplaced { rule_sets },
        )])
    }

    /// Nodes of the document are added or replaced (others stay); its rule sets, when it
    /// has any, replace the configured ones.
    pub fn import(&self, document: NetworkDocument) -> Result<Events, RoutingError> {
        let bad = document.violations();
        if !bad.is_empty() {
            return Err(RoutingError::Invalid(bad));
        }
        let mut events = Vec::new();
        for node in document.nodes {
            events.extend(self.upsert_node(node)?);
        }
        if !document.rule_sets.is_empty() {
            events.extend(self.set_rule_sets(document.rule_sets)?);
        }
        Ok(events)
    }

    // ------------------------------------------------------------------------------------
    // What order capture reports.

    pub fn receive(&self, order: OrderToRoute) -> Events {
        if self.orders.contains_key(&order.order_id) {
            return Vec::new();
        }
        vec![(
            order_stream(&order.order_id),
            RoutingEvent::OrderReceived { order: Box::new(order) },
        )]
    }

    fn known(&self, order_id: &str) -> Result<&RoutedOrder, RoutingError> {
        self.orders
            .get(order_id)
            .ok_or_else(|| RoutingError::UnknownOrder(order_id.to_owned()))
    }

    pub fn hold(&self, order_id: &str, at: DateTime<Utc>) -> Result<Events, RoutingError> {
        let order = self.known(order_id)?;
        Ok(if order.held {
            Vec::new()
        } else {
            vec![(order_stream(order_id), RoutingEvent::OrderHeld { at })]
        })
    }

    pub fn release(&self, order_id: &str, at: DateTime<Utc>) -> Result<Events, RoutingError> {
        let order = self.known(order_id)?;
        Ok(if order.held {
            vec![(order_stream(order_id), RoutingEvent::OrderReleased { at })]
        } else {
            Vec::new()
        })
    }

    /// Units cancelled by the customer or customer service: first those no node holds,
    /// then those of open allocations, newest first (their nodes are told to stop).
    pub fn cancel(
        &self,
        order_id: &str,
        lines: &[(String, i64)],
        whole_order: bool,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<Events, RoutingError> {
        let order = self.known(order_id)?;
        let stream = order_stream(order_id);
        let need = order.need();
        let wanted: Vec<(String, i64)> = if whole_order {
            order
                .order
                .lines
                .iter()
                .map(|l| (l.line_id.clone(), i64::MAX))
                .collect()
        } else {
            lines.to_vec()
        };
        let mut cancelled: Vec<LineNeed> = Vec::new();
        let mut drops: BTreeMap<String, Vec<LineNeed>> = BTreeMap::new();
        for (line_id, quantity) in wanted {
            let Some(line) = order.order.lines.iter().find(|l| l.line_id == line_id) else {
                continue;
            };
            let mut left = quantity;
            let free: i64 = need.iter().filter(|n| n.line_id == line_id).map(|n| n.quantity).sum();
            let take = left.min(free);
            left -= take;
            let mut units = take;
            for a in order.allocations.iter().rev().filter(|a| a.is_open()) {
                if left <= 0 {
                    break;
                }
                let held = a.units_of(&line_id);
                let take = left.min(held);
                if take > 0 {
                    drops.entry(a.request_id.clone()).or_default().push(LineNeed::new(
                        line_id.clone(),
                        line.sku.clone(),
                        take,
                    ));
                    left -= take;
                    units += take;
                }
            }
            if units > 0 {
                cancelled.push(LineNeed::new(line_id, line.sku.clone(), units));
            }
        }
        let mut events = Vec::new();
        if !cancelled.is_empty() {
            events.push((stream.clone(), RoutingEvent::LinesCancelled { lines: cancelled, at }));
        }
        for (request_id, lines) in drops {
            events.push((
                stream.clone(),
                RoutingEvent::AllocationDropped {
                    request_id,
                    lines,
                    reason: format!("order cancelled: {reason}"),
                    exclude_node: false,
                    give_back_capacity: true,
                    at,
                },
            ));
        }
        Ok(events)
    }

    /// A new delivery method or address: open allocations are taken back and the order is
    /// routed again for the new destination.
    pub fn change_destination(
        &self,
        order_id: &str,
        delivery_method: DeliveryMethod,
        shipping_address: Option<Address>,
        pickup_location_id: String,
        at: DateTime<Utc>,
    ) -> Result<Events, RoutingError> {
        let order = self.known(order_id)?;
        let o = &order.order;
        if o.delivery_method == delivery_method
            && o.shipping_address == shipping_address
            && o.pickup_location_id == pickup_location_id
        {
            return Ok(Vec::new());
        }
        let stream = order_stream(order_id);
        let mut events = vec![(
            stream.clone(),
            RoutingEvent::DestinationChanged {
                delivery_method,
                shipping_address,
                pickup_location_id,
                at,
            },
        )];
        for a in order.allocations.iter().filter(|a| a.is_open()) {
            events.push((
                stream.clone(),
                RoutingEvent::AllocationDropped {
                    request_id: a.request_id.clone(),
                    lines: Vec::new(),
                    reason: "the delivery changed".to_owned(),
                    exclude_node: false,
                    give_back_capacity: true,
                    at,
                },
            ));
        }
        Ok(events)
    }

    // ------------------------------------------------------------------------------------
    // What the nodes report.

    pub fn job_accepted(&self, request_id: &str, at: DateTime<Utc>) -> Events {
        match self.order_of_request(request_id) {
            Some(order)
                if order
                    .allocation(request_id)
                    .is_some_and(|a| a.status == AllocationStatus::Requested) =>
            {
                vec![(
                    order_stream(order.order_id()),
                    RoutingEvent::AllocationAccepted {
                        request_id: request_id.to_owned(),
                        at,
                    },
                )]
            }
            _ => Vec::new(),
        }
    }

    pub fn job_completed(&self, request_id: &str, at: DateTime<Utc>) -> Events {
        match self.order_of_request(request_id) {
            Some(order) if order.allocation(request_id).is_some_and(AllocationRecord::is_open) => vec![(
                order_stream(order.order_id()),
                RoutingEvent::AllocationCompleted {
                    request_id: request_id.to_owned(),
                    at,
                },
            )],
            _ => Vec::new(),
        }
    }

    /// A node gave units back (rejected, short-picked, missed its acceptance deadline, or
    /// cancelled its job): they are routed again, elsewhere.
    pub fn job_dropped(&self, request_id: &str, lines: Vec<LineNeed>, reason: &str, at: DateTime<Utc>) -> Events {
        match self.order_of_request(request_id) {
            Some(order) if order.allocation(request_id).is_some_and(AllocationRecord::is_open) => vec![(
                order_stream(order.order_id()),
                RoutingEvent::AllocationDropped {
                    request_id: request_id.to_owned(),
                    lines,
                    reason: reason.to_owned(),
                    exclude_node: true,
                    give_back_capacity: true,
                    at,
                },
            )],
            _ => Vec::new(),
        }
    }

    // ------------------------------------------------------------------------------------
    // Routing attempts.

    /// An attempt starts: it will reserve `reservation_ids` at the ledger.
    pub fn begin_attempt(
        &self,
        order_id: &str,
        attempt: u32,
        revision: u32,
        reservation_ids: Vec<String>,
        at: DateTime<Utc>,
    ) -> Result<Events, RoutingError> {
        let order = self.known(order_id)?;
        if order.attempt != attempt || order.revision != revision || order.held {
            return Err(RoutingError::AttemptVoid(order_id.to_owned()));
        }
        if reservation_ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(vec![(
            order_stream(order_id),
            RoutingEvent::ReservationsRequested {
                attempt,
                reservation_ids,
                at,
            },
        )])
    }

    /// The attempt's outcome. `allocations` were reserved under the ids given; the plan's
    /// other outcome and reasons come with them.
    #[allow(clippy::too_many_arguments)]
    pub fn finish_attempt(
        &self,
        order_id: &str,
        attempt: u32,
        revision: u32,
        allocations: Vec<(PlannedAllocation, String)>,
        plan: &Plan,
        at: DateTime<Utc>,
    ) -> Result<Events, RoutingError> {
        let order = self.known(order_id)?;
        if order.attempt != attempt || order.revision != revision || order.held {
            return Err(RoutingError::AttemptVoid(order_id.to_owned()));
        }
        // Units routed must still be wanted (a drop may have added some; nothing took any).
        let need = order.need();
        for line in need.iter() {
            let routed: i64 = allocations
                .iter()
                .flat_map(|(a, _)| a.lines.iter())
                .filter(|l| l.line_id == line.line_id)
                .map(|l| l.quantity)
                .sum();
            if routed > line.quantity {
                return Err(RoutingError::AttemptVoid(order_id.to_owned()));
            }
        }
        let reroute = order.allocations.iter().any(|a| a.status == AllocationStatus::Dropped);
        let records: Vec<AllocationRecord> = allocations
            .into_iter()
            .map(|(a, reservation_id)| AllocationRecord {
                request_id: reservation_id.clone(),
                node_id: a.node_id,
                node_type: a.node_type,
                reservation_id,
                lines: a.lines,
                status: AllocationStatus::Requested,
                expected_at: a.expected_at,
                capacity_day: a.capacity_day,
                capacity_used: a.capacity_used,
            })
            .collect();
        let (backordered, give_up_at, failed) = match plan.unrouted {
            Unrouted::Nothing => (Vec::new(), None, Vec::new()),
            // A backorder tried again keeps the deadline it was given first.
            Unrouted::Backorder { give_up_at } => (
                plan.unallocated.clone(),
                match (order.give_up_at, give_up_at) {
                    (Some(first), Some(now)) => Some(first.min(now)),
                    (first, now) => first.or(now),
                },
                Vec::new(),
            ),
            Unrouted::Review | Unrouted::GiveUp => (Vec::new(), None, plan.unallocated.clone()),
        };
        let decision = DecisionRecord {
            attempt: attempt + 1,
            ..plan.decision.clone()
        };
        Ok(vec![(
            order_stream(order_id),
            RoutingEvent::Routed {
                attempt,
                allocations: records,
                backordered,
                give_up_at,
                failed,
                reason: plan.reason.clone(),
                reroute,
                decision: Box::new(decision),
                at,
            },
        )])
    }

    /// An attempt's reservations were released without a decision (it stopped half-way).
    pub fn abandon_attempt(
        &self,
        order_id: &str,
        reservation_ids: Vec<String>,
        at: DateTime<Utc>,
    ) -> Result<Events, RoutingError> {
        let order = self.known(order_id)?;
        Ok(vec![(
            order_stream(order_id),
            RoutingEvent::ReservationsAbandoned {
                attempt: order.attempt,
                reservation_ids,
                at,
            },
        )])
    }

    /// A backorder whose rule set allowed it to wait until now gives up.
    pub fn give_up(&self, order_id: &str, now: DateTime<Utc>) -> Result<Events, RoutingError> {
        let order = self.known(order_id)?;
        match order.give_up_at {
            Some(at) if at <= now && !order.backordered.is_empty() => Ok(vec![(
                order_stream(order_id),
                RoutingEvent::GaveUp {
                    lines: order.backordered.clone(),
                    reason: format!("no supply by {at}"),
                    at: now,
                },
            )]),
            _ => Ok(Vec::new()),
        }
    }
}
