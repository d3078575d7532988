//! Translations between the protobuf contracts and the domain. The values of the contract
//! kernel (money, addresses, channels, methods, tenders) convert themselves; this is what
//! is order capture's own.

use oms_proto::common::v1 as common;
use oms_proto::orders::v1 as pb;
use oms_service::convert::{time, timestamp};

use crate::domain::order::StatusChange;
use crate::domain::{
    Address, Channel, Customer, Delivery, DeliveryMethod, DraftLine, LineQuantity, LineState, Money, Order, OrderDraft,
    OrderStatus, Payment, PlacedBy, Priority, Tender, Violations,
};

pub fn status_pb(status: OrderStatus) -> pb::OrderStatus {
    match status {
        OrderStatus::Placed => pb::OrderStatus::Placed,
        OrderStatus::Held => pb::OrderStatus::Held,
        OrderStatus::Routed => pb::OrderStatus::Routed,
        OrderStatus::Backordered => pb::OrderStatus::Backordered,
        OrderStatus::InFulfilment => pb::OrderStatus::InFulfilment,
        OrderStatus::PartiallyShipped => pb::OrderStatus::PartiallyShipped,
        OrderStatus::Shipped => pb::OrderStatus::Shipped,
        OrderStatus::ReadyForPickup => pb::OrderStatus::ReadyForPickup,
        OrderStatus::Collected => pb::OrderStatus::Collected,
        OrderStatus::Delivered => pb::OrderStatus::Delivered,
        OrderStatus::Cancelled => pb::OrderStatus::Cancelled,
        OrderStatus::ReturnRequested => pb::OrderStatus::ReturnRequested,
        OrderStatus::Returned => pb::OrderStatus::Returned,
        OrderStatus::Refunded => pb::OrderStatus::Refunded,
    }
}

pub fn status(value: i32) -> Option<OrderStatus> {
    let all = [
        OrderStatus::Placed,
        OrderStatus::Held,
        OrderStatus::Routed,
        OrderStatus::Backordered,
        OrderStatus::InFulfilment,
        OrderStatus::PartiallyShipped,
        OrderStatus::Shipped,
        OrderStatus::ReadyForPickup,
        OrderStatus::Collected,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
        OrderStatus::ReturnRequested,
        OrderStatus::Returned,
        OrderStatus::Refunded,
    ];
    all.into_iter().find(|s| status_pb(*s) as i32 == value)
}

/// The delivery of a request: what can be read of it, and what cannot.
pub fn delivery(
    method: i32,
    shipping: Option<&common::Address>,
    pickup: &str,
    bad: &mut Violations,
) -> Option<Delivery> {
    let Some(method) = DeliveryMethod::from_pb(method) else {
        bad.add("delivery_method", DeliveryMethod::expected());
        return None;
    };
    Some(Delivery {
        method,
        address: if method.is_shipped() {
            shipping.map(Address::from_pb)
        } else {
            None
        },
        pickup_location: if method.is_shipped() || pickup.is_empty() {
            None
        } else {
            Some(pickup.to_owned())
        },
    })
}

/// A draft as the domain sees it, or every field that cannot even be read (unknown enum
/// values, missing prices). The domain then checks the rest.
pub fn draft(d: &pb::OrderDraft) -> Result<OrderDraft, Violations> {
    let mut bad = Violations::new();
    let channel = Channel::from_pb(d.channel);
    if channel.is_none() {
        bad.add("channel", Channel::expected());
    }
    let delivery = delivery(
        d.delivery_method,
        d.shipping_address.as_ref(),
        &d.pickup_location_id,
        &mut bad,
    );
    let lines = draft_lines(&d.lines, &mut bad);
    let payments = payments(&d.payments, &mut bad);
    // Unspecified is normal.
    let priority = match d.priority {
        0 => Some(Priority::Normal),
        value => Priority::from_pb(value),
    };
    if priority.is_none() {
        bad.add("priority", Priority::expected());
    }
    let release_at = optional_time(d.release_at.as_ref(), "release_at", &mut bad);
    let requested_delivery_at = optional_time(d.requested_delivery_at.as_ref(), "requested_delivery_at", &mut bad);
    let (Some(channel), Some(delivery), Some(priority), true) = (channel, delivery, priority, bad.is_empty()) else {
        return Err(bad);
    };
    let customer = d.customer.clone().unwrap_or_default();
    let placed_by = d.placed_by.clone().unwrap_or_default();
    Ok(OrderDraft {
        channel,
        external_order_id: d.external_order_id.clone(),
        customer: Customer {
            customer_id: customer.customer_id,
            name: customer.name,
            email: customer.email,
            phone: customer.phone,
        },
        lines,
        currency: d.currency.clone(),
        delivery,
        payments,
        priority,
        release_at,
        requested_delivery_at,
        placed_by: PlacedBy {
            agent_id: placed_by.agent_id,
            store_id: placed_by.store_id,
        },
        shipping_fee: d.shipping_fee.as_ref().map(Money::from_pb),
    })
}

