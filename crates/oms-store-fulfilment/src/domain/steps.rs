//! The staff's steps on a job, taken at the store (or locker bank) that works it now: one
//! command and one rule per step. A step records at most one event; a step taken again
//! once it is done answers the job as it is, and a step out of order is refused.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use oms_eventsourcing::{Changes, Decide};

use super::{
    Fulfilment, FulfilmentError, Job, JobEvent, JobId, JobKind, JobStatus, LineUnits, LocationId, RejectReason, on_job,
};
use crate::carriers::{self, CarrierService, Carriers};

/// The job a step is about, and the store (or locker bank) whose staff take it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRef {
    pub store_id: LocationId,
    pub job_id: JobId,
}

impl JobRef {
    pub fn new(store_id: impl Into<LocationId>, job_id: impl Into<JobId>) -> Self {
        Self {
            store_id: store_id.into(),
            job_id: job_id.into(),
        }
    }
}

/// A step store staff take on a job.
pub trait StaffStep: Decide<Fulfilment, Refusal = FulfilmentError> + Send + 'static {
    fn job(&self) -> &JobRef;
}

/// What a step decides about its job: at most one event.
type Step = Result<Option<JobEvent>, FulfilmentError>;

/// The job, if it is worked at the store taking the step.
fn at_store<'s>(state: &'s Fulfilment, job: &JobRef) -> Result<&'s Job, FulfilmentError> {
    let found = state.known(&job.job_id)?;
    if *found.store_of() != job.store_id {
        return Err(FulfilmentError::WrongStore {
            job_id: job.job_id.clone(),
            store_id: job.store_id.clone(),
            owner: found.store_of().clone(),
        });
    }
    Ok(found)
}

/// Decides `rule` on the job `job` names, at its store.
fn step_on(
    state: &Fulfilment,
    job: &JobRef,
    rule: impl FnOnce(&Job) -> Step,
) -> Result<Changes<JobEvent>, FulfilmentError> {
    let job = at_store(state, job)?;
    rule(job).map(|event| on_job(job, event))
}

macro_rules! staff_steps {
    ($($step:ident),+ $(,)?) => {
        $(impl StaffStep for $step {
            fn job(&self) -> &JobRef {
                &self.job
            }
        })+
    };
}

staff_steps!(
    AcceptJob,
    RejectJob,
    PickJob,
    PackJob,
    LabelJob,
    ShipJob,
    MarkReadyForPickup,
    DepositInLocker,
    RecordCustomerArrival,
    HandOver,
    ReceiveParcel,
);

/// The store takes the job on.
#[derive(Debug, Clone, PartialEq)]
pub struct AcceptJob {
    pub job: JobRef,
}

impl Decide<Fulfilment> for AcceptJob {
    type Refusal = FulfilmentError;

    fn decide(&self, state: &Fulfilment, now: DateTime<Utc>) -> Result<Changes<JobEvent>, FulfilmentError> {
        step_on(state, &self.job, |job| accept(job, now))
    }
}

fn accept(job: &Job, at: DateTime<Utc>) -> Step {
    match job.status {
        JobStatus::Requested if job.worked_by_staff() => Ok(Some(JobEvent::Accepted { at })),
        JobStatus::Accepted => Ok(None),
        _ => Err(FulfilmentError::not_now(job, "accept")),
    }
}

/// The store will not fulfil the job: routing sends its units elsewhere.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectJob {
    pub job: JobRef,
    pub reason: RejectReason,
}

impl Decide<Fulfilment> for RejectJob {
    type Refusal = FulfilmentError;

    fn decide(&self, state: &Fulfilment, now: DateTime<Utc>) -> Result<Changes<JobEvent>, FulfilmentError> {
        step_on(state, &self.job, |job| reject(job, self.reason, now))
    }
}

