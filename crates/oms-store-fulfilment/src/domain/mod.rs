//! The job lifecycle, as pure rules: what a job is, what happens to it (its events), and
//! which step is allowed in which state.

mod jobs;

use chrono::{DateTime, Utc};
use oms_eventsourcing::{DomainEvent, event_type_names};
use serde::{Deserialize, Serialize};

pub use jobs::{Deadlines, Events, Fulfilment, Step, evolve_job};

/// How a job is worked, from the node's type and the order's delivery method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobKind {
    /// A store picks, packs, labels and hands to a carrier.
    Ship,
    /// Click & collect at the store's counter.
    Pickup,
    /// Brought out to the customer's car.
    Curbside,
    /// Put in a parcel locker at the store.
    Locker,
    /// A warehouse ships to a store, where the customer collects it.
    ShipToStore,
    /// A warehouse, 3PL or drop-ship supplier works it in its own system.
    External,
}

impl JobKind {
    pub fn of(node_type: &str, delivery_method: &str, node_id: &str, pickup_store_id: &str) -> Self {
        let store = node_type.eq_ignore_ascii_case("NODE_TYPE_STORE") || node_type.eq_ignore_ascii_case("store");
        let pickup_elsewhere = !pickup_store_id.is_empty() && pickup_store_id != node_id;
        match (store, delivery_method) {
            (true, "DELIVERY_METHOD_CLICK_AND_COLLECT" | "DELIVERY_METHOD_SHIP_TO_STORE") if !pickup_elsewhere => {
                JobKind::Pickup
            }
            (true, "DELIVERY_METHOD_CURBSIDE") if !pickup_elsewhere => JobKind::Curbside,
            (true, "DELIVERY_METHOD_LOCKER") if !pickup_elsewhere => JobKind::Locker,
            // Shipped to the customer, or to the store they collect at.
            (true, _) => JobKind::Ship,
            (false, _) if pickup_elsewhere => JobKind::ShipToStore,
            (false, _) => JobKind::External,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            JobKind::Ship => "ship",
            JobKind::Pickup => "pickup",
            JobKind::Curbside => "curbside",
            JobKind::Locker => "locker",
            JobKind::ShipToStore => "ship_to_store",
            JobKind::External => "external",
        }
    }

    /// Worked by store staff through the API (a ship-to-store job only at its end).
    pub fn is_store_work(self) -> bool {
        matches!(
            self,
            JobKind::Ship | JobKind::Pickup | JobKind::Curbside | JobKind::Locker
        )
    }

