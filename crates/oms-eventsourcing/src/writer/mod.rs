//! The single writer of a service's state, with group commit.
//!
//! Commands queue up for one task that owns the right to change the state. It takes as
//! many queued commands as are waiting (up to a limit), runs each one's pure decision
//! against the in-memory state — applying the events at once, so the next command of the
//! batch sees them — and writes all their events, outbox messages, inbox marks and
//! idempotent replies in one transaction. Only then does any caller get its answer.
//!
//! Reads are served from the same state under a read lock. They may see the effects of
//! the batch being committed a few milliseconds early; if that commit fails, the writer
//! rebuilds the state from the log before it takes the next command.

mod batch;
mod decision;
mod job;
mod marks;
mod replies;
mod runner;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::Instrument;

pub use self::decision::{CommandError, Context, Decision};
use self::job::{Job, TypedJob};
use self::runner::Runner;
use crate::clock::SharedClock;
use crate::digest::StateDigest;
use crate::envelope::{CommandMeta, Position};
use crate::model::Model;
use crate::replay::{ReplayOptions, ReplayReport, Replayed, rebuild};
use crate::store::{EventStore, StoreError};

/// Tuning of a writer.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Most commands written in one transaction.
    pub max_batch: usize,
    /// Commands that may wait for the writer before callers are held back.
    pub queue_depth: usize,
    /// Events between two snapshots (0: never).
    pub snapshot_every: u64,
    /// Idempotent replies kept in memory; older ones are looked up in the store.
    pub reply_cache: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            max_batch: 512,
            queue_depth: 8192,
            snapshot_every: 50_000,
            reply_cache: 100_000,
        }
    }
}

/// The handle to a service's writer. Cheap to clone.
pub struct Writer<M: Model> {
    shared: Arc<Shared<M>>,
    /// Groups of commands: a group is always decided and committed in one transaction.
    jobs: mpsc::Sender<Vec<Box<dyn Job<M>>>>,
}

impl<M: Model> Clone for Writer<M> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            jobs: self.jobs.clone(),
        }
    }
}

pub(super) struct Shared<M: Model> {
    live: RwLock<Replayed<M>>,
    /// Events in the live state whose batch has not landed yet. Changed only under the
    /// write lock of `live`, so a reader holding its read lock sees the two agree.
    uncommitted: AtomicU64,
    stats: Counters,
    /// Committed events, for those who follow them live (feeds, projections).
    committed: broadcast::Sender<Arc<Committed<M::Event>>>,
    store: EventStore,
    clock: SharedClock,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl<M: Model> Writer<M> {
    /// Rebuilds the state from `store` and starts the writer task.
    pub async fn start(
        store: EventStore,
        clock: SharedClock,
        config: WriterConfig,
    ) -> Result<(Self, ReplayReport), StoreError> {
        Self::start_with_progress(store, clock, config, |_| {}).await
    }

    /// As [`Writer::start`], reporting the rebuild's progress.
    pub async fn start_with_progress(
        store: EventStore,
        clock: SharedClock,
        config: WriterConfig,
        progress: impl FnMut(crate::ReplayProgress) + Send,
    ) -> Result<(Self, ReplayReport), StoreError> {
        let (replayed, report) = rebuild::<M>(&store, ReplayOptions::default(), progress).await?;
        tracing::info!(
            model = M::NAME,
            position = replayed.position,
            snapshot = ?report.snapshot_position,
            events = report.events_applied,
            elapsed_ms = report.elapsed.as_millis() as u64,
            "state rebuilt from the log"
        );
        let (stop, stop_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            live: RwLock::new(replayed),
            uncommitted: AtomicU64::new(0),
            stats: Counters::default(),
            committed: broadcast::channel(1024).0,
            store,
            clock,
            stop,
            task: Mutex::new(None),
        });
        let (jobs, rx) = mpsc::channel(config.queue_depth.max(1));
        let runner = Runner::new(shared.clone(), rx, stop_rx, config, report.events_applied);
        let task = tokio::spawn(runner.run().instrument(tracing::info_span!("writer", model = M::NAME)));
        *shared.task.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(task);
        Ok((Self { shared, jobs }, report))
    }

