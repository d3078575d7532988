//! The application service: staff steps and deadlines through the writer (events and the
//! messages announcing them in one commit), reads from the in-memory state.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use oms_eventsourcing::clock::SharedClock;
use oms_eventsourcing::trace::current_traceparent;
use oms_eventsourcing::writer::Context;
use oms_eventsourcing::{CommandError, CommandMeta, Decision, EventStore, StoreError, Writer, WriterConfig};
use tokio::sync::watch;

use crate::carriers::{self, Carriers};
use crate::domain::{Deadlines, Events, Fulfilment, FulfilmentError, Job, JobEvent, Step};
use crate::messages;

pub type Outcome<T> = Result<T, CommandError<FulfilmentError>>;

#[derive(Clone)]
pub struct FulfilmentService {
    writer: Writer<Fulfilment>,
    deadlines: Deadlines,
    carriers: Arc<Carriers>,
}

/// The events with the messages announcing them, grouped by job so each message sees its
/// job as the events before it left it.
pub fn decision(state: &Fulfilment, events: Events, now: DateTime<Utc>) -> Decision<JobEvent, ()> {
    let events = events
        .into_iter()
        .map(|(stream, event)| oms_eventsourcing::Change::new(stream, event))
        .collect();
    Decision::reply(()).announced_per_stream(events, |stream, events| {
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

    /// A staff step at `store_id`; answers the job as it is after it.
    pub async fn step(&self, store_id: &str, job_id: &str, step: Step, request_id: &str) -> Outcome<Job> {
        let (store, id) = (store_id.to_owned(), job_id.to_owned());
        let deadlines = self.deadlines;
        self.writer
            .execute(Self::meta(request_id), move |state: &Fulfilment, ctx: &Context<'_>| {
                let events = state.step(&store, &id, step, &deadlines, ctx.now)?;
                Ok(decision(state, events, ctx.now))
            })
            .await?;
        self.job(job_id)
            .ok_or_else(|| CommandError::Rejected(FulfilmentError::UnknownJob(job_id.to_owned())))
    }

    /// Chooses carrier and service for the job's delivery method and makes its label.
    pub async fn label(&self, store_id: &str, job_id: &str, request_id: &str) -> Outcome<Job> {
        let (store, id) = (store_id.to_owned(), job_id.to_owned());
        let deadlines = self.deadlines;
        let carriers = self.carriers.clone();
        self.writer
            .execute(Self::meta(request_id), move |state: &Fulfilment, ctx: &Context<'_>| {
                let job = state.job(&id).ok_or_else(|| FulfilmentError::UnknownJob(id.clone()))?;
                let service = carriers.choose(&job.delivery_method).ok_or_else(|| {
                    FulfilmentError::Invalid(vec![(
                        "delivery_method".to_owned(),
                        format!("no carrier is configured for {}", job.delivery_method),
                    )])
                })?;
                let tracking_number = carriers::tracking_number(service, &id);
                let step = Step::Label {
                    carrier: service.carrier.clone(),
                    service: service.service.clone(),
                    label: carriers::label(job, service, &tracking_number),
                    tracking_number,
                };
                let events = state.step(&store, &id, step, &deadlines, ctx.now)?;
                Ok(decision(state, events, ctx.now))
            })
            .await?;
        self.job(job_id)
            .ok_or_else(|| CommandError::Rejected(FulfilmentError::UnknownJob(job_id.to_owned())))
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
                let events = state.due(ctx.now);
                let n = events.len();
                Ok(decision(state, events, ctx.now).map_reply(|_| n))
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
