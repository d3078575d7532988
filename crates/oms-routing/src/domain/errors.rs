//! Why routing refuses a command.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    /// The request itself is malformed; every bad field is named.
    #[error("{}", .0.iter().map(|(f, d)| format!("{f}: {d}")).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<(String, String)>),
    #[error("node {0} is not in the network")]
    UnknownNode(String),
    #[error("order {0} is not known to routing")]
    UnknownOrder(String),
    /// The order changed while it was being routed (cancelled, held, re-routed).
    #[error("order {0} changed while it was routed; the attempt is void")]
    AttemptVoid(String),
}
