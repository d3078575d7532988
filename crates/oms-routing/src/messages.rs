//! The integration events routing publishes on `oms.routing.v1` (key: order id): orders
//! routed and re-routed, fulfilment requests to nodes and requests taken back, backorders
//! and routing failures.

use chrono::{DateTime, Utc};
use oms_eventsourcing::OutboxMessage;
use oms_proto::routing::v1 as pb;
use oms_service::convert::timestamp;
use pb::routing_event::Event;
use prost::Message as _;
use uuid::Uuid;

use crate::convert::{allocated_lines_pb, allocation_made_pb};
use crate::domain::{Address, AllocationMade, LineNeed, Network, Priority, RoutedOrder, RoutingEvent};

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
    let Some(order) = order else { return Vec::new() };
    let rerouting = events
        .iter()
        .any(|e| matches!(e, RoutingEvent::DestinationChanged { .. }));
    let mut messages = Vec::new();
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
                let decided = Decided {
                    allocations,
                    backordered,
                    failed,
                    reason,
                    reroute: *reroute,
                    at: *at,
                };
                messages.extend(
                    routed(network, order, &decided)
                        .into_iter()
                        .map(|e| message(order, e, now)),
                );
            }
            RoutingEvent::GaveUp { lines, reason, at } => {
                messages.push(message(order, routing_failed(order, lines, reason, *at), now));
            }
            RoutingEvent::AllocationDropped {
                request_id,
                lines,
                reason,
                at,
                ..
            } if initiator == Initiator::Routing => {
                if let Some(a) = order.allocation(request_id) {
                    // No lines: everything the allocation held.
                    let units = if lines.is_empty() { &a.lines } else { lines };
                    let event = Event::FulfilmentCancelled(pb::FulfilmentCancelled {
                        fulfilment_request_id: request_id.to_string(),
                        order_id: order.order_id().to_string(),
                        node_id: a.node_id.to_string(),
                        reason: reason.clone(),
                        at: Some(timestamp(*at)),
                        lines: allocated_lines_pb(units),
                        reservation_id: a.reservation_id.to_string(),
                        reroute: rerouting,
                    });
                    messages.push(message(order, event, now));
                }
            }
            _ => {}
        }
    }
    messages
}

/// What a routing decision recorded.
struct Decided<'a> {
    allocations: &'a [AllocationMade],
    backordered: &'a [LineNeed],
    failed: &'a [LineNeed],
    reason: &'a str,
    reroute: bool,
    at: DateTime<Utc>,
}

/// A decision announced: the order routed (when any node got units), a fulfilment request
/// to each node, what waits for supply, and what routing gave up on.
fn routed(network: &Network, order: &RoutedOrder, decided: &Decided<'_>) -> Vec<Event> {
    let id = order.order_id().to_string();
    let mut events = Vec::new();
    if !decided.allocations.is_empty() {
        events.push(Event::OrderRouted(pb::OrderRouted {
            order_id: id.clone(),
            allocations: decided.allocations.iter().map(allocation_made_pb).collect(),
            reroute: decided.reroute,
            at: Some(timestamp(decided.at)),
        }));
    }
    events.extend(
        decided
            .allocations
            .iter()
            .map(|a| Event::FulfilmentRequested(fulfilment_requested(network, order, a, decided.at))),
    );
    if !decided.backordered.is_empty() {
        events.push(Event::OrderBackordered(pb::OrderBackordered {
            order_id: id,
            lines: allocated_lines_pb(decided.backordered),
            reason: decided.reason.to_owned(),
            at: Some(timestamp(decided.at)),
        }));
    }
    if !decided.failed.is_empty() {
        events.push(routing_failed(order, decided.failed, decided.reason, decided.at));
    }
    events
}

/// What a node is asked to fulfil: the units, where they go and by when.
fn fulfilment_requested(
    network: &Network,
    order: &RoutedOrder,
    a: &AllocationMade,
    at: DateTime<Utc>,
) -> pb::FulfilmentRequested {
    let o = &order.order;
    pb::FulfilmentRequested {
        fulfilment_request_id: a.request_id.to_string(),
        order_id: o.order_id.to_string(),
        node_id: a.node_id.to_string(),
        node_type: a.node_type.proto_name().to_owned(),
        lines: allocated_lines_pb(&a.lines),
        delivery_method: o.delivery_method.to_pb() as i32,
        reservation_id: a.reservation_id.to_string(),
        pickup_location_id: o.pickup_location_id.to_string(),
        pickup_location_type: network
            .node(o.pickup_location_id.as_str())
            .map(|n| n.node_type.proto_name().to_owned())
            .unwrap_or_default(),
        promised_at: a.expected_at.map(timestamp),
        // The request ranks priorities by number, not by the orders contract's enum.
        priority: match o.priority {
            Priority::Normal => 0,
            Priority::High => 1,
            Priority::Urgent => 2,
        },
        at: Some(timestamp(at)),
        shipping_address: o.shipping_address.as_ref().map(Address::to_pb),
        customer_name: o.customer_name.clone(),
    }
}

fn routing_failed(order: &RoutedOrder, lines: &[LineNeed], reason: &str, at: DateTime<Utc>) -> Event {
    Event::RoutingFailed(pb::RoutingFailed {
        order_id: order.order_id().to_string(),
        lines: allocated_lines_pb(lines),
        reason: reason.to_owned(),
        at: Some(timestamp(at)),
    })
}

fn message(order: &RoutedOrder, event: Event, at: DateTime<Utc>) -> OutboxMessage {
    let order_id = order.order_id().as_str();
    let kind = match &event {
        Event::OrderRouted(_) => "OrderRouted",
        Event::OrderBackordered(_) => "OrderBackordered",
        Event::RoutingFailed(_) => "RoutingFailed",
        Event::FulfilmentRequested(_) => "FulfilmentRequested",
        Event::FulfilmentCancelled(_) => "FulfilmentCancelled",
    };
    OutboxMessage {
        message_id: Uuid::now_v7(),
        topic: oms_proto::topics::ROUTING.name.to_owned(),
        key: order_id.to_owned(),
        message_type: format!("oms.routing.v1.{kind}"),
        payload: pb::RoutingEvent { event: Some(event) }.encode_to_vec(),
        headers: vec![("oms_correlation_id".to_owned(), order_id.to_owned())],
        created_at: at,
    }
}
