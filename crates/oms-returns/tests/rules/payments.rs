//! The payment gateway answers: refunded, declined, and the retry of a declined refund.

use crate::story::*;

fn refunds_requested() -> Scenario<Returns> {
    everything_received()
        .when(inspect(vec![inspected("1", 2, 0), inspected("2", 1, 0)]))
        .then_check(|changes| assert_eq!(changes.len(), 3))
}

#[test]
fn the_return_completes_when_every_refund_is_confirmed_and_an_answer_again_changes_nothing() {
    let after = refunds_requested()
        .when(paid(1, PaymentOutcome::Refunded))
        .then([on_return(ReturnsEvent::RefundConfirmed {
            refund_id: "RET-1/refund-1".into(),
            at: now(),
        })])
        .when(paid(1, PaymentOutcome::Refunded))
        .then_nothing()
        .when(paid(1, declined("too late")))
        .then_nothing();
    assert_eq!(the_return(&after).status, ReturnStatus::RefundPending);
    let after = after
        .when(paid(2, PaymentOutcome::Refunded))
        .then([on_return(ReturnsEvent::RefundConfirmed {
            refund_id: "RET-1/refund-2".into(),
            at: now(),
        })]);
    let ret = the_return(&after);
    assert_eq!((ret.status, ret.refunded_minor()), (ReturnStatus::Completed, 18_000));
}

#[test]
fn a_declined_refund_is_retried_to_the_same_tender_under_a_new_id() {
    let after = refunds_requested()
        .when(RetryRefunds {
            return_id: RETURN.into(),
        })
        .then_error(ReturnsError::NotNow {
            return_id: RETURN.into(),
            status: ReturnStatus::RefundPending,
            step: "retry its refund",
        })
        .when(paid(2, declined("card expired")))
        .then([on_return(ReturnsEvent::RefundFailed {
            refund_id: "RET-1/refund-2".into(),
            reason: "card expired".into(),
            at: now(),
        })]);
    assert_eq!(the_return(&after).status, ReturnStatus::RefundFailed);
    let after = after
        .when(RetryRefunds {
            return_id: RETURN.into(),
        })
        .then([refund_requested(3, 13_000, Tender::Card, "psp-1", "RET-1/refund-2")]);
    let statuses: Vec<RefundStatus> = the_return(&after).refunds.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [RefundStatus::Requested, RefundStatus::Retried, RefundStatus::Requested]
    );
    assert_eq!(the_return(&after).status, ReturnStatus::RefundPending);
}

#[test]
fn an_answer_about_a_refund_nobody_requested_is_refused() {
    refunds_requested()
        .when(paid(9, PaymentOutcome::Refunded))
        .then_error(ReturnsError::UnknownRefund("RET-1/refund-9".into()));
}
