//! What happens in routing, as recorded in its log: changes to the network and rules (stream
//! `network`) and each order's routing (stream `order:{id}`).

use chrono::{DateTime, Utc};
use oms_eventsourcing::{DomainEvent, event_type_names};
use serde::{Deserialize, Serialize};

use super::order::{Address, AllocationRecord, OrderToRoute};
use super::plan::DecisionRecord;
use super::{DeliveryMethod, LineNeed, Node, RuleSet};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RoutingEvent {
    NodeUpserted {
        node: Box<Node>,
    },
    NodeRemoved {
        node_id: String,
    },
    RuleSetsReplaced {
        rule_sets: Vec<RuleSet>,
    },
    /// Order capture announced the order.
    OrderReceived {
        order: Box<OrderToRoute>,
    },
    OrderHeld {
        at: DateTime<Utc>,
    },
    OrderReleased {
        at: DateTime<Utc>,
    },
    LinesCancelled {
        lines: Vec<LineNeed>,
        at: DateTime<Utc>,
    },
    DestinationChanged {
        delivery_method: DeliveryMethod,
        shipping_address: Option<Address>,
        pickup_location_id: String,
        at: DateTime<Utc>,
    },
    /// An attempt is about to reserve these at the ledger: if the service stops before the
    /// attempt is recorded, they are released at the next start.
    ReservationsRequested {
        attempt: u32,
        reservation_ids: Vec<String>,
        at: DateTime<Utc>,
    },
    /// An attempt that never finished: its reservations were released.
    ReservationsAbandoned {
        attempt: u32,
        reservation_ids: Vec<String>,
        at: DateTime<Utc>,
    },
    /// A routing decision: units reserved at and requested of nodes, units waiting for
    /// supply, units routing gave up on, and the reasons.
    Routed {
        attempt: u32,
        allocations: Vec<AllocationRecord>,
        backordered: Vec<LineNeed>,
        give_up_at: Option<DateTime<Utc>>,
        failed: Vec<LineNeed>,
        reason: String,
        /// A re-route: earlier allocations of the order were dropped.
        reroute: bool,
        decision: Box<DecisionRecord>,
        at: DateTime<Utc>,
    },
    AllocationAccepted {
        request_id: String,
        at: DateTime<Utc>,
    },
    AllocationCompleted {
        request_id: String,
        at: DateTime<Utc>,
    },
    /// Units taken back from a node; unless the order no longer wants them, they are routed
    /// again. `lines` empty: all of the allocation's units.
    AllocationDropped {
        request_id: String,
        lines: Vec<LineNeed>,
        reason: String,
        /// The node is not asked again for this order.
        exclude_node: bool,
        /// The node's capacity for the day is given back.
        give_back_capacity: bool,
        at: DateTime<Utc>,
    },
    /// A backorder waited longer than its rule set allows.
    GaveUp {
        lines: Vec<LineNeed>,
        reason: String,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for RoutingEvent {
    event_type_names!(RoutingEvent {
        NodeUpserted,
        NodeRemoved,
        RuleSetsReplaced,
        OrderReceived,
        OrderHeld,
        OrderReleased,
        LinesCancelled,
        DestinationChanged,
        ReservationsRequested,
        ReservationsAbandoned,
        Routed,
        AllocationAccepted,
        AllocationCompleted,
        AllocationDropped,
        GaveUp,
    });
}
