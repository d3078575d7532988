//! Every order returns knows and every return, as the events build them, and the decisions
//! that change them.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use oms_eventsourcing::{EventHeader, Model};
use serde::{Deserialize, Serialize};

use super::{
    ExchangeLine, Method, Refund, RefundStatus, Return, ReturnLine, ReturnStatus, ReturnsError, ReturnsEvent,
    SoldOrder, order_stream, return_stream,
};

pub type Events = Vec<(String, ReturnsEvent)>;

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

/// What a customer, an agent or a store asks to return.
#[derive(Debug, Clone, PartialEq)]
pub struct StartReturn {
    pub return_id: String,
    pub order_id: String,
    /// (order line, units, reason code).
    pub lines: Vec<(String, i64, String)>,
    pub method: Method,
    pub store_id: String,
    pub store_credit: bool,
    pub exchange: Vec<ExchangeLine>,
    pub requested_by: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Returns {
    orders: HashMap<String, SoldOrder>,
    returns: HashMap<String, Return>,
    /// Order → its returns, oldest first.
    by_order: HashMap<String, Vec<String>>,
    /// Refund → its return.
    refunds: HashMap<String, String>,
}

impl Model for Returns {
    type Event = ReturnsEvent;
    const NAME: &'static str = "returns";
    const SNAPSHOT_VERSION: u32 = 1;

    fn apply(&mut self, header: &EventHeader<'_>, event: &ReturnsEvent) {
        match event {
            ReturnsEvent::OrderSold { order } => {
                self.orders
                    .entry(order.order_id.clone())
                    .or_insert_with(|| (**order).clone());
            }
            ReturnsEvent::Delivered { job_id, lines, at } => {
                let Some(id) = header.stream_id.strip_prefix("order:") else {
                    return;
                };
                let Some(order) = self.orders.get_mut(id) else { return };
                order.jobs.push(job_id.clone());
                for (line_id, units) in lines {
                    if let Some(line) = order.lines.iter_mut().find(|l| l.line_id == *line_id) {
                        line.delivered = (line.delivered + units).min(line.quantity);
                        line.delivered_at = Some(*at);
                    }
                }
            }
            ReturnsEvent::Authorised { ret } => {
                if let Some(order) = self.orders.get_mut(&ret.order_id) {
                    for line in &ret.lines {
                        if let Some(sold) = order.lines.iter_mut().find(|l| l.line_id == line.line_id) {
                            sold.returned += line.quantity;
                        }
                    }
                }
                self.by_order
                    .entry(ret.order_id.clone())
                    .or_default()
                    .push(ret.return_id.clone());
                self.returns.insert(ret.return_id.clone(), (**ret).clone());
            }
            _ => {
                let Some(id) = header.stream_id.strip_prefix("return:") else {
                    return;
                };
                let Some(ret) = self.returns.get_mut(id) else { return };
                evolve_return(ret, event);
                for refund in &ret.refunds {
                    self.refunds.insert(refund.refund_id.clone(), ret.return_id.clone());
                }
            }
        }
    }
}

/// Applies one of the return's own events (not `Authorised`).
pub fn evolve_return(ret: &mut Return, event: &ReturnsEvent) {
    match event {
        ReturnsEvent::Received { location_id, lines, .. } => {
            ret.location_id = location_id.clone();
            for line in &mut ret.lines {
                line.received = lines.iter().find(|(l, _)| *l == line.line_id).map_or(0, |(_, q)| *q);
            }
            ret.status = ReturnStatus::Received;
        }
        ReturnsEvent::Inspected { lines, .. } => {
            for line in &mut ret.lines {
                if let Some((_, resellable, damaged)) = lines.iter().find(|(l, _, _)| *l == line.line_id) {
                    line.resellable = *resellable;
                    line.damaged = *damaged;
                }
            }
            ret.status = ReturnStatus::Inspected;
            settle(ret);
        }
        ReturnsEvent::RefundRequested {
            refund_id,
            amount_minor,
            tender,
            reference,
            retries,
            ..
        } => {
            if let Some(old) = ret.refunds.iter_mut().find(|r| r.refund_id == *retries) {
                old.status = RefundStatus::Retried;
            }
            ret.refunds.push(Refund {
                refund_id: refund_id.clone(),
                amount_minor: *amount_minor,
                tender: tender.clone(),
                reference: reference.clone(),
                status: RefundStatus::Requested,
                reason: String::new(),
            });
            settle(ret);
        }
        ReturnsEvent::RefundConfirmed { refund_id, .. } => {
            if let Some(r) = ret.refunds.iter_mut().find(|r| r.refund_id == *refund_id) {
                r.status = RefundStatus::Confirmed;
            }
            settle(ret);
        }
        ReturnsEvent::RefundFailed { refund_id, reason, .. } => {
            if let Some(r) = ret.refunds.iter_mut().find(|r| r.refund_id == *refund_id) {
                r.status = RefundStatus::Failed;
                r.reason = reason.clone();
            }
            settle(ret);
        }
        ReturnsEvent::ExchangeCreated {
            replacement_order_id, ..
        } => ret.replacement_order_id = replacement_order_id.clone(),
        ReturnsEvent::OrderSold { .. } | ReturnsEvent::Delivered { .. } | ReturnsEvent::Authorised { .. } => {}
    }
}

/// The status once inspected follows the refunds.
fn settle(ret: &mut Return) {
    if matches!(ret.status, ReturnStatus::Authorised | ReturnStatus::Received) {
        return;
    }
    let statuses: Vec<RefundStatus> = ret.refunds.iter().map(|r| r.status).collect();
    ret.status = if statuses.contains(&RefundStatus::Failed) {
        ReturnStatus::RefundFailed
    } else if statuses.contains(&RefundStatus::Requested) {
        ReturnStatus::RefundPending
    } else {
        ReturnStatus::Completed
    };
}

impl Returns {
    pub fn order(&self, order_id: &str) -> Option<&SoldOrder> {
        self.orders.get(order_id)
    }

