//! Where an order (or a line) stands, derived from where its units are.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum OrderStatus {
    Placed,
    Held,
    Routed,
    Backordered,
    InFulfilment,
    PartiallyShipped,
    Shipped,
    ReadyForPickup,
    Collected,
    Delivered,
    Cancelled,
    ReturnRequested,
    Returned,
    Refunded,
}

impl OrderStatus {
    pub fn name(self) -> &'static str {
        match self {
            OrderStatus::Placed => "placed",
            OrderStatus::Held => "held",
            OrderStatus::Routed => "routed",
            OrderStatus::Backordered => "backordered",
            OrderStatus::InFulfilment => "in fulfilment",
            OrderStatus::PartiallyShipped => "partially shipped",
            OrderStatus::Shipped => "shipped",
            OrderStatus::ReadyForPickup => "ready for pickup",
            OrderStatus::Collected => "collected",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::ReturnRequested => "return requested",
            OrderStatus::Returned => "returned",
            OrderStatus::Refunded => "refunded",
        }
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
