//! One order: what customer service and the other services may do to it, and how its
//! units move through their lifecycle.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use oms_eventsourcing::Aggregate;
use serde::{Deserialize, Serialize};

use super::events::Units;
use super::{Address, Delivery, LineQuantity, Money, OrderDraft, OrderError, OrderEvent, OrderStatus};

/// Where the units of one line are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineState {
    pub line_id: String,
    pub sku: String,
    pub unit_price: i64,
    pub ordered: i64,
    pub cancelled: i64,
    /// Given to a node by routing and not dropped since.
    pub allocated: i64,
    pub backordered: i64,
    /// Taken on by a node.
    pub in_fulfilment: i64,
    /// Left the node for the customer (carried to their address).
    pub shipped: i64,
    /// Left the node as a parcel for the place the customer collects it (another store, a
    /// locker bank) and not there yet.
    #[serde(default)]
    pub to_pickup: i64,
    pub ready_for_pickup: i64,
    pub collected: i64,
    pub delivered: i64,
    pub return_requested: i64,
    pub returned: i64,
}

impl LineState {
    /// Units still wanted: ordered and not cancelled.
    pub fn active(&self) -> i64 {
        self.ordered - self.cancelled
    }

    /// Units that left the node (shipped, or handed over at pickup).
    pub fn gone(&self) -> i64 {
        self.shipped + self.collected
    }

    /// Units that can still be cancelled: not shipped, not on their way to the pickup
    /// location and not collected.
    pub fn cancellable(&self) -> i64 {
        (self.active() - self.gone() - self.to_pickup).max(0)
    }

    /// Units that can be returned: received by the customer and not already returned (or
    /// being returned).
    pub fn returnable(&self) -> i64 {
        (self.delivered.max(self.shipped) + self.collected - self.return_requested - self.returned).max(0)
    }

    pub fn status(&self) -> OrderStatus {
        let active = self.active();
        if active <= 0 {
            return OrderStatus::Cancelled;
        }
        if self.returned >= active {
            return OrderStatus::Returned;
        }
        if self.return_requested > 0 {
            return OrderStatus::ReturnRequested;
        }
        if self.delivered + self.collected >= active {
            return if self.delivered > 0 {
                OrderStatus::Delivered
            } else {
                OrderStatus::Collected
            };
        }
        if self.gone() >= active {
            return OrderStatus::Shipped;
        }
        if self.gone() > 0 {
            return OrderStatus::PartiallyShipped;
        }
        if self.ready_for_pickup >= active {
            return OrderStatus::ReadyForPickup;
        }
        // Every unit left its node for the pickup location: shipped to it, or there.
        if self.to_pickup > 0 && self.to_pickup + self.ready_for_pickup >= active {
            return OrderStatus::Shipped;
        }
        if self.in_fulfilment > 0 || self.ready_for_pickup > 0 || self.to_pickup > 0 {
            return OrderStatus::InFulfilment;
        }
        if self.allocated >= active {
            return OrderStatus::Routed;
        }
        if self.backordered > 0 {
            return OrderStatus::Backordered;
        }
        OrderStatus::Placed
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hold {
    pub reason: String,
    pub by: String,
    pub at: DateTime<Utc>,
}

/// A change of status, for the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: OrderStatus,
    pub at: DateTime<Utc>,
    pub detail: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub order_id: String,
    /// As placed, with the delivery as it is now.
    pub draft: Option<OrderDraft>,
    pub lines: Vec<LineState>,
    pub hold: Option<Hold>,
    pub placed_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub timeline: Vec<StatusChange>,
    /// Current allocations by fulfilment request id.
    pub allocations: BTreeMap<String, (String, Units, Option<DateTime<Utc>>)>,
    pub tracking_numbers: Vec<String>,
    /// Where the customer collects, and the code to show there, once units are ready.
    pub pickup: Option<(String, String)>,
    pub refunded_minor: i64,
    /// What was recorded from other services (`kind:id`), so a report made twice counts once.
    pub recorded: BTreeSet<String>,
}

/// What can happen to an order.
#[derive(Debug, Clone, PartialEq)]
pub enum OrderCommand {
    Place {
        order_id: String,
        draft: Box<OrderDraft>,
        at: DateTime<Utc>,
    },
    /// No lines: everything that can still be cancelled.
    Cancel {
        lines: Units,
        reason: String,
        by: String,
        at: DateTime<Utc>,
    },
    ChangeShippingAddress {
        address: Address,
        by: String,
        at: DateTime<Utc>,
    },
    ChangeDelivery {
        delivery: Delivery,
        by: String,
        at: DateTime<Utc>,
    },
    Hold {
        reason: String,
        by: String,
        at: DateTime<Utc>,
    },
    Release {
        by: String,
        at: DateTime<Utc>,
    },
    RecordAllocation {
        request_id: String,
        node_id: String,
        lines: Units,
        expected_at: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    },
    RecordBackorder {
        lines: Units,
        reason: String,
        at: DateTime<Utc>,
    },
    RecordRoutingFailure {
        lines: Units,
        reason: String,
        at: DateTime<Utc>,
    },
    RecordFulfilmentStarted {
        job_id: String,
        lines: Units,
        at: DateTime<Utc>,
    },
    RecordFulfilmentDropped {
        job_id: String,
        lines: Units,
        reason: String,
        at: DateTime<Utc>,
    },
    RecordShipped {
        job_id: String,
        lines: Units,
        carrier: String,
        tracking_number: String,
        at: DateTime<Utc>,
    },
    RecordReadyForPickup {
        job_id: String,
        lines: Units,
        location_id: String,
        pickup_code: String,
        at: DateTime<Utc>,
    },
    RecordCollected {
        job_id: String,
        lines: Units,
        at: DateTime<Utc>,
    },
    RecordPickupExpired {
        job_id: String,
        lines: Units,
        at: DateTime<Utc>,
    },
    RecordDelivered {
        job_id: String,
        lines: Units,
        at: DateTime<Utc>,
    },
    RecordReturnRequested {
        return_id: String,
        lines: Units,
        at: DateTime<Utc>,
    },
    RecordReturned {
        return_id: String,
        lines: Units,
        at: DateTime<Utc>,
    },
    RecordRefund {
        return_id: String,
        amount: Money,
        at: DateTime<Utc>,
    },
}

impl Order {
    pub fn exists(&self) -> bool {
        self.draft.is_some()
    }

