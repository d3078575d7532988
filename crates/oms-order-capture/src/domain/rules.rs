//! The commands of order capture, one type each — a channel placing an order, customer
//! service acting on it, other services reporting what happened to its units — each
//! decided against the order as it is by one named rule.

use std::fmt::Debug;

use chrono::{DateTime, Utc};
use oms_eventsourcing::{Change, Changes, Decide, DomainEvent};

use super::events::Units;
use super::{
    Address, Delivery, LineQuantity, LineState, Order, OrderDraft, OrderError, OrderEvent, Orders, Violations,
    order_stream,
};

/// A command about one order, decided against the order as it stands by its rule.
pub trait OrderCommand: Debug + Send + 'static {
    /// The order it is about.
    fn order_id(&self) -> &str;

    /// What the command does to `order`: its events, or why it is refused.
    fn rule(&self, order: &Order) -> Result<Vec<OrderEvent>, OrderError>;
}

/// Places a channel's order.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaceOrder {
    pub order_id: String,
    pub draft: Box<OrderDraft>,
    pub at: DateTime<Utc>,
}

/// Cancels units of the order; no lines: everything that can still be cancelled.
#[derive(Debug, Clone, PartialEq)]
pub struct CancelOrder {
    pub order_id: String,
    pub lines: Units,
    pub reason: String,
    pub by: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChangeShippingAddress {
    pub order_id: String,
    pub address: Address,
    pub by: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChangeDelivery {
    pub order_id: String,
    pub delivery: Delivery,
    pub by: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HoldOrder {
    pub order_id: String,
    pub reason: String,
    pub by: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseOrder {
    pub order_id: String,
    pub by: String,
    pub at: DateTime<Utc>,
}

/// What other services report about the order's units — routing's allocations,
/// backorders and failures, the nodes' steps, returns and refunds — in the order they
/// reported them: each recorded once.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordReports {
    pub order_id: String,
    pub reports: Vec<OrderEvent>,
}

impl RecordReports {
    pub fn one(order_id: impl Into<String>, report: OrderEvent) -> Self {
        Self {
            order_id: order_id.into(),
            reports: vec![report],
        }
    }
}

impl OrderCommand for PlaceOrder {
    fn order_id(&self) -> &str {
        &self.order_id
    }

    fn rule(&self, order: &Order) -> Result<Vec<OrderEvent>, OrderError> {
        order.place(self.order_id.clone(), self.draft.clone(), self.at)
    }
}

impl OrderCommand for CancelOrder {
    fn order_id(&self) -> &str {
        &self.order_id
    }

    fn rule(&self, order: &Order) -> Result<Vec<OrderEvent>, OrderError> {
        order.cancel(&self.lines, &self.reason, &self.by, self.at)
    }
}

impl OrderCommand for ChangeShippingAddress {
    fn order_id(&self) -> &str {
        &self.order_id
    }

    fn rule(&self, order: &Order) -> Result<Vec<OrderEvent>, OrderError> {
        order.change_address(self.address.clone(), self.by.clone(), self.at)
    }
}

impl OrderCommand for ChangeDelivery {
    fn order_id(&self) -> &str {
        &self.order_id
    }

    fn rule(&self, order: &Order) -> Result<Vec<OrderEvent>, OrderError> {
        order.change_delivery(self.delivery.clone(), self.by.clone(), self.at)
    }
}

impl OrderCommand for HoldOrder {
    fn order_id(&self) -> &str {
        &self.order_id
    }

    fn rule(&self, order: &Order) -> Result<Vec<OrderEvent>, OrderError> {
        order.hold(self.reason.clone(), self.by.clone(), self.at)
    }
}

impl OrderCommand for ReleaseOrder {
    fn order_id(&self) -> &str {
        &self.order_id
    }

    fn rule(&self, order: &Order) -> Result<Vec<OrderEvent>, OrderError> {
        order.release(self.by.clone(), self.at)
    }
}

impl OrderCommand for RecordReports {
    fn order_id(&self) -> &str {
        &self.order_id
    }

    /// Each report is decided on the order the ones before it left.
    fn rule(&self, order: &Order) -> Result<Vec<OrderEvent>, OrderError> {
        let mut order = order.clone();
        let mut events = Vec::new();
        for report in &self.reports {
            let recorded = order.report(report.clone())?;
            for event in &recorded {
                order.evolve(event);
            }
            events.extend(recorded);
        }
        Ok(events)
    }
}

/// Every order command is a command of the service's model, recorded on its order's stream.
macro_rules! decided_on_the_order {
    ($($command:ident),+ $(,)?) => {
        $(impl Decide<Orders> for $command {
            type Refusal = OrderError;

            fn decide(&self, orders: &Orders, _now: DateTime<Utc>) -> Result<Changes<OrderEvent>, OrderError> {
                let stream = order_stream(self.order_id());
                let events = self.rule(&orders.for_decision(self.order_id()))?;
                Ok(events.into_iter().map(|e| Change::new(stream.clone(), e)).collect())
            }
        })+
    };
}

decided_on_the_order!(
    PlaceOrder,
    CancelOrder,
    ChangeShippingAddress,
    ChangeDelivery,
    HoldOrder,
    ReleaseOrder,
    RecordReports,
);

impl Order {
    /// A channel's order, placed once: the same channel order again changes nothing.
    fn place(
        &self,
        order_id: String,
        draft: Box<OrderDraft>,
        at: DateTime<Utc>,
    ) -> Result<Vec<OrderEvent>, OrderError> {
        if self.exists() {
            return Ok(Vec::new());
        }
        let bad = draft.violations(at);
        if !bad.is_empty() {
            return Err(OrderError::Invalid(bad));
        }
        let mut draft = draft;
        for (i, line) in draft.lines.iter_mut().enumerate() {
            if line.line_id.is_empty() {
                line.line_id = (i + 1).to_string();
            }
        }
        Ok(vec![OrderEvent::Placed { order_id, draft, at }])
    }

    /// Cancels the units named, or with no lines everything that can still be cancelled:
    /// what is not shipped, not on its way to the pickup place and not collected.
    fn cancel(&self, lines: &Units, reason: &str, by: &str, at: DateTime<Utc>) -> Result<Vec<OrderEvent>, OrderError> {
        self.require()?;
        let to_cancel = if lines.is_empty() {
            let all: Units = self
                .lines
                .iter()
                .filter(|l| l.cancellable() > 0)
                .map(|l| LineQuantity::new(&l.line_id, l.cancellable()))
                .collect();
            if all.is_empty() {
                return Err(OrderError::status("cancelling", self.status()));
            }
            all
        } else {
            self.cancellable_units(lines)?
        };
        let remaining: i64 = self.lines.iter().map(LineState::cancellable).sum::<i64>()
            - to_cancel.iter().map(|l| l.quantity).sum::<i64>();
        let nothing_gone = self.lines.iter().all(|l| l.gone() == 0);
        Ok(vec![OrderEvent::Cancelled {
            lines: to_cancel,
            reason: reason.to_owned(),
            by: by.to_owned(),
            whole_order: remaining == 0 && nothing_gone,
            at,
        }])
    }

    /// The named units, a line named twice counted once, each no more than can be cancelled.
    fn cancellable_units(&self, lines: &Units) -> Result<Units, OrderError> {
        self.known_lines(lines)?;
        let mut merged: Units = Vec::new();
        for line in lines {
            match merged.iter_mut().find(|m| m.line_id == line.line_id) {
                Some(m) => m.quantity += line.quantity,
                None => merged.push(line.clone()),
            }
        }
        for line in &merged {
            let left = self.line(&line.line_id).map_or(0, LineState::cancellable);
            if line.quantity > left {
                let gone = self.line(&line.line_id).map_or(0, LineState::gone);
                return Err(OrderError::not_now(
                    "cancelling",
                    format!(
                        "line {} has {left} unit(s) left to cancel ({gone} shipped or collected), not {}",
                        line.line_id, line.quantity
                    ),
                ));
            }
        }
        Ok(merged)
    }

    /// A new shipping address, for a shipped method, before anything left.
    fn change_address(&self, address: Address, by: String, at: DateTime<Utc>) -> Result<Vec<OrderEvent>, OrderError> {
        self.nothing_gone_yet("changing the address")?;
        let delivery = self
            .draft
            .as_ref()
            .map(|d| &d.delivery)
            .ok_or_else(|| OrderError::UnknownOrder(self.order_id.clone()))?;
        if !delivery.method.is_shipped() {
            return Err(OrderError::not_now(
                "changing the address",
                format!("the order is for {}", delivery.method.label()),
            ));
        }
        let mut bad = Violations::new();
        address.check("address", &mut bad);
        if !bad.is_empty() {
            return Err(OrderError::Invalid(bad));
        }
        if delivery.address.as_ref() == Some(&address) {
            return Ok(Vec::new());
        }
        Ok(vec![OrderEvent::ShippingAddressChanged { address, by, at }])
    }

    /// Another delivery method (with its address or pickup place), before anything left.
    fn change_delivery(
        &self,
        delivery: Delivery,
        by: String,
        at: DateTime<Utc>,
    ) -> Result<Vec<OrderEvent>, OrderError> {
        self.nothing_gone_yet("changing the delivery method")?;
        let mut bad = Violations::new();
        delivery.check("shipping_address", &mut bad);
        if !bad.is_empty() {
            return Err(OrderError::Invalid(bad));
        }
        if self.draft.as_ref().is_some_and(|d| d.delivery == delivery) {
            return Ok(Vec::new());
        }
        Ok(vec![OrderEvent::DeliveryChanged { delivery, by, at }])
    }

    /// Stops the order where it is, with a reason; holding a held order changes nothing.
    fn hold(&self, reason: String, by: String, at: DateTime<Utc>) -> Result<Vec<OrderEvent>, OrderError> {
        self.require()?;
        if reason.trim().is_empty() {
            return Err(OrderError::invalid("reason", "a hold needs a reason"));
        }
        if self.hold.is_some() {
            return Ok(Vec::new());
        }
        if self.finished() {
            return Err(OrderError::status("holding", self.status()));
        }
        Ok(vec![OrderEvent::Held { reason, by, at }])
    }

    fn release(&self, by: String, at: DateTime<Utc>) -> Result<Vec<OrderEvent>, OrderError> {
        self.require()?;
        if self.hold.is_none() {
            return Err(OrderError::not_now("releasing", "the order is not held"));
        }
        Ok(vec![OrderEvent::Released { by, at }])
    }

    /// Another service's report about the order's units: recorded once (the same report
    /// delivered twice counts once). What routing says of units that wait (backordered) or
    /// that it gave up on has no key: it is recorded every time, each a new state of the
    /// lines. A refund is never negative.
    fn report(&self, event: OrderEvent) -> Result<Vec<OrderEvent>, OrderError> {
        if !event.is_report() {
            return Err(OrderError::not_now(
                "recording",
                format!("{} is not what another service reports", event.event_type()),
            ));
        }
        self.require()?;
        self.known_lines(event.lines())?;
        if let OrderEvent::Refunded { amount_minor, .. } = &event
            && *amount_minor < 0
        {
            return Err(OrderError::invalid("amount_minor", "cannot be negative"));
        }
        match event.record_key() {
            Some(key) if self.recorded.contains(&key) => Ok(Vec::new()),
            _ => Ok(vec![event]),
        }
    }

    fn require(&self) -> Result<(), OrderError> {
        if self.exists() {
            Ok(())
        } else {
            Err(OrderError::UnknownOrder(self.order_id.clone()))
        }
    }

    /// Checks that every line named exists and the quantities are positive.
    fn known_lines(&self, lines: &Units) -> Result<(), OrderError> {
        let mut bad = Violations::new();
        for (i, line) in lines.iter().enumerate() {
            if self.line(&line.line_id).is_none() {
                return Err(OrderError::UnknownLine {
                    order_id: self.order_id.clone(),
                    line_id: line.line_id.clone(),
                });
            }
            bad.check(line.quantity <= 0, format!("lines[{i}].quantity"), "must be 1 or more");
        }
        if bad.is_empty() {
            Ok(())
        } else {
            Err(OrderError::Invalid(bad))
        }
    }

    fn nothing_gone_yet(&self, what: &'static str) -> Result<(), OrderError> {
        self.require()?;
        if self
            .lines
            .iter()
            .any(|l| l.gone() > 0 || l.ready_for_pickup > 0 || l.to_pickup > 0)
        {
            return Err(OrderError::not_now(
                what,
                "part of the order has already shipped or is waiting for pickup",
            ));
        }
        if self.finished() {
            return Err(OrderError::status(what, self.status()));
        }
        Ok(())
    }
}
