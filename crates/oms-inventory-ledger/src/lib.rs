//! The inventory ledger service: the one authority on stock.
//!
//! Reads top-down: [`domain`] holds the business rules (pure), [`app`] runs them through
//! the writer and serves reads, [`grpc`] translates the API, [`consumers`] translates the
//! messages of POS systems, fulfilment and returns, and [`service`] wires it all into a
//! running service.

pub mod app;
pub mod cli;
pub mod consumers;
pub mod domain;
pub mod grpc;
pub mod messages;
pub mod service;
#[cfg(feature = "testing")]
pub mod testing;
