//! What happens to an order, as recorded in its stream, and how events written under
//! older schema versions are read.
//!
//! Version 2 of `Placed`, `ShippingAddressChanged` and `DeliveryChanged` speaks the
//! contract kernel: channels, delivery methods, tenders and priorities by their codes
//! (`click_and_collect`, was `ClickAndCollect`), an address's point as `location` (was
//! `latitude` and `longitude` beside the address lines).

use chrono::{DateTime, Utc};
use oms_eventsourcing::upcast::{point_of, rename_at};
use oms_eventsourcing::{DomainEvent, event_type_names};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Address, Channel, Delivery, DeliveryMethod, LineQuantity, OrderDraft, Priority, Tender};

/// Units of a line somewhere (a node, a job, a return).
pub type Units = Vec<LineQuantity>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OrderEvent {
    /// The order as placed, with its lines numbered.
    Placed {
        order_id: String,
        draft: Box<OrderDraft>,
        at: DateTime<Utc>,
    },
    Cancelled {
        lines: Units,
        reason: String,
        by: String,
        whole_order: bool,
        at: DateTime<Utc>,
    },
    Held {
        reason: String,
        by: String,
        at: DateTime<Utc>,
    },
    Released {
        by: String,
        at: DateTime<Utc>,
    },
    ShippingAddressChanged {
        address: Address,
        by: String,
        at: DateTime<Utc>,
    },
    DeliveryChanged {
        delivery: Delivery,
        by: String,
        at: DateTime<Utc>,
    },
    /// Routing gave units to a node, under a fulfilment request.
    Allocated {
        request_id: String,
        node_id: String,
        lines: Units,
        expected_at: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    },
    Backordered {
        lines: Units,
        reason: String,
        at: DateTime<Utc>,
    },
    RoutingFailed {
        lines: Units,
        reason: String,
        at: DateTime<Utc>,
    },
    /// The node took the job on.
    FulfilmentStarted {
        job_id: String,
        lines: Units,
        at: DateTime<Utc>,
    },
    /// The node will not fulfil these units: they wait for routing again.
    FulfilmentDropped {
        job_id: String,
        lines: Units,
        reason: String,
        at: DateTime<Utc>,
    },
    Shipped {
        job_id: String,
        lines: Units,
        carrier: String,
        tracking_number: String,
        at: DateTime<Utc>,
    },
    ReadyForPickup {
        job_id: String,
        lines: Units,
        location_id: String,
        pickup_code: String,
        at: DateTime<Utc>,
    },
    Collected {
        job_id: String,
        lines: Units,
        at: DateTime<Utc>,
    },
    /// Nobody collected the units in time: they went back to stock and are cancelled.
    PickupExpired {
        job_id: String,
        lines: Units,
        at: DateTime<Utc>,
    },
    Delivered {
        job_id: String,
        lines: Units,
        at: DateTime<Utc>,
    },
    ReturnRequested {
        return_id: String,
        lines: Units,
        at: DateTime<Utc>,
    },
    Returned {
        return_id: String,
        lines: Units,
        at: DateTime<Utc>,
    },
    Refunded {
        return_id: String,
        amount_minor: i64,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for OrderEvent {
    event_type_names!(OrderEvent {
        Placed,
        Cancelled,
        Held,
        Released,
        ShippingAddressChanged,
        DeliveryChanged,
        Allocated,
        Backordered,
        RoutingFailed,
        FulfilmentStarted,
        FulfilmentDropped,
        Shipped,
        ReadyForPickup,
        Collected,
        PickupExpired,
        Delivered,
        ReturnRequested,
        Returned,
        Refunded,
    });

    fn schema_version(event_type: &str) -> u16 {
        match event_type {
            "Placed" | "ShippingAddressChanged" | "DeliveryChanged" => 2,
            _ => 1,
        }
    }

    fn upcast(event_type: &str, from: u16, mut json: Value) -> Result<Value, String> {
        match (event_type, from) {
            ("Placed", 1) => {
                let draft = "/Placed/draft";
                rename_at(&mut json, &format!("{draft}/channel"), channel)?;
                rename_at(&mut json, &format!("{draft}/priority"), priority)?;
                v1_delivery(&mut json, &format!("{draft}/delivery"))?;
                let payments = json
                    .pointer_mut(&format!("{draft}/payments"))
                    .and_then(Value::as_array_mut)
                    .ok_or("Placed v1 has no payments")?;
                for payment in payments {
                    rename_at(payment, "/tender", tender)?;
                }
                Ok(json)
            }
            ("ShippingAddressChanged", 1) => {
                v1_address(&mut json, "/ShippingAddressChanged/address")?;
                Ok(json)
            }
            ("DeliveryChanged", 1) => {
                v1_delivery(&mut json, "/DeliveryChanged/delivery")?;
                Ok(json)
            }
            _ => Err(format!("no upcaster from version {from} of {event_type}")),
        }
    }
}

/// The codes of the kernel values version 1 stored by their Rust names (`ClickAndCollect`).
fn channel(name: &str) -> Option<String> {
    Some(Channel::from_variant_name(name)?.code().to_owned())
}

fn priority(name: &str) -> Option<String> {
    Some(Priority::from_variant_name(name)?.code().to_owned())
}

fn tender(name: &str) -> Option<String> {
    Some(Tender::from_variant_name(name)?.code().to_owned())
}

fn delivery_method(name: &str) -> Option<String> {
    Some(DeliveryMethod::from_variant_name(name)?.code().to_owned())
}

/// A v1 delivery at `pointer`: its method by code, its address's point as `location`.
fn v1_delivery(json: &mut Value, pointer: &str) -> Result<(), String> {
    rename_at(json, &format!("{pointer}/method"), delivery_method)?;
    let address = format!("{pointer}/address");
    if json.pointer(&address).is_some_and(|a| !a.is_null()) {
        v1_address(json, &address)?;
    }
    Ok(())
}

/// A v1 address at `pointer`: `latitude` and `longitude` become `location`.
fn v1_address(json: &mut Value, pointer: &str) -> Result<(), String> {
    let address = json
        .pointer_mut(pointer)
        .and_then(Value::as_object_mut)
        .ok_or_else(|| format!("no address at {pointer}"))?;
    let location = point_of(address);
    address.insert("location".to_owned(), location);
    Ok(())
}

impl OrderEvent {
    /// The units the event is about (none for events of the whole order).
    pub fn lines(&self) -> &Units {
        const NONE: &Units = &Vec::new();
        match self {
            OrderEvent::Cancelled { lines, .. }
            | OrderEvent::Allocated { lines, .. }
            | OrderEvent::Backordered { lines, .. }
            | OrderEvent::RoutingFailed { lines, .. }
            | OrderEvent::FulfilmentStarted { lines, .. }
            | OrderEvent::FulfilmentDropped { lines, .. }
            | OrderEvent::Shipped { lines, .. }
            | OrderEvent::ReadyForPickup { lines, .. }
            | OrderEvent::Collected { lines, .. }
            | OrderEvent::PickupExpired { lines, .. }
            | OrderEvent::Delivered { lines, .. }
            | OrderEvent::ReturnRequested { lines, .. }
            | OrderEvent::Returned { lines, .. } => lines,
            _ => NONE,
        }
    }

    /// Something another service reports about the order's units (routing, the nodes,
    /// returns), not an act of the channel or of customer service.
    pub fn is_report(&self) -> bool {
        !matches!(
            self,
            OrderEvent::Placed { .. }
                | OrderEvent::Cancelled { .. }
                | OrderEvent::Held { .. }
                | OrderEvent::Released { .. }
                | OrderEvent::ShippingAddressChanged { .. }
                | OrderEvent::DeliveryChanged { .. }
        )
    }

    /// What another service reported, as `kind:id`: the order records each report once.
    pub fn record_key(&self) -> Option<String> {
        Some(match self {
            OrderEvent::Allocated { request_id, .. } => format!("allocated:{request_id}"),
            OrderEvent::FulfilmentStarted { job_id, .. } => format!("started:{job_id}"),
            OrderEvent::FulfilmentDropped { job_id, .. } => format!("dropped:{job_id}"),
            OrderEvent::Shipped {
                job_id,
                tracking_number,
                ..
            } => format!("shipped:{job_id}:{tracking_number}"),
            OrderEvent::ReadyForPickup { job_id, .. } => format!("ready:{job_id}"),
            OrderEvent::Collected { job_id, .. } => format!("collected:{job_id}"),
            OrderEvent::PickupExpired { job_id, .. } => format!("expired:{job_id}"),
            OrderEvent::Delivered { job_id, .. } => format!("delivered:{job_id}"),
            OrderEvent::ReturnRequested { return_id, .. } => format!("return:{return_id}"),
            OrderEvent::Returned { return_id, .. } => format!("returned:{return_id}"),
            OrderEvent::Refunded { return_id, .. } => format!("refund:{return_id}"),
            _ => return None,
        })
    }

    pub fn at(&self) -> DateTime<Utc> {
        match self {
            OrderEvent::Placed { at, .. }
            | OrderEvent::Cancelled { at, .. }
            | OrderEvent::Held { at, .. }
            | OrderEvent::Released { at, .. }
            | OrderEvent::ShippingAddressChanged { at, .. }
            | OrderEvent::DeliveryChanged { at, .. }
            | OrderEvent::Allocated { at, .. }
            | OrderEvent::Backordered { at, .. }
            | OrderEvent::RoutingFailed { at, .. }
            | OrderEvent::FulfilmentStarted { at, .. }
            | OrderEvent::FulfilmentDropped { at, .. }
            | OrderEvent::Shipped { at, .. }
            | OrderEvent::ReadyForPickup { at, .. }
            | OrderEvent::Collected { at, .. }
            | OrderEvent::PickupExpired { at, .. }
            | OrderEvent::Delivered { at, .. }
            | OrderEvent::ReturnRequested { at, .. }
            | OrderEvent::Returned { at, .. }
            | OrderEvent::Refunded { at, .. } => *at,
        }
    }
}
