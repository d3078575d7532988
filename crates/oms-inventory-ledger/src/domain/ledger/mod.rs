//! The ledger's whole state — every position, reservation, location, channel rule and
//! registered SKU — how each event folds into it, and what can be read from it. The
//! commands decided against it live beside it, one file per seam: [`movements`] (POS stock
//! movements), [`reservations`] (holds for orders), [`jobs`] (what fulfilment and returns
//! report) and [`master_data`] (locations, channel rules, SKUs, safety stock).

mod jobs;
mod master_data;
mod movements;
mod reservations;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use oms_eventsourcing::{EventHeader, Model};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

pub use jobs::{JobDropped, JobRejected, JobUnits, RejectReason, Restock, UnitsLeft};
pub use master_data::{RegisterSkus, SetChannelRule, SetSafetyStock, UpsertLocation};
pub use movements::RecordMovement;
pub use reservations::{ExpireDue, Reserve};

use super::commands::{ChannelRule, LocationRecord};
use super::errors::LedgerError;
use super::events::LedgerEvent;
use super::position::Position;
use super::reservation::{Reservation, ReservationStatus};
use super::{Line, LocationId, ReservationId, Sku};

/// What to do with a SKU the ledger has never seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum UnknownSkus {
    /// Take it: the first movement creates its position.
    #[default]
    Accept,
    /// Refuse it until it is registered.
    Refuse,
}

/// Settings the rules depend on; the service puts them into the commands that need them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerPolicy {
    pub unknown_skus: UnknownSkus,
    /// How long a reservation holds when the caller names no time.
    pub default_ttl: Duration,
}

impl Default for LedgerPolicy {
    fn default() -> Self {
        Self {
            unknown_skus: UnknownSkus::Accept,
            default_ttl: Duration::hours(1),
        }
    }
}

/// How long a movement id is remembered to recognise a movement sent twice.
pub const MOVEMENT_MEMORY_HOURS: i64 = 72;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Ledger {
    /// Positions by SKU, then location.
    positions: HashMap<Sku, BTreeMap<LocationId, Position>>,
    /// The SKUs held at each location, in order (the per-location listing).
    by_location: HashMap<LocationId, BTreeSet<Sku>>,
    reservations: HashMap<ReservationId, Reservation>,
    /// Active reservations by the time they lapse.
    expiries: BTreeSet<(DateTime<Utc>, ReservationId)>,
    locations: BTreeMap<LocationId, LocationRecord>,
    /// By the channel's name, as the contract's free string names it.
    channel_rules: BTreeMap<String, ChannelRule>,
    skus: BTreeSet<Sku>,
    /// Recently applied movements (hash of location and movement id), to recognise resends.
    movements_seen: BTreeSet<u64>,
    movements_by_time: BTreeMap<DateTime<Utc>, Vec<u64>>,
    newest_movement: Option<DateTime<Utc>>,
}

impl Model for Ledger {
    type Event = LedgerEvent;
    const NAME: &'static str = "inventory-ledger";
    // 2: a location keeps its kind as a node type and its point as a `GeoPoint`.
    const SNAPSHOT_VERSION: u32 = 2;

    fn apply(&mut self, header: &EventHeader<'_>, event: &LedgerEvent) {
        if let Some((sku, location)) = event.position() {
            self.position_changed(sku, location, event, header.recorded_at);
            return;
        }
        match event {
            LedgerEvent::ReservationPlaced {
                reservation_id,
                reference,
                location,
                lines,
                channel,
                expires_at,
            } => self.reservation_placed(Reservation {
                reservation_id: reservation_id.clone(),
                reference: reference.clone(),
                location: location.clone(),
                lines: lines.clone(),
                held: lines.clone(),
                channel: channel.clone(),
                expires_at: *expires_at,
                status: ReservationStatus::Active,
                consumed: Vec::new(),
            }),
            LedgerEvent::ReservationReleased {
                reservation_id, lines, ..
            } => self.close_lines(reservation_id, lines, ReservationStatus::Released, false),
            LedgerEvent::ReservationConsumed { reservation_id, lines } => {
                self.close_lines(reservation_id, lines, ReservationStatus::Consumed, true);
            }
            LedgerEvent::ReservationExpired { reservation_id, lines } => {
                self.close_lines(reservation_id, lines, ReservationStatus::Expired, false);
            }
            LedgerEvent::LocationUpserted { location } => {
                self.locations
                    .insert(location.location_id.clone(), LocationRecord::from(location));
            }
            LedgerEvent::ChannelRuleSet { rule } => {
                self.channel_rules.insert(rule.channel.clone(), ChannelRule::from(rule));
            }
            LedgerEvent::SkuRegistered { sku } => {
                self.skus.insert(sku.clone());
            }
            LedgerEvent::StockMoved { .. }
            | LedgerEvent::StockCounted { .. }
            | LedgerEvent::SafetyStockSet { .. }
            | LedgerEvent::UnitsReserved { .. }
            | LedgerEvent::ReservedUnitsReleased { .. }
            | LedgerEvent::ReservedUnitsConsumed { .. } => {}
        }
    }
}

