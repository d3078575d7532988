//! Who may call what: one row per gRPC method of the OMS, naming the roles that may call
//! it and what limits each one. The gate applies it to every call; a method without a row
//! is refused to everyone (and fails the test that walks every method of the contracts).
//!
//! A scope names where the call says what it acts on:
//! - [`Scope::Any`]: no limit (within the role);
//! - [`Scope::Field`]: every value at a path of the request (`store_id`,
//!   `movements.location_id`, `order.channel`) must be one the caller acts for, and there
//!   must be one: a store's staff name their store;
//! - [`Scope::Held`]: the request names something only the service can place (an order by
//!   its id): the service checks it with [`super::to_check_held`] before it acts.

use prost_reflect::{DynamicMessage, Kind, ReflectMessage as _, Value};

use super::{Caller, Realm, Role};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Any,
    Field(Realm, &'static str),
    Held(Realm),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// Callers of this role, within this scope.
    Role(Role, Scope),
    /// The OMS service of this name (a token of role `service` whose subject it is).
    Service(&'static str),
}

use Grant::{Role as R, Service};
use Realm::{Channels, Locations, Nodes, Stores};
use Role::{CustomerService, Operator, Pos, SalesChannel, StoreStaff, Wms};
use Scope::{Any, Field, Held};

const OPS: Grant = R(Operator, Any);
const CS: Grant = R(CustomerService, Any);
const STAFF_AT: Grant = R(StoreStaff, Field(Stores, "store_id"));
const WMS_AT: Grant = R(Wms, Field(Nodes, "store_id"));

const ORDERS: &str = "/oms.orders.v1.OrderCapture/";
const LEDGER: &str = "/oms.inventory.v1.InventoryLedger/";
const ROUTING: &str = "/oms.routing.v1.Routing/";
const FULFILMENT: &str = "/oms.fulfilment.v1.StoreFulfilment/";
const RETURNS: &str = "/oms.returns.v1.Returns/";

/// The policy of every method: its service, its name, who may call it.
pub static POLICY: &[(&str, &str, &[Grant])] = &[
    // Order capture.
    (
        ORDERS,
        "PlaceOrder",
        &[
            R(SalesChannel, Field(Channels, "order.channel")),
            CS,
            Service("returns"),
            OPS,
        ],
    ),
    (
        ORDERS,
        "GetOrder",
        &[R(SalesChannel, Held(Channels)), CS, R(StoreStaff, Any), OPS],
    ),
    (
        ORDERS,
        "ListOrders",
        &[R(SalesChannel, Field(Channels, "channel")), CS, OPS],
    ),
    (
        ORDERS,
        "Track",
        &[R(SalesChannel, Held(Channels)), CS, R(StoreStaff, Any), OPS],
    ),
    (ORDERS, "GetOrderHistory", &[R(SalesChannel, Held(Channels)), CS, OPS]),
    (ORDERS, "CancelOrder", &[R(SalesChannel, Held(Channels)), CS, OPS]),
    (ORDERS, "ChangeShippingAddress", &[CS, OPS]),
    (ORDERS, "ChangeDeliveryMethod", &[CS, OPS]),
    (ORDERS, "HoldOrder", &[CS, OPS]),
    (ORDERS, "ReleaseOrder", &[CS, OPS]),
    // The inventory ledger.
    (
        LEDGER,
        "GetAvailability",
        &[
            R(SalesChannel, Any),
            R(Pos, Field(Stores, "location_ids")),
            R(StoreStaff, Any),
            CS,
            R(Wms, Field(Nodes, "location_ids")),
            Service("routing"),
            OPS,
        ],
    ),
    (
        LEDGER,
        "ListPositions",
        &[
            R(Pos, Field(Stores, "location_id")),
            R(StoreStaff, Field(Stores, "location_id")),
            R(Wms, Field(Nodes, "location_id")),
            CS,
            OPS,
        ],
    ),
    (
        LEDGER,
        "GetPositionAsOf",
        &[
            R(Pos, Field(Stores, "location_id")),
            R(StoreStaff, Field(Stores, "location_id")),
            R(Wms, Field(Nodes, "location_id")),
            CS,
            OPS,
        ],
    ),
    (LEDGER, "Reserve", &[Service("routing"), OPS]),
    (LEDGER, "Release", &[Service("routing"), OPS]),
    (LEDGER, "Consume", &[Service("routing"), OPS]),
    (LEDGER, "GetReservation", &[Service("routing"), CS, OPS]),
    (
        LEDGER,
        "RecordMovements",
        &[
            R(Pos, Field(Stores, "movements.location_id")),
            R(Wms, Field(Nodes, "movements.location_id")),
            OPS,
        ],
    ),
    (
        LEDGER,
        "WatchAvailability",
        &[R(SalesChannel, Any), R(Pos, Field(Stores, "location_ids")), CS, OPS],
    ),
    (LEDGER, "UpsertLocation", &[OPS]),
    (LEDGER, "ListLocations", &[CS, OPS]),
    (LEDGER, "SetSafetyStock", &[OPS]),
    (LEDGER, "SetChannelRule", &[OPS]),
    (LEDGER, "ListChannelRules", &[CS, OPS]),
    (LEDGER, "RegisterSkus", &[OPS]),
    // Routing.
    (
        ROUTING,
        "QuoteDeliveryOptions",
        &[R(SalesChannel, Field(Channels, "channel")), CS, OPS],
    ),
    (ROUTING, "GetDecision", &[CS, OPS]),
    (ROUTING, "UpsertNode", &[OPS]),
    (ROUTING, "RemoveNode", &[OPS]),
    (ROUTING, "ListNodes", &[CS, OPS]),
    (ROUTING, "SetRuleSets", &[OPS]),
    (ROUTING, "GetRuleSets", &[CS, OPS]),
    (ROUTING, "ImportNetwork", &[OPS]),
    // Store fulfilment: a store's staff work its own jobs; a warehouse its node's.
    (FULFILMENT, "ListQueue", &[STAFF_AT, WMS_AT, CS, OPS]),
    (FULFILMENT, "GetJob", &[STAFF_AT, WMS_AT, CS, OPS]),
    (FULFILMENT, "AcceptJob", &[STAFF_AT, WMS_AT, OPS]),
    (FULFILMENT, "RejectJob", &[STAFF_AT, WMS_AT, OPS]),
    (FULFILMENT, "PickJob", &[STAFF_AT, WMS_AT, OPS]),
    (FULFILMENT, "PackJob", &[STAFF_AT, WMS_AT, OPS]),
    (FULFILMENT, "LabelJob", &[STAFF_AT, WMS_AT, OPS]),
    (FULFILMENT, "GetLabel", &[STAFF_AT, WMS_AT, OPS]),
    (FULFILMENT, "ShipJob", &[STAFF_AT, WMS_AT, OPS]),
    (FULFILMENT, "MarkReadyForPickup", &[STAFF_AT, OPS]),
    (FULFILMENT, "DepositInLocker", &[STAFF_AT, WMS_AT, OPS]),
    (FULFILMENT, "CustomerArrived", &[STAFF_AT, CS, OPS]),
    (FULFILMENT, "HandOver", &[STAFF_AT, OPS]),
    (FULFILMENT, "ReceiveParcel", &[STAFF_AT, OPS]),
    // Returns: customer service starts them; a store takes them back in store.
    (
        RETURNS,
        "StartReturn",
        &[R(StoreStaff, Field(Stores, "store_id")), CS, OPS],
    ),
    (
        RETURNS,
        "ReceiveReturn",
        &[
            R(StoreStaff, Field(Locations, "location_id")),
            R(Wms, Field(Nodes, "location_id")),
            OPS,
        ],
    ),
    (
        RETURNS,
        "InspectReturn",
        &[R(StoreStaff, Held(Locations)), R(Wms, Held(Nodes)), OPS],
    ),
    (RETURNS, "RetryRefund", &[CS, OPS]),
    (RETURNS, "GetReturn", &[R(StoreStaff, Held(Locations)), CS, OPS]),
    (RETURNS, "ListReturns", &[CS, OPS]),
    // Every port's admin API.
    ("/oms.admin.v1.Admin/", "GetStateDigest", &[OPS]),
];

/// What every port answers to anyone: health for probes, reflection for tools.
pub const OPEN_SERVICES: [&str; 3] = [
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// What the policy says of one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Let it through.
    Allow,
    /// Let it through if every value at this path of the request is the caller's.
    Field(Realm, &'static str),
    /// Refused, saying why.
    Deny(String),
}

/// The grants of `path`, if the policy has a row for it.
pub fn grants_of(path: &str) -> Option<&'static [Grant]> {
    POLICY
        .iter()
        .find(|(service, method, _)| path.strip_prefix(service) == Some(method))
        .map(|(_, _, grants)| *grants)
}

/// Whether `path` is open to anyone.
pub fn is_open(path: &str) -> bool {
    OPEN_SERVICES.iter().any(|s| path.starts_with(s))
}

/// The policy's answer for `caller` calling `path`.
pub fn decide(path: &str, caller: &Caller) -> Verdict {
    let Some(grants) = grants_of(path) else {
        return Verdict::Deny(format!("{path} has no access policy: nobody may call it"));
    };
    let grant = grants.iter().find(|grant| match grant {
        Grant::Role(role, _) => *role == caller.role,
        Grant::Service(name) => caller.role == Role::Service && caller.subject == *name,
    });
    match grant {
        Some(Grant::Role(_, Scope::Field(realm, field))) => Verdict::Field(*realm, field),
        Some(_) => Verdict::Allow,
        None => Verdict::Deny(format!(
            "a {} token may not call {path} (it is for {})",
            describe(caller),
            grants.iter().map(grant_name).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// The realm in which the service must check what `role` acts on for `path`
/// ([`Scope::Held`]), if it must.
pub fn held_realm(path: &str, role: Role) -> Option<Realm> {
    grants_of(path)?.iter().find_map(|g| match g {
        Grant::Role(r, Scope::Held(realm)) if *r == role => Some(*realm),
        _ => None,
    })
}

fn describe(caller: &Caller) -> String {
    if caller.role == Role::Service {
        format!("service {:?}", caller.subject)
    } else {
        caller.role.name().to_owned()
    }
}

fn grant_name(grant: &Grant) -> String {
    match grant {
        Grant::Role(role, _) => role.name().to_owned(),
        Grant::Service(name) => format!("service {name}"),
    }
}

/// Checks the values at `path` of `request` against what `caller` acts for.
pub fn check_field(request: &DynamicMessage, realm: Realm, path: &str, caller: &Caller) -> Result<(), String> {
    let mut values = Vec::new();
    collect(request, &path.split('.').collect::<Vec<_>>(), &mut values);
    values.retain(|v| !v.is_empty());
    if values.is_empty() {
        return Err(format!(
            "a {} token must name one of its {} in {path}",
            caller.role.name(),
            realm.name()
        ));
    }
    match values.iter().find(|v| !caller.acts_for(realm, v)) {
        Some(other) => Err(format!(
            "{path} names {other}, which this {} token does not act for",
            caller.role.name()
        )),
        None => Ok(()),
    }
}

/// The values at `path` below `message`, through repeated fields; enum values by their
/// short name (`CHANNEL_CALL_CENTRE` → `call-centre`, as tokens name channels).
fn collect(message: &DynamicMessage, path: &[&str], out: &mut Vec<String>) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let Some(field) = message.descriptor().get_field_by_name(first) else {
        return;
    };
    let value = message.get_field(&field);
    let items: Vec<&Value> = match value.as_ref() {
        Value::List(items) => items.iter().collect(),
        other => vec![other],
    };
    for item in items {
        match (item, field.kind()) {
            (Value::Message(inner), _) => collect(inner, rest, out),
            (Value::String(s), _) if rest.is_empty() => out.push(s.clone()),
            (Value::EnumNumber(n), Kind::Enum(kind)) if rest.is_empty() => {
                if let Some(value) = kind.get_value(*n) {
                    let prefix = format!("{}_", screaming(kind.name()));
                    let short = value.name().strip_prefix(&prefix).unwrap_or(value.name());
                    out.push(short.to_lowercase().replace('_', "-"));
                }
            }
            _ => {}
        }
    }
}

/// `DeliveryMethod` → `DELIVERY_METHOD`: the prefix of the protobuf names of an enum's values.
pub fn screaming(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Claims;

    fn caller(role: Role, stores: &[&str], channels: &[&str]) -> Caller {
        Caller::of(&Claims {
            iss: String::new(),
            aud: String::new(),
            sub: "t".into(),
            iat: 0,
            exp: 0,
            role,
            stores: stores.iter().map(|s| (*s).to_owned()).collect(),
            channels: channels.iter().map(|s| (*s).to_owned()).collect(),
            nodes: vec![],
        })
    }

    fn decoded<M: prost::Message>(path: &str, message: &M) -> DynamicMessage {
        let descriptor = oms_proto::limits::request_type(path).unwrap();
        DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice()).unwrap()
    }

    #[test]
    fn a_store_token_acts_for_its_store_only() {
        use oms_proto::fulfilment::v1::JobRef;
        let path = "/oms.fulfilment.v1.StoreFulfilment/AcceptJob";
        let staff = caller(Role::StoreStaff, &["S1"], &[]);
        let Verdict::Field(realm, field) = decide(path, &staff) else {
            panic!()
        };
        let own = decoded(
            path,
            &JobRef {
                store_id: "S1".into(),
                job_id: "J".into(),
            },
        );
        assert!(check_field(&own, realm, field, &staff).is_ok());
        let other = decoded(
            path,
            &JobRef {
                store_id: "S2".into(),
                job_id: "J".into(),
            },
        );
        assert_eq!(
            check_field(&other, realm, field, &staff).unwrap_err(),
            "store_id names S2, which this store-staff token does not act for"
        );
        let none = decoded(path, &JobRef::default());
        assert!(
            check_field(&none, realm, field, &staff)
                .unwrap_err()
                .contains("must name one of its stores")
        );
    }

    #[test]
    fn a_sales_channel_places_orders_for_its_channel_by_the_kernel_name() {
        use oms_proto::orders::v1::{Channel, OrderDraft, PlaceOrderRequest};
        let path = "/oms.orders.v1.OrderCapture/PlaceOrder";
        let web = caller(Role::SalesChannel, &[], &["web", "call-centre"]);
        let Verdict::Field(realm, field) = decide(path, &web) else {
            panic!()
        };
        let order = |channel: Channel| PlaceOrderRequest {
            order: Some(OrderDraft {
                channel: channel as i32,
                ..Default::default()
            }),
        };
        assert!(check_field(&decoded(path, &order(Channel::Web)), realm, field, &web).is_ok());
        assert!(check_field(&decoded(path, &order(Channel::CallCentre)), realm, field, &web).is_ok());
        assert!(check_field(&decoded(path, &order(Channel::Marketplace)), realm, field, &web).is_err());
    }

    #[test]
    fn a_role_the_row_does_not_name_is_told_who_may() {
        let pos = caller(Role::Pos, &["S1"], &[]);
        assert_eq!(
            decide("/oms.routing.v1.Routing/ImportNetwork", &pos),
            Verdict::Deny("a pos token may not call /oms.routing.v1.Routing/ImportNetwork (it is for operator)".into())
        );
        let routing = Caller {
            subject: "routing".into(),
            ..caller(Role::Service, &[], &[])
        };
        assert_eq!(
            decide("/oms.inventory.v1.InventoryLedger/Reserve", &routing),
            Verdict::Allow
        );
        let returns = Caller {
            subject: "returns".into(),
            ..routing
        };
        assert!(matches!(
            decide("/oms.inventory.v1.InventoryLedger/Reserve", &returns),
            Verdict::Deny(_)
        ));
    }

    #[test]
    fn screaming_names() {
        assert_eq!(screaming("DeliveryMethod"), "DELIVERY_METHOD");
        assert_eq!(screaming("Channel"), "CHANNEL");
    }
}
