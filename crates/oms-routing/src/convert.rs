//! Protobuf to domain and back: the network, rule sets, orders as order capture announces
//! them, decisions and delivery options. Unknown enum values are refused with the field
//! named, never guessed.

use chrono::{DateTime, Utc};
use oms_proto::common::v1 as common;
use oms_proto::orders::v1 as orders;
use oms_proto::routing::v1 as pb;
use oms_service::convert::{time, timestamp};

use crate::app::DecisionView;
use crate::domain::quote::DeliveryOption;
use crate::domain::{
    Address, AllocationMade, AllocationRecord, Capabilities, Capacity, CapacityUnit, CarrierService, Channel,
    DeliveryMethod, Fallback, GeoPoint, LineNeed, Node, NodeFilter, NodeType, OrderFilter, OrderToRoute, Priority,
    RuleSet, ShippingService, SortBy, SplitPolicy,
};

/// (field, what is wrong with it).
pub type Bad = Vec<(String, String)>;

fn bad(field: &str, description: impl Into<String>) -> Bad {
    vec![(field.to_owned(), description.into())]
}

pub fn channel(value: i32, field: &str) -> Result<Channel, Bad> {
    match orders::Channel::try_from(value) {
        Ok(orders::Channel::Web) => Ok(Channel::Web),
        Ok(orders::Channel::App) => Ok(Channel::App),
        Ok(orders::Channel::Marketplace) => Ok(Channel::Marketplace),
        Ok(orders::Channel::Store) => Ok(Channel::Store),
        Ok(orders::Channel::CallCentre) => Ok(Channel::CallCentre),
        _ => Err(bad(field, format!("{value} is not a channel"))),
    }
}

pub fn channel_pb(channel: Channel) -> orders::Channel {
    match channel {
        Channel::Web => orders::Channel::Web,
        Channel::App => orders::Channel::App,
        Channel::Marketplace => orders::Channel::Marketplace,
        Channel::Store => orders::Channel::Store,
        Channel::CallCentre => orders::Channel::CallCentre,
    }
}

/// The channel's code as the ledger's channel rules name it.
pub fn channel_code(channel: Channel) -> &'static str {
    match channel {
        Channel::Web => "web",
        Channel::App => "app",
        Channel::Marketplace => "marketplace",
        Channel::Store => "store",
        Channel::CallCentre => "call-centre",
    }
}

pub fn delivery_method(value: i32, field: &str) -> Result<DeliveryMethod, Bad> {
    use orders::DeliveryMethod as M;
    match M::try_from(value) {
        Ok(M::Standard) => Ok(DeliveryMethod::Standard),
        Ok(M::Express) => Ok(DeliveryMethod::Express),
        Ok(M::SameDay) => Ok(DeliveryMethod::SameDay),
        Ok(M::ClickAndCollect) => Ok(DeliveryMethod::ClickAndCollect),
        Ok(M::Curbside) => Ok(DeliveryMethod::Curbside),
        Ok(M::Locker) => Ok(DeliveryMethod::Locker),
        Ok(M::ShipToStore) => Ok(DeliveryMethod::ShipToStore),
        _ => Err(bad(field, format!("{value} is not a delivery method"))),
    }
}

pub fn delivery_method_pb(method: DeliveryMethod) -> orders::DeliveryMethod {
    use orders::DeliveryMethod as M;
    match method {
        DeliveryMethod::Standard => M::Standard,
        DeliveryMethod::Express => M::Express,
        DeliveryMethod::SameDay => M::SameDay,
        DeliveryMethod::ClickAndCollect => M::ClickAndCollect,
        DeliveryMethod::Curbside => M::Curbside,
        DeliveryMethod::Locker => M::Locker,
        DeliveryMethod::ShipToStore => M::ShipToStore,
    }
}

pub fn priority(value: i32, field: &str) -> Result<Priority, Bad> {
    match orders::Priority::try_from(value) {
        Ok(orders::Priority::Unspecified | orders::Priority::Normal) => Ok(Priority::Normal),
        Ok(orders::Priority::High) => Ok(Priority::High),
        Ok(orders::Priority::Urgent) => Ok(Priority::Urgent),
        Err(_) => Err(bad(field, format!("{value} is not a priority"))),
    }
}