    pub fn status(&self) -> OrderStatus {
        if self.hold.is_some() && !self.finished() {
            return OrderStatus::Held;
        }
        self.status_without_hold()
    }

    /// Nothing is left to do for the customer: cancelled, delivered, collected, returned.
    pub fn finished(&self) -> bool {
        self.lines.iter().all(|l| l.cancellable() == 0)
    }

    fn status_without_hold(&self) -> OrderStatus {
        let active: Vec<&LineState> = self.lines.iter().filter(|l| l.active() > 0).collect();
        if active.is_empty() {
            return OrderStatus::Cancelled;
        }
        let statuses: Vec<OrderStatus> = active.iter().map(|l| l.status()).collect();
        let all = |s: &[OrderStatus]| statuses.iter().all(|x| s.contains(x));
        let any = |s: &[OrderStatus]| statuses.iter().any(|x| s.contains(x));
        if all(&[OrderStatus::Returned]) {
            let returned_value: i64 = self.lines.iter().map(|l| l.returned * l.unit_price).sum();
            return if self.refunded_minor >= returned_value && returned_value > 0 {
                OrderStatus::Refunded
            } else {
                OrderStatus::Returned
            };
        }
        if any(&[OrderStatus::ReturnRequested, OrderStatus::Returned]) {
            return OrderStatus::ReturnRequested;
        }
        if all(&[OrderStatus::Delivered, OrderStatus::Collected]) {
            return if any(&[OrderStatus::Delivered]) {
                OrderStatus::Delivered
            } else {
                OrderStatus::Collected
            };
        }
        // (A pickup order's lines are "shipped" while their parcels travel to the pickup
        // location: with the rest there already, the order is still on its way.)
        if all(&[
            OrderStatus::Shipped,
            OrderStatus::Delivered,
            OrderStatus::Collected,
            OrderStatus::ReadyForPickup,
        ]) && any(&[OrderStatus::Shipped])
        {
            return OrderStatus::Shipped;
        }
        if all(&[OrderStatus::Shipped, OrderStatus::Delivered, OrderStatus::Collected]) {
            return OrderStatus::Shipped;
        }
        if any(&[
            OrderStatus::Shipped,
            OrderStatus::PartiallyShipped,
            OrderStatus::Delivered,
            OrderStatus::Collected,
        ]) {
            return OrderStatus::PartiallyShipped;
        }
        if all(&[OrderStatus::ReadyForPickup]) {
            return OrderStatus::ReadyForPickup;
        }
        if any(&[OrderStatus::InFulfilment, OrderStatus::ReadyForPickup]) {
            return OrderStatus::InFulfilment;
        }
        if all(&[OrderStatus::Routed]) {
            return OrderStatus::Routed;
        }
        // Lines routed and lines waiting for supply: backordered. Some routed and the rest not
        // decided yet: still being routed, placed.
        if any(&[OrderStatus::Backordered]) {
            return OrderStatus::Backordered;
        }
        OrderStatus::Placed
    }

