//! Store fulfilment with the services around it, over a real broker: the inventory ledger,
//! order capture, routing and store fulfilment run on PostgreSQL and tansu. Orders are
//! placed through order capture, routed to stores, and worked by staff through the API;
//! the ledger consumes or releases the reservations and order capture follows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use oms_eventsourcing::SystemClock;
use oms_inventory_ledger::service::RunningInventory;
use oms_inventory_ledger::testing as ledger;
use oms_order_capture::service::RunningOrderCapture;
use oms_order_capture::testing as orders_service;
use oms_proto::common::v1 as common;
use oms_proto::fulfilment::v1 as pb;
use oms_proto::fulfilment::v1::store_fulfilment_client::StoreFulfilmentClient;
use oms_proto::inventory::v1 as inventory;
use oms_proto::inventory::v1::inventory_ledger_client::InventoryLedgerClient;
use oms_proto::orders::v1 as orders;
use oms_proto::orders::v1::order_capture_client::OrderCaptureClient;
use oms_proto::routing::v1::routing_client::RoutingClient;
use oms_routing::router::RouterConfig;
use oms_routing::service::RunningRouting;
use oms_routing::testing as routing;
use oms_service::testing::Testbed;
use oms_store_fulfilment::service::RunningFulfilment;
use oms_store_fulfilment::testing;
use oms_transport::testing::wait_until;
use tonic::transport::Channel;

/// Two stores in Berlin, Alexanderplatz nearer the customer.
const NETWORK: &str = r#"{ "nodes": [
  { "node_id": "store-alexanderplatz", "type": "store", "location": { "latitude": 52.5219, "longitude": 13.4132 },
    "capabilities": { "ship": true, "click_and_collect": true } },
  { "node_id": "store-kreuzberg", "type": "store", "location": { "latitude": 52.4986, "longitude": 13.4030 },
    "capabilities": { "ship": true, "click_and_collect": true } } ] }"#;

struct Rig {
    _testbed: Testbed,
    ledger: Option<RunningInventory>,
    orders: Option<RunningOrderCapture>,
    routing: Option<RunningRouting>,
    fulfilment: Option<RunningFulfilment>,
    ledger_client: InventoryLedgerClient<Channel>,
    routing_client: RoutingClient<Channel>,
    orders_client: OrderCaptureClient<Channel>,
    staff: StoreFulfilmentClient<Channel>,
}

impl Rig {
    async fn start() -> Self {
        let mut testbed = Testbed::kafka("fulfilment-services-test").await;
        let clock = Arc::new(SystemClock);
        let ledger = ledger::started(&mut testbed).await;
        let orders = orders_service::started(&mut testbed).await;
        let mut routing_config = routing::config(testbed.store().await, format!("http://{}", ledger.addr));
        routing_config.router.backorder_retry_every = RouterConfig::default().backorder_retry_every;
        let routing = routing::start(routing_config, testbed.wiring(), clock.clone()).await;
        let mut fulfilment_config = testing::config(testbed.store().await);
        fulfilment_config.deadline_every = Duration::from_millis(200);
        let fulfilment = testing::start(fulfilment_config, testbed.wiring(), clock).await;
        let mut routing_client = routing::client(&routing).await;
        routing_client
            .import_network(oms_proto::routing::v1::ImportNetworkRequest { json: NETWORK.into() })
            .await
            .unwrap();
        let mut ledger_client = ledger::client(&ledger).await;
        for id in ["store-alexanderplatz", "store-kreuzberg"] {
            ledger_client
                .upsert_location(inventory::Location {
                    location_id: id.into(),
                    r#type: inventory::LocationType::Store as i32,
                    name: id.into(),
                    active: true,
                    ..Default::default()
                })
                .await
                .unwrap();
        }
        Self {
            _testbed: testbed,
            orders_client: orders_service::client(&orders).await,
            staff: testing::client(&fulfilment).await,
            ledger: Some(ledger),
            orders: Some(orders),
            routing: Some(routing),
            fulfilment: Some(fulfilment),
            ledger_client,
            routing_client,
        }
    }

