//! Stock movements from POS systems (or the OMS itself): what a sale, receipt, transfer,
//! adjustment or shelf count does to a position, however late it is reported.

use chrono::{DateTime, Utc};
use oms_eventsourcing::{Change, Changes, Decide};

use super::{Ledger, UnknownSkus};
use crate::domain::position::{Position, RECONCILE_DAYS};
use crate::domain::{LedgerError, LedgerEvent, Movement, MovementKind, position_stream};

/// Record one stock movement, under the ledger's policy for SKUs it has never seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMovement {
    pub movement: Movement,
    pub unknown_skus: UnknownSkus,
}

impl Decide<Ledger> for RecordMovement {
    type Refusal = LedgerError;

    fn decide(&self, ledger: &Ledger, _now: DateTime<Utc>) -> Result<Changes<LedgerEvent>, LedgerError> {
        record_movement(ledger, &self.movement, self.unknown_skus)
    }
}

/// A movement seen before changes nothing; one that occurred before the last count is
/// recorded but does not move on hand (the count already saw it).
fn record_movement(
    ledger: &Ledger,
    m: &Movement,
    unknown_skus: UnknownSkus,
) -> Result<Changes<LedgerEvent>, LedgerError> {
    m.violations("").or_ok(()).map_err(LedgerError::Invalid)?;
    ledger.check_location(&m.location, false)?;
    ledger.check_sku(&m.sku, unknown_skus)?;
    if ledger.has_seen_movement(&m.location, &m.movement_id) {
        return Ok(Vec::new());
    }
    let none = Position::default();
    let position = ledger.position(m.sku.as_str(), m.location.as_str()).unwrap_or(&none);
    let event = match m.kind {
        MovementKind::CycleCount => shelf_counted(ledger, position, m)?,
        kind => stock_moved(position, m, kind),
    };
    Ok(vec![Change::new(
        position_stream(m.location.as_str(), m.sku.as_str()),
        event,
    )])
}

/// A count sets on hand to what was counted plus what moved after it was taken; a count
/// older than the last one, or than the movements kept to reconcile it, cannot.
fn shelf_counted(ledger: &Ledger, position: &Position, m: &Movement) -> Result<LedgerEvent, LedgerError> {
    let newest = ledger.newest_movement.unwrap_or(m.occurred_at).max(m.occurred_at);
    if position.count_too_old(m.occurred_at, newest) {
        return Err(LedgerError::CountTooOld(m.occurred_at.to_rfc3339(), RECONCILE_DAYS));
    }
    let delta = if position.counted_after(m.occurred_at) {
        0
    } else {
        position.on_hand_after_count(m.quantity, m.occurred_at) - position.on_hand
    };
    Ok(LedgerEvent::StockCounted {
        sku: m.sku.clone(),
        location: m.location.clone(),
        movement_id: m.movement_id.clone(),
        counted: m.quantity,
        delta,
        occurred_at: m.occurred_at,
    })
}

fn stock_moved(position: &Position, m: &Movement, kind: MovementKind) -> LedgerEvent {
    LedgerEvent::StockMoved {
        sku: m.sku.clone(),
        location: m.location.clone(),
        movement_id: m.movement_id.clone(),
        kind,
        quantity: m.quantity,
        delta: if position.counted_after(m.occurred_at) {
            0
        } else {
            kind.delta(m.quantity)
        },
        occurred_at: m.occurred_at,
    }
}
