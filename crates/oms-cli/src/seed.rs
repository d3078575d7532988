//! Sample data: the example network (three Berlin stores, a warehouse and a bank of
//! parcel lockers, with rule sets), the ledger's locations, and a catalogue with stock at every node. Seeding twice
//! changes nothing (the movements have fixed ids).

use oms_proto::inventory::v1 as inventory;
use oms_proto::inventory::v1::inventory_ledger_client::InventoryLedgerClient;
use oms_proto::pos::v1 as pos;
use oms_proto::routing::v1 as routing;
use oms_proto::routing::v1::routing_client::RoutingClient;
use oms_service::convert::timestamp;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::embedded::Addrs;

pub const NETWORK: &str = include_str!("../../../deploy/network.example.json");
pub const STORES: [&str; 3] = ["store-alexanderplatz", "store-kreuzberg", "store-potsdam"];
pub const WAREHOUSE: &str = "dc-erfurt";
/// A bank of parcel lockers: no stock of its own; stores and the warehouse send parcels.
pub const LOCKER: &str = "locker-hauptbahnhof";
pub const CATALOGUE: usize = 30;

pub fn sku(i: usize) -> String {
    format!("SKU-{:03}", i + 1)
}

/// Loads the sample network, locations and stock into a running system.
pub async fn seed(addrs: &Addrs) -> anyhow::Result<()> {
    let mut routing = RoutingClient::new(addrs.channel(addrs.routing).await?);
    routing
        .import_network(routing::ImportNetworkRequest { json: NETWORK.into() })
        .await
        .map_err(|e| anyhow::anyhow!("routing refused the example network: {}", e.message()))?;
    let mut ledger = InventoryLedgerClient::new(addrs.channel(addrs.ledger).await?);
    let mut movements = Vec::new();
    let mut rng = StdRng::seed_from_u64(42);
    for (node, kind) in STORES
        .iter()
        .map(|s| (*s, inventory::LocationType::Store))
        .chain([(WAREHOUSE, inventory::LocationType::Warehouse)])
    {
        ledger
            .upsert_location(inventory::Location {
                location_id: node.into(),
                r#type: kind as i32,
                name: node.into(),
                active: true,
                ..Default::default()
            })
            .await
            .map_err(|e| anyhow::anyhow!("the ledger refused location {node}: {}", e.message()))?;
        for i in 0..CATALOGUE {
            let units = if node == WAREHOUSE {
                rng.random_range(40..120)
            } else {
                rng.random_range(0..12)
            };
            if units == 0 {
                continue;
            }
            movements.push(pos::StockMovement {
                movement_id: format!("seed-{node}-{}", sku(i)),
                location_id: node.into(),
                sku: sku(i),
                kind: pos::MovementKind::Receipt as i32,
                quantity: units,
                occurred_at: Some(timestamp(chrono::Utc::now())),
                ..Default::default()
            });
        }
    }
    for chunk in movements.chunks(200) {
        ledger
            .record_movements(inventory::RecordMovementsRequest {
                movements: chunk.to_vec(),
            })
            .await
            .map_err(|e| anyhow::anyhow!("the ledger refused the sample stock: {}", e.message()))?;
    }
    Ok(())
}
