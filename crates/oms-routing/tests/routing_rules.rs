//! Routing's rules, given/when/then: given what happened to the network and an order, when
//! order capture, a node or the router reports something, then these events (or this
//! refusal).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use oms_eventsourcing::Change;
use oms_eventsourcing::testing::{Scenario, scenario_time};
use oms_routing::domain::{
    AbandonAttempt, Address, AllocationMade, AllocationStatus, BeginAttempt, CancelLines, Capabilities, ChangeDelivery,
    ChangeShippingAddress, Channel, DecisionReasons, DecisionRecord, DeliveryMethod, FinishAttempt, GeoPoint, GiveUp,
    HoldOrder, ImportNetwork, JobAccepted, JobCompleted, JobDropped, LineNeed, LineQuantity, LocationId,
    NetworkDocument, Node, NodeDetails, NodeType, OrderDetails, OrderId, OrderToRoute, Plan, PlannedAllocation,
    Priority, ReceiveOrder, ReleaseOrder, RemoveNode, ReplaceRuleSets, ReservedAllocation, Routing, RoutingError,
    RoutingEvent, RuleSet, RuleSetDetails, Unrouted, UpsertNode,
};

type Event = Change<RoutingEvent>;

const ORDER: &str = "o-1";

fn t(minutes: i64) -> DateTime<Utc> {
    scenario_time() + Duration::minutes(minutes)
}

/// A refusal naming these (field, what is wrong), in order.
fn invalid(fields: &[(&str, &str)]) -> RoutingError {
    RoutingError::Invalid(fields.iter().map(|(f, d)| ((*f).to_owned(), (*d).to_owned())).collect())
}

fn today() -> NaiveDate {
    scenario_time().date_naive()
}

fn store(id: &str) -> Node {
    Node {
        node_id: id.into(),
        node_type: NodeType::Store,
        name: format!("Store {id}"),
        location: Some(GeoPoint {
            latitude: 52.5,
            longitude: 13.4,
        }),
        region: "DE-BE".into(),
        groups: Vec::new(),
        capabilities: Capabilities {
            ship: true,
            click_and_collect: true,
            ..Capabilities::default()
        },
        capacity: Default::default(),
        cutoff_minute: 0,
        opens_minute: 0,
        closes_minute: 0,
        utc_offset_minutes: 60,
        priority: 0,
        carriers: Vec::new(),
        handling_hours: 0,
        active: true,
    }
}

fn address(city: &str) -> Address {
    Address {
        city: city.into(),
        country: "DE".into(),
        region: "BE".into(),
        location: Some(GeoPoint {
            latitude: 52.52,
            longitude: 13.40,
        }),
        ..Address::default()
    }
}

/// Order o-1: two jackets (line 1) and a scarf (line 2), shipped to Berlin.
fn order() -> OrderToRoute {
    OrderToRoute {
        order_id: ORDER.into(),
        channel: Channel::Web,
        delivery_method: DeliveryMethod::Standard,
        priority: Priority::Normal,
        value_minor: 15_000,
        currency: "EUR".into(),
        lines: vec![LineNeed::new("1", "jacket", 2), LineNeed::new("2", "scarf", 1)],
        shipping_address: Some(address("Berlin")),
        pickup_location_id: LocationId::default(),
        customer_name: "Ada".into(),
        release_at: None,
        placed_at: t(0),
    }
}

// ---------------------------------------------------------------------------------------
// What happened.

fn on_order(event: RoutingEvent) -> Event {
    Change::new("order:o-1", event)
}

fn on_network(event: RoutingEvent) -> Event {
    Change::new("network", event)
}

fn node_set(node: &Node) -> Event {
    on_network(RoutingEvent::NodeUpserted {
        node: Box::new(NodeDetails::from(node)),
    })
}

fn received() -> Event {
    on_order(RoutingEvent::OrderReceived {
        order: Box::new(OrderDetails::from(&order())),
    })
}

/// `lines` given to `node` under request `request`.
fn allocation(request: &str, node: &str, lines: &[(&str, &str, i64)]) -> AllocationMade {
    AllocationMade {
        request_id: request.into(),
        node_id: node.into(),
        node_type: NodeType::Store,
        reservation_id: request.into(),
        lines: lines.iter().map(|(l, sku, q)| LineNeed::new(*l, *sku, *q)).collect(),
        expected_at: Some(t(60 * 48)),
        capacity_day: today(),
        capacity_used: 1,
    }
}

