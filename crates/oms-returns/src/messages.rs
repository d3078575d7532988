//! What returns announces on `oms.returns.v1` (key: return id, so one return's messages
//! stay in order): authorisations and receipts (order capture follows), restocks (the
//! ledger puts units back on sale), write-offs, refund requests for the payment gateway
//! adapter and their outcome, and exchanges.

use chrono::{DateTime, Utc};
use oms_eventsourcing::OutboxMessage;
use oms_proto::returns::v1 as pb;
use oms_service::convert::timestamp;
use pb::return_event::Event;
use prost::Message as _;
use uuid::Uuid;

use crate::domain::{
    InspectedLine, LineId, LineUnits, LocationId, RefundId, RefundStatus, Return, ReturnId, ReturnsEvent, Sku,
};

fn line(line_id: &LineId, sku: &Sku, quantity: i64) -> pb::ReturnLine {
    pb::ReturnLine {
        order_line_id: line_id.to_string(),
        sku: sku.to_string(),
        quantity,
    }
}

/// The messages announcing `events` of a return (as it was before them; for a new return,
/// the return itself).
pub fn for_events(before: Option<&Return>, events: &[ReturnsEvent], now: DateTime<Utc>) -> Vec<OutboxMessage> {
    let mut out = Vec::new();
    let mut state: Option<Return> = before.cloned();
    for event in events {
        // Each message sees the return as the event left it.
        if let ReturnsEvent::Authorised(authorised) = event {
            state = Some(Return::from(&**authorised));
        } else if let Some(ret) = state.as_mut() {
            ret.evolve(event);
        }
        let Some(ret) = state.as_ref() else { continue };
        out.extend(
            announce(ret, event)
                .into_iter()
                .map(|e| message(&ret.return_id, e, now)),
        );
    }
    out
}

/// What announces `event` of `ret` (as it is after it).
fn announce(ret: &Return, event: &ReturnsEvent) -> Vec<Event> {
    match event {
        ReturnsEvent::Authorised(_) => vec![authorised(ret)],
        ReturnsEvent::Received { location_id, lines, at } => vec![received(ret, location_id, lines, *at)],
        ReturnsEvent::Inspected { lines, at } => inspected(ret, lines, *at),
        ReturnsEvent::RefundRequested {
            refund_id,
            amount_minor,
            tender,
            reference,
            at,
            ..
        } => {
            let amount = ret.money(*amount_minor);
            vec![Event::RefundRequested(pb::RefundRequested {
                refund_id: refund_id.to_string(),
                return_id: ret.return_id.to_string(),
                order_id: ret.order_id.to_string(),
                amount_minor: amount.amount_minor,
                currency: amount.currency,
                tender: tender.proto_name().to_owned(),
                payment_reference: reference.clone(),
                at: Some(timestamp(*at)),
            })]
        }
        ReturnsEvent::RefundFailed { refund_id, reason, at } => vec![refund_failed(ret, refund_id, reason, *at)],
        ReturnsEvent::RefundConfirmed { refund_id, at } => refund_confirmed(ret, refund_id, *at).into_iter().collect(),
        ReturnsEvent::ExchangeCreated {
            replacement_order_id,
            at,
        } => vec![Event::ExchangeCreated(pb::ExchangeCreated {
            return_id: ret.return_id.to_string(),
            order_id: ret.order_id.to_string(),
            replacement_order_id: replacement_order_id.to_string(),
            at: Some(timestamp(*at)),
        })],
        ReturnsEvent::OrderSold(_) | ReturnsEvent::Delivered { .. } => Vec::new(),
    }
}

fn authorised(ret: &Return) -> Event {
    Event::ReturnAuthorised(pb::ReturnAuthorised {
        return_id: ret.return_id.to_string(),
        order_id: ret.order_id.to_string(),
        lines: ret.lines.iter().map(|l| line(&l.line_id, &l.sku, l.quantity)).collect(),
        at: Some(timestamp(ret.created_at)),
    })
}