impl Ledger {
    // ----------------------------------------------------------------------------------
    // Reading.

    pub fn position(&self, sku: &str, location: &str) -> Option<&Position> {
        self.positions.get(sku)?.get(location)
    }

    /// Every location holding `sku`, with its position.
    pub fn positions_of(&self, sku: &str) -> impl Iterator<Item = (&LocationId, &Position)> {
        self.positions
            .get(sku)
            .into_iter()
            .flat_map(|by_location| by_location.iter())
    }

    /// Positions at `location`, in SKU order, after `after` (exclusive), at most `limit`.
    pub fn positions_at(&self, location: &str, after: &str, limit: usize) -> Vec<(&Sku, &Position)> {
        let Some(skus) = self.by_location.get(location) else {
            return Vec::new();
        };
        let from = std::ops::Bound::Excluded(after);
        let range = if after.is_empty() {
            skus.range::<str, _>(..)
        } else {
            skus.range::<str, _>((from, std::ops::Bound::Unbounded))
        };
        range
            .take(limit)
            .filter_map(|sku| Some((sku, self.position(sku.as_str(), location)?)))
            .collect()
    }

    pub fn reservation(&self, id: &str) -> Option<&Reservation> {
        self.reservations.get(id)
    }

    pub fn location(&self, id: &str) -> Option<&LocationRecord> {
        self.locations.get(id)
    }

    pub fn locations(&self) -> impl Iterator<Item = &LocationRecord> {
        self.locations.values()
    }

    pub fn channel_rule(&self, channel: &str) -> Option<&ChannelRule> {
        self.channel_rules.get(channel)
    }

    pub fn channel_rules(&self) -> impl Iterator<Item = &ChannelRule> {
        self.channel_rules.values()
    }

    pub fn is_registered(&self, sku: &str) -> bool {
        self.skus.contains(sku)
    }

    /// What `channel` may promise of a position ("" or an unknown channel: everything).
    pub fn channel_available(&self, position: &Position, channel: &str) -> i64 {
        let available = position.available_to_promise();
        match self.channel_rules.get(channel) {
            Some(rule) => rule.apply(available),
            None => available,
        }
    }

    /// Active reservations whose hold has lapsed at `now`, oldest first.
    pub fn due_reservations(&self, now: DateTime<Utc>, limit: usize) -> Vec<&ReservationId> {
        self.expiries
            .iter()
            .take_while(|(at, _)| *at <= now)
            .take(limit)
            .map(|(_, id)| id)
            .collect()
    }

    pub fn positions_count(&self) -> usize {
        self.positions.values().map(BTreeMap::len).sum()
    }

    pub fn has_seen_movement(&self, location: &LocationId, movement_id: &str) -> bool {
        self.movements_seen.contains(&movement_key(location, movement_id))
    }

    // ----------------------------------------------------------------------------------
    // What several rules check.

    fn check_location(&self, location: &LocationId, must_be_active: bool) -> Result<(), LedgerError> {
        match self.locations.get(location) {
            None => Err(LedgerError::UnknownLocation(location.clone())),
            Some(l) if must_be_active && !l.active => Err(LedgerError::InactiveLocation(location.clone())),
            Some(_) => Ok(()),
        }
    }