    pub fn line(&self, line_id: &str) -> Option<&LineState> {
        self.lines.iter().find(|l| l.line_id == line_id)
    }

    pub fn total(&self) -> Option<Money> {
        let draft = self.draft.as_ref()?;
        Some(Money::new(
            draft.total_minor().unwrap_or(i64::MAX),
            draft.currency.clone(),
        ))
    }

    /// The latest a part of the order is expected, from its allocations.
    pub fn expected_at(&self) -> Option<DateTime<Utc>> {
        self.allocations.values().filter_map(|(_, _, at)| *at).max()
    }

    fn require(&self) -> Result<(), OrderError> {
        if self.exists() {
            Ok(())
        } else {
            Err(OrderError::UnknownOrder(self.order_id.clone()))
        }
    }

    /// Checks that every line named exists and the quantities are positive.
    fn known_lines(&self, lines: &Units) -> Result<(), OrderError> {
        let mut bad = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if self.line(&line.line_id).is_none() {
                return Err(OrderError::UnknownLine {
                    order_id: self.order_id.clone(),
                    line_id: line.line_id.clone(),
                });
            }
            if line.quantity <= 0 {
                bad.push((format!("lines[{i}].quantity"), "must be 1 or more".to_owned()));
            }
        }
        if bad.is_empty() {
            Ok(())
        } else {
            Err(OrderError::Invalid(bad))
        }
    }

    /// A report from another service: recorded once per kind and id.
    fn once(&self, key: String, event: OrderEvent) -> Result<Vec<OrderEvent>, OrderError> {
        self.require()?;
        if self.recorded.contains(&key) {
            Ok(Vec::new())
        } else {
            Ok(vec![event])
        }
    }

    fn cancel(&self, lines: &Units, reason: &str, by: &str, at: DateTime<Utc>) -> Result<Vec<OrderEvent>, OrderError> {
        self.require()?;
        let to_cancel: Units = if lines.is_empty() {
            let all: Units = self
                .lines
                .iter()
                .filter(|l| l.cancellable() > 0)
                .map(|l| LineQuantity::new(&l.line_id, l.cancellable()))
                .collect();
            if all.is_empty() {
                return Err(OrderError::status("cancelling", self.status()));
            }
            all
        } else {
            self.known_lines(lines)?;
            let mut merged: Units = Vec::new();
            for line in lines {
                match merged.iter_mut().find(|m| m.line_id == line.line_id) {
                    Some(m) => m.quantity += line.quantity,
                    None => merged.push(line.clone()),
                }
            }
            for line in &merged {
                let state = self.line(&line.line_id).map_or(0, LineState::cancellable);
                if line.quantity > state {
                    let gone = self.line(&line.line_id).map_or(0, LineState::gone);
                    return Err(OrderError::not_now(
                        "cancelling",
                        format!(
                            "line {} has {state} unit(s) left to cancel ({gone} shipped or collected), not {}",
                            line.line_id, line.quantity
                        ),
                    ));
                }
            }
            merged
        };
        let remaining: i64 = self.lines.iter().map(LineState::cancellable).sum::<i64>()
            - to_cancel.iter().map(|l| l.quantity).sum::<i64>();
        let nothing_gone = self.lines.iter().all(|l| l.gone() == 0);
        Ok(vec![OrderEvent::Cancelled {
            lines: to_cancel,
            reason: reason.to_owned(),
            by: by.to_owned(),
            whole_order: remaining == 0 && nothing_gone,
            at,
        }])
    }

