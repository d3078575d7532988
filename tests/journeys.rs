//! End-to-end journeys with the five services as separate processes over PostgreSQL and
//! a real tansu broker, driven through their gRPC APIs only.

use std::time::{Duration, Instant};

use oms_cli::grpc_channel;
use oms_cli::seed::{STORES, seed};
use oms_e2e::System;
use oms_proto::common::v1 as common;
use oms_proto::fulfilment::v1 as fulfilment;
use oms_proto::fulfilment::v1::store_fulfilment_client::StoreFulfilmentClient;
use oms_proto::inventory::v1 as inventory;
use oms_proto::inventory::v1::inventory_ledger_client::InventoryLedgerClient;
use oms_proto::orders::v1 as orders;
use oms_proto::orders::v1::order_capture_client::OrderCaptureClient;
use oms_proto::routing::v1 as routing;
use oms_proto::routing::v1::routing_client::RoutingClient;
use tonic::transport::Channel;

async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn position(ledger: &InventoryLedgerClient<Channel>, store: &str, sku: &str) -> Option<inventory::Position> {
    let positions = ledger
        .clone()
        .list_positions(inventory::ListPositionsRequest {
            location_id: store.into(),
            ..Default::default()
        })
        .await
        .ok()?
        .into_inner();
    positions.positions.into_iter().find(|p| p.sku == sku)
}

