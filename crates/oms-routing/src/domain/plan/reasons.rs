//! The decision written down: the units each chosen node gets, with its promise date and
//! the capacity it takes, and the reasons — why each ranked node won or lost, in the words
//! of the criterion that decided, and the nodes left out.

use std::cmp::Ordering;

use super::allocate::Chosen;
use super::candidates::{Candidate, Evaluation, compare, sort_order};
use super::{CANDIDATES_KEPT, CandidateRecord, DecisionRecord, Plan, PlanRequest, PlannedAllocation, Unrouted};
use crate::domain::network::{CapacityUnit, SortBy, SplitPolicy};
use crate::domain::{LineId, LineNeed, Network, Node, RuleSet, promise};

/// What a rule set left unrouted, what becomes of it, and why.
pub(super) struct Leftover {
    pub(super) unallocated: Vec<LineNeed>,
    pub(super) unrouted: Unrouted,
    pub(super) reason: String,
}

/// The plan a rule set decided.
pub(super) fn decided(
    network: &Network,
    request: &PlanRequest<'_>,
    rules: &RuleSet,
    evaluation: Evaluation,
    chosen: Chosen,
    left: Leftover,
    notes: Vec<String>,
) -> Plan {
    let nodes = network.nodes();
    let allocations = allocations(nodes, request, &evaluation, &chosen);
    let mut candidates = ranked_reasons(nodes, rules, request.lines, &evaluation, &chosen);
    let Evaluation {
        ranked,
        mut excluded,
        telling,
    } = evaluation;
    let not_listed = ranked.len().saturating_sub(CANDIDATES_KEPT);
    if not_listed > 0 {
        *excluded.entry("ranked lower".to_owned()).or_default() += u32::try_from(not_listed).unwrap_or(u32::MAX);
    }
    candidates.extend(telling);
    let outcome = outcome(&allocations, left.unrouted);
    Plan {
        allocations,
        unallocated: left.unallocated,
        unrouted: left.unrouted,
        reason: left.reason,
        decision: DecisionRecord {
            attempt: 0,
            rule_set: rules.name.clone(),
            outcome,
            candidates,
            excluded,
            notes,
            decided_at: request.now,
        },
    }
}

/// The units each chosen node gets, when they are expected, and the capacity they take.
fn allocations(
    nodes: &[Node],
    request: &PlanRequest<'_>,
    evaluation: &Evaluation,
    chosen: &Chosen,
) -> Vec<PlannedAllocation> {
    chosen
        .iter()
        .map(|given| {
            let node = &nodes[evaluation.ranked[given.candidate].node];
            let lines: Vec<LineNeed> = request
                .lines
                .iter()
                .zip(&given.units)
                .filter(|(_, units)| **units > 0)
                .map(|(line, units)| LineNeed::new(line.line_id.clone(), line.sku.clone(), *units))
                .collect();
            let (capacity_day, _) = promise::local(node, request.now);
            let capacity_used = match node.capacity.unit {
                CapacityUnit::Orders => 1,
                CapacityUnit::Units => u32::try_from(lines.iter().map(|l| l.quantity).sum::<i64>()).unwrap_or(u32::MAX),
            };
            PlannedAllocation {
                node_id: node.node_id.clone(),
                node_type: node.node_type,
                lines,
                expected_at: promise::expected_at(node, request.order.delivery_method, request.now),
                capacity_day,
                capacity_used,
            }
        })
        .collect()
}