pub fn priority_pb(priority: Priority) -> orders::Priority {
    match priority {
        Priority::Normal => orders::Priority::Normal,
        Priority::High => orders::Priority::High,
        Priority::Urgent => orders::Priority::Urgent,
    }
}

pub fn geo(point: &common::GeoPoint) -> GeoPoint {
    GeoPoint {
        latitude: point.latitude,
        longitude: point.longitude,
    }
}

pub fn geo_pb(point: &GeoPoint) -> common::GeoPoint {
    common::GeoPoint {
        latitude: point.latitude,
        longitude: point.longitude,
    }
}

pub fn address(a: &common::Address) -> Address {
    Address {
        name: a.name.clone(),
        lines: a.lines.clone(),
        city: a.city.clone(),
        region: a.region.clone(),
        postal_code: a.postal_code.clone(),
        country: a.country.clone(),
        phone: a.phone.clone(),
        email: a.email.clone(),
        location: a.location.as_ref().map(geo),
    }
}

pub fn address_pb(a: &Address) -> common::Address {
    common::Address {
        name: a.name.clone(),
        lines: a.lines.clone(),
        city: a.city.clone(),
        region: a.region.clone(),
        postal_code: a.postal_code.clone(),
        country: a.country.clone(),
        phone: a.phone.clone(),
        email: a.email.clone(),
        location: a.location.as_ref().map(geo_pb),
    }
}

/// The order as routing keeps it, from order capture's `OrderPlaced`.
pub fn order_placed(e: &orders::OrderPlaced) -> Result<OrderToRoute, Bad> {
    let draft = e.order.as_ref().ok_or_else(|| bad("order", "is required"))?;
    let lines = if e.lines.is_empty() { &draft.lines } else { &e.lines };
    let mut bad_fields = Vec::new();
    if e.order_id.is_empty() {
        bad_fields.push(("order_id".to_owned(), "is required".to_owned()));
    }
    if lines.is_empty() {
        bad_fields.push(("lines".to_owned(), "at least one line is required".to_owned()));
    }
    for (i, line) in lines.iter().enumerate() {
        if line.sku.is_empty() {
            bad_fields.push((format!("lines[{i}].sku"), "is required".to_owned()));
        }
        if line.quantity <= 0 {
            bad_fields.push((format!("lines[{i}].quantity"), "must be 1 or more".to_owned()));
        }
    }
    let channel = channel(draft.channel, "order.channel");
    let method = delivery_method(draft.delivery_method, "order.delivery_method");
    let priority = priority(draft.priority, "order.priority");
    for result in [channel.as_ref().err(), method.as_ref().err(), priority.as_ref().err()]
        .into_iter()
        .flatten()
    {
        bad_fields.extend(result.iter().cloned());
    }
    let (Ok(channel), Ok(delivery_method), Ok(priority)) = (channel, method, priority) else {
        return Err(bad_fields);
    };
    if !bad_fields.is_empty() {
        return Err(bad_fields);
    }
    let value_minor = e.total.as_ref().map(|m| m.amount_minor).unwrap_or_else(|| {
        lines
            .iter()
            .map(|l| {
                l.unit_price
                    .as_ref()
                    .map_or(0, |p| p.amount_minor)
                    .saturating_mul(l.quantity)
            })
            .sum()
    });
    Ok(OrderToRoute {
        order_id: e.order_id.clone(),
        channel,
        delivery_method,
        priority,
        value_minor,
        currency: draft.currency.clone(),
        lines: lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let id = if l.line_id.is_empty() {
                    (i + 1).to_string()
                } else {
                    l.line_id.clone()
                };
                LineNeed::new(id, l.sku.clone(), l.quantity)
            })
            .collect(),
        shipping_address: draft.shipping_address.as_ref().map(address),
        pickup_location_id: draft.pickup_location_id.clone(),
        customer_name: draft.customer.as_ref().map(|c| c.name.clone()).unwrap_or_default(),
        release_at: draft.release_at.as_ref().and_then(time),
        placed_at: e.placed_at.as_ref().and_then(time).unwrap_or_default(),
    })
}

