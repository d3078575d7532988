//! What happens in the ledger, as recorded in its log. Each event is its own schema: it
//! carries values (lines, kinds of movement), never the ledger's state types, so the state
//! can change without changing what was written (`tests/golden.rs` pins the stored form);
//! a change to what an event stores is a new schema version of it, with an upcaster from
//! the one before.
//!
//! Version 2 of `LocationUpserted` speaks the contract kernel: a location's kind by its
//! node type's code (`store`, was `Store`), its point as `location` (was `latitude` and
//! `longitude`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use oms_eventsourcing::upcast::{event, fields_of, object, point_of, take};
use oms_eventsourcing::{DomainEvent, event_type_names};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::commands::{ChannelRule, LocationRecord, MovementKind};
use super::{GeoPoint, Line, LocationId, NodeType, ReservationId, Sku};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LedgerEvent {
    /// Units moved in or out of a position. `delta` is what it did to on hand: zero when a
    /// cycle count taken after the movement already accounts for it.
    StockMoved {
        sku: Sku,
        location: LocationId,
        movement_id: String,
        kind: MovementKind,
        quantity: i64,
        delta: i64,
        occurred_at: DateTime<Utc>,
    },
    /// The shelf was counted at `occurred_at`. On hand became `counted` plus what moved
    /// after the count: `delta` is the change that made.
    StockCounted {
        sku: Sku,
        location: LocationId,
        movement_id: String,
        counted: i64,
        delta: i64,
        occurred_at: DateTime<Utc>,
    },
    SafetyStockSet {
        sku: Sku,
        location: LocationId,
        quantity: i64,
    },
    /// Units of a position held for a reservation.
    UnitsReserved {
        sku: Sku,
        location: LocationId,
        reservation_id: ReservationId,
        quantity: i64,
    },
    /// Held units given back to the position.
    ReservedUnitsReleased {
        sku: Sku,
        location: LocationId,
        reservation_id: ReservationId,
        quantity: i64,
    },
    /// Held units that left the location (shipped or handed over): out of stock and of the hold.
    ReservedUnitsConsumed {
        sku: Sku,
        location: LocationId,
        reservation_id: ReservationId,
        quantity: i64,
    },
    ReservationPlaced {
        reservation_id: ReservationId,
        reference: String,
        location: LocationId,
        lines: Vec<Line>,
        channel: String,
        expires_at: DateTime<Utc>,
    },
    ReservationReleased {
        reservation_id: ReservationId,
        lines: Vec<Line>,
        reason: String,
    },
    ReservationConsumed {
        reservation_id: ReservationId,
        lines: Vec<Line>,
    },
    ReservationExpired {
        reservation_id: ReservationId,
        lines: Vec<Line>,
    },
    LocationUpserted {
        location: LocationDetails,
    },
    ChannelRuleSet {
        rule: ChannelRuleTerms,
    },
    SkuRegistered {
        sku: Sku,
    },
}

/// A location as it was set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationDetails {
    pub location_id: LocationId,
    pub kind: NodeType,
    pub name: String,
    pub attributes: BTreeMap<String, String>,
    pub location: Option<GeoPoint>,
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
            location: l.location,
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
            location: l.location,
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

    fn schema_version(event_type: &str) -> u16 {
        match event_type {
            "LocationUpserted" => 2,
            _ => 1,
        }
    }

    fn upcast(event_type: &str, from: u16, json: Value) -> Result<Value, String> {
        match (event_type, from) {
            ("LocationUpserted", 1) => location_in_kernel_terms(json),
            _ => Err(format!(
                "no upcaster from schema version {from} of event type {event_type}"
            )),
        }
    }
}

/// LocationUpserted v1 → v2: the kind by its node type's code (`Store` → `store`), the
/// point's `latitude` and `longitude` as `location` (null unless both were there).
fn location_in_kernel_terms(json: Value) -> Result<Value, String> {
    let mut fields = fields_of(json, "LocationUpserted")?;
    let mut location = object(take(&mut fields, "location")?)?;
    let kind = take(&mut location, "kind")?;
    let kind = kind
        .as_str()
        .and_then(NodeType::from_variant_name)
        .ok_or_else(|| format!("{kind} is not a location kind of version 1"))?;
    location.insert("kind".to_owned(), Value::String(kind.code().to_owned()));
    let point = point_of(&mut location);
    location.insert("location".to_owned(), point);
    fields.insert("location".to_owned(), Value::Object(location));
    Ok(event("LocationUpserted", fields))
}

impl LedgerEvent {
    /// The (SKU, location) of the position the event changes, if it changes one.
    pub fn position(&self) -> Option<(&Sku, &LocationId)> {
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