    pub fn get(&self, return_id: &str) -> Option<&Return> {
        self.returns.get(return_id)
    }

    pub fn of_order(&self, order_id: &str) -> Vec<&Return> {
        self.by_order
            .get(order_id)
            .into_iter()
            .flatten()
            .filter_map(|id| self.returns.get(id))
            .collect()
    }

    pub fn return_of_refund(&self, refund_id: &str) -> Option<&Return> {
        self.refunds.get(refund_id).and_then(|id| self.returns.get(id))
    }

    pub fn len(&self) -> usize {
        self.returns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.returns.is_empty()
    }

    /// Money refunded or being refunded for an order, over all its returns.
    pub fn refunding_minor(&self, order_id: &str) -> i64 {
        self.of_order(order_id)
            .iter()
            .flat_map(|r| &r.refunds)
            .filter(|r| r.holds_money())
            .map(|r| r.amount_minor)
            .sum()
    }

    /// Learns an order as order capture announced it.
    pub fn sold(&self, order: SoldOrder) -> Events {
        if self.orders.contains_key(&order.order_id) {
            return Vec::new();
        }
        vec![(
            order_stream(&order.order_id),
            ReturnsEvent::OrderSold { order: Box::new(order) },
        )]
    }

    /// Units of a job left for the customer (shipped or collected); a job counts once.
    pub fn delivered(
        &self,
        order_id: &str,
        job_id: &str,
        lines: Vec<(String, i64)>,
        at: DateTime<Utc>,
    ) -> Result<Events, ReturnsError> {
        let order = self
            .orders
            .get(order_id)
            .ok_or_else(|| ReturnsError::UnknownOrder(order_id.to_owned()))?;
        if order.jobs.iter().any(|j| j == job_id) {
            return Ok(Vec::new());
        }
        Ok(vec![(
            order_stream(order_id),
            ReturnsEvent::Delivered {
                job_id: job_id.to_owned(),
                lines,
                at,
            },
        )])
    }