fn draft_lines(lines: &[pb::OrderLine], bad: &mut Violations) -> Vec<DraftLine> {
    lines
        .iter()
        .enumerate()
        .filter_map(|(i, line)| {
            let unit_price = Money::required(line.unit_price.as_ref(), &format!("lines[{i}].unit_price"), bad)?;
            Some(DraftLine {
                line_id: line.line_id.clone(),
                sku: line.sku.clone(),
                quantity: line.quantity,
                unit_price,
                description: line.description.clone(),
            })
        })
        .collect()
}

fn payments(payments: &[pb::Payment], bad: &mut Violations) -> Vec<Payment> {
    payments
        .iter()
        .enumerate()
        .filter_map(|(i, payment)| {
            let tender = Tender::from_pb(payment.tender);
            if tender.is_none() {
                bad.add(format!("payments[{i}].tender"), "is required");
            }
            let authorised = Money::required(payment.authorised.as_ref(), &format!("payments[{i}].authorised"), bad);
            Some(Payment {
                reference: payment.reference.clone(),
                tender: tender?,
                authorised: authorised?,
            })
        })
        .collect()
}

/// A time the request may leave out; a violation naming `field` when it is not a time.
fn optional_time(
    ts: Option<&prost_types::Timestamp>,
    field: &str,
    bad: &mut Violations,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let at = time(ts?);
    if at.is_none() {
        bad.add(field, "is not a valid time");
    }
    at
}

pub fn draft_pb(d: &OrderDraft) -> pb::OrderDraft {
    pb::OrderDraft {
        channel: d.channel.to_pb() as i32,
        external_order_id: d.external_order_id.clone(),
        customer: Some(pb::Customer {
            customer_id: d.customer.customer_id.clone(),
            name: d.customer.name.clone(),
            email: d.customer.email.clone(),
            phone: d.customer.phone.clone(),
        }),
        lines: d
            .lines
            .iter()
            .map(|l| pb::OrderLine {
                line_id: l.line_id.clone(),
                sku: l.sku.clone(),
                quantity: l.quantity,
                unit_price: Some(l.unit_price.to_pb()),
                description: l.description.clone(),
            })
            .collect(),
        currency: d.currency.clone(),
        delivery_method: d.delivery.method.to_pb() as i32,
        shipping_address: d.delivery.address.as_ref().map(Address::to_pb),
        pickup_location_id: d.delivery.pickup_location.clone().unwrap_or_default(),
        payments: d
            .payments
            .iter()
            .map(|p| pb::Payment {
                reference: p.reference.clone(),
                tender: p.tender.to_pb() as i32,
                authorised: Some(p.authorised.to_pb()),
            })
            .collect(),
        priority: d.priority.to_pb() as i32,
        release_at: d.release_at.map(timestamp),
        requested_delivery_at: d.requested_delivery_at.map(timestamp),
        placed_by: Some(pb::PlacedBy {
            agent_id: d.placed_by.agent_id.clone(),
            store_id: d.placed_by.store_id.clone(),
        }),
        shipping_fee: d.shipping_fee.as_ref().map(Money::to_pb),
    }
}

pub fn line_state_pb(l: &LineState, currency: &str) -> pb::LineState {
    pb::LineState {
        line_id: l.line_id.clone(),
        sku: l.sku.clone(),
        ordered: l.ordered,
        cancelled: l.cancelled,
        allocated: l.allocated,
        backordered: l.backordered,
        shipped: l.shipped,
        in_transit_to_pickup: l.to_pickup,
        ready_for_pickup: l.ready_for_pickup,
        collected: l.collected,
        delivered: l.delivered,
        return_requested: l.return_requested,
        returned: l.returned,
        status: status_pb(l.status()) as i32,
        unit_price: Some(common::Money {
            amount_minor: l.unit_price,
            currency: currency.to_owned(),
        }),
    }
}

pub fn order_pb(order: &Order) -> pb::Order {
    let currency = order.draft.as_ref().map(|d| d.currency.clone()).unwrap_or_default();
    pb::Order {
        order_id: order.order_id.clone(),
        draft: order.draft.as_ref().map(draft_pb),
        status: status_pb(order.status()) as i32,
        hold_reason: order.hold.as_ref().map(|h| h.reason.clone()).unwrap_or_default(),
        lines: order.lines.iter().map(|l| line_state_pb(l, &currency)).collect(),
        total: order.total().as_ref().map(Money::to_pb),
        refunded: Some(common::Money {
            amount_minor: order.refunded_minor,
            currency,
        }),
        placed_at: order.placed_at.map(timestamp),
        updated_at: order.updated_at.map(timestamp),
        expected_at: order.expected_at().map(timestamp),
    }
}

pub fn status_change_pb(change: &StatusChange) -> pb::StatusChange {
    pb::StatusChange {
        status: status_pb(change.status) as i32,
        at: Some(timestamp(change.at)),
        detail: change.detail.clone(),
    }
}

pub fn line_quantities(lines: &[pb::LineQuantity]) -> Vec<LineQuantity> {
    lines
        .iter()
        .map(|l| LineQuantity::new(l.line_id.clone(), l.quantity))
        .collect()
}
