//! The routing decision, as a pure function: an order's open lines, the network and its
//! rule sets, the stock each node can promise and the capacity each has left go in; the
//! nodes that get which units, what waits for supply, and the reasons come out.
//!
//! Rule sets are tried in order. One applies when its order filter matches; its node filter,
//! capabilities, radius, capacity and availability gate leave the candidates; its sort
//! criteria rank them; its split policy allocates; and when lines are left, its fallback
//! says what happens to them (try the next rule set, backorder, park for review, or
//! backorder and give up after some days).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::network::{CapacityUnit, Fallback, SortBy, SplitPolicy};
use super::order::OrderToRoute;
use super::{
    DeliveryMethod, GeoPoint, LineNeed, Network, Node, NodeType, RuleSet, ShippingService, describe_lines, promise,
};

/// Units each node can promise of a SKU (the ATP read model, or a test's table).
pub trait StockLevels {
    /// Calls `visit(node_id, available)` for each node with a figure for `sku`; nodes not
    /// visited have none.
    fn visit(&self, sku: &str, visit: &mut dyn FnMut(&str, i64));
}

impl StockLevels for HashMap<String, HashMap<String, i64>> {
    fn visit(&self, sku: &str, visit: &mut dyn FnMut(&str, i64)) {
        if let Some(nodes) = self.get(sku) {
            for (node, available) in nodes {
                visit(node, *available);
            }
        }
    }
}

/// Stock levels with the ledger's word on top: (SKU, node) → units it has, when it said
/// fewer than the levels.
pub struct Corrected<'a> {
    pub stock: &'a dyn StockLevels,
    pub short: &'a HashMap<(String, String), i64>,
}

impl StockLevels for Corrected<'_> {
    fn visit(&self, sku: &str, visit: &mut dyn FnMut(&str, i64)) {
        if self.short.is_empty() {
            return self.stock.visit(sku, visit);
        }
        self.stock.visit(sku, &mut |node, available| {
            let corrected = self
                .short
                .get(&(sku.to_owned(), node.to_owned()))
                .map_or(available, |&ledger| ledger.min(available));
            visit(node, corrected);
        });
    }
}

/// Capacity a node has used on one of its local days.
pub trait CapacityUsage {
    fn used(&self, node_id: &str, day: NaiveDate) -> u32;
}

impl CapacityUsage for HashMap<(String, NaiveDate), u32> {
    fn used(&self, node_id: &str, day: NaiveDate) -> u32 {
        self.get(&(node_id.to_owned(), day)).copied().unwrap_or(0)
    }
}

/// What to route.
pub struct PlanRequest<'a> {
    pub order: &'a OrderToRoute,
    /// The units that need a node.
    pub lines: &'a [LineNeed],
    /// Nodes that rejected or dropped the order before.
    pub rejected_by: &'a BTreeSet<String>,
    /// Nodes this attempt may not use (the ledger refused them a moment ago).
    pub unusable: &'a BTreeSet<String>,
    pub now: DateTime<Utc>,
}

/// One node considered, and why it won or lost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateRecord {
    pub node_id: String,
    pub eligible: bool,
    pub reason: String,
    pub distance_km: Option<f64>,
    /// Lines it could fulfil in full.
    pub covers_lines: Vec<String>,
    pub chosen: bool,
    /// Place in the ranking (1 is best); 0 when not eligible.
    pub rank: u32,
}

/// The reasons of a decision, kept for GetDecision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRecord {
    pub attempt: u32,
    /// The rule set that decided; empty when none applied.
    pub rule_set: String,
    pub outcome: String,
    /// The ranked candidates and the most telling exclusions.
    pub candidates: Vec<CandidateRecord>,
    /// Every node left out (named above or not), counted by why.
    pub excluded: BTreeMap<String, u32>,
    /// What happened with rule sets tried before the deciding one.
    pub notes: Vec<String>,
    pub decided_at: DateTime<Utc>,
}