    pub fn start(&self, request: StartReturn, policy: &Policy, now: DateTime<Utc>) -> Result<Events, ReturnsError> {
        let order = self
            .orders
            .get(&request.order_id)
            .ok_or_else(|| ReturnsError::UnknownOrder(request.order_id.clone()))?;
        let mut bad = Vec::new();
        if request.lines.is_empty() {
            bad.push(("lines".to_owned(), "at least one line is required".to_owned()));
        }
        if request.method == Method::InStore && request.store_id.trim().is_empty() {
            bad.push(("store_id".to_owned(), "is required for an in-store return".to_owned()));
        }
        let mut lines = Vec::new();
        for (i, (line_id, quantity, reason)) in request.lines.iter().enumerate() {
            let field = format!("lines[{i}]");
            let Some(sold) = order.line(line_id) else {
                bad.push((
                    format!("{field}.order_line_id"),
                    format!("the order has no line {line_id:?}"),
                ));
                continue;
            };
            let returnable = sold.delivered - sold.returned;
            if *quantity <= 0 {
                bad.push((format!("{field}.quantity"), "must be 1 or more".to_owned()));
            } else if *quantity > returnable {
                bad.push((
                    format!("{field}.quantity"),
                    format!(
                        "line {line_id} ({}): {quantity} asked, {returnable} can be returned ({} reached the customer, {} returned already)",
                        sold.sku, sold.delivered, sold.returned
                    ),
                ));
            }
            if let Some(at) = sold.delivered_at
                && at + policy.window < now
            {
                bad.push((
                    format!("{field}.order_line_id"),
                    format!(
                        "line {line_id} ({}) reached the customer on {}: the {}-day return window has closed",
                        sold.sku,
                        at.date_naive(),
                        policy.window.num_days()
                    ),
                ));
            }
            if request.lines.iter().filter(|(l, _, _)| l == line_id).count() > 1 {
                bad.push((
                    format!("{field}.order_line_id"),
                    format!("line {line_id} is given twice"),
                ));
            }
            lines.push(ReturnLine {
                line_id: line_id.clone(),
                sku: sold.sku.clone(),
                quantity: *quantity,
                reason_code: reason.clone(),
                unit_price_minor: sold.unit_price_minor,
                received: 0,
                resellable: 0,
                damaged: 0,
            });
        }
        for (i, x) in request.exchange.iter().enumerate() {
            let returned = request
                .lines
                .iter()
                .find(|(l, _, _)| *l == x.line_id)
                .map_or(0, |(_, q, _)| *q);
            if x.sku.trim().is_empty() {
                bad.push((format!("exchange[{i}].sku"), "is required".to_owned()));
            }
            if x.quantity <= 0 || x.quantity > returned {
                bad.push((
                    format!("exchange[{i}].quantity"),
                    format!("must be 1 to the {returned} units returned of line {}", x.line_id),
                ));
            }
        }
        if !bad.is_empty() {
            return Err(ReturnsError::Invalid(bad));
        }
        if self.returns.contains_key(&request.return_id) {
            return Ok(Vec::new());
        }
        let ret = Return {
            return_id: request.return_id.clone(),
            order_id: request.order_id,
            status: ReturnStatus::Authorised,
            method: request.method,
            store_id: request.store_id,
            location_id: String::new(),
            lines,
            refunds: Vec::new(),
            store_credit: request.store_credit,
            exchange: request.exchange,
            replacement_order_id: String::new(),
            requested_by: request.requested_by,
            currency: order.currency.clone(),
            created_at: now,
        };
        Ok(vec![(
            return_stream(&request.return_id),
            ReturnsEvent::Authorised { ret: Box::new(ret) },
        )])
    }

