//! The rules of a return: each command of customers, agents and stores, and of the payment
//! gateway, decided against what returns knows — one named rule per command.

use chrono::{DateTime, Duration, Utc};
use oms_eventsourcing::{Change, Changes, Decide};

use super::refunds::{self, RefundTo};
use super::{
    AuthorisedLine, ExchangeLine, InspectedLine, LineId, LineUnits, LocationId, Method, OrderId, RefundId,
    RefundStatus, Return, ReturnAuthorised, ReturnId, ReturnStatus, Returns, ReturnsError, ReturnsEvent, SoldOrder,
    Violations, return_stream,
};

/// The retailer's return policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// Days after delivery a line may be returned.
    pub window: Duration,
    /// Damaged units are refunded too (they were returned; the retailer writes them off).
    pub refund_damaged: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            window: Duration::days(30),
            refund_damaged: true,
        }
    }
}

/// Units of an order line the customer brings back, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnRequestLine {
    pub line_id: LineId,
    pub quantity: i64,
    pub reason_code: String,
}

/// A customer, an agent or a store asks to return units of an order.
#[derive(Debug, Clone, PartialEq)]
pub struct StartReturn {
    pub return_id: ReturnId,
    pub order_id: OrderId,
    pub lines: Vec<ReturnRequestLine>,
    pub method: Method,
    /// The store it is brought to (required in store).
    pub store_id: LocationId,
    pub store_credit: bool,
    pub exchange: Vec<ExchangeLine>,
    pub requested_by: String,
    /// How long after delivery a line may be returned.
    pub window: Duration,
}

impl Decide<Returns> for StartReturn {
    type Refusal = ReturnsError;

    /// Authorised once: the same return again (after the checks) changes nothing.
    fn decide(&self, state: &Returns, now: DateTime<Utc>) -> Result<Changes<ReturnsEvent>, ReturnsError> {
        let order = state
            .order(&self.order_id)
            .ok_or_else(|| ReturnsError::UnknownOrder(self.order_id.clone()))?;
        self.violations(order, now).or_ok(()).map_err(ReturnsError::Invalid)?;
        if state.get(&self.return_id).is_some() {
            return Ok(Vec::new());
        }
        Ok(vec![Change::new(
            return_stream(self.return_id.as_str()),
            ReturnsEvent::Authorised(Box::new(self.authorised(order, now))),
        )])
    }
}

impl StartReturn {
    /// What keeps the return from being authorised.
    fn violations(&self, order: &SoldOrder, now: DateTime<Utc>) -> Violations {
        let mut bad = Violations::new();
        bad.check(self.lines.is_empty(), "lines", "at least one line is required");
        bad.check(
            self.method == Method::InStore && self.store_id.as_str().trim().is_empty(),
            "store_id",
            "is required for an in-store return",
        );
        for (i, line) in self.lines.iter().enumerate() {
            self.line_violations(order, i, line, now, &mut bad);
        }
        for (i, x) in self.exchange.iter().enumerate() {
            self.exchange_violations(i, x, &mut bad);
        }
        bad
    }

    /// A line of the order, given once, not more than reached the customer and is not in
    /// a return already, inside the return window.
    fn line_violations(
        &self,
        order: &SoldOrder,
        i: usize,
        line: &ReturnRequestLine,
        now: DateTime<Utc>,
        bad: &mut Violations,
    ) {
        let field = format!("lines[{i}]");
        let ReturnRequestLine { line_id, quantity, .. } = line;
        let Some(sold) = order.line(line_id) else {
            bad.add(
                format!("{field}.order_line_id"),
                format!("the order has no line {:?}", line_id.as_str()),
            );
            return;
        };
        let returnable = sold.delivered - sold.returned;
        if *quantity <= 0 {
            bad.add(format!("{field}.quantity"), "must be 1 or more");
        } else if *quantity > returnable {
            bad.add(
                format!("{field}.quantity"),
                format!(
                    "line {line_id} ({}): {quantity} asked, {returnable} can be returned ({} reached the customer, {} returned already)",
                    sold.sku, sold.delivered, sold.returned
                ),
            );
        }
        if let Some(at) = sold.delivered_at
            && at + self.window < now
        {
            bad.add(
                format!("{field}.order_line_id"),
                format!(
                    "line {line_id} ({}) reached the customer on {}: the {}-day return window has closed",
                    sold.sku,
                    at.date_naive(),
                    self.window.num_days()
                ),
            );
        }
        bad.check(
            self.lines.iter().filter(|l| l.line_id == *line_id).count() > 1,
            format!("{field}.order_line_id"),
            format!("line {line_id} is given twice"),
        );
    }

