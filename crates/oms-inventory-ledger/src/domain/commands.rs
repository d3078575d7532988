//! What the ledger is told and asked, in the retailer's words: stock movements, locations,
//! channel rules and the requests of reservations. The commands made of them, and their
//! rules, are in `ledger/`.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{GeoPoint, Line, LocationId, NodeType, ReservationId, Sku, Violations};

/// How stock moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MovementKind {
    /// Sold at the till: taken off.
    Sale,
    /// Brought back by a customer at the till: put back.
    Return,
    /// Received from a supplier or warehouse.
    Receipt,
    /// A correction, signed.
    Adjustment,
    /// The shelf count, absolute.
    CycleCount,
    /// Sent to another location.
    TransferOut,
    /// Received from another location.
    TransferIn,
    /// Left the location for an order without a reservation holding it.
    Shipment,
    /// Returned units inspected as resellable and put back on sale.
    Restock,
    /// Units found missing or damaged when a store rejected a job.
    WriteOff,
}

impl MovementKind {
    /// The change to on hand of a movement of `quantity` units (not for counts).
    pub fn delta(self, quantity: i64) -> i64 {
        match self {
            MovementKind::Sale | MovementKind::TransferOut | MovementKind::Shipment | MovementKind::WriteOff => {
                -quantity
            }
            MovementKind::Return
            | MovementKind::Receipt
            | MovementKind::Adjustment
            | MovementKind::TransferIn
            | MovementKind::Restock
            | MovementKind::CycleCount => quantity,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            MovementKind::Sale => "sale",
            MovementKind::Return => "return",
            MovementKind::Receipt => "receipt",
            MovementKind::Adjustment => "adjustment",
            MovementKind::CycleCount => "cycle count",
            MovementKind::TransferOut => "transfer out",
            MovementKind::TransferIn => "transfer in",
            MovementKind::Shipment => "shipment",
            MovementKind::Restock => "restock",
            MovementKind::WriteOff => "write-off",
        }
    }
}

/// A stock movement reported by a POS system (or made by the OMS itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Movement {
    /// The POS system's own id of the movement: the same id again is the same movement.
    pub movement_id: String,
    pub location: LocationId,
    pub sku: Sku,
    pub kind: MovementKind,
    /// Units; signed for adjustments, absolute for counts, positive otherwise.
    pub quantity: i64,
    pub occurred_at: DateTime<Utc>,
}

impl Movement {
    /// Every bad field of the movement (none when it is well formed), under `prefix`.
    pub fn violations(&self, prefix: &str) -> Violations {
        let field = |name: &str| {
            if prefix.is_empty() {
                name.to_owned()
            } else {
                format!("{prefix}.{name}")
            }
        };
        let mut bad = Violations::new();
        bad.require(&self.movement_id, field("movement_id"));
        bad.require(self.location.as_str(), field("location_id"));
        bad.require(self.sku.as_str(), field("sku"));
        match self.kind {
            MovementKind::Adjustment => bad.check(
                self.quantity == 0,
                field("quantity"),
                "an adjustment must change stock (not 0)",
            ),
            MovementKind::CycleCount => bad.check(self.quantity < 0, field("quantity"), "a count cannot be negative"),
            kind => bad.check(
                self.quantity <= 0,
                field("quantity"),
                format!("a {} must be of 1 unit or more", kind.name()),
            ),
        }
        bad
    }
}

/// A place that holds stock: one of the network's nodes, of the same kind routing knows
/// it as (the ledger's contract offers stores, warehouses and suppliers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationRecord {
    pub location_id: LocationId,
    pub kind: NodeType,
    pub name: String,
    /// Free attributes: region, group, address lines...
    pub attributes: BTreeMap<String, String>,
    pub location: Option<GeoPoint>,
    pub active: bool,
}

/// How much of the stock a channel may promise: at every position it sees
/// `max(0, available - holdback_units)`, then `share_percent` of that (rounded down).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelRule {
    pub channel: String,
    pub holdback_units: i64,
    /// 1 to 100.
    pub share_percent: u8,
}

impl ChannelRule {
    pub fn apply(&self, available: i64) -> i64 {
        let after_holdback = (available - self.holdback_units).max(0);
        after_holdback * i64::from(self.share_percent.clamp(1, 100)) / 100
    }
}

/// Hold units of several SKUs at one location for an order: all or nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReserveStock {
    pub reservation_id: ReservationId,
    /// What the units are held for, as the caller names it (routing: the order id); the
    /// contract leaves it free, so it is not an `OrderId`.
    pub reference: String,
    pub location: LocationId,
    pub lines: Vec<Line>,
    /// How long the hold lasts unless consumed or released.
    pub ttl: Duration,
    /// The channel the units are for: its rule decides how many it may take. Empty: none.
    pub channel: String,
}

/// Give held units back. No lines: everything still held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseReservation {
    pub reservation_id: ReservationId,
    pub lines: Vec<Line>,
    pub reason: String,
}

/// Held units left the location. No lines: everything still held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumeReservation {
    pub reservation_id: ReservationId,
    pub lines: Vec<Line>,
}
