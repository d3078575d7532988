//! What a command decides — its events tagged with their streams, the integration
//! messages announcing them, parked messages, its reply — and why a command may not take
//! effect.

use chrono::{DateTime, Utc};

use crate::envelope::CommandMeta;
use crate::model::{Change, Changes};
use crate::store::{OutboxMessage, ParkedMessage};

/// What a command decided: events per stream, integration messages, and the reply.
#[derive(Debug)]
pub struct Decision<E, R> {
    pub(super) events: Changes<E>,
    pub(super) messages: Vec<OutboxMessage>,
    pub(super) parked: Vec<ParkedMessage>,
    pub(super) unparked: Vec<i64>,
    pub(super) reply: R,
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
        self.events.push(Change::new(stream, event));
        self
    }

    /// Records several events on one stream, in order.
    pub fn events(mut self, stream: impl Into<String>, events: impl IntoIterator<Item = E>) -> Self {
        let stream = stream.into();
        self.events
            .extend(events.into_iter().map(|e| Change::new(stream.clone(), e)));
        self
    }

    /// Records `events` and publishes what `announce` makes of each stream's events (all of
    /// one stream together, streams in the order they first appear), so a message can see
    /// its aggregate as the events before it left it.
    pub fn announced_per_stream(
        mut self,
        events: Changes<E>,
        mut announce: impl FnMut(&str, &[E]) -> Vec<OutboxMessage>,
    ) -> Self
    where
        E: Clone,
    {
        let mut streams: Vec<(&str, Vec<E>)> = Vec::new();
        for change in &events {
            match streams.iter_mut().find(|(s, _)| *s == change.stream) {
                Some((_, of_stream)) => of_stream.push(change.event.clone()),
                None => streams.push((&change.stream, vec![change.event.clone()])),
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

    /// Records every change, in order.
    pub fn changes(mut self, changes: Changes<E>) -> Self {
        self.events.extend(changes);
        self
    }

    pub fn pending_events(&self) -> &[Change<E>] {
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