fn reasons(attempt: u32, outcome: &str) -> DecisionRecord {
    DecisionRecord {
        attempt,
        rule_set: "default".into(),
        outcome: outcome.into(),
        candidates: Vec::new(),
        excluded: BTreeMap::new(),
        notes: Vec::new(),
        decided_at: t(0),
    }
}

/// Attempt `attempt` routed `allocations` and backordered `backordered`.
fn routed(attempt: u32, allocations: Vec<AllocationMade>, backordered: Vec<LineNeed>) -> Event {
    on_order(RoutingEvent::Routed {
        attempt,
        allocations,
        backordered,
        give_up_at: None,
        failed: Vec::new(),
        reason: String::new(),
        reroute: false,
        decision: Box::new(DecisionReasons::from(&reasons(attempt + 1, "routed"))),
        at: t(0),
    })
}

fn dropped(request: &str, lines: Vec<LineNeed>, reason: &str, by_node: bool, at: DateTime<Utc>) -> Event {
    on_order(RoutingEvent::AllocationDropped {
        request_id: request.into(),
        lines,
        reason: reason.into(),
        exclude_node: by_node,
        give_back_capacity: true,
        at,
    })
}

/// Order o-1 with its jackets at store S1 (request r-1) and its scarf not routed yet.
fn jackets_at_s1() -> Scenario<Routing> {
    Scenario::given([
        node_set(&store("S1")),
        node_set(&store("S2")),
        received(),
        routed(0, vec![allocation("r-1", "S1", &[("1", "jacket", 2)])], Vec::new()),
    ])
}

fn order_of(scenario: &Scenario<Routing>) -> &oms_routing::domain::RoutedOrder {
    scenario.state().order(ORDER).expect("order o-1")
}

// ---------------------------------------------------------------------------------------
// What order capture reports.

#[test]
fn an_order_is_received_once_and_then_wants_routing() {
    let after = Scenario::<Routing>::nothing()
        .when(ReceiveOrder { order: order() })
        .then([received()])
        .when(ReceiveOrder { order: order() })
        .then_nothing();
    assert_eq!(after.state().routable(t(0)), vec![OrderId::new(ORDER)]);
    assert_eq!(order_of(&after).need(), order().lines);
}

#[test]
fn a_held_order_is_not_routed_until_it_is_released() {
    let hold = |at| HoldOrder {
        order_id: ORDER.into(),
        at,
    };
    let release = |at| ReleaseOrder {
        order_id: ORDER.into(),
        at,
    };
    let held = Scenario::<Routing>::given([received()])
        .when(release(t(1)))
        .then_nothing()
        .when(hold(t(1)))
        .then([on_order(RoutingEvent::OrderHeld { at: t(1) })])
        .when(hold(t(2)))
        .then_nothing();
    assert!(held.state().routable(t(2)).is_empty());
    let released = held
        .when(release(t(3)))
        .then([on_order(RoutingEvent::OrderReleased { at: t(3) })]);
    assert_eq!(released.state().routable(t(3)), vec![OrderId::new(ORDER)]);
    released
        .when(HoldOrder {
            order_id: "o-9".into(),
            at: t(4),
        })
        .then_error(RoutingError::UnknownOrder("o-9".into()));
}

fn cancel(lines: &[(&str, i64)]) -> CancelLines {
    CancelLines {
        order_id: ORDER.into(),
        lines: lines.iter().map(|(l, q)| LineQuantity::new(*l, *q)).collect(),
        whole_order: false,
        reason: "customer asked".into(),
        at: t(5),
    }
}

#[test]
fn cancelled_units_no_node_holds_are_cancelled_first_and_the_rest_taken_back_from_their_node() {
    let after = jackets_at_s1()
        .when(cancel(&[("2", 1)]))
        .then([on_order(RoutingEvent::LinesCancelled {
            lines: vec![LineNeed::new("2", "scarf", 1)],
            at: t(5),
        })])
        .when(cancel(&[("1", 1), ("9", 4)]))
        .then([
            on_order(RoutingEvent::LinesCancelled {
                lines: vec![LineNeed::new("1", "jacket", 1)],
                at: t(5),
            }),
            dropped(
                "r-1",
                vec![LineNeed::new("1", "jacket", 1)],
                "order cancelled: customer asked",
                false,
                t(5),
            ),
        ]);
    let order = order_of(&after);
    assert_eq!(
        order.allocation(&"r-1".into()).map(|a| a.units_of(&"1".into())),
        Some(1)
    );
    assert!(order.need().is_empty(), "nothing left to route: {:?}", order.need());
    assert!(order.rejected_by.is_empty(), "a cancellation is no fault of the node");
}

