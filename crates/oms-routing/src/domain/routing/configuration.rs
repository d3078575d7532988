//! The network and its rules, as a retailer edits them (admin API or a network file): nodes
//! added, changed or removed, rule sets replaced. Setting what is already set changes
//! nothing.

use chrono::{DateTime, Utc};
use oms_eventsourcing::{Change, Changes, Decide};

use super::Routing;
use crate::domain::network::rule_set_violations;
use crate::domain::payloads::{NodeDetails, RuleSetDetails};
use crate::domain::{LocationId, NETWORK_STREAM, NetworkDocument, Node, RoutingError, RoutingEvent, RuleSet};

/// Add a node to the network, or change one.
#[derive(Debug, Clone, PartialEq)]
pub struct UpsertNode {
    pub node: Node,
}

impl Decide<Routing> for UpsertNode {
    type Refusal = RoutingError;

    fn decide(&self, routing: &Routing, _now: DateTime<Utc>) -> Result<Changes<RoutingEvent>, RoutingError> {
        node_upserted(routing, &self.node)
    }
}

/// Take a node out of the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoveNode {
    pub node_id: LocationId,
}

impl Decide<Routing> for RemoveNode {
    type Refusal = RoutingError;

    fn decide(&self, routing: &Routing, _now: DateTime<Utc>) -> Result<Changes<RoutingEvent>, RoutingError> {
        if routing.network.node(self.node_id.as_str()).is_none() {
            return Err(RoutingError::UnknownNode(self.node_id.clone()));
        }
        Ok(vec![Change::new(
            NETWORK_STREAM,
            RoutingEvent::NodeRemoved {
                node_id: self.node_id.clone(),
            },
        )])
    }
}

/// Route by these rule sets from now on, tried in this order.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplaceRuleSets {
    pub rule_sets: Vec<RuleSet>,
}

impl Decide<Routing> for ReplaceRuleSets {
    type Refusal = RoutingError;

    fn decide(&self, routing: &Routing, _now: DateTime<Utc>) -> Result<Changes<RoutingEvent>, RoutingError> {
        rule_sets_replaced(routing, &self.rule_sets)
    }
}

/// Take a network file: its nodes are added or replaced (others stay); its rule sets, when
/// it has any, replace the configured ones.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportNetwork {
    pub document: NetworkDocument,
}

impl Decide<Routing> for ImportNetwork {
    type Refusal = RoutingError;

    fn decide(&self, routing: &Routing, _now: DateTime<Utc>) -> Result<Changes<RoutingEvent>, RoutingError> {
        self.document.violations().or_ok(()).map_err(RoutingError::Invalid)?;
        let mut changes = Vec::new();
        for node in &self.document.nodes {
            changes.extend(node_upserted(routing, node)?);
        }
        if !self.document.rule_sets.is_empty() {
            changes.extend(rule_sets_replaced(routing, &self.document.rule_sets)?);
        }
        Ok(changes)
    }
}

fn node_upserted(routing: &Routing, node: &Node) -> Result<Changes<RoutingEvent>, RoutingError> {
    node.violations("").or_ok(()).map_err(RoutingError::Invalid)?;
    if routing.network.node(node.node_id.as_str()) == Some(node) {
        return Ok(Vec::new());
    }
    Ok(vec![Change::new(
        NETWORK_STREAM,
        RoutingEvent::NodeUpserted {
            node: Box::new(NodeDetails::from(node)),
        },
    )])
}

fn rule_sets_replaced(routing: &Routing, rule_sets: &[RuleSet]) -> Result<Changes<RoutingEvent>, RoutingError> {
    rule_set_violations(rule_sets)
        .or_ok(())
        .map_err(RoutingError::Invalid)?;
    if routing.network.configured_rule_sets() == rule_sets {
        return Ok(Vec::new());
    }
    Ok(vec![Change::new(
        NETWORK_STREAM,
        RoutingEvent::RuleSetsReplaced {
            rule_sets: rule_sets.iter().map(RuleSetDetails::from).collect(),
        },
    )])
}
