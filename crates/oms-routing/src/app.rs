//! The application service: runs routing's decisions through the writer (events and the
//! messages announcing them in one commit) and answers reads from the in-memory state.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use oms_eventsourcing::clock::SharedClock;
use oms_eventsourcing::trace::current_traceparent;
use oms_eventsourcing::writer::Context;
use oms_eventsourcing::{CommandError, CommandMeta, Decision, EventStore, StoreError, Writer, WriterConfig};

use crate::availability::Availability;
use crate::domain::plan::{self, Corrected, Plan, PlanRequest, PlannedAllocation};
use crate::domain::quote::{self, DeliveryOption, QuoteRequest};
use crate::domain::routing::Events;
use crate::domain::{
    AllocationRecord, AllocationStatus, DecisionRecord, LineNeed, NetworkDocument, Node, RoutedOrder, Routing,
    RoutingError, RoutingEvent, RuleSet,
};
use crate::messages::{self, Initiator};

pub type Outcome<T> = Result<T, CommandError<RoutingError>>;

#[derive(Clone)]
pub struct RoutingService {
    writer: Writer<Routing>,
    availability: Arc<Availability>,
}

/// An order's latest decision with what it holds now.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionView {
    pub decision: DecisionRecord,
    /// Allocations not dropped.
    pub allocations: Vec<AllocationRecord>,
    pub backordered: Vec<LineNeed>,
    pub held: bool,
}

/// Events of one order (or the network) with the messages announcing them.
pub fn decision(
    routing: &Routing,
    order_id: Option<&str>,
    events: Events,
    initiator: Initiator,
    now: DateTime<Utc>,
) -> Decision<RoutingEvent, ()> {
    let order = order_id.and_then(|id| routing.order(id));
    let plain: Vec<RoutingEvent> = events.iter().map(|(_, e)| e.clone()).collect();
    let announced = messages::for_events(routing.network(), order, &plain, initiator, now);
    let mut decision = Decision::reply(());
    for (stream, event) in events {
        decision = decision.event(stream, event);
    }
    decision.publish_all(announced)
}

impl RoutingService {
    pub async fn start(
        store: EventStore,
        clock: SharedClock,
        config: WriterConfig,
        availability: Arc<Availability>,
    ) -> Result<Self, StoreError> {
        let (writer, report) = Writer::<Routing>::start(store, clock, config).await?;
        tracing::info!(
            events = report.events_applied,
            orders = writer.read(Routing::len),
            nodes = writer.read(|r| r.network().nodes().len()),
            "routing ready"
        );
        Ok(Self { writer, availability })
    }

    pub fn writer(&self) -> &Writer<Routing> {
        &self.writer
    }

    pub fn availability(&self) -> &Arc<Availability> {
        &self.availability
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.writer.clock().now()
    }

    fn meta(&self) -> CommandMeta {
        CommandMeta::new().with_traceparent(current_traceparent())
    }

