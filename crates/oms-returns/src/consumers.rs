//! The messages returns consumes: orders as order capture announces them (what was bought
//! and paid with), deliveries as fulfilment announces them (what may be returned, from
//! when), and the payment gateway adapter's answers about refunds.

use oms_eventsourcing::writer::Context;
use oms_eventsourcing::{Decide, Decision};
use oms_proto::fulfilment::v1 as fulfilment;
use oms_proto::orders::v1 as orders;
use oms_proto::returns::v1 as pb;
use oms_service::convert::time;
use oms_transport::{Handling, Message, MessageHandler};
use prost::Message as _;

use crate::app::decision;
use crate::domain::{
    DeliveredLine, LearnOrder, LineSold, OrderSold, PaymentOutcome, RecordDelivery, RecordPaymentResult, Returns,
    ReturnsError, ReturnsEvent, Tender,
};

pub const ORDERS_TOPIC: &str = "oms.orders.v1";
pub const FULFILMENT_TOPIC: &str = "oms.fulfilment.v1";
/// Answers of the payment gateway adapter.
pub const PAYMENTS_TOPIC: &str = "oms.payments.v1";

type Handled = Result<Decision<ReturnsEvent, ()>, Handling>;

fn handling(error: ReturnsError) -> Handling {
    match error {
        ReturnsError::UnknownOrder(id) => Handling::park(format!("order {id} is not known yet")),
        other => Handling::poison(other.to_string()),
    }
}

/// The order as sold, from its announcement.
pub fn order_sold(e: &orders::OrderPlaced) -> Result<OrderSold, String> {
    let draft = e.order.as_ref().ok_or("OrderPlaced without its order")?;
    if e.order_id.is_empty() {
        return Err("OrderPlaced without order_id".to_owned());
    }
    let lines = if e.lines.is_empty() { &draft.lines } else { &e.lines };
    Ok(OrderSold {
        order_id: e.order_id.clone(),
        currency: draft.currency.clone(),
        lines: lines
            .iter()
            .enumerate()
            .map(|(i, l)| LineSold {
                line_id: if l.line_id.is_empty() {
                    (i + 1).to_string()
                } else {
                    l.line_id.clone()
                },
                sku: l.sku.clone(),
                quantity: l.quantity,
                unit_price_minor: l.unit_price.as_ref().map_or(0, |p| p.amount_minor),
            })
            .collect(),
        tenders: draft
            .payments
            .iter()
            .map(|p| Tender {
                reference: p.reference.clone(),
                tender: orders::TenderType::try_from(p.tender)
                    .map(|t| t.as_str_name())
                    .unwrap_or("TENDER_TYPE_UNSPECIFIED")
                    .to_owned(),
                authorised_minor: p.authorised.as_ref().map_or(0, |m| m.amount_minor),
            })
            .collect(),
        draft: draft.encode_to_vec(),
    })
}

/// `oms.orders.v1`: placed orders.
pub struct OrderEvents;

impl MessageHandler<Returns> for OrderEvents {
    fn handle(&self, state: &Returns, message: &Message, ctx: &Context<'_>) -> Handled {
        let event = orders::OrderEvent::decode(message.payload.as_slice())
            .map_err(|e| Handling::poison(format!("not an oms.orders.v1.OrderEvent: {e}")))?;
        let changes = match event.event {
            Some(orders::order_event::Event::OrderPlaced(e)) => {
                let order = order_sold(&e).map_err(Handling::poison)?;
                LearnOrder { order }.decide(state, ctx.now).map_err(handling)?
            }
            _ => Vec::new(),
        };
        Ok(decision(state, changes, ctx.now))
    }
}

/// `oms.fulfilment.v1`: units shipped or collected may be returned.
pub struct FulfilmentEvents;

impl MessageHandler<Returns> for FulfilmentEvents {
    fn handle(&self, state: &Returns, message: &Message, ctx: &Context<'_>) -> Handled {
        use fulfilment::fulfilment_event::Event;
        let event = fulfilment::FulfilmentEvent::decode(message.payload.as_slice())
            .map_err(|e| Handling::poison(format!("not an oms.fulfilment.v1.FulfilmentEvent: {e}")))?;
        let (order_id, job_id, lines, at) = match event.event {
            // A parcel to a pickup store or locker reaches the customer when collected.
            Some(Event::JobShipped(e)) if e.pickup_location_id.is_empty() => (e.order_id, e.job_id, e.lines, e.at),
            Some(Event::JobCollected(e)) => (e.order_id, e.job_id, e.lines, e.at),
            _ => return Ok(Decision::reply(())),
        };
        let delivery = RecordDelivery {
            order_id,
            job_id,
            lines: lines
                .into_iter()
                .map(|l| DeliveredLine {
                    order_line_id: l.order_line_id,
                    sku: l.sku,
                    units: l.quantity,
                })
                .collect(),
            at: at.as_ref().and_then(time).unwrap_or(ctx.now),
        };
        let changes = delivery.decide(state, ctx.now).map_err(handling)?;
        Ok(decision(state, changes, ctx.now))
    }
}

/// `oms.payments.v1`: `oms.returns.v1.PaymentResult` per message.
pub struct PaymentResults;

impl MessageHandler<Returns> for PaymentResults {
    fn handle(&self, state: &Returns, message: &Message, ctx: &Context<'_>) -> Handled {
        use pb::payment_result::Outcome;
        let result = pb::PaymentResult::decode(message.payload.as_slice())
            .map_err(|e| Handling::poison(format!("not an oms.returns.v1.PaymentResult: {e}")))?;
        let outcome = match result.outcome {
            Some(Outcome::Refunded(_)) => PaymentOutcome::Refunded,
            Some(Outcome::Declined(d)) => PaymentOutcome::Declined {
                reason: if d.reason.is_empty() {
                    "declined".to_owned()
                } else {
                    d.reason
                },
            },
            None => return Err(Handling::poison("a payment result needs an outcome")),
        };
        let answer = RecordPaymentResult {
            refund_id: result.refund_id,
            outcome,
            at: result.at.as_ref().and_then(time).unwrap_or(ctx.now),
        };
        let changes = answer
            .decide(state, ctx.now)
            .map_err(|e| Handling::poison(e.to_string()))?;
        Ok(decision(state, changes, ctx.now))
    }
}
