//! The application service: runs the order decisions through the writer, answers reads
//! from the in-memory orders and the log.

use chrono::{DateTime, Utc};
use oms_eventsourcing::clock::SharedClock;
use oms_eventsourcing::trace::current_traceparent;
use oms_eventsourcing::writer::Context;
use oms_eventsourcing::{CommandError, CommandMeta, Decision, EventStore, Recorded, StoreError, Writer, WriterConfig};
use uuid::Uuid;

use crate::domain::orders::OrderFilter;
use crate::domain::{
    Order, OrderCommand, OrderDraft, OrderError, OrderEvent, Orders, PlaceOrder, order_id_for, order_stream,
};
use crate::messages;

pub type Outcome<T> = Result<T, CommandError<OrderError>>;

#[derive(Clone)]
pub struct OrderCapture {
    writer: Writer<Orders>,
}

/// A placed order, and whether this call placed it (or it was there before).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Placed {
    pub order: Order,
    pub new: bool,
}

impl OrderCapture {
    pub async fn start(store: EventStore, clock: SharedClock, config: WriterConfig) -> Result<Self, StoreError> {
        let (writer, report) = Writer::<Orders>::start(store, clock, config).await?;
        tracing::info!(
            events = report.events_applied,
            orders = writer.read(Orders::len),
            "orders ready"
        );
        Ok(Self { writer })
    }

    pub fn writer(&self) -> &Writer<Orders> {
        &self.writer
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.writer.clock().now()
    }

    /// Places `draft`; the same channel order placed again returns the order placed first.
    pub async fn place(&self, draft: OrderDraft) -> Outcome<Placed> {
        let order_id = order_id_for(draft.channel, &draft.external_order_id);
        let correlation = Uuid::parse_str(&order_id).ok();
        let mut meta = self.meta();
        meta.correlation_id = correlation;
        let id = order_id.clone();
        self.writer
            .execute(meta, move |orders: &Orders, ctx: &Context<'_>| {
                let command = PlaceOrder {
                    order_id: id.clone(),
                    draft: Box::new(draft),
                    at: ctx.now,
                };
                let decision = decide(orders, &command, ctx.now)?;
                let new = !decision.is_empty();
                Ok(decision.map_reply(|order| Placed { order, new }))
            })
            .await
    }

    /// Runs a command on an existing order. With a request id, a retry returns the first answer.
    pub async fn act<C: OrderCommand>(
        &self,
        order_id: String,
        request_id: Option<String>,
        command: impl FnOnce(DateTime<Utc>) -> C + Send + 'static,
    ) -> Outcome<Order> {
        let mut meta = self.meta();
        meta.correlation_id = Uuid::parse_str(&order_id).ok();
        if let Some(request) = request_id.filter(|r| !r.is_empty()) {
            meta = meta.with_idempotency_key(format!("{order_id}/{request}"));
        }
        self.writer
            .execute(meta, move |orders: &Orders, ctx: &Context<'_>| {
                if orders.get(&order_id).is_none() {
                    return Err(OrderError::UnknownOrder(order_id));
                }
                decide(orders, &command(ctx.now), ctx.now)
            })
            .await
    }

    fn meta(&self) -> CommandMeta {
        CommandMeta::new().with_traceparent(current_traceparent())
    }

    // ----------------------------------------------------------------------------------

    pub fn order(&self, order_id: &str) -> Option<Order> {
        self.writer.read(|orders| orders.get(order_id).cloned())
    }

    /// The channel an order came from, if it was placed.
    pub fn channel_of(&self, order_id: &str) -> Option<crate::domain::Channel> {
        self.writer
            .read(|orders| orders.get(order_id).and_then(|o| o.draft.as_ref().map(|d| d.channel)))
    }

    /// Orders matching `filter`, newest first, after `cursor`.
    pub fn list(&self, filter: &OrderFilter, cursor: Option<(DateTime<Utc>, String)>, limit: usize) -> Vec<Order> {
        self.writer
            .read(|orders| orders.list(filter, cursor, limit).into_iter().cloned().collect())
    }

    /// Every event of the order, oldest first.
    pub async fn history(&self, order_id: &str) -> Result<Vec<Recorded<OrderEvent>>, StoreError> {
        self.writer
            .store()
            .load_stream::<OrderEvent>(&order_stream(order_id))
            .await
    }
}

/// Decides `command` for its order and builds what the writer records: the order's
/// events, the messages announcing them, and the order as it will be.
pub fn decide(
    orders: &Orders,
    command: &impl OrderCommand,
    now: DateTime<Utc>,
) -> Result<Decision<OrderEvent, Order>, OrderError> {
    let order_id = command.order_id();
    let mut order = orders.for_decision(order_id);
    let was = order.status();
    let events = command.rule(&order)?;
    for event in &events {
        order.evolve(event);
    }
    let messages = if events.is_empty() {
        Vec::new()
    } else {
        messages::for_events(was, &order, &events, now)
    };
    Ok(Decision::reply(order)
        .events(order_stream(order_id), events)
        .publish_all(messages))
}
