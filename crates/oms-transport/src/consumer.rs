//! The consumer: applies a source's messages to a service's state, exactly once in effect.
//!
//! Each batch of messages becomes one group of commands for the service's writer, decided
//! in order and committed in one transaction together with an inbox checkpoint per
//! message. Only after that commit is the batch acknowledged to the source (Kafka offsets
//! stored). A message delivered again — after a crash between commit and offset, or
//! republished by a relay — finds its position at or below the checkpoint and has no
//! second effect.
//!
//! What the handler cannot apply is never dropped: poison goes to `<topic>.dlq` with the
//! reason (in the same transaction), a message that came too early is parked and retried
//! after later batches, and a failure of the database is retried with backoff.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use oms_eventsourcing::store::ParkedMessage;
use oms_eventsourcing::trace::{continue_trace, current_traceparent};
use oms_eventsourcing::writer::Context;
use oms_eventsourcing::{CommandError, CommandMeta, Decision, Model, Submitted, Writer};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use uuid::Uuid;

use crate::backoff::Backoff;
use crate::checkpoints::checkpoint_of;
use crate::dead_letter::dead_letter;
use crate::message::headers;
use crate::{Handling, Message, MessageHandler, Source};

#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// The consumer's name: its inbox and, on Kafka, its consumer group.
    pub name: String,
    /// Most messages applied in one transaction.
    pub max_batch: usize,
    /// How long to wait for messages before looking at parked ones.
    pub wait: Duration,
    /// How often parked messages are tried again when nothing else happens.
    pub parked_retry_every: Duration,
    /// A message parked for longer goes to the dead-letter topic.
    pub park_at_most: Duration,
    /// For crash tests: stop, as if killed, after committing this many batches and before
    /// acknowledging the last one to the source.
    pub halt_after_batches: Option<u64>,
}

impl ConsumerConfig {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            max_batch: 500,
            wait: Duration::from_millis(250),
            parked_retry_every: Duration::from_secs(5),
            park_at_most: Duration::from_secs(7 * 24 * 3600),
            halt_after_batches: None,
        }
    }
}

/// Counters of a consumer.
#[derive(Debug, Default)]
pub struct ConsumerStats {
    pub batches: AtomicU64,
    pub applied: AtomicU64,
    /// Delivered again and recognised by the inbox.
    pub already_applied: AtomicU64,
    pub dead_lettered: AtomicU64,
    pub parked: AtomicU64,
    pub unparked: AtomicU64,
    /// Batches tried again after a transient failure.
    pub retries: AtomicU64,
    /// Topic partitions found holding another log than the one the inbox checkpointed by
    /// offset (the broker lost the topic, or it was recreated): each was read again from
    /// its start under a new inbox epoch.
    pub partition_resets: AtomicU64,
    /// Offsets gone from a partition before they were read (deleted by retention).
    pub offsets_gone: AtomicU64,
}

impl ConsumerStats {
    pub fn get(&self, counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// How a consumer stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum ConsumerExit {
    Stopped,
    /// At the configured crash point.
    Halted,
}

/// A batch queued for the writer.
struct InFlight {
    batch: Vec<Arc<Message>>,
    answers: Submitted<Outcome, Infallible>,
}

/// What the answers to a batch say.
enum Settled {
    Done(Vec<Outcome>),
    Retry(String),
    Stopped,
}

/// Batches committed, each with what became of its messages.
type Landed = Vec<(Vec<Arc<Message>>, Vec<Outcome>)>;

/// What a running consumer keeps from one turn of its loop to the next.
struct Run {
    /// Batches queued for the writer, oldest first; two at most.
    in_flight: VecDeque<InFlight>,
    /// Batches committed so far, for the configured crash point.
    committed: u64,
    /// The pause after a failed read.
    read_pause: Backoff,
    parked: ParkedRetry,
}

/// Whether parked messages wait, and when they were last tried.
struct ParkedRetry {
    waiting: bool,
    last: Instant,
}

/// What the loop does after reading ahead.
enum Next {
    /// Read (or try to read) another batch.
    ReadAgain,
    /// Settle the oldest batch in flight.
    Settle,
}

/// Whether every batch that landed was acknowledged, or the consumer halts.
enum Acknowledged {
    All,
    Halt,
}

/// What became of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Outcome {
    Applied,
    DeadLettered,
    Parked,
    /// A parked message tried again and still waiting.
    StillParked,
}

