//! Protobuf to domain and back: the network, rule sets, orders as order capture announces
//! them, decisions and delivery options. The kernel's values (channels, delivery methods,
//! priorities, node types, places, money) convert themselves; this is what is routing's
//! own. Unknown enum values are refused with the field named, never guessed.

use chrono::{DateTime, Utc};
use oms_proto::kernel::Money;
use oms_proto::orders::v1 as orders;
use oms_proto::routing::v1 as pb;
use oms_service::convert::{time, timestamp};

use crate::app::DecisionView;
use crate::domain::quote::DeliveryOption;
use crate::domain::{
    Address, AllocationMade, AllocationRecord, Capabilities, Capacity, CapacityUnit, CarrierService, Channel,
    DeliveryMethod, Fallback, GeoPoint, JobId, LineNeed, LocationId, Node, NodeFilter, NodeType, OrderFilter,
    OrderToRoute, Priority, RuleSet, ShippingService, SortBy, SplitPolicy, Violations,
};

/// The value of `value` read by `from_pb`, or a violation of `field` saying what it may
/// be.
fn kind<K>(
    value: i32,
    field: &str,
    from_pb: impl Fn(i32) -> Option<K>,
    expected: impl Fn() -> String,
    bad: &mut Violations,
) -> Option<K> {
    let kind = from_pb(value);
    if kind.is_none() {
        bad.add(field, expected());
    }
    kind
}

/// Each value of a repeated enum field, as [`kind`] reads one; the unreadable ones are
/// named by their index.
fn each<K>(
    values: &[i32],
    field: &str,
    from_pb: impl Fn(i32) -> Option<K>,
    expected: impl Fn() -> String,
    bad: &mut Violations,
) -> Vec<K> {
    values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| kind(*v, &format!("{field}[{i}]"), &from_pb, &expected, bad))
        .collect()
}

/// An order's priority: unspecified is normal.
fn priority(value: i32) -> Option<Priority> {
    if value == 0 {
        Some(Priority::default())
    } else {
        Priority::from_pb(value)
    }
}

/// A delivery method the contract requires.
pub fn delivery_method(value: i32, field: &str) -> Result<DeliveryMethod, Violations> {
    let mut bad = Violations::new();
    let method = kind(
        value,
        field,
        DeliveryMethod::from_pb,
        DeliveryMethod::expected,
        &mut bad,
    );
    method.ok_or(bad)
}

/// The order as routing keeps it, from order capture's `OrderPlaced`.
pub fn order_placed(e: &orders::OrderPlaced) -> Result<OrderToRoute, Violations> {
    let mut bad = Violations::new();
    let Some(draft) = e.order.as_ref() else {
        bad.add("order", "is required");
        return Err(bad);
    };
    let lines = if e.lines.is_empty() { &draft.lines } else { &e.lines };
    bad.require(&e.order_id, "order_id");
    bad.check(lines.is_empty(), "lines", "at least one line is required");
    for (i, line) in lines.iter().enumerate() {
        bad.check(line.sku.is_empty(), format!("lines[{i}].sku"), "is required");
        bad.check(line.quantity <= 0, format!("lines[{i}].quantity"), "must be 1 or more");
    }
    let channel = kind(
        draft.channel,
        "order.channel",
        Channel::from_pb,
        Channel::expected,
        &mut bad,
    );
    let method = kind(
        draft.delivery_method,
        "order.delivery_method",
        DeliveryMethod::from_pb,
        DeliveryMethod::expected,
        &mut bad,
    );
    let priority = kind(draft.priority, "order.priority", priority, Priority::expected, &mut bad);
    let (Some(channel), Some(delivery_method), Some(priority)) = (channel, method, priority) else {
        return Err(bad);
    };
    bad.or_ok(())?;
    let value_minor = e.total.as_ref().map_or_else(
        || {
            lines
                .iter()
                .map(|l| {
                    l.unit_price
                        .as_ref()
                        .map_or(0, |p| p.amount_minor)
                        .saturating_mul(l.quantity)
                })
                .sum()
        },
        |m| m.amount_minor,
    );
    Ok(OrderToRoute {
        order_id: e.order_id.clone().into(),
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
        shipping_address: draft.shipping_address.as_ref().map(Address::from_pb),
        pickup_location_id: draft.pickup_location_id.clone().into(),
        customer_name: draft.customer.as_ref().map(|c| c.name.clone()).unwrap_or_default(),
        release_at: draft.release_at.as_ref().and_then(time),
        placed_at: e.placed_at.as_ref().and_then(time).unwrap_or_default(),
    })
}

// ---------------------------------------------------------------------------------------
// The network.

