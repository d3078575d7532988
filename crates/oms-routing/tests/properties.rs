//! Properties of routing's decisions over random networks, stock and order histories: a
//! decision never takes more units from a node than the ledger holds there, never routes
//! more of a line than is wanted, and the state rebuilt from the log equals the live one.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, TimeZone, Utc};
use oms_eventsourcing::testing::Scenario;
use oms_eventsourcing::{Change, Changes, Decide, state_digest};
use oms_routing::domain::plan::{PlanRequest, plan};
use oms_routing::domain::{
    Address, AllocationStatus, BeginAttempt, CancelLines, Capabilities, Capacity, CapacityUnit, Channel,
    DeliveryMethod, FinishAttempt, GeoPoint, HoldOrder, ImportNetwork, JobDropped, JobId, LineNeed, LineQuantity,
    LocationId, NetworkDocument, Node, NodeType, OrderId, OrderToRoute, Priority, ReceiveOrder, ReleaseOrder,
    ReservedAllocation, Routing, RoutingEvent,
};
use proptest::prelude::*;

const SKUS: [&str; 4] = ["a", "b", "c", "d"];

fn t(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 8, 0, 0).unwrap() + Duration::minutes(minutes)
}

fn node(i: usize, latitude: f64, longitude: f64, per_day: u32) -> Node {
    Node {
        node_id: format!("n{i}").into(),
        node_type: if i == 0 { NodeType::Warehouse } else { NodeType::Store },
        name: String::new(),
        location: Some(GeoPoint { latitude, longitude }),
        region: "DE-BE".into(),
        groups: Vec::new(),
        capabilities: Capabilities {
            ship: true,
            ..Capabilities::default()
        },
        capacity: Capacity {
            per_day,
            unit: if i.is_multiple_of(2) {
                CapacityUnit::Orders
            } else {
                CapacityUnit::Units
            },
        },
        cutoff_minute: 0,
        opens_minute: 0,
        closes_minute: 0,
        utc_offset_minutes: 60,
        priority: i as i32,
        carriers: Vec::new(),
        handling_hours: 0,
        active: true,
    }
}

#[derive(Debug, Clone)]
enum Step {
    Place(Vec<(usize, i64)>),
    /// Route order k (mod orders).
    Route(usize),
    /// The node of request k (mod open requests) rejects it.
    Reject(usize),
    /// Order k cancels line 1 by q units.
    Cancel(usize, i64),
    /// Stock arrives: sku, node, units.
    Receive(usize, usize, i64),
    Hold(usize),
    Release(usize),
}

fn step(nodes: usize) -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => proptest::collection::vec((0..SKUS.len(), 1i64..4), 1..4).prop_map(Step::Place),
        4 => (0usize..50).prop_map(Step::Route),
        2 => (0usize..50).prop_map(Step::Reject),
        1 => ((0usize..50), 1i64..3).prop_map(|(k, q)| Step::Cancel(k, q)),
        2 => ((0..SKUS.len()), (0..nodes), 1i64..6).prop_map(|(s, n, q)| Step::Receive(s, n, q)),
        1 => (0usize..50).prop_map(Step::Hold),
        1 => (0usize..50).prop_map(Step::Release),
    ]
}

/// Routing as the writer folds it (the core's scenario harness), and every change.
struct World {
    live: Scenario<Routing>,
    log: Changes<RoutingEvent>,
    /// The ledger: units free to reserve per (SKU, node).
    ledger: HashMap<String, HashMap<String, i64>>,
    orders: Vec<OrderId>,
    clock: i64,
}

impl World {
    fn routing(&self) -> &Routing {
        self.live.state()
    }

    /// What `command` decides against routing as it is, at `now`.
    fn decide<C: Decide<Routing>>(&self, command: C, now: DateTime<Utc>) -> Result<Changes<RoutingEvent>, C::Refusal> {
        command.decide(self.routing(), now)
    }

    /// Records `changes` as the writer would.
    fn record(&mut self, changes: Changes<RoutingEvent>) {
        self.log.extend(changes.iter().cloned());
        let live = std::mem::replace(&mut self.live, Scenario::nothing());
        self.live = live.at(t(self.clock)).and(changes);
    }

