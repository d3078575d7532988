//! What happens in routing, as recorded in its log: changes to the network and rules (stream
//! `network`) and each order's routing (stream `order:{id}`). Events carry payloads of their
//! own ([`super::payloads`]), never the state's types; a change to what an event stores is
//! a new schema version of it, with an upcaster from the one before.

use chrono::{DateTime, Utc};
use oms_eventsourcing::{DomainEvent, event_type_names};
use serde::{Deserialize, Serialize};

use super::payloads::{AllocationMade, DecisionReasons, NodeDetails, OrderDetails, RuleSetDetails};
use super::{Address, DeliveryMethod, JobId, LineNeed, LocationId, ReservationId};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RoutingEvent {
    NodeUpserted {
        node: Box<NodeDetails>,
    },
    NodeRemoved {
        node_id: LocationId,
    },
    RuleSetsReplaced {
        rule_sets: Vec<RuleSetDetails>,
    },
    /// Order capture announced the order.
    OrderReceived {
        order: Box<OrderDetails>,
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
        pickup_location_id: LocationId,
        at: DateTime<Utc>,
    },
    /// An attempt is about to reserve these at the ledger: if the service stops before the
    /// attempt is recorded, they are released at the next start.
    ReservationsRequested {
        attempt: u32,
        reservation_ids: Vec<ReservationId>,
        at: DateTime<Utc>,
    },
    /// An attempt that never finished: its reservations were released.
    ReservationsAbandoned {
        attempt: u32,
        reservation_ids: Vec<ReservationId>,
        at: DateTime<Utc>,
    },
    /// A routing decision: units reserved at and requested of nodes, units waiting for
    /// supply, units routing gave up on, and the reasons. Version 2: an allocation no
    /// longer carries a status (it is requested when made).
    Routed {
        attempt: u32,
        allocations: Vec<AllocationMade>,
        backordered: Vec<LineNeed>,
        give_up_at: Option<DateTime<Utc>>,
        failed: Vec<LineNeed>,
        reason: String,
        /// A re-route: earlier allocations of the order were dropped.
        reroute: bool,
        decision: Box<DecisionReasons>,
        at: DateTime<Utc>,
    },
    AllocationAccepted {
        request_id: JobId,
        at: DateTime<Utc>,
    },
    AllocationCompleted {
        request_id: JobId,
        at: DateTime<Utc>,
    },
    /// Units taken back from a node; unless the order no longer wants them, they are routed
    /// again. `lines` empty: all of the allocation's units.
    AllocationDropped {
        request_id: JobId,
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

    fn schema_version(event_type: &str) -> u16 {
        match event_type {
            "Routed" => 2,
            _ => 1,
        }
    }

    fn upcast(event_type: &str, from: u16, json: serde_json::Value) -> Result<serde_json::Value, String> {
        match (event_type, from) {
            ("Routed", 1) => routed_without_allocation_status(json),
            _ => Err(format!(
                "no upcaster from schema version {from} of event type {event_type}"
            )),
        }
    }
}

/// Routed v1 → v2: each allocation loses its `status`, which was always `Requested`.
fn routed_without_allocation_status(mut json: serde_json::Value) -> Result<serde_json::Value, String> {
    let allocations = json
        .get_mut("Routed")
        .and_then(|routed| routed.get_mut("allocations"))
        .and_then(serde_json::Value::as_array_mut)
        .ok_or("Routed v1 has no list of allocations")?;
    for allocation in allocations {
        allocation
            .as_object_mut()
            .ok_or("an allocation of Routed v1 is not an object")?
            .remove("status");
    }
    Ok(json)
}
