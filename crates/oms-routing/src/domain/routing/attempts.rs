//! The router's steps, each recorded: an attempt names the reservations it is about to
//! ask the ledger for, then records its outcome (or that it was abandoned, its reservations
//! released); a backorder whose time is up gives up. An attempt made on an order that
//! changed since it was planned (held, cancelled, sent elsewhere, routed by another) is
//! void.

use chrono::{DateTime, Utc};
use oms_eventsourcing::{Change, Changes, Decide};

use super::Routing;
use crate::domain::payloads::{AllocationMade, DecisionReasons};
use crate::domain::plan::{DecisionRecord, Plan, PlannedAllocation, Unrouted};
use crate::domain::{
    AllocationStatus, LineNeed, OrderId, ReservationId, RoutedOrder, RoutingError, RoutingEvent, order_stream,
};

/// An attempt at routing the order as it was at `attempt` and `revision` starts: it will
/// reserve `reservation_ids` at the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeginAttempt {
    pub order_id: OrderId,
    pub attempt: u32,
    pub revision: u32,
    pub reservation_ids: Vec<ReservationId>,
}

impl Decide<Routing> for BeginAttempt {
    type Refusal = RoutingError;

    fn decide(&self, routing: &Routing, now: DateTime<Utc>) -> Result<Changes<RoutingEvent>, RoutingError> {
        current(routing, &self.order_id, self.attempt, self.revision)?;
        if self.reservation_ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(vec![Change::new(
            order_stream(&self.order_id),
            RoutingEvent::ReservationsRequested {
                attempt: self.attempt,
                reservation_ids: self.reservation_ids.clone(),
                at: now,
            },
        )])
    }
}

/// Units of a plan's allocation, reserved at the ledger under `reservation_id`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReservedAllocation {
    pub allocation: PlannedAllocation,
    pub reservation_id: ReservationId,
}

/// The attempt's outcome: `reserved` were reserved under the ids given; the plan's other
/// outcome and reasons come with them.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishAttempt {
    pub order_id: OrderId,
    pub attempt: u32,
    pub revision: u32,
    pub reserved: Vec<ReservedAllocation>,
    pub plan: Plan,
}

impl Decide<Routing> for FinishAttempt {
    type Refusal = RoutingError;

    fn decide(&self, routing: &Routing, now: DateTime<Utc>) -> Result<Changes<RoutingEvent>, RoutingError> {
        let order = current(routing, &self.order_id, self.attempt, self.revision)?;
        if routes_more_than_wanted(order, &self.reserved) {
            return Err(RoutingError::AttemptVoid(self.order_id.clone()));
        }
        Ok(vec![Change::new(
            order_stream(&self.order_id),
            routed(order, self, now),
        )])
    }
}

/// An attempt's reservations were released without a decision (it stopped half-way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbandonAttempt {
    pub order_id: OrderId,
    pub reservation_ids: Vec<ReservationId>,
}

impl Decide<Routing> for AbandonAttempt {
    type Refusal = RoutingError;

    fn decide(&self, routing: &Routing, now: DateTime<Utc>) -> Result<Changes<RoutingEvent>, RoutingError> {
        let order = routing.known(&self.order_id)?;
        Ok(vec![Change::new(
            order_stream(&self.order_id),
            RoutingEvent::ReservationsAbandoned {
                attempt: order.attempt,
                reservation_ids: self.reservation_ids.clone(),
                at: now,
            },
        )])
    }
}

/// A backorder whose rule set allowed it to wait until now gives up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GiveUp {
    pub order_id: OrderId,
}

impl Decide<Routing> for GiveUp {
    type Refusal = RoutingError;

    fn decide(&self, routing: &Routing, now: DateTime<Utc>) -> Result<Changes<RoutingEvent>, RoutingError> {
        let order = routing.known(&self.order_id)?;
        Ok(match order.give_up_at {
            Some(at) if at <= now && !order.backordered.is_empty() => vec![Change::new(
                order_stream(&self.order_id),
                RoutingEvent::GaveUp {
                    lines: order.backordered.clone(),
                    reason: format!("no supply by {at}"),
                    at: now,
                },
            )],
            _ => Vec::new(),
        })
    }
}

/// The order, if it is still as the attempt saw it and not held.
fn current<'a>(
    routing: &'a Routing,
    order_id: &OrderId,
    attempt: u32,
    revision: u32,
) -> Result<&'a RoutedOrder, RoutingError> {
    let order = routing.known(order_id)?;
    if order.attempt != attempt || order.revision != revision || order.held {
        return Err(RoutingError::AttemptVoid(order_id.clone()));
    }
    Ok(order)
}

/// Units routed must still be wanted (a drop may have added some; nothing took any).
fn routes_more_than_wanted(order: &RoutedOrder, reserved: &[ReservedAllocation]) -> bool {
    order.need().iter().any(|line| {
        let routed: i64 = reserved
            .iter()
            .flat_map(|r| r.allocation.lines.iter())
            .filter(|l| l.line_id == line.line_id)
            .map(|l| l.quantity)
            .sum();
        routed > line.quantity
    })
}

/// The decision: the reserved units requested of their nodes, the rest backordered or
/// given up as the plan says, and its reasons.
fn routed(order: &RoutedOrder, command: &FinishAttempt, now: DateTime<Utc>) -> RoutingEvent {
    let plan = &command.plan;
    let (backordered, give_up_at, failed) = unrouted(order, plan);
    let decision = DecisionRecord {
        attempt: command.attempt + 1,
        ..plan.decision.clone()
    };
    RoutingEvent::Routed {
        attempt: command.attempt,
        allocations: command
            .reserved
            .iter()
            .map(|r| AllocationMade::planned(r.allocation.clone(), r.reservation_id.clone()))
            .collect(),
        backordered,
        give_up_at,
        failed,
        reason: plan.reason.clone(),
        reroute: order.allocations.iter().any(|a| a.status == AllocationStatus::Dropped),
        decision: Box::new(DecisionReasons::from(&decision)),
        at: now,
    }
}

/// (backordered, when the backorder gives up, failed) of what the plan left unrouted.
fn unrouted(order: &RoutedOrder, plan: &Plan) -> (Vec<LineNeed>, Option<DateTime<Utc>>, Vec<LineNeed>) {
    match plan.unrouted {
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
    }
}
