//! A fulfilment job as its events build it: how it is worked (its kind), where it stands
//! (its status), where it is worked now, and the fold of each of its events.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    Address, DeliveryMethod, FulfilmentError, JobCreated, JobEvent, JobId, LineId, LineUnits, LocationId, NodeType,
    OrderId, Priority, ReservationId, Sku, Violations,
};

/// How a job is worked, from the node's type, the order's delivery method and where the
/// customer collects.
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
    /// A parcel goes to the store where the customer collects it: shipped by a warehouse
    /// (its WMS confirms) or packed and shipped by another store's staff; the pickup store
    /// receives it, holds it for the customer and hands it over.
    ShipToStore,
    /// A parcel goes to a locker bank: shipped by a warehouse or carried by a store's
    /// courier; the courier deposits it in a compartment (the locker reports it, naming the
    /// locker bank as its location), the customer collects it with the code, and an
    /// uncollected parcel goes back to the node that sent it.
    ShipToLocker,
    /// A warehouse, 3PL or drop-ship supplier works it in its own system.
    External,
}

impl JobKind {
    /// The kind of job for units at `node_id` (of `node_type`) going to a customer who
    /// collects at `pickup_location_id` (of `pickup_location_type`, when routing knows it),
    /// or to an address.
    pub fn of(
        node_type: NodeType,
        delivery_method: DeliveryMethod,
        node_id: &LocationId,
        pickup_location_id: &LocationId,
        pickup_location_type: Option<NodeType>,
    ) -> Self {
        let pickup_elsewhere = !pickup_location_id.is_empty() && pickup_location_id != node_id;
        if pickup_elsewhere {
            // A pickup place whose type routing does not know is taken to be a store, whose
            // staff receive the parcel.
            return if pickup_location_type == Some(NodeType::Locker) {
                JobKind::ShipToLocker
            } else {
                JobKind::ShipToStore
            };
        }
        if node_type != NodeType::Store {
            return JobKind::External;
        }
        match delivery_method {
            DeliveryMethod::ClickAndCollect | DeliveryMethod::ShipToStore => JobKind::Pickup,
            DeliveryMethod::Curbside => JobKind::Curbside,
            DeliveryMethod::Locker => JobKind::Locker,
            DeliveryMethod::Standard | DeliveryMethod::Express | DeliveryMethod::SameDay => JobKind::Ship,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            JobKind::Ship => "ship",
            JobKind::Pickup => "pickup",
            JobKind::Curbside => "curbside",
            JobKind::Locker => "locker",
            JobKind::ShipToStore => "ship_to_store",
            JobKind::ShipToLocker => "ship_to_locker",
            JobKind::External => "external",
        }
    }

    /// The customer collects it.
    pub fn is_collected(self) -> bool {
        matches!(
            self,
            JobKind::Pickup | JobKind::Curbside | JobKind::Locker | JobKind::ShipToStore | JobKind::ShipToLocker
        )
    }

    /// The units travel as a parcel (packed, labelled, handed to a carrier or courier).
    pub fn is_parcel(self) -> bool {
        matches!(self, JobKind::Ship | JobKind::ShipToStore | JobKind::ShipToLocker)
    }

