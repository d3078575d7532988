//! The messages routing consumes: orders as order capture announces them (placed, held,
//! released, cancelled, sent somewhere else) and what the nodes report about the jobs
//! routing gave them (accepted, done, rejected, cancelled).

use oms_eventsourcing::Decision;
use oms_eventsourcing::writer::Context;
use oms_proto::fulfilment::v1 as fulfilment;
use oms_proto::orders::v1 as orders;
use oms_service::convert::time;
use oms_transport::{Handling, Message, MessageHandler};
use prost::Message as _;

use crate::app::decision;
use crate::convert::{self, Bad};
use crate::domain::routing::Events;
use crate::domain::{LineNeed, Routing, RoutingError, RoutingEvent};
use crate::messages::Initiator;

pub const ORDERS_TOPIC: &str = "oms.orders.v1";
pub const FULFILMENT_TOPIC: &str = "oms.fulfilment.v1";

type Handled = Result<Decision<RoutingEvent, ()>, Handling>;

fn describe(bad: &Bad) -> String {
    bad.iter()
        .map(|(f, d)| format!("{f}: {d}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// An order not known yet may still come (its OrderPlaced is behind); anything else
/// breaks the contract.
fn handling(error: RoutingError) -> Handling {
    match error {
        RoutingError::UnknownOrder(id) => Handling::park(format!("order {id} is not known yet")),
        other => Handling::poison(other.to_string()),
    }
}

fn announce(routing: &Routing, order_id: &str, events: Events, initiator: Initiator, ctx: &Context<'_>) -> Handled {
    Ok(decision(routing, Some(order_id), events, initiator, ctx.now))
}

/// `oms.orders.v1`: the orders to route and what customers and customer service change.
pub struct OrderEvents;

impl MessageHandler<Routing> for OrderEvents {
    fn handle(&self, routing: &Routing, message: &Message, ctx: &Context<'_>) -> Handled {
        use orders::order_event::Event;
        let event = orders::OrderEvent::decode(message.payload.as_slice())
            .map_err(|e| Handling::poison(format!("not an oms.orders.v1.OrderEvent: {e}")))?;
        let at = |ts: Option<&prost_types::Timestamp>| ts.and_then(time).unwrap_or(ctx.now);
        let (order_id, events) = match event.event {
            Some(Event::OrderPlaced(e)) => {
                let order = convert::order_placed(&e).map_err(|bad| Handling::poison(describe(&bad)))?;
                let id = order.order_id.clone();
                (id, routing.receive(order))
            }
            Some(Event::OrderHeld(e)) => {
                let events = routing.hold(&e.order_id, at(e.at.as_ref())).map_err(handling)?;
                (e.order_id, events)
            }
            Some(Event::OrderReleased(e)) => {
                let events = routing.release(&e.order_id, at(e.at.as_ref())).map_err(handling)?;
                (e.order_id, events)
            }
            Some(Event::OrderCancelled(e)) => {
                let lines: Vec<(String, i64)> = e.lines.iter().map(|l| (l.line_id.clone(), l.quantity)).collect();
                if lines.iter().any(|(id, q)| id.is_empty() || *q <= 0) {
                    return Err(Handling::poison("a cancelled line needs a line id and 1 unit or more"));
                }
                let events = routing
                    .cancel(&e.order_id, &lines, e.whole_order, &e.reason, at(e.at.as_ref()))
                    .map_err(handling)?;
                (e.order_id, events)
            }
            Some(Event::ShippingAddressChanged(e)) => {
                let Some(order) = routing.order(&e.order_id) else {
                    return Err(handling(RoutingError::UnknownOrder(e.order_id)));
                };
                let o = &order.order;
                let events = routing
                    .change_destination(
                        &e.order_id,
                        o.delivery_method,
                        e.address.as_ref().map(convert::address),
                        o.pickup_location_id.clone(),
                        at(e.at.as_ref()),
                    )
                    .map_err(handling)?;
                (e.order_id, events)
            }
            Some(Event::DeliveryMethodChanged(e)) => {
                let method = convert::delivery_method(e.delivery_method, "delivery_method")
                    .map_err(|bad| Handling::poison(describe(&bad)))?;
                let events = routing
                    .change_destination(
                        &e.order_id,
                        method,
                        e.shipping_address.as_ref().map(convert::address),
                        e.pickup_location_id.clone(),
                        at(e.at.as_ref()),
                    )
                    .map_err(handling)?;
                (e.order_id, events)
            }
            // The order's status is order capture's own story.
            Some(Event::OrderStatusChanged(_)) | None => return Ok(Decision::reply(())),
        };
        announce(routing, &order_id, events, Initiator::Routing, ctx)
    }
}

/// `oms.fulfilment.v1`: what the nodes did with the jobs. A job id is the fulfilment
/// request id routing gave it.
pub struct FulfilmentEvents;

fn job_lines(lines: &[fulfilment::JobLine]) -> Result<Vec<LineNeed>, Handling> {
    lines
        .iter()
        .map(|l| {
            if l.sku.is_empty() || l.quantity <= 0 {
                Err(Handling::poison("a job line needs a SKU and 1 unit or more"))
            } else {
                Ok(LineNeed::new(l.order_line_id.clone(), l.sku.clone(), l.quantity))
            }
        })
        .collect()
}

impl MessageHandler<Routing> for FulfilmentEvents {
    fn handle(&self, routing: &Routing, message: &Message, ctx: &Context<'_>) -> Handled {
        use fulfilment::fulfilment_event::Event;
        let event = fulfilment::FulfilmentEvent::decode(message.payload.as_slice())
            .map_err(|e| Handling::poison(format!("not an oms.fulfilment.v1.FulfilmentEvent: {e}")))?;
        let at = |ts: Option<&prost_types::Timestamp>| ts.and_then(time).unwrap_or(ctx.now);
        let (job, events) = match event.event {
            Some(Event::JobAccepted(e)) => {
                let events = routing.job_accepted(&e.job_id, at(e.at.as_ref()));
                (e.job_id, events)
            }
            Some(Event::JobShipped(e)) => {
                let events = routing.job_completed(&e.job_id, at(e.at.as_ref()));
                (e.job_id, events)
            }
            Some(Event::JobCollected(e)) => {
                let events = routing.job_completed(&e.job_id, at(e.at.as_ref()));
                (e.job_id, events)
            }
            Some(Event::JobRejected(e)) => {
                let reason =
                    fulfilment::RejectReason::try_from(e.reason).unwrap_or(fulfilment::RejectReason::Unspecified);
                let why = match reason {
                    fulfilment::RejectReason::AcceptanceTimeout => {
                        format!("{} did not accept the job in time", e.location_id)
                    }
                    other => format!(
                        "{} rejected the job: {}",
                        e.location_id,
                        other.as_str_name().trim_start_matches("REJECT_REASON_").to_lowercase()
                    ),
                };
                let lines = lines_of_job(routing, &e.job_id, job_lines(&e.lines)?);
                let events = routing.job_dropped(&e.job_id, lines, &why, at(e.at.as_ref()));
                (e.job_id, events)
            }
            Some(Event::JobCancelled(e)) if e.uncollected => {
                // Nobody came for the units: the lines are cancelled, not routed again.
                let Some(order) = routing.order_of_request(&e.job_id) else {
                    return Ok(Decision::reply(()));
                };
                let order_id = order.order_id().to_owned();
                let lines: Vec<(String, i64)> = lines_of_job(routing, &e.job_id, job_lines(&e.lines)?)
                    .into_iter()
                    .map(|l| (l.line_id, l.quantity))
                    .collect();
                let events = routing
                    .cancel(&order_id, &lines, false, "not collected", at(e.at.as_ref()))
                    .map_err(handling)?;
                return announce(routing, &order_id, events, Initiator::Node, ctx);
            }
            Some(Event::JobCancelled(e)) => {
                let why = format!("{} cancelled the job: {}", e.location_id, e.reason);
                let lines = lines_of_job(routing, &e.job_id, job_lines(&e.lines)?);
                let events = routing.job_dropped(&e.job_id, lines, &why, at(e.at.as_ref()));
                (e.job_id, events)
            }
            Some(
                Event::ReadyForPickup(_)
                | Event::JobDelivered(_)
                | Event::JobRequested(_)
                | Event::JobPicked(_)
                | Event::JobPacked(_)
                | Event::SlaBreached(_)
                | Event::JobWithdrawn(_),
            )
            | None => return Ok(Decision::reply(())),
        };
        let Some(order_id) = routing.order_of_request(&job).map(|o| o.order_id().to_owned()) else {
            // Not a job routing asked for (a node's own job, or one of a removed order).
            return Ok(Decision::reply(()));
        };
        announce(routing, &order_id, events, Initiator::Node, ctx)
    }
}

/// Dropped lines as the allocation names them: a node may leave out the order line id.
fn lines_of_job(routing: &Routing, job: &str, lines: Vec<LineNeed>) -> Vec<LineNeed> {
    let Some(allocation) = routing.order_of_request(job).and_then(|o| o.allocation(job)) else {
        return lines;
    };
    lines
        .into_iter()
        .map(|mut line| {
            if line.line_id.is_empty()
                && let Some(held) = allocation.lines.iter().find(|l| l.sku == line.sku)
            {
                line.line_id = held.line_id.clone();
            }
            line
        })
        .collect()
}
