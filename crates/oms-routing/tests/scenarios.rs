//! Routing scenarios in the retailer's words, on the planner: a network written in the
//! import file's format, stock per node, and the decision with its reasons.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use oms_routing::domain::plan::{PlanRequest, plan};
use oms_routing::domain::quote::{QuoteRequest, quote};
use oms_routing::domain::{
    Address, Channel, DeliveryMethod, GeoPoint, LineNeed, LocationId, Network, NetworkDocument, OrderToRoute, Plan,
    Priority, Unrouted,
};

/// Berlin: three stores at growing distance from the customer in Mitte, a warehouse far
/// out, all shipping; the stores also offer click & collect and same-day within 10 km,
/// cut-off 14:00 local time (UTC+1).
const NETWORK: &str = r#"{
  "nodes": [
    { "node_id": "store-alexanderplatz", "type": "store", "location": { "latitude": 52.5219, "longitude": 13.4132 },
      "region": "DE-BE", "capabilities": { "ship": true, "click_and_collect": true, "same_day_radius_km": 10 },
      "capacity": { "per_day": 2, "unit": "orders" }, "cutoff_minute": 840, "utc_offset_minutes": 60,
      "carriers": [ { "carrier": "courier", "service": "same_day", "transit_days": 0, "rate_minor": 990, "currency": "EUR" },
                    { "carrier": "dhl", "service": "standard", "transit_days": 2, "rate_minor": 490, "currency": "EUR" } ] },
    { "node_id": "store-kreuzberg", "type": "store", "location": { "latitude": 52.4986, "longitude": 13.4030 },
      "region": "DE-BE", "capabilities": { "ship": true, "click_and_collect": true, "same_day_radius_km": 10 },
      "cutoff_minute": 840, "utc_offset_minutes": 60,
      "carriers": [ { "carrier": "courier", "service": "same_day", "transit_days": 0, "rate_minor": 990, "currency": "EUR" },
                    { "carrier": "dhl", "service": "standard", "transit_days": 2, "rate_minor": 490, "currency": "EUR" } ] },
    { "node_id": "store-potsdam", "type": "store", "location": { "latitude": 52.3906, "longitude": 13.0645 },
      "region": "DE-BB", "capabilities": { "ship": true, "click_and_collect": true, "same_day_radius_km": 10 },
      "cutoff_minute": 840, "utc_offset_minutes": 60,
      "carriers": [ { "carrier": "dhl", "service": "standard", "transit_days": 2, "rate_minor": 490, "currency": "EUR" } ] },
    { "node_id": "dc-erfurt", "type": "warehouse", "location": { "latitude": 50.9848, "longitude": 11.0299 },
      "region": "DE-TH", "capabilities": { "ship": true }, "utc_offset_minutes": 60,
      "carriers": [ { "carrier": "dhl", "service": "standard", "transit_days": 2, "rate_minor": 390, "currency": "EUR" },
                    { "carrier": "dhl", "service": "express", "transit_days": 1, "rate_minor": 890, "currency": "EUR" } ] }
  ]
}"#;

/// Mitte, Berlin.
const CUSTOMER: GeoPoint = GeoPoint {
    latitude: 52.5200,
    longitude: 13.4050,
};

struct World {
    network: Network,
    stock: HashMap<String, HashMap<String, i64>>,
    capacity: HashMap<(String, NaiveDate), u32>,
    now: DateTime<Utc>,
}

impl World {
    /// 10:00 local time on a Tuesday.
    fn berlin() -> Self {
        let document: NetworkDocument = serde_json::from_str(NETWORK).expect("the example network parses");
        assert!(document.violations().is_empty(), "{:?}", document.violations());
        let mut network = Network::default();
        for node in document.nodes {
            network.upsert(node);
        }
        Self {
            network,
            stock: HashMap::new(),
            capacity: HashMap::new(),
            now: Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap(),
        }
    }

    fn stock(mut self, sku: &str, node: &str, units: i64) -> Self {
        self.stock
            .entry(sku.to_owned())
            .or_default()
            .insert(node.to_owned(), units);
        self
    }

    fn rules(mut self, json: &str) -> Self {
        let document: NetworkDocument = serde_json::from_str(json).expect("rule sets parse");
        assert!(document.violations().is_empty(), "{:?}", document.violations());
        self.network.replace_rule_sets(document.rule_sets);
        self
    }

    fn route(&self, order: &OrderToRoute) -> Plan {
        self.route_avoiding(order, &BTreeSet::new())
    }

