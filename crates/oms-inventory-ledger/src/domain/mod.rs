//! The business rules of the ledger: pure functions over the in-memory state, no I/O.
//! Each command is a type decided against the [`Ledger`] (`oms_eventsourcing::Decide`)
//! into the events it records; `ledger/` holds the state and, one file per seam, the rules.
//!
//! A position is the stock of one SKU at one location. It changes by stock movements
//! (from POS systems and from the OMS's own fulfilment and returns), by reservations that
//! hold units for orders, and by safety stock. Available to promise is what is on hand,
//! minus what is reserved and kept as safety stock, never shown below zero; a negative on
//! hand (a sale of stock the ledger did not know about) is kept as it is and flagged.

pub mod commands;
pub mod errors;
pub mod events;
pub mod ledger;
pub mod position;
pub mod reservation;

pub use commands::{
    ChannelRule, ConsumeReservation, LocationRecord, Movement, MovementKind, ReleaseReservation, ReserveStock,
};
pub use errors::{LedgerError, Shortfall};
pub use events::{ChannelRuleTerms, LedgerEvent, LocationDetails};
pub use ledger::{
    ExpireDue, JobDropped, JobRejected, JobUnits, Ledger, LedgerPolicy, RecordMovement, RegisterSkus, RejectReason,
    Reserve, Restock, SetChannelRule, SetSafetyStock, UnitsLeft, UnknownSkus, UpsertLocation,
};
pub use oms_proto::kernel::{GeoPoint, JobId, LocationId, NodeType, ReservationId, Sku, Violations};
pub use position::Position;
pub use reservation::{Reservation, ReservationStatus};

/// The stream of a position's events.
pub fn position_stream(location: &str, sku: &str) -> String {
    format!("position:{location}/{sku}")
}

/// The stream of a reservation's events.
pub fn reservation_stream(reservation_id: &str) -> String {
    format!("reservation:{reservation_id}")
}

pub fn location_stream(location: &str) -> String {
    format!("location:{location}")
}

pub fn channel_stream(channel: &str) -> String {
    format!("channel:{channel}")
}

pub fn sku_stream(sku: &str) -> String {
    format!("sku:{sku}")
}

/// Units of one SKU.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Line {
    pub sku: Sku,
    pub quantity: i64,
}

impl Line {
    pub fn new(sku: impl Into<Sku>, quantity: i64) -> Self {
        Self {
            sku: sku.into(),
            quantity,
        }
    }
}
