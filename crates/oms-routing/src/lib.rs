//! Routing: which node(s) fulfil each order.
//!
//! Reads top-down: [`domain`] holds the business rules (pure: the network, rule sets, the
//! planner, promise dates), [`app`] runs them through the writer, [`router`] is the worker
//! that routes orders — plan, reserve at the ledger, record — and re-routes them,
//! [`availability`] keeps the stock each node can promise from the ledger's events,
//! [`grpc`] translates the API, [`consumers`] translate what order capture and the nodes
//! report, and [`service`] wires it all into a running service.

pub mod app;
pub mod availability;
pub mod cli;
pub mod consumers;
pub mod convert;
pub mod domain;
pub mod grpc;
pub mod ledger;
pub mod messages;
pub mod router;
pub mod service;
#[cfg(feature = "testing")]
pub mod testing;
