//! The fulfilment network: the nodes that hold stock and what each of them can do, and the
//! rule sets that decide among them. Both are data a retailer edits (admin API or a JSON
//! file); the serde form of these types is that file's format (the kernel's kinds by their
//! codes: `click_and_collect`, `three_pl`, `call_centre`).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::{Channel, DeliveryMethod, GeoPoint, LocationId, NodeType, Priority, Violations};

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Capabilities {
    pub ship: bool,
    pub click_and_collect: bool,
    pub curbside: bool,
    /// Delivers to parcel lockers.
    pub locker: bool,
    /// Same-day delivery within this radius; 0: none.
    pub same_day_radius_km: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CapacityUnit {
    #[default]
    Orders,
    Units,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Capacity {
    /// Per local day; 0: unlimited.
    pub per_day: u32,
    pub unit: CapacityUnit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShippingService {
    Standard,
    Express,
    SameDay,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CarrierService {
    pub carrier: String,
    pub service: ShippingService,
    pub transit_days: u32,
    /// Cost of one shipment, in minor units of `currency`.
    pub rate_minor: i64,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub node_id: LocationId,
    #[serde(rename = "type")]
    pub node_type: NodeType,
    #[serde(default)]
    pub name: String,
    pub location: Option<GeoPoint>,
    /// Country and subdivision, e.g. "DE-BE".
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub capabilities: Capabilities,
    #[serde(default)]
    pub capacity: Capacity,
    /// Orders routed before this minute of the local day ship the same day; 0: no cut-off
    /// before closing.
    #[serde(default)]
    pub cutoff_minute: u32,
    #[serde(default)]
    pub opens_minute: u32,
    /// 0: open all day.
    #[serde(default)]
    pub closes_minute: u32,
    #[serde(default)]
    pub utc_offset_minutes: i32,
    /// Lower wins when rules sort by node priority.
    #[serde(default)]
    pub priority: i32,
    #[serde(default)]
    pub carriers: Vec<CarrierService>,
    /// Hours from an order to its units being ready for pickup.
    #[serde(default)]
    pub handling_hours: u32,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

impl Node {
    /// The carrier service of `service` with the lowest rate.
    pub fn carrier(&self, service: ShippingService) -> Option<&CarrierService> {
        self.carriers
            .iter()
            .filter(|c| c.service == service)
            .min_by_key(|c| c.rate_minor)
    }

    /// Every field that is wrong, under `field` (the node itself when empty).
    pub fn violations(&self, field: &str) -> Violations {
        let at = |name: &str| {
            if field.is_empty() {
                name.to_owned()
            } else {
                format!("{field}.{name}")
            }
        };
        let mut bad = Violations::new();
        bad.require(self.node_id.as_str(), at("node_id"));
        if let Some(point) = &self.location {
            point.check(&at("location"), &mut bad);
        }
        for (name, minute) in [
            ("cutoff_minute", self.cutoff_minute),
            ("opens_minute", self.opens_minute),
            ("closes_minute", self.closes_minute),
        ] {
            bad.check(minute >= 24 * 60, at(name), "must be a minute of the day (0-1439)");
        }
        bad.check(
            self.utc_offset_minutes.abs() > 14 * 60,
            at("utc_offset_minutes"),
            "must be within ±840",
        );
        let radius = self.capabilities.same_day_radius_km;
        bad.check(
            !(radius >= 0.0 && radius.is_finite()),
            at("capabilities.same_day_radius_km"),
            "must be 0 or more",
        );
        for (i, carrier) in self.carriers.iter().enumerate() {
            bad.require(&carrier.carrier, at(&format!("carriers[{i}].carrier")));
            bad.check(
                carrier.rate_minor < 0,
                at(&format!("carriers[{i}].rate_minor")),
                "cannot be negative",
            );
        }
        bad
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortBy {
    Distance,
    /// More units left after this order first: spreads the load and keeps thin stock.
    StockBalance,
    NodePriority,
    ShippingCost,
    CapacityHeadroom,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitPolicy {
    /// One node fulfils every line, or none does.
    ShipComplete,
    /// Each line goes to the best node that has it; a line no node has in full is split.
    #[default]
    AllowSplit,
    /// As few nodes as can cover the order.
    FewestShipments,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fallback {
    NextRuleSet,
    #[default]
    Backorder,
    ParkForReview,
    /// Backorder, and give up after the rule set's `cancel_after_days`.
    CancelAfterDays,
}

/// Which orders a rule set is for; an empty list matches everything.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OrderFilter {
    pub channels: Vec<Channel>,
    pub delivery_methods: Vec<DeliveryMethod>,
    pub priorities: Vec<Priority>,
    pub min_value_minor: i64,
    /// 0: no maximum.
    pub max_value_minor: i64,
    /// Destination country ("DE") or region ("DE-BE") prefixes.
    pub regions: Vec<String>,
}

/// Which nodes a rule set may choose; an empty list allows everything.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeFilter {
    pub node_types: Vec<NodeType>,
    pub groups: Vec<String>,
    /// 0: any distance.
    pub radius_km: f64,
    pub exclude: Vec<LocationId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleSet {
    pub name: String,
    #[serde(default)]
    pub applies_to: OrderFilter,
    #[serde(default)]
    pub eligible: NodeFilter,
    /// A node is a candidate for a line only if it keeps at least this many units after it.
    #[serde(default)]
    pub keep_units: i64,
    #[serde(default)]
    pub sort: Vec<SortBy>,
    #[serde(default)]
    pub split: SplitPolicy,
    /// 0: as many as needed.
    #[serde(default)]
    pub max_shipments: u32,
    #[serde(default)]
    pub otherwise: Fallback,
    #[serde(default)]
    pub cancel_after_days: u32,
}

impl RuleSet {
    /// What routing does with no rule sets configured: any active node, nearest first,
    /// split when needed, backorder the rest.
    pub fn default_rules() -> RuleSet {
        RuleSet {
            name: "default".to_owned(),
            applies_to: OrderFilter::default(),
            eligible: NodeFilter::default(),
            keep_units: 0,
            sort: vec![SortBy::Distance, SortBy::NodePriority],
            split: SplitPolicy::AllowSplit,
            max_shipments: 0,
            otherwise: Fallback::Backorder,
            cancel_after_days: 0,
        }
    }

    /// Every field that is wrong, under `field`.
    pub fn violations(&self, field: &str) -> Violations {
        let mut bad = Violations::new();
        bad.require(&self.name, format!("{field}.name"));
        bad.check(self.keep_units < 0, format!("{field}.keep_units"), "cannot be negative");
        let radius = self.eligible.radius_km;
        bad.check(
            !(radius >= 0.0 && radius.is_finite()),
            format!("{field}.eligible.radius_km"),
            "must be 0 or more",
        );
        let values = &self.applies_to;
        bad.check(
            values.max_value_minor != 0 && values.max_value_minor < values.min_value_minor,
            format!("{field}.applies_to.max_value_minor"),
            "is below min_value_minor",
        );
        bad.check(
            self.otherwise == Fallback::CancelAfterDays && self.cancel_after_days == 0,
            format!("{field}.cancel_after_days"),
            "must be 1 or more when otherwise is cancel_after_days",
        );
        bad
    }
}

/// Every node, kept in a vector (the planner walks it) with an index by id.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Network {
    nodes: Vec<Node>,
    index: HashMap<LocationId, usize>,
    rule_sets: Vec<RuleSet>,
}

/// The network as a file holds it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NetworkDocument {
    #[serde(default)]
    pub nodes: Vec<Node>,
    #[serde(default)]
    pub rule_sets: Vec<RuleSet>,
}

impl NetworkDocument {
    /// Every field that is wrong (node ids must be unique).
    pub fn violations(&self) -> Violations {
        let mut bad = Violations::new();
        let mut seen = BTreeMap::new();
        for (i, node) in self.nodes.iter().enumerate() {
            bad.extend(node.violations(&format!("nodes[{i}]")));
            if let Some(first) = seen.insert(&node.node_id, i) {
                bad.add(
                    format!("nodes[{i}].node_id"),
                    format!("{} is also nodes[{first}]", node.node_id),
                );
            }
        }
        bad.extend(rule_set_violations(&self.rule_sets));
        bad
    }
}

/// What is wrong with a list of rule sets (names must be unique: decisions cite them).
pub fn rule_set_violations(rule_sets: &[RuleSet]) -> Violations {
    let mut bad = Violations::new();
    let mut names = BTreeMap::new();
    for (i, rules) in rule_sets.iter().enumerate() {
        bad.extend(rules.violations(&format!("rule_sets[{i}]")));
        if let Some(first) = names.insert(&rules.name, i) {
            bad.add(
                format!("rule_sets[{i}].name"),
                format!("{} is also rule_sets[{first}]", rules.name),
            );
        }
    }
    bad
}

impl Network {
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn node(&self, node_id: &str) -> Option<&Node> {
        self.index.get(node_id).map(|&i| &self.nodes[i])
    }

    pub fn index_of(&self, node_id: &str) -> Option<usize> {
        self.index.get(node_id).copied()
    }

    /// The rule sets in the order they are tried; the default when none are configured.
    pub fn rule_sets(&self) -> std::borrow::Cow<'_, [RuleSet]> {
        if self.rule_sets.is_empty() {
            std::borrow::Cow::Owned(vec![RuleSet::default_rules()])
        } else {
            std::borrow::Cow::Borrowed(&self.rule_sets)
        }
    }

    pub fn configured_rule_sets(&self) -> &[RuleSet] {
        &self.rule_sets
    }

    pub fn upsert(&mut self, node: Node) {
        match self.index.get(&node.node_id) {
            Some(&i) => self.nodes[i] = node,
            None => {
                self.index.insert(node.node_id.clone(), self.nodes.len());
                self.nodes.push(node);
            }
        }
    }

    pub fn remove(&mut self, node_id: &LocationId) {
        if let Some(i) = self.index.remove(node_id) {
            self.nodes.swap_remove(i);
            if let Some(moved) = self.nodes.get(i) {
                self.index.insert(moved.node_id.clone(), i);
            }
        }
    }

    pub fn replace_rule_sets(&mut self, rule_sets: Vec<RuleSet>) {
        self.rule_sets = rule_sets;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The file's kinds are the kernel's codes, read and written as they always were.
    #[test]
    fn a_network_file_names_kinds_by_their_codes() {
        let json = serde_json::json!({
            "nodes": [{ "node_id": "3pl-halle", "type": "three_pl" }],
            "rule_sets": [{
                "name": "phone orders",
                "applies_to": {
                    "channels": ["call_centre"],
                    "delivery_methods": ["click_and_collect", "ship_to_store", "same_day"],
                    "priorities": ["urgent"]
                },
                "eligible": { "node_types": ["three_pl", "locker"] }
            }]
        });
        let Ok(document) = serde_json::from_value::<NetworkDocument>(json.clone()) else {
            panic!("the file does not read");
        };
        assert_eq!(document.nodes[0].node_type, NodeType::ThreePl);
        let filter = &document.rule_sets[0].applies_to;
        assert_eq!(filter.channels, vec![Channel::CallCentre]);
        assert_eq!(filter.delivery_methods[0], DeliveryMethod::ClickAndCollect);
        let written = serde_json::to_value(&document).unwrap_or_default();
        assert_eq!(written["nodes"][0]["type"], json["nodes"][0]["type"]);
        assert_eq!(written["rule_sets"][0]["applies_to"], {
            let mut applies_to = json["rule_sets"][0]["applies_to"].clone();
            applies_to["min_value_minor"] = 0.into();
            applies_to["max_value_minor"] = 0.into();
            applies_to["regions"] = serde_json::json!([]);
            applies_to
        });
        assert_eq!(
            written["rule_sets"][0]["eligible"]["node_types"],
            json["rule_sets"][0]["eligible"]["node_types"]
        );
    }

    #[test]
    fn removing_a_node_keeps_the_index_true() {
        let node = |id: &str| Node {
            node_id: id.into(),
            node_type: NodeType::Store,
            name: String::new(),
            location: None,
            region: String::new(),
            groups: vec![],
            capabilities: Capabilities::default(),
            capacity: Capacity::default(),
            cutoff_minute: 0,
            opens_minute: 0,
            closes_minute: 0,
            utc_offset_minutes: 0,
            priority: 0,
            carriers: vec![],
            handling_hours: 0,
            active: true,
        };
        let mut network = Network::default();
        for id in ["a", "b", "c"] {
            network.upsert(node(id));
        }
        network.remove(&"a".into());
        assert!(network.node("a").is_none());
        assert_eq!(network.node("c").map(|n| n.node_id.as_str()), Some("c"));
        assert_eq!(network.node("b").map(|n| n.node_id.as_str()), Some("b"));
        assert_eq!(network.nodes().len(), 2);
    }
}