/// Units for one node.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedAllocation {
    pub node_id: String,
    pub node_type: NodeType,
    pub lines: Vec<LineNeed>,
    pub expected_at: Option<DateTime<Utc>>,
    pub capacity_day: NaiveDate,
    pub capacity_used: u32,
}

/// What happens to units no node gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unrouted {
    /// Nothing is left over.
    Nothing,
    /// Wait for supply; with a date, give up then.
    Backorder { give_up_at: Option<DateTime<Utc>> },
    /// A person decides (parked for review, or no rule set applies).
    Review,
    /// The backorder waited as long as its rule set allows.
    GiveUp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub allocations: Vec<PlannedAllocation>,
    pub unallocated: Vec<LineNeed>,
    pub unrouted: Unrouted,
    pub reason: String,
    pub decision: DecisionRecord,
}

/// How many ranked candidates and named exclusions a decision keeps.
const CANDIDATES_KEPT: usize = 20;

/// Decides where the order's open lines go.
pub fn plan(
    network: &Network,
    request: &PlanRequest<'_>,
    stock: &dyn StockLevels,
    capacity: &dyn CapacityUsage,
) -> Plan {
    let matrix = StockMatrix::new(network, request.lines, stock);
    let destination = Destination::of(network, request.order);
    let mut notes = Vec::new();
    let rule_sets = network.rule_sets();
    let mut any_applied = false;
    for rules in rule_sets.iter() {
        if !applies(rules, request.order, &destination) {
            continue;
        }
        any_applied = true;
        let evaluation = evaluate(network, rules, request, &destination, &matrix, capacity);
        let chosen = allocate(rules, request.lines, &evaluation.ranked);
        let unallocated = left_over(request.lines, &chosen);
        if unallocated.is_empty() {
            return finish(
                network,
                request,
                rules,
                evaluation,
                chosen,
                unallocated,
                Unrouted::Nothing,
                notes,
                String::new(),
            );
        }
        let (unrouted, reason) = match rules.otherwise {
            Fallback::NextRuleSet => {
                notes.push(format!(
                    "rule set {:?} left {} unrouted; next rule set",
                    rules.name,
                    describe_lines(&unallocated)
                ));
                continue;
            }
            Fallback::Backorder => (
                Unrouted::Backorder { give_up_at: None },
                format!("no node can fulfil {} now", describe_lines(&unallocated)),
            ),
            Fallback::ParkForReview => (
                Unrouted::Review,
                format!(
                    "parked for review by rule set {:?}: no node can fulfil {}",
                    rules.name,
                    describe_lines(&unallocated)
                ),
            ),
            Fallback::CancelAfterDays => {
                let give_up_at = request.order.placed_at + Duration::days(i64::from(rules.cancel_after_days));
                if request.now >= give_up_at {
                    (
                        Unrouted::GiveUp,
                        format!(
                            "no supply for {} within {} days",
                            describe_lines(&unallocated),
                            rules.cancel_after_days
                        ),
                    )
                } else {
                    (
                        Unrouted::Backorder {
                            give_up_at: Some(give_up_at),
                        },
                        format!(
                            "no node can fulfil {} now; waiting until {give_up_at}",
                            describe_lines(&unallocated)
                        ),
                    )
                }
            }
        };
        return finish(
            network,
            request,
            rules,
            evaluation,
            chosen,
            unallocated,
            unrouted,
            notes,
            reason,
        );
    }
    let (unrouted, reason) = if any_applied {
        (
            Unrouted::Backorder { give_up_at: None },
            "no rule set could route every line".to_owned(),
        )
    } else {
        (Unrouted::Review, "no rule set applies to this order".to_owned())
    };
    Plan {
        allocations: Vec::new(),
        unallocated: request.lines.to_vec(),
        unrouted,
        reason: reason.clone(),
        decision: DecisionRecord {
            attempt: 0,
            rule_set: String::new(),
            outcome: reason,
            candidates: Vec::new(),
            excluded: BTreeMap::new(),
            notes,
            decided_at: request.now,
        },
    }
}

