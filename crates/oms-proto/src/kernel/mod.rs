//! The contract kernel: the values every service speaks of — money, addresses and places,
//! channels, delivery methods, priorities, tenders, node types, ids — as Rust types,
//! converted from their protobuf form here and nowhere else, and the one list of field
//! violations a refused request or message carries.
//!
//! Domains speak these types, never protobuf enum names: a delivery method is
//! [`DeliveryMethod::ClickAndCollect`], stored as `"click_and_collect"`, and becomes
//! `DELIVERY_METHOD_CLICK_AND_COLLECT` only where a contract says so.

mod ids;
mod kinds;
mod money;
mod place;
mod violations;

pub use ids::{JobId, LineId, LineUnits, LocationId, OrderId, RefundId, ReservationId, ReturnId, Sku};
pub use kinds::{Channel, DeliveryMethod, NodeType, Priority, Tender};
pub use money::Money;
pub use place::{Address, GeoPoint};
pub use violations::{Violation, Violations};
