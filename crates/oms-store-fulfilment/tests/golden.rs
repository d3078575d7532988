//! The stored form of every job event, pinned: what store fulfilment writes to its log is
//! a contract with every later version of it (see `oms_eventsourcing::testing::check_golden_events`).

use chrono::{DateTime, Duration, Utc};
use oms_eventsourcing::DomainEvent;
use oms_eventsourcing::testing::{check_golden_events, scenario_time};
use oms_store_fulfilment::domain::{
    Address, DeliveryMethod, JobCreated, JobEvent, JobKind, LineUnits, LocationId, NodeType, Priority, RejectReason,
    RequestedLine,
};

fn at() -> DateTime<Utc> {
    scenario_time()
}

fn created() -> JobCreated {
    JobCreated {
        job_id: "fr-1".into(),
        order_id: "o-1".into(),
        node_id: "store-kreuzberg".into(),
        node_type: NodeType::Store,
        kind: JobKind::Ship,
        lines: vec![
            RequestedLine {
                line_id: "1".into(),
                sku: "jacket-m".into(),
                units: 2,
            },
            RequestedLine {
                line_id: "2".into(),
                sku: "scarf".into(),
                units: 1,
            },
        ],
        delivery_method: DeliveryMethod::Standard,
        ship_to: Some(Address {
            name: "Ada Lovelace".into(),
            lines: vec!["Unter den Linden 1".into()],
            city: "Berlin".into(),
            region: "BE".into(),
            postal_code: "10117".into(),
            country: "DE".into(),
            phone: "+49 30 1234".into(),
            email: String::new(),
            location: None,
        }),
        pickup_store_id: LocationId::default(),
        customer_name: "Ada".into(),
        priority: Priority::High,
        promised_at: Some(at() + Duration::days(2)),
        accept_by: Some(at() + Duration::hours(1)),
        reservation_id: "fr-1".into(),
        at: at(),
    }
}

fn picked() -> JobEvent {
    JobEvent::Picked {
        lines: vec![LineUnits::new("1", 2), LineUnits::new("2", 0)],
        at: at(),
    }
}

fn node_shipped() -> JobEvent {
    JobEvent::NodeShipped {
        carrier: "dhl".into(),
        tracking_number: "JJD000222".into(),
        lines: vec![LineUnits::new("1", 2), LineUnits::new("2", 1)],
        at: at(),
    }
}

/// One of each job event, with every field given.
fn samples() -> Vec<JobEvent> {
    vec![
        JobEvent::Created(Box::new(created())),
        JobEvent::Accepted { at: at() },
        JobEvent::Rejected {
            reason: RejectReason::Damaged,
            at: at(),
        },
        picked(),
        JobEvent::Packed {
            packages: 2,
            weight_grams: 1_800,
            at: at(),
        },
        JobEvent::Labelled {
            carrier: "dhl".into(),
            service: "standard".into(),
            tracking_number: "JJD000111".into(),
            label: "^XA^FDJJD000111^FS^XZ".into(),
            at: at(),
        },
        JobEvent::Shipped { at: at() },
        node_shipped(),
        JobEvent::ReadyForPickup {
            pickup_code: "123456".into(),
            locker_id: "compartment-7".into(),
            collect_by: at() + Duration::days(7),
            at: at(),
        },
        JobEvent::CustomerArrived {
            bay: "bay-3".into(),
            at: at(),
        },
        JobEvent::Collected { at: at() },
        JobEvent::Cancelled {
            reason: "the order was cancelled".into(),
            by_routing: true,
            uncollected: false,
            at: at(),
        },
        JobEvent::SlaBreached {
            deadline: "accept".into(),
            due_at: at() - Duration::minutes(5),
            at: at(),
        },
    ]
}

#[test]
fn every_job_event_is_stored_as_its_golden_file_says() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    check_golden_events(&dir, &samples());
}

/// Reads the golden file of an older schema version of `event_type`.
fn old(event_type: &str, version: u16) -> JobEvent {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/{event_type}.v{version}.json"));
    let stored = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    JobEvent::decode(event_type, version, &stored).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn a_job_created_before_its_event_had_a_schema_of_its_own_reads_as_the_request_it_was() {
    // v1 held the contract's names, routing's rank and an address without email or point.
    assert_eq!(old("Created", 1), JobEvent::Created(Box::new(created())));
}

#[test]
fn picks_and_node_shipments_stored_as_pairs_read_as_named_line_units() {
    assert_eq!(old("Picked", 1), picked());
    assert_eq!(old("NodeShipped", 1), node_shipped());
}

#[test]
fn a_v1_node_type_stored_by_its_code_reads_too_and_a_rank_routing_never_had_is_named() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/Created.v1.json");
    let v1: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let with = |pointer: &str, value: serde_json::Value| {
        let mut json = v1.clone();
        *json.pointer_mut(pointer).unwrap() = value;
        JobEvent::decode("Created", 1, &serde_json::to_vec(&json).unwrap())
    };
    assert_eq!(
        with("/Created/job/node_type", "store".into()),
        Ok(JobEvent::Created(Box::new(created())))
    );
    let unread = with("/Created/job/priority", 7.into()).unwrap_err().to_string();
    assert!(unread.contains("priority: 7"), "{unread}");
}
