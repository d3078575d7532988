//! Inspection and the refund it earns: to the gift card first, then the card; as store
//! credit; less an exchange; never more than was paid.

use crate::story::*;

#[test]
fn the_refund_goes_to_the_gift_card_first_then_the_card() {
    let after = everything_received()
        .when(inspect(vec![inspected("1", 1, 1), inspected("2", 1, 0)]))
        .then([
            on_return(ReturnsEvent::Inspected {
                lines: vec![inspected("1", 1, 1), inspected("2", 1, 0)],
                at: now(),
            }),
            refund_requested(1, 5_000, Tender::GiftCard, "gift-1", ""),
            refund_requested(2, 13_000, Tender::Card, "psp-1", ""),
        ]);
    let ret = the_return(&after);
    assert_eq!(ret.status, ReturnStatus::RefundPending);
    let found: Vec<(i64, i64)> = ret.lines.iter().map(|l| (l.resellable, l.damaged)).collect();
    assert_eq!(found, [(1, 1), (1, 0)]);
}

#[test]
fn damaged_units_are_not_refunded_when_the_policy_says_so() {
    everything_received()
        .when(InspectReturn {
            refund_damaged: false,
            ..inspect(vec![inspected("1", 1, 1), inspected("2", 1, 0)])
        })
        .then([
            on_return(ReturnsEvent::Inspected {
                lines: vec![inspected("1", 1, 1), inspected("2", 1, 0)],
                at: now(),
            }),
            refund_requested(1, 5_000, Tender::GiftCard, "gift-1", ""),
            refund_requested(2, 5_000, Tender::Card, "psp-1", ""),
        ]);
}

#[test]
fn nothing_resellable_and_damaged_units_not_refunded_request_no_refund_and_complete_the_return() {
    let after = everything_received()
        .when(InspectReturn {
            refund_damaged: false,
            ..inspect(vec![inspected("1", 0, 2), inspected("2", 0, 1)])
        })
        .then([on_return(ReturnsEvent::Inspected {
            lines: vec![inspected("1", 0, 2), inspected("2", 0, 1)],
            at: now(),
        })]);
    assert_eq!(the_return(&after).status, ReturnStatus::Completed);
}

#[test]
fn a_customer_who_chose_store_credit_gets_it_all_as_one_refund() {
    let mut credit = start(everything());
    credit.store_credit = true;
    receive(authorised(credit), KREUZBERG)
        .when(inspect(vec![inspected("1", 2, 0), inspected("2", 1, 0)]))
        .then([
            on_return(ReturnsEvent::Inspected {
                lines: vec![inspected("1", 2, 0), inspected("2", 1, 0)],
                at: now(),
            }),
            refund_requested(1, 18_000, Tender::StoreCredit, "store-credit:RET-1", ""),
        ]);
}

#[test]
fn an_exchange_refunds_only_what_the_replacement_does_not_cost() {
    let mut exchange = start(vec![line("1", 2)]);
    exchange.exchange = vec![ExchangeLine {
        line_id: "1".into(),
        sku: "jacket-l".into(),
        quantity: 1,
    }];
    receive(authorised(exchange), KREUZBERG)
        .when(inspect(vec![inspected("1", 2, 0)]))
        .then([
            on_return(ReturnsEvent::Inspected {
                lines: vec![inspected("1", 2, 0)],
                at: now(),
            }),
            refund_requested(1, 5_000, Tender::GiftCard, "gift-1", ""),
            refund_requested(2, 3_000, Tender::Card, "psp-1", ""),
        ])
        .when(RecordExchange {
            return_id: RETURN.into(),
            replacement_order_id: "o-2".into(),
        })
        .then([on_return(ReturnsEvent::ExchangeCreated {
            replacement_order_id: "o-2".into(),
            at: now(),
        })])
        .when(RecordExchange {
            return_id: RETURN.into(),
            replacement_order_id: "o-2".into(),
        })
        .then_nothing();
}

#[test]
fn an_exchange_of_a_return_returns_does_not_know_is_refused() {
    delivered_order()
        .when(RecordExchange {
            return_id: RETURN.into(),
            replacement_order_id: "o-2".into(),
        })
        .then_error(ReturnsError::UnknownReturn(RETURN.into()));
}

#[test]
fn no_more_is_refunded_than_was_paid_for_the_order_over_all_its_returns() {
    // A voucher took 30.00 off: 150.00 paid for 180.00 of goods.
    let voucher = sold_paid_with(vec![
        payment("gift-1", Tender::GiftCard, 5_000),
        payment("psp-1", Tender::Card, 10_000),
    ]);
    let first = Scenario::<Returns>::given([learnt(voucher), delivered_days_ago(2)])
        .when(start(vec![line("1", 2)]))
        .then_check(|_| {});
    let first = receive(first, KREUZBERG)
        .when(inspect(vec![inspected("1", 2, 0)]))
        .then_check(|changes| assert_eq!(changes.len(), 3, "{changes:?}"));
    let mut scarf = start(vec![line("2", 1)]);
    scarf.return_id = "RET-2".into();
    first
        .when(scarf)
        .then_check(|_| {})
        .when(ReceiveReturn {
            return_id: "RET-2".into(),
            location_id: KREUZBERG.into(),
            lines: Vec::new(),
        })
        .then_check(|_| {})
        .when(InspectReturn {
            return_id: "RET-2".into(),
            lines: vec![inspected("2", 1, 0)],
            refund_damaged: true,
        })
        .then([
            Change::new(
                return_stream("RET-2"),
                ReturnsEvent::Inspected {
                    lines: vec![inspected("2", 1, 0)],
                    at: now(),
                },
            ),
            // The jackets' refunds took all 150.00 paid: the scarf earns nothing more.
        ]);
}

#[test]
fn an_inspection_covers_every_received_unit_once() {
    everything_received()
        .when(inspect(vec![inspected("1", 1, 0), inspected("2", 1, 0)]))
        .then_refused(|e| fields(e) == ["lines"] && e.to_string().contains("must add up to the 2 units received"))
        .when(inspect(vec![inspected("1", 2, 0)]))
        .then_refused(|e| e.to_string().contains("line 2 must be inspected once"))
        .when(inspect(vec![
            inspected("1", 2, 0),
            inspected("2", 1, 0),
            inspected("2", 1, 0),
        ]))
        .then_refused(|e| e.to_string().contains("line 2 must be inspected once"))
        .when(inspect(vec![inspected("1", 3, -1), inspected("2", 1, 0)]))
        .then_refused(|e| fields(e) == ["lines"]);
}

#[test]
fn a_return_is_inspected_once_received_and_only_then() {
    authorised(start(everything()))
        .when(inspect(vec![inspected("1", 2, 0), inspected("2", 1, 0)]))
        .then_error(ReturnsError::NotNow {
            return_id: RETURN.into(),
            status: ReturnStatus::Authorised,
            step: "inspect it",
        });
}
