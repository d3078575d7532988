//! The router: the worker that routes orders. For each order that wants a node it plans
//! (pure, from the network, the availability read model and capacity), records the
//! reservations it is about to ask for, reserves them at the ledger — the authority on
//! stock — and records the outcome. A reservation the ledger refuses sends it back to plan
//! again with what the ledger said; an attempt that cannot finish releases what it holds.
//!
//! Work comes from the writer's committed events (orders received, released, dropped by a
//! node, sent somewhere else), from availability going up (backorders), and from a tick
//! that catches pre-orders whose date came, backorders whose time ran out, attempts left
//! unfinished, and anything a lagging feed missed.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::join_all;
use oms_eventsourcing::CommandError;
use oms_eventsourcing::trace::continue_trace;
use oms_eventsourcing::writer::CommittedEvent;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::Instrument;

use crate::app::RoutingService;
use crate::domain::plan::{Plan, Unrouted};
use crate::domain::{
    LineNeed, LocationId, OrderId, ReservationId, ReservedAllocation, RoutedOrder, RoutingError, RoutingEvent,
};
use crate::ledger::{LedgerClient, ReserveError};

#[derive(Debug, Clone)]
pub struct RouterConfig {
    /// Orders routed at the same time.
    pub concurrency: usize,
    /// How often pre-orders, backorder deadlines and unfinished attempts are looked at.
    pub tick: Duration,
    /// How often every backorder is tried again, whatever the feed said.
    pub backorder_retry_every: Duration,
    /// Plans tried per attempt when the ledger refuses reservations.
    pub max_rounds: u32,
}

impl Default for RouterConfig {
    fn default() -> Self {
        Self {
            concurrency: 16,
            tick: Duration::from_secs(1),
            backorder_retry_every: Duration::from_secs(60),
            max_rounds: 4,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// What an order queued at the router needs done.
enum Need {
    /// Route the units no node holds and no backorder waits for.
    Route,
    /// Try the backordered units again.
    Retry,
    /// Both: every unit the order needs (a released hold, or a route and a retry queued
    /// for the same order).
    Everything,
    /// Release the reservations of an attempt that never finished.
    Recover,
}

impl Need {
    /// One pass doing the work of both.
    fn merge(self, other: Need) -> Need {
        match (self, other) {
            (Need::Recover, _) | (_, Need::Recover) => Need::Recover,
            (a, b) if a == b => a,
            _ => Need::Everything,
        }
    }
}

#[derive(Clone)]
pub struct Router {
    service: RoutingService,
    ledger: LedgerClient,
    config: RouterConfig,
}

/// Why an attempt stopped without a decision.
#[derive(Debug, thiserror::Error)]
enum AttemptError {
    #[error("the order changed while it was being routed")]
    Void,
    #[error("{0}")]
    LedgerClient(String),
    #[error("{0}")]
    Store(String),
}

impl From<CommandError<RoutingError>> for AttemptError {
    fn from(e: CommandError<RoutingError>) -> Self {
        match e {
            CommandError::Rejected(RoutingError::AttemptVoid(_)) => AttemptError::Void,
            other => AttemptError::Store(other.to_string()),
        }
    }
}

impl Router {
    pub fn new(service: RoutingService, ledger: LedgerClient, config: RouterConfig) -> Self {
        Self {
            service,
            ledger,
            config,
        }
    }

    /// Routes until `stop` turns true; attempts in flight finish first.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut feed = self.service.writer().subscribe();
        let availability = self.service.availability().clone();
        let mut work = Work::default();
        let mut tick = tokio::time::interval(self.config.tick);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last_retry = Instant::now();
        // Whatever an earlier process left: unfinished attempts, then all routing work.
        self.look_around(&mut work, Look::Start);
        while !*stop.borrow() {
            self.start_waiting(&mut work);
            tokio::select! {
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        break;
                    }
                }
                Some(done) = work.running.join_next_with_id(), if !work.running.is_empty() => work.finished(done),
                committed = feed.recv() => match committed {
                    Ok(committed) => self.follow(&mut work, &committed.events),
                    Err(RecvError::Lagged(missed)) => {
                        tracing::debug!(missed, "the routing feed lagged; looking at every order");
                        self.look_around(&mut work, Look::FeedLagged);
                    }
                    Err(RecvError::Closed) => break,
                },
                _ = availability.increased() => {
                    let skus = availability.take_increased();
                    let orders = self.service.writer().read(|r| r.backordered(Some(&skus)));
                    work.queue.extend(orders, Need::Retry);
                    work.look_again.extend(work.busy.iter().cloned());
                }
                _ = tick.tick() => {
                    self.look_around(&mut work, Look::Tick);
                    if last_retry.elapsed() >= self.config.backorder_retry_every {
                        last_retry = Instant::now();
                        let orders = self.service.writer().read(|r| r.backordered(None));
                        work.queue.extend(orders, Need::Retry);
                    }
                    self.give_up_due().await;
                }
            }
        }
        while work.running.join_next().await.is_some() {}
    }

