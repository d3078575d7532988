//! Reservations: units of a location held for an order, all lines or none, until they
//! leave (consumed), are given back (released) or the hold lapses (expired). A request sent
//! again is answered with the reservation as it is, whatever became of it.

use std::convert::Infallible;

use chrono::{DateTime, Duration, Utc};
use oms_eventsourcing::{Change, Changes, Decide};

use super::{Ledger, UnknownSkus, merge_lines};
use crate::domain::{
    ConsumeReservation, LedgerError, LedgerEvent, Line, LocationId, ReleaseReservation, Reservation, ReservationId,
    ReservationStatus, ReserveStock, Shortfall, Violations, position_stream, reservation_stream,
};

/// Hold the units of `request`, under the ledger's policy for unknown SKUs and the hold it
/// gives when the caller names no time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reserve {
    pub request: ReserveStock,
    pub unknown_skus: UnknownSkus,
    pub default_ttl: Duration,
}

impl Decide<Ledger> for Reserve {
    type Refusal = LedgerError;

    fn decide(&self, ledger: &Ledger, now: DateTime<Utc>) -> Result<Changes<LedgerEvent>, LedgerError> {
        reserve(ledger, self, now)
    }
}

impl Decide<Ledger> for ReleaseReservation {
    type Refusal = LedgerError;

    fn decide(&self, ledger: &Ledger, _now: DateTime<Utc>) -> Result<Changes<LedgerEvent>, LedgerError> {
        release(ledger, self)
    }
}

impl Decide<Ledger> for ConsumeReservation {
    type Refusal = LedgerError;

    fn decide(&self, ledger: &Ledger, _now: DateTime<Utc>) -> Result<Changes<LedgerEvent>, LedgerError> {
        consume(ledger, self)
    }
}

/// Lapse the holds of the reservations due now, at most `limit` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpireDue {
    pub limit: usize,
}

impl Decide<Ledger> for ExpireDue {
    type Refusal = Infallible;

    fn decide(&self, ledger: &Ledger, now: DateTime<Utc>) -> Result<Changes<LedgerEvent>, Infallible> {
        Ok(expire_due(ledger, now, self.limit))
    }
}

/// Holds every line at the location, or nothing. The same reservation id again for the
/// same units changes nothing (the caller is answered the reservation placed first); for
/// other units it is refused.
fn reserve(ledger: &Ledger, command: &Reserve, now: DateTime<Utc>) -> Result<Changes<LedgerEvent>, LedgerError> {
    let request = &command.request;
    reserve_violations(request).or_ok(()).map_err(LedgerError::Invalid)?;
    let lines = merge_lines(&request.lines);
    if let Some(existing) = ledger.reservations.get(&request.reservation_id) {
        return if existing.location == request.location && existing.lines == lines {
            Ok(Vec::new())
        } else {
            Err(LedgerError::ReservationIdReused(request.reservation_id.clone()))
        };
    }
    ledger.check_location(&request.location, true)?;
    for line in &lines {
        ledger.check_sku(&line.sku, command.unknown_skus)?;
    }
    let shortfalls = shortfalls(ledger, &request.location, &request.channel, &lines);
    if !shortfalls.is_empty() {
        return Err(LedgerError::InsufficientStock(shortfalls));
    }
    let ttl = if request.ttl == Duration::zero() {
        command.default_ttl
    } else {
        request.ttl
    };
    Ok(placed(request, lines, now + ttl))
}

fn reserve_violations(request: &ReserveStock) -> Violations {
    let mut bad = Violations::new();
    bad.require(request.reservation_id.as_str(), "reservation_id");
    bad.require(request.location.as_str(), "location_id");
    bad.check(request.lines.is_empty(), "lines", "at least one line is required");
    for (i, line) in request.lines.iter().enumerate() {
        bad.require(line.sku.as_str(), format!("lines[{i}].sku"));
        bad.check(line.quantity <= 0, format!("lines[{i}].quantity"), "must be 1 or more");
    }
    bad.check(request.ttl < Duration::zero(), "ttl_seconds", "cannot be negative");
    bad
}

