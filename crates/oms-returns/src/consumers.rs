//! The messages returns consumes: orders as order capture announces them (what was bought
//! and paid with), deliveries as fulfilment announces them (what may be returned, from
//! when), and the payment gateway adapter's answers about refunds.

use oms_eventsourcing::Decision;
use oms_eventsourcing::writer::Context;
use oms_proto::fulfilment::v1 as fulfilment;
use oms_proto::orders::v1 as orders;
use oms_proto::returns::v1 as pb;
use oms_service::convert::time;
use oms_transport::{Handling, Message, MessageHandler};
use prost::Message as _;

use crate::app::decision;
use crate::domain::{Returns, ReturnsError, ReturnsEvent, SoldLine, SoldOrder, Tender};

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

/// The order as returns keeps it.
pub fn sold_order(e: &orders::OrderPlaced) -> Result<SoldOrder, String> {
    let draft = e.order.as_ref().ok_or("OrderPlaced without its order")?;
    if e.order_id.is_empty() {
        return Err("OrderPlaced without order_id".to_owned());
    }
    let lines = if e.lines.is_empty() { &draft.lines } else { &e.lines };
    Ok(SoldOrder {
        order_id: e.order_id.clone(),
        currency: draft.currency.clone(),
        lines: lines
            .iter()
            .enumerate()
            .map(|(i, l)| SoldLine {
                line_id: if l.line_id.is_empty() {
                    (i + 1).to_string()
                } else {
                    l.line_id.clone()
                },
                sku: l.sku.clone(),
                quantity: l.quantity,
                unit_price_minor: l.unit_price.as_ref().map_or(0, |p| p.amount_minor),
                delivered: 0,
                delivered_at: None,
                returned: 0,
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
        jobs: Vec::new(),
    })
}

/// `oms.orders.v1`: placed orders.
pub struct OrderEvents;

impl MessageHandler<Returns> for OrderEvents {
    fn handle(&self, state: &Returns, message: &Message, ctx: &Context<'_>) -> Handled {
        let event = orders::OrderEvent::decode(message.payload.as_slice())
            .map_err(|e| Handling::poison(format!("not an oms.orders.v1.OrderEvent: {e}")))?;
        let events = match event.event {
            Some(orders::order_event::Event::OrderPlaced(e)) => state.sold(sold_order(&e).map_err(Handling::poison)?),
            _ => Vec::new(),
        };
        Ok(decision(state, events, ctx.now))
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
        let Some(order) = state.order(&order_id) else {
            return Err(handling(ReturnsError::UnknownOrder(order_id)));
        };
        // By order line; by SKU when the node left the line out.
        let lines: Vec<(String, i64)> = lines
            .iter()
            .filter_map(|l| {
                let line = if l.order_line_id.is_empty() {
                    order.lines.iter().find(|x| x.sku == l.sku)
                } else {
                    order.line(&l.order_line_id)
                }?;
                Some((line.line_id.clone(), l.quantity))
            })
            .collect();
        let at = at.as_ref().and_then(time).unwrap_or(ctx.now);
        let events = state.delivered(&order_id, &job_id, lines, at).map_err(handling)?;
        Ok(decision(state, events, ctx.now))
    }
}

/// `oms.payments.v1`: `oms.returns.v1.PaymentResult` per message.
pub struct PaymentResults;

impl MessageHandler<Returns> for PaymentResults {
    fn handle(&self, state: &Returns, message: &Message, ctx: &Context<'_>) -> Handled {
        use pb::payment_result::Outcome;
        let result = pb::PaymentResult::decode(message.payload.as_slice())
            .map_err(|e| Handling::poison(format!("not an oms.returns.v1.PaymentResult: {e}")))?;
        let failure = match result.outcome {
            Some(Outcome::Refunded(_)) => None,
            Some(Outcome::Declined(d)) => Some(if d.reason.is_empty() {
                "declined".to_owned()
            } else {
                d.reason
            }),
            None => return Err(Handling::poison("a payment result needs an outcome")),
        };
        let at = result.at.as_ref().and_then(time).unwrap_or(ctx.now);
        let events = state
            .payment_result(&result.refund_id, failure, at)
            .map_err(|e| Handling::poison(e.to_string()))?;
        Ok(decision(state, events, ctx.now))
    }
}
