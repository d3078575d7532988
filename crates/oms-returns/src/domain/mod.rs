//! Returns as pure rules: what was sold and delivered (learnt from order capture and
//! fulfilment), what may be returned, and what is refunded to which tender.

mod returns;

use chrono::{DateTime, Utc};
use oms_eventsourcing::{DomainEvent, event_type_names};
use serde::{Deserialize, Serialize};

pub use returns::{Events, Policy, Returns, StartReturn, evolve_return};

/// A payment the customer made, in the order they are refunded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tender {
    /// The payment provider's reference.
    pub reference: String,
    /// `TENDER_TYPE_*` of oms.orders.v1.
    pub tender: String,
    pub authorised_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoldLine {
    pub line_id: String,
    pub sku: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
    /// Units shipped or collected.
    pub delivered: i64,
    /// When the last of them left.
    pub delivered_at: Option<DateTime<Utc>>,
    /// Units in returns so far.
    pub returned: i64,
}

/// An order as returns knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoldOrder {
    pub order_id: String,
    pub currency: String,
    pub lines: Vec<SoldLine>,
    pub tenders: Vec<Tender>,
    /// The order as placed (`oms.orders.v1.OrderDraft`, encoded): the template of a
    /// replacement order.
    pub draft: Vec<u8>,
    /// Jobs whose deliveries were counted.
    pub jobs: Vec<String>,
}

impl SoldOrder {
    pub fn line(&self, line_id: &str) -> Option<&SoldLine> {
        self.lines.iter().find(|l| l.line_id == line_id)
    }

    pub fn paid_minor(&self) -> i64 {
        self.tenders.iter().map(|t| t.authorised_minor).sum()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    InStore,
    Mail,
    Locker,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReturnStatus {
    Authorised,
    Received,
    Inspected,
    RefundPending,
    RefundFailed,
    Completed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnLine {
    pub line_id: String,
    pub sku: String,
    pub quantity: i64,
    pub reason_code: String,
    pub unit_price_minor: i64,
    pub received: i64,
    pub resellable: i64,
    pub damaged: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RefundStatus {
    Requested,
    Confirmed,
    Failed,
    /// Failed, and requested again under another id.
    Retried,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    pub refund_id: String,
    pub amount_minor: i64,
    pub tender: String,
    pub reference: String,
    pub status: RefundStatus,
    pub reason: String,
}

impl Refund {
    /// Counts against what may still be refunded.
    pub fn holds_money(&self) -> bool {
        matches!(self.status, RefundStatus::Requested | RefundStatus::Confirmed)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeLine {
    pub line_id: String,
    pub sku: String,
    pub quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Return {
    pub return_id: String,
    pub order_id: String,
    pub status: ReturnStatus,
    pub method: Method,
    pub store_id: String,
    pub location_id: String,
    pub lines: Vec<ReturnLine>,
    pub refunds: Vec<Refund>,
    pub store_credit: bool,
    pub exchange: Vec<ExchangeLine>,
    pub replacement_order_id: String,
    pub requested_by: String,
    pub currency: String,
    pub created_at: DateTime<Utc>,
}

impl Return {
    pub fn refunded_minor(&self) -> i64 {
        self.refunds
            .iter()
            .filter(|r| r.status == RefundStatus::Confirmed)
            .map(|r| r.amount_minor)
            .sum()
    }

    /// The value of the replacement units, priced as the returned ones.
    pub fn exchange_minor(&self) -> i64 {
        self.exchange
            .iter()
            .map(|x| {
                let price = self
                    .lines
                    .iter()
                    .find(|l| l.line_id == x.line_id)
                    .map_or(0, |l| l.unit_price_minor);
                price.saturating_mul(x.quantity)
            })
            .sum()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ReturnsEvent {
    OrderSold {
        order: Box<SoldOrder>,
    },
    Delivered {
        job_id: String,
        lines: Vec<(String, i64)>,
        at: DateTime<Utc>,
    },
    Authorised {
        ret: Box<Return>,
    },
    Received {
        location_id: String,
        lines: Vec<(String, i64)>,
        at: DateTime<Utc>,
    },
    /// (line, resellable, damaged).
    Inspected {
        lines: Vec<(String, i64, i64)>,
        at: DateTime<Utc>,
    },
    RefundRequested {
        refund_id: String,
        amount_minor: i64,
        tender: String,
        reference: String,
        /// A failed refund this one retries.
        retries: String,
        at: DateTime<Utc>,
    },
    RefundConfirmed {
        refund_id: String,
        at: DateTime<Utc>,
    },
    RefundFailed {
        refund_id: String,
        reason: String,
        at: DateTime<Utc>,
    },
    ExchangeCreated {
        replacement_order_id: String,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for ReturnsEvent {
    event_type_names!(ReturnsEvent {
        OrderSold,
        Delivered,
        Authorised,
        Received,
        Inspected,
        RefundRequested,
        RefundConfirmed,
        RefundFailed,
        ExchangeCreated,
    });
}

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

pub fn order_stream(order_id: &str) -> String {
    format!("order:{order_id}")
}

pub fn return_stream(return_id: &str) -> String {
    format!("return:{return_id}")
}
