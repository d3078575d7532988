//! The money of a return: what an inspection earns, and how it is refunded — as store
//! credit, or split between the tenders the order was paid with — never more than was
//! paid for the order over all its returns.

use chrono::{DateTime, Utc};

use super::{InspectedLine, Payment, RefundId, Return, Returns, ReturnsEvent, SoldOrder, Tender};

/// A refund to request: how much, to which tender and payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RefundTo {
    pub amount_minor: i64,
    pub tender: Tender,
    pub reference: String,
}

/// What the inspected units are worth: resellable ones, and damaged ones when the policy
/// refunds them too (they were returned; the retailer writes them off), at the price sold.
pub(super) fn inspection_value(ret: &Return, inspected: &[InspectedLine], refund_damaged: bool) -> i64 {
    ret.lines
        .iter()
        .map(|line| {
            let (resellable, damaged) = inspected
                .iter()
                .find(|l| l.line_id == line.line_id)
                .map_or((0, 0), |l| (l.resellable, l.damaged));
            let refunded_units = resellable + if refund_damaged { damaged } else { 0 };
            line.unit_price_minor.saturating_mul(refunded_units)
        })
        .sum()
}

/// The refund due for `value`: less the replacement units of an exchange, and never more
/// than what is left of the order's payments after every refund of its returns.
pub(super) fn refund_due(state: &Returns, order: &SoldOrder, ret: &Return, value: i64) -> i64 {
    let left_to_refund = order.paid_minor() - state.refunding_minor(&ret.order_id);
    (value - ret.exchange_minor()).clamp(0, left_to_refund.max(0))
}

/// Where `amount` is refunded: all of it as store credit when the customer chose it, or
/// split between the order's tenders.
pub(super) fn refunds_of(state: &Returns, order: &SoldOrder, ret: &Return, amount: i64) -> Vec<RefundTo> {
    if amount <= 0 {
        return Vec::new();
    }
    if ret.store_credit {
        return vec![RefundTo {
            amount_minor: amount,
            tender: Tender::StoreCredit,
            reference: format!("store-credit:{}", ret.return_id),
        }];
    }
    let refunded_to = |reference: &str| -> i64 {
        state
            .of_order(&ret.order_id)
            .iter()
            .flat_map(|r| &r.refunds)
            .filter(|r| r.holds_money() && r.reference == reference)
            .map(|r| r.amount_minor)
            .sum()
    };
    split_between_tenders(&order.payments, refunded_to, amount)
}

/// `amount` to the original tenders, in the order they were paid with: each payment takes
/// up to what it authorised less what `refunded_to` it already.
fn split_between_tenders(payments: &[Payment], refunded_to: impl Fn(&str) -> i64, amount: i64) -> Vec<RefundTo> {
    let mut left = amount;
    let mut refunds = Vec::new();
    for payment in payments {
        if left == 0 {
            break;
        }
        let take = left.min(payment.authorised_minor - refunded_to(&payment.reference));
        if take > 0 {
            refunds.push(RefundTo {
                amount_minor: take,
                tender: payment.tender,
                reference: payment.reference.clone(),
            });
            left -= take;
        }
    }
    refunds
}

/// The requests of `refunds` for the return, numbered after its refunds so far; `retries`
/// names, for each, the failed refund it retries (if any).
pub(super) fn requested(ret: &Return, refunds: Vec<(RefundTo, RefundId)>, at: DateTime<Utc>) -> Vec<ReturnsEvent> {
    refunds
        .into_iter()
        .zip(ret.refunds.len() + 1..)
        .map(|((refund, retries), n)| ReturnsEvent::RefundRequested {
            refund_id: format!("{}/refund-{n}", ret.return_id).into(),
            amount_minor: refund.amount_minor,
            tender: refund.tender,
            reference: refund.reference,
            retries,
            at,
        })
        .collect()
}