/// The lines the location cannot hold in full for `channel` (after its rule).
fn shortfalls(ledger: &Ledger, location: &LocationId, channel: &str, lines: &[Line]) -> Vec<Shortfall> {
    lines
        .iter()
        .filter_map(|line| {
            let available = ledger
                .position(line.sku.as_str(), location.as_str())
                .map_or(0, |p| ledger.channel_available(p, channel));
            (available < line.quantity).then(|| Shortfall {
                sku: line.sku.clone(),
                requested: line.quantity,
                available,
            })
        })
        .collect()
}

/// The reservation placed, and the units it holds at each of its positions.
fn placed(request: &ReserveStock, lines: Vec<Line>, expires_at: DateTime<Utc>) -> Changes<LedgerEvent> {
    let held: Changes<LedgerEvent> = lines
        .iter()
        .map(|line| {
            Change::new(
                position_stream(request.location.as_str(), line.sku.as_str()),
                LedgerEvent::UnitsReserved {
                    sku: line.sku.clone(),
                    location: request.location.clone(),
                    reservation_id: request.reservation_id.clone(),
                    quantity: line.quantity,
                },
            )
        })
        .collect();
    let mut changes = vec![Change::new(
        reservation_stream(request.reservation_id.as_str()),
        LedgerEvent::ReservationPlaced {
            reservation_id: request.reservation_id.clone(),
            reference: request.reference.clone(),
            location: request.location.clone(),
            lines,
            channel: request.channel.clone(),
            expires_at,
        },
    )];
    changes.extend(held);
    changes
}

/// Gives held units back (all of them when no lines are named). A reservation that holds
/// nothing any more (released, lapsed, or closed by shipping what it did not give back) has
/// nothing to give: the release changes nothing, and the caller is answered the reservation
/// as it is — so a release sent again is answered as the first was.
fn release(ledger: &Ledger, command: &ReleaseReservation) -> Result<Changes<LedgerEvent>, LedgerError> {
    let reservation = asked_reservation(ledger, &command.reservation_id)?;
    if reservation.status != ReservationStatus::Active {
        return Ok(Vec::new());
    }
    let lines = lines_to_close(reservation, &command.lines)?;
    if lines.is_empty() {
        return Ok(Vec::new());
    }
    Ok(released(reservation, lines, &command.reason))
}

/// Held units left the location (all of them when no lines are named). On a reservation
/// that holds nothing any more, a consume its consumed units already account for (one sent
/// again) changes nothing and is answered the reservation as it is; units it never
/// consumed cannot leave from it now.
fn consume(ledger: &Ledger, command: &ConsumeReservation) -> Result<Changes<LedgerEvent>, LedgerError> {
    let reservation = asked_reservation(ledger, &command.reservation_id)?;
    if reservation.status != ReservationStatus::Active {
        return consumed_already(reservation, &command.lines).map(|()| Vec::new());
    }
    let lines = lines_to_close(reservation, &command.lines)?;
    if lines.is_empty() {
        return Ok(Vec::new());
    }
    Ok(consumed(reservation, lines))
}

/// Lapses the holds of reservations due at `now`.
fn expire_due(ledger: &Ledger, now: DateTime<Utc>, limit: usize) -> Changes<LedgerEvent> {
    let mut changes = Vec::new();
    for id in ledger.due_reservations(now, limit) {
        let Some(reservation) = ledger.reservations.get(id) else {
            continue;
        };
        let lines: Vec<Line> = reservation.held.iter().filter(|l| l.quantity > 0).cloned().collect();
        changes.push(Change::new(
            reservation_stream(id.as_str()),
            LedgerEvent::ReservationExpired {
                reservation_id: id.clone(),
                lines: lines.clone(),
            },
        ));
        changes.extend(unit_changes(reservation, &lines, UnitChange::Released));
    }
    changes
}