    fn route_avoiding(&self, order: &OrderToRoute, rejected_by: &BTreeSet<LocationId>) -> Plan {
        let request = PlanRequest {
            order,
            lines: &order.lines,
            rejected_by,
            unusable: &BTreeSet::new(),
            now: self.now,
        };
        plan(&self.network, &request, &self.stock, &self.capacity)
    }
}

fn order(method: DeliveryMethod, lines: &[(&str, i64)]) -> OrderToRoute {
    OrderToRoute {
        order_id: "web-1001".into(),
        channel: Channel::Web,
        delivery_method: method,
        priority: Priority::Normal,
        value_minor: 5_000,
        currency: "EUR".to_owned(),
        lines: lines
            .iter()
            .enumerate()
            .map(|(i, (sku, q))| LineNeed::new((i + 1).to_string(), *sku, *q))
            .collect(),
        shipping_address: Some(Address {
            city: "Berlin".to_owned(),
            region: "BE".to_owned(),
            country: "DE".to_owned(),
            location: Some(CUSTOMER),
            ..Address::default()
        }),
        pickup_location_id: LocationId::default(),
        customer_name: "Ada".to_owned(),
        release_at: None,
        placed_at: Utc.with_ymd_and_hms(2026, 11, 24, 8, 59, 0).unwrap(),
    }
}

/// (node, [(line, units)]) per allocation, sorted by node.
fn allocations(plan: &Plan) -> Vec<(String, Vec<(String, i64)>)> {
    let mut out: Vec<(String, Vec<(String, i64)>)> = plan
        .allocations
        .iter()
        .map(|a| {
            (
                a.node_id.to_string(),
                a.lines.iter().map(|l| (l.line_id.to_string(), l.quantity)).collect(),
            )
        })
        .collect();
    out.sort();
    out
}

fn at(node: &str, lines: &[(&str, i64)]) -> (String, Vec<(String, i64)>) {
    (
        node.to_owned(),
        lines.iter().map(|(l, q)| ((*l).to_owned(), *q)).collect(),
    )
}

fn candidate_reason<'a>(plan: &'a Plan, node: &str) -> &'a str {
    plan.decision.candidates.iter().find(|c| c.node_id == node).map_or_else(
        || panic!("{node} is not among the candidates: {:#?}", plan.decision),
        |c| c.reason.as_str(),
    )
}

#[test]
fn the_nearest_store_with_stock_wins() {
    let world = World::berlin()
        .stock("jacket-m", "store-kreuzberg", 4)
        .stock("jacket-m", "store-potsdam", 9)
        .stock("jacket-m", "dc-erfurt", 200);
    let plan = world.route(&order(DeliveryMethod::Standard, &[("jacket-m", 1)]));
    assert_eq!(allocations(&plan), vec![at("store-kreuzberg", &[("1", 1)])]);
    assert_eq!(plan.unrouted, Unrouted::Nothing);
    // The reasons: the winner and the runners-up ranked, the nearest store (no stock)
    // and the warehouse counted among the nodes left out or ranked behind.
    // The winner's reason names the rule that decided, against the runner-up.
    assert_eq!(
        candidate_reason(&plan, "store-kreuzberg"),
        "chosen for lines 1: nearest with stock: 2.4 km, next store-potsdam 27.2 km"
    );
    assert_eq!(
        plan.decision.excluded.get("no stock"),
        Some(&1),
        "{:?}",
        plan.decision.excluded
    );
    assert!(candidate_reason(&plan, "store-potsdam").contains("ranked"));
}

#[test]
fn a_store_at_capacity_is_skipped() {
    let mut world =
        World::berlin()
            .stock("jacket-m", "store-alexanderplatz", 4)
            .stock("jacket-m", "store-kreuzberg", 4);
    // Alexanderplatz takes 2 orders a day and has 2 already today.
    let today = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
    world.capacity.insert(("store-alexanderplatz".to_owned(), today), 2);
    let plan = world.route(&order(DeliveryMethod::Standard, &[("jacket-m", 1)]));
    assert_eq!(allocations(&plan), vec![at("store-kreuzberg", &[("1", 1)])]);
    assert!(candidate_reason(&plan, "store-alexanderplatz").contains("at capacity"));
    // With one order of headroom it would have won.
    world.capacity.insert(("store-alexanderplatz".to_owned(), today), 1);
    let plan = world.route(&order(DeliveryMethod::Standard, &[("jacket-m", 1)]));
    assert_eq!(allocations(&plan), vec![at("store-alexanderplatz", &[("1", 1)])]);
}

