//! Which nodes a rule set may choose for an order, and in what order: every node passes
//! the rule set's node filter, the order's history (nodes that rejected it, nodes the ledger
//! refused), stock, capabilities, radius and capacity — or is left out, counted by why —
//! and the candidates left are ranked by the rule set's criteria.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BTreeMap;

use chrono::DateTime;
use chrono::Utc;

use super::stock::{CapacityUsage, StockMatrix};
use super::{CANDIDATES_KEPT, CandidateRecord, PlanRequest};
use crate::domain::network::{CapacityUnit, NodeFilter, SortBy};
use crate::domain::order::OrderToRoute;
use crate::domain::{DeliveryMethod, GeoPoint, Network, Node, RuleSet, ShippingService, promise};

/// Where the order goes: the pickup location of a pickup, the shipping address otherwise.
pub(super) struct Destination {
    point: Option<GeoPoint>,
    region: String,
}

impl Destination {
    pub(super) fn of(network: &Network, order: &OrderToRoute) -> Self {
        if order.delivery_method.is_pickup() {
            let node = network.node(order.pickup_location_id.as_str());
            Destination {
                point: node.and_then(|n| n.location),
                region: node.map(|n| n.region.clone()).unwrap_or_default(),
            }
        } else {
            let address = order.shipping_address.as_ref();
            Destination {
                point: address.and_then(|a| a.location),
                region: address.map(oms_proto::kernel::Address::region_code).unwrap_or_default(),
            }
        }
    }
}

/// Whether a rule set's order filter takes the order.
pub(super) fn applies(rules: &RuleSet, order: &OrderToRoute, destination: &Destination) -> bool {
    let filter = &rules.applies_to;
    (filter.channels.is_empty() || filter.channels.contains(&order.channel))
        && (filter.delivery_methods.is_empty() || filter.delivery_methods.contains(&order.delivery_method))
        && (filter.priorities.is_empty() || filter.priorities.contains(&order.priority))
        && order.value_minor >= filter.min_value_minor
        && (filter.max_value_minor == 0 || order.value_minor <= filter.max_value_minor)
        && (filter.regions.is_empty()
            || filter.regions.iter().any(|r| {
                destination
                    .region
                    .to_ascii_uppercase()
                    .starts_with(&r.to_ascii_uppercase())
            }))
}

/// A node that passed every filter.
pub(super) struct Candidate {
    /// Its index in the network.
    pub(super) node: usize,
    pub(super) distance: Option<f64>,
    /// Units it may give of each line (above the rule set's keep-units).
    pub(super) usable: Vec<i64>,
    /// Capacity left today, in the node's unit; `u32::MAX` when unlimited.
    pub(super) headroom: u32,
    pub(super) units_capacity: bool,
    pub(super) cost: i64,
    pub(super) balance: i64,
}

/// The candidates of one rule set, best first, and the nodes left out.
pub(super) struct Evaluation {
    pub(super) ranked: Vec<Candidate>,
    /// Every node left out, counted by why.
    pub(super) excluded: BTreeMap<String, u32>,
    /// Nodes left out that had stock, with why.
    pub(super) telling: Vec<CandidateRecord>,
}

/// Why a node is not a candidate.
struct Exclusion {
    /// What the decision counts it under.
    kind: &'static str,
    /// Why, in words, when the node had the stock: worth naming in the decision.
    telling: Option<String>,
    distance: Option<f64>,
}

impl Exclusion {
    fn counted(kind: &'static str) -> Self {
        Self {
            kind,
            telling: None,
            distance: None,
        }
    }
}

/// Ranks the nodes a rule set may choose for the request.
pub(super) fn evaluate(
    network: &Network,
    rules: &RuleSet,
    request: &PlanRequest<'_>,
    destination: &Destination,
    matrix: &StockMatrix<'_>,
    capacity: &dyn CapacityUsage,
) -> Evaluation {
    let judge = Judge {
        rules,
        request,
        destination,
        matrix,
        capacity,
    };
    let mut evaluation = Evaluation {
        ranked: Vec::new(),
        excluded: BTreeMap::new(),
        telling: Vec::new(),
    };
    for (i, node) in network.nodes().iter().enumerate() {
        match judge.consider(i, node) {
            Ok(candidate) => evaluation.ranked.push(candidate),
            Err(exclusion) => evaluation.leave_out(node, exclusion),
        }
    }
    let nodes = network.nodes();
    evaluation.ranked.sort_by(|a, b| {
        sort_order(rules)
            .iter()
            .map(|criterion| compare(*criterion, a, b, nodes))
            .find(|order| *order != Ordering::Equal)
            .unwrap_or_else(|| nodes[a.node].node_id.cmp(&nodes[b.node].node_id))
    });
    evaluation
}