    /// Starts attempts for waiting orders nobody works on, up to the concurrency.
    fn start_waiting(&self, work: &mut Work) {
        while work.running.len() < self.config.concurrency.max(1) {
            let Some((order_id, need, traceparent)) = work.queue.pop_not(&work.busy) else {
                break;
            };
            work.busy.insert(order_id.clone());
            let router = self.clone();
            let id = order_id.clone();
            // The attempt continues the trace of what asked for it (the order arriving,
            // its release, a node dropping it), so the events it publishes carry it on.
            let span = tracing::info_span!("route", order_id = %order_id, ?need);
            if let Some(parent) = &traceparent {
                continue_trace(&span, parent);
            }
            let task = work.running.spawn(
                async move {
                    router.work(&id, need).await;
                }
                .instrument(span),
            );
            work.tasks.insert(task.id(), order_id);
        }
    }

    /// Queues the routing work committed events give.
    fn follow(&self, work: &mut Work, events: &[CommittedEvent<RoutingEvent>]) {
        for recorded in events {
            if let Some(order_id) = recorded.stream.strip_prefix("order:")
                && let Some(need) = wakes(&recorded.event)
            {
                work.queue
                    .push_traced(&OrderId::new(order_id), need, recorded.traceparent.clone());
            }
            if matches!(
                recorded.event,
                RoutingEvent::NodeUpserted { .. } | RoutingEvent::RuleSetsReplaced { .. }
            ) {
                // A new node or new rules may serve what waits.
                let backorders = self.service.writer().read(|r| r.backordered(None));
                work.queue.extend(backorders, Need::Retry);
            }
        }
    }

    /// Queues what the state says needs doing: unfinished attempts, orders that want a
    /// node (pre-orders whose date came among them) and, at start, every backorder. On a
    /// tick an order is routed only if it was already waiting at the look before
    /// (`waiting`).
    fn look_around(&self, work: &mut Work, look: Look) {
        let now = self.service.now();
        let (unfinished, routable, backordered) = self.service.writer().read(|r| {
            (
                r.unfinished(),
                r.routable(now),
                if look == Look::Start {
                    r.backordered(None)
                } else {
                    Vec::new()
                },
            )
        });
        for (order_id, _, _) in unfinished {
            if !work.busy.contains(&order_id) {
                work.queue.push(&order_id, Need::Recover);
            }
        }
        let still_waiting: Vec<OrderId> = routable
            .iter()
            .filter(|id| look != Look::Tick || work.waiting.contains(*id))
            .cloned()
            .collect();
        work.waiting = routable.into_iter().collect();
        work.queue.extend(still_waiting, Need::Route);
        work.queue.extend(backordered, Need::Retry);
    }

