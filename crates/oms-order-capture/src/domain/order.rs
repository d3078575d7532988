//! One order: what customer service and the other services may do to it, and how its
//! units move through their lifecycle.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::events::Units;
use super::{Money, OrderDraft, OrderEvent, OrderStatus};

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
}

impl Order {
    /// Folds one event of the order into it.
    pub fn evolve(&mut self, event: &OrderEvent) {
        let before = self.status();
        if let Some(key) = event.record_key() {
            self.recorded.insert(key);
        }
        let detail = self.fold(event);
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

    /// Folds one event into the lines and the order; says what happened, for the timeline.
    fn fold(&mut self, event: &OrderEvent) -> String {
        match event {
            OrderEvent::Placed { order_id, draft, at } => self.placed(order_id, draft, *at),
            OrderEvent::Cancelled { lines, reason, .. } => {
                self.add(lines, |l, q| {
                    l.cancelled += q;
                    // Cancelled units no longer wait anywhere upstream of shipping.
                    l.backordered = l.backordered.min(l.cancellable());
                });
                format!("cancelled: {reason}")
            }
            OrderEvent::Held { reason, by, at } => {
                self.hold = Some(Hold {
                    reason: reason.clone(),
                    by: by.clone(),
                    at: *at,
                });
                format!("held: {reason}")
            }
            OrderEvent::Released { .. } => {
                self.hold = None;
                "released".to_owned()
            }
            OrderEvent::ShippingAddressChanged { address, .. } => {
                if let Some(draft) = &mut self.draft {
                    draft.delivery.address = Some(address.clone());
                }
                String::new()
            }
            OrderEvent::DeliveryChanged { delivery, .. } => {
                if let Some(draft) = &mut self.draft {
                    draft.delivery = delivery.clone();
                }
                String::new()
            }
            OrderEvent::Allocated {
                request_id,
                node_id,
                lines,
                expected_at,
                ..
            } => {
                self.add(lines, |l, q| {
                    l.allocated += q;
                    l.backordered = (l.backordered - q).max(0);
                });
                self.allocations
                    .insert(request_id.clone(), (node_id.clone(), lines.clone(), *expected_at));
                format!("allocated to {node_id}")
            }
            OrderEvent::Backordered { lines, reason, .. } => {
                self.add(lines, |l, q| l.backordered = q.min(l.cancellable()));
                format!("backordered: {reason}")
            }
            OrderEvent::RoutingFailed { reason, .. } => format!("routing failed: {reason}"),
            OrderEvent::FulfilmentStarted { lines, .. } => {
                self.add(lines, |l, q| l.in_fulfilment += q);
                String::new()
            }
            OrderEvent::FulfilmentDropped {
                job_id, lines, reason, ..
            } => self.dropped(job_id, lines, reason),
            OrderEvent::Shipped {
                lines,
                tracking_number,
                carrier,
                ..
            } => self.shipped(lines, carrier, tracking_number),
            OrderEvent::ReadyForPickup {
                lines,
                location_id,
                pickup_code,
                ..
            } => self.ready_for_pickup(lines, location_id, pickup_code),
            OrderEvent::Collected { lines, .. } => self.collected(lines),
            OrderEvent::PickupExpired { job_id, lines, .. } => self.pickup_expired(job_id, lines),
            OrderEvent::Delivered { lines, .. } => {
                self.add(lines, |l, q| l.delivered += q);
                String::new()
            }
            OrderEvent::ReturnRequested { return_id, lines, .. } => {
                self.add(lines, |l, q| l.return_requested += q);
                format!("return {return_id}")
            }
            OrderEvent::Returned { return_id, lines, .. } => {
                self.add(lines, |l, q| {
                    l.returned += q;
                    l.return_requested = (l.return_requested - q).max(0);
                });
                format!("return {return_id} received")
            }
            OrderEvent::Refunded { amount_minor, .. } => {
                self.refunded_minor += amount_minor;
                format!("refunded {amount_minor}")
            }
        }
    }

    fn placed(&mut self, order_id: &str, draft: &OrderDraft, at: DateTime<Utc>) -> String {
        self.order_id = order_id.to_owned();
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
        self.draft = Some(draft.clone());
        self.placed_at = Some(at);
        let detail = format!("placed on {}", draft.channel.label());
        self.timeline.push(StatusChange {
            status: OrderStatus::Placed,
            at,
            detail: detail.clone(),
        });
        detail
    }

    /// A node dropped units: they wait for routing again.
    fn dropped(&mut self, job_id: &str, lines: &Units, reason: &str) -> String {
        let started = self.recorded.contains(&format!("started:{job_id}"));
        self.add(lines, |l, q| {
            l.allocated = (l.allocated - q).max(0);
            if started {
                l.in_fulfilment = (l.in_fulfilment - q).max(0);
            }
        });
        self.allocations.remove(job_id);
        format!("{job_id} dropped: {reason}")
    }

    /// Units left their node: to the customer, or for a pickup order to the place the
    /// customer collects them.
    fn shipped(&mut self, lines: &Units, carrier: &str, tracking_number: &str) -> String {
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
            self.tracking_numbers.push(tracking_number.to_owned());
        }
        match pickup_at {
            Some(place) => format!("shipped with {carrier} {tracking_number} to {place} for pickup"),
            None => format!("shipped with {carrier} {tracking_number}"),
        }
    }

    fn ready_for_pickup(&mut self, lines: &Units, location_id: &str, pickup_code: &str) -> String {
        self.add(lines, |l, q| {
            l.ready_for_pickup += q;
            // A parcel arrived, or units picked at the pickup store itself.
            let arrived = q.min(l.to_pickup);
            l.to_pickup -= arrived;
            l.in_fulfilment = (l.in_fulfilment - (q - arrived)).max(0);
        });
        self.pickup = Some((location_id.to_owned(), pickup_code.to_owned()));
        format!("ready for pickup at {location_id}, code {pickup_code}")
    }

    fn collected(&mut self, lines: &Units) -> String {
        self.add(lines, |l, q| {
            l.collected += q;
            let waiting = q.min(l.ready_for_pickup);
            l.ready_for_pickup -= waiting;
            l.in_fulfilment = (l.in_fulfilment - (q - waiting)).max(0);
        });
        match &self.pickup {
            Some((place, _)) => format!("collected at {place}"),
            None => String::new(),
        }
    }

    /// Nobody collected the units in time: they are cancelled.
    fn pickup_expired(&mut self, job_id: &str, lines: &Units) -> String {
        self.add(lines, |l, q| {
            let waiting = q.min(l.ready_for_pickup);
            l.ready_for_pickup -= waiting;
            l.to_pickup = (l.to_pickup - (q - waiting)).max(0);
            l.allocated = (l.allocated - q).max(0);
            l.cancelled += q;
        });
        self.allocations.remove(job_id);
        "not collected in time: cancelled".to_owned()
    }
}

impl Order {
    /// The order its events leave (what the service's model folds on the order's stream).
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a OrderEvent>) -> Self {
        let mut order = Self::default();
        for event in events {
            order.evolve(event);
        }
        order
    }

    /// Applies `change` to every named line (unknown lines are ignored: decide refused them).
    fn add(&mut self, lines: &Units, change: impl Fn(&mut LineState, i64)) {
        for line in lines {
            if let Some(state) = self.lines.iter_mut().find(|l| l.line_id == line.line_id) {
                change(state, line.quantity);
            }
        }
    }
}
