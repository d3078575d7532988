//! What order capture reports about an order: placed, held and released, lines cancelled,
//! sent somewhere else. A change that voids what nodes were given takes their units back.

use std::collections::BTreeMap;
use std::convert::Infallible;

use chrono::{DateTime, Utc};
use oms_eventsourcing::{Change, Changes, Decide};

use super::Routing;
use crate::domain::payloads::OrderDetails;
use crate::domain::{
    Address, DeliveryMethod, JobId, LineNeed, LineQuantity, LocationId, OrderId, OrderToRoute, RoutedOrder,
    RoutingError, RoutingEvent, order_stream,
};

/// An order to route, as order capture placed it. The same order again changes nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceiveOrder {
    pub order: OrderToRoute,
}

impl Decide<Routing> for ReceiveOrder {
    type Refusal = Infallible;

    fn decide(&self, routing: &Routing, _now: DateTime<Utc>) -> Result<Changes<RoutingEvent>, Infallible> {
        if routing.orders.contains_key(&self.order.order_id) {
            return Ok(Vec::new());
        }
        Ok(vec![Change::new(
            order_stream(&self.order.order_id),
            RoutingEvent::OrderReceived {
                order: Box::new(OrderDetails::from(&self.order)),
            },
        )])
    }
}

/// Customer service held the order: nothing more is routed until it is released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldOrder {
    pub order_id: OrderId,
    pub at: DateTime<Utc>,
}

impl Decide<Routing> for HoldOrder {
    type Refusal = RoutingError;

    fn decide(&self, routing: &Routing, _now: DateTime<Utc>) -> Result<Changes<RoutingEvent>, RoutingError> {
        let order = routing.known(&self.order_id)?;
        Ok(if order.held {
            Vec::new()
        } else {
            vec![Change::new(
                order_stream(&self.order_id),
                RoutingEvent::OrderHeld { at: self.at },
            )]
        })
    }
}

/// The hold is lifted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseOrder {
    pub order_id: OrderId,
    pub at: DateTime<Utc>,
}

impl Decide<Routing> for ReleaseOrder {
    type Refusal = RoutingError;

    fn decide(&self, routing: &Routing, _now: DateTime<Utc>) -> Result<Changes<RoutingEvent>, RoutingError> {
        let order = routing.known(&self.order_id)?;
        Ok(if order.held {
            vec![Change::new(
                order_stream(&self.order_id),
                RoutingEvent::OrderReleased { at: self.at },
            )]
        } else {
            Vec::new()
        })
    }
}

/// Units cancelled by the customer or customer service (every unit of every line when
/// `whole_order`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelLines {
    pub order_id: OrderId,
    pub lines: Vec<LineQuantity>,
    pub whole_order: bool,
    pub reason: String,
    pub at: DateTime<Utc>,
}

impl Decide<Routing> for CancelLines {
    type Refusal = RoutingError;

    fn decide(&self, routing: &Routing, _now: DateTime<Utc>) -> Result<Changes<RoutingEvent>, RoutingError> {
        let order = routing.known(&self.order_id)?;
        Ok(lines_cancelled(order, self))
    }
}

/// The shipping address changed; the delivery method and pickup location stay.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeShippingAddress {
    pub order_id: OrderId,
    pub address: Option<Address>,
    pub at: DateTime<Utc>,
}

impl Decide<Routing> for ChangeShippingAddress {
    type Refusal = RoutingError;

    fn decide(&self, routing: &Routing, _now: DateTime<Utc>) -> Result<Changes<RoutingEvent>, RoutingError> {
        let order = routing.known(&self.order_id)?;
        let destination = Destination {
            delivery_method: order.order.delivery_method,
            shipping_address: self.address.clone(),
            pickup_location_id: order.order.pickup_location_id.clone(),
        };
        Ok(destination_changed(order, destination, self.at))
    }
}

/// The delivery method changed, and with it where the units go.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeDelivery {
    pub order_id: OrderId,
    pub delivery_method: DeliveryMethod,
    pub shipping_address: Option<Address>,
    pub pickup_location_id: LocationId,
    pub at: DateTime<Utc>,
}

impl Decide<Routing> for ChangeDelivery {
    type Refusal = RoutingError;

    fn decide(&self, routing: &Routing, _now: DateTime<Utc>) -> Result<Changes<RoutingEvent>, RoutingError> {
        let order = routing.known(&self.order_id)?;
        let destination = Destination {
            delivery_method: self.delivery_method,
            shipping_address: self.shipping_address.clone(),
            pickup_location_id: self.pickup_location_id.clone(),
        };
        Ok(destination_changed(order, destination, self.at))
    }
}

/// Cancels first the units no node holds, then those of open allocations, newest first
/// (their nodes are told to stop).
fn lines_cancelled(order: &RoutedOrder, command: &CancelLines) -> Changes<RoutingEvent> {
    let wanted: Vec<LineQuantity> = if command.whole_order {
        order
            .order
            .lines
            .iter()
            .map(|l| LineQuantity::new(l.line_id.clone(), i64::MAX))
            .collect()
    } else {
        command.lines.clone()
    };
    let (cancelled, taken_back) = units_to_cancel(order, wanted);
    let stream = order_stream(order.order_id());
    let mut changes = Vec::new();
    if !cancelled.is_empty() {
        changes.push(Change::new(
            stream.clone(),
            RoutingEvent::LinesCancelled {
                lines: cancelled,
                at: command.at,
            },
        ));
    }
    for (request_id, lines) in taken_back {
        changes.push(Change::new(
            stream.clone(),
            RoutingEvent::AllocationDropped {
                request_id,
                lines,
                reason: format!("order cancelled: {}", command.reason),
                exclude_node: false,
                give_back_capacity: true,
                at: command.at,
            },
        ));
    }
    changes
}

/// The units of each line cancelled, and those taken back from each open allocation
/// (by request id).
fn units_to_cancel(order: &RoutedOrder, wanted: Vec<LineQuantity>) -> (Vec<LineNeed>, BTreeMap<JobId, Vec<LineNeed>>) {
    let need = order.need();
    let mut cancelled: Vec<LineNeed> = Vec::new();
    let mut taken_back: BTreeMap<JobId, Vec<LineNeed>> = BTreeMap::new();
    for LineQuantity { line_id, quantity } in wanted {
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
            let take = left.min(a.units_of(&line_id));
            if take > 0 {
                taken_back.entry(a.request_id.clone()).or_default().push(LineNeed::new(
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
    (cancelled, taken_back)
}

/// Where the order's units go.
struct Destination {
    delivery_method: DeliveryMethod,
    shipping_address: Option<Address>,
    pickup_location_id: LocationId,
}

/// A new destination: open allocations are taken back and the order is routed again for
/// it. The destination it has already changes nothing.
fn destination_changed(order: &RoutedOrder, to: Destination, at: DateTime<Utc>) -> Changes<RoutingEvent> {
    let o = &order.order;
    if o.delivery_method == to.delivery_method
        && o.shipping_address == to.shipping_address
        && o.pickup_location_id == to.pickup_location_id
    {
        return Vec::new();
    }
    let stream = order_stream(order.order_id());
    let mut changes = vec![Change::new(
        stream.clone(),
        RoutingEvent::DestinationChanged {
            delivery_method: to.delivery_method,
            shipping_address: to.shipping_address,
            pickup_location_id: to.pickup_location_id,
            at,
        },
    )];
    for a in order.allocations.iter().filter(|a| a.is_open()) {
        changes.push(Change::new(
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
    changes
}
