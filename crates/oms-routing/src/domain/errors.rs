//! Why routing refuses a command.

use super::{LocationId, OrderId, Violations};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    /// The request itself is malformed; every bad field is named.
    #[error("{0}")]
    Invalid(Violations),
    #[error("node {0} is not in the network")]
    UnknownNode(LocationId),
    #[error("order {0} is not known to routing")]
    UnknownOrder(OrderId),
    /// The order changed while it was being routed (cancelled, held, re-routed).
    #[error("order {0} changed while it was routed; the attempt is void")]
    AttemptVoid(OrderId),
}