    /// A replacement SKU, for 1 to the units returned of its line.
    fn exchange_violations(&self, i: usize, x: &ExchangeLine, bad: &mut Violations) {
        let returned = self
            .lines
            .iter()
            .find(|l| l.line_id == x.line_id)
            .map_or(0, |l| l.quantity);
        bad.require(x.sku.as_str(), format!("exchange[{i}].sku"));
        bad.check(
            x.quantity <= 0 || x.quantity > returned,
            format!("exchange[{i}].quantity"),
            format!("must be 1 to the {returned} units returned of line {}", x.line_id),
        );
    }

    /// The return as authorised, its lines priced as sold.
    fn authorised(&self, order: &SoldOrder, now: DateTime<Utc>) -> ReturnAuthorised {
        ReturnAuthorised {
            return_id: self.return_id.clone(),
            order_id: self.order_id.clone(),
            method: self.method,
            store_id: self.store_id.clone(),
            lines: self
                .lines
                .iter()
                .filter_map(|l| {
                    let sold = order.line(&l.line_id)?;
                    Some(AuthorisedLine {
                        line_id: l.line_id.clone(),
                        sku: sold.sku.clone(),
                        quantity: l.quantity,
                        reason_code: l.reason_code.clone(),
                        unit_price_minor: sold.unit_price_minor,
                    })
                })
                .collect(),
            store_credit: self.store_credit,
            exchange: self.exchange.clone(),
            requested_by: self.requested_by.clone(),
            currency: order.currency.clone(),
            at: now,
        }
    }
}

/// The units arrived at a store or warehouse.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceiveReturn {
    pub return_id: ReturnId,
    pub location_id: LocationId,
    /// Units per line; none given: all of them.
    pub lines: Vec<LineUnits>,
}

impl Decide<Returns> for ReceiveReturn {
    type Refusal = ReturnsError;

    fn decide(&self, state: &Returns, now: DateTime<Utc>) -> Result<Changes<ReturnsEvent>, ReturnsError> {
        let ret = state.known(&self.return_id)?;
        Ok(on_return(ret, receive(ret, &self.location_id, &self.lines, now)?))
    }
}

/// Once, at one place; a line never more than was authorised.
fn receive(
    ret: &Return,
    location_id: &LocationId,
    lines: &[LineUnits],
    at: DateTime<Utc>,
) -> Result<Vec<ReturnsEvent>, ReturnsError> {
    match ret.status {
        ReturnStatus::Authorised => {}
        ReturnStatus::Received if ret.location_id == *location_id => return Ok(Vec::new()),
        status => return Err(not_now(ret, status, "receive it")),
    }
    let mut bad = Violations::new();
    bad.require(location_id.as_str(), "location_id");
    for (i, given) in lines.iter().enumerate() {
        match ret.line(given.line_id.as_str()) {
            None => bad.add(
                format!("lines[{i}].order_line_id"),
                format!("the return has no line {:?}", given.line_id.as_str()),
            ),
            Some(l) if given.units < 0 || given.units > l.quantity => bad.add(
                format!("lines[{i}].quantity"),
                format!("must be between 0 and the {} units authorised", l.quantity),
            ),
            Some(_) => {}
        }
    }
    bad.or_ok(()).map_err(ReturnsError::Invalid)?;
    let lines = if lines.is_empty() {
        ret.lines
            .iter()
            .map(|l| LineUnits::new(l.line_id.clone(), l.quantity))
            .collect()
    } else {
        lines.to_vec()
    };
    Ok(vec![ReturnsEvent::Received {
        location_id: location_id.clone(),
        lines,
        at,
    }])
}

/// Each received unit is found resellable or damaged.
#[derive(Debug, Clone, PartialEq)]
pub struct InspectReturn {
    pub return_id: ReturnId,
    pub lines: Vec<InspectedLine>,
    /// Damaged units are refunded too.
    pub refund_damaged: bool,
}

impl Decide<Returns> for InspectReturn {
    type Refusal = ReturnsError;

    /// Inspected, then the refund it earns is requested.
    fn decide(&self, state: &Returns, now: DateTime<Utc>) -> Result<Changes<ReturnsEvent>, ReturnsError> {
        let ret = state.known(&self.return_id)?;
        let mut events = vec![inspect(ret, &self.lines, now)?];
        if let Some(order) = state.order(&ret.order_id) {
            let value = refunds::inspection_value(ret, &self.lines, self.refund_damaged);
            let due = refunds::refund_due(state, order, ret, value);
            let refunds = refunds::refunds_of(state, order, ret, due);
            events.extend(refunds::requested(ret, not_retrying(refunds), now));
        }
        Ok(on_return(ret, events))
    }
}

