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

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::Instrument;
use uuid::Uuid;

use crate::clock::SharedClock;
use crate::digest::StateDigest;
use crate::envelope::{CommandMeta, EventMeta, Position};
use crate::replay::{Model, ReplayOptions, ReplayReport, Replayed, rebuild};
use crate::store::{
    CommitBatch, CommitError, EventStore, InboxMark, NewEvent, OutboxMessage, OutboxPosition, ParkedMessage, StoreError,
};

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

/// What a command decided: events per stream, integration messages, and the reply.
#[derive(Debug)]
pub struct Decision<E, R> {
    events: Vec<(String, E)>,
    messages: Vec<OutboxMessage>,
    parked: Vec<ParkedMessage>,
    unparked: Vec<i64>,
    reply: R,
}

impl<E, R> Decision<E, R> {
    /// A decision that answers `reply`; add events and messages to it.
    pub fn reply(reply: R) -> Self {
        Self {
            events: Vec::new(),
            messages: Vec::new(),
            parked: Vec::new(),
            unparked: Vec::new(),
            reply,
        }
    }

    /// Records `event` on `stream`.
    pub fn event(mut self, stream: impl Into<String>, event: E) -> Self {
        self.events.push((stream.into(), event));
        self
    }

    /// Records several events on one stream, in order.
    pub fn events(mut self, stream: impl Into<String>, events: impl IntoIterator<Item = E>) -> Self {
        let stream = stream.into();
        self.events.extend(events.into_iter().map(|e| (stream.clone(), e)));
        self
    }

    /// Records `events` and publishes what `announce` makes of each stream's events (all of
    /// one stream together, streams in the order they first appear), so a message can see
    /// its aggregate as the events before it left it.
    pub fn announced_per_stream(
        mut self,
        events: Vec<(String, E)>,
        mut announce: impl FnMut(&str, &[E]) -> Vec<OutboxMessage>,
    ) -> Self
    where
        E: Clone,
    {
        let mut streams: Vec<(&str, Vec<E>)> = Vec::new();
        for (stream, event) in &events {
            match streams.iter_mut().find(|(s, _)| s == stream) {
                Some((_, of_stream)) => of_stream.push(event.clone()),
                None => streams.push((stream, vec![event.clone()])),
            }
        }
        let messages: Vec<OutboxMessage> = streams
            .iter()
            .flat_map(|(stream, of_stream)| announce(stream, of_stream))
            .collect();
        self.messages.extend(messages);
        self.events.extend(events);
        self
    }

    /// Publishes `message` once the transaction commits.
    pub fn publish(mut self, message: OutboxMessage) -> Self {
        self.messages.push(message);
        self
    }

    pub fn publish_all(mut self, messages: impl IntoIterator<Item = OutboxMessage>) -> Self {
        self.messages.extend(messages);
        self
    }

    /// The same decision with another reply.
    pub fn map_reply<R2>(self, f: impl FnOnce(R) -> R2) -> Decision<E, R2> {
        Decision {
            events: self.events,
            messages: self.messages,
            parked: self.parked,
            unparked: self.unparked,
            reply: f(self.reply),
        }
    }

    /// Keeps a consumed message for later: it arrived before what it depends on.
    pub fn park(mut self, message: ParkedMessage) -> Self {
        self.parked.push(message);
        self
    }

    /// Deletes a parked message, in the transaction that finally applies it.
    pub fn unpark(mut self, id: i64) -> Self {
        self.unparked.push(id);
        self
    }

    pub fn pending_events(&self) -> &[(String, E)] {
        &self.events
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.messages.is_empty() && self.parked.is_empty() && self.unparked.is_empty()
    }
}

/// What a decision can see besides the state.
#[derive(Debug)]
pub struct Context<'a> {
    /// The writer's clock when the batch started.
    pub now: DateTime<Utc>,
    pub meta: &'a CommandMeta,
}

/// Why a command did not take effect.
#[derive(Debug, thiserror::Error)]
pub enum CommandError<X> {
    /// The business rules refused it.
    #[error("{0}")]
    Rejected(X),
    /// The consumed message this command was made from was applied before.
    #[error("the message was applied before")]
    AlreadyApplied,
    /// Another writer changed the stream first; the state has been reloaded, try again.
    #[error("stream {stream_id} was changed by another writer at version {version}; try again")]
    Conflict { stream_id: String, version: u64 },
    /// The log could not be written; nothing was changed. Try again later.
    #[error("the event log is unavailable: {0}")]
    Unavailable(String),
    /// The writer is shutting down.
    #[error("the service is shutting down")]
    Stopped,
}

