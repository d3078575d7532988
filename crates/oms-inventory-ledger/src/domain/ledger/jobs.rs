//! What fulfilment and returns report about stock: units that left a location for an
//! order (shipped or handed over), jobs given back (rejected, cancelled, taken back by
//! routing) and returned units put back on sale. None of them can be refused — the units
//! moved on the shop floor — and each is applied once, by the movement id it makes.
//! Whether a rejected job's units also leave the shelf is the write-off rule's
//! ([`RejectReason::writes_off`]).

use std::convert::Infallible;

use chrono::{DateTime, Utc};
use oms_eventsourcing::{Change, Changes, Decide};

use super::reservations::{consumed, released};
use super::{Ledger, merge_lines};
use crate::domain::{
    JobId, LedgerEvent, Line, LocationId, MovementKind, ReservationId, ReservationStatus, position_stream,
};

/// Units of a fulfilment job at one location, and the reservation holding them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobUnits {
    pub job: JobId,
    pub reservation_id: ReservationId,
    pub location: LocationId,
    pub lines: Vec<Line>,
    /// When it happened on the shop floor.
    pub at: DateTime<Utc>,
}

/// A job's units left the location (shipped, or handed to the customer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitsLeft {
    pub job: JobUnits,
}

impl Decide<Ledger> for UnitsLeft {
    type Refusal = Infallible;

    fn decide(&self, ledger: &Ledger, _now: DateTime<Utc>) -> Result<Changes<LedgerEvent>, Infallible> {
        Ok(units_left(ledger, &self.job))
    }
}

/// Why a node rejected a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// The units were not on the shelf.
    OutOfStock,
    /// The units were there, but not fit to sell.
    Damaged,
    /// The node had no hands for the job.
    Capacity,
    /// The node did not accept the job within its deadline.
    AcceptanceTimeout,
    /// The node gave none.
    Unstated,
}

impl RejectReason {
    /// The write-off rule: a node that found the units missing or damaged says they are
    /// no longer stock to sell, so the ledger takes them off the shelf rather than
    /// promise them again. A reject for any other reason says nothing about the shelf.
    pub fn writes_off(self) -> bool {
        matches!(self, RejectReason::OutOfStock | RejectReason::Damaged)
    }

    /// In words, for the reason a reservation is given back.
    pub fn label(self) -> &'static str {
        match self {
            RejectReason::OutOfStock => "out of stock",
            RejectReason::Damaged => "damaged",
            RejectReason::Capacity => "no capacity",
            RejectReason::AcceptanceTimeout => "not accepted in time",
            RejectReason::Unstated => "no reason given",
        }
    }
}

/// A node rejected a job: its held units go back, and the write-off rule decides whether
/// they also leave the shelf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRejected {
    pub job: JobUnits,
    pub reason: RejectReason,
}

impl Decide<Ledger> for JobRejected {
    type Refusal = Infallible;

    fn decide(&self, ledger: &Ledger, _now: DateTime<Utc>) -> Result<Changes<LedgerEvent>, Infallible> {
        let why = format!("job {} rejected: {}", self.job.job, self.reason.label());
        let mut changes = hold_given_back(ledger, &self.job, &why);
        if self.reason.writes_off() {
            changes.extend(written_off(ledger, &self.job));
        }
        Ok(changes)
    }
}

/// A job was cancelled, or routing took its request back: its held units go back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobDropped {
    pub job: JobUnits,
    pub reason: String,
}

impl Decide<Ledger> for JobDropped {
    type Refusal = Infallible;

    fn decide(&self, ledger: &Ledger, _now: DateTime<Utc>) -> Result<Changes<LedgerEvent>, Infallible> {
        Ok(hold_given_back(ledger, &self.job, &self.reason))
    }
}

/// Returned units inspected as resellable (or a parcel nobody collected) go back on sale
/// where they are. `reference` names what brought them back (a return, an uncollected job).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restock {
    pub reference: String,
    pub location: LocationId,
    pub lines: Vec<Line>,
    pub at: DateTime<Utc>,
}

impl Decide<Ledger> for Restock {
    type Refusal = Infallible;

