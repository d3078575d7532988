//! The application service: runs routing's decisions through the writer (events and the
//! messages announcing them in one commit) and answers reads from the in-memory state.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use oms_eventsourcing::clock::SharedClock;
use oms_eventsourcing::trace::current_traceparent;
use oms_eventsourcing::writer::Context;
use oms_eventsourcing::{
    Changes, CommandError, CommandMeta, Decide, Decision, EventStore, StoreError, Writer, WriterConfig,
};

use crate::availability::Availability;
use crate::domain::plan::{self, Corrected, Plan, PlanRequest};
use crate::domain::quote::{self, DeliveryOption, QuoteRequest};
use crate::domain::{
    AbandonAttempt, AllocationRecord, AllocationStatus, BeginAttempt, DecisionRecord, FinishAttempt, GiveUp,
    ImportNetwork, LineNeed, LocationId, NetworkDocument, Node, OrderId, RemoveNode, ReplaceRuleSets, ReservationId,
    ReservedAllocation, RoutedOrder, Routing, RoutingError, RoutingEvent, RuleSet, UpsertNode,
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

/// Changes of one order (or the network) with the messages announcing them.
pub fn decision(
    routing: &Routing,
    order_id: Option<&OrderId>,
    changes: Changes<RoutingEvent>,
    initiator: Initiator,
    now: DateTime<Utc>,
) -> Decision<RoutingEvent, ()> {
    let order = order_id.and_then(|id| routing.order(id.as_str()));
    let events: Vec<RoutingEvent> = changes.iter().map(|c| c.event.clone()).collect();
    let announced = messages::for_events(routing.network(), order, &events, initiator, now);
    Decision::reply(()).changes(changes).publish_all(announced)
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

    /// Runs a change to the network (announced by no message); answers how many events it
    /// recorded.
    async fn configure<C>(&self, command: C) -> Outcome<usize>
    where
        C: Decide<Routing, Refusal = RoutingError> + Send + 'static,
    {
        self.writer
            .execute(self.meta(), move |routing: &Routing, ctx: &Context<'_>| {
                let changes = command.decide(routing, ctx.now)?;
                let n = changes.len();
                Ok(decision(routing, None, changes, Initiator::Routing, ctx.now).map_reply(|()| n))
            })
            .await
    }

    /// Runs a command about one order, announcing what it changes.
    pub async fn run_for_order<C>(&self, order_id: OrderId, initiator: Initiator, command: C) -> Outcome<()>
    where
        C: Decide<Routing, Refusal = RoutingError> + Send + 'static,
    {
        self.writer
            .execute(self.meta(), move |routing: &Routing, ctx: &Context<'_>| {
                let changes = command.decide(routing, ctx.now)?;
                Ok(decision(routing, Some(&order_id), changes, initiator, ctx.now))
            })
            .await
    }

    // ------------------------------------------------------------------------------------
    // The network.

    pub async fn upsert_node(&self, node: Node) -> Outcome<Node> {
        let id = node.node_id.clone();
        self.configure(UpsertNode { node }).await?;
        self.writer
            .read(|r| r.network().node(id.as_str()).cloned())
            .ok_or(CommandError::Rejected(RoutingError::UnknownNode(id)))
    }

    pub async fn remove_node(&self, node_id: LocationId) -> Outcome<()> {
        self.configure(RemoveNode { node_id }).await.map(|_| ())
    }

    pub async fn set_rule_sets(&self, rule_sets: Vec<RuleSet>) -> Outcome<Vec<RuleSet>> {
        self.configure(ReplaceRuleSets { rule_sets }).await?;
        Ok(self.rule_sets())
    }

    /// Imports nodes and rule sets; answers how many of each the document held.
    pub async fn import(&self, document: NetworkDocument) -> Outcome<(usize, usize)> {
        let counts = (document.nodes.len(), document.rule_sets.len());
        self.configure(ImportNetwork { document }).await?;
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

    pub async fn begin_attempt(
        &self,
        order_id: &OrderId,
        attempt: u32,
        revision: u32,
        ids: Vec<ReservationId>,
    ) -> Outcome<()> {
        let command = BeginAttempt {
            order_id: order_id.clone(),
            attempt,
            revision,
            reservation_ids: ids,
        };
        self.run_for_order(order_id.clone(), Initiator::Routing, command).await
    }

    pub async fn finish_attempt(
        &self,
        order_id: &OrderId,
        attempt: u32,
        revision: u32,
        reserved: Vec<ReservedAllocation>,
        plan: Plan,
    ) -> Outcome<()> {
        let command = FinishAttempt {
            order_id: order_id.clone(),
            attempt,
            revision,
            reserved,
            plan,
        };
        self.run_for_order(order_id.clone(), Initiator::Routing, command).await
    }

    pub async fn abandon_attempt(&self, order_id: &OrderId, ids: Vec<ReservationId>) -> Outcome<()> {
        let command = AbandonAttempt {
            order_id: order_id.clone(),
            reservation_ids: ids,
        };
        self.run_for_order(order_id.clone(), Initiator::Routing, command).await
    }

    pub async fn give_up(&self, order_id: &OrderId) -> Outcome<()> {
        let command = GiveUp {
            order_id: order_id.clone(),
        };
        self.run_for_order(order_id.clone(), Initiator::Routing, command).await
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
        unusable: &BTreeSet<LocationId>,
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