    fn nothing_gone_yet(&self, what: &'static str) -> Result<(), OrderError> {
        self.require()?;
        if self.lines.iter().any(|l| l.gone() > 0 || l.ready_for_pickup > 0) {
            return Err(OrderError::not_now(
                what,
                "part of the order has already shipped or is waiting for pickup",
            ));
        }
        if self.finished() {
            return Err(OrderError::status(what, self.status()));
        }
        Ok(())
    }
}

impl Aggregate for Order {
    type Command = OrderCommand;
    type Event = OrderEvent;
    type Error = OrderError;

    fn decide(&self, command: &OrderCommand) -> Result<Vec<OrderEvent>, OrderError> {
        match command {
            OrderCommand::Place { order_id, draft, at } => {
                if self.exists() {
                    // The same channel order again: the first one stands.
                    return Ok(Vec::new());
                }
                let bad = draft.violations(*at);
                if !bad.is_empty() {
                    return Err(OrderError::Invalid(bad));
                }
                let mut draft = draft.clone();
                for (i, line) in draft.lines.iter_mut().enumerate() {
                    if line.line_id.is_empty() {
                        line.line_id = (i + 1).to_string();
                    }
                }
                Ok(vec![OrderEvent::Placed {
                    order_id: order_id.clone(),
                    draft,
                    at: *at,
                }])
            }
            OrderCommand::Cancel { lines, reason, by, at } => self.cancel(lines, reason, by, *at),
            OrderCommand::ChangeShippingAddress { address, by, at } => {
                self.nothing_gone_yet("changing the address")?;
                let delivery = &self
                    .draft
                    .as_ref()
                    .map(|d| d.delivery.clone())
                    .ok_or_else(|| OrderError::UnknownOrder(self.order_id.clone()))?;
                if !delivery.method.is_shipped() {
                    return Err(OrderError::not_now(
                        "changing the address",
                        format!("the order is for {}", delivery.method.name()),
                    ));
                }
                let bad = address.violations("address");
                if !bad.is_empty() {
                    return Err(OrderError::Invalid(bad));
                }
                if delivery.address.as_ref() == Some(address) {
                    return Ok(Vec::new());
                }
                Ok(vec![OrderEvent::ShippingAddressChanged {
                    address: address.clone(),
                    by: by.clone(),
                    at: *at,
                }])
            }
            OrderCommand::ChangeDelivery { delivery, by, at } => {
                self.nothing_gone_yet("changing the delivery method")?;
                let bad = delivery.violations("shipping_address");
                if !bad.is_empty() {
                    return Err(OrderError::Invalid(bad));
                }
                if self.draft.as_ref().is_some_and(|d| &d.delivery == delivery) {
                    return Ok(Vec::new());
                }
                Ok(vec![OrderEvent::DeliveryChanged {
                    delivery: delivery.clone(),
                    by: by.clone(),
                    at: *at,
                }])
            }
            OrderCommand::Hold { reason, by, at } => {
                self.require()?;
                if reason.trim().is_empty() {
                    return Err(OrderError::invalid("reason", "a hold needs a reason"));
                }
                if self.hold.is_some() {
                    return Ok(Vec::new());
                }
                if self.finished() {
                    return Err(OrderError::status("holding", self.status()));
                }
                Ok(vec![OrderEvent::Held {
                    reason: reason.clone(),
                    by: by.clone(),
                    at: *at,
                }])
            }
            OrderCommand::Release { by, at } => {
                self.require()?;
                if self.hold.is_none() {
                    return Err(OrderError::not_now("releasing", "the order is not held"));
                }
                Ok(vec![OrderEvent::Released {
                    by: by.clone(),
                    at: *at,
                }])
            }
            OrderCommand::RecordAllocation {
                request_id,
                node_id,
                lines,
                expected_at,
                at,
            } => {
                self.known_lines(lines)?;
                let event = OrderEvent::Allocated {
                    request_id: request_id.clone(),
                    node_id: node_id.clone(),
                    lines: lines.clone(),
                    expected_at: *expected_at,
                    at: *at,
                };
                self.once(format!("allocated:{request_id}"), event)
            }
            OrderCommand::RecordBackorder { lines, reason, at } => {
                self.require()?;
                self.known_lines(lines)?;
                Ok(vec![OrderEvent::Backordered {
                    lines: lines.clone(),
                    reason: reason.clone(),
                    at: *at,
                }])
            }
            OrderCommand::RecordRoutingFailure { lines, reason, at } => {
                self.require()?;
                self.known_lines(lines)?;
                Ok(vec![OrderEvent::RoutingFailed {
                    lines: lines.clone(),
                    reason: reason.clone(),
                    at: *at,
                }])
            }
            OrderCommand::RecordFulfilmentStarted { job_id, lines, at } => {
                self.known_lines(lines)?;
                self.once(
                    format!("started:{job_id}"),
                    OrderEvent::FulfilmentStarted {
                        job_id: job_id.clone(),
                        lines: lines.clone(),
                        at: *at,
                    },
                )
            }
            OrderCommand::RecordFulfilmentDropped {
                job_id,
                lines,
                reason,
                at,
            } => {
                self.known_lines(lines)?;
                let event = OrderEvent::FulfilmentDropped {
                    job_id: job_id.clone(),
                    lines: lines.clone(),
                    reason: reason.clone(),
                    at: *at,
                };
                self.once(format!("dropped:{job_id}"), event)
            }
            OrderCommand::RecordShipped {
                job_id,
                lines,
                carrier,
                tracking_number,
                at,
            } => {
                self.known_lines(lines)?;
                let event = OrderEvent::Shipped {
                    job_id: job_id.clone(),
                    lines: lines.clone(),
                    carrier: carrier.clone(),
                    tracking_number: tracking_number.clone(),
                    at: *at,
                };
                self.once(format!("shipped:{job_id}:{tracking_number}"), event)
            }
            OrderCommand::RecordReadyForPickup {
                job_id,
                lines,
                location_id,
                pickup_code,
                at,
            } => {
                self.known_lines(lines)?;
                let event = OrderEvent::ReadyForPickup {
                    job_id: job_id.clone(),
                    lines: lines.clone(),
                    location_id: location_id.clone(),
                    pickup_code: pickup_code.clone(),
                    at: *at,
                };
                self.once(format!("ready:{job_id}"), event)
            }
            OrderCommand::RecordCollected { job_id, lines, at } => {
                self.known_lines(lines)?;
                self.once(
                    format!("collected:{job_id}"),
                    OrderEvent::Collected {
                        job_id: job_id.clone(),
                        lines: lines.clone(),
                        at: *at,
                    },
                )
            }
            OrderCommand::RecordPickupExpired { job_id, lines, at } => {
                self.known_lines(lines)?;
                self.once(
                    format!("expired:{job_id}"),
                    OrderEvent::PickupExpired {
                        job_id: job_id.clone(),
                        lines: lines.clone(),
                        at: *at,
                    },
                )
            }
            OrderCommand::RecordDelivered { job_id, lines, at } => {
                self.known_lines(lines)?;
                self.once(
                    format!("delivered:{job_id}"),
                    OrderEvent::Delivered {
                        job_id: job_id.clone(),
                        lines: lines.clone(),
                        at: *at,
                    },
                )
            }
            OrderCommand::RecordReturnRequested { return_id, lines, at } => {
                self.known_lines(lines)?;
                let event = OrderEvent::ReturnRequested {
                    return_id: return_id.clone(),
                    lines: lines.clone(),
                    at: *at,
                };
                self.once(format!("return:{return_id}"), event)
            }
            OrderCommand::RecordReturned { return_id, lines, at } => {
                self.known_lines(lines)?;
                self.once(
                    format!("returned:{return_id}"),
                    OrderEvent::Returned {
                        return_id: return_id.clone(),
                        lines: lines.clone(),
                        at: *at,
                    },
                )
            }
            OrderCommand::RecordRefund { return_id, amount, at } => {
                self.require()?;
                if amount.amount_minor < 0 {
                    return Err(OrderError::invalid("amount_minor", "cannot be negative"));
                }
                let event = OrderEvent::Refunded {
                    return_id: return_id.clone(),
                    amount_minor: amount.amount_minor,
                    at: *at,
                };
                self.once(format!("refund:{return_id}"), event)
            }
        }
    }