    async fn give_up_due(&self) {
        let now = self.service.now();
        let due = self.service.writer().read(|r| r.backorders_due(now));
        for order_id in due {
            if let Err(e) = self.service.give_up(&order_id).await {
                tracing::warn!(order_id = %order_id, error = %e, "cannot record a backorder giving up");
            }
        }
    }

    async fn work(&self, order_id: &OrderId, need: Need) {
        let result = match need {
            Need::Recover => self.recover(order_id).await,
            Need::Route | Need::Retry | Need::Everything => self.attempt(order_id, need).await,
        };
        match result {
            Ok(()) | Err(AttemptError::Void) => {}
            Err(e) => tracing::warn!(order_id = %order_id, error = %e, "routing attempt stopped; it is tried again"),
        }
    }

    /// Releases the reservations of an attempt that never finished, then records that.
    async fn recover(&self, order_id: &OrderId) -> Result<(), AttemptError> {
        let ids = self
            .service
            .writer()
            .read(|r| r.order(order_id.as_str()).map(|o| o.pending_reservations.clone()))
            .unwrap_or_default();
        if ids.is_empty() {
            return Ok(());
        }
        self.release_all(&ids, "the routing attempt did not finish").await?;
        self.service.abandon_attempt(order_id, ids).await?;
        Ok(())
    }

    async fn release_all(&self, ids: &[ReservationId], reason: &str) -> Result<(), AttemptError> {
        let released = join_all(ids.iter().map(|id| self.ledger.release(id, reason))).await;
        match released.into_iter().find_map(Result::err) {
            None => Ok(()),
            Some(e) => Err(AttemptError::LedgerClient(format!("cannot release reservations: {e}"))),
        }
    }

    /// One routing attempt: plan, reserve, record; a few rounds when the ledger knows
    /// better than the read model.
    async fn attempt(&self, order_id: &OrderId, need: Need) -> Result<(), AttemptError> {
        let now = self.service.now();
        let Some(order) = self.service.writer().read(|r| r.order(order_id.as_str()).cloned()) else {
            return Ok(());
        };
        if order.held || !order.pending_reservations.is_empty() || !order.is_released(now) {
            return Ok(());
        }
        let lines = order.need();
        let wanted = match need {
            Need::Route => !order.unrouted().is_empty(),
            Need::Retry => !order.backordered.is_empty(),
            Need::Everything | Need::Recover => true,
        };
        if lines.is_empty() || !wanted {
            return Ok(());
        }
        let mut corrections = Corrections::default();
        let mut requested: Vec<ReservationId> = Vec::new();
        for round in 0..self.config.max_rounds {
            let plan = self.plan(&order, &lines, &corrections, now);
            if plan.allocations.is_empty() {
                if need != Need::Route && round == 0 && same_backorder(&plan, &order) {
                    // Still nothing: no event for it.
                    return Ok(());
                }
                return self.finish(&order, Vec::new(), plan).await;
            }
            let ids: Vec<ReservationId> = plan
                .allocations
                .iter()
                .map(|a| reservation_id(&order, round, &a.node_id))
                .collect();
            self.service
                .begin_attempt(order_id, order.attempt, order.revision, ids.clone())
                .await?;
            requested.extend(ids.iter().cloned());
            let (reserved, unavailable) = self.reserve(&order, &plan, ids, &mut corrections).await;
            if reserved.len() == plan.allocations.len() {
                return self.finish(&order, reserved, plan).await;
            }
            // Part of the plan failed: take the rest back and plan again with what the
            // ledger said, so split and ship-complete rules hold for the whole order.
            let taken: Vec<ReservationId> = reserved.into_iter().map(|r| r.reservation_id).collect();
            self.release_all(&taken, "routing planned again").await?;
            if let Some(why) = unavailable {
                self.service.abandon_attempt(order_id, requested).await?;
                return Err(AttemptError::LedgerClient(why));
            }
        }
        // The ledger kept refusing what the read model promised: give the attempt up now
        // and try again on the next tick, with fresher figures.
        self.service.abandon_attempt(order_id, requested).await?;
        Err(AttemptError::LedgerClient(format!(
            "the ledger refused {} plans in a row",
            self.config.max_rounds
        )))
    }

