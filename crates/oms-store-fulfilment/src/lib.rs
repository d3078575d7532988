//! Store fulfilment: the jobs routing gives the nodes, worked by store staff step by step or
//! handed to a warehouse, 3PL or drop-ship supplier system and confirmed back.
//!
//! Reads top-down: [`domain`] holds the job lifecycle (pure), [`carriers`] chooses carrier
//! and service and draws labels, [`app`] runs decisions through the writer and keeps the
//! deadlines, [`grpc`] is the staff API, [`consumers`] take routing's requests and the
//! nodes' confirmations, [`messages`] are what it announces, [`convert`] reads what the
//! contract kernel does not, and [`service`] wires it.

pub mod app;
pub mod carriers;
pub mod cli;
pub mod consumers;
pub mod convert;
pub mod domain;
pub mod grpc;
pub mod messages;
pub mod service;
#[cfg(feature = "testing")]
pub mod testing;