#[test]
fn units_are_taken_back_from_the_newest_allocation_first_and_a_whole_order_from_every_one() {
    let two_nodes = Scenario::<Routing>::given([
        received(),
        routed(0, vec![allocation("r-1", "S1", &[("1", "jacket", 1)])], Vec::new()),
        routed(
            1,
            vec![allocation("r-2", "S2", &[("1", "jacket", 1), ("2", "scarf", 1)])],
            Vec::new(),
        ),
    ]);
    two_nodes
        .when(cancel(&[("1", 1)]))
        .then([
            on_order(RoutingEvent::LinesCancelled {
                lines: vec![LineNeed::new("1", "jacket", 1)],
                at: t(5),
            }),
            dropped(
                "r-2",
                vec![LineNeed::new("1", "jacket", 1)],
                "order cancelled: customer asked",
                false,
                t(5),
            ),
        ])
        .when(CancelLines {
            whole_order: true,
            ..cancel(&[])
        })
        .then([
            on_order(RoutingEvent::LinesCancelled {
                lines: vec![LineNeed::new("1", "jacket", 1), LineNeed::new("2", "scarf", 1)],
                at: t(5),
            }),
            dropped(
                "r-1",
                vec![LineNeed::new("1", "jacket", 1)],
                "order cancelled: customer asked",
                false,
                t(5),
            ),
            dropped(
                "r-2",
                vec![LineNeed::new("2", "scarf", 1)],
                "order cancelled: customer asked",
                false,
                t(5),
            ),
        ])
        .when(CancelLines {
            whole_order: true,
            ..cancel(&[])
        })
        .then_nothing();
}

#[test]
fn a_new_address_takes_back_what_the_nodes_hold_and_the_order_is_routed_again() {
    let new_address = |city: &str| ChangeShippingAddress {
        order_id: ORDER.into(),
        address: Some(address(city)),
        at: t(6),
    };
    let after = jackets_at_s1()
        .when(new_address("Berlin"))
        .then_nothing()
        .when(new_address("Potsdam"))
        .then([
            on_order(RoutingEvent::DestinationChanged {
                delivery_method: DeliveryMethod::Standard,
                shipping_address: Some(address("Potsdam")),
                pickup_location_id: LocationId::default(),
                at: t(6),
            }),
            dropped("r-1", Vec::new(), "the delivery changed", false, t(6)),
        ]);
    let now = order_of(&after);
    assert_eq!(now.need(), order().lines, "everything is routed again");
    assert_eq!(now.revision, 1, "an attempt under way is void");
    Scenario::<Routing>::nothing()
        .when(ChangeShippingAddress {
            order_id: "o-9".into(),
            ..new_address("Potsdam")
        })
        .then_error(RoutingError::UnknownOrder("o-9".into()));
}

#[test]
fn collecting_in_store_instead_forgets_the_nodes_that_could_not_serve_the_old_destination() {
    let after = jackets_at_s1()
        .and([dropped("r-1", Vec::new(), "S1 rejected the job: damaged", true, t(1))])
        .when(ChangeDelivery {
            order_id: ORDER.into(),
            delivery_method: DeliveryMethod::ClickAndCollect,
            shipping_address: None,
            pickup_location_id: "S2".into(),
            at: t(7),
        })
        .then([on_order(RoutingEvent::DestinationChanged {
            delivery_method: DeliveryMethod::ClickAndCollect,
            shipping_address: None,
            pickup_location_id: "S2".into(),
            at: t(7),
        })]);
    let order = order_of(&after);
    assert_eq!(order.order.pickup_location_id, "S2");
    assert!(order.rejected_by.is_empty());
}

// ---------------------------------------------------------------------------------------
// What the nodes report.

