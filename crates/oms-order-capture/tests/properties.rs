//! Invariants of orders under random sequences of customer-service commands and reports
//! from routing, fulfilment and returns: no line is ever cancelled beyond what was ordered
//! or what had not left yet, statuses are always derivable, and the orders rebuilt from
//! the events equal the live ones.

use chrono::{DateTime, Duration, Utc};
use oms_eventsourcing::testing::Scenario;
use oms_eventsourcing::{Changes, Decide, state_digest};
use oms_order_capture::domain::{
    Address, CancelOrder, Channel, Customer, Delivery, DeliveryMethod, DraftLine, HoldOrder, LineQuantity, Money,
    Order, OrderDraft, OrderError, OrderEvent, OrderStatus, Orders, Payment, PlaceOrder, PlacedBy, Priority,
    RecordReports, ReleaseOrder, Tender,
};
use proptest::prelude::*;

const ORDER: &str = "o-1";

fn t(minutes: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z").unwrap().to_utc() + Duration::minutes(minutes)
}

fn draft(quantities: &[i64]) -> OrderDraft {
    let lines: Vec<DraftLine> = quantities
        .iter()
        .enumerate()
        .map(|(i, q)| DraftLine {
            line_id: String::new(),
            sku: format!("SKU-{i}"),
            quantity: *q,
            unit_price: Money::new(500, "EUR"),
            description: String::new(),
        })
        .collect();
    let total: i64 = quantities.iter().sum::<i64>() * 500;
    OrderDraft {
        channel: Channel::Web,
        external_order_id: "W-1".into(),
        customer: Customer {
            customer_id: "C-1".into(),
            ..Customer::default()
        },
        lines,
        currency: "EUR".into(),
        delivery: Delivery {
            method: DeliveryMethod::Standard,
            address: Some(Address {
                lines: vec!["Street 1".into()],
                city: "Berlin".into(),
                postal_code: "10117".into(),
                country: "DE".into(),
                ..Address::default()
            }),
            pickup_location: None,
        },
        payments: vec![Payment {
            reference: "p".into(),
            tender: Tender::Card,
            authorised: Money::new(total, "EUR"),
        }],
        priority: Priority::Normal,
        release_at: None,
        requested_delivery_at: None,
        placed_by: PlacedBy::default(),
        shipping_fee: None,
    }
}

#[derive(Debug, Clone)]
enum Step {
    Cancel { line: usize, quantity: i64, whole: bool },
    Allocate { request: u8, line: usize, quantity: i64 },
    Start { job: u8, line: usize, quantity: i64 },
    Drop { job: u8, line: usize, quantity: i64 },
    Ship { job: u8, line: usize, quantity: i64 },
    Ready { job: u8, line: usize, quantity: i64 },
    Collect { job: u8, line: usize, quantity: i64 },
    Deliver { job: u8, line: usize, quantity: i64 },
    Backorder { line: usize, quantity: i64 },
    Hold,
    Release,
    Return { id: u8, line: usize, quantity: i64 },
    Returned { id: u8, line: usize, quantity: i64 },
    Refund { id: u8, amount: i64 },
}

fn step() -> impl Strategy<Value = Step> {
    let line = 0usize..3;
    let quantity = 1i64..4;
    prop_oneof![
        (line.clone(), quantity.clone(), any::<bool>()).prop_map(|(line, quantity, whole)| Step::Cancel {
            line,
            quantity,
            whole
        }),
        (0u8..4, line.clone(), quantity.clone()).prop_map(|(request, line, quantity)| Step::Allocate {
            request,
            line,
            quantity
        }),
        (0u8..4, line.clone(), quantity.clone()).prop_map(|(job, line, quantity)| Step::Start { job, line, quantity }),
        (0u8..4, line.clone(), quantity.clone()).prop_map(|(job, line, quantity)| Step::Drop { job, line, quantity }),
        (0u8..4, line.clone(), quantity.clone()).prop_map(|(job, line, quantity)| Step::Ship { job, line, quantity }),
        (0u8..4, line.clone(), quantity.clone()).prop_map(|(job, line, quantity)| Step::Ready { job, line, quantity }),
        (0u8..4, line.clone(), quantity.clone()).prop_map(|(job, line, quantity)| Step::Collect {
            job,
            line,
            quantity
        }),
        (0u8..4, line.clone(), quantity.clone()).prop_map(|(job, line, quantity)| Step::Deliver {
            job,
            line,
            quantity
        }),
        (line.clone(), quantity.clone()).prop_map(|(line, quantity)| Step::Backorder { line, quantity }),
        Just(Step::Hold),
        Just(Step::Release),
        (0u8..3, line.clone(), quantity.clone()).prop_map(|(id, line, quantity)| Step::Return { id, line, quantity }),
        (0u8..3, line.clone(), quantity.clone()).prop_map(|(id, line, quantity)| Step::Returned { id, line, quantity }),
        (0u8..3, 0i64..5_000).prop_map(|(id, amount)| Step::Refund { id, amount }),
    ]
}