/// Before anything is picked only.
fn reject(job: &Job, reason: RejectReason, at: DateTime<Utc>) -> Step {
    match job.status {
        JobStatus::Requested | JobStatus::Accepted if job.worked_by_staff() => {
            Ok(Some(JobEvent::Rejected { reason, at }))
        }
        JobStatus::Rejected => Ok(None),
        _ => Err(FulfilmentError::not_now(job, "reject")),
    }
}

/// The units found of every line of the job.
#[derive(Debug, Clone, PartialEq)]
pub struct PickJob {
    pub job: JobRef,
    pub lines: Vec<LineUnits>,
}

impl Decide<Fulfilment> for PickJob {
    type Refusal = FulfilmentError;

    fn decide(&self, state: &Fulfilment, now: DateTime<Utc>) -> Result<Changes<JobEvent>, FulfilmentError> {
        step_on(state, &self.job, |job| pick(job, &self.lines, now))
    }
}

/// Fewer units than ordered is a short pick (the rest go back to routing); nothing found
/// sends the whole job back.
fn pick(job: &Job, lines: &[LineUnits], at: DateTime<Utc>) -> Step {
    match job.status {
        JobStatus::Accepted => {}
        JobStatus::Picked if job.picked_as(lines) => return Ok(None),
        _ => return Err(FulfilmentError::not_now(job, "pick")),
    }
    job.check_units(lines)?;
    if lines.iter().all(|l| l.units == 0) {
        return Ok(Some(JobEvent::Rejected {
            reason: RejectReason::OutOfStock,
            at,
        }));
    }
    Ok(Some(JobEvent::Picked {
        lines: lines.to_vec(),
        at,
    }))
}

/// The picked units are packed: each package's weight in grams.
#[derive(Debug, Clone, PartialEq)]
pub struct PackJob {
    pub job: JobRef,
    pub package_weights_grams: Vec<u32>,
}

impl Decide<Fulfilment> for PackJob {
    type Refusal = FulfilmentError;

    fn decide(&self, state: &Fulfilment, now: DateTime<Utc>) -> Result<Changes<JobEvent>, FulfilmentError> {
        step_on(state, &self.job, |job| pack(job, &self.package_weights_grams, now))
    }
}

/// Parcels only: what the customer collects at the store is not packed.
fn pack(job: &Job, weights: &[u32], at: DateTime<Utc>) -> Step {
    match job.status {
        JobStatus::Picked if job.kind.is_parcel() => {
            if weights.is_empty() || weights.contains(&0) {
                return Err(FulfilmentError::invalid(
                    "packages",
                    "at least one package, each weighing more than 0 g",
                ));
            }
            Ok(Some(JobEvent::Packed {
                packages: u32::try_from(weights.len()).unwrap_or(u32::MAX),
                weight_grams: weights.iter().fold(0u32, |sum, w| sum.saturating_add(*w)),
                at,
            }))
        }
        JobStatus::Packed => Ok(None),
        _ => Err(FulfilmentError::not_now(job, "pack")),
    }
}

/// A carrier and service for the job's delivery method are chosen and its label is drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelJob {
    pub job: JobRef,
    pub carriers: Arc<Carriers>,
}

impl Decide<Fulfilment> for LabelJob {
    type Refusal = FulfilmentError;

    fn decide(&self, state: &Fulfilment, now: DateTime<Utc>) -> Result<Changes<JobEvent>, FulfilmentError> {
        let job = state.known(&self.job.job_id)?;
        let service = self.carriers.choose(job.delivery_method).ok_or_else(|| {
            FulfilmentError::invalid(
                "delivery_method",
                format!("no carrier is configured for {} delivery", job.delivery_method.label()),
            )
        })?;
        step_on(state, &self.job, |job| label(job, service, now))
    }
}

