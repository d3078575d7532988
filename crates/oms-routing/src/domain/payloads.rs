//! The payloads of routing's events, each a schema of its own: what a node, a rule set, an
//! order, an allocation and a decision's reasons looked like when the event was recorded.
//! They mirror the state and configuration types they are folded into, so those can change
//! without changing what was written (`tests/golden.rs` pins the stored form); the
//! conversions here are the only place the two meet.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::network::{Capabilities, Capacity, CarrierService, Fallback, NodeFilter, OrderFilter, SortBy, SplitPolicy};
use super::order::{AllocationRecord, AllocationStatus, OrderToRoute};
use super::plan::{CandidateRecord, DecisionRecord, PlannedAllocation};
use super::{
    Address, Channel, DeliveryMethod, GeoPoint, JobId, LineId, LineNeed, LocationId, Node, NodeType, OrderId, Priority,
    ReservationId, RuleSet,
};

/// A node of the network as it was set. Fields added to nodes over time read as their
/// defaults, as in the network file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeDetails {
    pub node_id: LocationId,
    #[serde(rename = "type")]
    pub node_type: NodeType,
    #[serde(default)]
    pub name: String,
    pub location: Option<GeoPoint>,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub capabilities: Capabilities,
    #[serde(default)]
    pub capacity: Capacity,
    #[serde(default)]
    pub cutoff_minute: u32,
    #[serde(default)]
    pub opens_minute: u32,
    #[serde(default)]
    pub closes_minute: u32,
    #[serde(default)]
    pub utc_offset_minutes: i32,
    #[serde(default)]
    pub priority: i32,
    #[serde(default)]
    pub carriers: Vec<CarrierService>,
    #[serde(default)]
    pub handling_hours: u32,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// A rule set as it was configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleSetDetails {
    pub name: String,
    #[serde(default)]
    pub applies_to: OrderFilter,
    #[serde(default)]
    pub eligible: NodeFilter,
    #[serde(default)]
    pub keep_units: i64,
    #[serde(default)]
    pub sort: Vec<SortBy>,
    #[serde(default)]
    pub split: SplitPolicy,
    #[serde(default)]
    pub max_shipments: u32,
    #[serde(default)]
    pub otherwise: Fallback,
    #[serde(default)]
    pub cancel_after_days: u32,
}

/// An order as order capture announced it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderDetails {
    pub order_id: OrderId,
    pub channel: Channel,
    pub delivery_method: DeliveryMethod,
    pub priority: Priority,
    pub value_minor: i64,
    pub currency: String,
    pub lines: Vec<LineNeed>,
    pub shipping_address: Option<Address>,
    pub pickup_location_id: LocationId,
    pub customer_name: String,
    pub release_at: Option<DateTime<Utc>>,
    pub placed_at: DateTime<Utc>,
}

/// Units given to one node under one fulfilment request (reserved under the same id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllocationMade {
    pub request_id: JobId,
    pub node_id: LocationId,
    pub node_type: NodeType,
    pub reservation_id: ReservationId,
    pub lines: Vec<LineNeed>,
    pub expected_at: Option<DateTime<Utc>>,
    /// The node's local day whose capacity it takes, and how much of it.
    pub capacity_day: NaiveDate,
    pub capacity_used: u32,
}

/// Why routing decided as it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionReasons {
    pub attempt: u32,
    pub rule_set: String,
    pub outcome: String,
    pub candidates: Vec<CandidateReason>,
    pub excluded: BTreeMap<String, u32>,
    pub notes: Vec<String>,
    pub decided_at: DateTime<Utc>,
}

/// One node considered, and why it won or lost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateReason {
    pub node_id: LocationId,
    pub eligible: bool,
    pub reason: String,
    pub distance_km: Option<f64>,
    pub covers_lines: Vec<LineId>,
    pub chosen: bool,
    pub rank: u32,
}

// ---------------------------------------------------------------------------------------
// To and from the state and configuration types.

impl From<&Node> for NodeDetails {
    fn from(n: &Node) -> Self {
        Self {
            node_id: n.node_id.clone(),
            node_type: n.node_type,
            name: n.name.clone(),
            location: n.location,
            region: n.region.clone(),
            groups: n.groups.clone(),
            capabilities: n.capabilities,
            capacity: n.capacity,
            cutoff_minute: n.cutoff_minute,
            opens_minute: n.opens_minute,
            closes_minute: n.closes_minute,
            utc_offset_minutes: n.utc_offset_minutes,
            priority: n.priority,
            carriers: n.carriers.clone(),
            handling_hours: n.handling_hours,
            active: n.active,
        }
    }
}

impl From<&NodeDetails> for Node {
    fn from(n: &NodeDetails) -> Self {
        Self {
            node_id: n.node_id.clone(),
            node_type: n.node_type,
            name: n.name.clone(),
            location: n.location,
            region: n.region.clone(),
            groups: n.groups.clone(),
            capabilities: n.capabilities,
            capacity: n.capacity,
            cutoff_minute: n.cutoff_minute,
            opens_minute: n.opens_minute,
            closes_minute: n.closes_minute,
            utc_offset_minutes: n.utc_offset_minutes,
            priority: n.priority,
            carriers: n.carriers.clone(),
            handling_hours: n.handling_hours,
            active: n.active,
        }
    }
}

