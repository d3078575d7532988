//! The business rules of order capture: pure functions over one order, no I/O.
//!
//! An order is placed once per channel and external order id, with lines, a delivery
//! method and payment. From then on its lifecycle is kept from what the other services
//! report — routed, backordered, accepted by a node, shipped, ready for pickup, collected,
//! delivered, returned, refunded — and changed by customer service: cancel, change the
//! address or delivery method, hold and release.

pub mod draft;
pub mod errors;
pub mod events;
pub mod order;
pub mod orders;
pub mod rules;
pub mod status;

pub use draft::{
    Address, Channel, Customer, Delivery, DeliveryMethod, DraftLine, GeoPoint, Money, OrderDraft, Payment, PlacedBy,
    Priority, Tender, Violations,
};
pub use errors::OrderError;
pub use events::OrderEvent;
pub use order::{LineState, Order};
pub use orders::Orders;
pub use rules::{
    CancelOrder, ChangeDelivery, ChangeShippingAddress, HoldOrder, OrderCommand, PlaceOrder, RecordReports,
    ReleaseOrder,
};
pub use status::OrderStatus;

use uuid::Uuid;

/// Namespace of order ids: an order id is a name-based UUID of its channel and external id,
/// so the same channel order always gets the same id.
const ORDER_NAMESPACE: Uuid = Uuid::from_u128(0x6f6d_732d_6f72_6465_7273_2d76_312d_6964);

/// The id of the order a channel placed as `external_order_id`.
pub fn order_id_for(channel: Channel, external_order_id: &str) -> String {
    Uuid::new_v5(
        &ORDER_NAMESPACE,
        format!("{}:{external_order_id}", channel.name()).as_bytes(),
    )
    .to_string()
}

/// The stream of an order's events.
pub fn order_stream(order_id: &str) -> String {
    format!("order:{order_id}")
}

/// Units of one order line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LineQuantity {
    pub line_id: String,
    pub quantity: i64,
}

impl LineQuantity {
    pub fn new(line_id: impl Into<String>, quantity: i64) -> Self {
        Self {
            line_id: line_id.into(),
            quantity,
        }
    }
}