    /// Runs a decision that needs no messages (network changes).
    async fn run(
        &self,
        decide: impl FnOnce(&Routing) -> Result<Events, RoutingError> + Send + 'static,
    ) -> Outcome<usize> {
        self.writer
            .execute(self.meta(), move |routing: &Routing, ctx: &Context<'_>| {
                let events = decide(routing)?;
                let n = events.len();
                Ok(decision(routing, None, events, Initiator::Routing, ctx.now).map_reply(|_| n))
            })
            .await
    }

    /// Runs a decision about one order, announcing what it changes.
    pub async fn run_for_order(
        &self,
        order_id: String,
        initiator: Initiator,
        decide: impl FnOnce(&Routing, DateTime<Utc>) -> Result<Events, RoutingError> + Send + 'static,
    ) -> Outcome<()> {
        self.writer
            .execute(self.meta(), move |routing: &Routing, ctx: &Context<'_>| {
                let events = decide(routing, ctx.now)?;
                Ok(decision(routing, Some(&order_id), events, initiator, ctx.now))
            })
            .await
    }

    // ------------------------------------------------------------------------------------
    // The network.

    pub async fn upsert_node(&self, node: Node) -> Outcome<Node> {
        let id = node.node_id.clone();
        self.run(move |routing| routing.upsert_node(node)).await?;
        self.writer
            .read(|r| r.network().node(&id).cloned())
            .ok_or(CommandError::Rejected(RoutingError::UnknownNode(id)))
    }

    pub async fn remove_node(&self, node_id: String) -> Outcome<()> {
        self.run(move |routing| routing.remove_node(&node_id)).await.map(|_| ())
    }

    pub async fn set_rule_sets(&self, rule_sets: Vec<RuleSet>) -> Outcome<Vec<RuleSet>> {
        self.run(move |routing| routing.set_rule_sets(rule_sets)).await?;
        Ok(self.rule_sets())
    }

    /// Imports nodes and rule sets; answers how many of each the document held.
    pub async fn import(&self, document: NetworkDocument) -> Outcome<(usize, usize)> {
        let counts = (document.nodes.len(), document.rule_sets.len());
        self.run(move |routing| routing.import(document)).await?;
        Ok(counts)
    }

    pub fn nodes(&self) -> Vec<Node> {
        self.writer.read(|r| {
            let mut nodes = r.network().nodes().to_vec();
            nodes.sort_by(|a, b| a.node_id.cmp(&b.node_id));
            nodes
        })
    }

    pub fn rule_sets(&self) -> Vec<RuleSet> {
        self.writer.read(|r| r.network().configured_rule_sets().to_vec())
    }

    // ------------------------------------------------------------------------------------
    // Routing attempts (the router's steps).

    pub async fn begin_attempt(&self, order_id: &str, attempt: u32, revision: u32, ids: Vec<String>) -> Outcome<()> {
        let id = order_id.to_owned();
        self.run_for_order(order_id.to_owned(), Initiator::Routing, move |routing, now| {
            routing.begin_attempt(&id, attempt, revision, ids, now)
        })
        .await
    }

    pub async fn finish_attempt(
        &self,
        order_id: &str,
        attempt: u32,
        revision: u32,
        allocations: Vec<(PlannedAllocation, String)>,
        plan: Plan,
    ) -> Outcome<()> {
        let id = order_id.to_owned();
        self.run_for_order(order_id.to_owned(), Initiator::Routing, move |routing, now| {
            routing.finish_attempt(&id, attempt, revision, allocations, &plan, now)
        })
        .await
    }

    pub async fn abandon_attempt(&self, order_id: &str, ids: Vec<String>) -> Outcome<()> {
        let id = order_id.to_owned();
        self.run_for_order(order_id.to_owned(), Initiator::Routing, move |routing, now| {
            routing.abandon_attempt(&id, ids, now)
        })
        .await
    }

    pub async fn give_up(&self, order_id: &str) -> Outcome<()> {
        let id = order_id.to_owned();
        self.run_for_order(order_id.to_owned(), Initiator::Routing, move |routing, now| {
            routing.give_up(&id, now)
        })
        .await
    }

    // ------------------------------------------------------------------------------------
    // Reads.

    pub fn decision(&self, order_id: &str) -> Option<DecisionView> {
        self.writer.read(|r| {
            let order = r.order(order_id)?;
            Some(DecisionView {
                decision: order.latest_decision()?.clone(),
                allocations: order
                    .allocations
                    .iter()
                    .filter(|a| a.status != AllocationStatus::Dropped)
                    .cloned()
                    .collect(),
                backordered: order.backordered.clone(),
                held: order.held,
            })
        })
    }

    /// Plans `need` of `order` from the network, capacity and availability as they are
    /// now, less the nodes the ledger refused and with its shortfalls.
    pub fn plan(
        &self,
        order: &RoutedOrder,
        need: &[LineNeed],
        unusable: &BTreeSet<String>,
        short: &HashMap<(String, String), i64>,
        now: DateTime<Utc>,
    ) -> Plan {
        let request = PlanRequest {
            order: &order.order,
            lines: need,
            rejected_by: &order.rejected_by,
            unusable,
            now,
        };
        self.writer.read(|r| {
            self.availability.with(|stock| {
                let stock = Corrected { stock, short };
                plan::plan(r.network(), &request, &stock, r)
            })
        })
    }

    /// Delivery options for a basket, from the current network, stock and capacity.
    pub fn quote(&self, request: &QuoteRequest) -> Vec<DeliveryOption> {
        self.writer.read(|r| {
            self.availability
                .with(|stock| quote::quote(r.network(), request, stock, r))
        })
    }
}