    async fn stop(mut self) {
        if let Some(s) = self.fulfilment.take() {
            s.stop().await;
        }
        if let Some(s) = self.routing.take() {
            s.stop().await;
        }
        if let Some(s) = self.orders.take() {
            s.stop().await;
        }
        if let Some(s) = self.ledger.take() {
            s.stop().await;
        }
    }

    /// Stock counted at a store, through the ledger's API.
    async fn stock(&mut self, store: &str, sku: &str, units: i64) {
        self.ledger_client
            .record_movements(inventory::RecordMovementsRequest {
                movements: vec![oms_proto::pos::v1::StockMovement {
                    movement_id: format!("count-{store}-{sku}"),
                    location_id: store.into(),
                    sku: sku.into(),
                    kind: oms_proto::pos::v1::MovementKind::Receipt as i32,
                    quantity: units,
                    occurred_at: Some(oms_service::convert::timestamp(chrono::Utc::now())),
                    ..Default::default()
                }],
            })
            .await
            .unwrap();
    }

    async fn place(&mut self, external_id: &str, sku: &str, quantity: i64) -> String {
        let draft = orders_service::web_order(external_id, &[(sku, quantity, 5_000)]);
        self.orders_client
            .place_order(orders::PlaceOrderRequest { order: Some(draft) })
            .await
            .unwrap()
            .into_inner()
            .order_id
    }

    /// Waits until routing offers pickup of `sku` at `stores` stores: its read model has
    /// the ledger's figures.
    async fn wait_until_routing_sees(&self, sku: &str, stores: usize) {
        let client = self.routing_client.clone();
        let sku = sku.to_owned();
        wait_until("routing sees the stock", || {
            let mut client = client.clone();
            let sku = sku.clone();
            async move {
                client
                    .quote_delivery_options(oms_proto::routing::v1::QuoteRequest {
                        lines: vec![oms_proto::routing::v1::QuoteLine { sku, quantity: 1 }],
                        destination: Some(common::Address {
                            country: "DE".into(),
                            location: Some(common::GeoPoint {
                                latitude: 52.52,
                                longitude: 13.405,
                            }),
                            ..Default::default()
                        }),
                        ..Default::default()
                    })
                    .await
                    .is_ok_and(|r| {
                        r.into_inner()
                            .options
                            .iter()
                            .filter(|o| o.method == orders::DeliveryMethod::ClickAndCollect as i32)
                            .count()
                            >= stores
                    })
            }
        })
        .await;
    }

