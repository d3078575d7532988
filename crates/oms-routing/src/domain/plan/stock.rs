//! What the planner knows of stock and capacity: the units each node can promise of a SKU
//! (the availability read model, or a test's table), corrected by what the ledger said, and
//! the capacity each node used on its local day.

use std::collections::HashMap;

use chrono::NaiveDate;

use crate::domain::{LineNeed, Network};

/// Units each node can promise of a SKU (the ATP read model, or a test's table).
pub trait StockLevels {
    /// Calls `visit(node_id, available)` for each node with a figure for `sku`; nodes not
    /// visited have none.
    fn visit(&self, sku: &str, visit: &mut dyn FnMut(&str, i64));
}

impl StockLevels for HashMap<String, HashMap<String, i64>> {
    fn visit(&self, sku: &str, visit: &mut dyn FnMut(&str, i64)) {
        if let Some(nodes) = self.get(sku) {
            for (node, available) in nodes {
                visit(node, *available);
            }
        }
    }
}

/// Stock levels with the ledger's word on top: (SKU, node) → units it has, when it said
/// fewer than the levels.
pub struct Corrected<'a> {
    pub stock: &'a dyn StockLevels,
    pub short: &'a HashMap<(String, String), i64>,
}

impl StockLevels for Corrected<'_> {
    fn visit(&self, sku: &str, visit: &mut dyn FnMut(&str, i64)) {
        if self.short.is_empty() {
            return self.stock.visit(sku, visit);
        }
        self.stock.visit(sku, &mut |node, available| {
            let corrected = self
                .short
                .get(&(sku.to_owned(), node.to_owned()))
                .map_or(available, |&ledger| ledger.min(available));
            visit(node, corrected);
        });
    }
}

/// Capacity a node has used on one of its local days.
pub trait CapacityUsage {
    fn used(&self, node_id: &str, day: NaiveDate) -> u32;
}

impl CapacityUsage for HashMap<(String, NaiveDate), u32> {
    fn used(&self, node_id: &str, day: NaiveDate) -> u32 {
        self.get(&(node_id.to_owned(), day)).copied().unwrap_or(0)
    }
}

/// Available units per (node, line), filled from the sparse stock levels.
pub(super) struct StockMatrix<'a> {
    lines: &'a [LineNeed],
    available: Vec<i64>,
}

impl<'a> StockMatrix<'a> {
    pub(super) fn new(network: &Network, lines: &'a [LineNeed], stock: &dyn StockLevels) -> Self {
        let width = lines.len();
        let mut available = vec![0; network.nodes().len() * width];
        for (j, line) in lines.iter().enumerate() {
            if lines[..j].iter().any(|l| l.sku == line.sku) {
                // A second line of the same SKU shares the first one's stock.
                let first = lines.iter().position(|l| l.sku == line.sku).unwrap_or(j);
                for i in 0..network.nodes().len() {
                    available[i * width + j] = available[i * width + first];
                }
                continue;
            }
            stock.visit(line.sku.as_str(), &mut |node, units| {
                if let Some(i) = network.index_of(node) {
                    available[i * width + j] = units;
                }
            });
        }
        Self { lines, available }
    }

    pub(super) fn at(&self, node: usize, line: usize) -> i64 {
        self.available[node * self.lines.len() + line]
    }
}