// ---------------------------------------------------------------------------------------
// The network.

fn node_type(value: i32, field: &str) -> Result<NodeType, Bad> {
    match pb::NodeType::try_from(value) {
        Ok(pb::NodeType::Store) => Ok(NodeType::Store),
        Ok(pb::NodeType::Warehouse) => Ok(NodeType::Warehouse),
        Ok(pb::NodeType::Supplier) => Ok(NodeType::Supplier),
        Ok(pb::NodeType::ThreePl) => Ok(NodeType::ThreePl),
        Ok(pb::NodeType::Locker) => Ok(NodeType::Locker),
        _ => Err(bad(field, format!("{value} is not a node type"))),
    }
}

fn node_type_pb(t: NodeType) -> pb::NodeType {
    match t {
        NodeType::Store => pb::NodeType::Store,
        NodeType::Warehouse => pb::NodeType::Warehouse,
        NodeType::Supplier => pb::NodeType::Supplier,
        NodeType::ThreePl => pb::NodeType::ThreePl,
        NodeType::Locker => pb::NodeType::Locker,
    }
}

pub fn node_type_name(t: NodeType) -> &'static str {
    node_type_pb(t).as_str_name()
}

fn service(value: i32, field: &str) -> Result<ShippingService, Bad> {
    match pb::ShippingService::try_from(value) {
        Ok(pb::ShippingService::Standard) => Ok(ShippingService::Standard),
        Ok(pb::ShippingService::Express) => Ok(ShippingService::Express),
        Ok(pb::ShippingService::SameDay) => Ok(ShippingService::SameDay),
        _ => Err(bad(field, format!("{value} is not a shipping service"))),
    }
}

fn service_pb(s: ShippingService) -> pb::ShippingService {
    match s {
        ShippingService::Standard => pb::ShippingService::Standard,
        ShippingService::Express => pb::ShippingService::Express,
        ShippingService::SameDay => pb::ShippingService::SameDay,
    }
}