    /// The parcel goes to where the customer collects it, not to the customer.
    pub fn goes_to_pickup(self) -> bool {
        matches!(self, JobKind::ShipToStore | JobKind::ShipToLocker)
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
    InTransitToLocker,
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
                | JobStatus::InTransitToLocker
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
            JobStatus::InTransitToLocker => "in transit to the locker",
            JobStatus::ReadyForPickup => "ready for pickup",
            JobStatus::CustomerWaiting => "customer waiting",
            JobStatus::Collected => "collected",
            JobStatus::Rejected => "rejected",
            JobStatus::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobLine {
    pub line_id: LineId,
    pub sku: Sku,
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub job_id: JobId,
    pub order_id: OrderId,
    pub node_id: LocationId,
    pub node_type: NodeType,
    pub kind: JobKind,
    pub status: JobStatus,
    pub lines: Vec<JobLine>,
    pub delivery_method: DeliveryMethod,
    pub ship_to: Option<Address>,
    /// Where the customer collects, when not at the node (empty otherwise).
    pub pickup_store_id: LocationId,
    pub customer_name: String,
    pub priority: Priority,
    pub promised_at: Option<DateTime<Utc>>,
    pub accept_by: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub reservation_id: ReservationId,
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
    /// Store staff work the job at its node (accept, pick...): a store's own jobs, and
    /// parcels a store sends to a pickup store or a locker. A warehouse's, 3PL's or
    /// supplier's system works its jobs itself and confirms on the confirmations topic.
    pub fn worked_by_staff(&self) -> bool {
        match self.kind {
            JobKind::Ship | JobKind::Pickup | JobKind::Curbside | JobKind::Locker => true,
            JobKind::ShipToStore | JobKind::ShipToLocker => self.node_type == NodeType::Store,
            JobKind::External => false,
        }
    }

    /// The parcel left its node for the place the customer collects it.
    pub fn left_node(&self) -> bool {
        self.kind.goes_to_pickup()
            && matches!(
                self.status,
                JobStatus::InTransitToStore
                    | JobStatus::InTransitToLocker
                    | JobStatus::ReadyForPickup
                    | JobStatus::CustomerWaiting
                    | JobStatus::Collected
            )
    }

    /// Where the job is worked now (the store, or locker bank, whose steps it awaits): its
    /// node, or, once a parcel left for the pickup store or locker (or when a warehouse's
    /// system ships it), that place.
    pub fn store_of(&self) -> &LocationId {
        if self.kind.goes_to_pickup() && (self.left_node() || !self.worked_by_staff()) {
            &self.pickup_store_id
        } else {
            &self.node_id
        }
    }

    /// The places whose queues show the job at some point: its node when staff work it
    /// there, and the pickup store or locker a parcel goes to.
    pub fn queues(&self) -> Vec<&LocationId> {
        let mut queues = Vec::with_capacity(2);
        if self.worked_by_staff() {
            queues.push(&self.node_id);
        }
        if self.kind.goes_to_pickup() {
            queues.push(&self.pickup_store_id);
        }
        queues
    }

    /// Brought out to the customer's car: at the store that picked it, or at the pickup
    /// store a parcel went to.
    pub fn is_curbside(&self) -> bool {
        self.kind == JobKind::Curbside
            || (self.kind == JobKind::ShipToStore && self.delivery_method == DeliveryMethod::Curbside)
    }

    /// Whether `place` has a part in the job: its node, or where its parcel goes.
    pub fn concerns(&self, place: &str) -> bool {
        self.node_id == *place || (self.kind.goes_to_pickup() && self.pickup_store_id == *place)
    }

    /// Where the customer collects it.
    pub fn pickup_location(&self) -> &LocationId {
        if self.pickup_store_id.is_empty() {
            &self.node_id
        } else {
            &self.pickup_store_id
        }
    }

    /// Where uncollected units go back on sale, when they had left their node: a parcel at
    /// a pickup store stays there; a locker's parcel is taken back to the node that sent
    /// it. `None` when they never left (the node still holds them under its reservation).
    pub fn uncollected_return_location(&self) -> Option<&LocationId> {
        match self.kind {
            JobKind::ShipToStore if self.left_node() => Some(&self.pickup_store_id),
            JobKind::ShipToLocker if self.left_node() => Some(&self.node_id),
            _ => None,
        }
    }
}

impl From<&JobCreated> for Job {
    fn from(created: &JobCreated) -> Self {
        Job {
            job_id: created.job_id.clone(),
            order_id: created.order_id.clone(),
            node_id: created.node_id.clone(),
            node_type: created.node_type,
            kind: created.kind,
            status: JobStatus::Requested,
            lines: created
                .lines
                .iter()
                .map(|l| JobLine {
                    line_id: l.line_id.clone(),
                    sku: l.sku.clone(),
                    ordered: l.units,
                    picked: None,
                })
                .collect(),
            delivery_method: created.delivery_method,
            ship_to: created.ship_to.clone(),
            pickup_store_id: created.pickup_store_id.clone(),
            customer_name: created.customer_name.clone(),
            priority: created.priority,
            promised_at: created.promised_at,
            accept_by: created.accept_by,
            created_at: created.at,
            reservation_id: created.reservation_id.clone(),
            carrier: String::new(),
            service: String::new(),
            tracking_number: String::new(),
            packages: 0,
            weight_grams: 0,
            label: String::new(),
            pickup_code: String::new(),
            locker_id: String::new(),
            collect_by: None,
            curbside_bay: String::new(),
            reason: String::new(),
            late: false,
        }
    }
}

impl Job {
    /// The units a line was given, by a picker or a node's system; 0 for a line left out.
    fn units_of(lines: &[LineUnits], line_id: &LineId) -> i64 {
        lines.iter().find(|l| l.line_id == *line_id).map_or(0, |l| l.units)
    }

    /// Every line of the job once, with 0 to the ordered units (a pick, or what a node's
    /// system shipped).
    pub fn check_units(&self, given: &[LineUnits]) -> Result<(), FulfilmentError> {
        let mut bad = Violations::new();
        for (i, given) in given.iter().enumerate() {
            match self.lines.iter().find(|l| l.line_id == given.line_id) {
                None => bad.add(
                    format!("lines[{i}].order_line_id"),
                    format!("the job has no line {:?}", given.line_id.as_str()),
                ),
                Some(line) if given.units < 0 || given.units > line.ordered => bad.add(
                    format!("lines[{i}].picked"),
                    format!("must be between 0 and {}", line.ordered),
                ),
                Some(_) => {}
            }
        }
        for line in &self.lines {
            let times = given.iter().filter(|g| g.line_id == line.line_id).count();
            bad.check(
                times != 1,
                "lines",
                format!("line {} must be given once (given {times} times)", line.line_id),
            );
        }
        bad.or_ok(()).map_err(FulfilmentError::Invalid)
    }

    /// The job was picked with exactly these units already.
    pub fn picked_as(&self, given: &[LineUnits]) -> bool {
        self.lines.iter().all(|l| {
            given
                .iter()
                .any(|g| g.line_id == l.line_id && Some(g.units) == l.picked)
        })
    }

    /// Folds one of the job's own events in (`Created` makes the job: see `From<&JobCreated>`).
    pub fn evolve(&mut self, event: &JobEvent) {
        match event {
            JobEvent::Created(_) => {}
            JobEvent::Accepted { .. } => self.status = JobStatus::Accepted,
            JobEvent::Rejected { reason, .. } => {
                self.status = JobStatus::Rejected;
                self.reason = format!("{reason:?}");
            }
            JobEvent::Picked { lines, .. } => {
                self.found(lines);
                self.status = JobStatus::Picked;
            }
            JobEvent::Packed {
                packages, weight_grams, ..
            } => {
                self.packages = *packages;
                self.weight_grams = *weight_grams;
                self.status = JobStatus::Packed;
            }
            JobEvent::Labelled {
                carrier,
                service,
                tracking_number,
                label,
                ..
            } => {
                self.carrier.clone_from(carrier);
                self.service.clone_from(service);
                self.tracking_number.clone_from(tracking_number);
                self.label.clone_from(label);
                self.status = JobStatus::Labelled;
            }
            JobEvent::Shipped { .. } => self.status = self.shipped_status(),
            JobEvent::NodeShipped {
                carrier,
                tracking_number,
                lines,
                ..
            } => {
                self.carrier.clone_from(carrier);
                self.tracking_number.clone_from(tracking_number);
                self.found(lines);
                self.status = self.shipped_status();
            }
            JobEvent::ReadyForPickup {
                pickup_code,
                locker_id,
                collect_by,
                ..
            } => {
                self.pickup_code.clone_from(pickup_code);
                self.locker_id.clone_from(locker_id);
                self.collect_by = Some(*collect_by);
                self.status = JobStatus::ReadyForPickup;
            }
            JobEvent::CustomerArrived { bay, .. } => {
                self.curbside_bay.clone_from(bay);
                self.status = JobStatus::CustomerWaiting;
            }
            JobEvent::Collected { .. } => self.status = JobStatus::Collected,
            JobEvent::Cancelled { reason, .. } => {
                self.status = JobStatus::Cancelled;
                self.reason.clone_from(reason);
            }
            JobEvent::SlaBreached { .. } => self.late = true,
        }
    }

    /// Records the units found (or shipped) of every line; a line left out had none.
    fn found(&mut self, lines: &[LineUnits]) {
        for line in &mut self.lines {
            line.picked = Some(Self::units_of(lines, &line.line_id));
        }
    }

    /// Where the job's parcel is once it left its node.
    fn shipped_status(&self) -> JobStatus {
        match self.kind {
            JobKind::ShipToStore => JobStatus::InTransitToStore,
            JobKind::ShipToLocker => JobStatus::InTransitToLocker,
            _ => JobStatus::Shipped,
        }
    }
}