/// What `step` decides against `orders` at `at`.
fn decide(step: &Step, at: DateTime<Utc>, orders: &Orders) -> Result<Changes<OrderEvent>, OrderError> {
    let units = |line: usize, quantity: i64| vec![LineQuantity::new((line + 1).to_string(), quantity)];
    match step.clone() {
        Step::Cancel { line, quantity, whole } => CancelOrder {
            order_id: ORDER.into(),
            lines: if whole { vec![] } else { units(line, quantity) },
            reason: "r".into(),
            by: String::new(),
            at,
        }
        .decide(orders, at),
        Step::Allocate {
            request,
            line,
            quantity,
        } => RecordReports::one(
            ORDER,
            OrderEvent::Allocated {
                request_id: format!("fr-{request}"),
                node_id: "N".into(),
                lines: units(line, quantity),
                expected_at: Some(at + Duration::days(1)),
                at,
            },
        )
        .decide(orders, at),
        Step::Start { job, line, quantity } => RecordReports::one(
            ORDER,
            OrderEvent::FulfilmentStarted {
                job_id: format!("fr-{job}"),
                lines: units(line, quantity),
                at,
            },
        )
        .decide(orders, at),
        Step::Drop { job, line, quantity } => RecordReports::one(
            ORDER,
            OrderEvent::FulfilmentDropped {
                job_id: format!("fr-{job}"),
                lines: units(line, quantity),
                reason: "r".into(),
                at,
            },
        )
        .decide(orders, at),
        Step::Ship { job, line, quantity } => RecordReports::one(
            ORDER,
            OrderEvent::Shipped {
                job_id: format!("fr-{job}"),
                lines: units(line, quantity),
                carrier: "C".into(),
                tracking_number: format!("T{job}"),
                at,
            },
        )
        .decide(orders, at),
        Step::Ready { job, line, quantity } => RecordReports::one(
            ORDER,
            OrderEvent::ReadyForPickup {
                job_id: format!("fr-{job}"),
                lines: units(line, quantity),
                location_id: "S".into(),
                pickup_code: "1".into(),
                at,
            },
        )
        .decide(orders, at),
        Step::Collect { job, line, quantity } => RecordReports::one(
            ORDER,
            OrderEvent::Collected {
                job_id: format!("fr-{job}"),
                lines: units(line, quantity),
                at,
            },
        )
        .decide(orders, at),
        Step::Deliver { job, line, quantity } => RecordReports::one(
            ORDER,
            OrderEvent::Delivered {
                job_id: format!("fr-{job}"),
                lines: units(line, quantity),
                at,
            },
        )
        .decide(orders, at),
        Step::Backorder { line, quantity } => RecordReports::one(
            ORDER,
            OrderEvent::Backordered {
                lines: units(line, quantity),
                reason: "r".into(),
                at,
            },
        )
        .decide(orders, at),
        Step::Hold => HoldOrder {
            order_id: ORDER.into(),
            reason: "check".into(),
            by: String::new(),
            at,
        }
        .decide(orders, at),
        Step::Release => ReleaseOrder {
            order_id: ORDER.into(),
            by: String::new(),
            at,
        }
        .decide(orders, at),
        Step::Return { id, line, quantity } => RecordReports::one(
            ORDER,
            OrderEvent::ReturnRequested {
                return_id: format!("rt-{id}"),
                lines: units(line, quantity),
                at,
            },
        )
        .decide(orders, at),
        Step::Returned { id, line, quantity } => RecordReports::one(
            ORDER,
            OrderEvent::Returned {
                return_id: format!("rt-{id}"),
                lines: units(line, quantity),
                at,
            },
        )
        .decide(orders, at),
        Step::Refund { id, amount } => RecordReports::one(
            ORDER,
            OrderEvent::Refunded {
                return_id: format!("rt-{id}"),
                amount_minor: amount,
                at,
            },
        )
        .decide(orders, at),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn orders_stay_consistent_and_replay_equals_live(
        quantities in proptest::collection::vec(1i64..5, 1..4),
        steps in proptest::collection::vec(step(), 0..60),
    ) {
        let order_id = ORDER;
        let placed = PlaceOrder { order_id: order_id.into(), draft: Box::new(draft(&quantities)), at: t(0) };
        let placed = placed.decide(&Orders::default(), t(0)).expect("a valid order");
        let mut log = placed.clone();
        let mut live = Scenario::<Orders>::given(placed);
        for (i, step) in steps.iter().enumerate() {
            let before = live.state().get(order_id).cloned().unwrap();
            let at = t(i as i64 + 1);
            if let Ok(changes) = decide(step, at, live.state()) {
                log.extend(changes.clone());
                live = live.at(at).and(changes);
            }
            let order = live.state().get(order_id).unwrap();
            for (line, was) in order.lines.iter().zip(&before.lines) {
                prop_assert!(line.cancelled <= line.ordered, "{line:?}");
                prop_assert!(line.cancelled >= was.cancelled);
                // Cancelling never takes what had left the node.
                if line.cancelled > was.cancelled {
                    prop_assert!(line.cancelled - was.cancelled <= was.cancellable(), "{was:?} -> {line:?}");
                }
                prop_assert!(line.backordered <= line.active().max(0));
            }
            let status = order.status();
            prop_assert_eq!(order.lines.iter().all(|l| l.active() == 0), status == OrderStatus::Cancelled);
            if order.hold.is_some() && !order.finished() {
                prop_assert_eq!(status, OrderStatus::Held);
            }
        }
        let rebuilt = Scenario::<Orders>::given(log.clone());
        prop_assert_eq!(state_digest(rebuilt.state()), state_digest(live.state()));
        let events: Vec<OrderEvent> = log.into_iter().map(|c| c.event).collect();
        prop_assert_eq!(Order::from_events(&events), live.state().get(order_id).cloned().unwrap());
    }
}