pub fn node(n: &pb::Node) -> Result<Node, Bad> {
    let mut bad_fields = Vec::new();
    let node_type = node_type(n.r#type, "type").map_err(|b| bad_fields.extend(b)).ok();
    let mut carriers = Vec::new();
    for (i, c) in n.carriers.iter().enumerate() {
        match service(c.service, &format!("carriers[{i}].service")) {
            Ok(service) => carriers.push(CarrierService {
                carrier: c.carrier.clone(),
                service,
                transit_days: c.transit_days,
                rate_minor: c.rate.as_ref().map_or(0, |r| r.amount_minor),
                currency: c.rate.as_ref().map(|r| r.currency.clone()).unwrap_or_default(),
            }),
            Err(b) => bad_fields.extend(b),
        }
    }
    let capacity = n.capacity.as_ref().map_or(Ok(Capacity::default()), |c| {
        let unit = match pb::CapacityUnit::try_from(c.unit) {
            Ok(pb::CapacityUnit::Unspecified | pb::CapacityUnit::Orders) => Ok(CapacityUnit::Orders),
            Ok(pb::CapacityUnit::Units) => Ok(CapacityUnit::Units),
            Err(_) => Err(bad("capacity.unit", format!("{} is not a capacity unit", c.unit))),
        }?;
        Ok(Capacity {
            per_day: c.per_day,
            unit,
        })
    });
    let capacity = capacity.map_err(|b: Bad| bad_fields.extend(b)).ok();
    let (Some(node_type), Some(capacity)) = (node_type, capacity) else {
        return Err(bad_fields);
    };
    if !bad_fields.is_empty() {
        return Err(bad_fields);
    }
    let caps = n.capabilities.unwrap_or_default();
    Ok(Node {
        node_id: n.node_id.clone(),
        node_type,
        name: n.name.clone(),
        location: n.location.as_ref().map(geo),
        region: n.region.clone(),
        groups: n.groups.clone(),
        capabilities: Capabilities {
            ship: caps.ship,
            click_and_collect: caps.click_and_collect,
            curbside: caps.curbside,
            locker: caps.locker,
            same_day_radius_km: caps.same_day_radius_km,
        },
        capacity,
        cutoff_minute: n.cutoff_minute,
        opens_minute: n.opens_minute,
        closes_minute: n.closes_minute,
        utc_offset_minutes: n.utc_offset_minutes,
        priority: n.priority,
        carriers,
        handling_hours: n.handling_hours,
        active: n.active,
    })
}

pub fn node_pb(n: &Node) -> pb::Node {
    pb::Node {
        node_id: n.node_id.clone(),
        r#type: node_type_pb(n.node_type) as i32,
        name: n.name.clone(),
        location: n.location.as_ref().map(geo_pb),
        region: n.region.clone(),
        groups: n.groups.clone(),
        capabilities: Some(pb::Capabilities {
            ship: n.capabilities.ship,
            click_and_collect: n.capabilities.click_and_collect,
            curbside: n.capabilities.curbside,
            locker: n.capabilities.locker,
            same_day_radius_km: n.capabilities.same_day_radius_km,
        }),
        capacity: Some(pb::Capacity {
            per_day: n.capacity.per_day,
            unit: match n.capacity.unit {
                CapacityUnit::Orders => pb::CapacityUnit::Orders,
                CapacityUnit::Units => pb::CapacityUnit::Units,
            } as i32,
        }),
        cutoff_minute: n.cutoff_minute,
        opens_minute: n.opens_minute,
        closes_minute: n.closes_minute,
        utc_offset_minutes: n.utc_offset_minutes,
        priority: n.priority,
        carriers: n
            .carriers
            .iter()
            .map(|c| pb::CarrierService {
                carrier: c.carrier.clone(),
                service: service_pb(c.service) as i32,
                transit_days: c.transit_days,
                rate: Some(common::Money {
                    amount_minor: c.rate_minor,
                    currency: c.currency.clone(),
                }),
            })
            .collect(),
        handling_hours: n.handling_hours,
        active: n.active,
    }
}

fn each<T>(values: &[i32], field: &str, one: impl Fn(i32, &str) -> Result<T, Bad>, bad_fields: &mut Bad) -> Vec<T> {
    values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| one(*v, &format!("{field}[{i}]")).map_err(|b| bad_fields.extend(b)).ok())
        .collect()
}

pub fn rule_sets(r: &pb::RuleSets) -> Result<Vec<RuleSet>, Bad> {
    let mut bad_fields = Vec::new();
    let out = r
        .rule_sets
        .iter()
        .enumerate()
        .map(|(i, rs)| rule_set(rs, &format!("rule_sets[{i}]"), &mut bad_fields))
        .collect();
    if bad_fields.is_empty() {
        Ok(out)
    } else {
        Err(bad_fields)
    }
}

/// One rule set; what is wrong with it goes into `bad_fields`.
fn rule_set(rs: &pb::RuleSet, field: &str, bad_fields: &mut Bad) -> RuleSet {
    let sort = each(
        &rs.sort,
        &format!("{field}.sort"),
        |v, f| match pb::SortBy::try_from(v) {
            Ok(pb::SortBy::Distance) => Ok(SortBy::Distance),
            Ok(pb::SortBy::StockBalance) => Ok(SortBy::StockBalance),
            Ok(pb::SortBy::NodePriority) => Ok(SortBy::NodePriority),
            Ok(pb::SortBy::ShippingCost) => Ok(SortBy::ShippingCost),
            Ok(pb::SortBy::CapacityHeadroom) => Ok(SortBy::CapacityHeadroom),
            _ => Err(bad(f, format!("{v} is not a sort criterion"))),
        },
        bad_fields,
    );
    let split = match pb::SplitPolicy::try_from(rs.split) {
        Ok(pb::SplitPolicy::Unspecified | pb::SplitPolicy::AllowSplit) => SplitPolicy::AllowSplit,
        Ok(pb::SplitPolicy::ShipComplete) => SplitPolicy::ShipComplete,
        Ok(pb::SplitPolicy::FewestShipments) => SplitPolicy::FewestShipments,
        Err(_) => {
            bad_fields.push((format!("{field}.split"), format!("{} is not a split policy", rs.split)));
            SplitPolicy::AllowSplit
        }
    };
    let otherwise = match pb::Fallback::try_from(rs.otherwise) {
        Ok(pb::Fallback::Unspecified | pb::Fallback::Backorder) => Fallback::Backorder,
        Ok(pb::Fallback::NextRuleSet) => Fallback::NextRuleSet,
        Ok(pb::Fallback::ParkForReview) => Fallback::ParkForReview,
        Ok(pb::Fallback::CancelAfterDays) => Fallback::CancelAfterDays,
        Err(_) => {
            bad_fields.push((
                format!("{field}.otherwise"),
                format!("{} is not a fallback", rs.otherwise),
            ));
            Fallback::Backorder
        }
    };
    RuleSet {
        name: rs.name.clone(),
        applies_to: order_filter(&rs.applies_to.clone().unwrap_or_default(), field, bad_fields),
        eligible: node_filter(&rs.eligible.clone().unwrap_or_default(), field, bad_fields),
        keep_units: rs.keep_units,
        sort,
        split,
        max_shipments: rs.max_shipments,
        otherwise,
        cancel_after_days: rs.cancel_after_days,
    }
}

