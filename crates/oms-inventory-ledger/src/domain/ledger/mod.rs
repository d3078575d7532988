//! The ledger's whole state, how every event changes it, and the decisions taken on it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use oms_eventsourcing::{EventHeader, Model};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use super::commands::{
    ChannelRule, ConsumeReservation, LocationRecord, Movement, MovementKind, ReleaseReservation, ReserveStock,
};
use super::errors::{LedgerError, Shortfall};
use super::events::LedgerEvent;
use super::position::Position;
use super::reservation::{Reservation, ReservationStatus};
use super::{Line, channel_stream, location_stream, position_stream, reservation_stream, sku_stream};

/// An event and the stream it is recorded on.
pub type Change = (String, LedgerEvent);

/// What to do with a SKU the ledger has never seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum UnknownSkus {
    /// Take it: the first movement creates its position.
    #[default]
    Accept,
    /// Refuse it until it is registered.
    Refuse,
}

/// Settings the rules depend on.
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
    positions: HashMap<String, BTreeMap<String, Position>>,
    /// The SKUs held at each location, in order (the per-location listing).
    by_location: HashMap<String, BTreeSet<String>>,
    reservations: HashMap<String, Reservation>,
    /// Active reservations by the time they lapse.
    expiries: BTreeSet<(DateTime<Utc>, String)>,
    locations: BTreeMap<String, LocationRecord>,
    channel_rules: BTreeMap<String, ChannelRule>,
    skus: BTreeSet<String>,
    /// Recently applied movements (hash of location and movement id), to recognise resends.
    movements_seen: BTreeSet<u64>,
    movements_by_time: BTreeMap<DateTime<Utc>, Vec<u64>>,
    newest_movement: Option<DateTime<Utc>>,
}

impl Model for Ledger {
    type Event = LedgerEvent;
    const NAME: &'static str = "inventory-ledger";
    const SNAPSHOT_VERSION: u32 = 1;

