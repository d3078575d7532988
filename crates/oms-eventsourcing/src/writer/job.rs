//! One queued command as the writer sees it: its metadata, its decision (type-erased, so
//! one queue serves every command of a service) and how it is answered.

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::oneshot;

use super::{CommandError, Context, Decision};
use crate::envelope::CommandMeta;
use crate::model::{Changes, Model};
use crate::store::{OutboxMessage, ParkedMessage};

/// How a command ended, as seen by the writer.
pub(super) enum Finish {
    Committed,
    /// The idempotency key was committed before; here is the first reply.
    Repeated(Vec<u8>),
    AlreadyApplied,
    Failed(Failure),
}

#[derive(Clone)]
pub(super) enum Failure {
    Conflict { stream_id: String, version: u64 },
    Unavailable(String),
}

/// One queued command, with its reply channel; type-erased so one queue serves all.
pub(super) trait Job<M: Model>: Send {
    fn meta(&self) -> &CommandMeta;
    /// Hands the metadata over to the writer once the job is decided on.
    fn take_meta(&mut self) -> CommandMeta;
    fn span(&self) -> &tracing::Span;
    /// Runs the decision. `None` when it was refused (nothing to write).
    fn decide(&mut self, state: &M, ctx: &Context<'_>) -> Option<JobDecision<M::Event>>;
    fn finish(self: Box<Self>, finish: Finish);
}

pub(super) struct JobDecision<E> {
    pub(super) events: Changes<E>,
    pub(super) messages: Vec<OutboxMessage>,
    pub(super) parked: Vec<ParkedMessage>,
    pub(super) unparked: Vec<i64>,
    /// The encoded reply, kept when the command has an idempotency key.
    pub(super) reply: Option<Vec<u8>>,
}

pub(super) struct TypedJob<F, R, X> {
    pub(super) meta: CommandMeta,
    pub(super) span: tracing::Span,
    pub(super) decide: Option<F>,
    pub(super) result: Option<Result<R, X>>,
    pub(super) reply_to: oneshot::Sender<Result<R, CommandError<X>>>,
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
