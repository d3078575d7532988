//! Returns as pure rules: what returns records ([`events`]), what it knows of orders, learnt
//! from order capture and fulfilment ([`orders`]), a return as its events build it
//! ([`authorisation`]), the state of every order and return ([`returns`]), and the commands
//! decided against it ([`rules`]) with the money they refund ([`refunds`]).

mod authorisation;
mod events;
mod orders;
mod refunds;
mod returns;
mod rules;

pub use authorisation::{Refund, RefundStatus, Return, ReturnLine, ReturnStatus};
pub use events::{
    AuthorisedLine, ExchangeLine, InspectedLine, LineSold, LineUnits, Method, OrderSold, ReturnAuthorised,
    ReturnsEvent, Tender, order_stream, return_stream,
};
pub use orders::{DeliveredLine, LearnOrder, RecordDelivery, SoldLine, SoldOrder};
pub use returns::Returns;
pub use rules::{
    InspectReturn, PaymentOutcome, Policy, ReceiveReturn, RecordExchange, RecordPaymentResult, RetryRefunds,
    ReturnRequestLine, StartReturn,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReturnsError {
    #[error("{}", .0.iter().map(|(f, d)| format!("{f}: {d}")).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<(String, String)>),
    #[error("order {0} is not known to returns")]
    UnknownOrder(String),
    #[error("return {0} does not exist")]
    UnknownReturn(String),
    #[error("refund {0} does not exist")]
    UnknownRefund(String),
    #[error("return {return_id} is {status:?}: cannot {step} now")]
    NotNow {
        return_id: String,
        status: ReturnStatus,
        step: &'static str,
    },
}