impl Evaluation {
    fn leave_out(&mut self, node: &Node, exclusion: Exclusion) {
        *self.excluded.entry(exclusion.kind.to_owned()).or_default() += 1;
        if let Some(reason) = exclusion.telling
            && self.telling.len() < CANDIDATES_KEPT
        {
            self.telling.push(CandidateRecord {
                node_id: node.node_id.clone(),
                eligible: false,
                reason,
                distance_km: exclusion.distance,
                covers_lines: Vec::new(),
                chosen: false,
                rank: 0,
            });
        }
    }
}

/// What one rule set needs to judge a node for one request.
struct Judge<'a> {
    rules: &'a RuleSet,
    request: &'a PlanRequest<'a>,
    destination: &'a Destination,
    matrix: &'a StockMatrix<'a>,
    capacity: &'a dyn CapacityUsage,
}

impl Judge<'_> {
    /// Node `i` as a candidate, or why it is left out.
    fn consider(&self, i: usize, node: &Node) -> Result<Candidate, Exclusion> {
        let (rules, request) = (self.rules, self.request);
        if let Some(kind) = filtered_out(&rules.eligible, node) {
            return Err(Exclusion::counted(kind));
        }
        let usable: Vec<i64> = (0..request.lines.len())
            .map(|j| (self.matrix.at(i, j) - rules.keep_units).max(0))
            .collect();
        let has_stock = usable.iter().any(|&u| u > 0);
        let distance = match (&node.location, &self.destination.point) {
            (Some(a), Some(b)) => Some(a.distance_km(b)),
            _ => None,
        };
        let excluded = |kind: &'static str, reason: String| Exclusion {
            kind,
            telling: has_stock.then_some(reason),
            distance,
        };
        if request.rejected_by.contains(&node.node_id) {
            return Err(excluded("rejected this order", "rejected this order before".to_owned()));
        }
        if request.unusable.contains(&node.node_id) {
            return Err(excluded(
                "refused by the ledger",
                "the ledger refused a reservation".to_owned(),
            ));
        }
        if !has_stock {
            return Err(Exclusion::counted(if rules.keep_units > 0 {
                "below keep-units"
            } else {
                "no stock"
            }));
        }
        if let Err((kind, reason)) = serves(node, request.order, distance, request.now) {
            return Err(excluded(kind, reason));
        }
        if let Some(d) = distance.filter(|d| rules.eligible.radius_km > 0.0 && *d > rules.eligible.radius_km) {
            return Err(excluded(
                "outside radius",
                format!("{d:.1} km away, rule set allows {:.1} km", rules.eligible.radius_km),
            ));
        }
        let headroom = headroom(node, request.now, self.capacity);
        if headroom == 0 {
            return Err(excluded("at capacity", at_capacity(node)));
        }
        Ok(Candidate {
            node: i,
            distance,
            balance: self.balance(i, &usable),
            usable,
            headroom,
            units_capacity: node.capacity.unit == CapacityUnit::Units && node.capacity.per_day > 0,
            cost: cost(node, request.order.delivery_method),
        })
    }

    /// The fewest units node `i` keeps of any line it can give in full, after giving it.
    fn balance(&self, i: usize, usable: &[i64]) -> i64 {
        let lines = self.request.lines;
        (0..lines.len())
            .filter(|&j| usable[j] >= lines[j].quantity)
            .map(|j| self.matrix.at(i, j) - lines[j].quantity)
            .min()
            .unwrap_or(i64::MIN)
    }
}

/// Why the rule set's node filter (or the node's being inactive) leaves it out, if it does.
fn filtered_out(filter: &NodeFilter, node: &Node) -> Option<&'static str> {
    if !node.active {
        Some("inactive")
    } else if !filter.node_types.is_empty() && !filter.node_types.contains(&node.node_type) {
        Some("node type not in rule set")
    } else if !filter.groups.is_empty() && !node.groups.iter().any(|g| filter.groups.contains(g)) {
        Some("not in the rule set's groups")
    } else if filter.exclude.contains(&node.node_id) {
        Some("excluded by rule set")
    } else {
        None
    }
}

/// Capacity the node has left on its local day, in its unit; `u32::MAX` when unlimited.
fn headroom(node: &Node, now: DateTime<Utc>, capacity: &dyn CapacityUsage) -> u32 {
    if node.capacity.per_day == 0 {
        return u32::MAX;
    }
    let (day, _) = promise::local(node, now);
    node.capacity
        .per_day
        .saturating_sub(capacity.used(node.node_id.as_str(), day))
}

