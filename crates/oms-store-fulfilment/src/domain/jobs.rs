//! Every job and the stores' queues, as the events build them, and the decisions that
//! change them: each a pure function from the state and a step to the events it records.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use oms_eventsourcing::{EventHeader, Model};
use serde::{Deserialize, Serialize};

use super::{FulfilmentError, Job, JobEvent, JobKind, JobLine, JobStatus, RejectReason, job_stream};

pub type Events = Vec<(String, JobEvent)>;

/// How long nodes have.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Deadlines {
    /// A store accepts a job within this, or loses it.
    pub accept_within: Duration,
    /// Units ready for pickup wait this long for the customer.
    pub collect_within: Duration,
}

impl Default for Deadlines {
    fn default() -> Self {
        Self {
            accept_within: Duration::minutes(60),
            collect_within: Duration::days(7),
        }
    }
}

/// A staff step on a job.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Accept,
    Reject(RejectReason),
    /// Units found per line id.
    Pick(Vec<(String, i64)>),
    /// Packages and their weights in grams.
    Pack(Vec<u32>),
    Label {
        carrier: String,
        service: String,
        tracking_number: String,
        label: String,
    },
    Ship,
    ReadyForPickup {
        pickup_code: String,
    },
    DepositInLocker {
        locker_id: String,
        pickup_code: String,
    },
    CustomerArrived {
        bay: String,
    },
    HandOver {
        pickup_code: String,
    },
    ReceiveParcel {
        pickup_code: String,
    },
}