    /// Runs `decide` against the state as the single writer and commits what it decided.
    ///
    /// With an idempotency key in `meta`, a command whose key was committed before is not
    /// decided again: the first reply is returned. With an inbox mark, a message applied
    /// before gives [`CommandError::AlreadyApplied`].
    pub async fn execute<R, X, F>(&self, meta: CommandMeta, decide: F) -> Result<R, CommandError<X>>
    where
        F: FnOnce(&M, &Context<'_>) -> Result<Decision<M::Event, R>, X> + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        X: Send + 'static,
    {
        let (reply_to, reply) = oneshot::channel();
        let job = TypedJob {
            meta,
            span: tracing::Span::current(),
            decide: Some(decide),
            result: None,
            reply_to,
        };
        if self.jobs.send(vec![Box::new(job)]).await.is_err() {
            return Err(CommandError::Stopped);
        }
        reply.await.unwrap_or(Err(CommandError::Stopped))
    }

    /// Runs several commands in order, in one transaction: each is decided against the
    /// state left by the ones before it, and either all of them are committed or none.
    /// Consumers use it for a batch of messages, so a failure never leaves a later message
    /// applied and an earlier one not.
    pub async fn execute_all<R, X, F>(&self, commands: Vec<(CommandMeta, F)>) -> Vec<Result<R, CommandError<X>>>
    where
        F: FnOnce(&M, &Context<'_>) -> Result<Decision<M::Event, R>, X> + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        X: Send + 'static,
    {
        self.submit_all(commands).await.outcome().await
    }

    /// As [`Writer::execute_all`], in two steps: this one queues the group (groups are
    /// decided in the order they are queued), [`Submitted::outcome`] waits for the answers.
    /// A consumer queues its next batch before the previous one is committed.
    pub async fn submit_all<R, X, F>(&self, commands: Vec<(CommandMeta, F)>) -> Submitted<R, X>
    where
        F: FnOnce(&M, &Context<'_>) -> Result<Decision<M::Event, R>, X> + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        X: Send + 'static,
    {
        let mut group: Vec<Box<dyn Job<M>>> = Vec::with_capacity(commands.len());
        let mut replies = Vec::with_capacity(commands.len());
        for (meta, decide) in commands {
            let (reply_to, reply) = oneshot::channel();
            group.push(Box::new(TypedJob {
                meta,
                span: tracing::Span::current(),
                decide: Some(decide),
                result: None,
                reply_to,
            }));
            replies.push(reply);
        }
        let sent = self.jobs.send(group).await.is_ok();
        Submitted { replies, sent }
    }

    /// Reads the state. Keep `read` short: the writer waits while it runs.
    ///
    /// The state includes the batch whose transaction is under way (the next batch is
    /// decided on top of it). If that transaction fails the state is reloaded from the
    /// log; if the process dies, consumers are sent the batch's messages again. A caller
    /// that needs what it read to be durable sends a command: its answer comes after its
    /// own batch, and every batch before it, has committed.
    pub fn read<T>(&self, read: impl FnOnce(&M) -> T) -> T {
        read(&self.live().state)
    }

    /// Position of the last event in the state.
    pub fn position(&self) -> Position {
        self.live().position
    }

    /// Digest of the state and stream versions, with the position it was taken at. Taken
    /// while a batch is being committed, it includes that batch's events: compare digests
    /// of a writer at rest.
    pub fn digest(&self) -> (Position, StateDigest) {
        let live = self.live();
        (live.position, live.digest())
    }

    /// Digest of the state with the position it was taken at, when the state holds exactly
    /// the log up to that position; `None` while a batch is being committed (ask again).
    pub fn digest_at_rest(&self) -> Option<(Position, StateDigest)> {
        let live = self.live();
        (self.shared.uncommitted.load(Ordering::Acquire) == 0).then(|| (live.position, live.digest()))
    }

    /// Current version of a stream (0 if it has no events).
    pub fn stream_version(&self, stream_id: &str) -> u64 {
        self.live().versions.get(stream_id).copied().unwrap_or(0)
    }

    pub fn store(&self) -> &EventStore {
        &self.shared.store
    }

    /// Follows the events of every batch as it commits. A follower that falls more than
    /// 1024 batches behind misses some (and is told so by the channel).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Committed<M::Event>>> {
        self.shared.committed.subscribe()
    }

    /// Counters since the writer started.
    pub fn stats(&self) -> WriterStats {
        let c = &self.shared.stats;
        WriterStats {
            batches: c.batches.load(Ordering::Relaxed),
            commands: c.commands.load(Ordering::Relaxed),
            events: c.events.load(Ordering::Relaxed),
            failed_batches: c.failed_batches.load(Ordering::Relaxed),
            commit_time: Duration::from_nanos(c.commit_nanos.load(Ordering::Relaxed)),
        }
    }

    pub fn clock(&self) -> &SharedClock {
        &self.shared.clock
    }

    /// Finishes the commands already queued, takes a last snapshot and stops the writer.
    pub async fn shutdown(&self) {
        let _ = self.shared.stop.send(true);
        let task = self
            .shared
            .task
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    fn live(&self) -> RwLockReadGuard<'_, Replayed<M>> {
        self.shared
            .live
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The events of one committed batch, in log order.
#[derive(Debug)]
pub struct Committed<E> {
    pub recorded_at: DateTime<Utc>,
    pub events: Vec<CommittedEvent<E>>,
}

/// One event of a committed batch: the stream it was recorded on and the trace of the
/// command that recorded it, so work it causes can continue that trace.
#[derive(Debug)]
pub struct CommittedEvent<E> {
    pub stream: String,
    pub event: E,
    pub traceparent: Option<String>,
}

/// A group of commands queued for the writer, whose answers are still to come.
pub struct Submitted<R, X> {
    replies: Vec<oneshot::Receiver<Result<R, CommandError<X>>>>,
    sent: bool,
}

impl<R, X> Submitted<R, X> {
    /// The answer to each command, in order.
    pub async fn outcome(self) -> Vec<Result<R, CommandError<X>>> {
        let mut answers = Vec::with_capacity(self.replies.len());
        for reply in self.replies {
            answers.push(match self.sent {
                true => reply.await.unwrap_or(Err(CommandError::Stopped)),
                false => Err(CommandError::Stopped),
            });
        }
        answers
    }
}

/// What a writer has done since it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriterStats {
    /// Transactions committed.
    pub batches: u64,
    /// Commands answered by committed transactions.
    pub commands: u64,
    pub events: u64,
    /// Transactions that failed and made the writer reload its state.
    pub failed_batches: u64,
    /// Time spent waiting for commits.
    pub commit_time: Duration,
}

#[derive(Default)]
struct Counters {
    batches: AtomicU64,
    commands: AtomicU64,
    events: AtomicU64,
    failed_batches: AtomicU64,
    commit_nanos: AtomicU64,
}
