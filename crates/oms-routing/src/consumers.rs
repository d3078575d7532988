//! The messages routing consumes: orders as order capture announces them (placed, held,
//! released, cancelled, sent somewhere else) and what the nodes report about the jobs
//! routing gave them (accepted, done, rejected, cancelled).

use std::convert::Infallible;

use chrono::{DateTime, Utc};
use oms_eventsourcing::writer::Context;
use oms_eventsourcing::{Changes, Decide, Decision};
use oms_proto::fulfilment::v1 as fulfilment;
use oms_proto::orders::v1 as orders;
use oms_service::convert::time;
use oms_transport::{Handling, Message, MessageHandler};
use prost::Message as _;

use crate::app::decision;
use crate::convert;
use crate::domain::{
    Address, CancelLines, ChangeDelivery, ChangeShippingAddress, HoldOrder, JobAccepted, JobCompleted, JobDropped,
    JobId, LineNeed, LineQuantity, OrderId, ReceiveOrder, ReleaseOrder, Routing, RoutingError, RoutingEvent,
};
use crate::messages::Initiator;

type Handled = Result<Decision<RoutingEvent, ()>, Handling>;

/// An order not known yet may still come (its OrderPlaced is behind); anything else
/// breaks the contract.
fn handling(error: RoutingError) -> Handling {
    match error {
        RoutingError::UnknownOrder(id) => Handling::park(format!("order {id} is not known yet")),
        other => Handling::poison(other.to_string()),
    }
}

fn announce(
    routing: &Routing,
    order_id: &OrderId,
    changes: Changes<RoutingEvent>,
    initiator: Initiator,
    ctx: &Context<'_>,
) -> Handled {
    Ok(decision(routing, Some(order_id), changes, initiator, ctx.now))
}

/// What a command decides, a refusal made the message's handling.
fn decided<C: Decide<Routing, Refusal = RoutingError>>(
    command: C,
    routing: &Routing,
    ctx: &Context<'_>,
) -> Result<Changes<RoutingEvent>, Handling> {
    command.decide(routing, ctx.now).map_err(handling)
}

/// What a command that cannot be refused decides.
fn settled<C: Decide<Routing, Refusal = Infallible>>(
    command: C,
    routing: &Routing,
    ctx: &Context<'_>,
) -> Changes<RoutingEvent> {
    let Ok(changes) = command.decide(routing, ctx.now);
    changes
}

/// When a message says it happened; when it was decided, if it does not say.
fn at(ts: Option<&prost_types::Timestamp>, ctx: &Context<'_>) -> DateTime<Utc> {
    ts.and_then(time).unwrap_or(ctx.now)
}

/// `oms.orders.v1`: the orders to route and what customers and customer service change.
pub struct OrderEvents;

