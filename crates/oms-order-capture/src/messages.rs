//! The integration events order capture publishes on `oms.orders.v1` (key: order id).

use chrono::{DateTime, Utc};
use oms_eventsourcing::OutboxMessage;
use oms_proto::orders::v1 as pb;
use oms_service::convert::timestamp;
use prost::Message as _;
use uuid::Uuid;

use crate::convert::{draft_pb, line_state_pb, status_pb};
use crate::domain::{Address, Money, Order, OrderEvent, OrderStatus};

/// The messages announcing `events`, which took `before` (with status `was`) to `after`.
pub fn for_events(was: OrderStatus, after: &Order, events: &[OrderEvent], now: DateTime<Utc>) -> Vec<OutboxMessage> {
    use pb::order_event::Event;
    let id = after.order_id.clone();
    let mut messages = Vec::new();
    for event in events {
        let announced = match event {
            OrderEvent::Placed { draft, at, .. } => Some(Event::OrderPlaced(pb::OrderPlaced {
                order_id: id.clone(),
                order: Some(draft_pb(draft)),
                placed_at: Some(timestamp(*at)),
                total: after.total().as_ref().map(Money::to_pb),
                lines: draft_pb(draft).lines,
            })),
            OrderEvent::Cancelled {
                lines,
                reason,
                whole_order,
                at,
                ..
            } => Some(Event::OrderCancelled(pb::OrderCancelled {
                order_id: id.clone(),
                lines: lines
                    .iter()
                    .map(|l| pb::LineQuantity {
                        line_id: l.line_id.clone(),
                        quantity: l.quantity,
                    })
                    .collect(),
                reason: reason.clone(),
                whole_order: *whole_order,
                at: Some(timestamp(*at)),
            })),
            OrderEvent::Held { reason, at, .. } => Some(Event::OrderHeld(pb::OrderHeld {
                order_id: id.clone(),
                reason: reason.clone(),
                at: Some(timestamp(*at)),
            })),
            OrderEvent::Released { at, .. } => Some(Event::OrderReleased(pb::OrderReleased {
                order_id: id.clone(),
                at: Some(timestamp(*at)),
            })),
            OrderEvent::ShippingAddressChanged { address, at, .. } => {
                Some(Event::ShippingAddressChanged(pb::ShippingAddressChanged {
                    order_id: id.clone(),
                    address: Some(address.to_pb()),
                    at: Some(timestamp(*at)),
                }))
            }
            OrderEvent::DeliveryChanged { delivery, at, .. } => {
                Some(Event::DeliveryMethodChanged(pb::DeliveryMethodChanged {
                    order_id: id.clone(),
                    delivery_method: delivery.method.to_pb() as i32,
                    shipping_address: delivery.address.as_ref().map(Address::to_pb),
                    pickup_location_id: delivery.pickup_location.clone().unwrap_or_default(),
                    at: Some(timestamp(*at)),
                }))
            }
            _ => None,
        };
        if let Some(event) = announced {
            messages.push(message(&id, event, now));
        }
    }
    let is = after.status();
    if is != was || events.iter().any(|e| matches!(e, OrderEvent::Placed { .. })) {
        let currency = after.draft.as_ref().map(|d| d.currency.as_str()).unwrap_or_default();
        let changed = Event::OrderStatusChanged(pb::OrderStatusChanged {
            order_id: id.clone(),
            status: status_pb(is) as i32,
            lines: after.lines.iter().map(|l| line_state_pb(l, currency)).collect(),
            at: Some(timestamp(now)),
        });
        messages.push(message(&id, changed, now));
    }
    messages
}

fn message(order_id: &str, event: pb::order_event::Event, at: DateTime<Utc>) -> OutboxMessage {
    use pb::order_event::Event;
    let kind = match &event {
        Event::OrderPlaced(_) => "OrderPlaced",
        Event::OrderCancelled(_) => "OrderCancelled",
        Event::OrderHeld(_) => "OrderHeld",
        Event::OrderReleased(_) => "OrderReleased",
        Event::ShippingAddressChanged(_) => "ShippingAddressChanged",
        Event::DeliveryMethodChanged(_) => "DeliveryMethodChanged",
        Event::OrderStatusChanged(_) => "OrderStatusChanged",
    };
    OutboxMessage {
        message_id: Uuid::now_v7(),
        topic: oms_proto::topics::ORDERS.name.to_owned(),
        key: order_id.to_owned(),
        message_type: format!("oms.orders.v1.{kind}"),
        payload: pb::OrderEvent { event: Some(event) }.encode_to_vec(),
        headers: vec![("oms_correlation_id".to_owned(), order_id.to_owned())],
        created_at: at,
    }
}