/// `lines` of `reservation` given back, for `reason`.
pub(super) fn released(reservation: &Reservation, lines: Vec<Line>, reason: &str) -> Changes<LedgerEvent> {
    let mut changes = vec![Change::new(
        reservation_stream(reservation.reservation_id.as_str()),
        LedgerEvent::ReservationReleased {
            reservation_id: reservation.reservation_id.clone(),
            lines: lines.clone(),
            reason: reason.to_owned(),
        },
    )];
    changes.extend(unit_changes(reservation, &lines, UnitChange::Released));
    changes
}

/// `lines` of `reservation` left the location.
pub(super) fn consumed(reservation: &Reservation, lines: Vec<Line>) -> Changes<LedgerEvent> {
    let mut changes = vec![Change::new(
        reservation_stream(reservation.reservation_id.as_str()),
        LedgerEvent::ReservationConsumed {
            reservation_id: reservation.reservation_id.clone(),
            lines: lines.clone(),
        },
    )];
    changes.extend(unit_changes(reservation, &lines, UnitChange::Consumed));
    changes
}

/// The reservation a command names.
fn asked_reservation<'a>(ledger: &'a Ledger, id: &ReservationId) -> Result<&'a Reservation, LedgerError> {
    if id.as_str().trim().is_empty() {
        return Err(LedgerError::invalid("reservation_id", "is required"));
    }
    ledger
        .reservations
        .get(id)
        .ok_or_else(|| LedgerError::UnknownReservation(id.clone()))
}

/// The lines to take off a reservation: those asked (each at most what is held), or
/// everything held.
fn lines_to_close(reservation: &Reservation, asked: &[Line]) -> Result<Vec<Line>, LedgerError> {
    if asked.is_empty() {
        return Ok(reservation.held.iter().filter(|l| l.quantity > 0).cloned().collect());
    }
    let mut lines = Vec::new();
    for (i, line) in merge_lines(asked).into_iter().enumerate() {
        if line.quantity <= 0 {
            return Err(LedgerError::invalid(
                format!("lines[{i}].quantity"),
                "must be 1 or more",
            ));
        }
        let held = reservation.held_of(&line.sku);
        if line.quantity > held {
            return Err(LedgerError::MoreThanHeld {
                reservation_id: reservation.reservation_id.clone(),
                sku: line.sku,
                held,
                requested: line.quantity,
            });
        }
        lines.push(line);
    }
    Ok(lines)
}

/// `Ok` when the units `asked` (everything, when none are named) are among those a closed
/// reservation consumed: a consume sent again. Otherwise why they cannot leave from it.
fn consumed_already(reservation: &Reservation, asked: &[Line]) -> Result<(), LedgerError> {
    if reservation.consumed.is_empty() {
        return Err(LedgerError::ReservationClosed {
            reservation_id: reservation.reservation_id.clone(),
            status: reservation.status.name(),
            action: "consumed",
        });
    }
    match merge_lines(asked)
        .into_iter()
        .find(|line| line.quantity > reservation.consumed_of(&line.sku))
    {
        None => Ok(()),
        Some(line) => Err(LedgerError::MoreThanHeld {
            reservation_id: reservation.reservation_id.clone(),
            sku: line.sku,
            held: 0,
            requested: line.quantity,
        }),
    }
}

enum UnitChange {
    Released,
    Consumed,
}

/// What closing `lines` of a reservation does to each of its positions.
fn unit_changes(reservation: &Reservation, lines: &[Line], change: UnitChange) -> Changes<LedgerEvent> {
    lines
        .iter()
        .map(|line| {
            let (sku, location, reservation_id, quantity) = (
                line.sku.clone(),
                reservation.location.clone(),
                reservation.reservation_id.clone(),
                line.quantity,
            );
            let event = match change {
                UnitChange::Released => LedgerEvent::ReservedUnitsReleased {
                    sku,
                    location,
                    reservation_id,
                    quantity,
                },
                UnitChange::Consumed => LedgerEvent::ReservedUnitsConsumed {
                    sku,
                    location,
                    reservation_id,
                    quantity,
                },
            };
            Change::new(position_stream(reservation.location.as_str(), line.sku.as_str()), event)
        })
        .collect()
}