impl Step {
    fn name(&self) -> &'static str {
        match self {
            Step::Accept => "accept",
            Step::Reject(_) => "reject",
            Step::Pick(_) => "pick",
            Step::Pack(_) => "pack",
            Step::Label { .. } => "label",
            Step::Ship => "ship",
            Step::ReadyForPickup { .. } => "mark ready for pickup",
            Step::DepositInLocker { .. } => "deposit in a locker",
            Step::CustomerArrived { .. } => "record the customer's arrival for",
            Step::HandOver { .. } => "hand over",
            Step::ReceiveParcel { .. } => "receive the parcel of",
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Fulfilment {
    jobs: HashMap<String, Job>,
    /// Store → its jobs (those it works and ship-to-store parcels it receives).
    stores: BTreeMap<String, BTreeSet<String>>,
    /// Jobs with a deadline still to watch.
    open: BTreeSet<String>,
}

impl Model for Fulfilment {
    type Event = JobEvent;
    const NAME: &'static str = "store-fulfilment";
    const SNAPSHOT_VERSION: u32 = 1;

    fn apply(&mut self, header: &EventHeader<'_>, event: &JobEvent) {
        if let JobEvent::Created { job } = event {
            for place in job.queues() {
                self.stores
                    .entry(place.to_owned())
                    .or_default()
                    .insert(job.job_id.clone());
            }
            self.open.insert(job.job_id.clone());
            self.jobs.entry(job.job_id.clone()).or_insert_with(|| (**job).clone());
            return;
        }
        let Some(job_id) = header.stream_id.strip_prefix("job:") else {
            return;
        };
        let Some(job) = self.jobs.get_mut(job_id) else { return };
        evolve_job(job, event);
        if job.status.is_finished() {
            self.open.remove(job_id);
        }
    }
}

/// Applies one of the job's own events (not `Created`).
pub fn evolve_job(job: &mut Job, event: &JobEvent) {
    match event {
        JobEvent::Created { .. } => {}
        JobEvent::Accepted { .. } => job.status = JobStatus::Accepted,
        JobEvent::Rejected { reason, .. } => {
            job.status = JobStatus::Rejected;
            job.reason = format!("{reason:?}");
        }
        JobEvent::Picked { picked, .. } => {
            for line in &mut job.lines {
                line.picked = Some(picked.iter().find(|(id, _)| *id == line.line_id).map_or(0, |(_, q)| *q));
            }
            job.status = JobStatus::Picked;
        }
        JobEvent::Packed {
            packages, weight_grams, ..
        } => {
            job.packages = *packages;
            job.weight_grams = *weight_grams;
            job.status = JobStatus::Packed;
        }
        JobEvent::Labelled {
            carrier,
            service,
            tracking_number,
            label,
            ..
        } => {
            job.carrier = carrier.clone();
            job.service = service.clone();
            job.tracking_number = tracking_number.clone();
            job.label = label.clone();
            job.status = JobStatus::Labelled;
        }
        JobEvent::Shipped { .. } => job.status = shipped_status(job.kind),
        JobEvent::NodeShipped {
            carrier,
            tracking_number,
            shipped,
            ..
        } => {
            job.carrier = carrier.clone();
            job.tracking_number = tracking_number.clone();
            for line in &mut job.lines {
                line.picked = Some(
                    shipped
                        .iter()
                        .find(|(id, _)| *id == line.line_id)
                        .map_or(0, |(_, q)| *q),
                );
            }
            job.status = shipped_status(job.kind);
        }
        JobEvent::ReadyForPickup {
            pickup_code,
            locker_id,
            collect_by,
            ..
        } => {
            job.pickup_code = pickup_code.clone();
            job.locker_id = locker_id.clone();
            job.collect_by = Some(*collect_by);
            job.status = JobStatus::ReadyForPickup;
        }
        JobEvent::CustomerArrived { bay, .. } => {
            job.curbside_bay = bay.clone();
            job.status = JobStatus::CustomerWaiting;
        }
        JobEvent::Collected { .. } => job.status = JobStatus::Collected,
        JobEvent::Cancelled { reason, .. } => {
            job.status = JobStatus::Cancelled;
            job.reason = reason.clone();
        }
        JobEvent::SlaBreached { .. } => job.late = true,
    }
}

/// Where a job's parcel is once it left its node.
fn shipped_status(kind: JobKind) -> JobStatus {
    match kind {
        JobKind::ShipToStore => JobStatus::InTransitToStore,
        JobKind::ShipToLocker => JobStatus::InTransitToLocker,
        _ => JobStatus::Shipped,
    }
}

impl Fulfilment {
    pub fn job(&self, job_id: &str) -> Option<&Job> {
        self.jobs.get(job_id)
    }

    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// A store's jobs, most urgent first: priority, then the earliest promise, then age.
    pub fn queue(&self, store_id: &str, include_finished: bool) -> Vec<&Job> {
        let mut jobs: Vec<&Job> = self
            .stores
            .get(store_id)
            .into_iter()
            .flatten()
            .filter_map(|id| self.jobs.get(id))
            // A parcel between two places shows where it is worked now (the sending
            // store's queue, then the pickup store's), unless the store asks for history.
            .filter(|j| include_finished || (!j.status.is_finished() && j.store_of() == store_id))
            .collect();
        jobs.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then_with(|| match (a.promised_at, b.promised_at) {
                    (Some(x), Some(y)) => x.cmp(&y),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                })
                .then_with(|| a.created_at.cmp(&b.created_at))
                .then_with(|| a.job_id.cmp(&b.job_id))
        });
        jobs
    }

    /// A new job from routing's request; the same request again adds nothing.
    pub fn create(&self, mut job: Job, deadlines: &Deadlines) -> Result<Events, FulfilmentError> {
        let mut bad = Vec::new();
        if job.job_id.trim().is_empty() {
            bad.push(("fulfilment_request_id".to_owned(), "is required".to_owned()));
        }
        if job.node_id.trim().is_empty() {
            bad.push(("node_id".to_owned(), "is required".to_owned()));
        }
        if job.lines.is_empty() {
            bad.push(("lines".to_owned(), "at least one line is required".to_owned()));
        }
        for (i, line) in job.lines.iter().enumerate() {
            if line.sku.is_empty() || line.ordered <= 0 {
                bad.push((format!("lines[{i}]"), "needs a SKU and 1 unit or more".to_owned()));
            }
        }
        if job.kind == JobKind::Ship && job.ship_to.is_none() {
            bad.push(("shipping_address".to_owned(), "is required to ship".to_owned()));
        }
        if !bad.is_empty() {
            return Err(FulfilmentError::Invalid(bad));
        }
        if self.jobs.contains_key(&job.job_id) {
            return Ok(Vec::new());
        }
        if job.worked_by_staff() {
            job.accept_by = Some(job.created_at + deadlines.accept_within);
        }
        Ok(vec![(
            job_stream(&job.job_id),
            JobEvent::Created { job: Box::new(job) },
        )])
    }

