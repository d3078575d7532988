//! The integration events routing publishes on `oms.routing.v1` (key: order id): orders
//! routed and re-routed, fulfilment requests to nodes and requests taken back, backorders
//! and routing failures.

use chrono::{DateTime, Utc};
use oms_eventsourcing::OutboxMessage;
use oms_proto::routing::v1 as pb;
use oms_service::convert::timestamp;
use prost::Message as _;
use uuid::Uuid;

use crate::convert::{address_pb, allocated_lines_pb, allocation_made_pb, delivery_method_pb, node_type_name};
use crate::domain::{Network, Priority, RoutedOrder, RoutingEvent};

pub const TOPIC: &str = "oms.routing.v1";

/// Who asked for a change: when routing takes units back itself, the node is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initiator {
    Routing,
    Node,
}

/// The messages announcing `events` of `order` (the order as it was before them).
pub fn for_events(
    network: &Network,
    order: Option<&RoutedOrder>,
    events: &[RoutingEvent],
    initiator: Initiator,
    now: DateTime<Utc>,
) -> Vec<OutboxMessage> {
    use pb::routing_event::Event;
    let Some(order) = order else { return Vec::new() };
    let id = order.order_id().to_owned();
    let mut messages = Vec::new();
    let rerouting = events
        .iter()
        .any(|e| matches!(e, RoutingEvent::DestinationChanged { .. }));
    for event in events {
        match event {
            RoutingEvent::Routed {
                allocations,
                backordered,
                failed,
                reason,
                reroute,
                at,
                ..
            } => {
                if !allocations.is_empty() {
                    messages.push(message(
                        &id,
                        Event::OrderRouted(pb::OrderRouted {
                            order_id: id.clone(),
                            allocations: allocations.iter().map(allocation_made_pb).collect(),
                            reroute: *reroute,
                            at: Some(timestamp(*at)),
                        }),
                        now,
                    ));
                }
                for a in allocations {
                    let o = &order.order;
                    messages.push(message(
                        &id,
                        Event::FulfilmentRequested(pb::FulfilmentRequested {
                            fulfilment_request_id: a.request_id.clone(),
                            order_id: id.clone(),
                            node_id: a.node_id.clone(),
                            node_type: node_type_name(a.node_type).to_owned(),
                            lines: allocated_lines_pb(&a.lines),
                            delivery_method: delivery_method_pb(o.delivery_method) as i32,
                            reservation_id: a.reservation_id.clone(),
                            pickup_location_id: o.pickup_location_id.clone(),
                            pickup_location_type: network
                                .node(&o.pickup_location_id)
                                .map(|n| node_type_name(n.node_type).to_owned())
                                .unwrap_or_default(),
                            promised_at: a.expected_at.map(timestamp),
                            priority: match o.priority {
                                Priority::Normal => 0,
                                Priority::High => 1,
                                Priority::Urgent => 2,
                            },
                            at: Some(timestamp(*at)),
                            shipping_address: o.shipping_address.as_ref().map(address_pb),
                            customer_name: o.customer_name.clone(),
                        }),
                        now,
                    ));
                }
                if !backordered.is_empty() {
                    messages.push(message(
                        &id,
                        Event::OrderBackordered(pb::OrderBackordered {
                            order_id: id.clone(),
                            lines: allocated_lines_pb(backordered),
                            reason: reason.clone(),
                            at: Some(timestamp(*at)),
                        }),
                        now,
                    ));
                }
                if !failed.is_empty() {
                    messages.push(message(
                        &id,
                        Event::RoutingFailed(pb::RoutingFailed {
                            order_id: id.clone(),
                            lines: allocated_lines_pb(failed),
                            reason: reason.clone(),
                            at: Some(timestamp(*at)),
                        }),
                        now,
                    ));
                }
            }
            RoutingEvent::GaveUp { lines, reason, at } => messages.push(message(
                &id,
                Event::RoutingFailed(pb::RoutingFailed {
                    order_id: id.clone(),
                    lines: allocated_lines_pb(lines),
                    reason: reason.clone(),
                    at: Some(timestamp(*at)),
                }),
                now,
            )),
            RoutingEvent::AllocationDropped {
                request_id,
                lines,
                reason,
                at,
                ..
            } if initiator == Initiator::Routing => {
                let Some(a) = order.allocation(request_id) else {
                    continue;
                };
                let units = if lines.is_empty() { &a.lines } else { lines };
                messages.push(message(
                    &id,
                    Event::FulfilmentCancelled(pb::FulfilmentCancelled {
                        fulfilment_request_id: request_id.clone(),
                        order_id: id.clone(),
                        node_id: a.node_id.clone(),
                        reason: reason.clone(),
                        at: Some(timestamp(*at)),
                        lines: allocated_lines_pb(units),
                        reservation_id: a.reservation_id.clone(),
                        reroute: rerouting,
                    }),
                    now,
                ));
            }
            _ => {}
        }
    }
    messages
}

fn message(order_id: &str, event: pb::routing_event::Event, at: DateTime<Utc>) -> OutboxMessage {
    use pb::routing_event::Event;
    let kind = match &event {
        Event::OrderRouted(_) => "OrderRouted",
        Event::OrderBackordered(_) => "OrderBackordered",
        Event::RoutingFailed(_) => "RoutingFailed",
        Event::FulfilmentRequested(_) => "FulfilmentRequested",
        Event::FulfilmentCancelled(_) => "FulfilmentCancelled",
    };
    OutboxMessage {
        message_id: Uuid::now_v7(),
        topic: TOPIC.to_owned(),
        key: order_id.to_owned(),
        message_type: format!("oms.routing.v1.{kind}"),
        payload: pb::RoutingEvent { event: Some(event) }.encode_to_vec(),
        headers: vec![("oms_correlation_id".to_owned(), order_id.to_owned())],
        created_at: at,
    }
}