    /// Reserves each allocation of `plan` at the ledger under its id. Answers what was
    /// reserved and, when the ledger could not be reached, why; what the ledger refused
    /// goes into `corrections` for the next plan.
    async fn reserve(
        &self,
        order: &RoutedOrder,
        plan: &Plan,
        ids: Vec<ReservationId>,
        corrections: &mut Corrections,
    ) -> (Vec<ReservedAllocation>, Option<String>) {
        let order_id = order.order_id();
        // The ledger's channel rules know a channel by its name.
        let channel = order.order.channel.name();
        let answers = join_all(
            plan.allocations
                .iter()
                .zip(&ids)
                .map(|(a, id)| self.ledger.reserve(id, order_id, &a.node_id, &a.lines, channel)),
        )
        .await;
        let mut reserved: Vec<ReservedAllocation> = Vec::new();
        let mut unavailable = None;
        for ((allocation, id), answer) in plan.allocations.iter().zip(ids).zip(answers) {
            match answer {
                Ok(()) => reserved.push(ReservedAllocation {
                    allocation: allocation.clone(),
                    reservation_id: id,
                }),
                Err(ReserveError::Short(short)) => {
                    for (sku, available) in short {
                        corrections
                            .short
                            .insert((sku, allocation.node_id.to_string()), available);
                    }
                }
                Err(ReserveError::Refused(why)) => {
                    tracing::info!(order_id = %order_id, node_id = %allocation.node_id, %why, "the ledger refused a node");
                    corrections.unusable.insert(allocation.node_id.clone());
                }
                Err(ReserveError::Unavailable(why)) => unavailable = Some(why),
            }
        }
        (reserved, unavailable)
    }

    fn plan(&self, order: &RoutedOrder, need: &[LineNeed], corrections: &Corrections, now: DateTime<Utc>) -> Plan {
        self.service
            .plan(order, need, &corrections.unusable, &corrections.short, now)
    }

    async fn finish(
        &self,
        order: &RoutedOrder,
        reserved: Vec<ReservedAllocation>,
        plan: Plan,
    ) -> Result<(), AttemptError> {
        let ids: Vec<ReservationId> = reserved.iter().map(|r| r.reservation_id.clone()).collect();
        match self
            .service
            .finish_attempt(order.order_id(), order.attempt, order.revision, reserved, plan)
            .await
        {
            Ok(()) => Ok(()),
            Err(e) => {
                // The order changed (held, cancelled, sent elsewhere) while the ledger
                // reserved: give the units back; the order is routed again if it wants.
                self.release_all(&ids, "the order changed while it was routed").await?;
                self.service.abandon_attempt(order.order_id(), ids).await?;
                Err(e.into())
            }
        }
    }
}

/// The router's work in hand: what waits, what runs, and for which order.
#[derive(Default)]
struct Work {
    queue: Queue,
    running: JoinSet<()>,
    /// Orders an attempt works on now.
    busy: HashSet<OrderId>,
    /// The order each running attempt works on, so a failed task frees its order too.
    tasks: HashMap<tokio::task::Id, OrderId>,
    /// Orders whose attempt was under way when stock came back: that attempt may have
    /// planned on the older figures and backordered, so each is tried again after it.
    look_again: HashSet<OrderId>,
    /// Orders the last tick found wanting routing: the next tick routes those still
    /// waiting. (The feed brings new work at once, with its trace; a tick picks up only
    /// what the feed missed, and never races it for an order just recorded.)
    waiting: HashSet<OrderId>,
}

