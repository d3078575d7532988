//! What the ledger is told and asked, in the retailer's words: stock movements, locations,
//! channel rules and the requests of reservations. The commands made of them, and their
//! rules, are in `ledger/`.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::Line;

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
    pub movement_id: String,
    pub location: String,
    pub sku: String,
    pub kind: MovementKind,
    /// Units; signed for adjustments, absolute for counts, positive otherwise.
    pub quantity: i64,
    pub occurred_at: DateTime<Utc>,
}

impl Movement {
    /// Every bad field of the movement (empty when it is well formed).
    pub fn violations(&self, prefix: &str) -> Vec<(String, String)> {
        let mut bad = Vec::new();
        let field = |name: &str| {
            if prefix.is_empty() {
                name.to_owned()
            } else {
                format!("{prefix}.{name}")
            }
        };
        if self.movement_id.trim().is_empty() {
            bad.push((field("movement_id"), "is required".to_owned()));
        }
        if self.location.trim().is_empty() {
            bad.push((field("location_id"), "is required".to_owned()));
        }
        if self.sku.trim().is_empty() {
            bad.push((field("sku"), "is required".to_owned()));
        }
        match self.kind {
            MovementKind::Adjustment if self.quantity == 0 => {
                bad.push((field("quantity"), "an adjustment must change stock (not 0)".to_owned()));
            }
            MovementKind::Adjustment => {}
            MovementKind::CycleCount if self.quantity < 0 => {
                bad.push((field("quantity"), "a count cannot be negative".to_owned()));
            }
            MovementKind::CycleCount => {}
            _ if self.quantity <= 0 => {
                bad.push((
                    field("quantity"),
                    format!("a {} must be of 1 unit or more", self.kind.name()),
                ));
            }
            _ => {}
        }
        bad
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LocationType {
    Store,
    Warehouse,
    Supplier,
}

/// A place that holds stock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationRecord {
    pub location_id: String,
    pub kind: LocationType,
    pub name: String,
    /// Free attributes: region, group, address lines...
    pub attributes: BTreeMap<String, String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
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
    pub reservation_id: String,
    pub reference: String,
    pub location: String,
    pub lines: Vec<Line>,
    /// How long the hold lasts unless consumed or released.
    pub ttl: Duration,
    /// The channel the units are for: its rule decides how many it may take. Empty: none.
    pub channel: String,
}

/// Give held units back. No lines: everything still held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseReservation {
    pub reservation_id: String,
    pub lines: Vec<Line>,
    pub reason: String,
}

/// Held units left the location. No lines: everything still held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumeReservation {
    pub reservation_id: String,
    pub lines: Vec<Line>,
}
