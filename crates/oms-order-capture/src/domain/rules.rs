//! The rules of an order: each command of customer service, of the channels and of the
//! other services, decided against the order as it is — one named rule per command.

use chrono::{DateTime, Utc};
use oms_eventsourcing::{Change, Changes, Decide};

use super::events::Units;
use super::{
    Address, Delivery, LineQuantity, LineState, Money, Order, OrderDraft, OrderError, OrderEvent, Orders, Violations,
    order_stream,
};

/// What can happen to an order.
#[derive(Debug, Clone, PartialEq)]
pub enum OrderCommand {
    Place {
        order_id: String,
        draft: Box<OrderDraft>,
        at: DateTime<Utc>,
    },
    /// No lines: everything that can still be cancelled.
    Cancel {
        lines: Units,
        reason: String,
        by: String,
        at: DateTime<Utc>,
    },
    ChangeShippingAddress {
        address: Address,
        by: String,
        at: DateTime<Utc>,
    },
    ChangeDelivery {
        delivery: Delivery,
        by: String,
        at: DateTime<Utc>,
    },
    Hold {
        reason: String,
        by: String,
        at: DateTime<Utc>,
    },
    Release {
        by: String,
        at: DateTime<Utc>,
    },
    RecordAllocation {
        request_id: String,
        node_id: String,
        lines: Units,
        expected_at: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    },
    RecordBackorder {
        lines: Units,
        reason: String,
        at: DateTime<Utc>,
    },
    RecordRoutingFailure {
        lines: Units,
        reason: String,
        at: DateTime<Utc>,
    },
    RecordFulfilmentStarted {
        job_id: String,
        lines: Units,
        at: DateTime<Utc>,
    },
    RecordFulfilmentDropped {
        job_id: String,
        lines: Units,
        reason: String,
        at: DateTime<Utc>,
    },
    RecordShipped {
        job_id: String,
        lines: Units,
        carrier: String,
        tracking_number: String,
        at: DateTime<Utc>,
    },
    RecordReadyForPickup {
        job_id: String,
        lines: Units,
        location_id: String,
        pickup_code: String,
        at: DateTime<Utc>,
    },
    RecordCollected {
        job_id: String,
        lines: Units,
        at: DateTime<Utc>,
    },
    RecordPickupExpired {
        job_id: String,
        lines: Units,
        at: DateTime<Utc>,
    },
    RecordDelivered {
        job_id: String,
        lines: Units,
        at: DateTime<Utc>,
    },
    RecordReturnRequested {
        return_id: String,
        lines: Units,
        at: DateTime<Utc>,
    },
    RecordReturned {
        return_id: String,
        lines: Units,
        at: DateTime<Utc>,
    },
    RecordRefund {
        return_id: String,
        amount: Money,
        at: DateTime<Utc>,
    },
}

/// A command for one order of the service.
#[derive(Debug, Clone, PartialEq)]
pub struct ForOrder {
    pub order_id: String,
    pub command: OrderCommand,
}

impl ForOrder {
    pub fn new(order_id: impl Into<String>, command: OrderCommand) -> Self {
        Self {
            order_id: order_id.into(),
            command,
        }
    }
}

impl Decide<Orders> for ForOrder {
    type Refusal = OrderError;

    fn decide(&self, orders: &Orders, _now: DateTime<Utc>) -> Result<Changes<OrderEvent>, OrderError> {
        let stream = order_stream(&self.order_id);
        let events = orders.for_decision(&self.order_id).decide(&self.command)?;
        Ok(events.into_iter().map(|e| Change::new(stream.clone(), e)).collect())
    }
}

impl Order {
    /// What `command` does to the order: its events, or why it is refused.
    pub fn decide(&self, command: &OrderCommand) -> Result<Vec<OrderEvent>, OrderError> {
        use OrderCommand as C;
        use OrderEvent as E;
        match command.clone() {
            C::Place { order_id, draft, at } => self.place(order_id, draft, at),
            C::Cancel { lines, reason, by, at } => self.cancel(&lines, &reason, &by, at),
            C::ChangeShippingAddress { address, by, at } => self.change_address(address, by, at),
            C::ChangeDelivery { delivery, by, at } => self.change_delivery(delivery, by, at),
            C::Hold { reason, by, at } => self.hold(reason, by, at),
            C::Release { by, at } => self.release(by, at),
            C::RecordAllocation {
                request_id,
                node_id,
                lines,
                expected_at,
                at,
            } => self.report(E::Allocated {
                request_id,
                node_id,
                lines,
                expected_at,
                at,
            }),
            C::RecordBackorder { lines, reason, at } => self.routing_news(E::Backordered { lines, reason, at }),
            C::RecordRoutingFailure { lines, reason, at } => self.routing_news(E::RoutingFailed { lines, reason, at }),
            C::RecordFulfilmentStarted { job_id, lines, at } => self.report(E::FulfilmentStarted { job_id, lines, at }),
            C::RecordFulfilmentDropped {
                job_id,
                lines,
                reason,
                at,
            } => self.report(E::FulfilmentDropped {
                job_id,
                lines,
                reason,
                at,
            }),
            C::RecordShipped {
                job_id,
                lines,
                carrier,
                tracking_number,
                at,
            } => self.report(E::Shipped {
                job_id,
                lines,
                carrier,
                tracking_number,
                at,
            }),
            C::RecordReadyForPickup {
                job_id,
                lines,
                location_id,
                pickup_code,
                at,
            } => self.report(E::ReadyForPickup {
                job_id,
                lines,
                location_id,
                pickup_code,
                at,
            }),
            C::RecordCollected { job_id, lines, at } => self.report(E::Collected { job_id, lines, at }),
            C::RecordPickupExpired { job_id, lines, at } => self.report(E::PickupExpired { job_id, lines, at }),
            C::RecordDelivered { job_id, lines, at } => self.report(E::Delivered { job_id, lines, at }),
            C::RecordReturnRequested { return_id, lines, at } => {
                self.report(E::ReturnRequested { return_id, lines, at })
            }
            C::RecordReturned { return_id, lines, at } => self.report(E::Returned { return_id, lines, at }),
            C::RecordRefund { return_id, amount, at } => self.refund(return_id, &amount, at),
        }
    }

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

    /// A refund confirmed for a return, counted once.
    fn refund(&self, return_id: String, amount: &Money, at: DateTime<Utc>) -> Result<Vec<OrderEvent>, OrderError> {
        self.require()?;
        if amount.amount_minor < 0 {
            return Err(OrderError::invalid("amount_minor", "cannot be negative"));
        }
        self.report(OrderEvent::Refunded {
            return_id,
            amount_minor: amount.amount_minor,
            at,
        })
    }

    /// What routing says of units that wait (backordered) or that it gave up on: recorded
    /// every time, since each is a new state of the lines.
    fn routing_news(&self, event: OrderEvent) -> Result<Vec<OrderEvent>, OrderError> {
        self.require()?;
        self.known_lines(event.lines())?;
        Ok(vec![event])
    }

    /// Another service's report about the order's units: recorded once (the same report
    /// delivered twice counts once).
    fn report(&self, event: OrderEvent) -> Result<Vec<OrderEvent>, OrderError> {
        self.require()?;
        self.known_lines(event.lines())?;
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
