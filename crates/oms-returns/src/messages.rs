//! What returns announces on `oms.returns.v1` (key: return id, so one return's messages
//! stay in order): authorisations and receipts (order capture follows), restocks (the
//! ledger puts units back on sale), write-offs, refund requests for the payment gateway
//! adapter and their outcome, and exchanges.

use chrono::{DateTime, Utc};
use oms_eventsourcing::OutboxMessage;
use oms_proto::returns::v1 as pb;
use oms_service::convert::timestamp;
use prost::Message as _;
use uuid::Uuid;

use crate::domain::{RefundStatus, Return, ReturnsEvent, evolve_return};

pub const TOPIC: &str = "oms.returns.v1";

fn line(line_id: &str, sku: &str, quantity: i64) -> pb::ReturnLine {
    pb::ReturnLine {
        order_line_id: line_id.to_owned(),
        sku: sku.to_owned(),
        quantity,
    }
}

/// The messages announcing `events` of a return (as it was before them; for a new return,
/// the return itself).
pub fn for_events(before: Option<&Return>, events: &[ReturnsEvent], now: DateTime<Utc>) -> Vec<OutboxMessage> {
    use pb::return_event::Event;
    let mut out = Vec::new();
    let mut state: Option<Return> = before.cloned();
    for event in events {
        if let ReturnsEvent::Authorised { ret } = event {
            state = Some((**ret).clone());
        } else if let Some(ret) = state.as_mut() {
            evolve_return(ret, event);
        }
        let Some(ret) = state.as_ref() else { continue };
        let (id, order) = (ret.return_id.clone(), ret.order_id.clone());
        let at = |t: &DateTime<Utc>| Some(timestamp(*t));
        let mut push = |e: Event| out.push(message(&id, e, now));
        match event {
            ReturnsEvent::Authorised { ret } => push(Event::ReturnAuthorised(pb::ReturnAuthorised {
                return_id: id.clone(),
                order_id: order,
                lines: ret.lines.iter().map(|l| line(&l.line_id, &l.sku, l.quantity)).collect(),
                at: Some(timestamp(ret.created_at)),
            })),
            ReturnsEvent::Received {
                location_id,
                lines,
                at: t,
            } => push(Event::ReturnReceived(pb::ReturnReceived {
                return_id: id.clone(),
                order_id: order,
                location_id: location_id.clone(),
                lines: lines
                    .iter()
                    .filter(|(_, q)| *q > 0)
                    .filter_map(|(l, q)| ret.lines.iter().find(|x| x.line_id == *l).map(|x| line(l, &x.sku, *q)))
                    .collect(),
                at: at(t),
            })),
            ReturnsEvent::Inspected { lines, at: t } => {
                let sku = |l: &str| {
                    ret.lines
                        .iter()
                        .find(|x| x.line_id == l)
                        .map(|x| x.sku.clone())
                        .unwrap_or_default()
                };
                let restocked: Vec<pb::RestockedLine> = lines
                    .iter()
                    .filter(|(_, r, _)| *r > 0)
                    .map(|(l, r, _)| pb::RestockedLine {
                        sku: sku(l),
                        quantity: *r,
                    })
                    .collect();
                if !restocked.is_empty() {
                    push(Event::ItemsRestocked(pb::ItemsRestocked {
                        return_id: id.clone(),
                        order_id: order.clone(),
                        location_id: ret.location_id.clone(),
                        lines: restocked,
                        at: at(t),
                    }));
                }
                let damaged: Vec<pb::ReturnLine> = lines
                    .iter()
                    .filter(|(_, _, d)| *d > 0)
                    .map(|(l, _, d)| line(l, &sku(l), *d))
                    .collect();
                if !damaged.is_empty() {
                    push(Event::ItemsWrittenOff(pb::ItemsWrittenOff {
                        return_id: id.clone(),
                        order_id: order,
                        location_id: ret.location_id.clone(),
                        lines: damaged,
                        at: at(t),
                    }));
                }
            }
            ReturnsEvent::RefundRequested {
                refund_id,
                amount_minor,
                tender,
                reference,
                at: t,
                ..
            } => push(Event::RefundRequested(pb::RefundRequested {
                refund_id: refund_id.clone(),
                return_id: id.clone(),
                order_id: order,
                amount_minor: *amount_minor,
                currency: ret.currency.clone(),
                tender: tender.clone(),
                payment_reference: reference.clone(),
                at: at(t),
            })),
            ReturnsEvent::RefundFailed {
                refund_id,
                reason,
                at: t,
            } => push(Event::RefundFailed(pb::RefundFailed {
                refund_id: refund_id.clone(),
                return_id: id.clone(),
                order_id: order,
                amount_minor: ret
                    .refunds
                    .iter()
                    .find(|r| r.refund_id == *refund_id)
                    .map_or(0, |r| r.amount_minor),
                reason: reason.clone(),
                at: at(t),
            })),
            // Order capture records one refund per return: announced when all of it is.
            ReturnsEvent::RefundConfirmed { refund_id, at: t }
                if ret
                    .refunds
                    .iter()
                    .all(|r| matches!(r.status, RefundStatus::Confirmed | RefundStatus::Retried)) =>
            {
                push(Event::RefundConfirmed(pb::RefundConfirmed {
                    return_id: id.clone(),
                    order_id: order,
                    amount_minor: ret.refunded_minor(),
                    currency: ret.currency.clone(),
                    at: at(t),
                    refund_id: refund_id.clone(),
                }))
            }
            ReturnsEvent::ExchangeCreated {
                replacement_order_id,
                at: t,
            } => push(Event::ExchangeCreated(pb::ExchangeCreated {
                return_id: id.clone(),
                order_id: order,
                replacement_order_id: replacement_order_id.clone(),
                at: at(t),
            })),
            ReturnsEvent::RefundConfirmed { .. } | ReturnsEvent::OrderSold { .. } | ReturnsEvent::Delivered { .. } => {}
        }
    }
    out
}

fn message(return_id: &str, event: pb::return_event::Event, at: DateTime<Utc>) -> OutboxMessage {
    use pb::return_event::Event;
    let kind = match &event {
        Event::ItemsRestocked(_) => "ItemsRestocked",
        Event::ReturnAuthorised(_) => "ReturnAuthorised",
        Event::ReturnReceived(_) => "ReturnReceived",
        Event::RefundConfirmed(_) => "RefundConfirmed",
        Event::ItemsWrittenOff(_) => "ItemsWrittenOff",
        Event::RefundRequested(_) => "RefundRequested",
        Event::RefundFailed(_) => "RefundFailed",
        Event::ExchangeCreated(_) => "ExchangeCreated",
    };
    OutboxMessage {
        message_id: Uuid::now_v7(),
        topic: TOPIC.to_owned(),
        key: return_id.to_owned(),
        message_type: format!("oms.returns.v1.{kind}"),
        payload: pb::ReturnEvent { event: Some(event) }.encode_to_vec(),
        headers: vec![("oms_correlation_id".to_owned(), return_id.to_owned())],
        created_at: at,
    }
}