impl<X> CommandError<X> {
    /// Whether the same command may succeed if sent again.
    pub fn is_retryable(&self) -> bool {
        matches!(self, CommandError::Conflict { .. } | CommandError::Unavailable(_))
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

struct Shared<M: Model> {
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
        let runner = Runner {
            shared: shared.clone(),
            rx,
            stop: stop_rx,
            replies: ReplyCache::new(config.reply_cache),
            checkpoints: Positions::default(),
            pending: PendingMarks::default(),
            needs_reload: false,
            blocked: Positions::default(),
            events_since_snapshot: report.events_applied,
            config,
        };
        let task = tokio::spawn(runner.run().instrument(tracing::info_span!("writer", model = M::NAME)));
        *shared.task.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
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
        let task = self.shared.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    fn live(&self) -> RwLockReadGuard<'_, Replayed<M>> {
        self.shared.live.read().unwrap_or_else(|p| p.into_inner())
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

/// How a command ended, as seen by the writer.
enum Finish {
    Committed,
    /// The idempotency key was committed before; here is the first reply.
    Repeated(Vec<u8>),
    AlreadyApplied,
    Failed(Failure),
}

#[derive(Clone)]
enum Failure {
    Conflict { stream_id: String, version: u64 },
    Unavailable(String),
}

/// One queued command, with its reply channel; type-erased so one queue serves all.
trait Job<M: Model>: Send {
    fn meta(&self) -> &CommandMeta;
    /// Hands the metadata over to the writer once the job is decided on.
    fn take_meta(&mut self) -> CommandMeta;
    fn span(&self) -> &tracing::Span;
    /// Runs the decision. `None` when it was refused (nothing to write).
    fn decide(&mut self, state: &M, ctx: &Context<'_>) -> Option<JobDecision<M::Event>>;
    fn finish(self: Box<Self>, finish: Finish);
}

struct JobDecision<E> {
    events: Vec<(String, E)>,
    messages: Vec<OutboxMessage>,
    parked: Vec<ParkedMessage>,
    unparked: Vec<i64>,
    /// The encoded reply, kept when the command has an idempotency key.
    reply: Option<Vec<u8>>,
}

struct TypedJob<F, R, X> {
    meta: CommandMeta,
    span: tracing::Span,
    decide: Option<F>,
    result: Option<Result<R, X>>,
    reply_to: oneshot::Sender<Result<R, CommandError<X>>>,
}

impl<M, F, R, X> Job<M> for TypedJob<F, R, X>
where
    M: Model,
    F: FnOnce(&M, &Context<'_>) -> Result<Decision<M::Event, R>, X> + Send + 'static,
    R: Serialize + DeserializeOwned + Send + 'static,
    X: Send + 'static,
{
    fn meta(&self) -> &CommandMeta {
        &self.meta
    }

    fn take_meta(&mut self) -> CommandMeta {
        std::mem::take(&mut self.meta)
    }

    fn span(&self) -> &tracing::Span {
        &self.span
    }

    fn decide(&mut self, state: &M, ctx: &Context<'_>) -> Option<JobDecision<M::Event>> {
        let decide = self.decide.take()?;
        match decide(state, ctx) {
            Ok(decision) => {
                let reply = match ctx.meta.idempotency_key {
                    Some(_) => Some(serde_json::to_vec(&decision.reply).unwrap_or_default()),
                    None => None,
                };
                self.result = Some(Ok(decision.reply));
                Some(JobDecision {
                    events: decision.events,
                    messages: decision.messages,
                    parked: decision.parked,
                    unparked: decision.unparked,
                    reply,
                })
            }
            Err(refusal) => {
                self.result = Some(Err(refusal));
                None
            }
        }
    }

    fn finish(self: Box<Self>, finish: Finish) {
        let answer = match finish {
            Finish::Committed => match self.result {
                Some(Ok(reply)) => Ok(reply),
                Some(Err(refusal)) => Err(CommandError::Rejected(refusal)),
                None => Err(CommandError::Unavailable("the command was not decided".into())),
            },
            Finish::Repeated(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| CommandError::Unavailable(format!("the recorded first reply cannot be read: {e}"))),
            Finish::AlreadyApplied => Err(CommandError::AlreadyApplied),
            Finish::Failed(Failure::Conflict { stream_id, version }) => {
                Err(CommandError::Conflict { stream_id, version })
            }
            Finish::Failed(Failure::Unavailable(reason)) => Err(CommandError::Unavailable(reason)),
        };
        // The caller may have given up waiting; that is not the writer's concern.
        let _ = self.reply_to.send(answer);
    }
}

/// Recently committed idempotent replies, oldest evicted first.
struct ReplyCache {
    replies: HashMap<String, Vec<u8>>,
    order: VecDeque<String>,
    capacity: usize,
}

impl ReplyCache {
    fn new(capacity: usize) -> Self {
        Self {
            replies: HashMap::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    fn get(&self, key: &str) -> Option<&Vec<u8>> {
        self.replies.get(key)
    }

    fn insert(&mut self, key: String, reply: Vec<u8>) {
        if self.capacity == 0 {
            return;
        }
        if self.replies.insert(key.clone(), reply).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.replies.remove(&old);
            }
        }
    }
}

/// The writer task's own state.
struct Runner<M: Model> {
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

/// Positions per consumer and source. Keys are copied only when first seen: this is
/// looked up and raised for every consumed message.
#[derive(Default)]
struct Positions(HashMap<String, HashMap<String, OutboxPosition>>);

impl Positions {
    fn get(&self, consumer: &str, source: &str) -> Option<OutboxPosition> {
        self.0.get(consumer)?.get(source).copied()
    }

    fn knows(&self, consumer: &str) -> bool {
        self.0.contains_key(consumer)
    }

    fn load(&mut self, consumer: String, positions: HashMap<String, OutboxPosition>) {
        self.0.insert(consumer, positions);
    }

    fn raise(&mut self, consumer: &str, source: &str, position: OutboxPosition) {
        let sources = match self.0.get_mut(consumer) {
            Some(sources) => sources,
            None => self.0.entry(consumer.to_owned()).or_default(),
        };
        match sources.get_mut(source) {
            Some(at) => *at = (*at).max(position),
            None => {
                sources.insert(source.to_owned(), position);
            }
        }
    }

    /// Forgets the source's position if it is not beyond `position`.
    fn forget_up_to(&mut self, consumer: &str, source: &str, position: OutboxPosition) {
        if let Some(sources) = self.0.get_mut(consumer)
            && sources.get(source).is_some_and(|at| *at <= position)
        {
            sources.remove(source);
        }
    }

    fn lower(&mut self, consumer: &str, source: &str, position: OutboxPosition) {
        let sources = self.0.entry(consumer.to_owned()).or_default();
        let at = sources.entry(source.to_owned()).or_insert(position);
        *at = (*at).min(position);
    }

    fn clear(&mut self) {
        self.0.clear();
    }
}

#[derive(Default)]
struct PendingMarks {
    replies: HashMap<String, Vec<u8>>,
    seen: HashSet<(String, String)>,
    checkpoints: Positions,
}

/// What the checks before a batch found in the store.
#[derive(Default)]
struct Prechecked {
    replies: HashMap<String, Vec<u8>>,
    seen: HashSet<(String, String)>,
}

/// A decided batch: what to write and who to answer.
struct Decided<M: Model> {
    batch: Arc<CommitBatch>,
    /// The batch's events, kept only while someone follows committed events.
    events: Vec<CommittedEvent<M::Event>>,
    /// Each job with its outcome when it needs no commit (`None`: answered by the commit).
    outcomes: Vec<(Box<dyn Job<M>>, Option<Finish>)>,
}

type CommitResult = Result<crate::store::Committed, CommitError>;

/// A batch whose transaction is under way.
struct InFlight<M: Model> {
    decided: Decided<M>,
    commit: Option<JoinHandle<(CommitResult, Duration)>>,
}

impl<M: Model> InFlight<M> {
    /// Waits for the transaction to end.
    async fn wait(&mut self) -> (CommitResult, Duration) {
        let Some(commit) = self.commit.take() else {
            return (
                Err(CommitError::Store(StoreError::Config(
                    "the commit was awaited twice".into(),
                ))),
                Duration::ZERO,
            );
        };
        match commit.await {
            Ok(done) => done,
            Err(e) => (
                Err(CommitError::Store(StoreError::Config(format!(
                    "the commit task ended: {e}"
                )))),
                Duration::ZERO,
            ),
        }
    }
}

impl<M: Model> Runner<M> {
    /// Decides the next batch while the previous one commits, so the database is kept
    /// busy: batch k+1 is decided against a state that already includes batch k. If k
    /// fails, k+1 is failed with it and the state is reloaded from the log.
    async fn run(mut self) {
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
        let mut batch = CommitBatch {
            recorded_at: now,
            ..CommitBatch::default()
        };
        let mut outcomes: Vec<(Box<dyn Job<M>>, Option<Finish>)> = Vec::with_capacity(jobs.len());
        let follow = self.shared.committed.receiver_count() > 0;
        let mut followed = Vec::new();
        let mut live = self.shared.live.write().unwrap_or_else(|p| p.into_inner());
        for mut job in jobs {
            let meta = job.take_meta();
            if let Some(key) = &meta.idempotency_key {
                let earlier = self
                    .pending
                    .replies
                    .get(key)
                    .or_else(|| self.replies.get(key))
                    .or_else(|| prechecked.replies.get(key));
                if let Some(first) = earlier {
                    let finish = Some(Finish::Repeated(first.clone()));
                    outcomes.push((job, finish));
                    continue;
                }
            }
            if let Some(mark) = &meta.inbox {
                let applied = match mark {
                    InboxMark::Checkpoint {
                        consumer,
                        source,
                        position,
                        ..
                    } => {
                        let committed = self.checkpoints.get(consumer, source);
                        let at = self.pending.checkpoints.get(consumer, source).max(committed);
                        at.is_some_and(|at| *position <= at)
                    }
                    InboxMark::Message { consumer, message_id } => {
                        let key = (consumer.clone(), message_id.clone());
                        prechecked.seen.contains(&key) || self.pending.seen.contains(&key)
                    }
                };
                if applied {
                    outcomes.push((job, Some(Finish::AlreadyApplied)));
                    continue;
                }
                if let InboxMark::Checkpoint {
                    consumer,
                    source,
                    position,
                    ..
                } = mark
                    && self
                        .blocked
                        .get(consumer, source)
                        .is_some_and(|first| *position > first)
                {
                    let waiting =
                        format!("message {position} of {source} waits for an earlier one that was not applied");
                    outcomes.push((job, Some(Finish::Failed(Failure::Unavailable(waiting)))));
                    continue;
                }
            }
            let decided = {
                let _entered = job.span().clone().entered();
                job.decide(&live.state, &Context { now, meta: &meta })
            };
            if let Some(decided) = decided {
                for (stream_id, event) in decided.events {
                    let version = match live.versions.get_mut(&stream_id) {
                        Some(version) => {
                            *version += 1;
                            *version
                        }
                        None => {
                            live.versions.insert(stream_id.clone(), 1);
                            1
                        }
                    };
                    let meta = EventMeta {
                        event_id: Uuid::now_v7(),
                        stream_id,
                        version,
                        recorded_at: now,
                        correlation_id: meta.correlation_id,
                        causation_id: meta.command_id,
                        traceparent: meta.traceparent.clone(),
                    };
                    live.state.apply(&meta.header(), &event);
                    batch.events.push(NewEvent::from_event(meta, &event));
                    if follow && let Some(recorded) = batch.events.last() {
                        followed.push(CommittedEvent {
                            stream: recorded.meta.stream_id.clone(),
                            event,
                            traceparent: recorded.meta.traceparent.clone(),
                        });
                    }
                }
                for mut message in decided.messages {
                    // Messages carry the trace of the command that published them.
                    if let Some(traceparent) = &meta.traceparent
                        && message.header("traceparent").is_none()
                    {
                        message.headers.push(("traceparent".to_owned(), traceparent.clone()));
                    }
                    batch.outbox.push(message);
                }
                batch.parked.extend(decided.parked);
                batch.unparked.extend(decided.unparked);
                if let (Some(key), Some(reply)) = (&meta.idempotency_key, decided.reply) {
                    self.pending.replies.insert(key.clone(), reply.clone());
                    batch.replies.push((key.clone(), reply));
                }
                if let Some(mark) = meta.inbox {
                    match &mark {
                        InboxMark::Checkpoint {
                            consumer,
                            source,
                            position,
                            ..
                        } => {
                            self.pending.checkpoints.raise(consumer, source, *position);
                        }
                        InboxMark::Message { consumer, message_id } => {
                            self.pending.seen.insert((consumer.clone(), message_id.clone()));
                        }
                    }
                    batch.inbox.push(mark);
                }
            }
            outcomes.push((job, None));
        }
        self.shared
            .uncommitted
            .fetch_add(batch.events.len() as u64, Ordering::AcqRel);
        drop(live);
        Some(Decided {
            batch: Arc::new(batch),
            events: followed,
            outcomes,
        })
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
                    let mut live = self.shared.live.write().unwrap_or_else(|p| p.into_inner());
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
                let mut live = self.shared.live.write().unwrap_or_else(|p| p.into_inner());
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
            let live = self.shared.live.read().unwrap_or_else(|p| p.into_inner());
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
