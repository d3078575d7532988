//! Units held at one location for one purpose (an order), until they ship, are given back
//! or the hold lapses.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Line, LocationId, ReservationId, Sku};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReservationStatus {
    Active,
    Released,
    Consumed,
    Expired,
}

impl ReservationStatus {
    pub fn name(self) -> &'static str {
        match self {
            ReservationStatus::Active => "active",
            ReservationStatus::Released => "released",
            ReservationStatus::Consumed => "consumed",
            ReservationStatus::Expired => "expired",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    pub reservation_id: ReservationId,
    pub reference: String,
    pub location: LocationId,
    /// As placed.
    pub lines: Vec<Line>,
    /// Still held, per SKU (placed minus consumed and released).
    pub held: Vec<Line>,
    pub channel: String,
    pub expires_at: DateTime<Utc>,
    pub status: ReservationStatus,
    /// Consumed so far, per SKU.
    pub consumed: Vec<Line>,
}

impl Reservation {
    pub fn held_of(&self, sku: &Sku) -> i64 {
        self.held.iter().find(|l| l.sku == *sku).map_or(0, |l| l.quantity)
    }

    pub fn consumed_of(&self, sku: &Sku) -> i64 {
        self.consumed.iter().find(|l| l.sku == *sku).map_or(0, |l| l.quantity)
    }

    pub fn holds_anything(&self) -> bool {
        self.held.iter().any(|l| l.quantity > 0)
    }

    /// Takes `lines` off what is held.
    pub(crate) fn take(&mut self, lines: &[Line]) {
        for line in lines {
            if let Some(held) = self.held.iter_mut().find(|h| h.sku == line.sku) {
                held.quantity -= line.quantity;
            }
        }
    }

    pub(crate) fn add_consumed(&mut self, lines: &[Line]) {
        for line in lines {
            match self.consumed.iter_mut().find(|c| c.sku == line.sku) {
                Some(consumed) => consumed.quantity += line.quantity,
                None => self.consumed.push(line.clone()),
            }
        }
    }
}
