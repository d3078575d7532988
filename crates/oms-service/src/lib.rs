//! What every OMS service process shares.
//!
//! - [`grpc`]: serving a service's gRPC API with the standard health service and server
//!   reflection, a span per call that continues the caller's trace, and the one mapping
//!   of errors to status codes (`INVALID_ARGUMENT` naming every bad field);
//! - [`wiring`]: where a service's consumers read (Kafka topics, or the publishers'
//!   outboxes in the embedded mode) and whether its outbox is relayed to Kafka;
//! - [`runtime`]: starting the background tasks of a service and stopping them in order
//!   on SIGTERM — in-flight calls finish, the writer drains, the relay flushes;
//! - [`process`]: a service as a process of its own (its binary, `oms serve`);
//! - [`admin`]: the operators' API every service answers (its state's digest, for
//!   `oms verify --live`);
//! - [`auth`]: who may call what: bearer tokens verified, one policy row per method;
//! - [`tls`]: TLS on a service's port and on its calls to other services;
//! - [`convert`]: timestamps and other small translations between protobuf and domain.

pub mod admin;
pub mod assemble;
pub mod auth;
pub mod convert;
pub mod declare;
pub mod feeds;
pub mod grpc;
pub mod limits;
pub mod process;
pub mod runtime;
pub mod settings;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tls;
pub mod wiring;

/// Every OMS process allocates with mimalloc: a service allocates and frees small buffers
/// on every call and message, and the C library's allocator spent about a fifth of the
/// inventory benchmark's time doing it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub use declare::{Declared, Running};
pub use grpc::{ToStatus, Violations, command_status};
pub use runtime::{Shutdown, Tasks};
pub use wiring::{Outboxes, Wiring};