#[test]
fn ship_complete_sends_everything_from_one_node_and_split_uses_the_nearest_for_each_line() {
    let stocked = || {
        World::berlin()
            .stock("jacket-m", "store-alexanderplatz", 1)
            .stock("scarf", "store-kreuzberg", 1)
            .stock("jacket-m", "dc-erfurt", 50)
            .stock("scarf", "dc-erfurt", 50)
    };
    let two_lines = order(DeliveryMethod::Standard, &[("jacket-m", 1), ("scarf", 1)]);
    let complete = stocked()
        .rules(r#"{ "rule_sets": [ { "name": "one parcel", "sort": ["distance"], "split": "ship_complete" } ] }"#);
    let plan = complete.route(&two_lines);
    assert_eq!(allocations(&plan), vec![at("dc-erfurt", &[("1", 1), ("2", 1)])]);
    assert_eq!(plan.decision.rule_set, "one parcel");

    let split =
        stocked().rules(r#"{ "rule_sets": [ { "name": "fastest", "sort": ["distance"], "split": "allow_split" } ] }"#);
    let plan = split.route(&two_lines);
    assert_eq!(
        allocations(&plan),
        vec![
            at("store-alexanderplatz", &[("1", 1)]),
            at("store-kreuzberg", &[("2", 1)])
        ]
    );
}

#[test]
fn a_two_line_order_is_split_between_a_store_and_the_warehouse() {
    let world = World::berlin()
        .stock("jacket-m", "store-alexanderplatz", 2)
        .stock("boots-42", "dc-erfurt", 30);
    let plan = world.route(&order(DeliveryMethod::Standard, &[("jacket-m", 1), ("boots-42", 1)]));
    assert_eq!(
        allocations(&plan),
        vec![at("dc-erfurt", &[("2", 1)]), at("store-alexanderplatz", &[("1", 1)])]
    );
    assert_eq!(plan.unrouted, Unrouted::Nothing);
}

#[test]
fn a_node_that_rejected_the_order_is_passed_over_for_the_next_best() {
    let world = World::berlin()
        .stock("jacket-m", "store-alexanderplatz", 3)
        .stock("jacket-m", "store-kreuzberg", 3);
    let order = order(DeliveryMethod::Standard, &[("jacket-m", 1)]);
    assert_eq!(
        allocations(&world.route(&order)),
        vec![at("store-alexanderplatz", &[("1", 1)])]
    );
    let rejected: BTreeSet<LocationId> = ["store-alexanderplatz".into()].into();
    let plan = world.route_avoiding(&order, &rejected);
    assert_eq!(allocations(&plan), vec![at("store-kreuzberg", &[("1", 1)])]);
    assert!(candidate_reason(&plan, "store-alexanderplatz").contains("rejected"));
}

#[test]
fn an_order_nobody_can_fill_is_backordered_and_routed_once_stock_arrives() {
    let world = World::berlin();
    let order = order(DeliveryMethod::Standard, &[("limited-sneaker", 2)]);
    let plan = world.route(&order);
    assert!(plan.allocations.is_empty());
    assert!(matches!(plan.unrouted, Unrouted::Backorder { give_up_at: None }));
    assert_eq!(plan.unallocated, vec![LineNeed::new("1", "limited-sneaker", 2)]);
    // A receipt at the warehouse.
    let world = world.stock("limited-sneaker", "dc-erfurt", 12);
    assert_eq!(allocations(&world.route(&order)), vec![at("dc-erfurt", &[("1", 2)])]);
}

#[test]
fn a_rule_set_that_gives_up_backorders_with_a_deadline() {
    let world = World::berlin().rules(
        r#"{ "rule_sets": [ { "name": "marketplace", "otherwise": "cancel_after_days", "cancel_after_days": 3 } ] }"#,
    );
    let order = order(DeliveryMethod::Standard, &[("limited-sneaker", 1)]);
    let plan = world.route(&order);
    let Unrouted::Backorder {
        give_up_at: Some(deadline),
    } = plan.unrouted
    else {
        panic!("{:?}", plan.unrouted)
    };
    // Three days from when the customer ordered; after that the backorder gives up.
    assert_eq!(deadline, order.placed_at + chrono::Duration::days(3));
    let later = World { now: deadline, ..world };
    assert_eq!(later.route(&order).unrouted, Unrouted::GiveUp);
}

#[test]
fn same_day_only_from_stores_within_their_radius_and_before_cut_off() {
    let world = World::berlin()
        .stock("jacket-m", "store-potsdam", 5)
        .stock("jacket-m", "store-kreuzberg", 5);
    let same_day = order(DeliveryMethod::SameDay, &[("jacket-m", 1)]);
    // Potsdam is 25 km away: outside its 10 km radius. Kreuzberg is 2.4 km away.
    let plan = world.route(&same_day);
    assert_eq!(allocations(&plan), vec![at("store-kreuzberg", &[("1", 1)])]);
    assert!(candidate_reason(&plan, "store-potsdam").contains("same-day radius"));

    // At 15:00 local time the 14:00 cut-off has passed: nobody can deliver today.
    let late = World {
        now: Utc.with_ymd_and_hms(2026, 11, 24, 14, 0, 0).unwrap(),
        ..world
    };
    let plan = late.route(&same_day);
    assert!(plan.allocations.is_empty(), "{:?}", allocations(&plan));
    assert!(candidate_reason(&plan, "store-kreuzberg").contains("cut-off"));

    // The checkout offers same-day only before the cut-off, with express and standard
    // shipping and pickup nearby always.
    let basket = |now| QuoteRequest {
        lines: vec![("jacket-m".into(), 1)],
        destination: same_day.shipping_address.clone(),
        pickup_radius_km: 25.0,
        currency: "EUR".to_owned(),
        now,
    };
    let methods = |world: &World| -> HashSet<DeliveryMethod> {
        quote(&world.network, &basket(world.now), &world.stock, &world.capacity)
            .iter()
            .map(|o| o.method)
            .collect()
    };
    let morning = World::berlin()
        .stock("jacket-m", "store-kreuzberg", 5)
        .stock("jacket-m", "dc-erfurt", 5);
    assert!(methods(&morning).contains(&DeliveryMethod::SameDay));
    assert!(methods(&morning).contains(&DeliveryMethod::Standard));
    assert!(methods(&morning).contains(&DeliveryMethod::ClickAndCollect));
    let pickup = quote(
        &morning.network,
        &basket(morning.now),
        &morning.stock,
        &morning.capacity,
    )
    .into_iter()
    .find(|o| o.method == DeliveryMethod::ClickAndCollect)
    .expect("a click & collect option");
    assert_eq!((pickup.cost_minor, pickup.currency.as_str()), (0, "EUR"));
    let afternoon = World {
        now: Utc.with_ymd_and_hms(2026, 11, 24, 14, 0, 0).unwrap(),
        ..morning
    };
    assert!(!methods(&afternoon).contains(&DeliveryMethod::SameDay));
    assert!(methods(&afternoon).contains(&DeliveryMethod::Standard));
}

#[test]
fn rule_sets_apply_by_order_filter_and_fall_through_to_the_next() {
    let world = World::berlin()
        .stock("jacket-m", "store-alexanderplatz", 5)
        .stock("jacket-m", "dc-erfurt", 5)
        .rules(
            r#"{ "rule_sets": [
                 { "name": "marketplace from the warehouse", "applies_to": { "channels": ["marketplace"] },
                   "eligible": { "node_types": ["warehouse"] } },
                 { "name": "stores first", "eligible": { "node_types": ["store"] }, "otherwise": "next_rule_set" },
                 { "name": "anything", "sort": ["shipping_cost"] } ] }"#,
        );
    let mut marketplace = order(DeliveryMethod::Standard, &[("jacket-m", 1)]);
    marketplace.channel = Channel::Marketplace;
    let plan = world.route(&marketplace);
    assert_eq!(allocations(&plan), vec![at("dc-erfurt", &[("1", 1)])]);
    assert_eq!(plan.decision.rule_set, "marketplace from the warehouse");

    let web = order(DeliveryMethod::Standard, &[("jacket-m", 1)]);
    let plan = world.route(&web);
    assert_eq!(allocations(&plan), vec![at("store-alexanderplatz", &[("1", 1)])]);
    assert_eq!(plan.decision.rule_set, "stores first");

    // No store has it: the next rule set decides, by shipping cost.
    let world = World {
        stock: HashMap::new(),
        ..world
    }
    .stock("jacket-m", "store-potsdam", 0)
    .stock("jacket-m", "dc-erfurt", 5);
    let plan = world.route(&web);
    assert_eq!(allocations(&plan), vec![at("dc-erfurt", &[("1", 1)])]);
    assert_eq!(plan.decision.rule_set, "anything");
}
