//! Starting a return: what may be returned, by whom, until when.

use crate::story::*;

#[test]
fn a_customer_returns_a_delivered_jacket_and_the_return_is_authorised_once() {
    let after = delivered_order()
        .when(start(vec![line("1", 1)]))
        .then([on_return(ReturnsEvent::Authorised(Box::new(ReturnAuthorised {
            return_id: RETURN.into(),
            order_id: ORDER.into(),
            method: Method::Mail,
            store_id: LocationId::default(),
            lines: vec![AuthorisedLine {
                line_id: "1".into(),
                sku: "jacket-m".into(),
                quantity: 1,
                reason_code: "too_small".into(),
                unit_price_minor: 8_000,
            }],
            store_credit: false,
            exchange: Vec::new(),
            requested_by: "customer".into(),
            currency: "EUR".into(),
            at: now(),
        })))])
        .when(start(vec![line("1", 1)]))
        .then_nothing();
    assert_eq!(
        after.state().order(ORDER).and_then(|o| o.line("1")).map(|l| l.returned),
        Some(1)
    );
    assert_eq!(the_return(&after).status, ReturnStatus::Authorised);
    assert_eq!(after.state().of_order(ORDER).len(), 1);
}

#[test]
fn a_return_of_an_order_returns_does_not_know_is_refused() {
    Scenario::<Returns>::nothing()
        .when(start(vec![line("1", 1)]))
        .then_error(ReturnsError::UnknownOrder(ORDER.into()));
}

#[test]
fn a_line_the_order_does_not_have_is_refused() {
    delivered_order()
        .when(start(vec![line("9", 1)]))
        .then_refused(|e| fields(e) == ["lines[0].order_line_id"]);
}

#[test]
fn no_more_can_be_returned_than_reached_the_customer_and_is_not_returned_already() {
    // Nothing delivered yet.
    Scenario::<Returns>::given([learnt(sold())])
        .when(start(vec![line("1", 1)]))
        .then_refused(|e| fields(e) == ["lines[0].quantity"]);
    delivered_order()
        .when(start(vec![line("1", 3)]))
        .then_refused(|e| fields(e) == ["lines[0].quantity"])
        .when(start(vec![line("1", 0)]))
        .then_refused(|e| fields(e) == ["lines[0].quantity"]);
    let mut second = start(vec![line("1", 1)]);
    second.return_id = "RET-2".into();
    authorised(start(vec![line("1", 2)]))
        .when(second)
        .then_refused(|e| fields(e) == ["lines[0].quantity"] && e.to_string().contains("1 asked, 0 can be returned"));
}

#[test]
fn a_line_delivered_more_than_thirty_days_ago_is_past_the_return_window() {
    Scenario::<Returns>::given([learnt(sold()), delivered_days_ago(31)])
        .when(start(vec![line("1", 1)]))
        .then_refused(|e| fields(e) == ["lines[0].order_line_id"] && e.to_string().contains("30-day return window"));
    Scenario::<Returns>::given([learnt(sold()), delivered_days_ago(30)])
        .when(start(vec![line("1", 1)]))
        .then_check(|changes| assert_eq!(changes.len(), 1));
}

#[test]
fn a_line_given_twice_is_refused() {
    delivered_order()
        .when(start(vec![line("1", 1), line("1", 1)]))
        .then_refused(|e| fields(e) == ["lines[0].order_line_id", "lines[1].order_line_id"]);
}

#[test]
fn an_in_store_return_names_its_store_and_a_return_has_lines() {
    let mut in_store = start(vec![line("1", 1)]);
    in_store.method = Method::InStore;
    delivered_order()
        .when(in_store.clone())
        .then_refused(|e| fields(e) == ["store_id"])
        .when(start(Vec::new()))
        .then_refused(|e| fields(e) == ["lines"]);
    in_store.store_id = KREUZBERG.into();
    let after = delivered_order()
        .when(in_store)
        .then_check(|changes| assert_eq!(changes.len(), 1));
    assert_eq!(the_return(&after).store_id, KREUZBERG);
}

#[test]
fn an_exchange_names_its_sku_and_no_more_units_than_returned() {
    let mut exchange = start(vec![line("1", 1)]);
    exchange.exchange = vec![ExchangeLine {
        line_id: "1".into(),
        sku: " ".into(),
        quantity: 2,
    }];
    delivered_order()
        .when(exchange)
        .then_refused(|e| fields(e) == ["exchange[0].sku", "exchange[0].quantity"]);
}