/// The best ranked candidates, each with why it won or lost.
fn ranked_reasons(
    nodes: &[Node],
    rules: &RuleSet,
    lines: &[LineNeed],
    evaluation: &Evaluation,
    chosen: &Chosen,
) -> Vec<CandidateRecord> {
    evaluation
        .ranked
        .iter()
        .enumerate()
        .take(CANDIDATES_KEPT)
        .map(|(rank, candidate)| {
            let node = &nodes[candidate.node];
            let covers_lines: Vec<LineId> = lines
                .iter()
                .enumerate()
                .filter(|(j, line)| candidate.usable[*j] >= line.quantity)
                .map(|(_, line)| line.line_id.clone())
                .collect();
            let given = chosen
                .iter()
                .find(|g| evaluation.ranked[g.candidate].node == candidate.node);
            let reason = match given {
                Some(given) => {
                    let got: Vec<&str> = lines
                        .iter()
                        .zip(&given.units)
                        .filter(|(_, u)| **u > 0)
                        .map(|(l, _)| l.line_id.as_str())
                        .collect();
                    let next = evaluation.ranked.get(rank + 1);
                    format!(
                        "chosen for lines {}: {}",
                        got.join(", "),
                        why_ahead(rules, candidate, next, nodes)
                    )
                }
                None => passed_over(rules, candidate, rank, covers_lines.len(), lines.len()),
            };
            CandidateRecord {
                node_id: node.node_id.clone(),
                eligible: true,
                reason,
                distance_km: candidate.distance,
                covers_lines,
                chosen: given.is_some(),
                rank: u32::try_from(rank + 1).unwrap_or(u32::MAX),
            }
        })
        .collect()
}

/// Why a ranked candidate got nothing.
fn passed_over(rules: &RuleSet, candidate: &Candidate, rank: usize, covers: usize, lines: usize) -> String {
    let distance = candidate
        .distance
        .map_or_else(|| "distance unknown".to_owned(), |d| format!("{d:.1} km"));
    if covers < lines && rules.split == SplitPolicy::ShipComplete {
        format!("has {covers} of {lines} lines, the rule set ships complete ({distance})")
    } else {
        format!("ranked {} ({distance}); better nodes took the lines", rank + 1)
    }
}

/// The decision in a few words.
fn outcome(allocations: &[PlannedAllocation], unrouted: Unrouted) -> String {
    match (allocations.is_empty(), unrouted) {
        (_, Unrouted::Nothing) => format!("routed to {}", node_list(allocations)),
        (true, Unrouted::Backorder { .. }) => "backordered".to_owned(),
        (false, Unrouted::Backorder { .. }) => format!("routed to {}, rest backordered", node_list(allocations)),
        (_, Unrouted::Review) => "parked for review".to_owned(),
        (_, Unrouted::GiveUp) => "gave up".to_owned(),
    }
}

/// Why `chosen` ranked above `next`, in the words of the rule that decided: the first of
/// the rule set's criteria on which they differ, with both figures.
fn why_ahead(rules: &RuleSet, chosen: &Candidate, next: Option<&Candidate>, nodes: &[Node]) -> String {
    let Some(next) = next else {
        return "the only node left that has the stock and can serve the order".to_owned();
    };
    let next_id = &nodes[next.node].node_id;
    let km = |c: &Candidate| {
        c.distance
            .map_or_else(|| "distance unknown".to_owned(), |d| format!("{d:.1} km"))
    };
    let deciding = sort_order(rules)
        .iter()
        .copied()
        .find(|criterion| compare(*criterion, chosen, next, nodes) != Ordering::Equal);
    match deciding {
        Some(SortBy::Distance) => format!("nearest with stock: {}, next {next_id} {}", km(chosen), km(next)),
        Some(SortBy::NodePriority) => format!(
            "first by node priority: {}, next {next_id} {} ({})",
            nodes[chosen.node].priority,
            nodes[next.node].priority,
            km(chosen)
        ),
        Some(SortBy::ShippingCost) => format!(
            "cheapest to ship: {} (minor units), next {next_id} {} ({})",
            chosen.cost,
            next.cost,
            km(chosen)
        ),
        Some(SortBy::StockBalance) => format!(
            "most stock left after the order: {}, next {next_id} {} ({})",
            chosen.balance,
            next.balance,
            km(chosen)
        ),
        Some(SortBy::CapacityHeadroom) => format!(
            "most capacity left today: {}, next {next_id} {} ({})",
            chosen.headroom,
            next.headroom,
            km(chosen)
        ),
        None => format!(
            "level with {next_id} on every criterion; first by node id ({})",
            km(chosen)
        ),
    }
}

fn node_list(allocations: &[PlannedAllocation]) -> String {
    allocations
        .iter()
        .map(|a| a.node_id.as_str())
        .collect::<Vec<_>>()
        .join(" + ")
}
