//! The stored form of every routing event, pinned: what routing writes to its log is a
//! contract with every later version of it (see `oms_eventsourcing::testing::check_golden_events`).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use oms_eventsourcing::testing::{check_golden_events, scenario_time};
use oms_routing::domain::{
    Address, AllocationMade, CandidateReason, Capabilities, Capacity, CapacityUnit, CarrierService, Channel,
    DecisionReasons, DeliveryMethod, Fallback, GeoPoint, LineNeed, LocationId, NodeDetails, NodeFilter, NodeType,
    OrderDetails, OrderFilter, Priority, RoutingEvent, RuleSetDetails, ShippingService, SortBy, SplitPolicy,
};

fn at() -> DateTime<Utc> {
    scenario_time()
}

fn lines() -> Vec<LineNeed> {
    vec![LineNeed::new("1", "jacket-m", 2)]
}

fn address() -> Address {
    Address {
        name: "Ada Lovelace".into(),
        lines: vec!["Unter den Linden 1".into()],
        city: "Berlin".into(),
        region: "BE".into(),
        postal_code: "10117".into(),
        country: "DE".into(),
        phone: "+49 30 1234".into(),
        email: "ada@example.com".into(),
        location: Some(GeoPoint {
            latitude: 52.517,
            longitude: 13.389,
        }),
    }
}

fn node() -> NodeDetails {
    NodeDetails {
        node_id: "store-kreuzberg".into(),
        node_type: NodeType::Store,
        name: "Kreuzberg".into(),
        location: Some(GeoPoint {
            latitude: 52.4986,
            longitude: 13.403,
        }),
        region: "DE-BE".into(),
        groups: vec!["berlin".into()],
        capabilities: Capabilities {
            ship: true,
            click_and_collect: true,
            curbside: true,
            locker: false,
            same_day_radius_km: 10.0,
        },
        capacity: Capacity {
            per_day: 40,
            unit: CapacityUnit::Orders,
        },
        cutoff_minute: 840,
        opens_minute: 600,
        closes_minute: 1200,
        utc_offset_minutes: 60,
        priority: 2,
        carriers: vec![CarrierService {
            carrier: "dhl".into(),
            service: ShippingService::Standard,
            transit_days: 2,
            rate_minor: 490,
            currency: "EUR".into(),
        }],
        handling_hours: 2,
        active: true,
    }
}

fn rule_set() -> RuleSetDetails {
    RuleSetDetails {
        name: "marketplace from the warehouse".into(),
        applies_to: OrderFilter {
            channels: vec![Channel::Marketplace],
            delivery_methods: vec![DeliveryMethod::Standard],
            priorities: vec![Priority::High],
            min_value_minor: 1_000,
            max_value_minor: 100_000,
            regions: vec!["DE".into()],
        },
        eligible: NodeFilter {
            node_types: vec![NodeType::Warehouse],
            groups: vec!["central".into()],
            radius_km: 500.0,
            exclude: vec!["dc-erfurt".into()],
        },
        keep_units: 1,
        sort: vec![SortBy::Distance, SortBy::ShippingCost],
        split: SplitPolicy::FewestShipments,
        max_shipments: 2,
        otherwise: Fallback::CancelAfterDays,
        cancel_after_days: 3,
    }
}

fn order() -> OrderDetails {
    OrderDetails {
        order_id: "o-1".into(),
        channel: Channel::Web,
        delivery_method: DeliveryMethod::Standard,
        priority: Priority::High,
        value_minor: 12_990,
        currency: "EUR".into(),
        lines: lines(),
        shipping_address: Some(address()),
        pickup_location_id: LocationId::default(),
        customer_name: "Ada".into(),
        release_at: Some(at()),
        placed_at: at() - Duration::minutes(1),
    }
}

fn allocation() -> AllocationMade {
    AllocationMade {
        request_id: "o-1/1.0/store-kreuzberg".into(),
        node_id: "store-kreuzberg".into(),
        node_type: NodeType::Store,
        reservation_id: "o-1/1.0/store-kreuzberg".into(),
        lines: lines(),
        expected_at: Some(at() + Duration::days(2)),
        capacity_day: NaiveDate::from_ymd_opt(2026, 11, 24).unwrap_or_default(),
        capacity_used: 1,
    }
}

