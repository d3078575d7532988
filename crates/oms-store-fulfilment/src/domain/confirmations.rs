//! What warehouse, 3PL and supplier systems confirm about the jobs they work in their own
//! systems: taken on, shipped (all or part), or cancelled.

use chrono::{DateTime, Utc};
use oms_eventsourcing::{Changes, Decide};

use super::requests::take_back;
use super::{
    Fulfilment, FulfilmentError, Job, JobEvent, JobId, JobStatus, LineId, LineUnits, RejectReason, Sku, on_job,
};

/// A node's system took the job on.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeAccepted {
    pub job_id: JobId,
    pub at: DateTime<Utc>,
}

impl Decide<Fulfilment> for NodeAccepted {
    type Refusal = FulfilmentError;

    fn decide(&self, state: &Fulfilment, _now: DateTime<Utc>) -> Result<Changes<JobEvent>, FulfilmentError> {
        let job = state.known(&self.job_id)?;
        Ok(on_job(job, node_accepted(job, self.at)))
    }
}

/// Only a job its node's system works is accepted there; anything else (accepted already,
/// further on, or worked by staff) is left as it is.
fn node_accepted(job: &Job, at: DateTime<Utc>) -> Option<JobEvent> {
    (job.status == JobStatus::Requested && !job.worked_by_staff()).then_some(JobEvent::Accepted { at })
}

/// Units of a line as a node's system names them: by our order line id, or only by SKU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmedLine {
    /// Empty when the system names the line by SKU only.
    pub order_line_id: LineId,
    pub sku: Sku,
    pub units: i64,
}

/// A node's system shipped the job, or part of it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeShipped {
    pub job_id: JobId,
    pub carrier: String,
    pub tracking_number: String,
    pub lines: Vec<ConfirmedLine>,
    pub at: DateTime<Utc>,
}

impl Decide<Fulfilment> for NodeShipped {
    type Refusal = FulfilmentError;

    fn decide(&self, state: &Fulfilment, _now: DateTime<Utc>) -> Result<Changes<JobEvent>, FulfilmentError> {
        let job = state.known(&self.job_id)?;
        let shipped = shipped_units(job, &self.lines);
        node_shipped(job, &self.carrier, &self.tracking_number, shipped, self.at).map(|event| on_job(job, event))
    }
}

/// The units shipped of each line of the job: the confirmed lines naming it by order line
/// id, or by SKU when the system does not know ours; never more than ordered.
fn shipped_units(job: &Job, confirmed: &[ConfirmedLine]) -> Vec<LineUnits> {
    job.lines
        .iter()
        .map(|line| {
            let units = confirmed
                .iter()
                .filter(|c| c.order_line_id == line.line_id || (c.order_line_id.is_empty() && c.sku == line.sku))
                .map(|c| c.units)
                .sum::<i64>();
            LineUnits::new(line.line_id.clone(), units.min(line.ordered).max(0))
        })
        .collect()
}

/// Shipped as confirmed; nothing shipped sends the whole job back to routing. A job that
/// left already answers as it is.
fn node_shipped(
    job: &Job,
    carrier: &str,
    tracking_number: &str,
    shipped: Vec<LineUnits>,
    at: DateTime<Utc>,
) -> Result<Option<JobEvent>, FulfilmentError> {
    match job.status {
        JobStatus::Requested | JobStatus::Accepted if !job.worked_by_staff() => {}
        JobStatus::Shipped | JobStatus::InTransitToStore | JobStatus::InTransitToLocker => return Ok(None),
        _ => return Err(FulfilmentError::not_now(job, "ship")),
    }
    job.check_units(&shipped)?;
    if shipped.iter().all(|l| l.units == 0) {
        return Ok(Some(JobEvent::Rejected {
            reason: RejectReason::OutOfStock,
            at,
        }));
    }
    Ok(Some(JobEvent::NodeShipped {
        carrier: carrier.to_owned(),
        tracking_number: tracking_number.to_owned(),
        lines: shipped,
        at,
    }))
}

/// A node's system cancelled the job.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeCancelled {
    pub job_id: JobId,
    pub reason: String,
    pub at: DateTime<Utc>,
}

impl Decide<Fulfilment> for NodeCancelled {
    type Refusal = FulfilmentError;

    fn decide(&self, state: &Fulfilment, _now: DateTime<Utc>) -> Result<Changes<JobEvent>, FulfilmentError> {
        let job = state.known(&self.job_id)?;
        let reason = format!("cancelled by the node: {}", self.reason);
        Ok(on_job(job, take_back(job, &reason, false, self.at)))
    }
}