impl From<&RuleSet> for RuleSetDetails {
    fn from(r: &RuleSet) -> Self {
        Self {
            name: r.name.clone(),
            applies_to: r.applies_to.clone(),
            eligible: r.eligible.clone(),
            keep_units: r.keep_units,
            sort: r.sort.clone(),
            split: r.split,
            max_shipments: r.max_shipments,
            otherwise: r.otherwise,
            cancel_after_days: r.cancel_after_days,
        }
    }
}

impl From<&RuleSetDetails> for RuleSet {
    fn from(r: &RuleSetDetails) -> Self {
        Self {
            name: r.name.clone(),
            applies_to: r.applies_to.clone(),
            eligible: r.eligible.clone(),
            keep_units: r.keep_units,
            sort: r.sort.clone(),
            split: r.split,
            max_shipments: r.max_shipments,
            otherwise: r.otherwise,
            cancel_after_days: r.cancel_after_days,
        }
    }
}

impl From<&OrderToRoute> for OrderDetails {
    fn from(o: &OrderToRoute) -> Self {
        Self {
            order_id: o.order_id.clone(),
            channel: o.channel,
            delivery_method: o.delivery_method,
            priority: o.priority,
            value_minor: o.value_minor,
            currency: o.currency.clone(),
            lines: o.lines.clone(),
            shipping_address: o.shipping_address.clone(),
            pickup_location_id: o.pickup_location_id.clone(),
            customer_name: o.customer_name.clone(),
            release_at: o.release_at,
            placed_at: o.placed_at,
        }
    }
}

impl From<&OrderDetails> for OrderToRoute {
    fn from(o: &OrderDetails) -> Self {
        Self {
            order_id: o.order_id.clone(),
            channel: o.channel,
            delivery_method: o.delivery_method,
            priority: o.priority,
            value_minor: o.value_minor,
            currency: o.currency.clone(),
            lines: o.lines.clone(),
            shipping_address: o.shipping_address.clone(),
            pickup_location_id: o.pickup_location_id.clone(),
            customer_name: o.customer_name.clone(),
            release_at: o.release_at,
            placed_at: o.placed_at,
        }
    }
}

impl AllocationMade {
    /// The units a plan gave a node, reserved at the ledger under `reservation_id`, which
    /// is also the fulfilment request's id.
    pub fn planned(allocation: PlannedAllocation, reservation_id: ReservationId) -> Self {
        Self {
            request_id: JobId::new(reservation_id.as_str()),
            node_id: allocation.node_id,
            node_type: allocation.node_type,
            reservation_id,
            lines: allocation.lines,
            expected_at: allocation.expected_at,
            capacity_day: allocation.capacity_day,
            capacity_used: allocation.capacity_used,
        }
    }
}

/// A new allocation: requested of its node.
impl From<&AllocationMade> for AllocationRecord {
    fn from(a: &AllocationMade) -> Self {
        Self {
            request_id: a.request_id.clone(),
            node_id: a.node_id.clone(),
            node_type: a.node_type,
            reservation_id: a.reservation_id.clone(),
            lines: a.lines.clone(),
            status: AllocationStatus::Requested,
            expected_at: a.expected_at,
            capacity_day: a.capacity_day,
            capacity_used: a.capacity_used,
        }
    }
}

impl From<&DecisionRecord> for DecisionReasons {
    fn from(d: &DecisionRecord) -> Self {
        Self {
            attempt: d.attempt,
            rule_set: d.rule_set.clone(),
            outcome: d.outcome.clone(),
            candidates: d.candidates.iter().map(CandidateReason::from).collect(),
            excluded: d.excluded.clone(),
            notes: d.notes.clone(),
            decided_at: d.decided_at,
        }
    }
}

impl From<&DecisionReasons> for DecisionRecord {
    fn from(d: &DecisionReasons) -> Self {
        Self {
            attempt: d.attempt,
            rule_set: d.rule_set.clone(),
            outcome: d.outcome.clone(),
            candidates: d.candidates.iter().map(CandidateRecord::from).collect(),
            excluded: d.excluded.clone(),
            notes: d.notes.clone(),
            decided_at: d.decided_at,
        }
    }
}

impl From<&CandidateRecord> for CandidateReason {
    fn from(c: &CandidateRecord) -> Self {
        Self {
            node_id: c.node_id.clone(),
            eligible: c.eligible,
            reason: c.reason.clone(),
            distance_km: c.distance_km,
            covers_lines: c.covers_lines.clone(),
            chosen: c.chosen,
            rank: c.rank,
        }
    }
}

impl From<&CandidateReason> for CandidateRecord {
    fn from(c: &CandidateReason) -> Self {
        Self {
            node_id: c.node_id.clone(),
            eligible: c.eligible,
            reason: c.reason.clone(),
            distance_km: c.distance_km,
            covers_lines: c.covers_lines.clone(),
            chosen: c.chosen,
            rank: c.rank,
        }
    }
}