impl MessageHandler<Routing> for OrderEvents {
    fn handle(&self, routing: &Routing, message: &Message, ctx: &Context<'_>) -> Handled {
        use orders::order_event::Event;
        let event = orders::OrderEvent::decode(message.payload.as_slice())
            .map_err(|e| Handling::poison(format!("not an oms.orders.v1.OrderEvent: {e}")))?;
        let (order_id, changes) = match event.event {
            Some(Event::OrderPlaced(e)) => {
                let order = convert::order_placed(&e).map_err(|bad| Handling::poison(bad.to_string()))?;
                let id = order.order_id.clone();
                (id, settled(ReceiveOrder { order }, routing, ctx))
            }
            Some(Event::OrderHeld(e)) => {
                let order_id = OrderId::from(e.order_id);
                let command = HoldOrder {
                    order_id: order_id.clone(),
                    at: at(e.at.as_ref(), ctx),
                };
                (order_id, decided(command, routing, ctx)?)
            }
            Some(Event::OrderReleased(e)) => {
                let order_id = OrderId::from(e.order_id);
                let command = ReleaseOrder {
                    order_id: order_id.clone(),
                    at: at(e.at.as_ref(), ctx),
                };
                (order_id, decided(command, routing, ctx)?)
            }
            Some(Event::OrderCancelled(e)) => {
                let lines: Vec<LineQuantity> = e
                    .lines
                    .iter()
                    .map(|l| LineQuantity::new(l.line_id.clone(), l.quantity))
                    .collect();
                if lines.iter().any(|l| l.line_id.is_empty() || l.quantity <= 0) {
                    return Err(Handling::poison("a cancelled line needs a line id and 1 unit or more"));
                }
                let order_id = OrderId::from(e.order_id);
                let command = CancelLines {
                    order_id: order_id.clone(),
                    lines,
                    whole_order: e.whole_order,
                    reason: e.reason,
                    at: at(e.at.as_ref(), ctx),
                };
                (order_id, decided(command, routing, ctx)?)
            }
            Some(Event::ShippingAddressChanged(e)) => {
                let order_id = OrderId::from(e.order_id);
                let command = ChangeShippingAddress {
                    order_id: order_id.clone(),
                    address: e.address.as_ref().map(Address::from_pb),
                    at: at(e.at.as_ref(), ctx),
                };
                (order_id, decided(command, routing, ctx)?)
            }
            Some(Event::DeliveryMethodChanged(e)) => {
                let method = convert::delivery_method(e.delivery_method, "delivery_method")
                    .map_err(|bad| Handling::poison(bad.to_string()))?;
                let order_id = OrderId::from(e.order_id);
                let command = ChangeDelivery {
                    order_id: order_id.clone(),
                    delivery_method: method,
                    shipping_address: e.shipping_address.as_ref().map(Address::from_pb),
                    pickup_location_id: e.pickup_location_id.into(),
                    at: at(e.at.as_ref(), ctx),
                };
                (order_id, decided(command, routing, ctx)?)
            }
            // The order's status is order capture's own story.
            Some(Event::OrderStatusChanged(_)) | None => return Ok(Decision::reply(())),
        };
        announce(routing, &order_id, changes, Initiator::Routing, ctx)
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
        let (job, changes) = match event.event {
            Some(Event::JobAccepted(e)) => {
                let job = JobId::from(e.job_id);
                let command = JobAccepted {
                    request_id: job.clone(),
                    at: at(e.at.as_ref(), ctx),
                };
                (job, settled(command, routing, ctx))
            }
            Some(Event::JobShipped(e)) => {
                let job = JobId::from(e.job_id);
                let command = JobCompleted {
                    request_id: job.clone(),
                    at: at(e.at.as_ref(), ctx),
                };
                (job, settled(command, routing, ctx))
            }
            Some(Event::JobCollected(e)) => {
                let job = JobId::from(e.job_id);
                let command = JobCompleted {
                    request_id: job.clone(),
                    at: at(e.at.as_ref(), ctx),
                };
                (job, settled(command, routing, ctx))
            }
            Some(Event::JobRejected(e)) => {
                let job = JobId::new(e.job_id.as_str());
                let command = JobDropped {
                    request_id: job.clone(),
                    lines: lines_of_job(routing, &job, job_lines(&e.lines)?),
                    reason: rejected_why(&e),
                    at: at(e.at.as_ref(), ctx),
                };
                (job, settled(command, routing, ctx))
            }
            Some(Event::JobCancelled(e)) if e.uncollected => {
                // Nobody came for the units: the lines are cancelled, not routed again.
                let job = JobId::new(e.job_id.as_str());
                let Some(order) = routing.order_of_request(&job) else {
                    return Ok(Decision::reply(()));
                };
                let order_id = order.order_id().clone();
                let lines = lines_of_job(routing, &job, job_lines(&e.lines)?)
                    .into_iter()
                    .map(|l| LineQuantity::new(l.line_id, l.quantity))
                    .collect();
                let command = CancelLines {
                    order_id: order_id.clone(),
                    lines,
                    whole_order: false,
                    reason: "not collected".to_owned(),
                    at: at(e.at.as_ref(), ctx),
                };
                let changes = decided(command, routing, ctx)?;
                return announce(routing, &order_id, changes, Initiator::Node, ctx);
            }
            Some(Event::JobCancelled(e)) => {
                let job = JobId::new(e.job_id.as_str());
                let command = JobDropped {
                    request_id: job.clone(),
                    lines: lines_of_job(routing, &job, job_lines(&e.lines)?),
                    reason: format!("{} cancelled the job: {}", e.location_id, e.reason),
                    at: at(e.at.as_ref(), ctx),
                };
                (job, settled(command, routing, ctx))
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
        let Some(order_id) = routing.order_of_request(&job).map(|o| o.order_id().clone()) else {
            // Not a job routing asked for (a node's own job, or one of a removed order).
            return Ok(Decision::reply(()));
        };
        announce(routing, &order_id, changes, Initiator::Node, ctx)
    }
}

/// Why a node rejected a job, in words.
fn rejected_why(e: &fulfilment::JobRejected) -> String {
    let reason = fulfilment::RejectReason::try_from(e.reason).unwrap_or(fulfilment::RejectReason::Unspecified);
    match reason {
        fulfilment::RejectReason::AcceptanceTimeout => {
            format!("{} did not accept the job in time", e.location_id)
        }
        other => format!(
            "{} rejected the job: {}",
            e.location_id,
            other.as_str_name().trim_start_matches("REJECT_REASON_").to_lowercase()
        ),
    }
}

/// Dropped lines as the allocation names them: a node may leave out the order line id.
fn lines_of_job(routing: &Routing, job: &JobId, lines: Vec<LineNeed>) -> Vec<LineNeed> {
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
