//! The stored form of every returns event, pinned: what returns writes to its log is a
//! contract with every later version of it (see `oms_eventsourcing::testing::check_golden_events`).

use chrono::{DateTime, Utc};
use oms_eventsourcing::testing::{check_golden_events, scenario_time};
use oms_returns::domain::{
    ExchangeLine, Method, Return, ReturnLine, ReturnStatus, ReturnsEvent, SoldLine, SoldOrder, Tender,
};

fn at() -> DateTime<Utc> {
    scenario_time()
}

fn sold() -> SoldOrder {
    SoldOrder {
        order_id: "o-1".into(),
        currency: "EUR".into(),
        lines: vec![SoldLine {
            line_id: "1".into(),
            sku: "jacket-m".into(),
            quantity: 2,
            unit_price_minor: 8_000,
            delivered: 0,
            delivered_at: None,
            returned: 0,
        }],
        tenders: vec![
            Tender {
                reference: "gift-1".into(),
                tender: "TENDER_TYPE_GIFT_CARD".into(),
                authorised_minor: 5_000,
            },
            Tender {
                reference: "psp-1".into(),
                tender: "TENDER_TYPE_CARD".into(),
                authorised_minor: 11_000,
            },
        ],
        draft: vec![10, 3, 87, 101, 98],
        jobs: Vec::new(),
    }
}

fn authorised() -> Return {
    Return {
        return_id: "RET-1".into(),
        order_id: "o-1".into(),
        status: ReturnStatus::Authorised,
        method: Method::InStore,
        store_id: "store-kreuzberg".into(),
        location_id: String::new(),
        lines: vec![ReturnLine {
            line_id: "1".into(),
            sku: "jacket-m".into(),
            quantity: 2,
            reason_code: "too_small".into(),
            unit_price_minor: 8_000,
            received: 0,
            resellable: 0,
            damaged: 0,
        }],
        refunds: Vec::new(),
        store_credit: false,
        exchange: vec![ExchangeLine {
            line_id: "1".into(),
            sku: "jacket-l".into(),
            quantity: 1,
        }],
        replacement_order_id: String::new(),
        requested_by: "agent-7".into(),
        currency: "EUR".into(),
        created_at: at(),
    }
}

/// One of each returns event, with every field given.
fn samples() -> Vec<ReturnsEvent> {
    vec![
        ReturnsEvent::OrderSold {
            order: Box::new(sold()),
        },
        ReturnsEvent::Delivered {
            job_id: "fr-1".into(),
            lines: vec![("1".into(), 2)],
            at: at(),
        },
        ReturnsEvent::Authorised {
            ret: Box::new(authorised()),
        },
        ReturnsEvent::Received {
            location_id: "store-kreuzberg".into(),
            lines: vec![("1".into(), 2)],
            at: at(),
        },
        ReturnsEvent::Inspected {
            lines: vec![("1".into(), 1, 1)],
            at: at(),
        },
        ReturnsEvent::RefundRequested {
            refund_id: "RET-1/refund-2".into(),
            amount_minor: 5_000,
            tender: "TENDER_TYPE_GIFT_CARD".into(),
            reference: "gift-1".into(),
            retries: "RET-1/refund-1".into(),
            at: at(),
        },
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
