//! A batch on its way through the writer: the events being decided, the decided batch
//! with who to answer, and its transaction while it is under way.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::CommittedEvent;
use super::job::{Finish, Job};
use crate::envelope::{CommandMeta, EventMeta};
use crate::event::DomainEvent;
use crate::model::{Change, Model};
use crate::replay::Replayed;
use crate::store::{CommitBatch, CommitError, NewEvent, StoreError};

/// A decided batch: what to write and who to answer.
pub(super) struct Decided<M: Model> {
    pub(super) batch: Arc<CommitBatch>,
    /// The batch's events, kept only while someone follows committed events.
    pub(super) events: Vec<CommittedEvent<M::Event>>,
    /// Each job with its outcome when it needs no commit (`None`: answered by the commit).
    pub(super) outcomes: Vec<(Box<dyn Job<M>>, Option<Finish>)>,
}

/// A batch being decided: what its transaction will write, and the events to tell those
/// who follow committed events.
pub(super) struct Batch<E> {
    pub(super) commit: CommitBatch,
    /// Whether anyone follows committed events (else `events` stays empty).
    pub(super) followed: bool,
    pub(super) events: Vec<CommittedEvent<E>>,
}

impl<E: DomainEvent> Batch<E> {
    /// Appends one event: the next version of its stream, applied to the live state.
    pub(super) fn append<M: Model<Event = E>>(
        &mut self,
        live: &mut Replayed<M>,
        change: Change<E>,
        payload: Vec<u8>,
        command: &CommandMeta,
        now: DateTime<Utc>,
    ) {
        let Change { stream, event } = change;
        // The stream's name is copied only the first time it is seen.
        let version = match live.versions.get_mut(&stream) {
            Some(version) => {
                *version += 1;
                *version
            }
            None => {
                live.versions.insert(stream.clone(), 1);
                1
            }
        };
        let meta = EventMeta {
            event_id: Uuid::now_v7(),
            stream_id: stream,
            version,
            recorded_at: now,
            correlation_id: command.correlation_id,
            causation_id: command.command_id,
            traceparent: command.traceparent.clone(),
        };
        live.state.apply(&meta.header(), &event);
        let event_type = event.event_type();
        let recorded = NewEvent {
            schema_version: E::schema_version(event_type),
            event_type,
            payload,
            meta,
        };
        if self.followed {
            self.events.push(CommittedEvent {
                stream: recorded.meta.stream_id.clone(),
                event,
                traceparent: recorded.meta.traceparent.clone(),
            });
        }
        self.commit.events.push(recorded);
    }
}

pub(super) type CommitResult = Result<crate::store::Committed, CommitError>;

/// A batch whose transaction is under way.
pub(super) struct InFlight<M: Model> {
    pub(super) decided: Decided<M>,
    pub(super) commit: Option<JoinHandle<(CommitResult, Duration)>>,
}

impl<M: Model> InFlight<M> {
    /// Waits for the transaction to end.
    pub(super) async fn wait(&mut self) -> (CommitResult, Duration) {
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
