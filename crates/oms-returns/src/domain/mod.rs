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

pub use oms_proto::kernel::{JobId, LineId, LocationId, Money, OrderId, RefundId, ReturnId, Sku, Tender, Violations};

pub use authorisation::{Refund, RefundStatus, Return, ReturnLine, ReturnStatus};
pub use events::{
    AuthorisedLine, ExchangeLine, InspectedLine, LineSold, LineUnits, Method, OrderSold, Payment, ReturnAuthorised,
    ReturnsEvent, order_stream, return_stream,
};
pub use orders::{DeliveredLine, LearnOrder, RecordDelivery, SoldLine, SoldOrder};
pub use returns::Returns;
pub use rules::{
    InspectReturn, PaymentOutcome, Policy, ReceiveReturn, RecordExchange, RecordPaymentResult, RetryRefunds,
    ReturnRequestLine, StartReturn,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReturnsError {
    /// The command is malformed; every bad field is named.
    #[error("{0}")]
    Invalid(Violations),
    #[error("order {0} is not known to returns")]
    UnknownOrder(OrderId),
    #[error("return {0} does not exist")]
    UnknownReturn(ReturnId),
    #[error("refund {0} does not exist")]
    UnknownRefund(RefundId),
    #[error("return {return_id} is {status:?}: cannot {step} now")]
    NotNow {
        return_id: ReturnId,
        status: ReturnStatus,
        step: &'static str,
    },
}