    fn apply(&mut self, header: &EventHeader<'_>, event: &LedgerEvent) {
        let at = header.recorded_at;
        if let Some((sku, location)) = event.position() {
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
            } => {
                self.expiries.insert((*expires_at, reservation_id.clone()));
                self.reservations.insert(
                    reservation_id.clone(),
                    Reservation {
                        reservation_id: reservation_id.clone(),
                        reference: reference.clone(),
                        location: location.clone(),
                        lines: lines.clone(),
                        held: lines.clone(),
                        channel: channel.clone(),
                        expires_at: *expires_at,
                        status: ReservationStatus::Active,
                        consumed: Vec::new(),
                    },
                );
            }
            LedgerEvent::ReservationReleased {
                reservation_id, lines, ..
            } => {
                self.close_lines(reservation_id, lines, ReservationStatus::Released, false);
            }
            LedgerEvent::ReservationConsumed { reservation_id, lines } => {
                self.close_lines(reservation_id, lines, ReservationStatus::Consumed, true);
            }
            LedgerEvent::ReservationExpired { reservation_id, lines } => {
                self.close_lines(reservation_id, lines, ReservationStatus::Expired, false);
            }
            LedgerEvent::LocationUpserted { location } => {
                self.locations.insert(location.location_id.clone(), location.clone());
            }
            LedgerEvent::ChannelRuleSet { rule } => {
                self.channel_rules.insert(rule.channel.clone(), rule.clone());
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
    pub fn positions_of(&self, sku: &str) -> impl Iterator<Item = (&str, &Position)> {
        self.positions
            .get(sku)
            .into_iter()
            .flat_map(|by_location| by_location.iter().map(|(l, p)| (l.as_str(), p)))
    }

    /// Positions at `location`, in SKU order, after `after` (exclusive), at most `limit`.
    pub fn positions_at(&self, location: &str, after: &str, limit: usize) -> Vec<(&str, &Position)> {
        let Some(skus) = self.by_location.get(location) else {
            return Vec::new();
        };
        let from = std::ops::Bound::Excluded(after.to_owned());
        let range = if after.is_empty() {
            skus.range::<String, _>(..)
        } else {
            skus.range((from, std::ops::Bound::Unbounded))
        };
        range
            .take(limit)
            .filter_map(|sku| Some((sku.as_str(), self.position(sku, location)?)))
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
    pub fn due_reservations(&self, now: DateTime<Utc>, limit: usize) -> Vec<&str> {
        self.expiries
            .iter()
            .take_while(|(at, _)| *at <= now)
            .take(limit)
            .map(|(_, id)| id.as_str())
            .collect()
    }

    pub fn positions_count(&self) -> usize {
        self.positions.values().map(BTreeMap::len).sum()
    }

    pub fn has_seen_movement(&self, location: &str, movement_id: &str) -> bool {
        self.movements_seen.contains(&movement_key(location, movement_id))
    }

    // ----------------------------------------------------------------------------------
    // Deciding.

    /// A stock movement from a POS system (or the OMS itself). A movement seen before
    /// changes nothing; one that occurred before the last count is recorded but does not
    /// move on hand (the count already saw it).
    pub fn record_movement(&self, m: &Movement, policy: &LedgerPolicy) -> Result<Vec<Change>, LedgerError> {
        let bad = m.violations("");
        if !bad.is_empty() {
            return Err(LedgerError::Invalid(bad));
        }
        self.check_location(&m.location, false)?;
        self.check_sku(&m.sku, policy)?;
        if self.has_seen_movement(&m.location, &m.movement_id) {
            return Ok(Vec::new());
        }
        let none = Position::default();
        let position = self.position(&m.sku, &m.location).unwrap_or(&none);
        let stream = position_stream(&m.location, &m.sku);
        let event = match m.kind {
            MovementKind::CycleCount => {
                let newest = self.newest_movement.unwrap_or(m.occurred_at).max(m.occurred_at);
                if position.count_too_old(m.occurred_at, newest) {
                    return Err(LedgerError::CountTooOld(
                        m.occurred_at.to_rfc3339(),
                        super::position::RECONCILE_DAYS,
                    ));
                }
                let delta = if position.counted_after(m.occurred_at) {
                    0
                } else {
                    position.on_hand_after_count(m.quantity, m.occurred_at) - position.on_hand
                };
                LedgerEvent::StockCounted {
                    sku: m.sku.clone(),
                    location: m.location.clone(),
                    movement_id: m.movement_id.clone(),
                    counted: m.quantity,
                    delta,
                    occurred_at: m.occurred_at,
                }
            }
            kind => LedgerEvent::StockMoved {
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
            },
        };
        Ok(vec![(stream, event)])
    }

    /// Holds every line at the location, or nothing. The same reservation id again returns
    /// the reservation already placed.
    pub fn reserve(
        &self,
        cmd: &ReserveStock,
        now: DateTime<Utc>,
        policy: &LedgerPolicy,
    ) -> Result<Reserved, LedgerError> {
        let mut bad = Vec::new();
        if cmd.reservation_id.trim().is_empty() {
            bad.push(("reservation_id".to_owned(), "is required".to_owned()));
        }
        if cmd.location.trim().is_empty() {
            bad.push(("location_id".to_owned(), "is required".to_owned()));
        }
        if cmd.lines.is_empty() {
            bad.push(("lines".to_owned(), "at least one line is required".to_owned()));
        }
        for (i, line) in cmd.lines.iter().enumerate() {
            if line.sku.trim().is_empty() {
                bad.push((format!("lines[{i}].sku"), "is required".to_owned()));
            }
            if line.quantity <= 0 {
                bad.push((format!("lines[{i}].quantity"), "must be 1 or more".to_owned()));
            }
        }
        if cmd.ttl < Duration::zero() {
            bad.push(("ttl_seconds".to_owned(), "cannot be negative".to_owned()));
        }
        if !bad.is_empty() {
            return Err(LedgerError::Invalid(bad));
        }
        let lines = merge_lines(&cmd.lines);
        if let Some(existing) = self.reservations.get(&cmd.reservation_id) {
            return if existing.location == cmd.location && existing.lines == lines {
                Ok(Reserved::Existing(existing.clone()))
            } else {
                Err(LedgerError::ReservationIdReused(cmd.reservation_id.clone()))
            };
        }
        self.check_location(&cmd.location, true)?;
        for line in &lines {
            self.check_sku(&line.sku, policy)?;
        }
        let shortfalls: Vec<Shortfall> = lines
            .iter()
            .filter_map(|line| {
                let available = self
                    .position(&line.sku, &cmd.location)
                    .map_or(0, |p| self.channel_available(p, &cmd.channel));
                (available < line.quantity).then(|| Shortfall {
                    sku: line.sku.clone(),
                    requested: line.quantity,
                    available,
                })
            })
            .collect();
        if !shortfalls.is_empty() {
            return Err(LedgerError::InsufficientStock(shortfalls));
        }
        let ttl = if cmd.ttl == Duration::zero() {
            policy.default_ttl
        } else {
            cmd.ttl
        };
        let mut changes = vec![(
            reservation_stream(&cmd.reservation_id),
            LedgerEvent::ReservationPlaced {
                reservation_id: cmd.reservation_id.clone(),
                reference: cmd.reference.clone(),
                location: cmd.location.clone(),
                lines: lines.clone(),
                channel: cmd.channel.clone(),
                expires_at: now + ttl,
            },
        )];
        for line in &lines {
            changes.push((
                position_stream(&cmd.location, &line.sku),
                LedgerEvent::UnitsReserved {
                    sku: line.sku.clone(),
                    location: cmd.location.clone(),
                    reservation_id: cmd.reservation_id.clone(),
                    quantity: line.quantity,
                },
            ));
        }
        Ok(Reserved::New(changes))
    }

    /// Gives held units back (all of them when no lines are named). A reservation that
    /// holds nothing any more (released, lapsed, or closed by shipping what it did not give
    /// back) has nothing to give: the release changes nothing, and the caller is answered
    /// the reservation as it is — so a release sent again is answered as the first was.
    pub fn release(&self, cmd: &ReleaseReservation) -> Result<Vec<Change>, LedgerError> {
        let reservation = self.asked_reservation(&cmd.reservation_id)?;
        if reservation.status != ReservationStatus::Active {
            return Ok(Vec::new());
        }
        let lines = self.lines_to_close(reservation, &cmd.lines)?;
        if lines.is_empty() {
            return Ok(Vec::new());
        }
        let mut changes = vec![(
            reservation_stream(&reservation.reservation_id),
            LedgerEvent::ReservationReleased {
                reservation_id: reservation.reservation_id.clone(),
                lines: lines.clone(),
                reason: cmd.reason.clone(),
            },
        )];
        changes.extend(unit_changes(reservation, &lines, UnitChange::Released));
        Ok(changes)
    }

    /// Held units left the location (all of them when no lines are named). On a
    /// reservation that holds nothing any more, a consume its consumed units already
    /// account for (one sent again) changes nothing and is answered the reservation as it
    /// is; units it never consumed cannot leave from it now.
    pub fn consume(&self, cmd: &ConsumeReservation) -> Result<Vec<Change>, LedgerError> {
        let reservation = self.asked_reservation(&cmd.reservation_id)?;
        if reservation.status != ReservationStatus::Active {
            return consumed_already(reservation, &cmd.lines).map(|()| Vec::new());
        }
        let lines = self.lines_to_close(reservation, &cmd.lines)?;
        if lines.is_empty() {
            return Ok(Vec::new());
        }
        let mut changes = vec![(
            reservation_stream(&reservation.reservation_id),
            LedgerEvent::ReservationConsumed {
                reservation_id: reservation.reservation_id.clone(),
                lines: lines.clone(),
            },
        )];
        changes.extend(unit_changes(reservation, &lines, UnitChange::Consumed));
        Ok(changes)
    }

    /// Lapses the holds of reservations due at `now`.
    pub fn expire_due(&self, now: DateTime<Utc>, limit: usize) -> Vec<Change> {
        let mut changes = Vec::new();
        for id in self.due_reservations(now, limit) {
            let Some(reservation) = self.reservations.get(id) else {
                continue;
            };
            let lines: Vec<Line> = reservation.held.iter().filter(|l| l.quantity > 0).cloned().collect();
            changes.push((
                reservation_stream(id),
                LedgerEvent::ReservationExpired {
                    reservation_id: id.to_owned(),
                    lines: lines.clone(),
                },
            ));
            changes.extend(unit_changes(reservation, &lines, UnitChange::Released));
        }
        changes
    }

    /// Units left a location for an order (a store or warehouse shipped them, or handed
    /// them to the customer). Taken from the reservation as far as it holds them; what it
    /// does not hold (it lapsed, or there was none) leaves stock directly.
    pub fn units_left(&self, job: &JobUnits<'_>) -> Vec<Change> {
        let JobUnits {
            job,
            reservation_id,
            location,
            lines,
            at,
        } = *job;
        let mut changes = Vec::new();
        let mut direct = Vec::new();
        match self
            .reservations
            .get(reservation_id)
            .filter(|r| r.status == ReservationStatus::Active && r.location == location)
        {
            Some(reservation) => {
                let mut from_hold = Vec::new();
                for line in merge_lines(lines) {
                    let held = reservation.held_of(&line.sku).min(line.quantity).max(0);
                    if held > 0 {
                        from_hold.push(Line::new(line.sku.clone(), held));
                    }
                    if line.quantity > held {
                        direct.push(Line::new(line.sku, line.quantity - held));
                    }
                }
                if !from_hold.is_empty() {
                    changes.push((
                        reservation_stream(reservation_id),
                        LedgerEvent::ReservationConsumed {
                            reservation_id: reservation_id.to_owned(),
                            lines: from_hold.clone(),
                        },
                    ));
                    changes.extend(unit_changes(reservation, &from_hold, UnitChange::Consumed));
                }
            }
            None => match self.reservations.get(reservation_id) {
                // Consumed in full before (a parcel shipped to a store, then collected
                // there): the units left the ledger's stock then.
                Some(r) if r.status == ReservationStatus::Consumed && r.location == location => {}
                _ => direct = merge_lines(lines),
            },
        }
        for line in direct {
            if self.has_seen_movement(location, &format!("{job}/{}", line.sku)) {
                continue;
            }
            changes.push(own_movement(job, location, &line, MovementKind::Shipment, at));
        }
        changes
    }

    /// A job was rejected or cancelled: its held units go back, and units found missing or
    /// damaged (`write_off`) are taken off the shelf.
    pub fn job_dropped(&self, job: &JobUnits<'_>, reason: &str, write_off: bool) -> Vec<Change> {
        let JobUnits {
            job,
            reservation_id,
            location,
            lines,
            at,
        } = *job;
        let mut changes = Vec::new();
        if let Some(reservation) = self
            .reservations
            .get(reservation_id)
            .filter(|r| r.status == ReservationStatus::Active && r.location == location)
        {
            let to_release: Vec<Line> = if lines.is_empty() {
                reservation.held.iter().filter(|l| l.quantity > 0).cloned().collect()
            } else {
                merge_lines(lines)
                    .into_iter()
                    .map(|l| Line::new(l.sku.clone(), reservation.held_of(&l.sku).min(l.quantity)))
                    .filter(|l| l.quantity > 0)
                    .collect()
            };
            if !to_release.is_empty() {
                changes.push((
                    reservation_stream(reservation_id),
                    LedgerEvent::ReservationReleased {
                        reservation_id: reservation_id.to_owned(),
                        lines: to_release.clone(),
                        reason: reason.to_owned(),
                    },
                ));
                changes.extend(unit_changes(reservation, &to_release, UnitChange::Released));
            }
        }
        if write_off {
            for line in merge_lines(lines) {
                if !self.has_seen_movement(location, &format!("{job}/{}", line.sku)) {
                    changes.push(own_movement(job, location, &line, MovementKind::WriteOff, at));
                }
            }
        }
        changes
    }

    /// Returned units inspected as resellable go back on sale where they were received.
    pub fn restock(&self, return_id: &str, location: &str, lines: &[Line], at: DateTime<Utc>) -> Vec<Change> {
        merge_lines(lines)
            .iter()
            .filter(|line| line.quantity > 0 && !self.has_seen_movement(location, &format!("{return_id}/{}", line.sku)))
            .map(|line| own_movement(return_id, location, line, MovementKind::Restock, at))
            .collect()
    }

    pub fn set_safety_stock(
        &self,
        sku: &str,
        location: &str,
        quantity: i64,
        policy: &LedgerPolicy,
    ) -> Result<Vec<Change>, LedgerError> {
        let mut bad = Vec::new();
        if sku.trim().is_empty() {
            bad.push(("sku".to_owned(), "is required".to_owned()));
        }
        if quantity < 0 {
            bad.push(("quantity".to_owned(), "cannot be negative".to_owned()));
        }
        if location.trim().is_empty() {
            bad.push(("location_id".to_owned(), "is required".to_owned()));
        }
        if !bad.is_empty() {
            return Err(LedgerError::Invalid(bad));
        }
        self.check_location(location, false)?;
        self.check_sku(sku, policy)?;
        if self.position(sku, location).is_some_and(|p| p.safety_stock == quantity) {
            return Ok(Vec::new());
        }
        Ok(vec![(
            position_stream(location, sku),
            LedgerEvent::SafetyStockSet {
                sku: sku.to_owned(),
                location: location.to_owned(),
                quantity,
            },
        )])
    }

    pub fn upsert_location(&self, location: &LocationRecord) -> Result<Vec<Change>, LedgerError> {
        let mut bad = Vec::new();
        if location.location_id.trim().is_empty() {
            bad.push(("location_id".to_owned(), "is required".to_owned()));
        }
        if location.latitude.is_some_and(|l| !(-90.0..=90.0).contains(&l)) {
            bad.push((
                "address.location.latitude".to_owned(),
                "must be between -90 and 90".to_owned(),
            ));
        }
        if location.longitude.is_some_and(|l| !(-180.0..=180.0).contains(&l)) {
            bad.push((
                "address.location.longitude".to_owned(),
                "must be between -180 and 180".to_owned(),
            ));
        }
        if !bad.is_empty() {
            return Err(LedgerError::Invalid(bad));
        }
        if self.locations.get(&location.location_id) == Some(location) {
            return Ok(Vec::new());
        }
        Ok(vec![(
            location_stream(&location.location_id),
            LedgerEvent::LocationUpserted {
                location: location.clone(),
            },
        )])
    }

    pub fn set_channel_rule(&self, rule: &ChannelRule) -> Result<Vec<Change>, LedgerError> {
        let mut bad = Vec::new();
        if rule.channel.trim().is_empty() {
            bad.push(("channel".to_owned(), "is required".to_owned()));
        }
        if rule.holdback_units < 0 {
            bad.push(("holdback_units".to_owned(), "cannot be negative".to_owned()));
        }
        if !(1..=100).contains(&rule.share_percent) {
            bad.push(("share_percent".to_owned(), "must be between 1 and 100".to_owned()));
        }
        if !bad.is_empty() {
            return Err(LedgerError::Invalid(bad));
        }
        if self.channel_rules.get(&rule.channel) == Some(rule) {
            return Ok(Vec::new());
        }
        Ok(vec![(
            channel_stream(&rule.channel),
            LedgerEvent::ChannelRuleSet { rule: rule.clone() },
        )])
    }

    pub fn register_skus(&self, skus: &[String]) -> Result<Vec<Change>, LedgerError> {
        let bad: Vec<(String, String)> = skus
            .iter()
            .enumerate()
            .filter(|(_, s)| s.trim().is_empty())
            .map(|(i, _)| (format!("skus[{i}]"), "is empty".to_owned()))
            .collect();
        if !bad.is_empty() {
            return Err(LedgerError::Invalid(bad));
        }
        let new: BTreeSet<&String> = skus.iter().filter(|s| !self.skus.contains(*s)).collect();
        Ok(new
            .into_iter()
            .map(|sku| (sku_stream(sku), LedgerEvent::SkuRegistered { sku: sku.clone() }))
            .collect())
    }

    // ----------------------------------------------------------------------------------

    fn check_location(&self, location: &str, must_be_active: bool) -> Result<(), LedgerError> {
        match self.locations.get(location) {
            None => Err(LedgerError::UnknownLocation(location.to_owned())),
            Some(l) if must_be_active && !l.active => Err(LedgerError::InactiveLocation(location.to_owned())),
            Some(_) => Ok(()),
        }
    }

    fn check_sku(&self, sku: &str, policy: &LedgerPolicy) -> Result<(), LedgerError> {
        match policy.unknown_skus {
            UnknownSkus::Refuse if !self.skus.contains(sku) => Err(LedgerError::UnknownSku(sku.to_owned())),
            _ => Ok(()),
        }
    }

    /// The reservation a command names.
    fn asked_reservation(&self, id: &str) -> Result<&Reservation, LedgerError> {
        if id.trim().is_empty() {
            return Err(LedgerError::invalid("reservation_id", "is required"));
        }
        self.reservations
            .get(id)
            .ok_or_else(|| LedgerError::UnknownReservation(id.to_owned()))
    }

    /// The lines to take off a reservation: those asked (each at most what is held), or
    /// everything held.
    fn lines_to_close(&self, reservation: &Reservation, asked: &[Line]) -> Result<Vec<Line>, LedgerError> {
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

    fn position_mut(&mut self, sku: &str, location: &str) -> &mut Position {
        // Keys are copied only for a position seen for the first time.
        let known = self
            .positions
            .get(sku)
            .is_some_and(|by_location| by_location.contains_key(location));
        if !known {
            self.by_location
                .entry(location.to_owned())
                .or_default()
                .insert(sku.to_owned());
            self.positions
                .entry(sku.to_owned())
                .or_default()
                .insert(location.to_owned(), Position::default());
        }
        let by_location = self.positions.get_mut(sku).expect("inserted above");
        by_location.get_mut(location).expect("inserted above")
    }

    fn remember_movement(&mut self, location: &str, movement_id: &str, occurred_at: DateTime<Utc>) {
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

    fn close_lines(&mut self, reservation_id: &str, lines: &[Line], closed_as: ReservationStatus, consumed: bool) {
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
            self.expiries
                .remove(&(reservation.expires_at, reservation_id.to_owned()));
        }
    }
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

/// Units of a fulfilment job at one location, and the reservation holding them.
#[derive(Debug, Clone, Copy)]
pub struct JobUnits<'a> {
    pub job: &'a str,
    pub reservation_id: &'a str,
    pub location: &'a str,
    pub lines: &'a [Line],
    pub at: DateTime<Utc>,
}

/// The result of a reservation request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reserved {
    New(Vec<Change>),
    /// The reservation id was used before, for the same units: the reservation as it is.
    Existing(Reservation),
}

enum UnitChange {
    Released,
    Consumed,
}

fn unit_changes(reservation: &Reservation, lines: &[Line], change: UnitChange) -> Vec<Change> {
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
            (position_stream(&reservation.location, &line.sku), event)
        })
        .collect()
}

/// A movement the OMS makes itself, identified by its cause (job or return) and SKU.
fn own_movement(cause: &str, location: &str, line: &Line, kind: MovementKind, at: DateTime<Utc>) -> Change {
    (
        position_stream(location, &line.sku),
        LedgerEvent::StockMoved {
            sku: line.sku.clone(),
            location: location.to_owned(),
            movement_id: format!("{cause}/{}", line.sku),
            kind,
            quantity: line.quantity,
            delta: kind.delta(line.quantity),
            occurred_at: at,
        },
    )
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

fn movement_key(location: &str, movement_id: &str) -> u64 {
    let mut bytes = Vec::with_capacity(location.len() + movement_id.len() + 1);
    bytes.extend_from_slice(location.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(movement_id.as_bytes());
    xxh3_64(&bytes)
}