    fn decide(&self, ledger: &Ledger, _now: DateTime<Utc>) -> Result<Changes<LedgerEvent>, Infallible> {
        Ok(merge_lines(&self.lines)
            .iter()
            .filter(|line| {
                line.quantity > 0 && !ledger.has_seen_movement(&self.location, &movement_id(&self.reference, line))
            })
            .map(|line| own_movement(&self.reference, &self.location, line, MovementKind::Restock, self.at))
            .collect())
    }
}

/// Units taken from the reservation as far as it holds them; what it does not hold (it
/// lapsed, or there was none) leaves stock directly.
fn units_left(ledger: &Ledger, job: &JobUnits) -> Changes<LedgerEvent> {
    let (mut changes, direct) = match ledger.active_reservation_at(&job.reservation_id, &job.location) {
        Some(reservation) => {
            let mut from_hold = Vec::new();
            let mut direct = Vec::new();
            for line in merge_lines(&job.lines) {
                let held = reservation.held_of(&line.sku).min(line.quantity).max(0);
                if held > 0 {
                    from_hold.push(Line::new(line.sku.clone(), held));
                }
                if line.quantity > held {
                    direct.push(Line::new(line.sku, line.quantity - held));
                }
            }
            let changes = if from_hold.is_empty() {
                Vec::new()
            } else {
                consumed(reservation, from_hold)
            };
            (changes, direct)
        }
        None => match ledger.reservations.get(&job.reservation_id) {
            // Consumed in full before (a parcel shipped to a store, then collected there):
            // the units left the ledger's stock then.
            Some(r) if r.status == ReservationStatus::Consumed && r.location == job.location => {
                (Vec::new(), Vec::new())
            }
            _ => (Vec::new(), merge_lines(&job.lines)),
        },
    };
    for line in direct {
        if !ledger.has_seen_movement(&job.location, &movement_id(job.job.as_str(), &line)) {
            changes.push(own_movement(
                job.job.as_str(),
                &job.location,
                &line,
                MovementKind::Shipment,
                job.at,
            ));
        }
    }
    changes
}

/// What the job's reservation still holds of its units, given back.
fn hold_given_back(ledger: &Ledger, job: &JobUnits, reason: &str) -> Changes<LedgerEvent> {
    let Some(reservation) = ledger.active_reservation_at(&job.reservation_id, &job.location) else {
        return Vec::new();
    };
    let to_release: Vec<Line> = if job.lines.is_empty() {
        reservation.held.iter().filter(|l| l.quantity > 0).cloned().collect()
    } else {
        merge_lines(&job.lines)
            .into_iter()
            .map(|l| Line::new(l.sku.clone(), reservation.held_of(&l.sku).min(l.quantity)))
            .filter(|l| l.quantity > 0)
            .collect()
    };
    if to_release.is_empty() {
        return Vec::new();
    }
    released(reservation, to_release, reason)
}

/// The job's units taken off the shelf, once.
fn written_off(ledger: &Ledger, job: &JobUnits) -> Changes<LedgerEvent> {
    merge_lines(&job.lines)
        .iter()
        .filter(|line| !ledger.has_seen_movement(&job.location, &movement_id(job.job.as_str(), line)))
        .map(|line| own_movement(job.job.as_str(), &job.location, line, MovementKind::WriteOff, job.at))
        .collect()
}

/// The id of a movement the OMS makes itself: its cause (a job or return) and the SKU.
fn movement_id(cause: &str, line: &Line) -> String {
    format!("{cause}/{}", line.sku)
}

fn own_movement(
    cause: &str,
    location: &LocationId,
    line: &Line,
    kind: MovementKind,
    at: DateTime<Utc>,
) -> Change<LedgerEvent> {
    Change::new(
        position_stream(location.as_str(), line.sku.as_str()),
        LedgerEvent::StockMoved {
            sku: line.sku.clone(),
            location: location.clone(),
            movement_id: movement_id(cause, line),
            kind,
            quantity: line.quantity,
            delta: kind.delta(line.quantity),
            occurred_at: at,
        },
    )
}