/// Both ways between one of routing's own enums and the contract's, whose variants have
/// the same names: `$read` takes a number (the contract's unspecified value means
/// `$unspecified`), `$write` gives one.
macro_rules! own_enum {
    ($domain:ident: $read:ident, $write:ident, unspecified: $unspecified:expr, [$($variant:ident),+ $(,)?]) => {
        fn $read(value: i32) -> Option<$domain> {
            match pb::$domain::try_from(value).ok()? {
                pb::$domain::Unspecified => $unspecified,
                $(pb::$domain::$variant => Some($domain::$variant),)+
            }
        }

        fn $write(value: $domain) -> i32 {
            (match value {
                $($domain::$variant => pb::$domain::$variant,)+
            }) as i32
        }
    };
}

own_enum!(ShippingService: service, service_pb, unspecified: None, [Standard, Express, SameDay]);
own_enum!(CapacityUnit: capacity_unit, capacity_unit_pb, unspecified: Some(CapacityUnit::Orders), [Orders, Units]);
own_enum!(SortBy: sort_by, sort_by_pb, unspecified: None, [
    Distance,
    StockBalance,
    NodePriority,
    ShippingCost,
    CapacityHeadroom,
]);
own_enum!(SplitPolicy: split_policy, split_policy_pb, unspecified: Some(SplitPolicy::AllowSplit), [
    ShipComplete,
    AllowSplit,
    FewestShipments,
]);
own_enum!(Fallback: fallback, fallback_pb, unspecified: Some(Fallback::Backorder), [
    NextRuleSet,
    Backorder,
    ParkForReview,
    CancelAfterDays,
]);

/// Why `value` is refused as one of routing's own enums.
fn not_a(what: &'static str, value: i32) -> impl Fn() -> String {
    move || format!("{value} is not a {what}")
}

pub fn node(n: &pb::Node) -> Result<Node, Violations> {
    let mut bad = Violations::new();
    let node_type = kind(n.r#type, "type", NodeType::from_pb, NodeType::expected, &mut bad);
    let carriers: Vec<CarrierService> = n
        .carriers
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let service = kind(
                c.service,
                &format!("carriers[{i}].service"),
                service,
                not_a("shipping service", c.service),
                &mut bad,
            )?;
            Some(CarrierService {
                carrier: c.carrier.clone(),
                service,
                transit_days: c.transit_days,
                rate_minor: c.rate.as_ref().map_or(0, |r| r.amount_minor),
                currency: c.rate.as_ref().map(|r| r.currency.clone()).unwrap_or_default(),
            })
        })
        .collect();
    let capacity = n.capacity.as_ref().map_or(Some(Capacity::default()), |c| {
        let unit = kind(
            c.unit,
            "capacity.unit",
            capacity_unit,
            not_a("capacity unit", c.unit),
            &mut bad,
        )?;
        Some(Capacity {
            per_day: c.per_day,
            unit,
        })
    });
    let (Some(node_type), Some(capacity)) = (node_type, capacity) else {
        return Err(bad);
    };
    bad.or_ok(())?;
    let caps = n.capabilities.unwrap_or_default();
    Ok(Node {
        node_id: n.node_id.clone().into(),
        node_type,
        name: n.name.clone(),
        location: n.location.as_ref().map(GeoPoint::from_pb),
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
        node_id: n.node_id.to_string(),
        r#type: n.node_type.to_pb() as i32,
        name: n.name.clone(),
        location: n.location.map(GeoPoint::to_pb),
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
            unit: capacity_unit_pb(n.capacity.unit),
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
                service: service_pb(c.service),
                transit_days: c.transit_days,
                rate: Some(Money::new(c.rate_minor, c.currency.clone()).to_pb()),
            })
            .collect(),
        handling_hours: n.handling_hours,
        active: n.active,
    }
}

pub fn rule_sets(r: &pb::RuleSets) -> Result<Vec<RuleSet>, Violations> {
    let mut bad = Violations::new();
    let out = r
        .rule_sets
        .iter()
        .enumerate()
        .map(|(i, rs)| rule_set(rs, &format!("rule_sets[{i}]"), &mut bad))
        .collect();
    bad.or_ok(out)
}

