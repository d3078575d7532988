//! The integration events the ledger publishes on `oms.inventory.v1`, made from the
//! domain events of a decision.

use chrono::{DateTime, Utc};
use oms_eventsourcing::{Change, OutboxMessage};
use oms_proto::inventory::v1 as pb;
use oms_service::convert::timestamp;
use prost::Message as _;
use uuid::Uuid;

use crate::domain::position::Figures;
use crate::domain::{Ledger, LedgerEvent, Line, LocationId, Position, ReservationId, Sku};

/// The messages announcing `changes`: the new state of every position they touch (once
/// per position, after all of them), and every reservation event.
pub fn for_changes(ledger: &Ledger, changes: &[Change<LedgerEvent>], at: DateTime<Utc>) -> Vec<OutboxMessage> {
    let mut touched: Vec<(&Sku, &LocationId, Figures, &'static str)> = Vec::new();
    let mut messages = Vec::new();
    for Change { event, .. } in changes {
        if let Some((sku, location)) = event.position() {
            let index = match touched.iter().position(|(s, l, _, _)| *s == sku && *l == location) {
                Some(i) => i,
                None => {
                    let figures = ledger
                        .position(sku.as_str(), location.as_str())
                        .map(Position::figures)
                        .unwrap_or_default();
                    touched.push((sku, location, figures, event.cause()));
                    touched.len() - 1
                }
            };
            touched[index].2.evolve(event);
            touched[index].3 = event.cause();
            continue;
        }
        if let Some(message) = reservation_message(ledger, event, at) {
            messages.push(message);
        }
    }
    for (sku, location, position, cause) in touched {
        let event = pb::inventory_event::Event::PositionChanged(pb::PositionChanged {
            sku: sku.to_string(),
            location_id: location.to_string(),
            on_hand: position.on_hand,
            reserved: position.reserved,
            safety_stock: position.safety_stock,
            available_to_promise: position.available_to_promise(),
            negative_on_hand: position.negative_on_hand(),
            cause: cause.to_owned(),
            at: Some(timestamp(at)),
        });
        messages.push(message(sku.as_str(), "PositionChanged", event, at));
    }
    messages
}

fn reservation_message(ledger: &Ledger, event: &LedgerEvent, at: DateTime<Utc>) -> Option<OutboxMessage> {
    let (id, kind, event) = match event {
        LedgerEvent::ReservationPlaced {
            reservation_id,
            reference,
            location,
            lines,
            channel,
            expires_at,
        } => (
            reservation_id,
            "ReservationPlaced",
            pb::inventory_event::Event::ReservationPlaced(pb::ReservationPlaced {
                reservation_id: reservation_id.to_string(),
                reference: reference.clone(),
                location_id: location.to_string(),
                lines: reserved_lines(lines),
                expires_at: Some(timestamp(*expires_at)),
                channel: channel.clone(),
            }),
        ),
        LedgerEvent::ReservationReleased {
            reservation_id,
            lines,
            reason,
        } => {
            let (reference, location) = known(ledger, reservation_id);
            (
                reservation_id,
                "ReservationReleased",
                pb::inventory_event::Event::ReservationReleased(pb::ReservationReleased {
                    reservation_id: reservation_id.to_string(),
                    reference,
                    location_id: location,
                    lines: reserved_lines(lines),
                    reason: reason.clone(),
                }),
            )
        }
        LedgerEvent::ReservationConsumed { reservation_id, lines } => {
            let (reference, location) = known(ledger, reservation_id);
            (
                reservation_id,
                "ReservationConsumed",
                pb::inventory_event::Event::ReservationConsumed(pb::ReservationConsumed {
                    reservation_id: reservation_id.to_string(),
                    reference,
                    location_id: location,
                    lines: reserved_lines(lines),
                }),
            )
        }
        LedgerEvent::ReservationExpired { reservation_id, lines } => {
            let (reference, location) = known(ledger, reservation_id);
            (
                reservation_id,
                "ReservationExpired",
                pb::inventory_event::Event::ReservationExpired(pb::ReservationExpired {
                    reservation_id: reservation_id.to_string(),
                    reference,
                    location_id: location,
                    lines: reserved_lines(lines),
                }),
            )
        }
        _ => return None,
    };
    Some(message(id.as_str(), kind, event, at))
}

/// The reference and location of a reservation, as its messages carry them.
fn known(ledger: &Ledger, reservation_id: &ReservationId) -> (String, String) {
    ledger
        .reservation(reservation_id.as_str())
        .map(|r| (r.reference.clone(), r.location.to_string()))
        .unwrap_or_default()
}

fn reserved_lines(lines: &[Line]) -> Vec<pb::ReservedLine> {
    lines
        .iter()
        .map(|l| pb::ReservedLine {
            sku: l.sku.to_string(),
            quantity: l.quantity,
        })
        .collect()
}

fn message(key: &str, kind: &str, event: pb::inventory_event::Event, at: DateTime<Utc>) -> OutboxMessage {
    OutboxMessage {
        message_id: Uuid::now_v7(),
        topic: oms_proto::topics::INVENTORY.name.to_owned(),
        key: key.to_owned(),
        message_type: format!("oms.inventory.v1.{kind}"),
        payload: pb::InventoryEvent { event: Some(event) }.encode_to_vec(),
        headers: Vec::new(),
        created_at: at,
    }
}