fn received(ret: &Return, location_id: &LocationId, lines: &[LineUnits], at: DateTime<Utc>) -> Event {
    Event::ReturnReceived(pb::ReturnReceived {
        return_id: ret.return_id.to_string(),
        order_id: ret.order_id.to_string(),
        location_id: location_id.to_string(),
        lines: lines
            .iter()
            .filter(|l| l.units > 0)
            .filter_map(|l| ret.line(&l.line_id).map(|x| line(&l.line_id, &x.sku, l.units)))
            .collect(),
        at: Some(timestamp(at)),
    })
}

/// Resellable units go back on sale where they were received (the ledger restocks them);
/// damaged ones are written off.
fn inspected(ret: &Return, lines: &[InspectedLine], at: DateTime<Utc>) -> Vec<Event> {
    let sku = |l: &LineId| ret.line(l).map(|x| x.sku.clone()).unwrap_or_default();
    let restocked: Vec<pb::RestockedLine> = lines
        .iter()
        .filter(|l| l.resellable > 0)
        .map(|l| pb::RestockedLine {
            sku: sku(&l.line_id).into_string(),
            quantity: l.resellable,
        })
        .collect();
    let damaged: Vec<pb::ReturnLine> = lines
        .iter()
        .filter(|l| l.damaged > 0)
        .map(|l| line(&l.line_id, &sku(&l.line_id), l.damaged))
        .collect();
    let mut out = Vec::new();
    if !restocked.is_empty() {
        out.push(Event::ItemsRestocked(pb::ItemsRestocked {
            return_id: ret.return_id.to_string(),
            order_id: ret.order_id.to_string(),
            location_id: ret.location_id.to_string(),
            lines: restocked,
            at: Some(timestamp(at)),
        }));
    }
    if !damaged.is_empty() {
        out.push(Event::ItemsWrittenOff(pb::ItemsWrittenOff {
            return_id: ret.return_id.to_string(),
            order_id: ret.order_id.to_string(),
            location_id: ret.location_id.to_string(),
            lines: damaged,
            at: Some(timestamp(at)),
        }));
    }
    out
}

fn refund_failed(ret: &Return, refund_id: &RefundId, reason: &str, at: DateTime<Utc>) -> Event {
    Event::RefundFailed(pb::RefundFailed {
        refund_id: refund_id.to_string(),
        return_id: ret.return_id.to_string(),
        order_id: ret.order_id.to_string(),
        amount_minor: ret.refund(refund_id).map_or(0, |r| r.amount_minor),
        reason: reason.to_owned(),
        at: Some(timestamp(at)),
    })
}

/// Order capture records one refund per return: announced when all of it is.
fn refund_confirmed(ret: &Return, refund_id: &RefundId, at: DateTime<Utc>) -> Option<Event> {
    let all = ret
        .refunds
        .iter()
        .all(|r| matches!(r.status, RefundStatus::Confirmed | RefundStatus::Retried));
    all.then(|| {
        let refunded = ret.money(ret.refunded_minor());
        Event::RefundConfirmed(pb::RefundConfirmed {
            return_id: ret.return_id.to_string(),
            order_id: ret.order_id.to_string(),
            amount_minor: refunded.amount_minor,
            currency: refunded.currency,
            at: Some(timestamp(at)),
            refund_id: refund_id.to_string(),
        })
    })
}

fn message(return_id: &ReturnId, event: Event, at: DateTime<Utc>) -> OutboxMessage {
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
        topic: oms_proto::topics::RETURNS.name.to_owned(),
        key: return_id.to_string(),
        message_type: format!("oms.returns.v1.{kind}"),
        payload: pb::ReturnEvent { event: Some(event) }.encode_to_vec(),
        headers: vec![("oms_correlation_id".to_owned(), return_id.to_string())],
        created_at: at,
    }
}