fn decision() -> DecisionReasons {
    DecisionReasons {
        attempt: 1,
        rule_set: "default".into(),
        outcome: "routed to store-kreuzberg".into(),
        candidates: vec![
            CandidateReason {
                node_id: "store-kreuzberg".into(),
                eligible: true,
                reason: "chosen for lines 1: nearest with stock: 2.4 km, next store-potsdam 27.2 km".into(),
                distance_km: Some(2.4),
                covers_lines: vec!["1".into()],
                chosen: true,
                rank: 1,
            },
            CandidateReason {
                node_id: "store-alexanderplatz".into(),
                eligible: false,
                reason: "at capacity: 2 of 2 orders today".into(),
                distance_km: None,
                covers_lines: Vec::new(),
                chosen: false,
                rank: 0,
            },
        ],
        excluded: BTreeMap::from([("no stock".to_owned(), 3)]),
        notes: vec!["rule set \"stores first\" left 1 (2 × jacket-m) unrouted; next rule set".into()],
        decided_at: at(),
    }
}

/// One of each routing event, with every field given.
fn samples() -> Vec<RoutingEvent> {
    let request = || "o-1/1.0/store-kreuzberg";
    vec![
        RoutingEvent::NodeUpserted { node: Box::new(node()) },
        RoutingEvent::NodeRemoved {
            node_id: "store-potsdam".into(),
        },
        RoutingEvent::RuleSetsReplaced {
            rule_sets: vec![rule_set()],
        },
        RoutingEvent::OrderReceived {
            order: Box::new(order()),
        },
        RoutingEvent::OrderHeld { at: at() },
        RoutingEvent::OrderReleased { at: at() },
        RoutingEvent::LinesCancelled {
            lines: lines(),
            at: at(),
        },
        RoutingEvent::DestinationChanged {
            delivery_method: DeliveryMethod::ClickAndCollect,
            shipping_address: Some(address()),
            pickup_location_id: "store-kreuzberg".into(),
            at: at(),
        },
        RoutingEvent::ReservationsRequested {
            attempt: 0,
            reservation_ids: vec![request().into()],
            at: at(),
        },
        RoutingEvent::ReservationsAbandoned {
            attempt: 0,
            reservation_ids: vec![request().into()],
            at: at(),
        },
        RoutingEvent::Routed {
            attempt: 0,
            allocations: vec![allocation()],
            backordered: vec![LineNeed::new("2", "boots-42", 1)],
            give_up_at: Some(at() + Duration::days(3)),
            failed: vec![LineNeed::new("3", "scarf", 1)],
            reason: "no node can fulfil 2 (1 × boots-42) now".into(),
            reroute: true,
            decision: Box::new(decision()),
            at: at(),
        },
        RoutingEvent::AllocationAccepted {
            request_id: request().into(),
            at: at(),
        },
        RoutingEvent::AllocationCompleted {
            request_id: request().into(),
            at: at(),
        },
        RoutingEvent::AllocationDropped {
            request_id: request().into(),
            lines: lines(),
            reason: "store-kreuzberg rejected the job: damaged".into(),
            exclude_node: true,
            give_back_capacity: true,
            at: at(),
        },
        RoutingEvent::GaveUp {
            lines: lines(),
            reason: "no supply by 2026-11-27 09:00:00 UTC".into(),
            at: at(),
        },
    ]
}

/// Routed as version 1 stored it: each allocation with the status it was made in.
#[test]
fn a_decision_stored_before_allocations_lost_their_status_reads_as_it_did() {
    let v1 = include_str!("golden/Routed.v1.json");
    let RoutingEvent::Routed { allocations, .. } =
        <RoutingEvent as oms_eventsourcing::DomainEvent>::decode("Routed", 1, v1.as_bytes()).expect("Routed v1 reads")
    else {
        panic!("Routed v1 is not a Routed");
    };
    assert_eq!(allocations, vec![allocation()]);
}

#[test]
fn every_routing_event_is_stored_as_its_golden_file_says() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    check_golden_events(&dir, &samples());
}