// ---------------------------------------------------------------------------------------

/// Available units per (node, line), filled from the sparse stock levels.
struct StockMatrix<'a> {
    lines: &'a [LineNeed],
    available: Vec<i64>,
}

impl<'a> StockMatrix<'a> {
    fn new(network: &Network, lines: &'a [LineNeed], stock: &dyn StockLevels) -> Self {
        let width = lines.len();
        let mut available = vec![0; network.nodes().len() * width];
        for (j, line) in lines.iter().enumerate() {
            if lines[..j].iter().any(|l| l.sku == line.sku) {
                // A second line of the same SKU shares the first one's stock.
                let first = lines.iter().position(|l| l.sku == line.sku).unwrap_or(j);
                for i in 0..network.nodes().len() {
                    available[i * width + j] = available[i * width + first];
                }
                continue;
            }
            stock.visit(&line.sku, &mut |node, units| {
                if let Some(i) = network.index_of(node) {
                    available[i * width + j] = units;
                }
            });
        }
        Self { lines, available }
    }

    fn at(&self, node: usize, line: usize) -> i64 {
        self.available[node * self.lines.len() + line]
    }
}

struct Destination {
    point: Option<GeoPoint>,
    region: String,
}

impl Destination {
    fn of(network: &Network, order: &OrderToRoute) -> Self {
        if order.delivery_method.is_pickup() {
            let node = network.node(&order.pickup_location_id);
            Destination {
                point: node.and_then(|n| n.location),
                region: node.map(|n| n.region.clone()).unwrap_or_default(),
            }
        } else {
            let address = order.shipping_address.as_ref();
            Destination {
                point: address.and_then(|a| a.location),
                region: address.map(|a| a.region_code()).unwrap_or_default(),
            }
        }
    }
}