#[test]
fn a_node_takes_a_job_on_then_ships_it() {
    let accepted = |request: &str| JobAccepted {
        request_id: request.into(),
        at: t(8),
    };
    let completed = JobCompleted {
        request_id: "r-1".into(),
        at: t(9),
    };
    let after = jackets_at_s1()
        .when(accepted("r-9"))
        .then_nothing()
        .when(accepted("r-1"))
        .then([on_order(RoutingEvent::AllocationAccepted {
            request_id: "r-1".into(),
            at: t(8),
        })])
        .when(accepted("r-1"))
        .then_nothing()
        .when(completed.clone())
        .then([on_order(RoutingEvent::AllocationCompleted {
            request_id: "r-1".into(),
            at: t(9),
        })])
        .when(completed)
        .then_nothing();
    let allocation = order_of(&after).allocation(&"r-1".into()).cloned().expect("r-1");
    assert_eq!(allocation.status, AllocationStatus::Completed);
}

#[test]
fn a_job_a_node_gives_back_is_routed_again_elsewhere() {
    let rejected = JobDropped {
        request_id: "r-1".into(),
        lines: Vec::new(),
        reason: "S1 rejected the job: damaged".into(),
        at: t(8),
    };
    let after = jackets_at_s1()
        .when(rejected.clone())
        .then([dropped("r-1", Vec::new(), "S1 rejected the job: damaged", true, t(8))])
        .when(rejected)
        .then_nothing();
    let now = order_of(&after);
    assert!(now.rejected_by.contains("S1"), "S1 is not asked again");
    assert_eq!(now.need(), order().lines);
    assert_eq!(after.state().routable(t(8)), vec![OrderId::new(ORDER)]);
}

// ---------------------------------------------------------------------------------------
// The router's steps.

fn begin(attempt: u32, revision: u32, ids: &[&str]) -> BeginAttempt {
    BeginAttempt {
        order_id: ORDER.into(),
        attempt,
        revision,
        reservation_ids: ids.iter().map(|id| (*id).into()).collect(),
    }
}

/// A plan giving the scarf to S2 and backordering nothing else.
fn scarf_to_s2(unrouted: Unrouted, unallocated: Vec<LineNeed>) -> Plan {
    Plan {
        allocations: vec![PlannedAllocation {
            node_id: "S2".into(),
            node_type: NodeType::Store,
            lines: vec![LineNeed::new("2", "scarf", 1)],
            expected_at: Some(t(60 * 48)),
            capacity_day: today(),
            capacity_used: 1,
        }],
        unallocated,
        unrouted,
        reason: "no node can fulfil the rest now".into(),
        decision: reasons(0, "routed to S2"),
    }
}

fn finish(attempt: u32, revision: u32, plan: Plan) -> FinishAttempt {
    FinishAttempt {
        order_id: ORDER.into(),
        attempt,
        revision,
        reserved: plan
            .allocations
            .iter()
            .map(|a| ReservedAllocation {
                allocation: a.clone(),
                reservation_id: format!("o-1/2.0/{}", a.node_id).into(),
            })
            .collect(),
        plan,
    }
}

#[test]
fn an_attempt_names_its_reservations_then_records_its_decision() {
    let plan = scarf_to_s2(Unrouted::Nothing, Vec::new());
    let after = jackets_at_s1()
        .at(t(10))
        .when(begin(1, 0, &[]))
        .then_nothing()
        .when(begin(1, 0, &["o-1/2.0/S2"]))
        .then([on_order(RoutingEvent::ReservationsRequested {
            attempt: 1,
            reservation_ids: vec!["o-1/2.0/S2".into()],
            at: t(10),
        })]);
    assert_eq!(after.state().unfinished().len(), 1, "a restart would release them");
    let after = after
        .when(finish(1, 0, plan.clone()))
        .then([on_order(RoutingEvent::Routed {
            attempt: 1,
            allocations: vec![allocation("o-1/2.0/S2", "S2", &[("2", "scarf", 1)])],
            backordered: Vec::new(),
            give_up_at: None,
            failed: Vec::new(),
            reason: plan.reason.clone(),
            reroute: false,
            decision: Box::new(DecisionReasons::from(&reasons(2, "routed to S2"))),
            at: t(10),
        })]);
    let order = order_of(&after);
    assert!(order.need().is_empty());
    assert_eq!(order.attempt, 2);
    assert!(after.state().unfinished().is_empty());
    assert_eq!(
        after
            .state()
            .order_of_request(&"o-1/2.0/S2".into())
            .map(|o| o.order_id().as_str()),
        Some(ORDER)
    );
    assert_eq!(order.latest_decision().map(|d| d.attempt), Some(2));
}

