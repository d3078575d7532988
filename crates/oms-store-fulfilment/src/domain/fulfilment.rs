//! Every job and the stores' queues, as the events build them: the state store
//! fulfilment decides against.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use oms_eventsourcing::{EventHeader, Model};
use serde::{Deserialize, Serialize};

use super::{FulfilmentError, Job, JobCreated, JobEvent, JobId, LocationId};

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Fulfilment {
    jobs: HashMap<JobId, Job>,
    /// Store → its jobs (those it works and ship-to-store parcels it receives).
    stores: BTreeMap<LocationId, BTreeSet<JobId>>,
    /// Jobs with a deadline still to watch.
    open: BTreeSet<JobId>,
}

impl Model for Fulfilment {
    type Event = JobEvent;
    const NAME: &'static str = "store-fulfilment";
    // 2: a job holds its node type, delivery method, priority and address as kernel values.
    const SNAPSHOT_VERSION: u32 = 2;

    fn apply(&mut self, header: &EventHeader<'_>, event: &JobEvent) {
        if let JobEvent::Created(created) = event {
            self.created(created);
            return;
        }
        let Some(job_id) = header.stream_id.strip_prefix("job:") else {
            return;
        };
        let Some(job) = self.jobs.get_mut(job_id) else { return };
        job.evolve(event);
        if job.status.is_finished() {
            self.open.remove(job_id);
        }
    }
}

impl Fulfilment {
    /// A new job joins the queues of the places that work it, and is watched for its
    /// deadlines.
    fn created(&mut self, created: &JobCreated) {
        let job = Job::from(created);
        for place in job.queues() {
            self.stores.entry(place.clone()).or_default().insert(job.job_id.clone());
        }
        self.open.insert(job.job_id.clone());
        self.jobs.entry(job.job_id.clone()).or_insert(job);
    }

    pub fn job(&self, job_id: impl AsRef<str>) -> Option<&Job> {
        self.jobs.get(job_id.as_ref())
    }

    /// The job, or why a command about it is refused.
    pub fn known(&self, job_id: impl AsRef<str>) -> Result<&Job, FulfilmentError> {
        let job_id = job_id.as_ref();
        self.jobs
            .get(job_id)
            .ok_or_else(|| FulfilmentError::UnknownJob(job_id.into()))
    }

    /// Jobs not finished yet, whose deadlines the clock may pass.
    pub fn open_jobs(&self) -> impl Iterator<Item = &Job> {
        self.open.iter().filter_map(|id| self.jobs.get(id))
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
            .filter(|j| include_finished || (!j.status.is_finished() && *j.store_of() == *store_id))
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
}
