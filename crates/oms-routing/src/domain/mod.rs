//! The business rules of routing: pure functions, no I/O.
//!
//! The [`network`] says which nodes exist and what they can do; rule sets (also data) say
//! how to choose among them. [`plan`] turns an order, the stock each node can promise and
//! the capacity each node has left into a decision with its reasons. [`promise`] dates
//! deliveries and pickups; [`quote`] offers the options a channel shows before checkout.
//! [`routing`] is the service's state as its events build it — the network and every order
//! being routed — with its commands, each a type decided against it
//! (`oms_eventsourcing::Decide`) into the events it records; [`events`] and [`payloads`]
//! are what those events store. Channels, delivery methods, priorities, node types, places
//! and ids are the contract kernel's (`oms_proto::kernel`).

pub mod errors;
pub mod events;
pub mod network;
pub mod order;
pub mod payloads;
pub mod plan;
pub mod promise;
pub mod quote;
pub mod routing;

pub use errors::RoutingError;
pub use events::RoutingEvent;
pub use network::{
    Capabilities, Capacity, CapacityUnit, CarrierService, Fallback, Network, NetworkDocument, Node, NodeFilter,
    OrderFilter, RuleSet, ShippingService, SortBy, SplitPolicy,
};
pub use oms_proto::kernel::{
    Address, Channel, DeliveryMethod, GeoPoint, JobId, LineId, LocationId, NodeType, OrderId, Priority, ReservationId,
    Sku, Violations,
};
pub use order::{AllocationRecord, AllocationStatus, OrderToRoute, RoutedOrder};
pub use payloads::{AllocationMade, CandidateReason, DecisionReasons, NodeDetails, OrderDetails, RuleSetDetails};
pub use plan::{CandidateRecord, DecisionRecord, Plan, PlannedAllocation, StockLevels, Unrouted};
pub use routing::{
    AbandonAttempt, BeginAttempt, CancelLines, ChangeDelivery, ChangeShippingAddress, FinishAttempt, GiveUp, HoldOrder,
    ImportNetwork, JobAccepted, JobCompleted, JobDropped, ReceiveOrder, ReleaseOrder, RemoveNode, ReplaceRuleSets,
    ReservedAllocation, Routing, UpsertNode,
};
use serde::{Deserialize, Serialize};

/// Units of one order line, as routing moves them around.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LineNeed {
    pub line_id: LineId,
    pub sku: Sku,
    pub quantity: i64,
}

impl LineNeed {
    pub fn new(line_id: impl Into<LineId>, sku: impl Into<Sku>, quantity: i64) -> Self {
        Self {
            line_id: line_id.into(),
            sku: sku.into(),
            quantity,
        }
    }
}

/// Units of one order line, named by its id alone (a cancellation).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LineQuantity {
    pub line_id: LineId,
    pub quantity: i64,
}

impl LineQuantity {
    pub fn new(line_id: impl Into<LineId>, quantity: i64) -> Self {
        Self {
            line_id: line_id.into(),
            quantity,
        }
    }
}

/// The stream of an order's routing.
pub fn order_stream(order_id: &OrderId) -> String {
    format!("order:{order_id}")
}

/// The stream of the network and rule-set changes.
pub const NETWORK_STREAM: &str = "network";

/// Lines as "line (qty × sku)", for reasons people read.
pub fn describe_lines(lines: &[LineNeed]) -> String {
    lines
        .iter()
        .map(|l| format!("{} ({} × {})", l.line_id, l.quantity, l.sku))
        .collect::<Vec<_>>()
        .join(", ")
}