    fn known(&self, job_id: &str) -> Result<&Job, FulfilmentError> {
        self.jobs
            .get(job_id)
            .ok_or_else(|| FulfilmentError::UnknownJob(job_id.to_owned()))
    }

    /// A staff step at `store_id`.
    pub fn step(
        &self,
        store_id: &str,
        job_id: &str,
        step: Step,
        deadlines: &Deadlines,
        at: DateTime<Utc>,
    ) -> Result<Events, FulfilmentError> {
        let job = self.known(job_id)?;
        if job.store_of() != store_id {
            return Err(FulfilmentError::WrongStore {
                job_id: job_id.to_owned(),
                store_id: store_id.to_owned(),
                owner: job.store_of().to_owned(),
            });
        }
        let step_name = step.name();
        let not_now = || FulfilmentError::NotNow {
            job_id: job_id.to_owned(),
            status: job.status.name(),
            step: step_name,
        };
        let stream = job_stream(job_id);
        let one = |event: JobEvent| Ok(vec![(stream.clone(), event)]);
        let deposit = |locker_id: String, pickup_code: String| {
            if locker_id.trim().is_empty() {
                return Err(FulfilmentError::Invalid(vec![(
                    "locker_id".to_owned(),
                    "is required: the locker (compartment) the parcel is in".to_owned(),
                )]));
            }
            one(JobEvent::ReadyForPickup {
                pickup_code,
                locker_id,
                collect_by: at + deadlines.collect_within,
                at,
            })
        };
        let status = job.status;
        let kind = job.kind;
        let staff = job.worked_by_staff();
        match step {
            Step::Accept => match status {
                JobStatus::Requested if staff => one(JobEvent::Accepted { at }),
                JobStatus::Accepted => Ok(Vec::new()),
                _ => Err(not_now()),
            },
            Step::Reject(reason) => match status {
                JobStatus::Requested | JobStatus::Accepted if staff => one(JobEvent::Rejected { reason, at }),
                JobStatus::Rejected => Ok(Vec::new()),
                _ => Err(not_now()),
            },
            Step::Pick(picked) => {
                match status {
                    JobStatus::Accepted => {}
                    JobStatus::Picked if same_picks(job, &picked) => return Ok(Vec::new()),
                    _ => return Err(not_now()),
                }
                check_picks(job, &picked)?;
                if picked.iter().all(|(_, q)| *q == 0) {
                    // Nothing found: the whole job goes back.
                    return one(JobEvent::Rejected {
                        reason: RejectReason::OutOfStock,
                        at,
                    });
                }
                one(JobEvent::Picked { picked, at })
            }
            Step::Pack(packages) => match status {
                JobStatus::Picked if kind.is_parcel() => {
                    if packages.is_empty() || packages.contains(&0) {
                        return Err(FulfilmentError::Invalid(vec![(
                            "packages".to_owned(),
                            "at least one package, each weighing more than 0 g".to_owned(),
                        )]));
                    }
                    one(JobEvent::Packed {
                        packages: u32::try_from(packages.len()).unwrap_or(u32::MAX),
                        weight_grams: packages.iter().fold(0u32, |sum, w| sum.saturating_add(*w)),
                        at,
                    })
                }
                JobStatus::Packed => Ok(Vec::new()),
                _ => Err(not_now()),
            },
            Step::Label {
                carrier,
                service,
                tracking_number,
                label,
            } => match status {
                JobStatus::Packed => one(JobEvent::Labelled {
                    carrier,
                    service,
                    tracking_number,
                    label,
                    at,
                }),
                JobStatus::Labelled => Ok(Vec::new()),
                _ => Err(not_now()),
            },
            Step::Ship => match status {
                JobStatus::Labelled => one(JobEvent::Shipped { at }),
                JobStatus::Shipped | JobStatus::InTransitToStore | JobStatus::InTransitToLocker => Ok(Vec::new()),
                _ => Err(not_now()),
            },
            Step::ReadyForPickup { pickup_code } => match status {
                JobStatus::Picked if matches!(kind, JobKind::Pickup | JobKind::Curbside) => {
                    one(JobEvent::ReadyForPickup {
                        pickup_code,
                        locker_id: String::new(),
                        collect_by: at + deadlines.collect_within,
                        at,
                    })
                }
                JobStatus::ReadyForPickup => Ok(Vec::new()),
                _ => Err(not_now()),
            },
            Step::DepositInLocker { locker_id, pickup_code } => match status {
                // At the store's own locker, by its staff; or at a locker bank, by the
                // courier who brought the parcel (the locker bank reports it).
                JobStatus::Picked if kind == JobKind::Locker => deposit(locker_id, pickup_code),
                JobStatus::InTransitToLocker => deposit(locker_id, pickup_code),
                JobStatus::ReadyForPickup if job.locker_id == locker_id => Ok(Vec::new()),
                _ => Err(not_now()),
            },
            Step::CustomerArrived { bay } => match status {
                JobStatus::ReadyForPickup if job.is_curbside() => one(JobEvent::CustomerArrived { bay, at }),
                JobStatus::CustomerWaiting => Ok(Vec::new()),
                _ => Err(not_now()),
            },
            Step::HandOver { pickup_code } => match status {
                JobStatus::ReadyForPickup | JobStatus::CustomerWaiting if kind.is_collected() => {
                    if pickup_code.trim() != job.pickup_code {
                        return Err(FulfilmentError::Invalid(vec![(
                            "pickup_code".to_owned(),
                            "does not match the order's pickup code".to_owned(),
                        )]));
                    }
                    one(JobEvent::Collected { at })
                }
                JobStatus::Collected => Ok(Vec::new()),
                _ => Err(not_now()),
            },
            Step::ReceiveParcel { pickup_code } => match status {
                JobStatus::InTransitToStore => one(JobEvent::ReadyForPickup {
                    pickup_code,
                    locker_id: String::new(),
                    collect_by: at + deadlines.collect_within,
                    at,
                }),
                JobStatus::ReadyForPickup if kind == JobKind::ShipToStore => Ok(Vec::new()),
                _ => Err(not_now()),
            },
        }
    }

