//! The writer task: takes queued commands in batches, decides each against the live
//! state, commits a batch while deciding the next, answers callers once their batch is
//! durable, and reloads the state from the log when a commit fails.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tracing::Instrument;

use chrono::{DateTime, Utc};

use super::batch::{Batch, CommitResult, Decided, InFlight};
use super::job::{Failure, Finish, Job, JobDecision};
use super::marks::{PendingMarks, Positions, Prechecked};
use super::replies::ReplyCache;
use super::{Committed, Context, Shared, WriterConfig};
use crate::envelope::CommandMeta;
use crate::event::DomainEvent;
use crate::model::Model;
use crate::replay::{ReplayOptions, Replayed, rebuild};
use crate::store::{CommitBatch, CommitError, InboxMark, StoreError};

/// The writer task's own state.
pub(super) struct Runner<M: Model> {
    shared: Arc<Shared<M>>,
    rx: mpsc::Receiver<Vec<Box<dyn Job<M>>>>,
    stop: watch::Receiver<bool>,
    replies: ReplyCache,
    /// Committed checkpoints per consumer, loaded from the store on first use.
    checkpoints: Positions,
    /// Replies, message ids and checkpoints of batches decided but not yet committed.
    pending: PendingMarks,
    /// A commit failed and the state could not be read back yet.
    needs_reload: bool,
    /// Per consumer and source, the first message position a failed batch did not apply.
    /// Later messages of that source are refused until it is applied, so a consumer that
    /// sends its next batch before it hears of the failure cannot get ahead of it.
    blocked: Positions,
    events_since_snapshot: u64,
    config: WriterConfig,
}

impl<M: Model> Runner<M> {
    pub(super) fn new(
        shared: Arc<Shared<M>>,
        rx: mpsc::Receiver<Vec<Box<dyn Job<M>>>>,
        stop: watch::Receiver<bool>,
        config: WriterConfig,
        events_since_snapshot: u64,
    ) -> Self {
        Self {
            shared,
            rx,
            stop,
            replies: ReplyCache::new(config.reply_cache),
            checkpoints: Positions::default(),
            pending: PendingMarks::default(),
            needs_reload: false,
            blocked: Positions::default(),
            events_since_snapshot,
            config,
        }
    }

    /// Decides the next batch while the previous one commits, so the database is kept
    /// busy: batch k+1 is decided against a state that already includes batch k. If k
    /// fails, k+1 is failed with it and the state is reloaded from the log.
    pub(super) async fn run(mut self) {
        let mut in_flight: Option<InFlight<M>> = None;
        let mut stopping = false;
        loop {
            if self.needs_reload {
                self.reload().await;
                self.needs_reload = false;
            }
            if self.config.snapshot_every > 0 && self.events_since_snapshot >= self.config.snapshot_every {
                // A snapshot must hold committed events only: land the batch in flight first.
                if let Some(mut previous) = in_flight.take() {
                    let (result, took) = previous.wait().await;
                    self.land(previous.decided, result, took).await;
                }
                self.snapshot().await;
            }
            let mut jobs = Vec::new();
            if !stopping {
                // Nothing is committing: wait for work. (Otherwise take whatever is
                // already queued.)
                if in_flight.is_none() {
                    tokio::select! {
                        biased;
                        group = self.rx.recv() => match group {
                            Some(group) => jobs.extend(group),
                            None => stopping = true,
                        },
                        _ = self.stop.changed() => stopping = true,
                    }
                }
                if stopping {
                    // Finish what was queued before the stop, then close the queue.
                    self.rx.close();
                }
            }
            while jobs.len() < self.config.max_batch {
                match self.rx.try_recv() {
                    Ok(group) => jobs.extend(group),
                    Err(_) => break,
                }
            }
            if jobs.is_empty() {
                match in_flight.take() {
                    Some(mut previous) => {
                        let (result, took) = previous.wait().await;
                        self.land(previous.decided, result, took).await;
                        continue;
                    }
                    None if stopping => break,
                    None => continue,
                }
            }
            let next = self.decide(jobs).await;
            if let Some(mut previous) = in_flight.take() {
                // Start the next transaction as soon as the previous one is durable, and
                // answer the previous batch's callers while it runs.
                let (result, took) = previous.wait().await;
                if result.is_ok() {
                    let started = next.map(|decided| self.start_commit(decided));
                    // Let the commit task send its statement before the answers go out.
                    tokio::task::yield_now().await;
                    self.land(previous.decided, result, took).await;
                    in_flight = started;
                } else {
                    self.land(previous.decided, result, took).await;
                    // Decided on top of a batch that did not commit.
                    self.fail(next, Failure::Unavailable("an earlier batch failed; try again".into()));
                }
                continue;
            }
            in_flight = next.map(|decided| self.start_commit(decided));
        }
        if self.events_since_snapshot > 0 && self.config.snapshot_every > 0 {
            self.snapshot().await;
        }
    }

