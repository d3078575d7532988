//! Returns: a return started from any channel, received and inspected at any location,
//! restocked or written off, refunded to the original tender (or as store credit), or
//! exchanged for a replacement order.
//!
//! Reads top-down: [`domain`] holds the rules (pure: what may be returned, what is
//! refunded to which tender), [`app`] runs them through the writer and places replacement
//! orders, [`grpc`] is the API, [`consumers`] learn orders, deliveries and payment results,
//! [`messages`] are what it announces, and [`service`] wires it.

pub mod app;
pub mod cli;
pub mod consumers;
pub mod domain;
pub mod grpc;
pub mod messages;
pub mod service;
#[cfg(feature = "testing")]
pub mod testing;
