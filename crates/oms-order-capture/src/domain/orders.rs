//! Every order of the service, in memory, with the indexes the queries need.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use oms_eventsourcing::{EventHeader, Model};
use serde::{Deserialize, Serialize};

use super::{Channel, Order, OrderEvent, OrderStatus};

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Orders {
    orders: HashMap<String, Order>,
    /// (placed at, order id), for listing by time.
    placed: BTreeSet<(DateTime<Utc>, String)>,
    by_customer: HashMap<String, BTreeSet<(DateTime<Utc>, String)>>,
}

/// Which orders a listing wants.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrderFilter {
    pub customer_id: Option<String>,
    pub channel: Option<Channel>,
    pub status: Option<OrderStatus>,
    pub placed_from: Option<DateTime<Utc>>,
    pub placed_until: Option<DateTime<Utc>>,
}

impl Model for Orders {
    type Event = OrderEvent;
    const NAME: &'static str = "order-capture";
    // 3: the contract kernel's channels, methods, tenders, priorities and addresses.
    const SNAPSHOT_VERSION: u32 = 3;

    fn apply(&mut self, header: &EventHeader<'_>, event: &OrderEvent) {
        let Some(order_id) = header.stream_id.strip_prefix("order:") else {
            return;
        };
        if let OrderEvent::Placed { draft, at, .. } = event {
            self.placed.insert((*at, order_id.to_owned()));
            self.by_customer
                .entry(draft.customer.customer_id.clone())
                .or_default()
                .insert((*at, order_id.to_owned()));
        }
        match self.orders.get_mut(order_id) {
            Some(order) => order.evolve(event),
            None => {
                let mut order = Order {
                    order_id: order_id.to_owned(),
                    ..Order::default()
                };
                order.evolve(event);
                self.orders.insert(order_id.to_owned(), order);
            }
        }
    }
}

impl Orders {
    pub fn get(&self, order_id: &str) -> Option<&Order> {
        self.orders.get(order_id).filter(|o| o.exists())
    }

    /// The order as `decide` should see it: the one placed, or an empty one to place.
    pub fn for_decision(&self, order_id: &str) -> Order {
        self.orders.get(order_id).cloned().unwrap_or_else(|| Order {
            order_id: order_id.to_owned(),
            ..Order::default()
        })
    }

    pub fn len(&self) -> usize {
        self.orders.len()
    }

    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }

    /// Orders matching `filter`, newest first, after the cursor `(placed at, order id)`.
    pub fn list(&self, filter: &OrderFilter, after: Option<(DateTime<Utc>, String)>, limit: usize) -> Vec<&Order> {
        let index: Box<dyn DoubleEndedIterator<Item = &(DateTime<Utc>, String)>> = match &filter.customer_id {
            Some(customer) => match self.by_customer.get(customer) {
                Some(orders) => Box::new(orders.iter()),
                None => return Vec::new(),
            },
            None => Box::new(self.placed.iter()),
        };
        index
            .rev()
            .filter(|key| after.as_ref().is_none_or(|after| *key < after))
            .filter(|(at, _)| {
                filter.placed_from.is_none_or(|from| *at >= from) && filter.placed_until.is_none_or(|until| *at < until)
            })
            .filter_map(|(_, id)| self.get(id))
            .filter(|order| {
                filter
                    .channel
                    .is_none_or(|c| order.draft.as_ref().is_some_and(|d| d.channel == c))
                    && filter.status.is_none_or(|s| order.status() == s)
            })
            .take(limit)
            .collect()
    }
}
