//! How a rule set shares an order's lines among its ranked candidates: one named rule per
//! split policy — ship complete, allow split, fewest shipments — each within the rule
//! set's most shipments.

use std::collections::HashMap;

use super::candidates::Candidate;
use crate::domain::network::SplitPolicy;
use crate::domain::{LineNeed, RuleSet};

/// Units one candidate gives, per line of the request.
pub(super) struct Given {
    /// Its place in the ranking.
    pub(super) candidate: usize,
    pub(super) units: Vec<i64>,
}

/// What each candidate chosen gives, in the order they were chosen.
pub(super) type Chosen = Vec<Given>;

/// Shares `lines` among the `ranked` candidates by the rule set's split policy.
pub(super) fn allocate(rules: &RuleSet, lines: &[LineNeed], ranked: &[Candidate]) -> Chosen {
    let max_shipments = if rules.max_shipments == 0 {
        usize::MAX
    } else {
        rules.max_shipments as usize
    };
    let mut taking = Taking {
        lines,
        ranked,
        chosen: Vec::new(),
    };
    match rules.split {
        SplitPolicy::ShipComplete => ship_complete(&mut taking),
        SplitPolicy::AllowSplit => allow_split(&mut taking, max_shipments),
        SplitPolicy::FewestShipments => fewest_shipments(&mut taking, max_shipments),
    }
    taking.chosen
}

/// One node fulfils every line — the best that has all of them — or none does.
fn ship_complete(taking: &mut Taking<'_>) {
    let (lines, ranked) = (taking.lines, taking.ranked);
    let all = |taking: &Taking<'_>, c: usize| {
        // Units of each SKU the whole order wants, within the node's room.
        let mut wanted: HashMap<&str, i64> = HashMap::new();
        for line in lines {
            *wanted.entry(line.sku.as_str()).or_default() += line.quantity;
        }
        let total: i64 = lines.iter().map(|l| l.quantity).sum();
        let candidate = &ranked[c];
        lines
            .iter()
            .enumerate()
            .all(|(j, line)| taking.room(c, j) >= wanted[line.sku.as_str()])
            && (!candidate.units_capacity || i64::from(candidate.headroom) >= total)
    };
    if let Some(c) = (0..ranked.len()).find(|&c| all(taking, c)) {
        for (j, line) in lines.iter().enumerate() {
            taking.give(c, j, line.quantity);
        }
    }
}

/// Each line goes to the best node that has all of it; a line no node has in full is
/// taken from several, best first.
fn allow_split(taking: &mut Taking<'_>, max_shipments: usize) {
    let (lines, ranked) = (taking.lines, taking.ranked);
    let open = |taking: &Taking<'_>, c: usize| taking.slot(c).is_some() || taking.chosen.len() < max_shipments;
    for (j, line) in lines.iter().enumerate() {
        if let Some(c) = (0..ranked.len()).find(|&c| open(taking, c) && taking.room(c, j) >= line.quantity) {
            taking.give(c, j, line.quantity);
            continue;
        }
        let mut left = line.quantity;
        for c in 0..ranked.len() {
            if left == 0 {
                break;
            }
            if !open(taking, c) {
                continue;
            }
            let units = taking.room(c, j).min(left);
            if units > 0 {
                taking.give(c, j, units);
                left -= units;
            }
        }
    }
}

/// As few nodes as can cover the order: the node covering the most open lines in full
/// first (the better ranked of equals), then the next for what is left.
fn fewest_shipments(taking: &mut Taking<'_>, max_shipments: usize) {
    let (lines, ranked) = (taking.lines, taking.ranked);
    let mut open: Vec<usize> = (0..lines.len()).collect();
    while !open.is_empty() && taking.chosen.len() < max_shipments {
        let covered =
            |taking: &Taking<'_>, c: usize| open.iter().filter(|&&j| taking.room(c, j) >= lines[j].quantity).count();
        let best = (0..ranked.len())
            .filter(|&c| taking.slot(c).is_none())
            .map(|c| (covered(taking, c), c))
            .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let Some((_, c)) = best.filter(|(count, _)| *count > 0) else {
            break;
        };
        let mut given = Vec::new();
        for &j in &open {
            if taking.room(c, j) >= lines[j].quantity {
                taking.give(c, j, lines[j].quantity);
                given.push(j);
            }
        }
        open.retain(|j| !given.contains(j));
    }
}

/// The units of each line no candidate was given.
pub(super) fn left_over(lines: &[LineNeed], chosen: &Chosen) -> Vec<LineNeed> {
    lines
        .iter()
        .enumerate()
        .filter_map(|(j, line)| {
            let given: i64 = chosen.iter().map(|g| g.units[j]).sum();
            (line.quantity > given)
                .then(|| LineNeed::new(line.line_id.clone(), line.sku.clone(), line.quantity - given))
        })
        .collect()
}

/// Tracks what the allocation so far took from each candidate, so two lines of the same
/// SKU never count the same units twice and a unit-capacity node is not overfilled.
struct Taking<'a> {
    lines: &'a [LineNeed],
    ranked: &'a [Candidate],
    chosen: Chosen,
}

impl Taking<'_> {
    fn slot(&self, candidate: usize) -> Option<usize> {
        self.chosen.iter().position(|g| g.candidate == candidate)
    }

    /// Units of line `j` candidate `c` can still give.
    fn room(&self, c: usize, j: usize) -> i64 {
        let candidate = &self.ranked[c];
        let sku = &self.lines[j].sku;
        let (taken_sku, taken_total) = match self.slot(c) {
            None => (0, 0),
            Some(s) => {
                let units = &self.chosen[s].units;
                let sku_taken = (0..self.lines.len())
                    .filter(|&k| &self.lines[k].sku == sku)
                    .map(|k| units[k])
                    .sum::<i64>();
                (sku_taken, units.iter().sum::<i64>())
            }
        };
        let mut room = candidate.usable[j] - taken_sku;
        if candidate.units_capacity {
            room = room.min(i64::from(candidate.headroom) - taken_total);
        }
        room.max(0)
    }

    fn give(&mut self, c: usize, j: usize, units: i64) {
        let s = match self.slot(c) {
            Some(s) => s,
            None => {
                self.chosen.push(Given {
                    candidate: c,
                    units: vec![0; self.lines.len()],
                });
                self.chosen.len() - 1
            }
        };
        self.chosen[s].units[j] += units;
    }
}