/// An order shipped from a store, with the store fulfilment process killed (SIGKILL) after
/// the store accepted the job and started again: the job is where it was, the journey
/// finishes, and nothing happens twice — one shipment in the order's history, one unit
/// off the shelf.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ship_from_store_survives_a_crash_of_store_fulfilment_with_no_duplicate_effect() {
    let mut system = System::start().await;
    let addrs = system.addrs();
    seed(&addrs).await.expect("the sample data loads");
    let ledger = InventoryLedgerClient::new(grpc_channel(addrs.ledger).await.unwrap());
    let mut orders_api = OrderCaptureClient::new(grpc_channel(addrs.orders).await.unwrap());
    let routing_api = RoutingClient::new(grpc_channel(addrs.routing).await.unwrap());

    // A SKU Alexanderplatz has, once routing has heard about it.
    let store = STORES[0];
    let sku = eventually("the ledger has stock at the store", || {
        let ledger = ledger.clone();
        async move {
            let positions = ledger
                .clone()
                .list_positions(inventory::ListPositionsRequest {
                    location_id: store.into(),
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner();
            positions
                .positions
                .into_iter()
                .find(|p| p.available_to_promise >= 2)
                .map(|p| p.sku)
        }
    })
    .await;
    let alexanderplatz = common::GeoPoint {
        latitude: 52.5219,
        longitude: 13.4132,
    };
    eventually("routing sees the store's stock", || {
        let mut routing_api = routing_api.clone();
        let sku = sku.clone();
        async move {
            let quote = routing_api
                .quote_delivery_options(routing::QuoteRequest {
                    lines: vec![routing::QuoteLine { sku, quantity: 1 }],
                    destination: Some(common::Address {
                        country: "DE".into(),
                        location: Some(alexanderplatz),
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
                .any(|o| o.pickup_location_id == store)
                .then_some(())
        }
    })
    .await;
    let before = position(&ledger, store, &sku).await.unwrap().on_hand;

    // The customer lives next to the store.
    let placed = orders_api
        .place_order(orders::PlaceOrderRequest {
            order: Some(orders::OrderDraft {
                channel: orders::Channel::Web as i32,
                external_order_id: "E2E-1".into(),
                customer: Some(orders::Customer {
                    customer_id: "C-1".into(),
                    name: "Ada".into(),
                    ..Default::default()
                }),
                lines: vec![orders::OrderLine {
                    line_id: "1".into(),
                    sku: sku.clone(),
                    quantity: 1,
                    unit_price: Some(common::Money {
                        amount_minor: 2_500,
                        currency: "EUR".into(),
                    }),
                    description: String::new(),
                }],
                currency: "EUR".into(),
                delivery_method: orders::DeliveryMethod::Standard as i32,
                shipping_address: Some(common::Address {
                    name: "Ada Lovelace".into(),
                    lines: vec!["Alexanderplatz 1".into()],
                    city: "Berlin".into(),
                    postal_code: "10178".into(),
                    country: "DE".into(),
                    location: Some(alexanderplatz),
                    ..Default::default()
                }),
                payments: vec![orders::Payment {
                    reference: "psp-e2e-1".into(),
                    tender: orders::TenderType::Card as i32,
                    authorised: Some(common::Money {
                        amount_minor: 2_500,
                        currency: "EUR".into(),
                    }),
                }],
                ..Default::default()
            }),
        })
        .await
        .expect("the order is placed")
        .into_inner();
    let order_id = placed.order_id.clone();

    let staff = StoreFulfilmentClient::new(grpc_channel(addrs.fulfilment).await.unwrap());
    let job = eventually("the store gets the job", || {
        let mut staff = staff.clone();
        let order_id = order_id.clone();
        async move {
            let queue = staff
                .list_queue(fulfilment::ListQueueRequest {
                    store_id: store.into(),
                    include_finished: false,
                })
                .await
                .ok()?
                .into_inner();
            queue.jobs.into_iter().find(|j| j.order_id == order_id)
        }
    })
    .await;
    let r = || fulfilment::JobRef {
        store_id: store.into(),
        job_id: job.job_id.clone(),
    };
    staff.clone().accept_job(r()).await.expect("the store accepts");

    // The store fulfilment process dies, and is started again.
    system.kill("oms-store-fulfilment");
    system.launch("oms-store-fulfilment");
    let mut staff = StoreFulfilmentClient::new(grpc_channel(addrs.fulfilment).await.unwrap());
    let after = eventually("store fulfilment answers again", || {
        let mut staff = staff.clone();
        let r = r();
        async move { staff.get_job(r).await.ok().map(|j| j.into_inner()) }
    })
    .await;
    assert_eq!(
        after.status,
        fulfilment::JobStatus::Accepted as i32,
        "the job is where it was"
    );

    staff
        .pick_job(fulfilment::PickJobRequest {
            store_id: store.into(),
            job_id: job.job_id.clone(),
            lines: vec![fulfilment::PickedLine {
                order_line_id: "1".into(),
                picked: 1,
                ..Default::default()
            }],
        })
        .await
        .unwrap();
    staff
        .pack_job(fulfilment::PackJobRequest {
            store_id: store.into(),
            job_id: job.job_id.clone(),
            packages: vec![fulfilment::Package { weight_grams: 700 }],
        })
        .await
        .unwrap();
    staff.label_job(r()).await.unwrap();
    staff.ship_job(r()).await.unwrap();

    eventually("order capture shows the order shipped", || {
        let mut orders_api = orders_api.clone();
        let order_id = order_id.clone();
        async move {
            let order = orders_api
                .get_order(orders::GetOrderRequest { order_id })
                .await
                .ok()?
                .into_inner();
            (order.status == orders::OrderStatus::Shipped as i32).then_some(())
        }
    })
    .await;
    eventually("the ledger consumed the reservation", || {
        let mut ledger = ledger.clone();
        let id = job.reservation_id.clone();
        async move {
            let reservation = ledger
                .get_reservation(inventory::GetReservationRequest { reservation_id: id })
                .await
                .ok()?
                .into_inner();
            (reservation.status == inventory::ReservationStatus::Consumed as i32).then_some(())
        }
    })
    .await;
    // Nothing twice, after the dust settles.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let history = orders_api
        .get_order_history(orders::GetOrderHistoryRequest {
            order_id: order_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let shipped = history.entries.iter().filter(|e| e.r#type == "Shipped").count();
    assert_eq!(shipped, 1, "{:#?}", history.entries);
    let after = position(&ledger, store, &sku).await.unwrap();
    assert_eq!(after.on_hand, before - 1, "one unit left the shelf");
    assert_eq!(after.reserved, 0);
}