pub struct Consumer<M: Model, H: MessageHandler<M>> {
    writer: Writer<M>,
    handler: Arc<H>,
    config: ConsumerConfig,
    stats: Arc<ConsumerStats>,
}

type Command<M> = (
    CommandMeta,
    Box<
        dyn FnOnce(&M, &Context<'_>) -> Result<Decision<<M as Model>::Event, Outcome>, std::convert::Infallible> + Send,
    >,
);

impl<M: Model, H: MessageHandler<M>> Consumer<M, H> {
    pub fn new(writer: Writer<M>, handler: Arc<H>, config: ConsumerConfig) -> Self {
        Self {
            writer,
            handler,
            config,
            stats: Arc::new(ConsumerStats::default()),
        }
    }

    pub fn stats(&self) -> Arc<ConsumerStats> {
        self.stats.clone()
    }

    /// Consumes until `stop` turns true (finishing the batches in hand), then closes the
    /// source.
    ///
    /// Two batches are in flight at most: the next one is read and queued for the writer
    /// while the previous one commits. If a batch fails, the one queued behind it is
    /// refused by the writer too (it may not get ahead of an earlier message of its
    /// source), and both are applied again in order.
    pub async fn run(self, mut source: Source, mut stop: watch::Receiver<bool>) -> ConsumerExit {
        source.bind_inbox(self.writer.store(), &self.config.name, self.stats.clone());
        let waiting = self.parked_waiting().await;
        let mut run = Run {
            in_flight: VecDeque::new(),
            committed: 0,
            read_pause: Backoff::from(Duration::from_millis(100)),
            parked: ParkedRetry {
                waiting,
                last: Instant::now(),
            },
        };
        loop {
            let stopping = *stop.borrow();
            if !stopping
                && run.in_flight.len() < 2
                && let Next::ReadAgain = self.read_ahead(&mut source, &mut stop, &mut run).await
            {
                continue;
            }
            let Some(oldest) = run.in_flight.pop_front() else {
                if stopping {
                    break;
                }
                self.retry_parked_if_due(&mut run.parked, false).await;
                continue;
            };
            let Some(landed) = self.land(oldest, &mut run.in_flight, &mut stop).await else {
                break;
            };
            if let Acknowledged::Halt = self.acknowledge_landed(landed, &mut source, &mut run).await {
                return self.halt(source, run.in_flight).await;
            }
        }
        self.finish(source, run.in_flight).await
    }

    /// Reads the next batch and queues it for the writer. `ReadAgain` when there is room
    /// for another batch in flight, or after waiting out a failed read with none in flight;
    /// otherwise the oldest batch in flight is to be settled next.
    async fn read_ahead(&self, source: &mut Source, stop: &mut watch::Receiver<bool>, run: &mut Run) -> Next {
        let wait = if run.in_flight.is_empty() {
            self.config.wait
        } else {
            Duration::ZERO
        };
        let read = tokio::select! {
            batch = source.next_batch(self.config.max_batch, wait) => Some(batch),
            _ = stop.changed() => None,
        };
        match read {
            Some(Ok(batch)) if !batch.is_empty() => {
                run.read_pause.reset();
                run.in_flight.push_back(self.submit(batch).await);
                if run.in_flight.len() < 2 {
                    return Next::ReadAgain;
                }
            }
            Some(Ok(_)) | None => {}
            Some(Err(e)) => {
                tracing::warn!(consumer = %self.config.name, error = %e, retry_in_ms = run.read_pause.pause().as_millis() as u64, "cannot read messages");
                if run.in_flight.is_empty() {
                    run.read_pause.wait().await;
                    return Next::ReadAgain;
                }
            }
        }
        Next::Settle
    }

    /// Queues a batch for the writer: one command per message, decided in order and
    /// committed together.
    async fn submit(&self, batch: Vec<Message>) -> InFlight {
        // Shared with the commands made of them, which may be made again.
        let batch: Vec<Arc<Message>> = batch.into_iter().map(Arc::new).collect();
        let commands: Vec<Command<M>> = batch.iter().map(|m| self.command_for(m)).collect();
        let answers = self.writer.submit_all(commands).await;
        InFlight { batch, answers }
    }

    /// Waits for the oldest batch in flight to commit: the batches that landed, each with
    /// what became of its messages. `None` when asked to stop meanwhile.
    async fn land(
        &self,
        oldest: InFlight,
        in_flight: &mut VecDeque<InFlight>,
        stop: &mut watch::Receiver<bool>,
    ) -> Option<Landed> {
        let reason = match self.settle(oldest.answers.outcome().await) {
            Settled::Done(outcomes) => return Some(vec![(oldest.batch, outcomes)]),
            Settled::Stopped => return None,
            Settled::Retry(reason) => reason,
        };
        // Everything queued behind it is refused or applied; apply them all again, in
        // order, one at a time.
        self.stats.retries.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(consumer = %self.config.name, %reason, "batch not applied; trying again");
        let mut again = vec![oldest.batch];
        for behind in in_flight.drain(..) {
            let _ = behind.answers.outcome().await;
            again.push(behind.batch);
        }
        let mut landed = Vec::with_capacity(again.len());
        for batch in again {
            let outcomes = self.apply(&batch, stop).await?;
            landed.push((batch, outcomes));
        }
        Some(landed)
    }

    /// Acknowledges the batches that landed to the source, and tries parked messages
    /// again when it is time. `Halt` at the configured crash point, before the batch that
    /// reaches it is acknowledged.
    async fn acknowledge_landed(&self, landed: Landed, source: &mut Source, run: &mut Run) -> Acknowledged {
        for (batch, outcomes) in landed {
            run.committed += 1;
            tracing::trace!(consumer = %self.config.name, committed = run.committed, messages = batch.len(), "batch committed");
            if self.config.halt_after_batches == Some(run.committed) {
                return Acknowledged::Halt;
            }
            source.acknowledge(&batch);
            run.parked.waiting |= outcomes.contains(&Outcome::Parked);
            self.retry_parked_if_due(&mut run.parked, outcomes.contains(&Outcome::Applied))
                .await;
        }
        Acknowledged::All
    }

    /// Tries the parked messages again if some wait and either something was just
    /// `applied` (what they wait for may have come) or they were last tried
    /// `parked_retry_every` ago.
    async fn retry_parked_if_due(&self, parked: &mut ParkedRetry, applied: bool) {
        if parked.waiting && (applied || parked.last.elapsed() >= self.config.parked_retry_every) {
            parked.last = Instant::now();
            parked.waiting = self.retry_parked().await;
        }
    }

    /// Stops as if killed: the last batch is committed but never acknowledged. The source
    /// is still closed, so a Kafka group gives its partitions to the next member now rather
    /// than after the session times out.
    async fn halt(&self, source: Source, in_flight: VecDeque<InFlight>) -> ConsumerExit {
        tracing::warn!(consumer = %self.config.name, "halting at the configured crash point");
        for behind in in_flight {
            let _ = behind.answers.outcome().await;
        }
        source.close().await;
        ConsumerExit::Halted
    }

    /// Stops: the batches still in flight are waited for, and acknowledged if they were
    /// committed; then the source is closed.
    async fn finish(&self, mut source: Source, in_flight: VecDeque<InFlight>) -> ConsumerExit {
        for behind in in_flight {
            if let Settled::Done(_) = self.settle(behind.answers.outcome().await) {
                source.acknowledge(&behind.batch);
            }
        }
        source.close().await;
        ConsumerExit::Stopped
    }

    /// What the answers to a batch say: all taken (applied, dead-lettered, parked, or
    /// applied before), or to be tried again.
    fn settle(&self, answers: Vec<Result<Outcome, CommandError<Infallible>>>) -> Settled {
        let mut outcomes = Vec::with_capacity(answers.len());
        let mut already = 0;
        for answer in answers {
            match answer {
                Ok(outcome) => outcomes.push(outcome),
                Err(CommandError::AlreadyApplied) => already += 1,
                Err(CommandError::Stopped) => return Settled::Stopped,
                Err(e) => return Settled::Retry(e.to_string()),
            }
        }
        self.stats.already_applied.fetch_add(already, Ordering::Relaxed);
        self.count(&outcomes);
        self.stats.batches.fetch_add(1, Ordering::Relaxed);
        Settled::Done(outcomes)
    }

    /// Applies a batch, retrying the whole of it until it is committed. `None` when asked
    /// to stop meanwhile.
    async fn apply(&self, batch: &[Arc<Message>], stop: &mut watch::Receiver<bool>) -> Option<Vec<Outcome>> {
        let mut pause = Backoff::from(Duration::from_millis(50));
        loop {
            let commands: Vec<Command<M>> = batch.iter().map(|m| self.command_for(m)).collect();
            match self.settle(self.writer.execute_all(commands).await) {
                Settled::Done(outcomes) => return Some(outcomes),
                Settled::Stopped => return None,
                Settled::Retry(reason) => {
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(consumer = %self.config.name, %reason, retry_in_ms = pause.pause().as_millis() as u64, "batch not applied; trying again");
                    tokio::select! {
                        _ = pause.wait() => {}
                        _ = stop.changed() => return None,
                    }
                }
            }
        }
    }

    fn count(&self, outcomes: &[Outcome]) {
        for outcome in outcomes {
            let counter = match outcome {
                Outcome::Applied => &self.stats.applied,
                Outcome::DeadLettered => &self.stats.dead_lettered,
                Outcome::Parked => &self.stats.parked,
                Outcome::StillParked => continue,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The command for one message: its handling, or its dead letter, or its parking, with
    /// the inbox checkpoint that makes a second delivery harmless.
    fn command_for(&self, message: &Arc<Message>) -> Command<M> {
        let (span, meta) = self.span_and_meta(message);
        let meta = meta.with_inbox(checkpoint_of(&self.config.name, message));
        let handler = self.handler.clone();
        let consumer = self.config.name.clone();
        let message = Arc::clone(message);
        let decide = move |state: &M, ctx: &Context<'_>| {
            let _entered = span.enter();
            Ok(match handler.handle(state, &message, ctx) {
                Ok(decision) => decision.map_reply(|()| Outcome::Applied),
                Err(Handling::Poison(reason)) => {
                    tracing::warn!(origin = %message.origin(), %reason, "message dead-lettered");
                    Decision::reply(Outcome::DeadLettered).publish(dead_letter(&message, &consumer, &reason, ctx.now))
                }
                Err(Handling::Park(reason)) => {
                    tracing::info!(origin = %message.origin(), %reason, "message parked");
                    Decision::reply(Outcome::Parked).park(ParkedMessage {
                        consumer,
                        message: message.encode(),
                        reason,
                    })
                }
            })
        };
        (meta, Box::new(decide))
    }

    /// A span for handling the message, continuing the publisher's trace, and the command
    /// metadata that carries it on into the events and messages the handling produces.
    fn span_and_meta(&self, message: &Message) -> (tracing::Span, CommandMeta) {
        let span = tracing::info_span!(
            "consume",
            consumer = %self.config.name,
            topic = %message.topic,
            partition = message.partition,
            offset = message.offset,
            r#type = message.message_type.as_deref().unwrap_or(""),
        );
        if let Some(parent) = message.header(headers::TRACEPARENT) {
            continue_trace(&span, parent);
        }
        let traceparent = span
            .in_scope(current_traceparent)
            .or_else(|| message.header(headers::TRACEPARENT).map(str::to_owned));
        let command_id = message
            .id
            .as_deref()
            .and_then(|id| Uuid::parse_str(id).ok())
            .unwrap_or_else(|| Uuid::new_v5(&Uuid::NAMESPACE_URL, message.origin().as_bytes()));
        let correlation = message
            .header("oms_correlation_id")
            .and_then(|c| Uuid::parse_str(c).ok());
        let mut meta = CommandMeta::new()
            .with_command_id(command_id)
            .with_traceparent(traceparent);
        meta.correlation_id = correlation;
        (span, meta)
    }

    async fn parked_waiting(&self) -> bool {
        match self.writer.store().parked(&self.config.name, 0, 1).await {
            Ok(parked) => !parked.is_empty(),
            Err(e) => {
                tracing::warn!(consumer = %self.config.name, error = %e, "cannot look at parked messages; will try later");
                true
            }
        }
    }

    /// Tries every parked message again, oldest first. Returns whether some still wait.
    async fn retry_parked(&self) -> bool {
        const PAGE: usize = 200;
        let mut after = 0;
        let mut still_waiting = false;
        loop {
            let parked = match self.writer.store().parked(&self.config.name, after, PAGE).await {
                Ok(parked) => parked,
                Err(e) => {
                    tracing::warn!(consumer = %self.config.name, error = %e, "cannot read parked messages");
                    return true;
                }
            };
            let Some(last) = parked.last() else {
                return still_waiting;
            };
            after = last.id;
            let full_page = parked.len() == PAGE;
            let mut commands: Vec<Command<M>> = Vec::with_capacity(parked.len());
            for entry in parked {
                commands.push(self.retry_command(entry));
            }
            for result in self.writer.execute_all(commands).await {
                match result {
                    Ok(Outcome::StillParked) => still_waiting = true,
                    Ok(Outcome::Applied) => {
                        self.stats.unparked.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Outcome::DeadLettered) => {
                        self.stats.dead_lettered.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Outcome::Parked) => still_waiting = true,
                    Err(_) => return true,
                }
            }
            if !full_page {
                return still_waiting;
            }
        }
    }

    fn retry_command(&self, entry: oms_eventsourcing::store::Parked) -> Command<M> {
        let handler = self.handler.clone();
        let consumer = self.config.name.clone();
        let id = entry.id;
        let message = Message::decode(&entry.message);
        let parked_at = entry.parked_at;
        let limit = chrono::Duration::from_std(self.config.park_at_most).unwrap_or(chrono::Duration::MAX);
        let (span, meta) = match &message {
            Some(message) => self.span_and_meta(message),
            None => (tracing::Span::none(), CommandMeta::new()),
        };
        let decide = move |state: &M, ctx: &Context<'_>| {
            let _entered = span.enter();
            let Some(message) = message else {
                tracing::error!(id, "a parked message cannot be read back; dropping it");
                return Ok(Decision::reply(Outcome::DeadLettered).unpark(id));
            };
            Ok(match handler.handle(state, &message, ctx) {
                Ok(decision) => decision.map_reply(|()| Outcome::Applied).unpark(id),
                Err(Handling::Poison(reason)) => Decision::reply(Outcome::DeadLettered)
                    .publish(dead_letter(&message, &consumer, &reason, ctx.now))
                    .unpark(id),
                Err(Handling::Park(reason)) if ctx.now - parked_at > limit => {
                    let reason = format!("parked since {parked_at} and still not applicable: {reason}");
                    Decision::reply(Outcome::DeadLettered)
                        .publish(dead_letter(&message, &consumer, &reason, ctx.now))
                        .unpark(id)
                }
                Err(Handling::Park(_)) => Decision::reply(Outcome::StillParked),
            })
        };
        (meta, Box::new(decide))
    }
}