fn label(job: &Job, service: &CarrierService, at: DateTime<Utc>) -> Step {
    match job.status {
        JobStatus::Packed => {
            let tracking_number = carriers::tracking_number(service, job.job_id.as_str());
            Ok(Some(JobEvent::Labelled {
                carrier: service.carrier.clone(),
                service: service.service.code().to_owned(),
                label: carriers::label(job, service, &tracking_number),
                tracking_number,
                at,
            }))
        }
        JobStatus::Labelled => Ok(None),
        _ => Err(FulfilmentError::not_now(job, "label")),
    }
}

/// The labelled parcel is handed to the carrier (or the courier).
#[derive(Debug, Clone, PartialEq)]
pub struct ShipJob {
    pub job: JobRef,
}

impl Decide<Fulfilment> for ShipJob {
    type Refusal = FulfilmentError;

    fn decide(&self, state: &Fulfilment, now: DateTime<Utc>) -> Result<Changes<JobEvent>, FulfilmentError> {
        step_on(state, &self.job, |job| ship(job, now))
    }
}

fn ship(job: &Job, at: DateTime<Utc>) -> Step {
    match job.status {
        JobStatus::Labelled => Ok(Some(JobEvent::Shipped { at })),
        JobStatus::Shipped | JobStatus::InTransitToStore | JobStatus::InTransitToLocker => Ok(None),
        _ => Err(FulfilmentError::not_now(job, "ship")),
    }
}

/// The picked units wait at the counter (or for the customer's car), under a pickup code.
#[derive(Debug, Clone, PartialEq)]
pub struct MarkReadyForPickup {
    pub job: JobRef,
    pub pickup_code: String,
    /// How long they wait for the customer.
    pub collect_within: Duration,
}

impl Decide<Fulfilment> for MarkReadyForPickup {
    type Refusal = FulfilmentError;

    fn decide(&self, state: &Fulfilment, now: DateTime<Utc>) -> Result<Changes<JobEvent>, FulfilmentError> {
        step_on(state, &self.job, |job| {
            mark_ready_for_pickup(job, &self.pickup_code, now + self.collect_within, now)
        })
    }
}

/// Click & collect and curbside at the store that picked them.
fn mark_ready_for_pickup(job: &Job, pickup_code: &str, collect_by: DateTime<Utc>, at: DateTime<Utc>) -> Step {
    match job.status {
        JobStatus::Picked if matches!(job.kind, JobKind::Pickup | JobKind::Curbside) => {
            Ok(Some(waiting_for_the_customer(pickup_code, "", collect_by, at)))
        }
        JobStatus::ReadyForPickup => Ok(None),
        _ => Err(FulfilmentError::not_now(job, "mark ready for pickup")),
    }
}

/// The units wait for the customer under `pickup_code` (in locker compartment
/// `locker_id`, if any) until `collect_by`.
fn waiting_for_the_customer(
    pickup_code: &str,
    locker_id: &str,
    collect_by: DateTime<Utc>,
    at: DateTime<Utc>,
) -> JobEvent {
    JobEvent::ReadyForPickup {
        pickup_code: pickup_code.to_owned(),
        locker_id: locker_id.to_owned(),
        collect_by,
        at,
    }
}

/// The units are put in a locker compartment, opened with a pickup code.
#[derive(Debug, Clone, PartialEq)]
pub struct DepositInLocker {
    pub job: JobRef,
    pub locker_id: String,
    pub pickup_code: String,
    /// How long they wait for the customer.
    pub collect_within: Duration,
}

impl Decide<Fulfilment> for DepositInLocker {
    type Refusal = FulfilmentError;

    fn decide(&self, state: &Fulfilment, now: DateTime<Utc>) -> Result<Changes<JobEvent>, FulfilmentError> {
        step_on(state, &self.job, |job| {
            deposit_in_locker(job, &self.locker_id, &self.pickup_code, now + self.collect_within, now)
        })
    }
}

