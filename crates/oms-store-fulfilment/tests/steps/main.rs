//! A job's life, given/when/then: given what happened to a job, when routing, the store's
//! staff, a node's system or the clock act on it, then these events (or this refusal).

mod clock;
mod collection;
mod nodes;
mod routing;
mod staff;
mod story;