fn order_filter(filter: &pb::OrderFilter, field: &str, bad_fields: &mut Bad) -> OrderFilter {
    OrderFilter {
        channels: each(
            &filter.channels,
            &format!("{field}.applies_to.channels"),
            channel,
            bad_fields,
        ),
        delivery_methods: each(
            &filter.delivery_methods,
            &format!("{field}.applies_to.delivery_methods"),
            delivery_method,
            bad_fields,
        ),
        priorities: each(
            &filter.priorities,
            &format!("{field}.applies_to.priorities"),
            priority,
            bad_fields,
        ),
        min_value_minor: filter.min_value_minor,
        max_value_minor: filter.max_value_minor,
        regions: filter.regions.clone(),
    }
}

fn node_filter(eligible: &pb::NodeFilter, field: &str, bad_fields: &mut Bad) -> NodeFilter {
    NodeFilter {
        node_types: each(
            &eligible.node_types,
            &format!("{field}.eligible.node_types"),
            node_type,
            bad_fields,
        ),
        groups: eligible.groups.clone(),
        radius_km: eligible.radius_km,
        exclude: eligible.exclude.clone(),
    }
}

pub fn rule_sets_pb(rule_sets: &[RuleSet]) -> pb::RuleSets {
    pb::RuleSets {
        rule_sets: rule_sets
            .iter()
            .map(|rs| pb::RuleSet {
                name: rs.name.clone(),
                applies_to: Some(pb::OrderFilter {
                    channels: rs.applies_to.channels.iter().map(|c| channel_pb(*c) as i32).collect(),
                    delivery_methods: rs
                        .applies_to
                        .delivery_methods
                        .iter()
                        .map(|m| delivery_method_pb(*m) as i32)
                        .collect(),
                    priorities: rs
                        .applies_to
                        .priorities
                        .iter()
                        .map(|p| priority_pb(*p) as i32)
                        .collect(),
                    min_value_minor: rs.applies_to.min_value_minor,
                    max_value_minor: rs.applies_to.max_value_minor,
                    regions: rs.applies_to.regions.clone(),
                }),
                eligible: Some(pb::NodeFilter {
                    node_types: rs.eligible.node_types.iter().map(|t| node_type_pb(*t) as i32).collect(),
                    groups: rs.eligible.groups.clone(),
                    radius_km: rs.eligible.radius_km,
                    exclude: rs.eligible.exclude.clone(),
                }),
                keep_units: rs.keep_units,
                sort: rs
                    .sort
                    .iter()
                    .map(|s| {
                        (match s {
                            SortBy::Distance => pb::SortBy::Distance,
                            SortBy::StockBalance => pb::SortBy::StockBalance,
                            SortBy::NodePriority => pb::SortBy::NodePriority,
                            SortBy::ShippingCost => pb::SortBy::ShippingCost,
                            SortBy::CapacityHeadroom => pb::SortBy::CapacityHeadroom,
                        }) as i32
                    })
                    .collect(),
                split: (match rs.split {
                    SplitPolicy::ShipComplete => pb::SplitPolicy::ShipComplete,
                    SplitPolicy::AllowSplit => pb::SplitPolicy::AllowSplit,
                    SplitPolicy::FewestShipments => pb::SplitPolicy::FewestShipments,
                }) as i32,
                max_shipments: rs.max_shipments,
                otherwise: (match rs.otherwise {
                    Fallback::NextRuleSet => pb::Fallback::NextRuleSet,
                    Fallback::Backorder => pb::Fallback::Backorder,
                    Fallback::ParkForReview => pb::Fallback::ParkForReview,
                    Fallback::CancelAfterDays => pb::Fallback::CancelAfterDays,
                }) as i32,
                cancel_after_days: rs.cancel_after_days,
            })
            .collect(),
    }
}

