//! What happens to a job, as recorded in its stream: each event a payload of its own (never
//! the job's state), versioned, and the upcasters that read older versions.
//!
//! Version 2 of `Created` speaks the contract kernel: the node type, delivery method and
//! priority by their codes (`store`, `click_and_collect`, `high`; v1 held the contract's
//! names and routing's rank), the address a parcel goes to as an [`Address`].

use chrono::{DateTime, Utc};
use oms_eventsourcing::upcast;
use oms_eventsourcing::{DomainEvent, event_type_names};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{
    Address, DeliveryMethod, JobId, JobKind, LineId, LocationId, NodeType, OrderId, Priority, ReservationId, Sku,
};

/// The stream of a job.
pub fn job_stream(job_id: &str) -> String {
    format!("job:{job_id}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RejectReason {
    OutOfStock,
    Damaged,
    Capacity,
    AcceptanceTimeout,
}

/// Units of an order line routing asks the node to fulfil.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestedLine {
    pub line_id: LineId,
    pub sku: Sku,
    pub units: i64,
}

/// Units of one order line, as the contract kernel says them.
pub use oms_proto::kernel::LineUnits;

/// A job as routing asked for it, and by when its node must accept it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobCreated {
    pub job_id: JobId,
    pub order_id: OrderId,
    pub node_id: LocationId,
    pub node_type: NodeType,
    pub kind: JobKind,
    pub lines: Vec<RequestedLine>,
    pub delivery_method: DeliveryMethod,
    /// Where a parcel goes, for a shipped method.
    pub ship_to: Option<Address>,
    /// Where the customer collects, when not at the node (empty otherwise).
    pub pickup_store_id: LocationId,
    pub customer_name: String,
    pub priority: Priority,
    pub promised_at: Option<DateTime<Utc>>,
    /// Staff must accept it by then; none when a node's own system works it.
    pub accept_by: Option<DateTime<Utc>>,
    pub reservation_id: ReservationId,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum JobEvent {
    Created(Box<JobCreated>),
    Accepted {
        at: DateTime<Utc>,
    },
    Rejected {
        reason: RejectReason,
        at: DateTime<Utc>,
    },
    /// Units found per line; fewer than ordered is a short pick.
    Picked {
        lines: Vec<LineUnits>,
        at: DateTime<Utc>,
    },
    Packed {
        packages: u32,
        weight_grams: u32,
        at: DateTime<Utc>,
    },
    Labelled {
        carrier: String,
        service: String,
        tracking_number: String,
        label: String,
        at: DateTime<Utc>,
    },
    Shipped {
        at: DateTime<Utc>,
    },
    /// A node's own system shipped these units.
    NodeShipped {
        carrier: String,
        tracking_number: String,
        lines: Vec<LineUnits>,
        at: DateTime<Utc>,
    },
    ReadyForPickup {
        pickup_code: String,
        locker_id: String,
        collect_by: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    CustomerArrived {
        bay: String,
        at: DateTime<Utc>,
    },
    Collected {
        at: DateTime<Utc>,
    },
    /// Taken back: by routing (`by_routing`), by the node, or never collected.
    Cancelled {
        reason: String,
        by_routing: bool,
        uncollected: bool,
        at: DateTime<Utc>,
    },
    SlaBreached {
        deadline: String,
        due_at: DateTime<Utc>,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for JobEvent {
    event_type_names!(JobEvent {
        Created,
        Accepted,
        Rejected,
        Picked,
        Packed,
        Labelled,
        Shipped,
        NodeShipped,
        ReadyForPickup,
        CustomerArrived,
        Collected,
        Cancelled,
        SlaBreached,
    });

    /// v2 of `Created` carries the request, not the job's whole state, in the kernel's
    /// codes; v2 of `Picked` and `NodeShipped` name each line's units instead of pairing
    /// them.
    fn schema_version(event_type: &str) -> u16 {
        match event_type {
            "Created" | "Picked" | "NodeShipped" => 2,
            _ => 1,
        }
    }

    fn upcast(event_type: &str, from: u16, json: Value) -> Result<Value, String> {
        match (event_type, from) {
            ("Created", 1) => created_from_v1(json).map_err(|e| format!("Created v1: {e}")),
            ("Picked", 1) => units_from_v1(json, "Picked", "picked").map_err(|e| format!("Picked v1: {e}")),
            ("NodeShipped", 1) => {
                units_from_v1(json, "NodeShipped", "shipped").map_err(|e| format!("NodeShipped v1: {e}"))
            }
            _ => Err(format!(
                "no upcaster from schema version {from} of event type {event_type}"
            )),
        }
    }
}

/// `Created` v1 held the whole job as it was created (`{"job": {...}}`, the fields of its
/// later steps empty): v2 keeps what routing asked for, in the kernel's codes.
fn created_from_v1(json: Value) -> Result<Value, String> {
    let mut job = upcast::object(upcast::take(&mut upcast::fields_of(json, "Created")?, "job")?)?;
    let mut created = upcast::keep(
        &mut job,
        &[
            ("job_id", "job_id"),
            ("order_id", "order_id"),
            ("node_id", "node_id"),
            ("node_type", "node_type"),
            ("kind", "kind"),
            ("delivery_method", "delivery_method"),
            ("ship_to", "ship_to"),
            ("pickup_store_id", "pickup_store_id"),
            ("customer_name", "customer_name"),
            ("priority", "priority"),
            ("promised_at", "promised_at"),
            ("accept_by", "accept_by"),
            ("reservation_id", "reservation_id"),
            ("created_at", "at"),
        ],
    )?;
    let lines = upcast::each_of(upcast::take(&mut job, "lines")?, |line| {
        let mut line = upcast::object(line)?;
        upcast::keep(
            &mut line,
            &[("line_id", "line_id"), ("sku", "sku"), ("ordered", "units")],
        )
        .map(Value::Object)
    })?;
    created.insert("lines".to_owned(), lines);
    v1_kind(&mut created, "node_type", NodeType::from_name, NodeType::code)?;
    v1_kind(
        &mut created,
        "delivery_method",
        DeliveryMethod::from_name,
        DeliveryMethod::code,
    )?;
    v1_priority(&mut created)?;
    v1_ship_to(&mut created)?;
    Ok(upcast::event("Created", created))
}

/// A kind v1 stored by its contract name (the protobuf enum's, as `proto_name` gives it; a
/// node type also by its code, as routing sometimes named it), as its code (`store`).
fn v1_kind<K>(
    fields: &mut Map<String, Value>,
    field: &str,
    from_name: fn(&str) -> Option<K>,
    code: fn(K) -> &'static str,
) -> Result<(), String> {
    let value = fields.get_mut(field).ok_or_else(|| format!("no field {field}"))?;
    let kind = value
        .as_str()
        .and_then(from_name)
        .ok_or_else(|| format!("{field}: {value} is not a value of version 1"))?;
    *value = Value::String(code(kind).to_owned());
    Ok(())
}

/// v1 stored the priority as routing ranked it when the event was written (0 normal, 1
/// high, 2 urgent); v2 its code. Pinned here, not shared with the messages, because the
/// stored form must not follow a later change of the contract.
fn v1_priority(fields: &mut Map<String, Value>) -> Result<(), String> {
    let value = fields.get_mut("priority").ok_or("no field priority")?;
    let priority = match value.as_i64() {
        Some(0) => Priority::Normal,
        Some(1) => Priority::High,
        Some(2) => Priority::Urgent,
        _ => return Err(format!("priority: {value} is not a rank of version 1")),
    };
    *value = Value::String(priority.code().to_owned());
    Ok(())
}

/// v1's address had no email and no point: v2's has both, empty.
fn v1_ship_to(fields: &mut Map<String, Value>) -> Result<(), String> {
    match fields.get_mut("ship_to").ok_or("no field ship_to")? {
        Value::Null => Ok(()),
        Value::Object(address) => {
            address.insert("email".to_owned(), Value::String(String::new()));
            address.insert("location".to_owned(), Value::Null);
            Ok(())
        }
        other => Err(format!("ship_to: {other} is not an address")),
    }
}

/// v1 paired each line with its units (`"<field>": [["1", 2], ...]`); v2 names them
/// (`"lines": [{"line_id": "1", "units": 2}, ...]`).
fn units_from_v1(json: Value, event_type: &str, field: &str) -> Result<Value, String> {
    let mut fields = upcast::fields_of(json, event_type)?;
    let pairs = upcast::take(&mut fields, field)?;
    let lines = upcast::each_of(pairs, |pair| upcast::named(pair, &["line_id", "units"]))?;
    fields.insert("lines".to_owned(), lines);
    Ok(upcast::event(event_type, fields))
}