#[test]
fn an_attempt_on_an_order_that_changed_since_it_was_planned_is_void() {
    let void = RoutingError::AttemptVoid(ORDER.into());
    let mut two_scarves = scarf_to_s2(Unrouted::Nothing, Vec::new());
    two_scarves.allocations[0].lines = vec![LineNeed::new("2", "scarf", 2)];
    jackets_at_s1()
        .when(begin(0, 0, &["x"]))
        .then_error(void.clone())
        .when(finish(1, 1, scarf_to_s2(Unrouted::Nothing, Vec::new())))
        .then_error(void.clone())
        // More scarves than the order wants.
        .when(finish(1, 0, two_scarves))
        .then_error(void.clone())
        .and([on_order(RoutingEvent::OrderHeld { at: t(2) })])
        .when(begin(1, 1, &["x"]))
        .then_error(void)
        .when(BeginAttempt {
            order_id: "o-9".into(),
            ..begin(1, 1, &["x"])
        })
        .then_error(RoutingError::UnknownOrder("o-9".into()));
}

#[test]
fn a_backorder_tried_again_keeps_its_first_deadline_and_a_reroute_is_said_to_be_one() {
    let first = t(60 * 24 * 3);
    let later = t(60 * 24 * 4);
    let after = jackets_at_s1()
        .and([dropped("r-1", Vec::new(), "S1 rejected the job: damaged", true, t(1))])
        .and([on_order(RoutingEvent::Routed {
            attempt: 1,
            allocations: Vec::new(),
            backordered: vec![LineNeed::new("1", "jacket", 2)],
            give_up_at: Some(first),
            failed: Vec::new(),
            reason: "no node can fulfil 1 (2 × jacket) now".into(),
            reroute: true,
            decision: Box::new(DecisionReasons::from(&reasons(2, "backordered"))),
            at: t(1),
        })]);
    let backordered = vec![LineNeed::new("1", "jacket", 2)];
    after
        .at(t(20))
        .when(finish(
            2,
            0,
            scarf_to_s2(
                Unrouted::Backorder {
                    give_up_at: Some(later),
                },
                backordered.clone(),
            ),
        ))
        .then_check(|changes| match &changes[..] {
            [
                Change {
                    event:
                        RoutingEvent::Routed {
                            give_up_at,
                            backordered: waiting,
                            reroute,
                            ..
                        },
                    ..
                },
            ] => {
                assert_eq!(*give_up_at, Some(first));
                assert_eq!(waiting, &backordered);
                assert!(*reroute, "an allocation was dropped before");
            }
            other => panic!("{other:?}"),
        });
}

#[test]
fn a_plan_that_gives_up_fails_the_units_it_could_not_route() {
    let after = jackets_at_s1()
        .at(t(20))
        .when(finish(
            1,
            0,
            scarf_to_s2(Unrouted::GiveUp, vec![LineNeed::new("3", "hat", 1)]),
        ))
        .then_check(|changes| {
            assert!(matches!(
                &changes[..],
                [Change { event: RoutingEvent::Routed { failed, backordered, give_up_at: None, .. }, .. }]
                    if failed == &vec![LineNeed::new("3", "hat", 1)] && backordered.is_empty()
            ));
        });
    assert_eq!(
        order_of(&after).failure.as_deref(),
        Some("no node can fulfil the rest now")
    );
}

#[test]
fn an_attempt_that_stopped_half_way_is_abandoned_and_the_order_routed_afresh() {
    let after = jackets_at_s1()
        .and([on_order(RoutingEvent::ReservationsRequested {
            attempt: 1,
            reservation_ids: vec!["o-1/2.0/S2".into()],
            at: t(1),
        })])
        .at(t(2))
        .when(AbandonAttempt {
            order_id: ORDER.into(),
            reservation_ids: vec!["o-1/2.0/S2".into()],
        })
        .then([on_order(RoutingEvent::ReservationsAbandoned {
            attempt: 1,
            reservation_ids: vec!["o-1/2.0/S2".into()],
            at: t(2),
        })]);
    let order = order_of(&after);
    assert!(order.pending_reservations.is_empty());
    assert_eq!(order.attempt, 2, "the next attempt names new reservations");
    assert_eq!(after.state().routable(t(2)), vec![OrderId::new(ORDER)]);
}

