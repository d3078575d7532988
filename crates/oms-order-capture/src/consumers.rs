//! The messages order capture consumes: channel orders, and what routing, fulfilment and
//! returns report about each order's units.

use oms_eventsourcing::Decision;
use oms_eventsourcing::writer::Context;
use oms_proto::fulfilment::v1 as fulfilment;
use oms_proto::orders::v1 as pb;
use oms_proto::returns::v1 as returns;
use oms_proto::routing::v1 as routing;
use oms_service::convert::time;
use oms_transport::{Handling, Message, MessageHandler};
use prost::Message as _;

use crate::app::decide;
use crate::convert;
use crate::domain::{
    LineQuantity, OrderCommand, OrderError, OrderEvent, Orders, PlaceOrder, RecordReports, order_id_for,
};

type Handled = Result<Decision<OrderEvent, ()>, Handling>;

/// What a refusal means for a message: an order not known yet may still come; anything
/// else breaks the contract.
fn handling(error: OrderError) -> Handling {
    match error {
        OrderError::UnknownOrder(id) => Handling::park(format!("order {id} is not known yet")),
        other => Handling::poison(other.to_string()),
    }
}

fn run(orders: &Orders, command: &impl OrderCommand, ctx: &Context<'_>) -> Handled {
    decide(orders, command, ctx.now)
        .map(|d| d.map_reply(|_| ()))
        .map_err(handling)
}

/// Records what another service reported about the order.
fn record(orders: &Orders, order_id: String, reports: Vec<OrderEvent>, ctx: &Context<'_>) -> Handled {
    if reports.is_empty() {
        return Ok(Decision::reply(()));
    }
    run(orders, &RecordReports { order_id, reports }, ctx)
}

/// `oms.channel-orders.v1`: a channel's order. The same order sent twice is placed once.
pub struct ChannelOrders;

impl MessageHandler<Orders> for ChannelOrders {
    fn handle(&self, orders: &Orders, message: &Message, ctx: &Context<'_>) -> Handled {
        let draft = pb::OrderDraft::decode(message.payload.as_slice())
            .map_err(|e| Handling::poison(format!("not an oms.orders.v1.OrderDraft: {e}")))?;
        let draft = convert::draft(&draft).map_err(|bad| Handling::poison(bad.to_string()))?;
        let order_id = order_id_for(draft.channel, &draft.external_order_id);
        let place = PlaceOrder {
            order_id,
            draft: Box::new(draft),
            at: ctx.now,
        };
        run(orders, &place, ctx)
    }
}

/// `oms.routing.v1`: allocations, backorders and routing failures.
pub struct RoutingEvents;

impl MessageHandler<Orders> for RoutingEvents {
    fn handle(&self, orders: &Orders, message: &Message, ctx: &Context<'_>) -> Handled {
        use routing::routing_event::Event;
        let event = routing::RoutingEvent::decode(message.payload.as_slice())
            .map_err(|e| Handling::poison(format!("not an oms.routing.v1.RoutingEvent: {e}")))?;
        let lines = |lines: &[routing::AllocatedLine]| -> Vec<LineQuantity> {
            lines
                .iter()
                .map(|l| LineQuantity::new(l.order_line_id.clone(), l.quantity))
                .collect()
        };
        match event.event {
            Some(Event::OrderRouted(e)) => {
                let at = e.at.as_ref().and_then(time).unwrap_or(ctx.now);
                let reports: Vec<OrderEvent> = e
                    .allocations
                    .iter()
                    .map(|a| OrderEvent::Allocated {
                        request_id: a.fulfilment_request_id.clone(),
                        node_id: a.node_id.clone(),
                        lines: lines(&a.lines),
                        expected_at: a.expected_at.as_ref().and_then(time),
                        at,
                    })
                    .collect();
                record(orders, e.order_id, reports, ctx)
            }
            Some(Event::OrderBackordered(e)) => {
                let at = e.at.as_ref().and_then(time).unwrap_or(ctx.now);
                record(
                    orders,
                    e.order_id,
                    vec![OrderEvent::Backordered {
                        lines: lines(&e.lines),
                        reason: e.reason,
                        at,
                    }],
                    ctx,
                )
            }
            Some(Event::RoutingFailed(e)) => {
                let at = e.at.as_ref().and_then(time).unwrap_or(ctx.now);
                record(
                    orders,
                    e.order_id,
                    vec![OrderEvent::RoutingFailed {
                        lines: lines(&e.lines),
                        reason: e.reason,
                        at,
                    }],
                    ctx,
                )
            }
            // Units taken back to be routed again wait for their new node; cancelled ones
            // were recorded when the order was cancelled.
            Some(Event::FulfilmentCancelled(e)) if e.reroute => {
                let at = e.at.as_ref().and_then(time).unwrap_or(ctx.now);
                record(
                    orders,
                    e.order_id,
                    vec![OrderEvent::FulfilmentDropped {
                        job_id: e.fulfilment_request_id,
                        lines: lines(&e.lines),
                        reason: e.reason,
                        at,
                    }],
                    ctx,
                )
            }
            // Fulfilment requests are for the nodes; their answers come from fulfilment.
            Some(Event::FulfilmentRequested(_) | Event::FulfilmentCancelled(_)) | None => Ok(Decision::reply(())),
        }
    }
}

/// `oms.fulfilment.v1`: nodes taking jobs on, shipping, holding units for pickup, handing
/// them over, and dropping jobs.
pub struct FulfilmentEvents;

