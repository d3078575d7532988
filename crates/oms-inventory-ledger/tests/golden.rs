//! The stored form of every ledger event, pinned: what the ledger writes to its log is a
//! contract with every later version of it (see `oms_eventsourcing::testing::check_golden_events`).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use oms_eventsourcing::testing::{check_golden_events, scenario_time};
use oms_inventory_ledger::domain::{ChannelRuleTerms, LedgerEvent, Line, LocationDetails, LocationType, MovementKind};

fn at() -> DateTime<Utc> {
    scenario_time()
}

fn lines() -> Vec<Line> {
    vec![Line::new("SKU-1", 2), Line::new("SKU-2", 1)]
}

/// One of each ledger event, with every field given.
fn samples() -> Vec<LedgerEvent> {
    let position = || ("SKU-1".to_owned(), "store-kreuzberg".to_owned());
    let reservation = || "fr-1".to_owned();
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
        LedgerEvent::LocationUpserted {
            location: LocationDetails {
                location_id: "store-kreuzberg".into(),
                kind: LocationType::Store,
                name: "Kreuzberg".into(),
                attributes: BTreeMap::from([("region".to_owned(), "DE-BE".to_owned())]),
                latitude: Some(52.4986),
                longitude: Some(13.403),
                active: true,
            },
        },
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

#[test]
fn every_ledger_event_is_stored_as_its_golden_file_says() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    check_golden_events(&dir, &samples());
}