impl Work {
    /// An attempt ended: its order is free again (and tried again if stock came back
    /// while it ran).
    fn finished(&mut self, done: Result<(tokio::task::Id, ()), tokio::task::JoinError>) {
        let task = done
            .as_ref()
            .map_or_else(tokio::task::JoinError::id, |(task, ())| *task);
        let Some(order_id) = self.tasks.remove(&task) else {
            return;
        };
        if let Err(e) = done {
            tracing::error!(order_id = %order_id, error = %e, "a routing attempt failed; the order is looked at again on the next tick");
        }
        self.busy.remove(&order_id);
        if self.look_again.remove(&order_id) {
            self.queue.push(&order_id, Need::Retry);
        }
    }
}

/// Why the router looks at the whole state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Look {
    /// At start: whatever an earlier process left, backorders included.
    Start,
    /// The feed of committed events lost some: every order that wants a node.
    FeedLagged,
    /// The periodic look: what the feed did not bring (pre-orders whose date came).
    Tick,
}

/// The routing work a committed event of an order gives, if any. A released hold routes
/// everything the order waits for at once — units never routed and backordered units
/// alike — as stock arriving would: the hold kept them from being reserved, not the stock.
fn wakes(event: &RoutingEvent) -> Option<Need> {
    match event {
        RoutingEvent::OrderReleased { .. } => Some(Need::Everything),
        RoutingEvent::OrderReceived { .. }
        | RoutingEvent::AllocationDropped { .. }
        | RoutingEvent::DestinationChanged { .. } => Some(Need::Route),
        _ => None,
    }
}

/// The id of the reservation an attempt's round makes at a node, which is also the
/// fulfilment request's: `{order}/{attempt}.{round}/{node}`, unique per try.
fn reservation_id(order: &RoutedOrder, round: u32, node_id: &LocationId) -> ReservationId {
    ReservationId::new(format!(
        "{}/{}.{}/{node_id}",
        order.order_id(),
        order.attempt + 1,
        round
    ))
}

/// A retried backorder that would be backordered again, just as it is.
fn same_backorder(plan: &Plan, order: &RoutedOrder) -> bool {
    matches!(plan.unrouted, Unrouted::Backorder { .. }) && plan.unallocated == order.backordered
}

/// What the ledger said during an attempt.
#[derive(Default)]
struct Corrections {
    /// (SKU, node) → units the ledger has.
    short: HashMap<(String, String), i64>,
    /// Nodes the ledger will not reserve at.
    unusable: BTreeSet<LocationId>,
}

/// Orders waiting for the router, each once, first come first served.
#[derive(Default)]
struct Queue {
    order: VecDeque<OrderId>,
    /// The need of each order, and the trace it continues (the latest that asked).
    needs: HashMap<OrderId, (Need, Option<String>)>,
}

impl Queue {
    fn push(&mut self, order_id: &OrderId, need: Need) {
        self.push_traced(order_id, need, None);
    }

    fn push_traced(&mut self, order_id: &OrderId, need: Need, traceparent: Option<String>) {
        match self.needs.get_mut(order_id) {
            // Recovery first; a route and a retry make one attempt at everything.
            Some((queued, trace)) => {
                *queued = queued.merge(need);
                if traceparent.is_some() {
                    *trace = traceparent;
                }
            }
            None => {
                self.needs.insert(order_id.clone(), (need, traceparent));
                self.order.push_back(order_id.clone());
            }
        }
    }

    fn extend(&mut self, orders: Vec<OrderId>, need: Need) {
        for order_id in orders {
            self.push(&order_id, need);
        }
    }

    /// The first order not being worked on now, with its need and trace.
    fn pop_not(&mut self, busy: &HashSet<OrderId>) -> Option<(OrderId, Need, Option<String>)> {
        let at = self.order.iter().position(|id| !busy.contains(id))?;
        let order_id = self.order.remove(at)?;
        let (need, traceparent) = self.needs.remove(&order_id)?;
        Some((order_id, need, traceparent))
    }
}
