//! Every order returns knows and every return, as the events build them: the state returns
//! decides against.

use std::collections::HashMap;

use oms_eventsourcing::{EventHeader, Model};
use serde::{Deserialize, Serialize};

use super::{OrderId, RefundId, Return, ReturnAuthorised, ReturnId, ReturnsError, ReturnsEvent, SoldOrder};

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Returns {
    orders: HashMap<OrderId, SoldOrder>,
    returns: HashMap<ReturnId, Return>,
    /// Order → its returns, oldest first.
    by_order: HashMap<OrderId, Vec<ReturnId>>,
    /// Refund → its return.
    refunds: HashMap<RefundId, ReturnId>,
}

impl Model for Returns {
    type Event = ReturnsEvent;
    const NAME: &'static str = "returns";
    // 2: an order's payments and a return's refunds hold their tender as a kernel value.
    const SNAPSHOT_VERSION: u32 = 2;

    fn apply(&mut self, header: &EventHeader<'_>, event: &ReturnsEvent) {
        match event {
            ReturnsEvent::OrderSold(sold) => {
                self.orders
                    .entry(sold.order_id.clone())
                    .or_insert_with(|| SoldOrder::from(&**sold));
            }
            ReturnsEvent::Delivered { job_id, lines, at } => {
                let Some(id) = header.stream_id.strip_prefix("order:") else {
                    return;
                };
                if let Some(order) = self.orders.get_mut(id) {
                    order.delivered(job_id, lines, *at);
                }
            }
            ReturnsEvent::Authorised(authorised) => self.authorised(authorised),
            _ => {
                let Some(id) = header.stream_id.strip_prefix("return:") else {
                    return;
                };
                let Some(ret) = self.returns.get_mut(id) else { return };
                ret.evolve(event);
                for refund in &ret.refunds {
                    self.refunds.insert(refund.refund_id.clone(), ret.return_id.clone());
                }
            }
        }
    }
}

impl Returns {
    /// A new return holds its units of the order's lines.
    fn authorised(&mut self, authorised: &ReturnAuthorised) {
        if let Some(order) = self.orders.get_mut(&authorised.order_id) {
            for line in &authorised.lines {
                if let Some(sold) = order.lines.iter_mut().find(|l| l.line_id == line.line_id) {
                    sold.returned += line.quantity;
                }
            }
        }
        self.by_order
            .entry(authorised.order_id.clone())
            .or_default()
            .push(authorised.return_id.clone());
        self.returns
            .insert(authorised.return_id.clone(), Return::from(authorised));
    }

    pub fn order(&self, order_id: impl AsRef<str>) -> Option<&SoldOrder> {
        self.orders.get(order_id.as_ref())
    }

    pub fn get(&self, return_id: impl AsRef<str>) -> Option<&Return> {
        self.returns.get(return_id.as_ref())
    }

    /// The return, or why a command about it is refused.
    pub fn known(&self, return_id: impl AsRef<str>) -> Result<&Return, ReturnsError> {
        let return_id = return_id.as_ref();
        self.returns
            .get(return_id)
            .ok_or_else(|| ReturnsError::UnknownReturn(return_id.into()))
    }

    pub fn of_order(&self, order_id: impl AsRef<str>) -> Vec<&Return> {
        self.by_order
            .get(order_id.as_ref())
            .into_iter()
            .flatten()
            .filter_map(|id| self.returns.get(id))
            .collect()
    }

    pub fn return_of_refund(&self, refund_id: impl AsRef<str>) -> Option<&Return> {
        self.refunds.get(refund_id.as_ref()).and_then(|id| self.returns.get(id))
    }

    pub fn len(&self) -> usize {
        self.returns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.returns.is_empty()
    }

    /// Money refunded or being refunded for an order, over all its returns.
    pub fn refunding_minor(&self, order_id: impl AsRef<str>) -> i64 {
        self.of_order(order_id)
            .iter()
            .flat_map(|r| &r.refunds)
            .filter(|r| r.holds_money())
            .map(|r| r.amount_minor)
            .sum()
    }
}
