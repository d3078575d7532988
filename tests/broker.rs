//! End-to-end: the broker loses everything under the running services — stopped and
//! replaced by an empty one on the same address, as after a restart without its storage
//! or a move to another cluster. The services carry on unaided: what the sales channels
//! and the POS send afterwards is applied (though its offsets start at 0 again, below
//! what was applied before), nothing earlier is applied twice, and a service stopped while
//! its relay cannot deliver still stops in time, leaving the rest to its next start.

use oms_cli::seed::{STORES, seed};
use oms_e2e::{CUSTOMER_AT, Clients, Launch, System, draft, eventually};
use oms_proto::common::v1 as common;
use oms_proto::inventory::v1 as inventory;
use oms_proto::orders::v1 as orders;
use oms_proto::pos::v1 as pos;
use oms_proto::routing::v1 as routing;
use oms_proto::topics;
use oms_service::convert::timestamp;
use prost::Message as _;

const ALEXANDERPLATZ: &str = STORES[0];
/// The web shop's connector keys its orders by shop: they all go to one partition.
const WEB_SHOP: &str = "web-shop-de";

fn receipt(id: &str, location: &str, sku: &str, units: i64) -> pos::StockMovement {
    pos::StockMovement {
        movement_id: id.into(),
        location_id: location.into(),
        sku: sku.into(),
        kind: pos::MovementKind::Receipt as i32,
        quantity: units,
        occurred_at: Some(timestamp(chrono::Utc::now())),
        ..Default::default()
    }
}

/// A web order of one unit of `sku`, as the shop's connector sends it on the channel
/// order topic.
async fn web_shop_sends(system: &System, external_id: &str, sku: &str) {
    let order = draft(external_id, &[(sku, 1)], orders::DeliveryMethod::Standard);
    system
        .produce(topics::CHANNEL_ORDERS.name, WEB_SHOP, &order.encode_to_vec())
        .await;
}

/// The orders order capture holds for the customer of `external_id` (see `draft`).
async fn orders_of(api: &Clients, external_id: &str) -> Vec<orders::Order> {
    api.orders
        .clone()
        .list_orders(orders::ListOrdersRequest {
            customer_id: format!("C-{external_id}"),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner().orders)
        .unwrap_or_default()
}

/// Waits until the order sent as `external_id` is routed; its id.
async fn routed(api: &Clients, external_id: &str) -> String {
    let order = eventually(&format!("order {external_id} is placed"), || async move {
        orders_of(api, external_id).await.into_iter().next()
    })
    .await;
    api.wait_for_status(&order.order_id, orders::OrderStatus::Routed).await;
    order.order_id
}

/// Waits until routing offers Alexanderplatz for `units` of `sku`: it knows at least that
/// many are available there.
async fn wait_until_routing_offers(api: &Clients, sku: &str, units: i64) {
    eventually(
        &format!("routing offers {units} of {sku} at {ALEXANDERPLATZ}"),
        || async move {
            let quote = api
                .routing
                .clone()
                .quote_delivery_options(routing::QuoteRequest {
                    lines: vec![routing::QuoteLine {
                        sku: sku.into(),
                        quantity: units,
                    }],
                    destination: Some(common::Address {
                        country: "DE".into(),
                        location: Some(CUSTOMER_AT),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner();
            quote
                .options
                .iter()
                .any(|o| o.pickup_location_id == ALEXANDERPLATZ || o.node_ids.iter().any(|n| n == ALEXANDERPLATZ))
                .then_some(())
        },
    )
    .await;
}

/// The broker is replaced by an empty one under the running services. Afterwards the
/// POS's receipts and the web shop's order — at offsets 0 and 1 of their partitions again,
/// where receipts and orders were applied before — are applied: the stock moves, the order
/// is placed and routed. Nothing from before is applied twice. Then, with the broker gone,
/// the ledger is stopped with SIGTERM while its relay cannot deliver: it stops in time, and
/// what stayed in its outbox is relayed after its next start.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_the_broker_lost_everything_channel_orders_and_pos_movements_are_applied() {
    let mut system = System::start_with(Launch::Binaries).await;
    seed(&system.addrs()).await.expect("the sample data loads");
    let api = Clients::connect(&system.addrs()).await;
    let (before, after) = ("E2E-BROKER-BEFORE", "E2E-BROKER-AFTER");

    for n in 1..=3 {
        system
            .pos(&receipt(&format!("broker-before-{n}"), ALEXANDERPLATZ, before, 1))
            .await;
    }
    api.wait_for_position("the receipts before are on the ledger", ALEXANDERPLATZ, before, |p| {
        p.on_hand == 3
    })
    .await;
    api.wait_until_routing_sees(before, ALEXANDERPLATZ).await;
    for n in 1..=2 {
        web_shop_sends(&system, &format!("{before}-{n}"), before).await;
    }
    for n in 1..=2 {
        routed(&api, &format!("{before}-{n}")).await;
    }

    system.replace_broker();
    // The ledger and order capture create the topics they read again.
    system
        .wait_for_topics(&[topics::POS_MOVEMENTS.name, topics::CHANNEL_ORDERS.name])
        .await;

    for n in 1..=2 {
        system
            .pos(&receipt(&format!("broker-after-{n}"), ALEXANDERPLATZ, after, 1))
            .await;
    }
    api.wait_for_position("the receipts after are on the ledger", ALEXANDERPLATZ, after, |p| {
        p.on_hand == 2
    })
    .await;
    wait_until_routing_offers(&api, after, 2).await;
    web_shop_sends(&system, after, after).await;
    let order_id = routed(&api, after).await;
    api.wait_for_position("the order's unit is reserved", ALEXANDERPLATZ, after, |p| {
        p.reserved == 1
    })
    .await;
    assert_eq!(orders_of(&api, after).await.len(), 1);

    // Nothing from before came again.
    let earlier = api.position(ALEXANDERPLATZ, before).await.expect("the ledger knows it");
    assert_eq!((earlier.on_hand, earlier.reserved), (3, 2), "{earlier:?}");
    for n in 1..=2 {
        assert_eq!(orders_of(&api, &format!("{before}-{n}")).await.len(), 1);
    }

    // The broker is gone; a delivery is booked at the till meanwhile. Asked to stop, the
    // ledger stops in time though its relay cannot deliver the new position.
    system.stop_broker();
    api.ledger
        .clone()
        .record_movements(inventory::RecordMovementsRequest {
            movements: vec![receipt("broker-outage-1", ALEXANDERPLATZ, after, 1)],
        })
        .await
        .expect("the ledger records the receipt");
    let stopped = system.terminate("oms-inventory-ledger").await;
    assert!(stopped.success(), "the ledger stops cleanly on SIGTERM: {stopped}");

    system.start_empty_broker();
    system.launch("oms-inventory-ledger");
    // Two available now (three on hand, one reserved): routing learns it from the
    // position the stopped relay left in the outbox.
    wait_until_routing_offers(&api, after, 2).await;
    let api = Clients::connect(&system.addrs()).await;
    api.wait_for_position("the outage receipt is on the ledger", ALEXANDERPLATZ, after, |p| {
        p.on_hand == 3 && p.reserved == 1
    })
    .await;
    assert_eq!(api.order(&order_id).await.status, orders::OrderStatus::Routed as i32);
}