    /// A warehouse, 3PL or supplier system took the job on.
    pub fn node_accepted(&self, job_id: &str, at: DateTime<Utc>) -> Result<Events, FulfilmentError> {
        let job = self.known(job_id)?;
        Ok(match job.status {
            JobStatus::Requested if !job.worked_by_staff() => {
                vec![(job_stream(job_id), JobEvent::Accepted { at })]
            }
            _ => Vec::new(),
        })
    }

    /// A warehouse, 3PL or supplier system shipped the job (or part of it).
    pub fn node_shipped(
        &self,
        job_id: &str,
        carrier: String,
        tracking_number: String,
        shipped: Vec<(String, i64)>,
        at: DateTime<Utc>,
    ) -> Result<Events, FulfilmentError> {
        let job = self.known(job_id)?;
        match job.status {
            JobStatus::Requested | JobStatus::Accepted if !job.worked_by_staff() => {}
            JobStatus::Shipped | JobStatus::InTransitToStore | JobStatus::InTransitToLocker => return Ok(Vec::new()),
            _ => {
                return Err(FulfilmentError::NotNow {
                    job_id: job_id.to_owned(),
                    status: job.status.name(),
                    step: "ship",
                });
            }
        }
        check_picks(job, &shipped)?;
        Ok(vec![(
            job_stream(job_id),
            if shipped.iter().all(|(_, q)| *q == 0) {
                JobEvent::Rejected {
                    reason: RejectReason::OutOfStock,
                    at,
                }
            } else {
                JobEvent::NodeShipped {
                    carrier,
                    tracking_number,
                    shipped,
                    at,
                }
            },
        )])
    }

