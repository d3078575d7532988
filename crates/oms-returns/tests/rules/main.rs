//! Returns, given/when/then: given what returns learnt of an order and what happened to its
//! returns, when a customer, an agent, a store, fulfilment or the payment gateway acts,
//! then these events (or this refusal).

mod learning;
mod payments;
mod receiving;
mod refunds;
mod starting;
mod story;