impl MessageHandler<Orders> for FulfilmentEvents {
    fn handle(&self, orders: &Orders, message: &Message, ctx: &Context<'_>) -> Handled {
        use fulfilment::fulfilment_event::Event;
        let event = fulfilment::FulfilmentEvent::decode(message.payload.as_slice())
            .map_err(|e| Handling::poison(format!("not an oms.fulfilment.v1.FulfilmentEvent: {e}")))?;
        let at = |ts: &Option<prost_types::Timestamp>| ts.as_ref().and_then(time).unwrap_or(ctx.now);
        let (order_id, report) = match event.event {
            Some(Event::JobAccepted(e)) => (
                e.order_id,
                OrderEvent::FulfilmentStarted {
                    job_id: e.job_id,
                    lines: job_lines(&e.lines),
                    at: at(&e.at),
                },
            ),
            Some(Event::JobShipped(e)) => (
                e.order_id,
                OrderEvent::Shipped {
                    job_id: e.job_id,
                    lines: job_lines(&e.lines),
                    carrier: e.carrier,
                    tracking_number: e.tracking_number,
                    at: at(&e.at),
                },
            ),
            Some(Event::ReadyForPickup(e)) => (
                e.order_id,
                OrderEvent::ReadyForPickup {
                    job_id: e.job_id,
                    lines: job_lines(&e.lines),
                    location_id: e.location_id,
                    pickup_code: e.pickup_code,
                    at: at(&e.at),
                },
            ),
            Some(Event::JobCollected(e)) => (
                e.order_id,
                OrderEvent::Collected {
                    job_id: e.job_id,
                    lines: job_lines(&e.lines),
                    at: at(&e.at),
                },
            ),
            Some(Event::JobDelivered(e)) => (
                e.order_id,
                OrderEvent::Delivered {
                    job_id: e.job_id,
                    lines: job_lines(&e.lines),
                    at: at(&e.at),
                },
            ),
            Some(Event::JobRejected(e)) => {
                let reason = fulfilment::RejectReason::try_from(e.reason)
                    .map_or("rejected", |r| r.as_str_name())
                    .to_owned();
                (
                    e.order_id,
                    OrderEvent::FulfilmentDropped {
                        job_id: e.job_id,
                        lines: job_lines(&e.lines),
                        reason,
                        at: at(&e.at),
                    },
                )
            }
            Some(Event::JobCancelled(e)) if e.uncollected => (
                e.order_id,
                OrderEvent::PickupExpired {
                    job_id: e.job_id,
                    lines: job_lines(&e.lines),
                    at: at(&e.at),
                },
            ),
            Some(Event::JobCancelled(e)) => (
                e.order_id,
                OrderEvent::FulfilmentDropped {
                    job_id: e.job_id,
                    lines: job_lines(&e.lines),
                    reason: e.reason,
                    at: at(&e.at),
                },
            ),
            // Steps inside a node, SLA alerts and jobs routing withdrew (routing told order
            // capture itself) change no order state.
            Some(
                Event::JobRequested(_)
                | Event::JobPicked(_)
                | Event::JobPacked(_)
                | Event::SlaBreached(_)
                | Event::JobWithdrawn(_),
            )
            | None => {
                return Ok(Decision::reply(()));
            }
        };
        record(orders, order_id, vec![report], ctx)
    }
}

/// `oms.returns.v1`: returns authorised and received, refunds confirmed.
pub struct ReturnEvents;

impl MessageHandler<Orders> for ReturnEvents {
    fn handle(&self, orders: &Orders, message: &Message, ctx: &Context<'_>) -> Handled {
        use returns::return_event::Event;
        let event = returns::ReturnEvent::decode(message.payload.as_slice())
            .map_err(|e| Handling::poison(format!("not an oms.returns.v1.ReturnEvent: {e}")))?;
        let at = |ts: &Option<prost_types::Timestamp>| ts.as_ref().and_then(time).unwrap_or(ctx.now);
        let lines = |lines: &[returns::ReturnLine]| -> Vec<LineQuantity> {
            lines
                .iter()
                .map(|l| LineQuantity::new(l.order_line_id.clone(), l.quantity))
                .collect()
        };
        let (order_id, report) = match event.event {
            Some(Event::ReturnAuthorised(e)) => (
                e.order_id,
                OrderEvent::ReturnRequested {
                    return_id: e.return_id,
                    lines: lines(&e.lines),
                    at: at(&e.at),
                },
            ),
            Some(Event::ReturnReceived(e)) => (
                e.order_id,
                OrderEvent::Returned {
                    return_id: e.return_id,
                    lines: lines(&e.lines),
                    at: at(&e.at),
                },
            ),
            Some(Event::RefundConfirmed(e)) => (
                e.order_id,
                OrderEvent::Refunded {
                    return_id: e.return_id,
                    amount_minor: e.amount_minor,
                    at: at(&e.at),
                },
            ),
            Some(
                Event::ItemsRestocked(_)
                | Event::ItemsWrittenOff(_)
                | Event::RefundRequested(_)
                | Event::RefundFailed(_)
                | Event::ExchangeCreated(_),
            )
            | None => return Ok(Decision::reply(())),
        };
        record(orders, order_id, vec![report], ctx)
    }
}

fn job_lines(lines: &[fulfilment::JobLine]) -> Vec<LineQuantity> {
    lines
        .iter()
        .map(|l| LineQuantity::new(l.order_line_id.clone(), l.quantity))
        .collect()
}