    fn evolve(&mut self, event: &OrderEvent) {
        let before = self.status();
        let mut detail = String::new();
        match event {
            OrderEvent::Placed { order_id, draft, at } => {
                self.order_id = order_id.clone();
                self.lines = draft
                    .lines
                    .iter()
                    .map(|l| LineState {
                        line_id: l.line_id.clone(),
                        sku: l.sku.clone(),
                        unit_price: l.unit_price.amount_minor,
                        ordered: l.quantity,
                        ..LineState::default()
                    })
                    .collect();
                self.draft = Some(draft.as_ref().clone());
                self.placed_at = Some(*at);
                self.timeline.push(StatusChange {
                    status: OrderStatus::Placed,
                    at: *at,
                    detail: format!("placed on {}", draft.channel.code()),
                });
            }
            OrderEvent::Cancelled { lines, reason, .. } => {
                self.add(lines, |l, q| {
                    l.cancelled += q;
                    // Cancelled units no longer wait anywhere upstream of shipping.
                    l.backordered = l.backordered.min(l.cancellable());
                });
                detail = format!("cancelled: {reason}");
            }
            OrderEvent::Held { reason, by, at } => {
                self.hold = Some(Hold {
                    reason: reason.clone(),
                    by: by.clone(),
                    at: *at,
                });
                detail = format!("held: {reason}");
            }
            OrderEvent::Released { .. } => {
                self.hold = None;
                detail = "released".to_owned();
            }
            OrderEvent::ShippingAddressChanged { address, .. } => {
                if let Some(draft) = &mut self.draft {
                    draft.delivery.address = Some(address.clone());
                }
            }
            OrderEvent::DeliveryChanged { delivery, .. } => {
                if let Some(draft) = &mut self.draft {
                    draft.delivery = delivery.clone();
                }
            }
            OrderEvent::Allocated {
                request_id,
                node_id,
                lines,
                expected_at,
                ..
            } => {
                self.recorded.insert(format!("allocated:{request_id}"));
                self.add(lines, |l, q| {
                    l.allocated += q;
                    l.backordered = (l.backordered - q).max(0);
                });
                self.allocations
                    .insert(request_id.clone(), (node_id.clone(), lines.clone(), *expected_at));
                detail = format!("allocated to {node_id}");
            }
            OrderEvent::Backordered { lines, reason, .. } => {
                self.add(lines, |l, q| l.backordered = q.min(l.cancellable()));
                detail = format!("backordered: {reason}");
            }
            OrderEvent::RoutingFailed { reason, .. } => detail = format!("routing failed: {reason}"),
            OrderEvent::FulfilmentStarted { job_id, lines, .. } => {
                self.recorded.insert(format!("started:{job_id}"));
                self.add(lines, |l, q| l.in_fulfilment += q);
            }
            OrderEvent::FulfilmentDropped {
                job_id, lines, reason, ..
            } => {
                self.recorded.insert(format!("dropped:{job_id}"));
                let started = self.recorded.contains(&format!("started:{job_id}"));
                self.add(lines, |l, q| {
                    l.allocated = (l.allocated - q).max(0);
                    if started {
                        l.in_fulfilment = (l.in_fulfilment - q).max(0);
                    }
                });
                self.allocations.remove(job_id);
                detail = format!("{job_id} dropped: {reason}");
            }
            OrderEvent::Shipped {
                job_id,
                lines,
                tracking_number,
                carrier,
                ..
            } => {
                self.recorded.insert(format!("shipped:{job_id}:{tracking_number}"));
                // For a pickup order the parcel goes to where the customer collects it.
                let pickup_at = self
                    .draft
                    .as_ref()
                    .filter(|d| !d.delivery.method.is_shipped())
                    .map(|d| d.delivery.pickup_location.clone().unwrap_or_default());
                self.add(lines, |l, q| {
                    match pickup_at {
                        Some(_) => l.to_pickup += q,
                        None => l.shipped += q,
                    }
                    l.in_fulfilment = (l.in_fulfilment - q).max(0);
                });
                if !tracking_number.is_empty() {
                    self.tracking_numbers.push(tracking_number.clone());
                }
                detail = match pickup_at {
                    Some(place) => format!("shipped with {carrier} {tracking_number} to {place} for pickup"),
                    None => format!("shipped with {carrier} {tracking_number}"),
                };
            }
            OrderEvent::ReadyForPickup {
                job_id,
                lines,
                location_id,
                pickup_code,
                ..
            } => {
                self.recorded.insert(format!("ready:{job_id}"));
                self.add(lines, |l, q| {
                    l.ready_for_pickup += q;
                    // A parcel arrived, or units picked at the pickup store itself.
                    let arrived = q.min(l.to_pickup);
                    l.to_pickup -= arrived;
                    l.in_fulfilment = (l.in_fulfilment - (q - arrived)).max(0);
                });
                self.pickup = Some((location_id.clone(), pickup_code.clone()));
                detail = format!("ready for pickup at {location_id}, code {pickup_code}");
            }
            OrderEvent::Collected { job_id, lines, .. } => {
                self.recorded.insert(format!("collected:{job_id}"));
                self.add(lines, |l, q| {
                    l.collected += q;
                    let waiting = q.min(l.ready_for_pickup);
                    l.ready_for_pickup -= waiting;
                    l.in_fulfilment = (l.in_fulfilment - (q - waiting)).max(0);
                });
                if let Some((place, _)) = &self.pickup {
                    detail = format!("collected at {place}");
                }
            }
            OrderEvent::PickupExpired { job_id, lines, .. } => {
                self.recorded.insert(format!("expired:{job_id}"));
                self.add(lines, |l, q| {
                    let waiting = q.min(l.ready_for_pickup);
                    l.ready_for_pickup -= waiting;
                    l.to_pickup = (l.to_pickup - (q - waiting)).max(0);
                    l.allocated = (l.allocated - q).max(0);
                    l.cancelled += q;
                });
                self.allocations.remove(job_id);
                detail = "not collected in time: cancelled".to_owned();
            }
            OrderEvent::Delivered { job_id, lines, .. } => {
                self.recorded.insert(format!("delivered:{job_id}"));
                self.add(lines, |l, q| l.delivered += q);
            }
            OrderEvent::ReturnRequested { return_id, lines, .. } => {
                self.recorded.insert(format!("return:{return_id}"));
                self.add(lines, |l, q| l.return_requested += q);
                detail = format!("return {return_id}");
            }
            OrderEvent::Returned { return_id, lines, .. } => {
                self.recorded.insert(format!("returned:{return_id}"));
                self.add(lines, |l, q| {
                    l.returned += q;
                    l.return_requested = (l.return_requested - q).max(0);
                });
                detail = format!("return {return_id} received");
            }
            OrderEvent::Refunded {
                return_id,
                amount_minor,
                ..
            } => {
                self.recorded.insert(format!("refund:{return_id}"));
                self.refunded_minor += amount_minor;
                detail = format!("refunded {amount_minor}");
            }
        }
        let at = event.at();
        self.updated_at = Some(at);
        let after = self.status();
        if after != before && !matches!(event, OrderEvent::Placed { .. }) {
            self.timeline.push(StatusChange {
                status: after,
                at,
                detail,
            });
        }
    }
}

impl Order {
    /// Applies `change` to every named line (unknown lines are ignored: decide refused them).
    fn add(&mut self, lines: &Units, change: impl Fn(&mut LineState, i64)) {
        for line in lines {
            if let Some(state) = self.lines.iter_mut().find(|l| l.line_id == line.line_id) {
                change(state, line.quantity);
            }
        }
    }
}
