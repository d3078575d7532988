//! Available-to-promise per (SKU, node), kept from the ledger's `PositionChanged` events so
//! routing can choose candidates without asking the ledger. It is a read model and may lag:
//! the ledger's Reserve stays the authority, and a refused reservation sends routing back
//! to choose again.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, PoisonError, RwLock};

use oms_proto::inventory::v1 as inventory;
use oms_transport::{Message, Projection};
use prost::Message as _;
use tokio::sync::Notify;

use crate::domain::StockLevels;

/// The read model's name in the store, and its consumer's.
pub const PROJECTION: &str = "routing.availability";

/// Separates SKU and node in a row key.
const KEY_SEPARATOR: char = '\u{1f}';

#[derive(Default)]
pub struct Availability {
    /// SKU → node → units available to promise.
    levels: RwLock<HashMap<String, HashMap<String, i64>>>,
    /// SKUs whose availability went up since the router last looked.
    increased: Mutex<BTreeSet<String>>,
    wake: Notify,
}

impl Availability {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets figures directly (network set-up in tests and benchmarks).
    pub fn set(&self, sku: &str, node: &str, units: i64) {
        self.apply(sku, node, units);
    }

    pub fn get(&self, sku: &str, node: &str) -> i64 {
        self.read()
            .get(sku)
            .and_then(|nodes| nodes.get(node))
            .copied()
            .unwrap_or(0)
    }

    /// Runs `f` over the figures as they are now.
    pub fn with<T>(&self, f: impl FnOnce(&dyn StockLevels) -> T) -> T {
        let levels = self.read();
        f(&*levels)
    }

    /// SKUs whose availability went up since the last call.
    pub fn take_increased(&self) -> BTreeSet<String> {
        std::mem::take(&mut *self.increased.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Resolves when some availability went up.
    pub async fn increased(&self) {
        self.wake.notified().await;
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, HashMap<String, i64>>> {
        self.levels.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn apply(&self, sku: &str, node: &str, units: i64) {
        let before = {
            let mut levels = self.levels.write().unwrap_or_else(PoisonError::into_inner);
            levels
                .entry(sku.to_owned())
                .or_default()
                .insert(node.to_owned(), units)
                .unwrap_or(0)
        };
        if units > before {
            self.increased
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(sku.to_owned());
            self.wake.notify_one();
        }
    }
}

impl Projection for Availability {
    fn rows(&self, message: &Message) -> Result<Vec<(String, Vec<u8>)>, String> {
        let event = inventory::InventoryEvent::decode(message.payload.as_slice())
            .map_err(|e| format!("not an oms.inventory.v1.InventoryEvent: {e}"))?;
        match event.event {
            Some(inventory::inventory_event::Event::PositionChanged(p)) => {
                if p.sku.is_empty() || p.location_id.is_empty() {
                    return Err("PositionChanged without sku or location_id".to_owned());
                }
                let key = format!("{}{KEY_SEPARATOR}{}", p.sku, p.location_id);
                Ok(vec![(key, p.available_to_promise.to_le_bytes().to_vec())])
            }
            // Reservation events change positions too, and each comes with its
            // PositionChanged.
            _ => Ok(Vec::new()),
        }
    }

    fn applied(&self, rows: &[(String, Vec<u8>)]) {
        for (key, value) in rows {
            let (Some((sku, node)), Ok(bytes)) = (key.split_once(KEY_SEPARATOR), <[u8; 8]>::try_from(value.as_slice()))
            else {
                tracing::warn!(%key, "unreadable availability row skipped");
                continue;
            };
            self.apply(sku, node, i64::from_le_bytes(bytes));
        }
    }
}

impl StockLevels for Availability {
    fn visit(&self, sku: &str, visit: &mut dyn FnMut(&str, i64)) {
        self.read().visit(sku, visit);
    }
}