#[test]
fn a_backorder_gives_up_when_its_time_is_up() {
    let deadline = t(60 * 24 * 3);
    let waiting = Scenario::<Routing>::given([
        received(),
        on_order(RoutingEvent::Routed {
            attempt: 0,
            allocations: Vec::new(),
            backordered: vec![LineNeed::new("1", "jacket", 2)],
            give_up_at: Some(deadline),
            failed: Vec::new(),
            reason: "waiting".into(),
            reroute: false,
            decision: Box::new(DecisionReasons::from(&reasons(1, "backordered"))),
            at: t(0),
        }),
    ]);
    let give_up = || GiveUp { order_id: ORDER.into() };
    let after = waiting
        .at(deadline - Duration::minutes(1))
        .when(give_up())
        .then_nothing()
        .at(deadline)
        .when(give_up())
        .then([on_order(RoutingEvent::GaveUp {
            lines: vec![LineNeed::new("1", "jacket", 2)],
            reason: format!("no supply by {deadline}"),
            at: deadline,
        })])
        .when(give_up())
        .then_nothing();
    let order = order_of(&after);
    assert_eq!(order.failed, vec![LineNeed::new("1", "jacket", 2)]);
    assert!(order.backordered.is_empty());
}

// ---------------------------------------------------------------------------------------
// The network.

#[test]
fn nodes_are_added_changed_and_removed_and_a_bad_one_is_refused() {
    let moved = Node {
        priority: 3,
        ..store("S1")
    };
    let bad = Node {
        node_id: " ".into(),
        cutoff_minute: 24 * 60,
        ..store("S3")
    };
    let after = Scenario::<Routing>::nothing()
        .when(UpsertNode { node: store("S1") })
        .then([node_set(&store("S1"))])
        .when(UpsertNode { node: store("S1") })
        .then_nothing()
        .when(UpsertNode { node: moved.clone() })
        .then([node_set(&moved)])
        .when(UpsertNode { node: bad })
        .then_error(invalid(&[
            ("node_id", "is required"),
            ("cutoff_minute", "must be a minute of the day (0-1439)"),
        ]));
    assert_eq!(after.state().network().node("S1"), Some(&moved));
    let after = after
        .when(RemoveNode { node_id: "S1".into() })
        .then([on_network(RoutingEvent::NodeRemoved { node_id: "S1".into() })])
        .when(RemoveNode { node_id: "S1".into() })
        .then_error(RoutingError::UnknownNode("S1".into()));
    assert!(after.state().network().nodes().is_empty());
}

#[test]
fn rule_sets_are_replaced_whole_and_names_must_be_unique() {
    let rules = |name: &str| RuleSet {
        name: name.into(),
        ..RuleSet::default_rules()
    };
    let after = Scenario::<Routing>::nothing()
        .when(ReplaceRuleSets {
            rule_sets: vec![rules("stores first"), rules("anything")],
        })
        .then([on_network(RoutingEvent::RuleSetsReplaced {
            rule_sets: vec![
                RuleSetDetails::from(&rules("stores first")),
                RuleSetDetails::from(&rules("anything")),
            ],
        })])
        .when(ReplaceRuleSets {
            rule_sets: vec![rules("stores first"), rules("anything")],
        })
        .then_nothing()
        .when(ReplaceRuleSets {
            rule_sets: vec![rules("a"), rules("a")],
        })
        .then_error(invalid(&[("rule_sets[1].name", "a is also rule_sets[0]")]));
    assert_eq!(after.state().network().configured_rule_sets().len(), 2);
}

#[test]
fn a_network_file_adds_its_nodes_and_replaces_the_rule_sets_only_when_it_has_some() {
    let with_rules = NetworkDocument {
        nodes: vec![store("S1"), store("S2")],
        rule_sets: vec![RuleSet::default_rules()],
    };
    let after = Scenario::<Routing>::given([node_set(&store("S1"))])
        .when(ImportNetwork { document: with_rules })
        .then([
            node_set(&store("S2")),
            on_network(RoutingEvent::RuleSetsReplaced {
                rule_sets: vec![RuleSetDetails::from(&RuleSet::default_rules())],
            }),
        ])
        .when(ImportNetwork {
            document: NetworkDocument {
                nodes: vec![store("S3")],
                rule_sets: Vec::new(),
            },
        })
        .then([node_set(&store("S3"))])
        .when(ImportNetwork {
            document: NetworkDocument {
                nodes: vec![store("S4"), store("S4")],
                rule_sets: Vec::new(),
            },
        })
        .then_error(invalid(&[("nodes[1].node_id", "S4 is also nodes[0]")]));
    assert_eq!(after.state().network().nodes().len(), 3);
    assert_eq!(after.state().network().configured_rule_sets().len(), 1);
}
