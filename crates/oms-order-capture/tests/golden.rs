//! The stored form of every order event, pinned: what order capture writes to its log is
//! a contract with every later version of it (see `oms_eventsourcing::testing::check_golden_events`).

use chrono::{DateTime, Utc};
use oms_eventsourcing::DomainEvent;
use oms_eventsourcing::testing::{check_golden_events, scenario_time};
use oms_order_capture::domain::{
    Address, Channel, Customer, Delivery, DeliveryMethod, DraftLine, GeoPoint, LineQuantity, Money, OrderDraft,
    OrderEvent, Payment, PlacedBy, Priority, Tender,
};

fn at() -> DateTime<Utc> {
    scenario_time()
}

fn units() -> Vec<LineQuantity> {
    vec![LineQuantity::new("1", 2)]
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

fn draft() -> OrderDraft {
    OrderDraft {
        channel: Channel::Web,
        external_order_id: "W-1001".into(),
        customer: Customer {
            customer_id: "C-42".into(),
            name: "Ada".into(),
            email: "ada@example.com".into(),
            phone: String::new(),
        },
        lines: vec![DraftLine {
            line_id: "1".into(),
            sku: "SKU-1".into(),
            quantity: 2,
            unit_price: Money::new(1_000, "EUR"),
            description: "Wool scarf".into(),
        }],
        currency: "EUR".into(),
        delivery: Delivery {
            method: DeliveryMethod::Standard,
            address: Some(address()),
            pickup_location: None,
        },
        payments: vec![Payment {
            reference: "psp-1".into(),
            tender: Tender::Card,
            authorised: Money::new(2_490, "EUR"),
        }],
        priority: Priority::High,
        release_at: None,
        requested_delivery_at: Some(at()),
        placed_by: PlacedBy {
            agent_id: "agent-7".into(),
            store_id: String::new(),
        },
        shipping_fee: Some(Money::new(490, "EUR")),
    }
}

/// One of each order event, with every field given.
fn samples() -> Vec<OrderEvent> {
    let job = || "fr-1".to_owned();
    vec![
        OrderEvent::Placed {
            order_id: "o-1".into(),
            draft: Box::new(draft()),
            at: at(),
        },
        OrderEvent::Cancelled {
            lines: units(),
            reason: "customer asked".into(),
            by: "agent-7".into(),
            whole_order: true,
            at: at(),
        },
        OrderEvent::Held {
            reason: "fraud check".into(),
            by: "agent-7".into(),
            at: at(),
        },
        OrderEvent::Released {
            by: "agent-7".into(),
            at: at(),
        },
        OrderEvent::ShippingAddressChanged {
            address: address(),
            by: "agent-7".into(),
            at: at(),
        },
        OrderEvent::DeliveryChanged {
            delivery: Delivery {
                method: DeliveryMethod::Locker,
                address: None,
                pickup_location: Some("locker-hauptbahnhof".into()),
            },
            by: "agent-7".into(),
            at: at(),
        },
        OrderEvent::Allocated {
            request_id: job(),
            node_id: "store-kreuzberg".into(),
            lines: units(),
            expected_at: Some(at()),
            at: at(),
        },
        OrderEvent::Backordered {
            lines: units(),
            reason: "no stock".into(),
            at: at(),
        },
        OrderEvent::RoutingFailed {
            lines: units(),
            reason: "no rule set applies".into(),
            at: at(),
        },
        OrderEvent::FulfilmentStarted {
            job_id: job(),
            lines: units(),
            at: at(),
        },
        OrderEvent::FulfilmentDropped {
            job_id: job(),
            lines: units(),
            reason: "REJECT_REASON_DAMAGED".into(),
            at: at(),
        },
        OrderEvent::Shipped {
            job_id: job(),
            lines: units(),
            carrier: "dhl".into(),
            tracking_number: "JJD000111".into(),
            at: at(),
        },
        OrderEvent::ReadyForPickup {
            job_id: job(),
            lines: units(),
            location_id: "store-kreuzberg".into(),
            pickup_code: "123456".into(),
            at: at(),
        },
        OrderEvent::Collected {
            job_id: job(),
            lines: units(),
            at: at(),
        },
        OrderEvent::PickupExpired {
            job_id: job(),
            lines: units(),
            at: at(),
        },
        OrderEvent::Delivered {
            job_id: job(),
            lines: units(),
            at: at(),
        },
        OrderEvent::ReturnRequested {
            return_id: "rt-1".into(),
            lines: units(),
            at: at(),
        },
        OrderEvent::Returned {
            return_id: "rt-1".into(),
            lines: units(),
            at: at(),
        },
        OrderEvent::Refunded {
            return_id: "rt-1".into(),
            amount_minor: 2_000,
            at: at(),
        },
    ]
}

#[test]
fn every_order_event_is_stored_as_its_golden_file_says() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    check_golden_events(&dir, &samples());
}

/// The events of version 1 whose form changed read as the same events today: their golden
/// files hold the same values as today's samples.
#[test]
fn version_1_events_are_read_as_the_events_they_were() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    for sample in samples() {
        let event_type = sample.event_type();
        if OrderEvent::schema_version(event_type) == 1 {
            continue;
        }
        let v1 = std::fs::read(dir.join(format!("{event_type}.v1.json"))).expect("the v1 golden file");
        assert_eq!(OrderEvent::decode(event_type, 1, &v1), Ok(sample), "{event_type} v1");
    }
}