/// One rule set; what is wrong with it goes into `bad`.
fn rule_set(rs: &pb::RuleSet, field: &str, bad: &mut Violations) -> RuleSet {
    let sort = rs
        .sort
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            kind(
                *v,
                &format!("{field}.sort[{i}]"),
                sort_by,
                not_a("sort criterion", *v),
                bad,
            )
        })
        .collect();
    let split = kind(
        rs.split,
        &format!("{field}.split"),
        split_policy,
        not_a("split policy", rs.split),
        bad,
    );
    let otherwise = kind(
        rs.otherwise,
        &format!("{field}.otherwise"),
        fallback,
        not_a("fallback", rs.otherwise),
        bad,
    );
    RuleSet {
        name: rs.name.clone(),
        applies_to: order_filter(&rs.applies_to.clone().unwrap_or_default(), field, bad),
        eligible: node_filter(&rs.eligible.clone().unwrap_or_default(), field, bad),
        keep_units: rs.keep_units,
        sort,
        split: split.unwrap_or_default(),
        max_shipments: rs.max_shipments,
        otherwise: otherwise.unwrap_or_default(),
        cancel_after_days: rs.cancel_after_days,
    }
}

fn order_filter(filter: &pb::OrderFilter, field: &str, bad: &mut Violations) -> OrderFilter {
    let field = format!("{field}.applies_to");
    OrderFilter {
        channels: each(
            &filter.channels,
            &format!("{field}.channels"),
            Channel::from_pb,
            Channel::expected,
            bad,
        ),
        delivery_methods: each(
            &filter.delivery_methods,
            &format!("{field}.delivery_methods"),
            DeliveryMethod::from_pb,
            DeliveryMethod::expected,
            bad,
        ),
        priorities: each(
            &filter.priorities,
            &format!("{field}.priorities"),
            priority,
            Priority::expected,
            bad,
        ),
        min_value_minor: filter.min_value_minor,
        max_value_minor: filter.max_value_minor,
        regions: filter.regions.clone(),
    }
}

fn node_filter(eligible: &pb::NodeFilter, field: &str, bad: &mut Violations) -> NodeFilter {
    NodeFilter {
        node_types: each(
            &eligible.node_types,
            &format!("{field}.eligible.node_types"),
            NodeType::from_pb,
            NodeType::expected,
            bad,
        ),
        groups: eligible.groups.clone(),
        radius_km: eligible.radius_km,
        exclude: eligible.exclude.iter().cloned().map(LocationId::from).collect(),
    }
}

pub fn rule_sets_pb(rule_sets: &[RuleSet]) -> pb::RuleSets {
    pb::RuleSets {
        rule_sets: rule_sets
            .iter()
            .map(|rs| pb::RuleSet {
                name: rs.name.clone(),
                applies_to: Some(pb::OrderFilter {
                    channels: rs.applies_to.channels.iter().map(|c| c.to_pb() as i32).collect(),
                    delivery_methods: rs
                        .applies_to
                        .delivery_methods
                        .iter()
                        .map(|m| m.to_pb() as i32)
                        .collect(),
                    priorities: rs.applies_to.priorities.iter().map(|p| p.to_pb() as i32).collect(),
                    min_value_minor: rs.applies_to.min_value_minor,
                    max_value_minor: rs.applies_to.max_value_minor,
                    regions: rs.applies_to.regions.clone(),
                }),
                eligible: Some(pb::NodeFilter {
                    node_types: rs.eligible.node_types.iter().map(|t| t.to_pb() as i32).collect(),
                    groups: rs.eligible.groups.clone(),
                    radius_km: rs.eligible.radius_km,
                    exclude: rs.eligible.exclude.iter().map(LocationId::to_string).collect(),
                }),
                keep_units: rs.keep_units,
                sort: rs.sort.iter().map(|s| sort_by_pb(*s)).collect(),
                split: split_policy_pb(rs.split),
                max_shipments: rs.max_shipments,
                otherwise: fallback_pb(rs.otherwise),
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
            order_line_id: l.line_id.to_string(),
            sku: l.sku.to_string(),
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
    request_id: &JobId,
    node_id: &LocationId,
    node_type: NodeType,
    lines: &[LineNeed],
    expected_at: Option<DateTime<Utc>>,
) -> pb::Allocation {
    pb::Allocation {
        node_id: node_id.to_string(),
        node_type: node_type.proto_name().to_owned(),
        lines: allocated_lines_pb(lines),
        fulfilment_request_id: request_id.to_string(),
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
                node_id: c.node_id.to_string(),
                eligible: c.eligible,
                reason: c.reason.clone(),
                distance_km: c.distance_km.unwrap_or(-1.0),
                covers_lines: c.covers_lines.iter().map(ToString::to_string).collect(),
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
        method: o.method.to_pb() as i32,
        node_ids: o.node_ids.iter().map(LocationId::to_string).collect(),
        cost: Some(Money::new(o.cost_minor, o.currency.clone()).to_pb()),
        expected_at: o.expected_at.map(timestamp),
        pickup_location_id: o.pickup_location_id.to_string(),
        ready_by: o.ready_by.map(timestamp),
        distance_km: o.distance_km.unwrap_or(-1.0),
        carrier: o.carrier.clone(),
    }
}
