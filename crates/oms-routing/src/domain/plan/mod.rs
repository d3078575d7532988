//! The routing decision, as a pure function: an order's open lines, the network and its
//! rule sets, the stock each node can promise and the capacity each has left go in; the
//! nodes that get which units, what waits for supply, and the reasons come out.
//!
//! Rule sets are tried in order. One applies when its order filter matches; its node filter,
//! capabilities, radius, capacity and availability gate leave the candidates
//! ([`candidates`]); its sort criteria rank them; its split policy allocates ([`allocate`]);
//! and when lines are left, its fallback says what happens to them (try the next rule set,
//! backorder, park for review, or backorder and give up after some days). [`reasons`]
//! writes the decision down with why each node won or lost.

mod allocate;
mod candidates;
mod reasons;
mod stock;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub use stock::{CapacityUsage, Corrected, StockLevels};

use self::allocate::{allocate, left_over};
use self::candidates::{Destination, applies, evaluate};
use self::reasons::{Leftover, decided};
use self::stock::StockMatrix;
use super::network::Fallback;
use super::order::OrderToRoute;
use super::{LineId, LineNeed, LocationId, Network, NodeType, RuleSet, describe_lines};

/// What to route.
pub struct PlanRequest<'a> {
    pub order: &'a OrderToRoute,
    /// The units that need a node.
    pub lines: &'a [LineNeed],
    /// Nodes that rejected or dropped the order before.
    pub rejected_by: &'a BTreeSet<LocationId>,
    /// Nodes this attempt may not use (the ledger refused them a moment ago).
    pub unusable: &'a BTreeSet<LocationId>,
    pub now: DateTime<Utc>,
}

/// One node considered, and why it won or lost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateRecord {
    pub node_id: LocationId,
    pub eligible: bool,
    pub reason: String,
    pub distance_km: Option<f64>,
    /// Lines it could fulfil in full.
    pub covers_lines: Vec<LineId>,
    pub chosen: bool,
    /// Place in the ranking (1 is best); 0 when not eligible.
    pub rank: u32,
}

/// The reasons of a decision, kept for GetDecision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRecord {
    pub attempt: u32,
    /// The rule set that decided; empty when none applied.
    pub rule_set: String,
    pub outcome: String,
    /// The ranked candidates and the most telling exclusions.
    pub candidates: Vec<CandidateRecord>,
    /// Every node left out (named above or not), counted by why.
    pub excluded: BTreeMap<String, u32>,
    /// What happened with rule sets tried before the deciding one.
    pub notes: Vec<String>,
    pub decided_at: DateTime<Utc>,
}

/// Units for one node.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedAllocation {
    pub node_id: LocationId,
    pub node_type: NodeType,
    pub lines: Vec<LineNeed>,
    pub expected_at: Option<DateTime<Utc>>,
    pub capacity_day: NaiveDate,
    pub capacity_used: u32,
}

/// What happens to units no node gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unrouted {
    /// Nothing is left over.
    Nothing,
    /// Wait for supply; with a date, give up then.
    Backorder { give_up_at: Option<DateTime<Utc>> },
    /// A person decides (parked for review, or no rule set applies).
    Review,
    /// The backorder waited as long as its rule set allows.
    GiveUp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub allocations: Vec<PlannedAllocation>,
    pub unallocated: Vec<LineNeed>,
    pub unrouted: Unrouted,
    pub reason: String,
    pub decision: DecisionRecord,
}

/// How many ranked candidates and named exclusions a decision keeps.
const CANDIDATES_KEPT: usize = 20;

/// Decides where the order's open lines go: the first rule set that applies and routes
/// every line, or whose fallback says what becomes of the rest, decides.
pub fn plan(
    network: &Network,
    request: &PlanRequest<'_>,
    stock: &dyn StockLevels,
    capacity: &dyn CapacityUsage,
) -> Plan {
    let matrix = StockMatrix::new(network, request.lines, stock);
    let destination = Destination::of(network, request.order);
    let mut notes = Vec::new();
    let rule_sets = network.rule_sets();
    let mut any_applied = false;
    for rules in rule_sets.iter() {
        if !applies(rules, request.order, &destination) {
            continue;
        }
        any_applied = true;
        let evaluation = evaluate(network, rules, request, &destination, &matrix, capacity);
        let chosen = allocate(rules, request.lines, &evaluation.ranked);
        let unallocated = left_over(request.lines, &chosen);
        let left = if unallocated.is_empty() {
            Leftover {
                unallocated,
                unrouted: Unrouted::Nothing,
                reason: String::new(),
            }
        } else {
            match fallback(rules, request, &unallocated) {
                Some((unrouted, reason)) => Leftover {
                    unallocated,
                    unrouted,
                    reason,
                },
                None => {
                    notes.push(format!(
                        "rule set {:?} left {} unrouted; next rule set",
                        rules.name,
                        describe_lines(&unallocated)
                    ));
                    continue;
                }
            }
        };
        return decided(network, request, rules, evaluation, chosen, left, notes);
    }
    nothing_routed(request, any_applied, notes)
}

/// What a rule set's fallback does with the lines it could not route, and why; `None`
/// when the next rule set is to try.
fn fallback(rules: &RuleSet, request: &PlanRequest<'_>, unallocated: &[LineNeed]) -> Option<(Unrouted, String)> {
    let lines = describe_lines(unallocated);
    Some(match rules.otherwise {
        Fallback::NextRuleSet => return None,
        Fallback::Backorder => (
            Unrouted::Backorder { give_up_at: None },
            format!("no node can fulfil {lines} now"),
        ),
        Fallback::ParkForReview => (
            Unrouted::Review,
            format!(
                "parked for review by rule set {:?}: no node can fulfil {lines}",
                rules.name
            ),
        ),
        Fallback::CancelAfterDays => {
            let give_up_at = request.order.placed_at + Duration::days(i64::from(rules.cancel_after_days));
            if request.now >= give_up_at {
                (
                    Unrouted::GiveUp,
                    format!("no supply for {lines} within {} days", rules.cancel_after_days),
                )
            } else {
                (
                    Unrouted::Backorder {
                        give_up_at: Some(give_up_at),
                    },
                    format!("no node can fulfil {lines} now; waiting until {give_up_at}"),
                )
            }
        }
    })
}

/// No rule set decided: every rule set that applied passed the order on, or none applied.
fn nothing_routed(request: &PlanRequest<'_>, any_applied: bool, notes: Vec<String>) -> Plan {
    let (unrouted, reason) = if any_applied {
        (
            Unrouted::Backorder { give_up_at: None },
            "no rule set could route every line".to_owned(),
        )
    } else {
        (Unrouted::Review, "no rule set applies to this order".to_owned())
    };
    Plan {
        allocations: Vec::new(),
        unallocated: request.lines.to_vec(),
        unrouted,
        reason: reason.clone(),
        decision: DecisionRecord {
            attempt: 0,
            rule_set: String::new(),
            outcome: reason,
            candidates: Vec::new(),
            excluded: BTreeMap::new(),
            notes,
            decided_at: request.now,
        },
    }
}
