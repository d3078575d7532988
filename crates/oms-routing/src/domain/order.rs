//! An order as routing sees it: what was ordered and where it goes, which nodes hold which
//! of its units, what waits for supply, and how many times it was routed.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::payloads::{AllocationMade, DecisionReasons};
use super::plan::DecisionRecord;
use super::{
    Address, Channel, DeliveryMethod, JobId, LineId, LineNeed, LocationId, NodeType, OrderId, Priority, ReservationId,
    RoutingEvent,
};

/// What routing keeps of a placed order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderToRoute {
    pub order_id: OrderId,
    pub channel: Channel,
    pub delivery_method: DeliveryMethod,
    pub priority: Priority,
    /// Order value in minor units of `currency`.
    pub value_minor: i64,
    pub currency: String,
    pub lines: Vec<LineNeed>,
    pub shipping_address: Option<Address>,
    /// The store or locker of a pickup method (empty for shipped methods).
    pub pickup_location_id: LocationId,
    pub customer_name: String,
    /// A pre-order: not routed before this.
    pub release_at: Option<DateTime<Utc>>,
    pub placed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AllocationStatus {
    /// Reserved and asked of the node.
    Requested,
    /// The node took the job on.
    Accepted,
    /// The units left the node (shipped or collected).
    Completed,
    /// Taken back from the node: rejected, cancelled, or moved elsewhere.
    Dropped,
}

/// Units of an order given to one node under one fulfilment request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllocationRecord {
    pub request_id: JobId,
    pub node_id: LocationId,
    pub node_type: NodeType,
    pub reservation_id: ReservationId,
    /// Units the node holds for the order (less what was dropped since).
    pub lines: Vec<LineNeed>,
    pub status: AllocationStatus,
    pub expected_at: Option<DateTime<Utc>>,
    /// The node's local day whose capacity it takes, and how much of it.
    pub capacity_day: NaiveDate,
    pub capacity_used: u32,
}

impl AllocationRecord {
    pub fn is_open(&self) -> bool {
        matches!(self.status, AllocationStatus::Requested | AllocationStatus::Accepted)
    }

    pub fn units_of(&self, line_id: &LineId) -> i64 {
        self.lines
            .iter()
            .filter(|l| l.line_id == *line_id)
            .map(|l| l.quantity)
            .sum()
    }
}

/// The routing state of one order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoutedOrder {
    pub order: OrderToRoute,
    /// Cancelled units per line.
    pub cancelled: BTreeMap<LineId, i64>,
    pub allocations: Vec<AllocationRecord>,
    /// Units waiting for supply, and when routing gives up on them (if it does).
    pub backordered: Vec<LineNeed>,
    pub give_up_at: Option<DateTime<Utc>>,
    /// Units routing gave up on.
    pub failed: Vec<LineNeed>,
    pub failure: Option<String>,
    pub held: bool,
    /// Nodes that rejected or dropped the order's units: not asked again.
    pub rejected_by: BTreeSet<LocationId>,
    /// Routing attempts so far (each names its reservations).
    pub attempt: u32,
    /// Reservations asked of the ledger by an attempt that has not finished.
    pub pending_reservations: Vec<ReservationId>,
    /// The latest decisions, oldest first.
    pub decisions: Vec<DecisionRecord>,
    /// Counts the changes that void an attempt in flight: hold, cancellation, new
    /// destination.
    pub revision: u32,
}

/// How many decisions an order keeps for GetDecision.
const DECISIONS_KEPT: usize = 4;

impl RoutedOrder {
    pub fn new(order: OrderToRoute) -> Self {
        Self {
            order,
            cancelled: BTreeMap::new(),
            allocations: Vec::new(),
            backordered: Vec::new(),
            give_up_at: None,
            failed: Vec::new(),
            failure: None,
            held: false,
            rejected_by: BTreeSet::new(),
            attempt: 0,
            pending_reservations: Vec::new(),
            decisions: Vec::new(),
            revision: 0,
        }
    }

    pub fn order_id(&self) -> &OrderId {
        &self.order.order_id
    }

    fn units(lines: &[LineNeed], line_id: &LineId) -> i64 {
        lines.iter().filter(|l| l.line_id == *line_id).map(|l| l.quantity).sum()
    }

    /// Units no node holds, per line: ordered, less cancelled, allocated (open or
    /// completed) and given up.
    pub fn need(&self) -> Vec<LineNeed> {
        self.order
            .lines
            .iter()
            .filter_map(|line| {
                let held: i64 = self
                    .allocations
                    .iter()
                    .filter(|a| a.status != AllocationStatus::Dropped)
                    .map(|a| a.units_of(&line.line_id))
                    .sum();
                let left = line.quantity
                    - self.cancelled.get(&line.line_id).copied().unwrap_or(0)
                    - held
                    - Self::units(&self.failed, &line.line_id);
                (left > 0).then(|| LineNeed::new(line.line_id.clone(), line.sku.clone(), left))
            })
            .collect()
    }

    /// Units that need a node and are not waiting for supply.
    pub fn unrouted(&self) -> Vec<LineNeed> {
        self.need()
            .into_iter()
            .filter_map(|mut line| {
                line.quantity -= Self::units(&self.backordered, &line.line_id);
                (line.quantity > 0).then_some(line)
            })
            .collect()
    }

    /// Routing should run for this order now (given the release date has come).
    pub fn wants_routing(&self) -> bool {
        !self.held && self.pending_reservations.is_empty() && !self.unrouted().is_empty()
    }

    /// Waiting for supply.
    pub fn is_backordered(&self) -> bool {
        !self.held && self.pending_reservations.is_empty() && !self.backordered.is_empty()
    }