    fn check_sku(&self, sku: &Sku, unknown_skus: UnknownSkus) -> Result<(), LedgerError> {
        match unknown_skus {
            UnknownSkus::Refuse if !self.skus.contains(sku) => Err(LedgerError::UnknownSku(sku.clone())),
            _ => Ok(()),
        }
    }

    /// The active reservation of `reservation_id` at `location`, if there is one.
    fn active_reservation_at(&self, reservation_id: &ReservationId, location: &LocationId) -> Option<&Reservation> {
        self.reservations
            .get(reservation_id)
            .filter(|r| r.status == ReservationStatus::Active && r.location == *location)
    }

    // ----------------------------------------------------------------------------------
    // The fold, in its parts.

    /// An event of one position; a movement or count is also remembered by its id.
    fn position_changed(&mut self, sku: &Sku, location: &LocationId, event: &LedgerEvent, at: DateTime<Utc>) {
        if let LedgerEvent::StockMoved {
            movement_id,
            occurred_at,
            ..
        }
        | LedgerEvent::StockCounted {
            movement_id,
            occurred_at,
            ..
        } = event
        {
            self.remember_movement(location, movement_id, *occurred_at);
        }
        self.position_mut(sku, location).evolve(event, at);
    }

    fn reservation_placed(&mut self, reservation: Reservation) {
        self.expiries
            .insert((reservation.expires_at, reservation.reservation_id.clone()));
        self.reservations
            .insert(reservation.reservation_id.clone(), reservation);
    }

    fn position_mut(&mut self, sku: &Sku, location: &LocationId) -> &mut Position {
        // Keys are copied only for a position seen for the first time.
        let known = self
            .positions
            .get(sku)
            .is_some_and(|by_location| by_location.contains_key(location));
        if !known {
            self.by_location
                .entry(location.clone())
                .or_default()
                .insert(sku.clone());
            self.positions
                .entry(sku.clone())
                .or_default()
                .insert(location.clone(), Position::default());
        }
        let by_location = self.positions.get_mut(sku).expect("inserted above");
        by_location.get_mut(location).expect("inserted above")
    }

    fn remember_movement(&mut self, location: &LocationId, movement_id: &str, occurred_at: DateTime<Utc>) {
        let key = movement_key(location, movement_id);
        if self.movements_seen.insert(key) {
            self.movements_by_time.entry(occurred_at).or_default().push(key);
        }
        let newest = self.newest_movement.map_or(occurred_at, |n| n.max(occurred_at));
        self.newest_movement = Some(newest);
        let horizon = newest - Duration::hours(MOVEMENT_MEMORY_HOURS);
        while let Some(entry) = self.movements_by_time.first_entry() {
            if *entry.key() >= horizon {
                break;
            }
            for key in entry.remove() {
                self.movements_seen.remove(&key);
            }
        }
    }

    fn close_lines(
        &mut self,
        reservation_id: &ReservationId,
        lines: &[Line],
        closed_as: ReservationStatus,
        consumed: bool,
    ) {
        let Some(reservation) = self.reservations.get_mut(reservation_id) else {
            return;
        };
        reservation.take(lines);
        if consumed {
            reservation.add_consumed(lines);
        }
        if !reservation.holds_anything() || closed_as == ReservationStatus::Expired {
            // Fully consumed, or fully given back: consumed wins if any unit shipped.
            reservation.status = match closed_as {
                ReservationStatus::Expired => ReservationStatus::Expired,
                _ if !reservation.consumed.is_empty() => ReservationStatus::Consumed,
                other => other,
            };
            self.expiries.remove(&(reservation.expires_at, reservation_id.clone()));
        }
    }
}

/// Lines with the same SKU added together, in first-seen order.
pub fn merge_lines(lines: &[Line]) -> Vec<Line> {
    let mut merged: Vec<Line> = Vec::with_capacity(lines.len());
    for line in lines {
        match merged.iter_mut().find(|m| m.sku == line.sku) {
            Some(m) => m.quantity += line.quantity,
            None => merged.push(line.clone()),
        }
    }
    merged
}

fn movement_key(location: &LocationId, movement_id: &str) -> u64 {
    let location = location.as_str();
    let mut bytes = Vec::with_capacity(location.len() + movement_id.len() + 1);
    bytes.extend_from_slice(location.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(movement_id.as_bytes());
    xxh3_64(&bytes)
}
