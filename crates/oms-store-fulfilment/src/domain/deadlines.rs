//! What the clock decides: stores that do not accept a job in time lose it, jobs past
//! their promise are marked late once, and units nobody collects go back on sale.

use chrono::{DateTime, Duration, Utc};
use oms_eventsourcing::{Change, Changes, Decide};

use super::{Fulfilment, FulfilmentError, Job, JobEvent, JobStatus, RejectReason, job_stream};

/// How long nodes and customers have.
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

/// Looks at every open job's deadlines at the moment it is decided. Never refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SweepDeadlines;

impl Decide<Fulfilment> for SweepDeadlines {
    type Refusal = FulfilmentError;

    fn decide(&self, state: &Fulfilment, now: DateTime<Utc>) -> Result<Changes<JobEvent>, FulfilmentError> {
        Ok(state
            .open_jobs()
            .flat_map(|job| {
                due(job, now)
                    .into_iter()
                    .map(|event| Change::new(job_stream(job.job_id.as_str()), event))
            })
            .collect())
    }
}

/// The first deadline of the job the clock passed, if any: one at a time.
fn due(job: &Job, now: DateTime<Utc>) -> Vec<JobEvent> {
    if let Some(events) = acceptance_timeout(job, now) {
        return events;
    }
    if let Some(event) = uncollected(job, now) {
        return vec![event];
    }
    promise_breached(job, now).into_iter().collect()
}

/// A job not accepted by its deadline is breached and taken from the store, so routing
/// sends its units elsewhere.
fn acceptance_timeout(job: &Job, now: DateTime<Utc>) -> Option<Vec<JobEvent>> {
    let due_at = job
        .accept_by
        .filter(|by| job.status == JobStatus::Requested && *by <= now)?;
    Some(vec![
        JobEvent::SlaBreached {
            deadline: "accept".to_owned(),
            due_at,
            at: now,
        },
        JobEvent::Rejected {
            reason: RejectReason::AcceptanceTimeout,
            at: now,
        },
    ])
}

/// Units the customer did not collect in time are cancelled: they go back on sale.
fn uncollected(job: &Job, now: DateTime<Utc>) -> Option<JobEvent> {
    let waiting = matches!(job.status, JobStatus::ReadyForPickup | JobStatus::CustomerWaiting);
    let by = job.collect_by.filter(|by| waiting && *by <= now)?;
    Some(JobEvent::Cancelled {
        reason: format!("not collected by {by}"),
        by_routing: false,
        uncollected: true,
        at: now,
    })
}

/// A job whose units have not left (or are not waiting for the customer) when promised is
/// late, once.
fn promise_breached(job: &Job, now: DateTime<Utc>) -> Option<JobEvent> {
    let due_at = job
        .promised_at
        .filter(|promised| !job.late && !job.status.kept_promise() && *promised <= now)?;
    Some(JobEvent::SlaBreached {
        deadline: "promise".to_owned(),
        due_at,
        at: now,
    })
}
