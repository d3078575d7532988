//! What returns knows of an order, learnt from other services: what was sold and paid with
//! (order capture), and what reached the customer, when (fulfilment). Each fact counts once.

use chrono::{DateTime, Utc};
use oms_eventsourcing::{Change, Changes, Decide};
use serde::{Deserialize, Serialize};

use super::{
    JobId, LineId, LineUnits, OrderId, OrderSold, Payment, Returns, ReturnsError, ReturnsEvent, Sku, order_stream,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoldLine {
    pub line_id: LineId,
    pub sku: Sku,
    pub quantity: i64,
    pub unit_price_minor: i64,
    /// Units shipped or collected.
    pub delivered: i64,
    /// When the last of them left.
    pub delivered_at: Option<DateTime<Utc>>,
    /// Units in returns so far.
    pub returned: i64,
}

/// An order as returns knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoldOrder {
    pub order_id: OrderId,
    pub currency: String,
    pub lines: Vec<SoldLine>,
    /// In the order they are refunded.
    pub payments: Vec<Payment>,
    /// The order as placed (`oms.orders.v1.OrderDraft`, encoded): the template of a
    /// replacement order.
    pub draft: Vec<u8>,
    /// Jobs whose deliveries were counted.
    pub jobs: Vec<JobId>,
}

impl From<&OrderSold> for SoldOrder {
    fn from(sold: &OrderSold) -> Self {
        SoldOrder {
            order_id: sold.order_id.clone(),
            currency: sold.currency.clone(),
            lines: sold
                .lines
                .iter()
                .map(|l| SoldLine {
                    line_id: l.line_id.clone(),
                    sku: l.sku.clone(),
                    quantity: l.quantity,
                    unit_price_minor: l.unit_price_minor,
                    delivered: 0,
                    delivered_at: None,
                    returned: 0,
                })
                .collect(),
            payments: sold.payments.clone(),
            draft: sold.draft.clone(),
            jobs: Vec::new(),
        }
    }
}

impl SoldOrder {
    pub fn line(&self, line_id: impl AsRef<str>) -> Option<&SoldLine> {
        let line_id = line_id.as_ref();
        self.lines.iter().find(|l| l.line_id == line_id)
    }

    pub fn paid_minor(&self) -> i64 {
        self.payments.iter().map(|p| p.authorised_minor).sum()
    }

    /// Units of a job reached the customer at `at`: never more than were sold.
    pub(super) fn delivered(&mut self, job_id: &JobId, lines: &[LineUnits], at: DateTime<Utc>) {
        self.jobs.push(job_id.clone());
        for delivered in lines {
            if let Some(line) = self.lines.iter_mut().find(|l| l.line_id == delivered.line_id) {
                line.delivered = (line.delivered + delivered.units).min(line.quantity);
                line.delivered_at = Some(at);
            }
        }
    }
}

/// Order capture announced an order.
#[derive(Debug, Clone, PartialEq)]
pub struct LearnOrder {
    pub order: OrderSold,
}

impl Decide<Returns> for LearnOrder {
    type Refusal = ReturnsError;

    fn decide(&self, state: &Returns, _now: DateTime<Utc>) -> Result<Changes<ReturnsEvent>, ReturnsError> {
        if state.order(&self.order.order_id).is_some() {
            return Ok(Vec::new());
        }
        Ok(vec![Change::new(
            order_stream(self.order.order_id.as_str()),
            ReturnsEvent::OrderSold(Box::new(self.order.clone())),
        )])
    }
}

/// Units of a line as fulfilment names them: by order line id, or only by SKU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveredLine {
    /// Empty when fulfilment names the line by SKU only.
    pub order_line_id: LineId,
    pub sku: Sku,
    pub units: i64,
}

/// Fulfilment announced units of a job shipped to the customer or collected.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordDelivery {
    pub order_id: OrderId,
    pub job_id: JobId,
    pub lines: Vec<DeliveredLine>,
    pub at: DateTime<Utc>,
}

impl Decide<Returns> for RecordDelivery {
    type Refusal = ReturnsError;

    /// A job counts once; an order not known yet is refused (its announcement may still
    /// be on its way).
    fn decide(&self, state: &Returns, _now: DateTime<Utc>) -> Result<Changes<ReturnsEvent>, ReturnsError> {
        let order = state
            .order(&self.order_id)
            .ok_or_else(|| ReturnsError::UnknownOrder(self.order_id.clone()))?;
        if order.jobs.contains(&self.job_id) {
            return Ok(Vec::new());
        }
        Ok(vec![Change::new(
            order_stream(self.order_id.as_str()),
            ReturnsEvent::Delivered {
                job_id: self.job_id.clone(),
                lines: delivered_lines(order, &self.lines),
                at: self.at,
            },
        )])
    }
}

/// The order's lines the delivered units are of: by order line, or by SKU when the node
/// left the line out; units of neither are not the order's.
fn delivered_lines(order: &SoldOrder, lines: &[DeliveredLine]) -> Vec<LineUnits> {
    lines
        .iter()
        .filter_map(|l| {
            let line = if l.order_line_id.is_empty() {
                order.lines.iter().find(|x| x.sku == l.sku)
            } else {
                order.line(&l.order_line_id)
            }?;
            Some(LineUnits::new(line.line_id.clone(), l.units))
        })
        .collect()
}
