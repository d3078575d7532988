//! What returns records: the orders it learns of (on the order's stream) and what happens
//! to each return (on the return's stream). Each event is a payload of its own (never a
//! state struct), versioned, with the upcasters that read older versions.
//!
//! Tenders are stored by the contract kernel's code (`gift_card`; v1 held the name of the
//! contract's protobuf enum value). Every amount is in the minor unit of its order's
//! currency, stated once on the order and on the return: order capture takes no line or
//! payment in another currency.

use chrono::{DateTime, Utc};
use oms_eventsourcing::{DomainEvent, event_type_names, upcast};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{JobId, LineId, LocationId, OrderId, RefundId, ReturnId, Sku, Tender};

pub fn order_stream(order_id: &str) -> String {
    format!("order:{order_id}")
}

pub fn return_stream(return_id: &str) -> String {
    format!("return:{return_id}")
}

/// A payment the customer made, in the order they are refunded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// The payment provider's reference.
    pub reference: String,
    pub tender: Tender,
    pub authorised_minor: i64,
}

/// How the customer brings the units back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    InStore,
    Mail,
    Locker,
}

/// Units of another SKU the customer takes instead of those of a returned line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeLine {
    pub line_id: LineId,
    pub sku: Sku,
    pub quantity: i64,
}

/// A line of an order as sold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineSold {
    pub line_id: LineId,
    pub sku: Sku,
    pub quantity: i64,
    pub unit_price_minor: i64,
}

/// An order as order capture announced it: what was bought and paid with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderSold {
    pub order_id: OrderId,
    pub currency: String,
    pub lines: Vec<LineSold>,
    /// In the order they are refunded.
    pub payments: Vec<Payment>,
    /// The order as placed (`oms.orders.v1.OrderDraft`, encoded): the template of a
    /// replacement order.
    pub draft: Vec<u8>,
}

/// Units of one order line, as the contract kernel says them.
pub use oms_proto::kernel::LineUnits;

/// A line of a return as authorised: the units, why, and the price they were sold at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorisedLine {
    pub line_id: LineId,
    pub sku: Sku,
    pub quantity: i64,
    pub reason_code: String,
    pub unit_price_minor: i64,
}

/// A return as authorised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnAuthorised {
    pub return_id: ReturnId,
    pub order_id: OrderId,
    pub method: Method,
    /// The store it is brought to, for an in-store return.
    pub store_id: LocationId,
    pub lines: Vec<AuthorisedLine>,
    /// Refunded as store credit rather than to the original tenders.
    pub store_credit: bool,
    pub exchange: Vec<ExchangeLine>,
    pub requested_by: String,
    pub currency: String,
    pub at: DateTime<Utc>,
}