// ---------------------------------------------------------------------------------------
// Decisions and options.

pub fn allocated_lines_pb(lines: &[LineNeed]) -> Vec<pb::AllocatedLine> {
    lines
        .iter()
        .map(|l| pb::AllocatedLine {
            order_line_id: l.line_id.clone(),
            sku: l.sku.clone(),
            quantity: l.quantity,
        })
        .collect()
}

/// An allocation as an order holds it now.
pub fn allocation_pb(a: &AllocationRecord) -> pb::Allocation {
    allocation(&a.request_id, &a.node_id, a.node_type, &a.lines, a.expected_at)
}

/// An allocation as a decision made it.
pub fn allocation_made_pb(a: &AllocationMade) -> pb::Allocation {
    allocation(&a.request_id, &a.node_id, a.node_type, &a.lines, a.expected_at)
}

fn allocation(
    request_id: &str,
    node_id: &str,
    node_type: NodeType,
    lines: &[LineNeed],
    expected_at: Option<DateTime<Utc>>,
) -> pb::Allocation {
    pb::Allocation {
        node_id: node_id.to_owned(),
        node_type: node_type_name(node_type).to_owned(),
        lines: allocated_lines_pb(lines),
        fulfilment_request_id: request_id.to_owned(),
        expected_at: expected_at.map(timestamp),
    }
}

pub fn decision_pb(order_id: &str, view: &DecisionView) -> pb::RoutingDecision {
    let DecisionView {
        decision,
        allocations,
        backordered,
        held,
    } = view;
    pb::RoutingDecision {
        order_id: order_id.to_owned(),
        attempt: decision.attempt,
        rule_set: decision.rule_set.clone(),
        outcome: if decision.notes.is_empty() {
            decision.outcome.clone()
        } else {
            format!("{} ({})", decision.outcome, decision.notes.join("; "))
        },
        allocations: allocations.iter().map(allocation_pb).collect(),
        backordered: allocated_lines_pb(backordered),
        candidates: decision
            .candidates
            .iter()
            .map(|c| pb::Candidate {
                node_id: c.node_id.clone(),
                eligible: c.eligible,
                reason: c.reason.clone(),
                distance_km: c.distance_km.unwrap_or(-1.0),
                covers_lines: c.covers_lines.clone(),
                chosen: c.chosen,
                rank: i32::try_from(c.rank).unwrap_or(i32::MAX),
            })
            .collect(),
        excluded: decision.excluded.clone().into_iter().collect(),
        decided_at: Some(timestamp(decision.decided_at)),
        held: *held,
    }
}

pub fn option_pb(o: &DeliveryOption) -> pb::DeliveryOption {
    pb::DeliveryOption {
        method: delivery_method_pb(o.method) as i32,
        node_ids: o.node_ids.clone(),
        cost: Some(common::Money {
            amount_minor: o.cost_minor,
            currency: o.currency.clone(),
        }),
        expected_at: o.expected_at.map(timestamp),
        pickup_location_id: o.pickup_location_id.clone(),
        ready_by: o.ready_by.map(timestamp),
        distance_km: o.distance_km.unwrap_or(-1.0),
        carrier: o.carrier.clone(),
    }
}
