//! The stored form of every returns event, pinned: what returns writes to its log is a
//! contract with every later version of it (see `oms_eventsourcing::testing::check_golden_events`).

use chrono::{DateTime, Utc};
use oms_eventsourcing::DomainEvent;
use oms_eventsourcing::testing::{check_golden_events, scenario_time};
use oms_returns::domain::{
    AuthorisedLine, ExchangeLine, InspectedLine, LineSold, LineUnits, Method, OrderSold, Payment, ReturnAuthorised,
    ReturnsEvent, Tender,
};

fn at() -> DateTime<Utc> {
    scenario_time()
}

fn sold() -> OrderSold {
    OrderSold {
        order_id: "o-1".into(),
        currency: "EUR".into(),
        lines: vec![LineSold {
            line_id: "1".into(),
            sku: "jacket-m".into(),
            quantity: 2,
            unit_price_minor: 8_000,
        }],
        payments: vec![
            Payment {
                reference: "gift-1".into(),
                tender: Tender::GiftCard,
                authorised_minor: 5_000,
            },
            Payment {
                reference: "psp-1".into(),
                tender: Tender::Card,
                authorised_minor: 11_000,
            },
        ],
        draft: vec![10, 3, 87, 101, 98],
    }
}

fn authorised() -> ReturnAuthorised {
    ReturnAuthorised {
        return_id: "RET-1".into(),
        order_id: "o-1".into(),
        method: Method::InStore,
        store_id: "store-kreuzberg".into(),
        lines: vec![AuthorisedLine {
            line_id: "1".into(),
            sku: "jacket-m".into(),
            quantity: 2,
            reason_code: "too_small".into(),
            unit_price_minor: 8_000,
        }],
        store_credit: false,
        exchange: vec![ExchangeLine {
            line_id: "1".into(),
            sku: "jacket-l".into(),
            quantity: 1,
        }],
        requested_by: "agent-7".into(),
        currency: "EUR".into(),
        at: at(),
    }
}

fn delivered() -> ReturnsEvent {
    ReturnsEvent::Delivered {
        job_id: "fr-1".into(),
        lines: vec![LineUnits::new("1", 2)],
        at: at(),
    }
}

fn received() -> ReturnsEvent {
    ReturnsEvent::Received {
        location_id: "store-kreuzberg".into(),
        lines: vec![LineUnits::new("1", 2)],
        at: at(),
    }
}

fn refund_requested() -> ReturnsEvent {
    ReturnsEvent::RefundRequested {
        refund_id: "RET-1/refund-2".into(),
        amount_minor: 5_000,
        tender: Tender::GiftCard,
        reference: "gift-1".into(),
        retries: "RET-1/refund-1".into(),
        at: at(),
    }
}

fn inspected() -> ReturnsEvent {
    ReturnsEvent::Inspected {
        lines: vec![InspectedLine {
            line_id: "1".into(),
            resellable: 1,
            damaged: 1,
        }],
        at: at(),
    }
}

/// One of each returns event, with every field given.
fn samples() -> Vec<ReturnsEvent> {
    vec![
        ReturnsEvent::OrderSold(Box::new(sold())),
        delivered(),
        ReturnsEvent::Authorised(Box::new(authorised())),
        received(),
        inspected(),
        refund_requested(),
        ReturnsEvent::RefundConfirmed {
            refund_id: "RET-1/refund-2".into(),
            at: at(),
        },
        ReturnsEvent::RefundFailed {
            refund_id: "RET-1/refund-1".into(),
            reason: "card expired".into(),
            at: at(),
        },
        ReturnsEvent::ExchangeCreated {
            replacement_order_id: "o-2".into(),
            at: at(),
        },
    ]
}

#[test]
fn every_returns_event_is_stored_as_its_golden_file_says() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    check_golden_events(&dir, &samples());
}

/// Reads the golden file of an older schema version of `event_type`.
fn old(event_type: &str, version: u16) -> ReturnsEvent {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/{event_type}.v{version}.json"));
    let stored = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ReturnsEvent::decode(event_type, version, &stored).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn orders_and_returns_stored_as_returns_kept_them_read_as_what_was_sold_and_authorised() {
    // OrderSold v1 also held its payments as `tenders`, each by its contract name.
    assert_eq!(old("OrderSold", 1), ReturnsEvent::OrderSold(Box::new(sold())));
    assert_eq!(old("Authorised", 1), ReturnsEvent::Authorised(Box::new(authorised())));
}

#[test]
fn lines_stored_as_tuples_read_as_named_units() {
    assert_eq!(old("Delivered", 1), delivered());
    assert_eq!(old("Received", 1), received());
    assert_eq!(old("Inspected", 1), inspected());
}

#[test]
fn a_refund_stored_with_its_tenders_contract_name_reads_as_its_code() {
    assert_eq!(old("RefundRequested", 1), refund_requested());
}
