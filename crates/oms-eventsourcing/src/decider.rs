//! The decider shape of an aggregate: business rules as two pure functions.
//!
//! `decide` looks at the current state and a command and answers with the events that
//! record what happened, or a typed refusal. `evolve` folds one event into the state.
//! Neither does I/O: time, configuration and identifiers arrive inside the command.

use std::fmt::Debug;

use crate::DomainEvent;

/// One consistency boundary: everything `decide` needs to keep its invariants.
pub trait Aggregate: Default + Clone + Debug {
    type Command: Debug;
    type Event: DomainEvent;
    type Error: std::error::Error;

    /// What happens when `command` meets the current state.
    fn decide(&self, command: &Self::Command) -> Result<Vec<Self::Event>, Self::Error>;

    /// The state after `event`.
    fn evolve(&mut self, event: &Self::Event);

    /// Folds a history of events into a fresh state.
    fn from_events<'a>(events: impl IntoIterator<Item = &'a Self::Event>) -> Self
    where
        Self::Event: 'a,
    {
        let mut state = Self::default();
        for event in events {
            state.evolve(event);
        }
        state
    }
}
