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

pub use confirmations::{ConfirmedLine, NodeAccepted, NodeCancelled, NodeShipped};
pub use deadlines::{Deadlines, SweepDeadlines};
pub use events::{JobCreated, JobEvent, LineUnits, RejectReason, RequestedLine, ShipTo, job_stream};
pub use fulfilment::Fulfilment;
pub use job::{Job, JobKind, JobLine, JobStatus, is_locker_type, is_store_type};
pub use requests::{CreateJob, WithdrawJob};
pub use steps::{
    AcceptJob, DepositInLocker, HandOver, JobRef, LabelJob, MarkReadyForPickup, PackJob, PickJob, ReceiveParcel,
    RecordCustomerArrival, RejectJob, ShipJob, StaffStep,
};

/// Why a command about a job is refused.
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

impl FulfilmentError {
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
        .map(|event| Change::new(job_stream(&job.job_id), event))
        .into_iter()
        .collect()
}
