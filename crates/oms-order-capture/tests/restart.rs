//! Order capture killed (SIGKILL) and started again: every order and its status survive,
//! rebuilt from the log, and channel orders that were in flight are placed once.

mod support;

use oms_eventsourcing::StoreConfig;
use oms_eventsourcing::testing::{TestBackend, TestStore};
use oms_proto::orders::v1 as pb;
use oms_service::testing::Process;
use oms_transport::testing::{TansuBroker, free_port};
use prost::Message as _;
use support::*;

fn spawn(store: &StoreConfig, broker: &TansuBroker, port: u16) -> Process {
    Process::spawn(
        env!("CARGO_BIN_EXE_oms-order-capture"),
        store,
        &broker.bootstrap_servers(),
        port,
    )
}

async fn all_orders(client: &mut Client) -> Vec<pb::Order> {
    let mut orders = client
        .list_orders(pb::ListOrdersRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .orders;
    orders.sort_by(|a, b| a.order_id.cmp(&b.order_id));
    orders
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_and_their_statuses_survive_a_kill() {
    let broker = tokio::task::spawn_blocking(TansuBroker::start).await.unwrap();
    let kafka = broker.config("restart-test");
    let store = TestStore::new(TestBackend::Postgres).await;
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut process = spawn(&store.config, &broker, port);
    let mut client = connect_to(&url).await;
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(
            client
                .place_order(pb::PlaceOrderRequest {
                    order: Some(web_order(&format!("W-{i}"))),
                })
                .await
                .unwrap()
                .into_inner()
                .order_id,
        );
    }
    client
        .hold_order(pb::HoldOrderRequest {
            order_id: ids[3].clone(),
            reason: "fraud check".into(),
            requested_by: "agent".into(),
        })
        .await
        .unwrap();
    client
        .cancel_order(pb::CancelOrderRequest {
            order_id: ids[4].clone(),
            reason: "changed mind".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    // Channel orders on the topic while the service dies.
    for i in 0..20 {
        let draft = web_order(&format!("K-{i}"));
        produce(
            &kafka,
            "oms.channel-orders.v1",
            &format!("web/K-{i}"),
            &draft.encode_to_vec(),
        )
        .await;
        produce(
            &kafka,
            "oms.channel-orders.v1",
            &format!("web/K-{i}"),
            &draft.encode_to_vec(),
        )
        .await;
    }
    process.kill();

    let mut process = spawn(&store.config, &broker, port);
    let mut client = connect_to(&url).await;
    wait_until("every channel order is placed once", || {
        let mut client = client.clone();
        async move { all_orders(&mut client).await.len() == 30 }
    })
    .await;
    // Reads see a batch while its transaction is still under way. A command is answered
    // once its own batch is durable, and batches commit in order: after this answer every
    // order above is in the log, so the kill below finds the service at rest.
    client
        .place_order(pb::PlaceOrderRequest {
            order: Some(web_order("W-last")),
        })
        .await
        .unwrap();
    let before = all_orders(&mut client).await;
    assert_eq!(before.len(), 31);
    process.kill();

    let mut process = spawn(&store.config, &broker, port);
    let mut client = connect_to(&url).await;
    let after = all_orders(&mut client).await;
    assert_eq!(after, before);
    let status_of = |id: &str| after.iter().find(|o| o.order_id == id).unwrap().status;
    assert_eq!(status_of(&ids[3]), pb::OrderStatus::Held as i32);
    assert_eq!(status_of(&ids[4]), pb::OrderStatus::Cancelled as i32);
    assert_eq!(status_of(&ids[0]), pb::OrderStatus::Placed as i32);
    process.kill();
}
