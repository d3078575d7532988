//! Why order capture refuses a command.

use super::{OrderStatus, Violations};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    /// The request is malformed; every bad field is named.
    #[error("{0}")]
    Invalid(Violations),
    #[error("order {0} does not exist")]
    UnknownOrder(String),
    #[error("order {order_id} has no line {line_id}")]
    UnknownLine { order_id: String, line_id: String },
    /// The order (or line) is past the point where this can happen.
    #[error("{what} is not possible: {why}")]
    NotNow { what: &'static str, why: String },
}

impl OrderError {
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        let mut bad = Violations::new();
        bad.add(field, description);
        OrderError::Invalid(bad)
    }

    pub(crate) fn not_now(what: &'static str, why: impl Into<String>) -> Self {
        OrderError::NotNow { what, why: why.into() }
    }

    pub(crate) fn status(what: &'static str, status: OrderStatus) -> Self {
        OrderError::NotNow {
            what,
            why: format!("the order is {status}"),
        }
    }
}
