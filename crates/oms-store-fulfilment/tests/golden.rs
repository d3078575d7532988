//! The stored form of every job event, pinned: what store fulfilment writes to its log is
//! a contract with every later version of it (see `oms_eventsourcing::testing::check_golden_events`).

use chrono::{DateTime, Duration, Utc};
use oms_eventsourcing::testing::{check_golden_events, scenario_time};
use oms_store_fulfilment::domain::{Job, JobEvent, JobKind, JobLine, JobStatus, RejectReason, ShipTo};

fn at() -> DateTime<Utc> {
    scenario_time()
}

fn created() -> Job {
    Job {
        job_id: "fr-1".into(),
        order_id: "o-1".into(),
        node_id: "store-kreuzberg".into(),
        node_type: "NODE_TYPE_STORE".into(),
        kind: JobKind::Ship,
        status: JobStatus::Requested,
        lines: vec![
            JobLine {
                line_id: "1".into(),
                sku: "jacket-m".into(),
                ordered: 2,
                picked: None,
            },
            JobLine {
                line_id: "2".into(),
                sku: "scarf".into(),
                ordered: 1,
                picked: None,
            },
        ],
        delivery_method: "DELIVERY_METHOD_STANDARD".into(),
        ship_to: Some(ShipTo {
            name: "Ada Lovelace".into(),
            lines: vec!["Unter den Linden 1".into()],
            city: "Berlin".into(),
            region: "BE".into(),
            postal_code: "10117".into(),
            country: "DE".into(),
            phone: "+49 30 1234".into(),
        }),
        pickup_store_id: String::new(),
        customer_name: "Ada".into(),
        priority: 1,
        promised_at: Some(at() + Duration::days(2)),
        accept_by: Some(at() + Duration::hours(1)),
        created_at: at(),
        reservation_id: "fr-1".into(),
        carrier: String::new(),
        service: String::new(),
        tracking_number: String::new(),
        packages: 0,
        weight_grams: 0,
        label: String::new(),
        pickup_code: String::new(),
        locker_id: String::new(),
        collect_by: None,
        curbside_bay: String::new(),
        reason: String::new(),
        late: false,
    }
}

/// One of each job event, with every field given.
fn samples() -> Vec<JobEvent> {
    vec![
        JobEvent::Created {
            job: Box::new(created()),
        },
        JobEvent::Accepted { at: at() },
        JobEvent::Rejected {
            reason: RejectReason::Damaged,
            at: at(),
        },
        JobEvent::Picked {
            picked: vec![("1".into(), 2), ("2".into(), 0)],
            at: at(),
        },
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
        JobEvent::NodeShipped {
            carrier: "dhl".into(),
            tracking_number: "JJD000222".into(),
            shipped: vec![("1".into(), 2), ("2".into(), 1)],
            at: at(),
        },
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