/// Once received; every line once, its resellable and damaged units adding up to those
/// received.
fn inspect(ret: &Return, inspected: &[InspectedLine], at: DateTime<Utc>) -> Result<ReturnsEvent, ReturnsError> {
    if ret.status != ReturnStatus::Received {
        return Err(not_now(ret, ret.status, "inspect it"));
    }
    let mut bad = Violations::new();
    for line in &ret.lines {
        let found: Vec<_> = inspected.iter().filter(|l| l.line_id == line.line_id).collect();
        match found.as_slice() {
            [l] if l.resellable >= 0 && l.damaged >= 0 && l.resellable + l.damaged == line.received => {}
            [_] => bad.add(
                "lines",
                format!(
                    "line {}: resellable and damaged must add up to the {} units received",
                    line.line_id, line.received
                ),
            ),
            _ => bad.add("lines", format!("line {} must be inspected once", line.line_id)),
        }
    }
    bad.or_ok(()).map_err(ReturnsError::Invalid)?;
    Ok(ReturnsEvent::Inspected {
        lines: inspected.to_vec(),
        at,
    })
}

fn not_retrying(refunds: Vec<RefundTo>) -> Vec<(RefundTo, RefundId)> {
    refunds.into_iter().map(|r| (r, RefundId::default())).collect()
}

/// What the payment gateway answered about a refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentOutcome {
    Refunded,
    Declined { reason: String },
}

/// The payment gateway's answer about a refund.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordPaymentResult {
    pub refund_id: RefundId,
    pub outcome: PaymentOutcome,
    pub at: DateTime<Utc>,
}

impl Decide<Returns> for RecordPaymentResult {
    type Refusal = ReturnsError;

    /// The first answer counts; the same answer again (or another) changes nothing.
    fn decide(&self, state: &Returns, _now: DateTime<Utc>) -> Result<Changes<ReturnsEvent>, ReturnsError> {
        let unknown = || ReturnsError::UnknownRefund(self.refund_id.clone());
        let ret = state.return_of_refund(&self.refund_id).ok_or_else(unknown)?;
        let refund = ret.refund(&self.refund_id).ok_or_else(unknown)?;
        if refund.status != RefundStatus::Requested {
            return Ok(Vec::new());
        }
        let refund_id = self.refund_id.clone();
        let event = match &self.outcome {
            PaymentOutcome::Refunded => ReturnsEvent::RefundConfirmed { refund_id, at: self.at },
            PaymentOutcome::Declined { reason } => ReturnsEvent::RefundFailed {
                refund_id,
                reason: reason.clone(),
                at: self.at,
            },
        };
        Ok(on_return(ret, vec![event]))
    }
}

/// Customer service asks for the failed refunds of a return again.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryRefunds {
    pub return_id: ReturnId,
}

impl Decide<Returns> for RetryRefunds {
    type Refusal = ReturnsError;

    /// Every failed refund is requested again, under a new id, to the same tender.
    fn decide(&self, state: &Returns, now: DateTime<Utc>) -> Result<Changes<ReturnsEvent>, ReturnsError> {
        let ret = state.known(&self.return_id)?;
        if ret.status != ReturnStatus::RefundFailed {
            return Err(not_now(ret, ret.status, "retry its refund"));
        }
        let again = ret
            .refunds
            .iter()
            .filter(|r| r.status == RefundStatus::Failed)
            .map(|r| {
                let refund = RefundTo {
                    amount_minor: r.amount_minor,
                    tender: r.tender,
                    reference: r.reference.clone(),
                };
                (refund, r.refund_id.clone())
            })
            .collect();
        Ok(on_return(ret, refunds::requested(ret, again, now)))
    }
}

/// Order capture placed the replacement order of an exchange.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordExchange {
    pub return_id: ReturnId,
    pub replacement_order_id: OrderId,
}

impl Decide<Returns> for RecordExchange {
    type Refusal = ReturnsError;

    fn decide(&self, state: &Returns, now: DateTime<Utc>) -> Result<Changes<ReturnsEvent>, ReturnsError> {
        let ret = state.known(&self.return_id)?;
        if ret.replacement_order_id == self.replacement_order_id {
            return Ok(Vec::new());
        }
        Ok(on_return(
            ret,
            vec![ReturnsEvent::ExchangeCreated {
                replacement_order_id: self.replacement_order_id.clone(),
                at: now,
            }],
        ))
    }
}

fn not_now(ret: &Return, status: ReturnStatus, step: &'static str) -> ReturnsError {
    ReturnsError::NotNow {
        return_id: ret.return_id.clone(),
        status,
        step,
    }
}

/// The changes recording `events` on the return's stream.
fn on_return(ret: &Return, events: Vec<ReturnsEvent>) -> Changes<ReturnsEvent> {
    let stream = return_stream(ret.return_id.as_str());
    events.into_iter().map(|e| Change::new(stream.clone(), e)).collect()
}
