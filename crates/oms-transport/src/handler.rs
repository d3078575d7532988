//! What a service does with a consumed message.

use oms_eventsourcing::writer::Context;
use oms_eventsourcing::{Decision, Model};

use crate::Message;

/// Turns a consumed message into a decision against the service's state. It runs inside
/// the service's writer, like any command: pure, no I/O.
pub trait MessageHandler<M: Model>: Send + Sync + 'static {
    /// What this message does. `Err` when it cannot be applied now or ever.
    fn handle(&self, state: &M, message: &Message, ctx: &Context<'_>) -> Result<Decision<M::Event, ()>, Handling>;
}

/// Why a message was not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handling {
    /// It can never be applied (undecodable, unknown type, breaks the contract): it goes to
    /// the dead-letter topic with this reason.
    Poison(String),
    /// It arrived before what it depends on: keep it and try again later.
    Park(String),
}

impl Handling {
    pub fn poison(reason: impl Into<String>) -> Self {
        Handling::Poison(reason.into())
    }

    pub fn park(reason: impl Into<String>) -> Self {
        Handling::Park(reason.into())
    }
}

/// A handler chosen at run time (a service's list of what it consumes) applies as the
/// handler it holds.
impl<M: Model> MessageHandler<M> for Box<dyn MessageHandler<M>> {
    fn handle(&self, state: &M, message: &Message, ctx: &Context<'_>) -> Result<Decision<M::Event, ()>, Handling> {
        (**self).handle(state, message, ctx)
    }
}