    fn now(&mut self) -> DateTime<Utc> {
        self.clock += 1;
        t(self.clock)
    }

    fn order(&self, k: usize) -> Option<OrderId> {
        (!self.orders.is_empty()).then(|| self.orders[k % self.orders.len()].clone())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn decisions_never_take_more_than_the_ledger_holds_and_replay_equals_live(
        positions in proptest::collection::vec((52.3f64..52.7, 13.1f64..13.7, 0u32..4), 2..6),
        stock in proptest::collection::vec((0..SKUS.len(), 0usize..6, 0i64..5), 0..16),
        steps in proptest::collection::vec(step(6), 1..60),
    ) {
        let nodes: Vec<Node> = positions.iter().enumerate().map(|(i, (la, lo, cap))| node(i, *la, *lo, *cap)).collect();
        let mut world = World { live: Scenario::nothing(), log: Vec::new(), ledger: HashMap::new(), orders: Vec::new(), clock: 0 };
        let events = world.decide(ImportNetwork { document: NetworkDocument { nodes: nodes.clone(), rule_sets: Vec::new() } }, t(0)).expect("a valid network");
        world.record(events);
        for (sku, n, units) in stock {
            *world.ledger.entry(SKUS[sku].into()).or_default().entry(format!("n{}", n % nodes.len())).or_default() += units;
        }
        for step in steps {
            let now = world.now();
            match step {
                Step::Place(lines) => {
                    let id = OrderId::new(format!("o{}", world.orders.len() + 1));
                    let order = OrderToRoute {
                        order_id: id.clone(),
                        channel: Channel::Web,
                        delivery_method: DeliveryMethod::Standard,
                        priority: Priority::Normal,
                        value_minor: 1_000,
                        currency: "EUR".into(),
                        lines: lines.iter().enumerate().map(|(i, (s, q))| LineNeed::new((i + 1).to_string(), SKUS[*s], *q)).collect(),
                        shipping_address: Some(Address { country: "DE".into(), region: "BE".into(), location: Some(GeoPoint { latitude: 52.52, longitude: 13.40 }), ..Address::default() }),
                        pickup_location_id: LocationId::default(),
                        customer_name: String::new(),
                        release_at: None,
                        placed_at: now,
                    };
                    let Ok(events) = world.decide(ReceiveOrder { order }, now);
                    world.record(events);
                    world.orders.push(id);
                }
                Step::Route(k) => {
                    let Some(id) = world.order(k) else { continue };
                    let order = world.routing().order(id.as_str()).unwrap().clone();
                    let need = order.need();
                    if order.held || need.is_empty() { continue; }
                    let request = PlanRequest { order: &order.order, lines: &need, rejected_by: &order.rejected_by, unusable: &BTreeSet::new(), now };
                    let decided = plan(world.routing().network(), &request, &world.ledger, world.routing());
                    // Never more of a line than it wants.
                    for line in &need {
                        let routed: i64 = decided.allocations.iter().flat_map(|a| &a.lines).filter(|l| l.line_id == line.line_id).map(|l| l.quantity).sum();
                        let left: i64 = decided.unallocated.iter().filter(|l| l.line_id == line.line_id).map(|l| l.quantity).sum();
                        prop_assert!(routed <= line.quantity, "{line:?} routed {routed}");
                        prop_assert!(routed + left <= line.quantity);
                    }
                    // Reserve at the ledger: never more than it holds.
                    let mut reserved = Vec::new();
                    for (i, allocation) in decided.allocations.iter().enumerate() {
                        for line in &allocation.lines {
                            let free = world.ledger.get_mut(line.sku.as_str()).and_then(|n| n.get_mut(allocation.node_id.as_str()));
                            let free = free.expect("a node without the SKU was given units");
                            prop_assert!(*free >= line.quantity, "{} of {} at {} but {} free", line.quantity, line.sku, allocation.node_id, free);
                            *free -= line.quantity;
                        }
                        reserved.push(ReservedAllocation { allocation: allocation.clone(), reservation_id: format!("{id}/{}.0/{i}", order.attempt + 1).into() });
                    }
                    let reservation_ids = reserved.iter().map(|r| r.reservation_id.clone()).collect();
                    let begin = BeginAttempt { order_id: id.clone(), attempt: order.attempt, revision: order.revision, reservation_ids };
                    let events = world.decide(begin, now).expect("the attempt begins");
                    world.record(events);
                    let finish = FinishAttempt { order_id: id.clone(), attempt: order.attempt, revision: order.revision, reserved, plan: decided };
                    let events = world.decide(finish, now).expect("the attempt finishes");
                    world.record(events);
                }
                Step::Reject(k) => {
                    let open: Vec<(OrderId, JobId, Vec<LineNeed>)> = world.orders.iter().flat_map(|id| {
                        world.routing().order(id.as_str()).unwrap().allocations.iter().filter(|a| a.is_open()).map(|a| (id.clone(), a.request_id.clone(), a.lines.clone())).collect::<Vec<_>>()
                    }).collect();
                    if open.is_empty() { continue; }
                    let (_, request, lines) = open[k % open.len()].clone();
                    let node = world.routing().order_of_request(&request).unwrap().allocation(&request).unwrap().node_id.clone();
                    let Ok(events) = world.decide(JobDropped { request_id: request, lines: Vec::new(), reason: "rejected".into(), at: now }, now);
                    prop_assert!(!events.is_empty());
                    world.record(events);
                    // The ledger gets the units back.
                    for line in lines {
                        *world.ledger.entry(line.sku.to_string()).or_default().entry(node.to_string()).or_default() += line.quantity;
                    }
                }
                Step::Cancel(k, q) => {
                    let Some(id) = world.order(k) else { continue };
                    let cancel = CancelLines { order_id: id.clone(), lines: vec![LineQuantity::new("1", q)], whole_order: false, reason: "customer".into(), at: now };
                    let events = world.decide(cancel, now).unwrap();
                    for Change { event, .. } in &events {
                        if let RoutingEvent::AllocationDropped { request_id, lines, .. } = event {
                            let node = world.routing().order(id.as_str()).unwrap().allocation(request_id).unwrap().node_id.clone();
                            for line in lines {
                                *world.ledger.entry(line.sku.to_string()).or_default().entry(node.to_string()).or_default() += line.quantity;
                            }
                        }
                    }
                    world.record(events);
                }
                Step::Receive(s, n, q) => {
                    *world.ledger.entry(SKUS[s].into()).or_default().entry(format!("n{}", n % nodes.len())).or_default() += q;
                }
                Step::Hold(k) => {
                    let Some(id) = world.order(k) else { continue };
                    let events = world.decide(HoldOrder { order_id: id.clone(), at: now }, now).unwrap();
                    world.record(events);
                }
                Step::Release(k) => {
                    let Some(id) = world.order(k) else { continue };
                    let events = world.decide(ReleaseOrder { order_id: id.clone(), at: now }, now).unwrap();
                    world.record(events);
                }
            }
            // Every order's units add up: held by nodes, cancelled, waiting or given up,
            // never more than ordered.
            for id in &world.orders {
                let order = world.routing().order(id.as_str()).unwrap();
                for line in &order.order.lines {
                    let held: i64 = order.allocations.iter().filter(|a| a.status != AllocationStatus::Dropped).map(|a| a.units_of(&line.line_id)).sum();
                    let cancelled = order.cancelled.get(&line.line_id).copied().unwrap_or(0);
                    let waiting: i64 = order.backordered.iter().filter(|l| l.line_id == line.line_id).map(|l| l.quantity).sum();
                    prop_assert!(held + waiting <= line.quantity - cancelled.min(line.quantity), "{order:#?}");
                }
            }
        }
        let rebuilt = Scenario::<Routing>::given(world.log.clone());
        prop_assert_eq!(state_digest(rebuilt.state()), state_digest(world.routing()));
    }
}
