//! The stock of one SKU at one location.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::LedgerEvent;

/// How far back movements are kept to reconcile a cycle count that arrives late.
pub const RECONCILE_DAYS: i64 = 30;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub on_hand: i64,
    pub reserved: i64,
    pub safety_stock: i64,
    /// As of when the last cycle count counted the shelf.
    pub last_counted_at: Option<DateTime<Utc>>,
    /// Movements that occurred after the last count (or within the reconcile window when
    /// there was none), as (occurred at, change to on hand): a late count keeps them.
    pub since_count: Vec<(DateTime<Utc>, i64)>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// The figures of a position, without its history: what a message or a look-up shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figures {
    pub on_hand: i64,
    pub reserved: i64,
    pub safety_stock: i64,
}

impl Figures {
    pub fn available_to_promise(&self) -> i64 {
        (self.on_hand - self.reserved - self.safety_stock).max(0)
    }

    pub fn negative_on_hand(&self) -> bool {
        self.on_hand < 0
    }

    /// The figures after `event` (an event of this position).
    pub fn evolve(&mut self, event: &LedgerEvent) {
        match event {
            LedgerEvent::StockMoved { delta, .. } | LedgerEvent::StockCounted { delta, .. } => self.on_hand += delta,
            LedgerEvent::SafetyStockSet { quantity, .. } => self.safety_stock = *quantity,
            LedgerEvent::UnitsReserved { quantity, .. } => self.reserved += quantity,
            LedgerEvent::ReservedUnitsReleased { quantity, .. } => self.reserved -= quantity,
            LedgerEvent::ReservedUnitsConsumed { quantity, .. } => {
                self.reserved -= quantity;
                self.on_hand -= quantity;
            }
            _ => {}
        }
    }
}

impl Position {
    pub fn figures(&self) -> Figures {
        Figures {
            on_hand: self.on_hand,
            reserved: self.reserved,
            safety_stock: self.safety_stock,
        }
    }

    /// On hand, minus reserved and safety stock, never below zero.
    pub fn available_to_promise(&self) -> i64 {
        (self.on_hand - self.reserved - self.safety_stock).max(0)
    }

    /// A sale of stock the ledger did not know about: kept, and shown.
    pub fn negative_on_hand(&self) -> bool {
        self.on_hand < 0
    }

    /// Whether a count taken after `occurred_at` already accounts for a movement then.
    pub fn counted_after(&self, occurred_at: DateTime<Utc>) -> bool {
        self.last_counted_at.is_some_and(|counted| occurred_at <= counted)
    }

    /// The on hand a count of `counted` units as of `at` means now: the count plus every
    /// movement that occurred after it.
    pub fn on_hand_after_count(&self, counted: i64, at: DateTime<Utc>) -> i64 {
        counted
            + self
                .since_count
                .iter()
                .filter(|(when, _)| *when > at)
                .map(|(_, delta)| delta)
                .sum::<i64>()
    }

    /// Whether a count as of `at` is too old for the movements kept to reconcile it.
    pub fn count_too_old(&self, at: DateTime<Utc>, newest: DateTime<Utc>) -> bool {
        at < newest - Duration::days(RECONCILE_DAYS)
    }

    /// The position after `event` (an event of this position), recorded at `at`.
    pub fn evolve(&mut self, event: &LedgerEvent, at: DateTime<Utc>) {
        match event {
            LedgerEvent::StockMoved { delta, occurred_at, .. } => self.moved(*delta, *occurred_at, at),
            LedgerEvent::StockCounted { delta, occurred_at, .. } => self.counted(*delta, *occurred_at, at),
            LedgerEvent::SafetyStockSet { quantity, .. } => {
                self.safety_stock = *quantity;
                self.updated_at = Some(at);
            }
            LedgerEvent::UnitsReserved { quantity, .. } => {
                self.reserved += quantity;
                self.updated_at = Some(at);
            }
            LedgerEvent::ReservedUnitsReleased { quantity, .. } => {
                self.reserved -= quantity;
                self.updated_at = Some(at);
            }
            LedgerEvent::ReservedUnitsConsumed { quantity, .. } => {
                self.reserved -= quantity;
                self.moved(-quantity, at, at);
            }
            _ => {}
        }
    }

