//! What happens in the ledger, as recorded in its log. Each event is its own schema: it
//! carries values (lines, kinds of movement), never the ledger's state types, so the state
//! can change without changing what was written (`tests/golden.rs` pins the stored form).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use oms_eventsourcing::{DomainEvent, event_type_names};
use serde::{Deserialize, Serialize};

use super::Line;
use super::commands::{ChannelRule, LocationRecord, LocationType, MovementKind};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LedgerEvent {
    /// Units moved in or out of a position. `delta` is what it did to on hand: zero when a
    /// cycle count taken after the movement already accounts for it.
    StockMoved {
        sku: String,
        location: String,
        movement_id: String,
        kind: MovementKind,
        quantity: i64,
        delta: i64,
        occurred_at: DateTime<Utc>,
    },
    /// The shelf was counted at `occurred_at`. On hand became `counted` plus what moved
    /// after the count: `delta` is the change that made.
    StockCounted {
        sku: String,
        location: String,
        movement_id: String,
        counted: i64,
        delta: i64,
        occurred_at: DateTime<Utc>,
    },
    SafetyStockSet {
        sku: String,
        location: String,
        quantity: i64,
    },
    /// Units of a position held for a reservation.
    UnitsReserved {
        sku: String,
        location: String,
        reservation_id: String,
        quantity: i64,
    },
    /// Held units given back to the position.
    ReservedUnitsReleased {
        sku: String,
        location: String,
        reservation_id: String,
        quantity: i64,
    },
    /// Held units that left the location (shipped or handed over): out of stock and of the hold.
    ReservedUnitsConsumed {
        sku: String,
        location: String,
        reservation_id: String,
        quantity: i64,
    },
    ReservationPlaced {
        reservation_id: String,
        reference: String,
        location: String,
        lines: Vec<Line>,
        channel: String,
        expires_at: DateTime<Utc>,
    },
    ReservationReleased {
        reservation_id: String,
        lines: Vec<Line>,
        reason: String,
    },
    ReservationConsumed {
        reservation_id: String,
        lines: Vec<Line>,
    },
    ReservationExpired {
        reservation_id: String,
        lines: Vec<Line>,
    },
    LocationUpserted {
        location: LocationDetails,
    },
    ChannelRuleSet {
        rule: ChannelRuleTerms,
    },
    SkuRegistered {
        sku: String,
    },
}

/// A location as it was set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationDetails {
    pub location_id: String,
    pub kind: LocationType,
    pub name: String,
    pub attributes: BTreeMap<String, String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub active: bool,
}

/// What a channel was allowed to promise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelRuleTerms {
    pub channel: String,
    pub holdback_units: i64,
    pub share_percent: u8,
}

impl From<&LocationRecord> for LocationDetails {
    fn from(l: &LocationRecord) -> Self {
        Self {
            location_id: l.location_id.clone(),
            kind: l.kind,
            name: l.name.clone(),
            attributes: l.attributes.clone(),
            latitude: l.latitude,
            longitude: l.longitude,
            active: l.active,
        }
    }
}

impl From<&LocationDetails> for LocationRecord {
    fn from(l: &LocationDetails) -> Self {
        Self {
            location_id: l.location_id.clone(),
            kind: l.kind,
            name: l.name.clone(),
            attributes: l.attributes.clone(),
            latitude: l.latitude,
            longitude: l.longitude,
            active: l.active,
        }
    }
}

impl From<&ChannelRule> for ChannelRuleTerms {
    fn from(r: &ChannelRule) -> Self {
        Self {
            channel: r.channel.clone(),
            holdback_units: r.holdback_units,
            share_percent: r.share_percent,
        }
    }
}

impl From<&ChannelRuleTerms> for ChannelRule {
    fn from(r: &ChannelRuleTerms) -> Self {
        Self {
            channel: r.channel.clone(),
            holdback_units: r.holdback_units,
            share_percent: r.share_percent,
        }
    }
}

impl DomainEvent for LedgerEvent {
    event_type_names!(LedgerEvent {
        StockMoved,
        StockCounted,
        SafetyStockSet,
        UnitsReserved,
        ReservedUnitsReleased,
        ReservedUnitsConsumed,
        ReservationPlaced,
        ReservationReleased,
        ReservationConsumed,
        ReservationExpired,
        LocationUpserted,
        ChannelRuleSet,
        SkuRegistered,
    });
}

impl LedgerEvent {
    /// The (SKU, location) of the position the event changes, if it changes one.
    pub fn position(&self) -> Option<(&str, &str)> {
        match self {
            LedgerEvent::StockMoved { sku, location, .. }
            | LedgerEvent::StockCounted { sku, location, .. }
            | LedgerEvent::SafetyStockSet { sku, location, .. }
            | LedgerEvent::UnitsReserved { sku, location, .. }
            | LedgerEvent::ReservedUnitsReleased { sku, location, .. }
            | LedgerEvent::ReservedUnitsConsumed { sku, location, .. } => Some((sku, location)),
            _ => None,
        }
    }

    /// What changed the position, in words for feeds and messages.
    pub fn cause(&self) -> &'static str {
        match self {
            LedgerEvent::StockMoved { kind, .. } => kind.name(),
            LedgerEvent::StockCounted { .. } => "cycle count",
            LedgerEvent::SafetyStockSet { .. } => "safety stock",
            LedgerEvent::UnitsReserved { .. } => "reserved",
            LedgerEvent::ReservedUnitsReleased { .. } => "released",
            LedgerEvent::ReservedUnitsConsumed { .. } => "consumed",
            LedgerEvent::ReservationPlaced { .. } => "reservation placed",
            LedgerEvent::ReservationReleased { .. } => "reservation released",
            LedgerEvent::ReservationConsumed { .. } => "reservation consumed",
            LedgerEvent::ReservationExpired { .. } => "reservation expired",
            LedgerEvent::LocationUpserted { .. } => "location",
            LedgerEvent::ChannelRuleSet { .. } => "channel rule",
            LedgerEvent::SkuRegistered { .. } => "sku",
        }
    }
}