/// At the store's own locker, by its staff once picked; or at a locker bank, by the
/// courier who brought the parcel (the locker bank reports it).
fn deposit_in_locker(
    job: &Job,
    locker_id: &str,
    pickup_code: &str,
    collect_by: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Step {
    let here = match job.status {
        JobStatus::Picked => job.kind == JobKind::Locker,
        JobStatus::InTransitToLocker => true,
        JobStatus::ReadyForPickup if job.locker_id == locker_id => return Ok(None),
        _ => false,
    };
    if !here {
        return Err(FulfilmentError::not_now(job, "deposit in a locker"));
    }
    if locker_id.trim().is_empty() {
        return Err(FulfilmentError::invalid(
            "locker_id",
            "is required: the locker (compartment) the parcel is in",
        ));
    }
    Ok(Some(waiting_for_the_customer(pickup_code, locker_id, collect_by, at)))
}

/// The customer waits outside, in a curbside bay.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordCustomerArrival {
    pub job: JobRef,
    pub bay: String,
}

impl Decide<Fulfilment> for RecordCustomerArrival {
    type Refusal = FulfilmentError;

    fn decide(&self, state: &Fulfilment, now: DateTime<Utc>) -> Result<Changes<JobEvent>, FulfilmentError> {
        step_on(state, &self.job, |job| customer_arrived(job, &self.bay, now))
    }
}

fn customer_arrived(job: &Job, bay: &str, at: DateTime<Utc>) -> Step {
    match job.status {
        JobStatus::ReadyForPickup if job.is_curbside() => Ok(Some(JobEvent::CustomerArrived {
            bay: bay.to_owned(),
            at,
        })),
        JobStatus::CustomerWaiting => Ok(None),
        _ => Err(FulfilmentError::not_now(job, "record the customer's arrival for")),
    }
}

/// The customer collects, showing the pickup code.
#[derive(Debug, Clone, PartialEq)]
pub struct HandOver {
    pub job: JobRef,
    pub pickup_code: String,
}

impl Decide<Fulfilment> for HandOver {
    type Refusal = FulfilmentError;

    fn decide(&self, state: &Fulfilment, now: DateTime<Utc>) -> Result<Changes<JobEvent>, FulfilmentError> {
        step_on(state, &self.job, |job| hand_over(job, &self.pickup_code, now))
    }
}

fn hand_over(job: &Job, pickup_code: &str, at: DateTime<Utc>) -> Step {
    match job.status {
        JobStatus::ReadyForPickup | JobStatus::CustomerWaiting if job.kind.is_collected() => {
            if pickup_code.trim() != job.pickup_code {
                return Err(FulfilmentError::invalid(
                    "pickup_code",
                    "does not match the order's pickup code",
                ));
            }
            Ok(Some(JobEvent::Collected { at }))
        }
        JobStatus::Collected => Ok(None),
        _ => Err(FulfilmentError::not_now(job, "hand over")),
    }
}

/// The pickup store receives the parcel another node sent, and holds it for the customer
/// under a pickup code.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceiveParcel {
    pub job: JobRef,
    pub pickup_code: String,
    /// How long it waits for the customer.
    pub collect_within: Duration,
}

impl Decide<Fulfilment> for ReceiveParcel {
    type Refusal = FulfilmentError;

    fn decide(&self, state: &Fulfilment, now: DateTime<Utc>) -> Result<Changes<JobEvent>, FulfilmentError> {
        step_on(state, &self.job, |job| {
            receive_parcel(job, &self.pickup_code, now + self.collect_within, now)
        })
    }
}

fn receive_parcel(job: &Job, pickup_code: &str, collect_by: DateTime<Utc>, at: DateTime<Utc>) -> Step {
    match job.status {
        JobStatus::InTransitToStore => Ok(Some(waiting_for_the_customer(pickup_code, "", collect_by, at))),
        JobStatus::ReadyForPickup if job.kind == JobKind::ShipToStore => Ok(None),
        _ => Err(FulfilmentError::not_now(job, "receive the parcel of")),
    }
}