    /// The job is taken back: by routing (the order was cancelled or sent elsewhere) or by
    /// the node's own system. Units already gone stay gone.
    pub fn cancel(
        &self,
        job_id: &str,
        reason: &str,
        by_routing: bool,
        at: DateTime<Utc>,
    ) -> Result<Events, FulfilmentError> {
        let job = self.known(job_id)?;
        // A parcel on its way to the pickup store or locker cannot be called back from here.
        if job.status.is_finished() || matches!(job.status, JobStatus::InTransitToStore | JobStatus::InTransitToLocker)
        {
            return Ok(Vec::new());
        }
        Ok(vec![(
            job_stream(job_id),
            JobEvent::Cancelled {
                reason: reason.to_owned(),
                by_routing,
                uncollected: false,
                at,
            },
        )])
    }

    /// What the clock says is due: stores that did not accept in time lose the job, jobs
    /// past their promise are marked late once, and units nobody collected go back.
    pub fn due(&self, now: DateTime<Utc>) -> Events {
        let mut events = Vec::new();
        for id in &self.open {
            let Some(job) = self.jobs.get(id) else { continue };
            let stream = job_stream(id);
            if job.status == JobStatus::Requested
                && let Some(by) = job.accept_by
                && by <= now
            {
                events.push((
                    stream.clone(),
                    JobEvent::SlaBreached {
                        deadline: "accept".to_owned(),
                        due_at: by,
                        at: now,
                    },
                ));
                events.push((
                    stream,
                    JobEvent::Rejected {
                        reason: RejectReason::AcceptanceTimeout,
                        at: now,
                    },
                ));
                continue;
            }
            if matches!(job.status, JobStatus::ReadyForPickup | JobStatus::CustomerWaiting)
                && let Some(by) = job.collect_by
                && by <= now
            {
                events.push((
                    stream,
                    JobEvent::Cancelled {
                        reason: format!("not collected by {by}"),
                        by_routing: false,
                        uncollected: true,
                        at: now,
                    },
                ));
                continue;
            }
            if !job.late
                && !job.status.kept_promise()
                && let Some(promised) = job.promised_at
                && promised <= now
            {
                events.push((
                    stream,
                    JobEvent::SlaBreached {
                        deadline: "promise".to_owned(),
                        due_at: promised,
                        at: now,
                    },
                ));
            }
        }
        events
    }
}

fn same_picks(job: &Job, picked: &[(String, i64)]) -> bool {
    job.lines
        .iter()
        .all(|l| picked.iter().any(|(id, q)| *id == l.line_id && Some(*q) == l.picked))
}

/// Every line of the job once, with 0 to the ordered units.
fn check_picks(job: &Job, picked: &[(String, i64)]) -> Result<(), FulfilmentError> {
    let mut bad = Vec::new();
    for (i, (line_id, quantity)) in picked.iter().enumerate() {
        match job.lines.iter().find(|l: &&JobLine| l.line_id == *line_id) {
            None => bad.push((
                format!("lines[{i}].order_line_id"),
                format!("the job has no line {line_id:?}"),
            )),
            Some(line) if *quantity < 0 || *quantity > line.ordered => bad.push((
                format!("lines[{i}].picked"),
                format!("must be between 0 and {}", line.ordered),
            )),
            Some(_) => {}
        }
    }
    for line in &job.lines {
        let times = picked.iter().filter(|(id, _)| *id == line.line_id).count();
        if times != 1 {
            bad.push((
                "lines".to_owned(),
                format!("line {} must be given once (given {times} times)", line.line_id),
            ));
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(FulfilmentError::Invalid(bad))
    }
}