    fn known(&self, return_id: &str) -> Result<&Return, ReturnsError> {
        self.returns
            .get(return_id)
            .ok_or_else(|| ReturnsError::UnknownReturn(return_id.to_owned()))
    }

    /// The units arrived at `location_id`; with no lines, all of them.
    pub fn receive(
        &self,
        return_id: &str,
        location_id: &str,
        lines: Vec<(String, i64)>,
        at: DateTime<Utc>,
    ) -> Result<Events, ReturnsError> {
        let ret = self.known(return_id)?;
        match ret.status {
            ReturnStatus::Authorised => {}
            ReturnStatus::Received if ret.location_id == location_id => return Ok(Vec::new()),
            status => {
                return Err(ReturnsError::NotNow {
                    return_id: return_id.to_owned(),
                    status,
                    step: "receive it",
                });
            }
        }
        let mut bad = Vec::new();
        if location_id.trim().is_empty() {
            bad.push(("location_id".to_owned(), "is required".to_owned()));
        }
        let lines = if lines.is_empty() {
            ret.lines.iter().map(|l| (l.line_id.clone(), l.quantity)).collect()
        } else {
            for (i, (line_id, quantity)) in lines.iter().enumerate() {
                match ret.lines.iter().find(|l| l.line_id == *line_id) {
                    None => bad.push((
                        format!("lines[{i}].order_line_id"),
                        format!("the return has no line {line_id:?}"),
                    )),
                    Some(l) if *quantity < 0 || *quantity > l.quantity => bad.push((
                        format!("lines[{i}].quantity"),
                        format!("must be between 0 and the {} units authorised", l.quantity),
                    )),
                    Some(_) => {}
                }
            }
            lines
        };
        if !bad.is_empty() {
            return Err(ReturnsError::Invalid(bad));
        }
        Ok(vec![(
            return_stream(return_id),
            ReturnsEvent::Received {
                location_id: location_id.to_owned(),
                lines,
                at,
            },
        )])
    }

    /// Each received unit is resellable or damaged; then the refund is requested.
    pub fn inspect(
        &self,
        return_id: &str,
        inspected: Vec<(String, i64, i64)>,
        policy: &Policy,
        at: DateTime<Utc>,
    ) -> Result<Events, ReturnsError> {
        let ret = self.known(return_id)?;
        if ret.status != ReturnStatus::Received {
            return Err(ReturnsError::NotNow {
                return_id: return_id.to_owned(),
                status: ret.status,
                step: "inspect it",
            });
        }
        let mut bad = Vec::new();
        for line in &ret.lines {
            let found: Vec<_> = inspected.iter().filter(|(l, _, _)| *l == line.line_id).collect();
            match found.as_slice() {
                [(_, resellable, damaged)]
                    if *resellable >= 0 && *damaged >= 0 && resellable + damaged == line.received => {}
                [_] => bad.push((
                    "lines".to_owned(),
                    format!(
                        "line {}: resellable and damaged must add up to the {} units received",
                        line.line_id, line.received
                    ),
                )),
                _ => bad.push((
                    "lines".to_owned(),
                    format!("line {} must be inspected once", line.line_id),
                )),
            }
        }
        if !bad.is_empty() {
            return Err(ReturnsError::Invalid(bad));
        }
        let stream = return_stream(return_id);
        let mut events = vec![(
            stream.clone(),
            ReturnsEvent::Inspected {
                lines: inspected.clone(),
                at,
            },
        )];
        let value: i64 = ret
            .lines
            .iter()
            .map(|line| {
                let (_, resellable, damaged) = inspected
                    .iter()
                    .find(|(l, _, _)| *l == line.line_id)
                    .cloned()
                    .unwrap_or_default();
                let refunded_units = resellable + if policy.refund_damaged { damaged } else { 0 };
                line.unit_price_minor.saturating_mul(refunded_units)
            })
            .sum();
        let Some(order) = self.orders.get(&ret.order_id) else {
            return Ok(events);
        };
        // Never more than was paid, over every return of the order.
        let left_to_refund = order.paid_minor() - self.refunding_minor(&ret.order_id);
        let mut amount = (value - ret.exchange_minor()).clamp(0, left_to_refund.max(0));
        let mut n = ret.refunds.len();
        let mut request = |amount_minor: i64, tender: &str, reference: &str| {
            n += 1;
            (
                stream.clone(),
                ReturnsEvent::RefundRequested {
                    refund_id: format!("{return_id}/refund-{n}"),
                    amount_minor,
                    tender: tender.to_owned(),
                    reference: reference.to_owned(),
                    retries: String::new(),
                    at,
                },
            )
        };
        if amount > 0 && ret.store_credit {
            events.push(request(
                amount,
                "TENDER_TYPE_STORE_CREDIT",
                &format!("store-credit:{return_id}"),
            ));
            return Ok(events);
        }
        // To the original tenders, in the order they were paid with.
        for tender in &order.tenders {
            if amount == 0 {
                break;
            }
            let used: i64 = self
                .of_order(&ret.order_id)
                .iter()
                .flat_map(|r| &r.refunds)
                .filter(|r| r.holds_money() && r.reference == tender.reference)
                .map(|r| r.amount_minor)
                .sum();
            let take = amount.min(tender.authorised_minor - used);
            if take > 0 {
                events.push(request(take, &tender.tender, &tender.reference));
                amount -= take;
            }
        }
        Ok(events)
    }