    /// Waits until `store` has a job for `order_id`.
    async fn job_for(&self, store: &str, order_id: &str) -> pb::Job {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let queue = self
                .staff
                .clone()
                .list_queue(pb::ListQueueRequest {
                    store_id: store.into(),
                    include_finished: false,
                })
                .await
                .unwrap()
                .into_inner();
            if let Some(job) = queue.jobs.into_iter().find(|j| j.order_id == order_id) {
                return job;
            }
            assert!(Instant::now() < deadline, "{store} never got a job for {order_id}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wait_for_status(&self, order_id: &str, status: orders::OrderStatus) {
        orders_service::wait_for_status(&self.orders_client, order_id, status).await;
    }

    async fn reservation_status(&mut self, id: &str) -> i32 {
        self.ledger_client
            .get_reservation(inventory::GetReservationRequest {
                reservation_id: id.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status
    }
}

fn r(store: &str, job: &str) -> pb::JobRef {
    pb::JobRef {
        store_id: store.into(),
        job_id: job.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_ships_an_order_and_rejected_or_short_picked_units_go_to_the_next_store() {
    let mut rig = Rig::start().await;
    rig.stock("store-alexanderplatz", "jacket-m", 1).await;
    rig.stock("store-kreuzberg", "jacket-m", 1).await;
    rig.stock("store-alexanderplatz", "boots", 1).await;
    rig.stock("store-kreuzberg", "boots", 1).await;
    rig.stock("store-alexanderplatz", "scarf", 2).await;
    rig.stock("store-kreuzberg", "scarf", 1).await;
    // Routing learns the stock from the ledger's events: wait until it has.
    for sku in ["jacket-m", "boots", "scarf"] {
        rig.wait_until_routing_sees(sku, 2).await;
    }

    // Ship from store: staff work the job end to end.
    let shipped = rig.place("SHIP-1", "jacket-m", 1).await;
    let job = rig.job_for("store-alexanderplatz", &shipped).await;
    let mut staff = rig.staff.clone();
    let store = "store-alexanderplatz";
    staff.accept_job(r(store, &job.job_id)).await.unwrap();
    rig.wait_for_status(&shipped, orders::OrderStatus::InFulfilment).await;
    staff
        .pick_job(pb::PickJobRequest {
            store_id: store.into(),
            job_id: job.job_id.clone(),
            lines: vec![pb::PickedLine {
                order_line_id: "1".into(),
                picked: 1,
                ..Default::default()
            }],
        })
        .await
        .unwrap();
    staff
        .pack_job(pb::PackJobRequest {
            store_id: store.into(),
            job_id: job.job_id.clone(),
            packages: vec![pb::Package { weight_grams: 1200 }],
        })
        .await
        .unwrap();
    staff.label_job(r(store, &job.job_id)).await.unwrap();
    staff.ship_job(r(store, &job.job_id)).await.unwrap();
    rig.wait_for_status(&shipped, orders::OrderStatus::Shipped).await;
    let ledger = rig.ledger_client.clone();
    let reservation = job.reservation_id.clone();
    wait_until("the ledger consumes the reservation", || {
        let mut ledger = ledger.clone();
        let id = reservation.clone();
        async move {
            ledger
                .get_reservation(inventory::GetReservationRequest { reservation_id: id })
                .await
                .is_ok_and(|r| r.into_inner().status == inventory::ReservationStatus::Consumed as i32)
        }
    })
    .await;

    // The nearest store turns the next order down: it goes to the other store.
    let rerouted = rig.place("SHIP-2", "boots", 1).await;
    let first = rig.job_for("store-alexanderplatz", &rerouted).await;
    staff
        .reject_job(pb::RejectJobRequest {
            store_id: "store-alexanderplatz".into(),
            job_id: first.job_id.clone(),
            reason: pb::RejectReason::Capacity as i32,
        })
        .await
        .unwrap();
    let second = rig.job_for("store-kreuzberg", &rerouted).await;
    assert_ne!(second.job_id, first.job_id);
    assert_eq!(second.lines[0].sku, "boots");
    assert_ne!(
        rig.reservation_status(&first.reservation_id).await,
        inventory::ReservationStatus::Active as i32,
        "the rejected store's units are released"
    );

    // A short pick: the store finds one scarf of two; the missing one goes to the other
    // store and the first ships what it has.
    let short = rig.place("SHIP-3", "scarf", 2).await;
    let first = rig.job_for("store-alexanderplatz", &short).await;
    assert_eq!(first.lines[0].ordered, 2);
    staff
        .accept_job(r("store-alexanderplatz", &first.job_id))
        .await
        .unwrap();
    staff
        .pick_job(pb::PickJobRequest {
            store_id: "store-alexanderplatz".into(),
            job_id: first.job_id.clone(),
            lines: vec![pb::PickedLine {
                order_line_id: "1".into(),
                picked: 1,
                ..Default::default()
            }],
        })
        .await
        .unwrap();
    let rest = rig.job_for("store-kreuzberg", &short).await;
    assert_eq!((rest.lines[0].sku.as_str(), rest.lines[0].ordered), ("scarf", 1));
    rig.stop().await;
}
