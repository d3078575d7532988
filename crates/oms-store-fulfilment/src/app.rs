//! The application service: staff steps and deadlines through the writer (events and the
//! messages announcing them in one commit), reads from the in-memory state.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use oms_eventsourcing::clock::SharedClock;
use oms_eventsourcing::trace::current_traceparent;
use oms_eventsourcing::writer::Context;
use oms_eventsourcing::{
    Changes, CommandError, CommandMeta, Decide, Decision, EventStore, StoreError, Writer, WriterConfig,
};
use tokio::sync::watch;

use crate::carriers::Carriers;
use crate::domain::{Deadlines, Fulfilment, FulfilmentError, Job, JobEvent, StaffStep, SweepDeadlines};
use crate::messages;

pub type Outcome<T> = Result<T, CommandError<FulfilmentError>>;

#[derive(Clone)]
pub struct FulfilmentService {
    writer: Writer<Fulfilment>,
    deadlines: Deadlines,
    carriers: Arc<Carriers>,
}

/// The changes with the messages announcing them, grouped by job so each message sees its
/// job as the events before it left it.
pub fn decision(state: &Fulfilment, changes: Changes<JobEvent>, now: DateTime<Utc>) -> Decision<JobEvent, ()> {
    Decision::reply(()).announced_per_stream(changes, |stream, events| {
        let job = stream.strip_prefix("job:").and_then(|id| state.job(id));
        messages::for_events(job, events, now)
    })
}

/// A pickup code: six digits the customer shows at the counter or types at the locker.
pub fn pickup_code() -> String {
    let n = uuid::Uuid::new_v4().as_u128() % 1_000_000;
    format!("{n:06}")
}

impl FulfilmentService {
    pub async fn start(
        store: EventStore,
        clock: SharedClock,
        config: WriterConfig,
        deadlines: Deadlines,
        carriers: Carriers,
    ) -> Result<Self, StoreError> {
        let (writer, report) = Writer::<Fulfilment>::start(store, clock, config).await?;
        tracing::info!(
            events = report.events_applied,
            jobs = writer.read(Fulfilment::len),
            "store fulfilment ready"
        );
        Ok(Self {
            writer,
            deadlines,
            carriers: Arc::new(carriers),
        })
    }

    pub fn writer(&self) -> &Writer<Fulfilment> {
        &self.writer
    }

    pub fn deadlines(&self) -> Deadlines {
        self.deadlines
    }

    fn meta(request_id: &str) -> CommandMeta {
        let meta = CommandMeta::new().with_traceparent(current_traceparent());
        if request_id.is_empty() {
            meta
        } else {
            meta.with_idempotency_key(format!("staff/{request_id}"))
        }
    }

    /// The carriers labels are made for.
    pub fn carriers(&self) -> Arc<Carriers> {
        self.carriers.clone()
    }

    /// A staff step; answers the job as it is after it.
    pub async fn step(&self, step: impl StaffStep, request_id: &str) -> Outcome<Job> {
        let job_id = step.job().job_id.clone();
        self.writer
            .execute(Self::meta(request_id), move |state: &Fulfilment, ctx: &Context<'_>| {
                let changes = step.decide(state, ctx.now)?;
                Ok(decision(state, changes, ctx.now))
            })
            .await?;
        match self.job(job_id.as_str()) {
            Some(job) => Ok(job),
            None => Err(CommandError::Rejected(FulfilmentError::UnknownJob(job_id))),
        }
    }

    pub fn job(&self, job_id: &str) -> Option<Job> {
        self.writer.read(|s| s.job(job_id).cloned())
    }

    pub fn queue(&self, store_id: &str, include_finished: bool) -> Vec<Job> {
        self.writer
            .read(|s| s.queue(store_id, include_finished).into_iter().cloned().collect())
    }

    /// Applies what the clock says is due (acceptance deadlines, late jobs, uncollected
    /// pickups); answers how many events it recorded.
    pub async fn apply_due(&self) -> Outcome<usize> {
        self.writer
            .execute(CommandMeta::new(), move |state: &Fulfilment, ctx: &Context<'_>| {
                let changes = SweepDeadlines.decide(state, ctx.now)?;
                let n = changes.len();
                Ok(decision(state, changes, ctx.now).map_reply(|_| n))
            })
            .await
    }

    /// Looks at the deadlines every `every` until `stop` turns true.
    pub async fn run_deadlines(self, every: StdDuration, mut stop: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.changed() => return,
            }
            match self.apply_due().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(events = n, "deadlines applied"),
                Err(e) => tracing::warn!(error = %e, "deadlines not applied yet"),
            }
        }
    }
}