    /// The gateway's answer about a refund; the same answer again changes nothing.
    pub fn payment_result(
        &self,
        refund_id: &str,
        failure: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<Events, ReturnsError> {
        let ret = self
            .return_of_refund(refund_id)
            .ok_or_else(|| ReturnsError::UnknownRefund(refund_id.to_owned()))?;
        let Some(refund) = ret.refunds.iter().find(|r| r.refund_id == refund_id) else {
            return Err(ReturnsError::UnknownRefund(refund_id.to_owned()));
        };
        if refund.status != RefundStatus::Requested {
            return Ok(Vec::new());
        }
        let event = match failure {
            None => ReturnsEvent::RefundConfirmed {
                refund_id: refund_id.to_owned(),
                at,
            },
            Some(reason) => ReturnsEvent::RefundFailed {
                refund_id: refund_id.to_owned(),
                reason,
                at,
            },
        };
        Ok(vec![(return_stream(&ret.return_id), event)])
    }

    /// Requests every failed refund of the return again, under new ids.
    pub fn retry_refunds(&self, return_id: &str, at: DateTime<Utc>) -> Result<Events, ReturnsError> {
        let ret = self.known(return_id)?;
        if ret.status != ReturnStatus::RefundFailed {
            return Err(ReturnsError::NotNow {
                return_id: return_id.to_owned(),
                status: ret.status,
                step: "retry its refund",
            });
        }
        let mut n = ret.refunds.len();
        Ok(ret
            .refunds
            .iter()
            .filter(|r| r.status == RefundStatus::Failed)
            .map(|r| {
                n += 1;
                (
                    return_stream(return_id),
                    ReturnsEvent::RefundRequested {
                        refund_id: format!("{return_id}/refund-{n}"),
                        amount_minor: r.amount_minor,
                        tender: r.tender.clone(),
                        reference: r.reference.clone(),
                        retries: r.refund_id.clone(),
                        at,
                    },
                )
            })
            .collect())
    }

    pub fn exchange_created(
        &self,
        return_id: &str,
        replacement_order_id: &str,
        at: DateTime<Utc>,
    ) -> Result<Events, ReturnsError> {
        let ret = self.known(return_id)?;
        if ret.replacement_order_id == replacement_order_id {
            return Ok(Vec::new());
        }
        Ok(vec![(
            return_stream(return_id),
            ReturnsEvent::ExchangeCreated {
                replacement_order_id: replacement_order_id.to_owned(),
                at,
            },
        )])
    }
}