    /// Prechecks and decides `jobs`. `None` when the precheck failed (the jobs were answered).
    async fn decide(&mut self, jobs: Vec<Box<dyn Job<M>>>) -> Option<Decided<M>> {
        let keys: Vec<String> = jobs.iter().filter_map(|j| j.meta().idempotency_key.clone()).collect();
        let marks: Vec<InboxMark> = jobs.iter().filter_map(|j| j.meta().inbox.clone()).collect();
        let prechecked = match self.precheck(keys, marks).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, "cannot check idempotency and inbox; failing the batch");
                let failure = Failure::Unavailable(e.to_string());
                for job in jobs {
                    job.finish(Finish::Failed(failure.clone()));
                }
                return None;
            }
        };
        // The log keeps microseconds (PostgreSQL's precision): the live state sees the
        // recorded time as a replay will read it back.
        let now = chrono::SubsecRound::trunc_subsecs(self.shared.clock.now(), 6);
        let mut batch = Batch {
            commit: CommitBatch {
                recorded_at: now,
                ..CommitBatch::default()
            },
            followed: self.shared.committed.receiver_count() > 0,
            events: Vec::new(),
        };
        let mut outcomes: Vec<(Box<dyn Job<M>>, Option<Finish>)> = Vec::with_capacity(jobs.len());
        let shared = Arc::clone(&self.shared);
        let mut live = shared.live.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        for mut job in jobs {
            let meta = job.take_meta();
            if let Some(finish) = self.answered_before(&meta, &prechecked) {
                outcomes.push((job, Some(finish)));
                continue;
            }
            let decided = {
                let _entered = job.span().clone().entered();
                job.decide(&live.state, &Context { now, meta: &meta })
            };
            let finish = match decided {
                Some(decided) => self.record(&mut live, &mut batch, meta, decided, now),
                None => None,
            };
            outcomes.push((job, finish));
        }
        self.shared
            .uncommitted
            .fetch_add(batch.commit.events.len() as u64, Ordering::AcqRel);
        drop(live);
        Some(Decided {
            batch: Arc::new(batch.commit),
            events: batch.events,
            outcomes,
        })
    }

    /// How a command is answered without being decided: the first reply of its idempotency
    /// key, or its message applied before, or its message waiting behind an earlier one of
    /// its source that failed. `None`: it is decided.
    fn answered_before(&self, meta: &CommandMeta, prechecked: &Prechecked) -> Option<Finish> {
        if let Some(key) = &meta.idempotency_key {
            let earlier = self
                .pending
                .replies
                .get(key)
                .or_else(|| self.replies.get(key))
                .or_else(|| prechecked.replies.get(key));
            if let Some(first) = earlier {
                return Some(Finish::Repeated(first.clone()));
            }
        }
        match meta.inbox.as_ref()? {
            InboxMark::Checkpoint {
                consumer,
                source,
                position,
                ..
            } => {
                let committed = self.checkpoints.get(consumer, source);
                let at = self.pending.checkpoints.get(consumer, source).max(committed);
                if at.is_some_and(|at| *position <= at) {
                    return Some(Finish::AlreadyApplied);
                }
                if self
                    .blocked
                    .get(consumer, source)
                    .is_some_and(|first| *position > first)
                {
                    let waiting =
                        format!("message {position} of {source} waits for an earlier one that was not applied");
                    return Some(Finish::Failed(Failure::Unavailable(waiting)));
                }
                None
            }
            InboxMark::Message { consumer, message_id } => {
                let key = (consumer.clone(), message_id.clone());
                (prechecked.seen.contains(&key) || self.pending.seen.contains(&key)).then_some(Finish::AlreadyApplied)
            }
        }
    }

    /// Adds what a command decided to the batch and its events to the live state. Its
    /// events are encoded first: one that cannot be fails the command, and nothing of it is
    /// applied. `None`: it is answered when the batch commits.
    fn record(
        &mut self,
        live: &mut Replayed<M>,
        batch: &mut Batch<M::Event>,
        meta: CommandMeta,
        decided: JobDecision<M::Event>,
        now: DateTime<Utc>,
    ) -> Option<Finish> {
        let payloads = match decided
            .events
            .iter()
            .map(|change| change.event.encode())
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(payloads) => payloads,
            Err(e) => {
                tracing::error!(error = %e, "an event cannot be written; the command fails");
                return Some(Finish::Failed(Failure::Unavailable(e.to_string())));
            }
        };
        for (change, payload) in decided.events.into_iter().zip(payloads) {
            batch.append(live, change, payload, &meta, now);
        }
        for mut message in decided.messages {
            // Messages carry the trace of the command that published them.
            if let Some(traceparent) = &meta.traceparent
                && message.header("traceparent").is_none()
            {
                message.headers.push(("traceparent".to_owned(), traceparent.clone()));
            }
            batch.commit.outbox.push(message);
        }
        batch.commit.parked.extend(decided.parked);
        batch.commit.unparked.extend(decided.unparked);
        if let (Some(key), Some(reply)) = (&meta.idempotency_key, decided.reply) {
            self.pending.replies.insert(key.clone(), reply.clone());
            batch.commit.replies.push((key.clone(), reply));
        }
        if let Some(mark) = meta.inbox {
            match &mark {
                InboxMark::Checkpoint {
                    consumer,
                    source,
                    position,
                    ..
                } => self.pending.checkpoints.raise(consumer, source, *position),
                InboxMark::Message { consumer, message_id } => {
                    self.pending.seen.insert((consumer.clone(), message_id.clone()));
                }
            }
            batch.commit.inbox.push(mark);
        }
        None
    }

    fn start_commit(&self, decided: Decided<M>) -> InFlight<M> {
        let store = self.shared.store.clone();
        let batch = Arc::clone(&decided.batch);
        let span = tracing::debug_span!("commit", commands = decided.outcomes.len(), events = batch.events.len());
        let commit = tokio::spawn(
            async move {
                let started = Instant::now();
                let result = store.commit(&batch).await;
                (result, started.elapsed())
            }
            .instrument(span),
        );
        InFlight {
            decided,
            commit: Some(commit),
        }
    }

    /// Answers the commands of a batch whose transaction has ended, and moves its marks
    /// from pending to committed (or reloads the state if it failed).
    async fn land(&mut self, decided: Decided<M>, result: CommitResult, took: Duration) {
        let stats = &self.shared.stats;
        stats.commit_nanos.fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
        let Decided {
            batch,
            events,
            outcomes,
        } = decided;
        match result {
            Ok(done) => {
                stats.batches.fetch_add(1, Ordering::Relaxed);
                stats.commands.fetch_add(outcomes.len() as u64, Ordering::Relaxed);
                stats.events.fetch_add(batch.events.len() as u64, Ordering::Relaxed);
                {
                    let mut live = self
                        .shared
                        .live
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    if let Some(position) = done.last_position {
                        live.position = live.position.max(position);
                    }
                    self.shared
                        .uncommitted
                        .fetch_sub(batch.events.len() as u64, Ordering::AcqRel);
                }
                for (key, reply) in &batch.replies {
                    self.pending.replies.remove(key);
                    self.replies.insert(key.clone(), reply.clone());
                }
                for mark in &batch.inbox {
                    match mark {
                        InboxMark::Checkpoint {
                            consumer,
                            source,
                            position,
                            ..
                        } => {
                            self.checkpoints.raise(consumer, source, *position);
                            self.pending.checkpoints.forget_up_to(consumer, source, *position);
                            self.blocked.forget_up_to(consumer, source, *position);
                        }
                        InboxMark::Message { consumer, message_id } => {
                            self.pending.seen.remove(&(consumer.clone(), message_id.clone()));
                        }
                    }
                }
                for (job, finish) in outcomes {
                    job.finish(finish.unwrap_or(Finish::Committed));
                }
                if !events.is_empty() {
                    // Nobody listening any more is not an error.
                    let _ = self.shared.committed.send(Arc::new(Committed {
                        recorded_at: batch.recorded_at,
                        events,
                    }));
                }
                self.events_since_snapshot += batch.events.len() as u64;
            }
            Err(e) => {
                stats.failed_batches.fetch_add(1, Ordering::Relaxed);
                let failure = match e {
                    CommitError::Conflict { stream_id, version } => {
                        tracing::warn!(%stream_id, version, "another writer appended to a stream; reloading the state");
                        Failure::Conflict { stream_id, version }
                    }
                    other => {
                        tracing::warn!(error = %other, "commit failed; reloading the state from the log");
                        Failure::Unavailable(other.to_string())
                    }
                };
                // Reload before answering, so a caller that tries again meets the state
                // the log holds. If the store cannot be read now, answer anyway and keep
                // trying before the next command is decided.
                self.needs_reload = !self.try_reload().await;
                self.fail(
                    Some(Decided {
                        batch,
                        events,
                        outcomes,
                    }),
                    failure,
                );
            }
        }
    }

    /// Answers every command of a batch that will not be committed.
    fn fail(&mut self, decided: Option<Decided<M>>, failure: Failure) {
        if let Some(decided) = decided {
            for mark in &decided.batch.inbox {
                if let InboxMark::Checkpoint {
                    consumer,
                    source,
                    position,
                    ..
                } = mark
                {
                    self.blocked.lower(consumer, source, *position);
                }
            }
            for (job, _) in decided.outcomes {
                job.finish(Finish::Failed(failure.clone()));
            }
        }
        self.pending = PendingMarks::default();
    }

    /// Looks up, in one query each, the idempotency keys and message ids of the batch that
    /// are not known in memory, and loads the checkpoints of consumers not seen before.
    async fn precheck(&mut self, keys: Vec<String>, marks: Vec<InboxMark>) -> Result<Prechecked, StoreError> {
        let mut found = Prechecked::default();
        let keys: Vec<String> = keys
            .into_iter()
            .filter(|k| self.replies.get(k).is_none() && !self.pending.replies.contains_key(k))
            .collect();
        found.replies = self.shared.store.command_replies(&keys).await?;
        let mut by_consumer: HashMap<String, Vec<String>> = HashMap::new();
        let mut unloaded: HashSet<String> = HashSet::new();
        for mark in marks {
            match mark {
                InboxMark::Message { consumer, message_id } => {
                    by_consumer.entry(consumer).or_default().push(message_id);
                }
                InboxMark::Checkpoint { consumer, .. } if !self.checkpoints.knows(&consumer) => {
                    unloaded.insert(consumer);
                }
                InboxMark::Checkpoint { .. } => {}
            }
        }
        for consumer in unloaded {
            let loaded = self.shared.store.inbox_checkpoints(&consumer).await?;
            self.checkpoints.load(consumer, loaded);
        }
        for (consumer, ids) in by_consumer {
            for id in self.shared.store.inbox_seen(&consumer, &ids).await? {
                found.seen.insert((consumer.clone(), id));
            }
        }
        Ok(found)
    }

    /// After a failed commit the in-memory state may hold events that were never written
    /// (or, if the failure was in the acknowledgement, that were): read it back from the log.
    /// One attempt; `false` if the store could not be read.
    async fn try_reload(&mut self) -> bool {
        self.checkpoints.clear();
        self.pending = PendingMarks::default();
        match rebuild::<M>(&self.shared.store, ReplayOptions::default(), |_| {}).await {
            Ok((replayed, _)) => {
                let mut live = self
                    .shared
                    .live
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                *live = replayed;
                // What was decided and not landed is gone with the old state.
                self.shared.uncommitted.store(0, Ordering::Release);
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot reload the state yet");
                false
            }
        }
    }

    /// Reloads the state, trying again with backoff until the store answers. No command is
    /// decided meanwhile.
    async fn reload(&mut self) {
        let mut delay = Duration::from_millis(50);
        while !self.try_reload().await {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }

    async fn snapshot(&mut self) {
        let taken_at = self.shared.clock.now();
        let snapshot = {
            let live = self
                .shared
                .live
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            live.to_snapshot(taken_at)
        };
        let saved = match snapshot {
            Ok(snapshot) => self
                .shared
                .store
                .save_snapshot(M::NAME, &snapshot)
                .await
                .map(|_| snapshot.position),
            Err(e) => Err(e),
        };
        match saved {
            Ok(position) => tracing::info!(model = M::NAME, position, "snapshot taken"),
            // Snapshots are a cache: the log is still whole, the next start replays more.
            // The next attempt comes after another `snapshot_every` events.
            Err(e) => tracing::warn!(error = %e, "snapshot not saved"),
        }
        self.events_since_snapshot = 0;
    }
}
