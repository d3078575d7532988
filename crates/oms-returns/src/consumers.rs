//! The messages returns consumes: orders as order capture announces them (what was bought
//! and paid with), deliveries as fulfilment announces them (what may be returned, from
//! when), and the payment gateway adapter's answers about refunds.

use oms_eventsourcing::writer::Context;
use oms_eventsourcing::{Decide, Decision};
use oms_proto::common::v1 as common;
use oms_proto::fulfilment::v1 as fulfilment;
use oms_proto::orders::v1 as orders;
use oms_proto::returns::v1 as pb;
use oms_service::convert::time;
use oms_transport::{Handling, Message, MessageHandler};
use prost::Message as _;

use crate::app::decision;
use crate::domain::{
    DeliveredLine, LearnOrder, LineSold, Money, OrderSold, Payment, PaymentOutcome, RecordDelivery,
    RecordPaymentResult, Returns, ReturnsError, ReturnsEvent, Tender, Violations,
};

type Handled = Result<Decision<ReturnsEvent, ()>, Handling>;

fn handling(error: ReturnsError) -> Handling {
    match error {
        ReturnsError::UnknownOrder(id) => Handling::park(format!("order {id} is not known yet")),
        other => Handling::poison(other.to_string()),
    }
}

/// The order as sold, from its announcement. A tender the contract lacks, or a price or
/// payment missing or in another currency than the order's (returns keeps one currency per
/// order), is named, never guessed.
pub fn order_sold(e: &orders::OrderPlaced) -> Result<OrderSold, Violations> {
    let mut bad = Violations::new();
    bad.require(&e.order_id, "order_id");
    let Some(draft) = e.order.as_ref() else {
        bad.add("order", "is required");
        return Err(bad);
    };
    let (lines, lines_field) = if e.lines.is_empty() {
        (&draft.lines, "order.lines")
    } else {
        (&e.lines, "lines")
    };
    let lines = lines
        .iter()
        .enumerate()
        .map(|(i, l)| LineSold {
            line_id: if l.line_id.is_empty() {
                (i + 1).to_string().into()
            } else {
                l.line_id.clone().into()
            },
            sku: l.sku.clone().into(),
            quantity: l.quantity,
            unit_price_minor: in_currency(
                l.unit_price.as_ref(),
                &draft.currency,
                &format!("{lines_field}[{i}].unit_price"),
                &mut bad,
            ),
        })
        .collect();
    let payments = draft
        .payments
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let field = format!("order.payments[{i}]");
            let authorised_minor = in_currency(
                p.authorised.as_ref(),
                &draft.currency,
                &format!("{field}.authorised"),
                &mut bad,
            );
            let tender = Tender::from_pb(p.tender);
            bad.check(
                tender.is_none(),
                format!("{field}.tender"),
                format!("is {}: {}", p.tender, Tender::expected()),
            );
            Some(Payment {
                reference: p.reference.clone(),
                tender: tender?,
                authorised_minor,
            })
        })
        .collect();
    bad.or_ok(OrderSold {
        order_id: e.order_id.clone().into(),
        currency: draft.currency.clone(),
        lines,
        payments,
        draft: draft.encode_to_vec(),
    })
}

/// The minor units of a required amount in the order's `currency`.
fn in_currency(money: Option<&common::Money>, currency: &str, field: &str, bad: &mut Violations) -> i64 {
    let Some(money) = Money::required(money, field, bad) else {
        return 0;
    };
    bad.check(
        money.currency != currency,
        format!("{field}.currency"),
        format!("is {:?}, not the order's {currency}", money.currency),
    );
    money.amount_minor
}

/// `oms.orders.v1`: placed orders.
pub struct OrderEvents;

impl MessageHandler<Returns> for OrderEvents {
    fn handle(&self, state: &Returns, message: &Message, ctx: &Context<'_>) -> Handled {
        let event = orders::OrderEvent::decode(message.payload.as_slice())
            .map_err(|e| Handling::poison(format!("not an oms.orders.v1.OrderEvent: {e}")))?;
        let changes = match event.event {
            Some(orders::order_event::Event::OrderPlaced(e)) => {
                let order = order_sold(&e).map_err(|bad| Handling::poison(format!("order {}: {bad}", e.order_id)))?;
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
            order_id: order_id.into(),
            job_id: job_id.into(),
            lines: lines
                .into_iter()
                .map(|l| DeliveredLine {
                    order_line_id: l.order_line_id.into(),
                    sku: l.sku.into(),
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
            refund_id: result.refund_id.into(),
            outcome,
            at: result.at.as_ref().and_then(time).unwrap_or(ctx.now),
        };
        let changes = answer
            .decide(state, ctx.now)
            .map_err(|e| Handling::poison(e.to_string()))?;
        Ok(decision(state, changes, ctx.now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(amount_minor: i64) -> Option<common::Money> {
        Some(Money::new(amount_minor, "EUR").to_pb())
    }

    fn placed() -> orders::OrderPlaced {
        orders::OrderPlaced {
            order_id: "o-1".into(),
            order: Some(orders::OrderDraft {
                currency: "EUR".into(),
                lines: vec![orders::OrderLine {
                    line_id: "1".into(),
                    sku: "jacket-m".into(),
                    quantity: 2,
                    unit_price: eur(8_000),
                    ..Default::default()
                }],
                payments: vec![orders::Payment {
                    reference: "gift-1".into(),
                    tender: Tender::GiftCard.to_pb() as i32,
                    authorised: eur(16_000),
                }],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn an_order_is_read_once_into_the_kernels_tenders() {
        let sold = order_sold(&placed()).expect("an order");
        assert_eq!(sold.payments[0].tender, Tender::GiftCard);
        assert_eq!(sold.lines[0].unit_price_minor, 8_000);
    }

    #[test]
    fn a_tender_the_contract_lacks_or_money_in_another_currency_is_named_never_guessed() {
        let mut order = placed();
        let draft = order.order.as_mut().expect("the draft");
        draft.payments[0].tender = 0;
        draft.payments[0].authorised = Some(Money::new(16_000, "USD").to_pb());
        draft.lines[0].unit_price = None;
        let bad = order_sold(&order).expect_err("refused");
        let fields: Vec<&str> = bad.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "order.lines[0].unit_price",
                "order.payments[0].authorised.currency",
                "order.payments[0].tender"
            ]
        );
    }
}