/// What the inspection found of a line's received units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InspectedLine {
    pub line_id: LineId,
    pub resellable: i64,
    pub damaged: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ReturnsEvent {
    OrderSold(Box<OrderSold>),
    /// Units of a job reached the customer.
    Delivered {
        job_id: JobId,
        lines: Vec<LineUnits>,
        at: DateTime<Utc>,
    },
    Authorised(Box<ReturnAuthorised>),
    Received {
        location_id: LocationId,
        lines: Vec<LineUnits>,
        at: DateTime<Utc>,
    },
    Inspected {
        lines: Vec<InspectedLine>,
        at: DateTime<Utc>,
    },
    RefundRequested {
        refund_id: RefundId,
        amount_minor: i64,
        tender: Tender,
        reference: String,
        /// A failed refund this one retries (empty for none).
        retries: RefundId,
        at: DateTime<Utc>,
    },
    RefundConfirmed {
        refund_id: RefundId,
        at: DateTime<Utc>,
    },
    RefundFailed {
        refund_id: RefundId,
        reason: String,
        at: DateTime<Utc>,
    },
    ExchangeCreated {
        replacement_order_id: OrderId,
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

    /// v2 of `OrderSold` and `Authorised` carry what was sold and authorised, not the state
    /// returns kept of them (an order's payments by their tender's code); v2 of
    /// `Delivered`, `Received` and `Inspected` name each line's units instead of listing
    /// them in tuples; v2 of `RefundRequested` names its tender by code.
    fn schema_version(event_type: &str) -> u16 {
        match event_type {
            "OrderSold" | "Delivered" | "Authorised" | "Received" | "Inspected" | "RefundRequested" => 2,
            _ => 1,
        }
    }

    fn upcast(event_type: &str, from: u16, json: Value) -> Result<Value, String> {
        match (event_type, from) {
            ("OrderSold", 1) => order_sold_from_v1(json),
            ("Authorised", 1) => authorised_from_v1(json),
            ("Delivered" | "Received", 1) => lines_named_from_v1(json, event_type, &["line_id", "units"]),
            ("Inspected", 1) => lines_named_from_v1(json, event_type, &["line_id", "resellable", "damaged"]),
            ("RefundRequested", 1) => refund_requested_from_v1(json),
            _ => Err(format!(
                "no upcaster from schema version {from} of event type {event_type}"
            )),
        }
        .map_err(|e| format!("{event_type} v{from}: {e}"))
    }
}

/// `OrderSold` v1 held the order as returns kept it (`{"order": {...}}`, with nothing
/// delivered or returned yet): v2 keeps what was sold, its payments' tenders by code.
fn order_sold_from_v1(json: Value) -> Result<Value, String> {
    let mut order = upcast::object(upcast::take(&mut upcast::fields_of(json, "OrderSold")?, "order")?)?;
    let mut sold = upcast::keep(
        &mut order,
        &[
            ("order_id", "order_id"),
            ("currency", "currency"),
            ("tenders", "payments"),
            ("draft", "draft"),
        ],
    )?;
    let payments = upcast::take(&mut sold, "payments")?;
    let payments = upcast::each_of(payments, |payment| {
        let mut payment = upcast::object(payment)?;
        v1_tender(&mut payment)?;
        Ok(Value::Object(payment))
    })?;
    sold.insert("payments".to_owned(), payments);
    let lines = upcast::each_of(upcast::take(&mut order, "lines")?, |line| {
        let mut line = upcast::object(line)?;
        let kept = upcast::keep(
            &mut line,
            &[
                ("line_id", "line_id"),
                ("sku", "sku"),
                ("quantity", "quantity"),
                ("unit_price_minor", "unit_price_minor"),
            ],
        )?;
        Ok(Value::Object(kept))
    })?;
    sold.insert("lines".to_owned(), lines);
    Ok(upcast::event("OrderSold", sold))
}

/// `Authorised` v1 held the return as returns kept it (`{"ret": {...}}`, nothing received
/// or refunded yet): v2 keeps what was authorised.
fn authorised_from_v1(json: Value) -> Result<Value, String> {
    let mut ret = upcast::object(upcast::take(&mut upcast::fields_of(json, "Authorised")?, "ret")?)?;
    let mut authorised = upcast::keep(
        &mut ret,
        &[
            ("return_id", "return_id"),
            ("order_id", "order_id"),
            ("method", "method"),
            ("store_id", "store_id"),
            ("store_credit", "store_credit"),
            ("exchange", "exchange"),
            ("requested_by", "requested_by"),
            ("currency", "currency"),
            ("created_at", "at"),
        ],
    )?;
    let lines = upcast::each_of(upcast::take(&mut ret, "lines")?, |line| {
        let mut line = upcast::object(line)?;
        let kept = upcast::keep(
            &mut line,
            &[
                ("line_id", "line_id"),
                ("sku", "sku"),
                ("quantity", "quantity"),
                ("reason_code", "reason_code"),
                ("unit_price_minor", "unit_price_minor"),
            ],
        )?;
        Ok(Value::Object(kept))
    })?;
    authorised.insert("lines".to_owned(), lines);
    Ok(upcast::event("Authorised", authorised))
}

/// `RefundRequested` v1 named its tender as the contract does; v2 by its code.
fn refund_requested_from_v1(json: Value) -> Result<Value, String> {
    let mut fields = upcast::fields_of(json, "RefundRequested")?;
    v1_tender(&mut fields)?;
    Ok(upcast::event("RefundRequested", fields))
}

/// The `tender` of `fields`, stored in v1 by the name of the contract's protobuf enum value,
/// as its code (`card`).
fn v1_tender(fields: &mut Map<String, Value>) -> Result<(), String> {
    let value = fields.get_mut("tender").ok_or("no field tender")?;
    let tender = value
        .as_str()
        .and_then(Tender::from_name)
        .ok_or_else(|| format!("tender: {value} is not a tender of version 1"))?;
    *value = Value::String(tender.code().to_owned());
    Ok(())
}

/// v1 listed `lines` as tuples (`[["1", 2], ...]`); v2 names their elements.
fn lines_named_from_v1(json: Value, event_type: &str, names: &[&str]) -> Result<Value, String> {
    let mut fields = upcast::fields_of(json, event_type)?;
    let tuples = upcast::take(&mut fields, "lines")?;
    let lines = upcast::each_of(tuples, |tuple| upcast::named(tuple, names))?;
    fields.insert("lines".to_owned(), lines);
    Ok(upcast::event(event_type, fields))
}