    pub fn is_released(&self, now: DateTime<Utc>) -> bool {
        self.order.release_at.is_none_or(|at| at <= now)
    }

    pub fn allocation(&self, request_id: &JobId) -> Option<&AllocationRecord> {
        self.allocations.iter().find(|a| a.request_id == *request_id)
    }

    pub fn latest_decision(&self) -> Option<&DecisionRecord> {
        self.decisions.last()
    }

    /// Applies one of the order's events.
    pub fn evolve(&mut self, event: &RoutingEvent) {
        match event {
            RoutingEvent::OrderHeld { .. } => {
                self.held = true;
                self.revision += 1;
            }
            RoutingEvent::OrderReleased { .. } => self.held = false,
            RoutingEvent::LinesCancelled { lines, .. } => self.lines_cancelled(lines),
            RoutingEvent::DestinationChanged {
                delivery_method,
                shipping_address,
                pickup_location_id,
                ..
            } => {
                self.revision += 1;
                self.order.delivery_method = *delivery_method;
                self.order.shipping_address = shipping_address.clone();
                self.order.pickup_location_id = pickup_location_id.clone();
                // Nodes that could not serve the old destination may serve the new one.
                self.rejected_by.clear();
            }
            RoutingEvent::ReservationsRequested { reservation_ids, .. } => {
                self.pending_reservations.extend(reservation_ids.iter().cloned());
            }
            RoutingEvent::ReservationsAbandoned { .. } => {
                self.pending_reservations.clear();
                self.attempt += 1;
            }
            RoutingEvent::Routed {
                allocations,
                backordered,
                give_up_at,
                failed,
                reason,
                decision,
                ..
            } => self.routed(allocations, backordered, *give_up_at, failed, reason, decision),
            RoutingEvent::AllocationAccepted { request_id, .. } => {
                if let Some(a) = self.allocation_mut(request_id)
                    && a.status == AllocationStatus::Requested
                {
                    a.status = AllocationStatus::Accepted;
                }
            }
            RoutingEvent::AllocationCompleted { request_id, .. } => {
                if let Some(a) = self.allocation_mut(request_id)
                    && a.is_open()
                {
                    a.status = AllocationStatus::Completed;
                }
            }
            RoutingEvent::AllocationDropped {
                request_id,
                lines,
                exclude_node,
                ..
            } => self.allocation_dropped(request_id, lines, *exclude_node),
            RoutingEvent::GaveUp { lines, reason, .. } => {
                self.failed.extend(lines.iter().cloned());
                self.failure = Some(reason.clone());
                self.backordered.clear();
                self.give_up_at = None;
            }
            RoutingEvent::OrderReceived { .. }
            | RoutingEvent::NodeUpserted { .. }
            | RoutingEvent::NodeRemoved { .. }
            | RoutingEvent::RuleSetsReplaced { .. } => {}
        }
    }

    fn lines_cancelled(&mut self, lines: &[LineNeed]) {
        self.revision += 1;
        for line in lines {
            *self.cancelled.entry(line.line_id.clone()).or_default() += line.quantity;
        }
        self.clip_backorder();
    }

    /// A decision: its allocations are requested of their nodes, what it backordered
    /// replaces the backorder, what it gave up on is failed, and its reasons are kept.
    fn routed(
        &mut self,
        allocations: &[AllocationMade],
        backordered: &[LineNeed],
        give_up_at: Option<DateTime<Utc>>,
        failed: &[LineNeed],
        reason: &str,
        decision: &DecisionReasons,
    ) {
        self.pending_reservations.clear();
        self.attempt += 1;
        self.allocations.extend(allocations.iter().map(AllocationRecord::from));
        self.backordered = backordered.to_vec();
        self.give_up_at = if backordered.is_empty() { None } else { give_up_at };
        if !failed.is_empty() {
            self.failed.extend(failed.iter().cloned());
            self.failure = Some(reason.to_owned());
        }
        self.decisions.push(DecisionRecord::from(decision));
        if self.decisions.len() > DECISIONS_KEPT {
            self.decisions.remove(0);
        }
    }

    /// Units taken back from a node (all of its units when no lines are named); the node
    /// is not asked again when `exclude_node`.
    fn allocation_dropped(&mut self, request_id: &JobId, lines: &[LineNeed], exclude_node: bool) {
        let Some(a) = self.allocation_mut(request_id) else {
            return;
        };
        let node = a.node_id.clone();
        if lines.is_empty() {
            a.lines.clear();
        } else {
            for dropped in lines {
                let mut left = dropped.quantity;
                for line in a.lines.iter_mut().filter(|l| l.line_id == dropped.line_id) {
                    let take = left.min(line.quantity);
                    line.quantity -= take;
                    left -= take;
                }
            }
            a.lines.retain(|l| l.quantity > 0);
        }
        if a.lines.is_empty() {
            a.status = AllocationStatus::Dropped;
        }
        if exclude_node {
            self.rejected_by.insert(node);
        }
    }

    fn allocation_mut(&mut self, request_id: &JobId) -> Option<&mut AllocationRecord> {
        self.allocations.iter_mut().find(|a| a.request_id == *request_id)
    }

    /// A backorder never waits for more than is still needed.
    fn clip_backorder(&mut self) {
        let need = self.need();
        for line in &mut self.backordered {
            let wanted = Self::units(&need, &line.line_id);
            line.quantity = line.quantity.min(wanted);
        }
        self.backordered.retain(|l| l.quantity > 0);
        if self.backordered.is_empty() {
            self.give_up_at = None;
        }
    }
}