fn applies(rules: &RuleSet, order: &OrderToRoute, destination: &Destination) -> bool {
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
struct Candidate {
    node: usize,
    distance: Option<f64>,
    /// Units it may give of each line (above the rule set's keep-units).
    usable: Vec<i64>,
    /// Capacity left today, in the node's unit; `u32::MAX` when unlimited.
    headroom: u32,
    units_capacity: bool,
    cost: i64,
    balance: i64,
}

struct Evaluation {
    ranked: Vec<Candidate>,
    excluded: BTreeMap<String, u32>,
    /// Nodes left out that had stock, with why.
    telling: Vec<CandidateRecord>,
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
        DeliveryMethod::SameDay => {
            if !caps.ship || caps.same_day_radius_km <= 0.0 {
                return cannot("deliver same-day");
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
        _ => Ok(()),
    }
}

fn evaluate(
    network: &Network,
    rules: &RuleSet,
    request: &PlanRequest<'_>,
    destination: &Destination,
    matrix: &StockMatrix<'_>,
    capacity: &dyn CapacityUsage,
) -> Evaluation {
    let filter = &rules.eligible;
    let width = request.lines.len();
    let mut ranked = Vec::new();
    let mut excluded: BTreeMap<String, u32> = BTreeMap::new();
    let mut telling = Vec::new();
    for (i, node) in network.nodes().iter().enumerate() {
        let static_reason = if !node.active {
            Some("inactive")
        } else if !filter.node_types.is_empty() && !filter.node_types.contains(&node.node_type) {
            Some("node type not in rule set")
        } else if !filter.groups.is_empty() && !node.groups.iter().any(|g| filter.groups.contains(g)) {
            Some("not in the rule set's groups")
        } else if filter.exclude.contains(&node.node_id) {
            Some("excluded by rule set")
        } else {
            None
        };
        if let Some(kind) = static_reason {
            *excluded.entry(kind.to_owned()).or_default() += 1;
            continue;
        }
        let usable: Vec<i64> = (0..width)
            .map(|j| (matrix.at(i, j) - rules.keep_units).max(0))
            .collect();
        let has_stock = usable.iter().any(|&u| u > 0);
        let distance = match (&node.location, &destination.point) {
            (Some(a), Some(b)) => Some(a.distance_km(b)),
            _ => None,
        };
        let mut exclude = |kind: &str, reason: String, telling: &mut Vec<CandidateRecord>| {
            *excluded.entry(kind.to_owned()).or_default() += 1;
            if has_stock && telling.len() < CANDIDATES_KEPT {
                telling.push(CandidateRecord {
                    node_id: node.node_id.clone(),
                    eligible: false,
                    reason,
                    distance_km: distance,
                    covers_lines: Vec::new(),
                    chosen: false,
                    rank: 0,
                });
            }
        };
        if request.rejected_by.contains(&node.node_id) {
            exclude(
                "rejected this order",
                "rejected this order before".to_owned(),
                &mut telling,
            );
            continue;
        }
        if request.unusable.contains(&node.node_id) {
            exclude(
                "refused by the ledger",
                "the ledger refused a reservation".to_owned(),
                &mut telling,
            );
            continue;
        }
        if !has_stock {
            let kind = if rules.keep_units > 0 {
                "below keep-units"
            } else {
                "no stock"
            };
            *excluded.entry(kind.to_owned()).or_default() += 1;
            continue;
        }
        if let Err((kind, reason)) = serves(node, request.order, distance, request.now) {
            exclude(kind, reason, &mut telling);
            continue;
        }
        if filter.radius_km > 0.0
            && let Some(d) = distance
            && d > filter.radius_km
        {
            exclude(
                "outside radius",
                format!("{d:.1} km away, rule set allows {:.1} km", filter.radius_km),
                &mut telling,
            );
            continue;
        }
        let headroom = if node.capacity.per_day == 0 {
            u32::MAX
        } else {
            let (day, _) = promise::local(node, request.now);
            node.capacity.per_day.saturating_sub(capacity.used(&node.node_id, day))
        };
        if headroom == 0 {
            let unit = match node.capacity.unit {
                CapacityUnit::Orders => "orders",
                CapacityUnit::Units => "units",
            };
            exclude(
                "at capacity",
                format!(
                    "at capacity: {} of {} {unit} today",
                    node.capacity.per_day, node.capacity.per_day
                ),
                &mut telling,
            );
            continue;
        }
        let cost = match service_of(request.order.delivery_method) {
            None => 0,
            Some(service) => node.carrier(service).map_or(i64::MAX / 2, |c| c.rate_minor),
        };
        let balance = (0..width)
            .filter(|&j| usable[j] >= request.lines[j].quantity)
            .map(|j| matrix.at(i, j) - request.lines[j].quantity)
            .min()
            .unwrap_or(i64::MIN);
        ranked.push(Candidate {
            node: i,
            distance,
            usable,
            headroom,
            units_capacity: node.capacity.unit == CapacityUnit::Units && node.capacity.per_day > 0,
            cost,
            balance,
        });
    }
    let nodes = network.nodes();
    ranked.sort_by(|a, b| {
        sort_order(rules)
            .iter()
            .map(|criterion| compare(*criterion, a, b, nodes))
            .find(|order| *order != Ordering::Equal)
            .unwrap_or_else(|| nodes[a.node].node_id.cmp(&nodes[b.node].node_id))
    });
    Evaluation {
        ranked,
        excluded,
        telling,
    }
}

/// The criteria a rule set ranks candidates by.
fn sort_order(rules: &RuleSet) -> Cow<'_, [SortBy]> {
    if rules.sort.is_empty() {
        Cow::Owned(vec![SortBy::Distance, SortBy::NodePriority])
    } else {
        Cow::Borrowed(&rules.sort)
    }
}

/// How `a` and `b` rank by one criterion (`Less`: `a` is better).
fn compare(criterion: SortBy, a: &Candidate, b: &Candidate, nodes: &[Node]) -> Ordering {
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

/// Why `chosen` ranked above `next`, in the words of the rule that decided: the first of
/// the rule set's criteria on which they differ, with both figures.
fn why_ahead(rules: &RuleSet, chosen: &Candidate, next: Option<&Candidate>, nodes: &[Node]) -> String {
    let Some(next) = next else {
        return "the only node left that has the stock and can serve the order".to_owned();
    };
    let next_id = &nodes[next.node].node_id;
    let km = |c: &Candidate| {
        c.distance
            .map_or_else(|| "distance unknown".to_owned(), |d| format!("{d:.1} km"))
    };
    let deciding = sort_order(rules)
        .iter()
        .copied()
        .find(|criterion| compare(*criterion, chosen, next, nodes) != Ordering::Equal);
    match deciding {
        Some(SortBy::Distance) => format!("nearest with stock: {}, next {next_id} {}", km(chosen), km(next)),
        Some(SortBy::NodePriority) => format!(
            "first by node priority: {}, next {next_id} {} ({})",
            nodes[chosen.node].priority,
            nodes[next.node].priority,
            km(chosen)
        ),
        Some(SortBy::ShippingCost) => format!(
            "cheapest to ship: {} (minor units), next {next_id} {} ({})",
            chosen.cost,
            next.cost,
            km(chosen)
        ),
        Some(SortBy::StockBalance) => format!(
            "most stock left after the order: {}, next {next_id} {} ({})",
            chosen.balance,
            next.balance,
            km(chosen)
        ),
        Some(SortBy::CapacityHeadroom) => format!(
            "most capacity left today: {}, next {next_id} {} ({})",
            chosen.headroom,
            next.headroom,
            km(chosen)
        ),
        None => format!(
            "level with {next_id} on every criterion; first by node id ({})",
            km(chosen)
        ),
    }
}

/// Units a candidate gives, per line of the request.
type Chosen = Vec<(usize, Vec<i64>)>;

/// Tracks what the allocation so far took from each candidate, so two lines of the same
/// SKU never count the same units twice and a unit-capacity node is not overfilled.
struct Taking<'a> {
    lines: &'a [LineNeed],
    ranked: &'a [Candidate],
    chosen: Chosen,
}

impl<'a> Taking<'a> {
    fn slot(&self, candidate: usize) -> Option<usize> {
        self.chosen.iter().position(|(c, _)| *c == candidate)
    }

    /// Units of line `j` candidate `c` can still give.
    fn room(&self, c: usize, j: usize) -> i64 {
        let candidate = &self.ranked[c];
        let sku = &self.lines[j].sku;
        let (taken_sku, taken_total) = match self.slot(c) {
            None => (0, 0),
            Some(s) => {
                let units = &self.chosen[s].1;
                let sku_taken = (0..self.lines.len())
                    .filter(|&k| &self.lines[k].sku == sku)
                    .map(|k| units[k])
                    .sum::<i64>();
                (sku_taken, units.iter().sum::<i64>())
            }
        };
        let mut room = candidate.usable[j] - taken_sku;
        if candidate.units_capacity {
            room = room.min(i64::from(candidate.headroom) - taken_total);
        }
        room.max(0)
    }

    fn give(&mut self, c: usize, j: usize, units: i64) {
        let s = match self.slot(c) {
            Some(s) => s,
            None => {
                self.chosen.push((c, vec![0; self.lines.len()]));
                self.chosen.len() - 1
            }
        };
        self.chosen[s].1[j] += units;
    }
}

fn allocate(rules: &RuleSet, lines: &[LineNeed], ranked: &[Candidate]) -> Chosen {
    let max = if rules.max_shipments == 0 {
        usize::MAX
    } else {
        rules.max_shipments as usize
    };
    let mut taking = Taking {
        lines,
        ranked,
        chosen: Vec::new(),
    };
    match rules.split {
        SplitPolicy::ShipComplete => {
            let all = |taking: &Taking<'_>, c: usize| {
                // Units of each SKU the whole order wants, within the node's room.
                let mut wanted: HashMap<&str, i64> = HashMap::new();
                for line in lines {
                    *wanted.entry(line.sku.as_str()).or_default() += line.quantity;
                }
                let total: i64 = lines.iter().map(|l| l.quantity).sum();
                let candidate = &ranked[c];
                lines
                    .iter()
                    .enumerate()
                    .all(|(j, line)| taking.room(c, j) >= wanted[line.sku.as_str()])
                    && (!candidate.units_capacity || i64::from(candidate.headroom) >= total)
            };
            if let Some(c) = (0..ranked.len()).find(|&c| all(&taking, c)) {
                for (j, line) in lines.iter().enumerate() {
                    taking.give(c, j, line.quantity);
                }
            }
        }
        SplitPolicy::AllowSplit => {
            for (j, line) in lines.iter().enumerate() {
                let open = |taking: &Taking<'_>, c: usize| taking.slot(c).is_some() || taking.chosen.len() < max;
                if let Some(c) = (0..ranked.len()).find(|&c| open(&taking, c) && taking.room(c, j) >= line.quantity) {
                    taking.give(c, j, line.quantity);
                    continue;
                }
                // No node has the whole line: take it from several, best first.
                let mut left = line.quantity;
                for c in 0..ranked.len() {
                    if left == 0 {
                        break;
                    }
                    if !open(&taking, c) {
                        continue;
                    }
                    let units = taking.room(c, j).min(left);
                    if units > 0 {
                        taking.give(c, j, units);
                        left -= units;
                    }
                }
            }
        }
        SplitPolicy::FewestShipments => {
            let mut open: Vec<usize> = (0..lines.len()).collect();
            while !open.is_empty() && taking.chosen.len() < max {
                let covered = |taking: &Taking<'_>, c: usize| {
                    open.iter().filter(|&&j| taking.room(c, j) >= lines[j].quantity).count()
                };
                let best = (0..ranked.len())
                    .filter(|&c| taking.slot(c).is_none())
                    .map(|c| (covered(&taking, c), c))
                    .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
                let Some((_, c)) = best.filter(|(count, _)| *count > 0) else {
                    break;
                };
                let mut given = Vec::new();
                for &j in &open {
                    if taking.room(c, j) >= lines[j].quantity {
                        taking.give(c, j, lines[j].quantity);
                        given.push(j);
                    }
                }
                open.retain(|j| !given.contains(j));
            }
        }
    }
    taking.chosen
}

