//! Why the ledger refuses a command.

use super::{LocationId, ReservationId, Sku, Violations};

/// One line that cannot be reserved in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortfall {
    pub sku: Sku,
    pub requested: i64,
    pub available: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// The request itself is malformed; every bad field is named.
    #[error("{0}")]
    Invalid(Violations),
    #[error("location {0} is not known to the ledger")]
    UnknownLocation(LocationId),
    #[error("SKU {0} is not registered, and unknown SKUs are refused")]
    UnknownSku(Sku),
    #[error("location {0} is inactive and promises no stock")]
    InactiveLocation(LocationId),
    #[error("not enough stock: {}", .0.iter().map(|s| format!("{} wants {} of {} available", s.sku, s.requested, s.available)).collect::<Vec<_>>().join(", "))]
    InsufficientStock(Vec<Shortfall>),
    #[error("reservation {0} does not exist")]
    UnknownReservation(ReservationId),
    #[error("reservation id {0} was already used for a different reservation")]
    ReservationIdReused(ReservationId),
    #[error("reservation {reservation_id} holds only {held} of {sku}, not {requested}")]
    MoreThanHeld {
        reservation_id: ReservationId,
        sku: Sku,
        held: i64,
        requested: i64,
    },
    #[error("reservation {reservation_id} is {status} and can no longer be {action}")]
    ReservationClosed {
        reservation_id: ReservationId,
        status: &'static str,
        action: &'static str,
    },
    #[error("a count as of {0} is older than the {1} days of movements the ledger keeps to reconcile it")]
    CountTooOld(String, i64),
}

impl LedgerError {
    /// A malformed request with one bad field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        let mut bad = Violations::new();
        bad.add(field, description);
        LedgerError::Invalid(bad)
    }
}

/// Rules that cannot refuse (the units moved on the shop floor) refuse with nothing.
impl From<std::convert::Infallible> for LedgerError {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}
