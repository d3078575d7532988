//! A return authorisation as its events build it: its lines (authorised, received,
//! inspected), its refunds, and where it stands.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    ExchangeLine, InspectedLine, LineId, LineUnits, LocationId, Method, Money, OrderId, RefundId, ReturnAuthorised,
    ReturnId, ReturnsEvent, Sku, Tender,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReturnStatus {
    Authorised,
    Received,
    Inspected,
    RefundPending,
    RefundFailed,
    Completed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnLine {
    pub line_id: LineId,
    pub sku: Sku,
    pub quantity: i64,
    pub reason_code: String,
    pub unit_price_minor: i64,
    pub received: i64,
    pub resellable: i64,
    pub damaged: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RefundStatus {
    Requested,
    Confirmed,
    Failed,
    /// Failed, and requested again under another id.
    Retried,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    pub refund_id: RefundId,
    pub amount_minor: i64,
    pub tender: Tender,
    pub reference: String,
    pub status: RefundStatus,
    pub reason: String,
}

impl Refund {
    /// Counts against what may still be refunded.
    pub fn holds_money(&self) -> bool {
        matches!(self.status, RefundStatus::Requested | RefundStatus::Confirmed)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Return {
    pub return_id: ReturnId,
    pub order_id: OrderId,
    pub status: ReturnStatus,
    pub method: Method,
    pub store_id: LocationId,
    /// Where it was received (empty until then).
    pub location_id: LocationId,
    pub lines: Vec<ReturnLine>,
    pub refunds: Vec<Refund>,
    pub store_credit: bool,
    pub exchange: Vec<ExchangeLine>,
    /// Empty until the replacement order of an exchange is placed.
    pub replacement_order_id: OrderId,
    pub requested_by: String,
    pub currency: String,
    pub created_at: DateTime<Utc>,
}

impl From<&ReturnAuthorised> for Return {
    fn from(authorised: &ReturnAuthorised) -> Self {
        Return {
            return_id: authorised.return_id.clone(),
            order_id: authorised.order_id.clone(),
            status: ReturnStatus::Authorised,
            method: authorised.method,
            store_id: authorised.store_id.clone(),
            location_id: LocationId::default(),
            lines: authorised
                .lines
                .iter()
                .map(|l| ReturnLine {
                    line_id: l.line_id.clone(),
                    sku: l.sku.clone(),
                    quantity: l.quantity,
                    reason_code: l.reason_code.clone(),
                    unit_price_minor: l.unit_price_minor,
                    received: 0,
                    resellable: 0,
                    damaged: 0,
                })
                .collect(),
            refunds: Vec::new(),
            store_credit: authorised.store_credit,
            exchange: authorised.exchange.clone(),
            replacement_order_id: OrderId::default(),
            requested_by: authorised.requested_by.clone(),
            currency: authorised.currency.clone(),
            created_at: authorised.at,
        }
    }
}

impl Return {
    pub fn line(&self, line_id: impl AsRef<str>) -> Option<&ReturnLine> {
        let line_id = line_id.as_ref();
        self.lines.iter().find(|l| l.line_id == line_id)
    }

    pub fn refund(&self, refund_id: impl AsRef<str>) -> Option<&Refund> {
        let refund_id = refund_id.as_ref();
        self.refunds.iter().find(|r| r.refund_id == refund_id)
    }

    /// `amount_minor` in the return's currency (the order's).
    pub fn money(&self, amount_minor: i64) -> Money {
        Money::new(amount_minor, self.currency.clone())
    }

    pub fn refunded_minor(&self) -> i64 {
        self.refunds
            .iter()
            .filter(|r| r.status == RefundStatus::Confirmed)
            .map(|r| r.amount_minor)
            .sum()
    }

    /// The value of the replacement units, priced as the returned ones.
    pub fn exchange_minor(&self) -> i64 {
        self.exchange
            .iter()
            .map(|x| {
                let price = self.line(&x.line_id).map_or(0, |l| l.unit_price_minor);
                price.saturating_mul(x.quantity)
            })
            .sum()
    }

    /// Folds one of the return's own events in (`Authorised` makes the return: see
    /// `From<&ReturnAuthorised>`).
    pub fn evolve(&mut self, event: &ReturnsEvent) {
        match event {
            ReturnsEvent::Received { location_id, lines, .. } => self.received(location_id, lines),
            ReturnsEvent::Inspected { lines, .. } => {
                self.inspected(lines);
                self.settle();
            }
            ReturnsEvent::RefundRequested {
                refund_id,
                amount_minor,
                tender,
                reference,
                retries,
                ..
            } => {
                if let Some(old) = self.refunds.iter_mut().find(|r| r.refund_id == *retries) {
                    old.status = RefundStatus::Retried;
                }
                self.refunds.push(Refund {
                    refund_id: refund_id.clone(),
                    amount_minor: *amount_minor,
                    tender: *tender,
                    reference: reference.clone(),
                    status: RefundStatus::Requested,
                    reason: String::new(),
                });
                self.settle();
            }
            ReturnsEvent::RefundConfirmed { refund_id, .. } => {
                self.refund_answered(refund_id, RefundStatus::Confirmed, "");
            }
            ReturnsEvent::RefundFailed { refund_id, reason, .. } => {
                self.refund_answered(refund_id, RefundStatus::Failed, reason);
            }
            ReturnsEvent::ExchangeCreated {
                replacement_order_id, ..
            } => self.replacement_order_id.clone_from(replacement_order_id),
            ReturnsEvent::OrderSold(_) | ReturnsEvent::Delivered { .. } | ReturnsEvent::Authorised(_) => {}
        }
    }

    /// The units arrived at `location_id`; a line not named had none.
    fn received(&mut self, location_id: &LocationId, lines: &[LineUnits]) {
        self.location_id.clone_from(location_id);
        for line in &mut self.lines {
            line.received = lines.iter().find(|l| l.line_id == line.line_id).map_or(0, |l| l.units);
        }
        self.status = ReturnStatus::Received;
    }

    fn inspected(&mut self, lines: &[InspectedLine]) {
        for line in &mut self.lines {
            if let Some(inspected) = lines.iter().find(|l| l.line_id == line.line_id) {
                line.resellable = inspected.resellable;
                line.damaged = inspected.damaged;
            }
        }
        self.status = ReturnStatus::Inspected;
    }

    fn refund_answered(&mut self, refund_id: &RefundId, status: RefundStatus, reason: &str) {
        if let Some(refund) = self.refunds.iter_mut().find(|r| r.refund_id == *refund_id) {
            refund.status = status;
            if status == RefundStatus::Failed {
                reason.clone_into(&mut refund.reason);
            }
        }
        self.settle();
    }

    /// The status once inspected follows the refunds.
    fn settle(&mut self) {
        if matches!(self.status, ReturnStatus::Authorised | ReturnStatus::Received) {
            return;
        }
        let statuses: Vec<RefundStatus> = self.refunds.iter().map(|r| r.status).collect();
        self.status = if statuses.contains(&RefundStatus::Failed) {
            ReturnStatus::RefundFailed
        } else if statuses.contains(&RefundStatus::Requested) {
            ReturnStatus::RefundPending
        } else {
            ReturnStatus::Completed
        };
    }
}