fn left_over(lines: &[LineNeed], chosen: &Chosen) -> Vec<LineNeed> {
    lines
        .iter()
        .enumerate()
        .filter_map(|(j, line)| {
            let given: i64 = chosen.iter().map(|(_, units)| units[j]).sum();
            (line.quantity > given)
                .then(|| LineNeed::new(line.line_id.clone(), line.sku.clone(), line.quantity - given))
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn finish(
    network: &Network,
    request: &PlanRequest<'_>,
    rules: &RuleSet,
    evaluation: Evaluation,
    chosen: Chosen,
    unallocated: Vec<LineNeed>,
    unrouted: Unrouted,
    notes: Vec<String>,
    reason: String,
) -> Plan {
    let nodes = network.nodes();
    let lines = request.lines;
    let allocations: Vec<PlannedAllocation> = chosen
        .iter()
        .map(|(c, units)| {
            let candidate = &evaluation.ranked[*c];
            let node = &nodes[candidate.node];
            let given: Vec<LineNeed> = lines
                .iter()
                .zip(units)
                .filter(|(_, units)| **units > 0)
                .map(|(line, units)| LineNeed::new(line.line_id.clone(), line.sku.clone(), *units))
                .collect();
            let (capacity_day, _) = promise::local(node, request.now);
            let capacity_used = match node.capacity.unit {
                CapacityUnit::Orders => 1,
                CapacityUnit::Units => u32::try_from(given.iter().map(|l| l.quantity).sum::<i64>()).unwrap_or(u32::MAX),
            };
            PlannedAllocation {
                node_id: node.node_id.clone(),
                node_type: node.node_type,
                lines: given,
                expected_at: promise::expected_at(node, request.order.delivery_method, request.now),
                capacity_day,
                capacity_used,
            }
        })
        .collect();
    let mut candidates: Vec<CandidateRecord> = evaluation
        .ranked
        .iter()
        .enumerate()
        .take(CANDIDATES_KEPT)
        .map(|(rank, candidate)| {
            let node = &nodes[candidate.node];
            let covers_lines: Vec<String> = lines
                .iter()
                .enumerate()
                .filter(|(j, line)| candidate.usable[*j] >= line.quantity)
                .map(|(_, line)| line.line_id.clone())
                .collect();
            let given = chosen
                .iter()
                .find(|(c, _)| evaluation.ranked[*c].node == candidate.node);
            let distance = candidate
                .distance
                .map_or_else(|| "distance unknown".to_owned(), |d| format!("{d:.1} km"));
            let reason = match given {
                Some((_, units)) => {
                    let got: Vec<&str> = lines
                        .iter()
                        .zip(units)
                        .filter(|(_, u)| **u > 0)
                        .map(|(l, _)| l.line_id.as_str())
                        .collect();
                    let next = evaluation.ranked.get(rank + 1);
                    format!(
                        "chosen for lines {}: {}",
                        got.join(", "),
                        why_ahead(rules, candidate, next, nodes)
                    )
                }
                None if covers_lines.len() < lines.len() && rules.split == SplitPolicy::ShipComplete => format!(
                    "has {} of {} lines, the rule set ships complete ({distance})",
                    covers_lines.len(),
                    lines.len()
                ),
                None => format!("ranked {} ({distance}); better nodes took the lines", rank + 1),
            };
            CandidateRecord {
                node_id: node.node_id.clone(),
                eligible: true,
                reason,
                distance_km: candidate.distance,
                covers_lines,
                chosen: given.is_some(),
                rank: u32::try_from(rank + 1).unwrap_or(u32::MAX),
            }
        })
        .collect();
    let mut excluded = evaluation.excluded;
    let not_listed = evaluation.ranked.len().saturating_sub(CANDIDATES_KEPT);
    if not_listed > 0 {
        *excluded.entry("ranked lower".to_owned()).or_default() += u32::try_from(not_listed).unwrap_or(u32::MAX);
    }
    candidates.extend(evaluation.telling);
    let outcome = match (allocations.is_empty(), unrouted) {
        (_, Unrouted::Nothing) => format!("routed to {}", node_list(&allocations)),
        (true, Unrouted::Backorder { .. }) => "backordered".to_owned(),
        (false, Unrouted::Backorder { .. }) => format!("routed to {}, rest backordered", node_list(&allocations)),
        (_, Unrouted::Review) => "parked for review".to_owned(),
        (_, Unrouted::GiveUp) => "gave up".to_owned(),
    };
    Plan {
        allocations,
        unallocated,
        unrouted,
        reason,
        decision: DecisionRecord {
            attempt: 0,
            rule_set: rules.name.clone(),
            outcome,
            candidates,
            excluded,
            notes,
            decided_at: request.now,
        },
    }
}

fn node_list(allocations: &[PlannedAllocation]) -> String {
    allocations
        .iter()
        .map(|a| a.node_id.as_str())
        .collect::<Vec<_>>()
        .join(" + ")
}
