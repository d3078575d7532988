//! Routing's requests: a job for a node, and a job taken back (the order was cancelled or
//! its units sent elsewhere).

use chrono::{DateTime, Duration, Utc};
use oms_eventsourcing::{Change, Changes, Decide};

use super::{
    Fulfilment, FulfilmentError, Job, JobCreated, JobEvent, JobId, JobKind, JobStatus, Violations, job_stream, on_job,
};

/// Routing asks a node to fulfil units of an order.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateJob {
    /// The job as asked for; its `accept_by` is set here, from `accept_within`.
    pub job: JobCreated,
    /// Store staff accept a job within this, or lose it.
    pub accept_within: Duration,
}

impl Decide<Fulfilment> for CreateJob {
    type Refusal = FulfilmentError;

    fn decide(&self, state: &Fulfilment, _now: DateTime<Utc>) -> Result<Changes<JobEvent>, FulfilmentError> {
        create_job(state, &self.job, self.accept_within)
    }
}

/// A new job, to be accepted within `accept_within` of its creation when staff work it;
/// the same request again adds nothing.
fn create_job(
    state: &Fulfilment,
    job: &JobCreated,
    accept_within: Duration,
) -> Result<Changes<JobEvent>, FulfilmentError> {
    violations(job).or_ok(()).map_err(FulfilmentError::Invalid)?;
    if state.job(&job.job_id).is_some() {
        return Ok(Vec::new());
    }
    let mut created = job.clone();
    created.accept_by = Job::from(job).worked_by_staff().then(|| job.at + accept_within);
    Ok(vec![Change::new(
        job_stream(job.job_id.as_str()),
        JobEvent::Created(Box::new(created)),
    )])
}

/// What a request lacks to be a job.
fn violations(job: &JobCreated) -> Violations {
    let mut bad = Violations::new();
    bad.require(job.job_id.as_str(), "fulfilment_request_id");
    bad.require(job.node_id.as_str(), "node_id");
    bad.check(job.lines.is_empty(), "lines", "at least one line is required");
    for (i, line) in job.lines.iter().enumerate() {
        bad.check(
            line.sku.is_empty() || line.units <= 0,
            format!("lines[{i}]"),
            "needs a SKU and 1 unit or more",
        );
    }
    bad.check(
        job.kind == JobKind::Ship && job.ship_to.is_none(),
        "shipping_address",
        "is required to ship",
    );
    bad
}

/// Routing takes a job back: the order was cancelled, or its units go elsewhere.
#[derive(Debug, Clone, PartialEq)]
pub struct WithdrawJob {
    pub job_id: JobId,
    pub reason: String,
}

impl Decide<Fulfilment> for WithdrawJob {
    type Refusal = FulfilmentError;

    fn decide(&self, state: &Fulfilment, now: DateTime<Utc>) -> Result<Changes<JobEvent>, FulfilmentError> {
        // A request this service never turned into a job has nothing to take back.
        let Some(job) = state.job(&self.job_id) else {
            return Ok(Vec::new());
        };
        Ok(on_job(job, take_back(job, &self.reason, true, now)))
    }
}

/// The job is taken back, by routing or by the node's own system; units already gone stay
/// gone, and a parcel on its way to the pickup store or locker cannot be called back.
pub(super) fn take_back(job: &Job, reason: &str, by_routing: bool, at: DateTime<Utc>) -> Option<JobEvent> {
    let gone =
        job.status.is_finished() || matches!(job.status, JobStatus::InTransitToStore | JobStatus::InTransitToLocker);
    (!gone).then(|| JobEvent::Cancelled {
        reason: reason.to_owned(),
        by_routing,
        uncollected: false,
        at,
    })
}
