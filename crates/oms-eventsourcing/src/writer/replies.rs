//! The first replies of idempotent commands, kept in memory for the most recent ones;
//! older ones are looked up in the store.

use std::collections::{HashMap, VecDeque};

/// Recently committed idempotent replies, oldest evicted first.
pub(super) struct ReplyCache {
    replies: HashMap<String, Vec<u8>>,
    order: VecDeque<String>,
    capacity: usize,
}

impl ReplyCache {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            replies: HashMap::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    pub(super) fn get(&self, key: &str) -> Option<&Vec<u8>> {
        self.replies.get(key)
    }

    pub(super) fn insert(&mut self, key: String, reply: Vec<u8>) {
        if self.capacity == 0 {
            return;
        }
        if self.replies.insert(key.clone(), reply).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.replies.remove(&old);
            }
        }
    }
}
