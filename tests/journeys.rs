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
use oms_proto::returns::v1 as returns;
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

/// Click & collect at a store, routing killed right after the order is placed, then a
/// return in another store: restocked there and refunded through the payment topic.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn click_and_collect_then_returned_in_another_store_and_refunded() {
    let mut system = System::start().await;
    let addrs = system.addrs();
    seed(&addrs).await.expect("the sample data loads");
    let ledger = InventoryLedgerClient::new(grpc_channel(addrs.ledger).await.unwrap());
    let mut orders_api = OrderCaptureClient::new(grpc_channel(addrs.orders).await.unwrap());
    let pickup = STORES[1];
    let return_store = STORES[0];
    let sku = eventually("the pickup store has stock", || {
        let ledger = ledger.clone();
        async move {
            let positions = ledger
                .clone()
                .list_positions(inventory::ListPositionsRequest {
                    location_id: pickup.into(),
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
    let routing_api = RoutingClient::new(grpc_channel(addrs.routing).await.unwrap());
    eventually("routing sees the pickup store's stock", || {
        let mut routing_api = routing_api.clone();
        let sku = sku.clone();
        async move {
            let quote = routing_api
                .quote_delivery_options(routing::QuoteRequest {
                    lines: vec![routing::QuoteLine { sku, quantity: 1 }],
                    destination: Some(common::Address {
                        country: "DE".into(),
                        location: Some(common::GeoPoint {
                            latitude: 52.4986,
                            longitude: 13.4030,
                        }),
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
                .any(|o| o.pickup_location_id == pickup)
                .then_some(())
        }
    })
    .await;
    let before = position(&ledger, return_store, &sku).await.map_or(0, |p| p.on_hand);
    let order_id = orders_api
        .place_order(orders::PlaceOrderRequest {
            order: Some(orders::OrderDraft {
                channel: orders::Channel::App as i32,
                external_order_id: "E2E-2".into(),
                customer: Some(orders::Customer {
                    customer_id: "C-2".into(),
                    name: "Grace".into(),
                    ..Default::default()
                }),
                lines: vec![orders::OrderLine {
                    line_id: "1".into(),
                    sku: sku.clone(),
                    quantity: 1,
                    unit_price: Some(common::Money {
                        amount_minor: 3_000,
                        currency: "EUR".into(),
                    }),
                    description: String::new(),
                }],
                currency: "EUR".into(),
                delivery_method: orders::DeliveryMethod::ClickAndCollect as i32,
                pickup_location_id: pickup.into(),
                payments: vec![orders::Payment {
                    reference: "psp-e2e-2".into(),
                    tender: orders::TenderType::Card as i32,
                    authorised: Some(common::Money {
                        amount_minor: 3_000,
                        currency: "EUR".into(),
                    }),
                }],
                ..Default::default()
            }),
        })
        .await
        .expect("the order is placed")
        .into_inner()
        .order_id;
    // Routing dies and comes back: the order is routed once.
    system.kill("oms-routing");
    system.launch("oms-routing");

    let mut staff = StoreFulfilmentClient::new(grpc_channel(addrs.fulfilment).await.unwrap());
    let job = eventually("the pickup store gets the job", || {
        let mut staff = staff.clone();
        let order_id = order_id.clone();
        async move {
            let queue = staff
                .list_queue(fulfilment::ListQueueRequest {
                    store_id: pickup.into(),
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
        store_id: pickup.into(),
        job_id: job.job_id.clone(),
    };
    staff.accept_job(r()).await.unwrap();
    staff
        .pick_job(fulfilment::PickJobRequest {
            store_id: pickup.into(),
            job_id: job.job_id.clone(),
            lines: vec![fulfilment::PickedLine {
                order_line_id: "1".into(),
                picked: 1,
                ..Default::default()
            }],
        })
        .await
        .unwrap();
    let ready = staff.mark_ready_for_pickup(r()).await.unwrap().into_inner();
    staff
        .hand_over(fulfilment::HandOverRequest {
            store_id: pickup.into(),
            job_id: job.job_id.clone(),
            pickup_code: ready.pickup_code,
        })
        .await
        .unwrap();

    // Brought back to another store.
    let returns_api =
        oms_proto::returns::v1::returns_client::ReturnsClient::new(grpc_channel(addrs.returns).await.unwrap());
    let started = eventually("returns knows the collected order", || {
        let mut returns_api = returns_api.clone();
        let order_id = order_id.clone();
        async move {
            returns_api
                .start_return(returns::StartReturnRequest {
                    order_id,
                    lines: vec![returns::ReturnRequestLine {
                        order_line_id: "1".into(),
                        quantity: 1,
                        reason_code: "changed-mind".into(),
                    }],
                    method: returns::ReturnMethod::InStore as i32,
                    store_id: return_store.into(),
                    request_id: "e2e-2".into(),
                    ..Default::default()
                })
                .await
                .ok()
                .map(|r| r.into_inner())
        }
    })
    .await;
    let mut returns_api = returns_api.clone();
    returns_api
        .receive_return(returns::ReceiveReturnRequest {
            return_id: started.return_id.clone(),
            location_id: return_store.into(),
            lines: vec![],
        })
        .await
        .unwrap();
    let inspected = returns_api
        .inspect_return(returns::InspectReturnRequest {
            return_id: started.return_id.clone(),
            lines: vec![returns::InspectedLine {
                order_line_id: "1".into(),
                resellable: 1,
                damaged: 0,
            }],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(inspected.refunds.len(), 1);
    assert_eq!(inspected.refunds[0].amount.as_ref().unwrap().amount_minor, 3_000);
    // The payment gateway adapter answers.
    let answer = returns::PaymentResult {
        refund_id: inspected.refunds[0].refund_id.clone(),
        outcome: Some(returns::payment_result::Outcome::Refunded(returns::RefundDone {
            provider_reference: "psp-refund-1".into(),
        })),
        at: None,
    };
    system
        .produce(
            "oms.payments.v1",
            &answer.refund_id,
            &prost::Message::encode_to_vec(&answer),
        )
        .await;
    eventually("order capture shows the order refunded", || {
        let mut orders_api = orders_api.clone();
        let order_id = order_id.clone();
        async move {
            let order = orders_api
                .get_order(orders::GetOrderRequest { order_id })
                .await
                .ok()?
                .into_inner();
            (order.status == orders::OrderStatus::Refunded as i32).then_some(())
        }
    })
    .await;
    eventually("the returned unit is back on the other store's shelf", || {
        let ledger = ledger.clone();
        let sku = sku.clone();
        async move {
            let p = position(&ledger, return_store, &sku).await?;
            (p.on_hand == before + 1).then_some(())
        }
    })
    .await;
    let history = orders_api
        .get_order_history(orders::GetOrderHistoryRequest { order_id })
        .await
        .unwrap()
        .into_inner();
    let allocated = history.entries.iter().filter(|e| e.r#type == "Allocated").count();
    assert_eq!(allocated, 1, "routed once through the crash: {:#?}", history.entries);
}
