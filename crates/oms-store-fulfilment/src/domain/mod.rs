//! The job lifecycle as pure rules: what a job is and how its events build it ([`job`]),
//! what is recorded ([`events`]), every job and queue of the service ([`fulfilment`]), and
//! the commands decided against them — routing's requests ([`requests`]), the staff's
//! steps ([`steps`]), the nodes' confirmations ([`confirmations`]) and the clock
//! ([`deadlines`]).

mod confirmations;
mod deadlines;
mod events;
mod fulfilment;
mod job;
mod requests;
mod steps;

use oms_eventsourcing::{Change, Changes};
pub use oms_proto::kernel::{
    Address, DeliveryMethod, JobId, LineId, LocationId, NodeType, OrderId, Priority, ReservationId, Sku, Violations,
};

pub use confirmations::{ConfirmedLine, NodeAccepted, NodeCancelled, NodeShipped};
pub use deadlines::{Deadlines, SweepDeadlines};
pub use events::{JobCreated, JobEvent, LineUnits, RejectReason, RequestedLine, job_stream};
pub use fulfilment::Fulfilment;
pub use job::{Job, JobKind, JobLine, JobStatus};
pub use requests::{CreateJob, WithdrawJob};
pub use steps::{
    AcceptJob, DepositInLocker, HandOver, JobRef, LabelJob, MarkReadyForPickup, PackJob, PickJob, ReceiveParcel,
    RecordCustomerArrival, RejectJob, ShipJob, StaffStep,
};

/// Why a command about a job is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FulfilmentError {
    /// The command is malformed; every bad field is named.
    #[error("{0}")]
    Invalid(Violations),
    #[error("job {0} does not exist")]
    UnknownJob(JobId),
    #[error("job {job_id} belongs to {owner}, not to {store_id}")]
    WrongStore {
        job_id: JobId,
        store_id: LocationId,
        owner: LocationId,
    },
    #[error("job {job_id} is {status}: cannot {step} it now")]
    NotNow {
        job_id: JobId,
        status: &'static str,
        step: &'static str,
    },
}

impl FulfilmentError {
    /// `field` is wrong: `description` says how.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        let mut bad = Violations::new();
        bad.add(field, description);
        FulfilmentError::Invalid(bad)
    }

    /// `step` does not fit the job where it stands.
    fn not_now(job: &Job, step: &'static str) -> Self {
        FulfilmentError::NotNow {
            job_id: job.job_id.clone(),
            status: job.status.name(),
            step,
        }
    }
}

/// The change recording `event` (if any) on the job's stream.
fn on_job(job: &Job, event: Option<JobEvent>) -> Changes<JobEvent> {
    event
        .map(|event| Change::new(job_stream(job.job_id.as_str()), event))
        .into_iter()
        .collect()
}
