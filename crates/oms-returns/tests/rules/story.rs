//! A return's story told in the retailer's words: the order, what reached the customer,
//! the return asked for, and the commands and events of each step.

pub use chrono::{DateTime, Duration, Utc};
pub use oms_eventsourcing::Change;
pub use oms_eventsourcing::testing::{Scenario, scenario_time};
pub use oms_returns::domain::{
    AuthorisedLine, DeliveredLine, ExchangeLine, InspectReturn, InspectedLine, LearnOrder, LineId, LineSold, LineUnits,
    LocationId, Method, OrderSold, Payment, PaymentOutcome, ReceiveReturn, RecordDelivery, RecordExchange,
    RecordPaymentResult, RefundStatus, RetryRefunds, Return, ReturnAuthorised, ReturnRequestLine, ReturnStatus,
    Returns, ReturnsError, ReturnsEvent, StartReturn, Tender, order_stream, return_stream,
};

pub const ORDER: &str = "o-1";
pub const RETURN: &str = "RET-1";
pub const KREUZBERG: &str = "store-kreuzberg";

pub fn now() -> DateTime<Utc> {
    scenario_time()
}

pub fn payment(reference: &str, tender: Tender, authorised_minor: i64) -> Payment {
    Payment {
        reference: reference.into(),
        tender,
        authorised_minor,
    }
}

/// Two jackets at 80.00 and a scarf at 20.00, paid 50.00 by gift card and 130.00 by card.
pub fn sold() -> OrderSold {
    sold_paid_with(vec![
        payment("gift-1", Tender::GiftCard, 5_000),
        payment("psp-1", Tender::Card, 13_000),
    ])
}

pub fn sold_paid_with(payments: Vec<Payment>) -> OrderSold {
    let line = |line_id: &str, sku: &str, quantity, unit_price_minor| LineSold {
        line_id: line_id.into(),
        sku: sku.into(),
        quantity,
        unit_price_minor,
    };
    OrderSold {
        order_id: ORDER.into(),
        currency: "EUR".into(),
        lines: vec![line("1", "jacket-m", 2, 8_000), line("2", "scarf", 1, 2_000)],
        payments,
        draft: Vec::new(),
    }
}

pub fn learnt(order: OrderSold) -> Change<ReturnsEvent> {
    Change::new(order_stream(ORDER), ReturnsEvent::OrderSold(Box::new(order)))
}

/// Everything reached the customer `days` ago.
pub fn delivered_days_ago(days: i64) -> Change<ReturnsEvent> {
    Change::new(
        order_stream(ORDER),
        ReturnsEvent::Delivered {
            job_id: "fr-1".into(),
            lines: vec![LineUnits::new("1", 2), LineUnits::new("2", 1)],
            at: now() - Duration::days(days),
        },
    )
}

/// The order, delivered two days ago.
pub fn delivered_order() -> Scenario<Returns> {
    Scenario::given([learnt(sold()), delivered_days_ago(2)])
}

pub fn on_return(event: ReturnsEvent) -> Change<ReturnsEvent> {
    Change::new(return_stream(RETURN), event)
}

pub fn line(line_id: &str, quantity: i64) -> ReturnRequestLine {
    ReturnRequestLine {
        line_id: line_id.into(),
        quantity,
        reason_code: "too_small".into(),
    }
}

/// A return by mail of `lines`, under a 30-day window.
pub fn start(lines: Vec<ReturnRequestLine>) -> StartReturn {
    StartReturn {
        return_id: RETURN.into(),
        order_id: ORDER.into(),
        lines,
        method: Method::Mail,
        store_id: LocationId::default(),
        store_credit: false,
        exchange: Vec::new(),
        requested_by: "customer".into(),
        window: Duration::days(30),
    }
}

pub fn everything() -> Vec<ReturnRequestLine> {
    vec![line("1", 2), line("2", 1)]
}

/// `start`, authorised, on the delivered order.
pub fn authorised(start: StartReturn) -> Scenario<Returns> {
    delivered_order()
        .when(start)
        .then_check(|changes| assert_eq!(changes.len(), 1))
}

/// Everything returned by mail, received at the store.
pub fn everything_received() -> Scenario<Returns> {
    receive(authorised(start(everything())), KREUZBERG)
}

pub fn receive(scenario: Scenario<Returns>, location: &str) -> Scenario<Returns> {
    scenario
        .when(ReceiveReturn {
            return_id: RETURN.into(),
            location_id: location.into(),
            lines: Vec::new(),
        })
        .then_check(|changes| assert_eq!(changes.len(), 1))
}

pub fn inspected(line_id: &str, resellable: i64, damaged: i64) -> InspectedLine {
    InspectedLine {
        line_id: line_id.into(),
        resellable,
        damaged,
    }
}

pub fn inspect(lines: Vec<InspectedLine>) -> InspectReturn {
    InspectReturn {
        return_id: RETURN.into(),
        lines,
        refund_damaged: true,
    }
}

pub fn refund_requested(
    n: usize,
    amount_minor: i64,
    tender: Tender,
    reference: &str,
    retries: &str,
) -> Change<ReturnsEvent> {
    on_return(ReturnsEvent::RefundRequested {
        refund_id: format!("{RETURN}/refund-{n}").into(),
        amount_minor,
        tender,
        reference: reference.into(),
        retries: retries.into(),
        at: now(),
    })
}

pub fn paid(n: usize, outcome: PaymentOutcome) -> RecordPaymentResult {
    RecordPaymentResult {
        refund_id: format!("{RETURN}/refund-{n}").into(),
        outcome,
        at: now(),
    }
}

pub fn declined(reason: &str) -> PaymentOutcome {
    PaymentOutcome::Declined { reason: reason.into() }
}

pub fn the_return(scenario: &Scenario<Returns>) -> &Return {
    scenario.state().get(RETURN).expect("the return")
}

pub fn fields(refusal: &ReturnsError) -> Vec<String> {
    match refusal {
        ReturnsError::Invalid(violations) => violations.iter().map(|v| v.field.clone()).collect(),
        _ => Vec::new(),
    }
}