    /// The customer collects it.
    pub fn is_collected(self) -> bool {
        matches!(
            self,
            JobKind::Pickup | JobKind::Curbside | JobKind::Locker | JobKind::ShipToStore
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobStatus {
    Requested,
    Accepted,
    Picked,
    Packed,
    Labelled,
    Shipped,
    InTransitToStore,
    ReadyForPickup,
    CustomerWaiting,
    Collected,
    Rejected,
    Cancelled,
}

impl JobStatus {
    /// Nothing more happens to the job.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobStatus::Shipped | JobStatus::Collected | JobStatus::Rejected | JobStatus::Cancelled
        )
    }

    /// The units left the node or are waiting for the customer: the promise is kept.
    pub fn kept_promise(self) -> bool {
        matches!(
            self,
            JobStatus::Shipped
                | JobStatus::InTransitToStore
                | JobStatus::ReadyForPickup
                | JobStatus::CustomerWaiting
                | JobStatus::Collected
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            JobStatus::Requested => "requested",
            JobStatus::Accepted => "accepted",
            JobStatus::Picked => "picked",
            JobStatus::Packed => "packed",
            JobStatus::Labelled => "labelled",
            JobStatus::Shipped => "shipped",
            JobStatus::InTransitToStore => "in transit to the store",
            JobStatus::ReadyForPickup => "ready for pickup",
            JobStatus::CustomerWaiting => "customer waiting",
            JobStatus::Collected => "collected",
            JobStatus::Rejected => "rejected",
            JobStatus::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RejectReason {
    OutOfStock,
    Damaged,
    Capacity,
    AcceptanceTimeout,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobLine {
    pub line_id: String,
    pub sku: String,
    pub ordered: i64,
    /// Units found, once picked (or shipped, for a node's own system).
    pub picked: Option<i64>,
}

impl JobLine {
    /// Units the job still delivers.
    pub fn units(&self) -> i64 {
        self.picked.unwrap_or(self.ordered)
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ShipTo {
    pub name: String,
    pub lines: Vec<String>,
    pub city: String,
    pub region: String,
    pub postal_code: String,
    pub country: String,
    pub phone: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub job_id: String,
    pub order_id: String,
    pub node_id: String,
    pub node_type: String,
    pub kind: JobKind,
    pub status: JobStatus,
    pub lines: Vec<JobLine>,
    /// `DELIVERY_METHOD_*` of oms.orders.v1.
    pub delivery_method: String,
    pub ship_to: Option<ShipTo>,
    pub pickup_store_id: String,
    pub customer_name: String,
    pub priority: i32,
    pub promised_at: Option<DateTime<Utc>>,
    pub accept_by: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub reservation_id: String,
    pub carrier: String,
    pub service: String,
    pub tracking_number: String,
    pub packages: u32,
    pub weight_grams: u32,
    /// The shipping label (ZPL).
    pub label: String,
    pub pickup_code: String,
    pub locker_id: String,
    pub collect_by: Option<DateTime<Utc>>,
    pub curbside_bay: String,
    /// Why it was rejected or cancelled.
    pub reason: String,
    /// A deadline was missed.
    pub late: bool,
}

impl Job {
    /// The store whose staff works the job now: its node, or for ship-to-store the store
    /// the parcel goes to.
    pub fn store_of(&self) -> &str {
        if self.kind == JobKind::ShipToStore {
            &self.pickup_store_id
        } else {
            &self.node_id
        }
    }

    /// Where the customer collects it.
    pub fn pickup_location(&self) -> &str {
        if self.pickup_store_id.is_empty() {
            &self.node_id
        } else {
            &self.pickup_store_id
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum JobEvent {
    Created {
        job: Box<Job>,
    },
    Accepted {
        at: DateTime<Utc>,
    },
    Rejected {
        reason: RejectReason,
        at: DateTime<Utc>,
    },
    /// Units found per line; fewer than ordered is a short pick.
    Picked {
        picked: Vec<(String, i64)>,
        at: DateTime<Utc>,
    },
    Packed {
        packages: u32,
        weight_grams: u32,
        at: DateTime<Utc>,
    },
    Labelled {
        carrier: String,
        service: String,
        tracking_number: String,
        label: String,
        at: DateTime<Utc>,
    },
    Shipped {
        at: DateTime<Utc>,
    },
    /// A node's own system shipped these units.
    NodeShipped {
        carrier: String,
        tracking_number: String,
        shipped: Vec<(String, i64)>,
        at: DateTime<Utc>,
    },
    ReadyForPickup {
        pickup_code: String,
        locker_id: String,
        collect_by: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    CustomerArrived {
        bay: String,
        at: DateTime<Utc>,
    },
    Collected {
        at: DateTime<Utc>,
    },
    /// Taken back: by routing (`by_routing`), by the node, or never collected.
    Cancelled {
        reason: String,
        by_routing: bool,
        uncollected: bool,
        at: DateTime<Utc>,
    },
    SlaBreached {
        deadline: String,
        due_at: DateTime<Utc>,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for JobEvent {
    event_type_names!(JobEvent {
        Created,
        Accepted,
        Rejected,
        Picked,
        Packed,
        Labelled,
        Shipped,
        NodeShipped,
        ReadyForPickup,
        CustomerArrived,
        Collected,
        Cancelled,
        SlaBreached,
    });
}

/// Why a step is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FulfilmentError {
    #[error("{}", .0.iter().map(|(f, d)| format!("{f}: {d}")).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<(String, String)>),
    #[error("job {0} does not exist")]
    UnknownJob(String),
    #[error("job {job_id} belongs to {owner}, not to {store_id}")]
    WrongStore {
        job_id: String,
        store_id: String,
        owner: String,
    },
    #[error("job {job_id} is {status}: cannot {step} it now")]
    NotNow {
        job_id: String,
        status: &'static str,
        step: &'static str,
    },
}

/// The stream of a job.
pub fn job_stream(job_id: &str) -> String {
    format!("job:{job_id}")
}
