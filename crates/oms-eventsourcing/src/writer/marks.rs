//! What the writer knows of consumed messages: the committed checkpoint of each consumer
//! and source, and the marks of batches decided but not yet committed.

use std::collections::{HashMap, HashSet};

use crate::store::OutboxPosition;

/// Positions per consumer and source. Keys are copied only when first seen: this is
/// looked up and raised for every consumed message.
#[derive(Default)]
pub(super) struct Positions(HashMap<String, HashMap<String, OutboxPosition>>);

impl Positions {
    pub(super) fn get(&self, consumer: &str, source: &str) -> Option<OutboxPosition> {
        self.0.get(consumer)?.get(source).copied()
    }

    pub(super) fn knows(&self, consumer: &str) -> bool {
        self.0.contains_key(consumer)
    }

    pub(super) fn load(&mut self, consumer: String, positions: HashMap<String, OutboxPosition>) {
        self.0.insert(consumer, positions);
    }

    pub(super) fn raise(&mut self, consumer: &str, source: &str, position: OutboxPosition) {
        let sources = match self.0.get_mut(consumer) {
            Some(sources) => sources,
            None => self.0.entry(consumer.to_owned()).or_default(),
        };
        match sources.get_mut(source) {
            Some(at) => *at = (*at).max(position),
            None => {
                sources.insert(source.to_owned(), position);
            }
        }
    }

    /// Forgets the source's position if it is not beyond `position`.
    pub(super) fn forget_up_to(&mut self, consumer: &str, source: &str, position: OutboxPosition) {
        if let Some(sources) = self.0.get_mut(consumer)
            && sources.get(source).is_some_and(|at| *at <= position)
        {
            sources.remove(source);
        }
    }

    pub(super) fn lower(&mut self, consumer: &str, source: &str, position: OutboxPosition) {
        let sources = self.0.entry(consumer.to_owned()).or_default();
        let at = sources.entry(source.to_owned()).or_insert(position);
        *at = (*at).min(position);
    }

    pub(super) fn clear(&mut self) {
        self.0.clear();
    }
}

#[derive(Default)]
pub(super) struct PendingMarks {
    pub(super) replies: HashMap<String, Vec<u8>>,
    pub(super) seen: HashSet<(String, String)>,
    pub(super) checkpoints: Positions,
}

/// What the checks before a batch found in the store.
#[derive(Default)]
pub(super) struct Prechecked {
    pub(super) replies: HashMap<String, Vec<u8>>,
    pub(super) seen: HashSet<(String, String)>,
}