    /// The position as it stood at `at` on the shop floor, from its events in log order,
    /// each with the time the ledger recorded it.
    ///
    /// Movements and counts are placed at the time they occurred, however late they were
    /// reported; what the OMS does itself (units reserved, given back or shipped from a
    /// reservation, safety stock) at the time it recorded it, which is when it happened.
    /// On hand is the last count taken by `at` (the shelf as counted then) plus what moved
    /// after it, or everything that moved by `at` when the shelf was never counted before.
    /// A count saw what moved before it: a movement that occurred by the count and was
    /// reported before it, or was found already seen when reported after it (recorded as
    /// changing nothing). What the OMS moved and recorded after a count comes on top of it,
    /// as in the live position.
    pub fn as_of<'a>(events: impl IntoIterator<Item = (&'a LedgerEvent, DateTime<Utc>)>, at: DateTime<Utc>) -> Self {
        struct Moved {
            happened: DateTime<Utc>,
            recorded: usize,
            change: i64,
            seen_by_a_count: bool,
        }
        let mut position = Position::default();
        let mut moved: Vec<Moved> = Vec::new();
        // (counted as of, recorded, units counted)
        let mut count: Option<(DateTime<Utc>, usize, i64)> = None;
        for (recorded, (event, recorded_at)) in events.into_iter().enumerate() {
            let happened = match event {
                LedgerEvent::StockMoved { occurred_at, .. } | LedgerEvent::StockCounted { occurred_at, .. } => {
                    *occurred_at
                }
                _ => recorded_at,
            };
            if happened > at {
                continue;
            }
            match event {
                LedgerEvent::StockMoved {
                    kind, quantity, delta, ..
                } => moved.push(Moved {
                    happened,
                    recorded,
                    // What the movement did on the shelf, even when a count had seen it
                    // already: before that count, it had not.
                    change: kind.delta(*quantity),
                    seen_by_a_count: *delta == 0,
                }),
                LedgerEvent::StockCounted { counted, .. } => {
                    // Of two counts as of the same moment, the first recorded stands, as live.
                    if count.is_none_or(|(when, _, _)| happened > when) {
                        count = Some((happened, recorded, *counted));
                    }
                }
                LedgerEvent::ReservedUnitsConsumed { quantity, .. } => {
                    position.reserved -= quantity;
                    moved.push(Moved {
                        happened,
                        recorded,
                        change: -quantity,
                        seen_by_a_count: false,
                    });
                }
                LedgerEvent::UnitsReserved { quantity, .. } => position.reserved += quantity,
                LedgerEvent::ReservedUnitsReleased { quantity, .. } => position.reserved -= quantity,
                LedgerEvent::SafetyStockSet { quantity, .. } => position.safety_stock = *quantity,
                _ => continue,
            }
            position.updated_at = position.updated_at.max(Some(happened));
        }
        let (base, counted_at, count_recorded) = match count {
            Some((when, recorded, counted)) => (counted, Some(when), recorded),
            None => (0, None, 0),
        };
        position.last_counted_at = counted_at;
        position.since_count = moved
            .into_iter()
            .filter(|m| {
                let seen = counted_at
                    .is_some_and(|when| m.happened <= when && (m.recorded < count_recorded || m.seen_by_a_count));
                !seen
            })
            .map(|m| (m.happened, m.change))
            .collect();
        position.on_hand = base + position.since_count.iter().map(|(_, change)| change).sum::<i64>();
        position
    }

    pub(crate) fn moved(&mut self, delta: i64, occurred_at: DateTime<Utc>, recorded_at: DateTime<Utc>) {
        self.on_hand += delta;
        if delta != 0 && !self.counted_after(occurred_at) {
            self.since_count.push((occurred_at, delta));
            self.forget_before(occurred_at - Duration::days(RECONCILE_DAYS));
        }
        self.updated_at = Some(recorded_at);
    }

    pub(crate) fn counted(&mut self, delta: i64, occurred_at: DateTime<Utc>, recorded_at: DateTime<Utc>) {
        self.on_hand += delta;
        if !self.counted_after(occurred_at) {
            self.last_counted_at = Some(occurred_at);
            self.since_count.retain(|(when, _)| *when > occurred_at);
        }
        self.updated_at = Some(recorded_at);
    }

    fn forget_before(&mut self, cutoff: DateTime<Utc>) {
        if self.since_count.first().is_some_and(|(when, _)| *when < cutoff) {
            self.since_count.retain(|(when, _)| *when >= cutoff);
        }
    }
}
