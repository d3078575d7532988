//! The stored form of every ledger event, pinned: what the ledger writes to its log is a
//! contract with every later version of it (see `oms_eventsourcing::testing::check_golden_events`).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use oms_eventsourcing::DomainEvent;
use oms_eventsourcing::testing::{check_golden_events, scenario_time};
use oms_inventory_ledger::domain::{
    ChannelRuleTerms, GeoPoint, LedgerEvent, Line, LocationDetails, LocationId, MovementKind, NodeType, ReservationId,
    Sku,
};

fn at() -> DateTime<Utc> {
    scenario_time()
}

fn lines() -> Vec<Line> {
    vec![Line::new("SKU-1", 2), Line::new("SKU-2", 1)]
}

fn kreuzberg() -> LocationDetails {
    LocationDetails {
        location_id: "store-kreuzberg".into(),
        kind: NodeType::Store,
        name: "Kreuzberg".into(),
        attributes: BTreeMap::from([("region".to_owned(), "DE-BE".to_owned())]),
        location: Some(GeoPoint {
            latitude: 52.4986,
            longitude: 13.403,
        }),
        active: true,
    }
}

/// One of each ledger event, with every field given.
fn samples() -> Vec<LedgerEvent> {
    let position = || (Sku::new("SKU-1"), LocationId::new("store-kreuzberg"));
    let reservation = || ReservationId::new("fr-1");
    vec![
        LedgerEvent::StockMoved {
            sku: position().0,
            location: position().1,
            movement_id: "pos-4711".into(),
            kind: MovementKind::Sale,
            quantity: 2,
            delta: -2,
            occurred_at: at() - Duration::minutes(5),
        },
        LedgerEvent::StockCounted {
            sku: position().0,
            location: position().1,
            movement_id: "count-12".into(),
            counted: 14,
            delta: -1,
            occurred_at: at() - Duration::hours(1),
        },
        LedgerEvent::SafetyStockSet {
            sku: position().0,
            location: position().1,
            quantity: 2,
        },
        LedgerEvent::UnitsReserved {
            sku: position().0,
            location: position().1,
            reservation_id: reservation(),
            quantity: 2,
        },
        LedgerEvent::ReservedUnitsReleased {
            sku: position().0,
            location: position().1,
            reservation_id: reservation(),
            quantity: 1,
        },
        LedgerEvent::ReservedUnitsConsumed {
            sku: position().0,
            location: position().1,
            reservation_id: reservation(),
            quantity: 1,
        },
        LedgerEvent::ReservationPlaced {
            reservation_id: reservation(),
            reference: "o-1".into(),
            location: position().1,
            lines: lines(),
            channel: "web".into(),
            expires_at: at() + Duration::hours(1),
        },
        LedgerEvent::ReservationReleased {
            reservation_id: reservation(),
            lines: lines(),
            reason: "order cancelled".into(),
        },
        LedgerEvent::ReservationConsumed {
            reservation_id: reservation(),
            lines: lines(),
        },
        LedgerEvent::ReservationExpired {
            reservation_id: reservation(),
            lines: lines(),
        },
        LedgerEvent::LocationUpserted { location: kreuzberg() },
        LedgerEvent::ChannelRuleSet {
            rule: ChannelRuleTerms {
                channel: "marketplace".into(),
                holdback_units: 3,
                share_percent: 50,
            },
        },
        LedgerEvent::SkuRegistered { sku: position().0 },
    ]
}

/// A location as version 1 stored it — its kind by Rust name, its point as latitude and
/// longitude — reads as the location it was.
#[test]
fn a_location_stored_before_it_spoke_the_kernel_reads_as_it_did() {
    let v1 = include_str!("golden/LocationUpserted.v1.json");
    assert_eq!(
        LedgerEvent::decode("LocationUpserted", 1, v1.as_bytes()),
        Ok(LedgerEvent::LocationUpserted { location: kreuzberg() })
    );
    let unplaced = v1.replace("52.4986", "null").replace("13.403", "null");
    let Ok(LedgerEvent::LocationUpserted { location }) =
        LedgerEvent::decode("LocationUpserted", 1, unplaced.as_bytes())
    else {
        panic!("a v1 location without a point does not read");
    };
    assert_eq!(location.location, None);
}

#[test]
fn every_ledger_event_is_stored_as_its_golden_file_says() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    check_golden_events(&dir, &samples());
}
