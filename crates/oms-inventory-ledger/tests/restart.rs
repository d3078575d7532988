//! The ledger process killed (SIGKILL) and started again: positions and reservations are
//! rebuilt from the log exactly, and POS movements that were in flight are applied once.

mod support;

use std::time::Duration;

use oms_eventsourcing::StoreConfig;
use oms_eventsourcing::testing::{TestBackend, TestStore};
use oms_proto::inventory::v1 as pb;
use oms_proto::pos::v1::MovementKind;
use oms_service::testing::Process;
use oms_transport::testing::{TansuBroker, free_port};
use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use support::*;

fn spawn(store: &StoreConfig, broker: &TansuBroker, port: u16) -> Process {
    Process::spawn(
        env!("CARGO_BIN_EXE_oms-inventory-ledger"),
        store,
        &broker.bootstrap_servers(),
        port,
    )
}

async fn positions(client: &mut Client) -> Vec<pb::Position> {
    let mut all = client
        .list_positions(pb::ListPositionsRequest {
            location_id: "S1".into(),
            page_size: 1000,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .positions;
    for p in &mut all {
        p.updated_at = None;
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_ledger_comes_back_with_the_same_stock_and_applies_in_flight_movements_once() {
    let broker = tokio::task::spawn_blocking(TansuBroker::start).await.unwrap();
    let store = TestStore::new(TestBackend::Postgres).await;
    let port = free_port();
    let mut ledger = spawn(&store.config, &broker, port);
    let mut client = connect_to(&ledger.url).await;
    add_location(&mut client, "S1", pb::LocationType::Store).await;
    let receipts: Vec<_> = (0..20)
        .map(|i| {
            movement(
                &format!("r-{i}"),
                "S1",
                &format!("SKU-{i:02}"),
                MovementKind::Receipt,
                10 + i,
            )
        })
        .collect();
    client
        .record_movements(pb::RecordMovementsRequest { movements: receipts })
        .await
        .unwrap();
    client
        .reserve(pb::ReserveRequest {
            reservation_id: "res-1".into(),
            reference: "order-1".into(),
            location_id: "S1".into(),
            lines: vec![pb::ReservationLine {
                sku: "SKU-03".into(),
                quantity: 4,
            }],
            ttl_seconds: 3600,
            ..Default::default()
        })
        .await
        .unwrap();
    client
        .set_safety_stock(pb::SetSafetyStockRequest {
            sku: "SKU-05".into(),
            location_id: "S1".into(),
            quantity: 2,
        })
        .await
        .unwrap();

    // Sales arrive on the POS topic while the ledger is killed.
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap_servers())
        .set("batch.num.messages", "1")
        .create()
        .unwrap();
    for i in 0..60 {
        let sale = movement(&format!("sale-{i}"), "S1", "SKU-10", MovementKind::Sale, 1);
        producer
            .send(
                FutureRecord::to("oms.pos-movements.v1")
                    .key("S1")
                    .payload(&encode(&sale)),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(e, _)| e)
            .unwrap();
    }
    ledger.kill();

    let mut ledger = spawn(&store.config, &broker, port);
    let mut client = connect_to(&ledger.url).await;
    let expected_sku10 = 10 + 10 - 60;
    wait_until("every sale is applied", || {
        let mut client = client.clone();
        async move {
            let request = pb::GetAvailabilityRequest {
                skus: vec!["SKU-10".into()],
                ..Default::default()
            };
            let sku = client
                .get_availability(request)
                .await
                .map(|r| r.into_inner().skus.remove(0));
            sku.is_ok_and(|s| s.locations.first().is_some_and(|l| l.on_hand == expected_sku10))
        }
    })
    .await;
    // Reads see a batch while its transaction is still under way. A command is answered
    // once its own batch is durable, and batches commit in order: after this answer the
    // sales above are in the log, so the kill below finds the ledger at rest.
    add_location(&mut client, "S2", pb::LocationType::Store).await;
    let before = positions(&mut client).await;
    let reservation = client
        .get_reservation(pb::GetReservationRequest {
            reservation_id: "res-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reservation.status, pb::ReservationStatus::Active as i32);

    // Killed again, at rest: everything comes back as it was.
    ledger.kill();
    let mut ledger = spawn(&store.config, &broker, port);
    let mut client = connect_to(&ledger.url).await;
    let after = positions(&mut client).await;
    assert_eq!(after, before);
    assert_eq!(after.len(), 20);
    let sku03 = after.iter().find(|p| p.sku == "SKU-03").unwrap();
    assert_eq!((sku03.on_hand, sku03.reserved, sku03.available_to_promise), (13, 4, 9));
    let sku05 = after.iter().find(|p| p.sku == "SKU-05").unwrap();
    assert_eq!((sku05.safety_stock, sku05.available_to_promise), (2, 13));
    let sku10 = after.iter().find(|p| p.sku == "SKU-10").unwrap();
    assert_eq!(
        (sku10.on_hand, sku10.negative_on_hand),
        (-40, true),
        "60 sales of 20 units: each once"
    );
    ledger.kill();
}