fn at_capacity(node: &Node) -> String {
    let unit = match node.capacity.unit {
        CapacityUnit::Orders => "orders",
        CapacityUnit::Units => "units",
    };
    format!(
        "at capacity: {} of {} {unit} today",
        node.capacity.per_day, node.capacity.per_day
    )
}

/// What one shipment from the node costs by the order's delivery method (nothing for a
/// pickup at the node).
fn cost(node: &Node, method: DeliveryMethod) -> i64 {
    match service_of(method) {
        None => 0,
        Some(service) => node.carrier(service).map_or(i64::MAX / 2, |c| c.rate_minor),
    }
}

fn service_of(method: DeliveryMethod) -> Option<ShippingService> {
    match method {
        DeliveryMethod::Standard | DeliveryMethod::Locker | DeliveryMethod::ShipToStore => {
            Some(ShippingService::Standard)
        }
        DeliveryMethod::Express => Some(ShippingService::Express),
        DeliveryMethod::SameDay => Some(ShippingService::SameDay),
        DeliveryMethod::ClickAndCollect | DeliveryMethod::Curbside => None,
    }
}

/// Whether `node` can fulfil the order's delivery method; the reason (kind, text) if not.
fn serves(
    node: &Node,
    order: &OrderToRoute,
    distance: Option<f64>,
    now: DateTime<Utc>,
) -> Result<(), (&'static str, String)> {
    let caps = &node.capabilities;
    let method = order.delivery_method;
    let cannot = |what: &str| Err(("capability", format!("cannot {what}")));
    match method {
        DeliveryMethod::Standard | DeliveryMethod::ShipToStore if !caps.ship => cannot("ship"),
        DeliveryMethod::Express if !caps.ship => cannot("ship"),
        DeliveryMethod::Express if node.carrier(ShippingService::Express).is_none() => cannot("ship express"),
        DeliveryMethod::Locker if !(caps.ship && caps.locker) => cannot("deliver to lockers"),
        DeliveryMethod::ClickAndCollect | DeliveryMethod::Curbside if node.node_id != order.pickup_location_id => {
            Err((
                "not the pickup store",
                "not the store the customer collects from".to_owned(),
            ))
        }
        DeliveryMethod::ClickAndCollect if !caps.click_and_collect => cannot("offer click & collect"),
        DeliveryMethod::Curbside if !caps.curbside => cannot("offer curbside pickup"),
        DeliveryMethod::SameDay => delivers_same_day(node, distance, now),
        _ => Ok(()),
    }
}

/// Same-day: a node that ships within its radius, before today's cut-off.
fn delivers_same_day(node: &Node, distance: Option<f64>, now: DateTime<Utc>) -> Result<(), (&'static str, String)> {
    let caps = &node.capabilities;
    if !caps.ship || caps.same_day_radius_km <= 0.0 {
        return Err(("capability", "cannot deliver same-day".to_owned()));
    }
    match distance {
        None => Err(("same-day radius", "destination position unknown".to_owned())),
        Some(d) if d > caps.same_day_radius_km => Err((
            "same-day radius",
            format!("{d:.1} km away, same-day radius {:.1} km", caps.same_day_radius_km),
        )),
        Some(_) if !promise::before_cutoff(node, now) => {
            Err(("past cut-off", "past today's same-day cut-off".to_owned()))
        }
        Some(_) => Ok(()),
    }
}

/// The criteria a rule set ranks candidates by.
pub(super) fn sort_order(rules: &RuleSet) -> Cow<'_, [SortBy]> {
    if rules.sort.is_empty() {
        Cow::Owned(vec![SortBy::Distance, SortBy::NodePriority])
    } else {
        Cow::Borrowed(&rules.sort)
    }
}

/// How `a` and `b` rank by one criterion (`Less`: `a` is better).
pub(super) fn compare(criterion: SortBy, a: &Candidate, b: &Candidate, nodes: &[Node]) -> Ordering {
    match criterion {
        SortBy::Distance => {
            let d = |c: &Candidate| c.distance.unwrap_or(f64::INFINITY);
            d(a).total_cmp(&d(b))
        }
        SortBy::StockBalance => b.balance.cmp(&a.balance),
        SortBy::NodePriority => nodes[a.node].priority.cmp(&nodes[b.node].priority),
        SortBy::ShippingCost => a.cost.cmp(&b.cost),
        SortBy::CapacityHeadroom => b.headroom.cmp(&a.headroom),
    }
}
