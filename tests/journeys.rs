//! End-to-end journeys with the five services as separate processes over PostgreSQL and
//! a real tansu broker, driven through their gRPC APIs; the POS, the WMS and the payment
//! gateway are played through the broker, as their adapters would.

use std::time::Duration;

use oms_cli::seed::{STORES, WAREHOUSE, seed};
use oms_e2e::{Clients, Launch, System, draft, eventually, pickup_draft};
use oms_proto::fulfilment::v1 as fulfilment;
use oms_proto::fulfilment::v1::fulfilment_event::Event as FulfilmentEvent;
use oms_proto::inventory::v1 as inventory;
use oms_proto::orders::v1 as orders;
use oms_proto::pos::v1 as pos;
use oms_proto::returns::v1 as returns;
use oms_proto::topics;
use oms_service::auth::Role;
use oms_service::convert::timestamp;
use prost::Message as _;

const ALEXANDERPLATZ: &str = STORES[0];
const KREUZBERG: &str = STORES[1];

/// The whole system on the sample network, with its clients.
async fn system(launch: Launch) -> (System, Clients) {
    let system = System::start_with(launch).await;
    seed(&system.addrs()).await.expect("the sample data loads");
    let clients = Clients::connect(&system.addrs()).await;
    (system, clients)
}

fn movement(id: &str, location: &str, sku: &str, kind: pos::MovementKind, quantity: i64) -> pos::StockMovement {
    pos::StockMovement {
        movement_id: id.into(),
        location_id: location.into(),
        sku: sku.into(),
        kind: kind as i32,
        quantity,
        occurred_at: Some(timestamp(chrono::Utc::now())),
        ..Default::default()
    }
}

/// Units of `sku` received at `location`, streamed by its POS; waits until the ledger and
/// routing have them.
async fn receive(system: &System, api: &Clients, location: &str, sku: &str, units: i64) {
    let id = format!("receipt-{location}-{sku}");
    system
        .pos(&movement(&id, location, sku, pos::MovementKind::Receipt, units))
        .await;
    api.wait_for_position("the receipt is on the ledger", location, sku, |p| p.on_hand >= units)
        .await;
    api.wait_until_routing_sees(sku, location).await;
}

/// A job's lines as (order line, units).
fn lines_of(job: &fulfilment::Job) -> Vec<(String, i64)> {
    job.lines.iter().map(|l| (l.order_line_id.clone(), l.ordered)).collect()
}

/// Lines as (order line, units).
fn units(lines: &[fulfilment::JobLine]) -> Vec<(String, i64)> {
    lines.iter().map(|l| (l.order_line_id.clone(), l.quantity)).collect()
}

/// An order split by stock: line 1, a unit of `<tag>-STORE`, which only Alexanderplatz has;
/// line 2, two units of `<tag>-DC`, which only the warehouse has (five of them). Returns
/// the order id and the two SKUs.
async fn place_split_order(system: &System, api: &Clients, tag: &str) -> (String, String, String) {
    let (in_store, in_warehouse) = (format!("{tag}-STORE"), format!("{tag}-DC"));
    receive(system, api, ALEXANDERPLATZ, &in_store, 1).await;
    receive(system, api, WAREHOUSE, &in_warehouse, 5).await;
    let order_id = api
        .place(draft(
            tag,
            &[(in_store.as_str(), 1), (in_warehouse.as_str(), 2)],
            orders::DeliveryMethod::Standard,
        ))
        .await;
    (order_id, in_store, in_warehouse)
}

/// What the warehouse was asked for: the job routing sent it for the order.
async fn warehouse_job(system: &System, order_id: &str) -> fulfilment::JobRequested {
    system
        .fulfilment_event(|event| match event {
            FulfilmentEvent::JobRequested(job) if job.order_id == order_id => Some(job),
            _ => None,
        })
        .await
}

/// The WMS accepts the job and ships all of it.
async fn warehouse_ships(system: &System, job: &fulfilment::JobRequested) {
    let confirmation = |id: &str, outcome| fulfilment::NodeConfirmation {
        job_id: job.job_id.clone(),
        confirmation_id: format!("{}-{id}", job.job_id),
        at: Some(timestamp(chrono::Utc::now())),
        outcome: Some(outcome),
    };
    use fulfilment::node_confirmation::Outcome;
    system
        .confirm(&confirmation(
            "accepted",
            Outcome::Accepted(fulfilment::NodeAccepted {}),
        ))
        .await;
    system
        .confirm(&confirmation(
            "shipped",
            Outcome::Shipped(fulfilment::NodeShipped {
                carrier: "dhl".into(),
                tracking_number: "00340434161094042557".into(),
                lines: job.lines.clone(),
            }),
        ))
        .await;
}

/// An order shipped from a store, with the store fulfilment process killed (SIGKILL) after
/// the store accepted the job and started again: the job is where it was, the journey
/// finishes, and nothing happens twice — one shipment in the order's history, one unit
/// off the shelf.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ship_from_store_survives_a_crash_of_store_fulfilment_with_no_duplicate_effect() {
    let (mut system, api) = system(Launch::Binaries).await;
    let sku = "E2E-SHIP";
    receive(&system, &api, ALEXANDERPLATZ, sku, 2).await;

    // The customer lives next to the store.
    let order_id = api
        .place(draft("E2E-SHIP", &[(sku, 1)], orders::DeliveryMethod::Standard))
        .await;
    let job = api.job_for(ALEXANDERPLATZ, &order_id).await;
    let r = || fulfilment::JobRef {
        store_id: ALEXANDERPLATZ.into(),
        job_id: job.job_id.clone(),
    };
    api.staff.clone().accept_job(r()).await.expect("the store accepts");

    // The store fulfilment process dies, and is started again.
    system.kill("oms-store-fulfilment");
    system.launch("oms-store-fulfilment");
    let api = Clients::connect(&system.addrs()).await;
    let after = eventually("store fulfilment answers again", || {
        let mut staff = api.staff.clone();
        let r = r();
        async move { staff.get_job(r).await.ok().map(tonic::Response::into_inner) }
    })
    .await;
    assert_eq!(
        after.status,
        fulfilment::JobStatus::Accepted as i32,
        "the job is where it was"
    );

    // The staff carry on; accepting again answers the job as it is.
    api.ship(ALEXANDERPLATZ, &job).await;
    api.wait_for_status(&order_id, orders::OrderStatus::Shipped).await;
    api.wait_for_reservation(&job.reservation_id, inventory::ReservationStatus::Consumed)
        .await;
    // Nothing twice, after the dust settles: there is nothing to wait on for an absence.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let history = api.history(&order_id).await;
    let shipped = history.iter().filter(|t| *t == "Shipped").count();
    assert_eq!(shipped, 1, "{history:#?}");
    let after = api.position(ALEXANDERPLATZ, sku).await.unwrap();
    assert_eq!((after.on_hand, after.reserved), (1, 0), "one unit left the shelf");
    // The restarted service, like the others, holds what its log rebuilds to.
    system.verify_live().await;
}

/// Click & collect at a store, routing killed right after the order is placed, then a
/// return in another store: restocked there and refunded through the payment topic.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn click_and_collect_then_returned_in_another_store_and_refunded() {
    let (mut system, api) = system(Launch::Binaries).await;
    let (pickup, return_store) = (KREUZBERG, ALEXANDERPLATZ);
    let sku = "E2E-COLLECT";
    receive(&system, &api, pickup, sku, 2).await;
    let order_id = api
        .place(pickup_draft(
            "E2E-COLLECT",
            &[(sku, 1)],
            orders::DeliveryMethod::ClickAndCollect,
            pickup,
        ))
        .await;
    // Routing dies and comes back: the order is routed once.
    system.kill("oms-routing");
    system.launch("oms-routing");

    let job = api.job_for(pickup, &order_id).await;
    let mut staff = api.staff.clone();
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
    let started = eventually("returns knows the collected order", || {
        let mut returns_api = api.returns.clone();
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
                .map(tonic::Response::into_inner)
        }
    })
    .await;
    // The store's staff take it back and inspect it; another store's staff see nothing of it.
    let staff = system.clients_as(Role::StoreStaff, &[return_store]).await;
    let mut returns_api = staff.returns.clone();
    returns_api
        .receive_return(returns::ReceiveReturnRequest {
            return_id: started.return_id.clone(),
            location_id: return_store.into(),
            lines: vec![],
        })
        .await
        .unwrap();
    let elsewhere = system.clients_as(Role::StoreStaff, &[pickup]).await;
    let refused = elsewhere
        .returns
        .clone()
        .get_return(returns::GetReturnRequest {
            return_id: started.return_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
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
    assert_eq!(inspected.refunds[0].amount.as_ref().unwrap().amount_minor, 1_000);
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
    api.wait_for_status(&order_id, orders::OrderStatus::Refunded).await;
    api.wait_for_position(
        "the returned unit is on the other store's shelf",
        return_store,
        sku,
        |p| p.on_hand == 1,
    )
    .await;
    let history = api.history(&order_id).await;
    let allocated = history.iter().filter(|t| *t == "Allocated").count();
    assert_eq!(allocated, 1, "routed once through the crash: {history:#?}");
    system.verify_live().await;
    // No token, key or password the journey used is in what the services logged.
    system.assert_no_secret_in_logs();
}

/// One order, two nodes: a line only the nearest store has ships from the store, a line
/// only the warehouse has goes to the WMS, which confirms it on the confirmations topic.
/// Order capture is stopped with SIGTERM on the way and started again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_order_split_between_a_store_and_the_warehouse_ships_from_both() {
    let (mut system, api) = system(Launch::Binaries).await;
    let (order_id, in_store, in_warehouse) = place_split_order(&system, &api, "E2E-SPLIT").await;
    // Order capture is stopped as a deployment stops it (SIGTERM) right after taking the
    // order: it exits cleanly, and what it took reaches routing.
    let stopped = system.terminate("oms-order-capture").await;
    assert!(stopped.success(), "order capture stops cleanly on SIGTERM: {stopped}");
    let store_job = api.job_for(ALEXANDERPLATZ, &order_id).await;
    assert_eq!(lines_of(&store_job), [("1".to_owned(), 1)]);
    system.launch("oms-order-capture");
    let api = Clients::connect(&system.addrs()).await;
    let dc_job = warehouse_job(&system, &order_id).await;
    assert_eq!(dc_job.location_id, WAREHOUSE);
    assert_eq!(units(&dc_job.lines), [("2".to_owned(), 2)]);

    api.ship(ALEXANDERPLATZ, &store_job).await;
    api.wait_for_status(&order_id, orders::OrderStatus::PartiallyShipped)
        .await;
    warehouse_ships(&system, &dc_job).await;
    let order = api.wait_for_status(&order_id, orders::OrderStatus::Shipped).await;
    assert!(order.lines.iter().all(|l| l.shipped == l.ordered), "{:#?}", order.lines);

    api.wait_for_reservation(&store_job.reservation_id, inventory::ReservationStatus::Consumed)
        .await;
    api.wait_for_reservation(&dc_job.reservation_id, inventory::ReservationStatus::Consumed)
        .await;
    let dc = api.position(WAREHOUSE, &in_warehouse).await.unwrap();
    assert_eq!((dc.on_hand, dc.reserved), (3, 0));
    let store = api.position(ALEXANDERPLATZ, &in_store).await.unwrap();
    assert_eq!((store.on_hand, store.reserved), (0, 0));
}

/// The nearest store turns the order down (the unit is not on the shelf): routing sends it
/// to the next store, which ships it; the ledger writes the missing unit off.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rejected_order_is_routed_to_the_next_store_and_shipped_from_there() {
    let (system, api) = system(Launch::Binaries).await;
    let sku = "E2E-REJECT";
    receive(&system, &api, ALEXANDERPLATZ, sku, 1).await;
    receive(&system, &api, KREUZBERG, sku, 1).await;

    let order_id = api
        .place(draft("E2E-REJECT", &[(sku, 1)], orders::DeliveryMethod::Standard))
        .await;
    let first = api.job_for(ALEXANDERPLATZ, &order_id).await;
    api.staff
        .clone()
        .reject_job(fulfilment::RejectJobRequest {
            store_id: ALEXANDERPLATZ.into(),
            job_id: first.job_id.clone(),
            reason: fulfilment::RejectReason::OutOfStock as i32,
        })
        .await
        .expect("the store rejects");

    let second = api.job_for(KREUZBERG, &order_id).await;
    assert_ne!(second.job_id, first.job_id);
    assert_eq!(lines_of(&second), [("1".to_owned(), 1)]);
    api.wait_for_position("the missing unit is written off", ALEXANDERPLATZ, sku, |p| {
        p.on_hand == 0 && p.reserved == 0
    })
    .await;
    assert_ne!(
        api.reservation(&first.reservation_id).await.status,
        inventory::ReservationStatus::Active as i32,
        "the rejecting store holds nothing"
    );

    api.ship(KREUZBERG, &second).await;
    api.wait_for_status(&order_id, orders::OrderStatus::Shipped).await;
    api.wait_for_reservation(&second.reservation_id, inventory::ReservationStatus::Consumed)
        .await;
    let decision = api
        .routing
        .clone()
        .get_decision(oms_proto::routing::v1::GetDecisionRequest {
            order_id: order_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(decision.attempt >= 2, "routed again after the reject: {decision:#?}");
    let kreuzberg = api.position(KREUZBERG, sku).await.unwrap();
    assert_eq!((kreuzberg.on_hand, kreuzberg.reserved), (0, 0));
    system.verify_live().await;
}

/// The store ships its part of a split order; the customer then cancels the order. What
/// has shipped stays shipped; the warehouse's part is cancelled: its job is withdrawn from
/// the WMS and the ledger releases its units.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancelling_after_a_partial_shipment_cancels_only_what_has_not_shipped() {
    let (system, api) = system(Launch::Binaries).await;
    let (order_id, in_store, in_warehouse) = place_split_order(&system, &api, "E2E-CANCEL").await;
    let store_job = api.job_for(ALEXANDERPLATZ, &order_id).await;
    let dc_job = warehouse_job(&system, &order_id).await;
    api.ship(ALEXANDERPLATZ, &store_job).await;
    api.wait_for_status(&order_id, orders::OrderStatus::PartiallyShipped)
        .await;
    api.wait_for_position("the warehouse holds the units", WAREHOUSE, &in_warehouse, |p| {
        p.reserved == 2
    })
    .await;

    let cancelled = api
        .orders
        .clone()
        .cancel_order(orders::CancelOrderRequest {
            order_id: order_id.clone(),
            reason: "the customer no longer needs it".into(),
            request_id: "e2e-cancel".into(),
            ..Default::default()
        })
        .await
        .expect("what has not shipped can be cancelled")
        .into_inner();
    let line = |id: &str| cancelled.lines.iter().find(|l| l.line_id == id).unwrap().clone();
    assert_eq!((line("1").shipped, line("1").cancelled), (1, 0));
    assert_eq!((line("2").shipped, line("2").cancelled), (0, 2));

    let withdrawn = system
        .fulfilment_event(|event| match event {
            FulfilmentEvent::JobWithdrawn(job) if job.job_id == dc_job.job_id => Some(job),
            _ => None,
        })
        .await;
    assert_eq!(withdrawn.location_id, WAREHOUSE);
    assert_eq!(units(&withdrawn.lines), [("2".to_owned(), 2)]);
    api.wait_for_reservation(&dc_job.reservation_id, inventory::ReservationStatus::Released)
        .await;
    let dc = api
        .wait_for_position("the warehouse's units are free again", WAREHOUSE, &in_warehouse, |p| {
            p.reserved == 0
        })
        .await;
    assert_eq!((dc.on_hand, dc.available_to_promise), (5, 5));
    assert_eq!(
        api.job(WAREHOUSE, &dc_job.job_id).await.status,
        fulfilment::JobStatus::Cancelled as i32
    );
    // Everything left of the order has shipped; the shipped unit is not given back.
    assert_eq!(api.order(&order_id).await.status, orders::OrderStatus::Shipped as i32);
    let store = api.position(ALEXANDERPLATZ, &in_store).await.unwrap();
    assert_eq!((store.on_hand, store.reserved), (0, 0));

    // A WMS that missed the withdrawal ships the job anyway: store fulfilment refuses the
    // confirmation and sets it aside on the dead-letter topic with the reason; nothing
    // moves.
    warehouse_ships(&system, &dc_job).await;
    let shipped_id = format!("{}-shipped", dc_job.job_id);
    let (_, reason) = system
        .dead_letter(topics::CONFIRMATIONS.name, |payload| {
            let confirmation = fulfilment::NodeConfirmation::decode(payload).ok()?;
            (confirmation.confirmation_id == shipped_id).then_some(confirmation)
        })
        .await;
    assert!(reason.contains("cancelled") && reason.contains("ship"), "{reason}");
    assert_eq!(
        api.job(WAREHOUSE, &dc_job.job_id).await.status,
        fulfilment::JobStatus::Cancelled as i32
    );
    assert_eq!(api.order(&order_id).await.status, orders::OrderStatus::Shipped as i32);
    let dc = api.position(WAREHOUSE, &in_warehouse).await.unwrap();
    assert_eq!((dc.on_hand, dc.reserved), (5, 0));
}

/// The POS sells the last units a web order would have had: the order is backordered, and
/// routed as soon as a delivery arrives at another store. On the way the ledger is killed
/// and restarted, and the POS sends a sale again: it counts once. The services run as
/// `oms serve <service>` here.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pos_sale_backorders_a_web_order_until_a_delivery_arrives() {
    let (mut system, api) = system(Launch::OmsServe).await;
    let sku = "E2E-POS";
    receive(&system, &api, KREUZBERG, sku, 3).await;
    let sale = |id: &str, units| movement(id, KREUZBERG, sku, pos::MovementKind::Sale, units);
    system.pos(&sale("till-1", 1)).await;
    api.wait_for_position("the first sale is on the ledger", KREUZBERG, sku, |p| p.on_hand == 2)
        .await;

    // The ledger dies and comes back; the till sends its sale again.
    system.kill("oms-inventory-ledger");
    system.launch("oms-inventory-ledger");
    let api = Clients::connect(&system.addrs()).await;
    system.pos(&sale("till-1", 1)).await;
    // A movement behind it on the same till (the same partition) shows it was read.
    let marker = "E2E-POS-MARKER";
    system
        .pos(&movement("till-2", KREUZBERG, marker, pos::MovementKind::Receipt, 1))
        .await;
    api.wait_for_position("the ledger read the till again", KREUZBERG, marker, |p| p.on_hand == 1)
        .await;
    assert_eq!(
        api.position(KREUZBERG, sku).await.unwrap().on_hand,
        2,
        "the sale counted once"
    );

    // The last two units go over the counter just before a web order for one arrives.
    system.pos(&sale("till-3", 2)).await;
    api.wait_for_position("the last units are sold", KREUZBERG, sku, |p| p.on_hand == 0)
        .await;
    let order_id = api
        .place(draft("E2E-POS", &[(sku, 1)], orders::DeliveryMethod::Standard))
        .await;
    let order = api.wait_for_status(&order_id, orders::OrderStatus::Backordered).await;
    assert_eq!(order.lines[0].backordered, 1);

    // A delivery arrives at Alexanderplatz: the backorder is routed there.
    system
        .pos(&movement(
            "delivery-1",
            ALEXANDERPLATZ,
            sku,
            pos::MovementKind::Receipt,
            2,
        ))
        .await;
    let job = api.job_for(ALEXANDERPLATZ, &order_id).await;
    assert_eq!(lines_of(&job), [("1".to_owned(), 1)]);
    api.wait_for_status(&order_id, orders::OrderStatus::Routed).await;
    let alexanderplatz = api.position(ALEXANDERPLATZ, sku).await.unwrap();
    assert_eq!((alexanderplatz.on_hand, alexanderplatz.reserved), (2, 1));
    let kreuzberg = api.position(KREUZBERG, sku).await.unwrap();
    assert_eq!((kreuzberg.on_hand, kreuzberg.reserved), (0, 0));
    system.verify_live().await;
}

/// What Track tells the customer.
async fn track(api: &Clients, order_id: &str) -> orders::Tracking {
    api.orders
        .clone()
        .track(orders::TrackRequest {
            order_id: order_id.into(),
        })
        .await
        .expect("the order can be tracked")
        .into_inner()
}

/// Statuses of a timeline, in order.
fn statuses(tracking: &orders::Tracking) -> Vec<orders::OrderStatus> {
    tracking
        .timeline
        .iter()
        .map(|c| orders::OrderStatus::try_from(c.status).unwrap_or(orders::OrderStatus::Unspecified))
        .collect()
}

/// Ship-to-store: the warehouse ships to the store the customer chose, the store receives
/// the parcel, the customer is told it is ready (where, and with which code) and collects
/// it there. Every message routing publishes about the order carries the order's trace.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ship_to_store_from_the_warehouse_ends_with_the_customer_collecting_at_the_store() {
    use orders::OrderStatus as S;
    let (system, api) = system(Launch::Binaries).await;
    let sku = "E2E-STS";
    receive(&system, &api, WAREHOUSE, sku, 3).await;
    let order_id = api
        .place(pickup_draft(
            "E2E-STS",
            &[(sku, 1)],
            orders::DeliveryMethod::ShipToStore,
            KREUZBERG,
        ))
        .await;

    let job = warehouse_job(&system, &order_id).await;
    assert_eq!(job.destination_store_id, KREUZBERG);
    api.wait_for_status(&order_id, S::Routed).await;
    warehouse_ships(&system, &job).await;
    // On its way: shipped to the store, not something to cancel any more.
    let shipped = api.wait_for_status(&order_id, S::Shipped).await;
    assert_eq!(shipped.lines[0].in_transit_to_pickup, 1);
    let parcel = api.job_for(KREUZBERG, &order_id).await;
    assert_eq!(parcel.status, fulfilment::JobStatus::InTransitToStore as i32);

    let mut staff = api.staff.clone();
    let r = || fulfilment::JobRef {
        store_id: KREUZBERG.into(),
        job_id: parcel.job_id.clone(),
    };
    let received = staff
        .receive_parcel(r())
        .await
        .expect("the store receives the parcel")
        .into_inner();
    api.wait_for_status(&order_id, S::ReadyForPickup).await;
    let tracking = track(&api, &order_id).await;
    assert_eq!(tracking.pickup_location_id, KREUZBERG);
    assert_eq!(tracking.pickup_code, received.pickup_code);
    let ready = tracking.timeline.last().expect("a timeline");
    assert!(
        ready.detail.contains(KREUZBERG) && ready.detail.contains(&received.pickup_code),
        "{ready:?}"
    );

    staff
        .hand_over(fulfilment::HandOverRequest {
            store_id: KREUZBERG.into(),
            job_id: parcel.job_id.clone(),
            pickup_code: received.pickup_code,
        })
        .await
        .expect("the customer collects");
    api.wait_for_status(&order_id, S::Collected).await;
    let tracking = track(&api, &order_id).await;
    assert_eq!(
        statuses(&tracking),
        [
            S::Placed,
            S::Routed,
            S::InFulfilment,
            S::Shipped,
            S::ReadyForPickup,
            S::Collected
        ]
    );
    let warehouse = api.position(WAREHOUSE, sku).await.expect("a position");
    assert_eq!(
        (warehouse.on_hand, warehouse.reserved),
        (2, 0),
        "one unit left the warehouse, once"
    );

    // The order's trace runs through routing: its decision and its request to the warehouse
    // continue the trace the order was placed in.
    let placed = system
        .messages_with_key("oms.orders.v1", &order_id, |m| !m.is_empty())
        .await;
    let trace = |m: &oms_transport::Message| {
        m.header("traceparent")
            .and_then(oms_eventsourcing::trace::trace_id_of)
            .map(str::to_owned)
    };
    let order_trace = trace(&placed[0]).expect("the order's events carry a trace");
    let routed = system
        .messages_with_key("oms.routing.v1", &order_id, |m| {
            m.iter()
                .any(|m| m.message_type.as_deref() == Some("oms.routing.v1.FulfilmentRequested"))
        })
        .await;
    assert!(!routed.is_empty());
    for message in &routed {
        assert_eq!(
            trace(message).as_deref(),
            Some(order_trace.as_str()),
            "{:?}",
            message.message_type
        );
    }
    system.verify_live().await;
}

/// A locker delivery: the customer chose a bank of parcel lockers; the nearest store with
/// the stock packs a parcel, the courier deposits it in a compartment (the locker reports
/// it), the customer is told where and with which code, and collects it at the locker.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_locker_order_is_packed_by_a_store_deposited_by_the_courier_and_collected_at_the_locker() {
    use orders::OrderStatus as S;
    const LOCKER: &str = oms_cli::seed::LOCKER;
    let (system, api) = system(Launch::OmsServe).await;
    let sku = "E2E-LOCKER";
    receive(&system, &api, ALEXANDERPLATZ, sku, 2).await;
    let order_id = api
        .place(pickup_draft(
            "E2E-LOCKER",
            &[(sku, 1)],
            orders::DeliveryMethod::Locker,
            LOCKER,
        ))
        .await;

    let job = api.job_for(ALEXANDERPLATZ, &order_id).await;
    assert_eq!(job.kind, "ship_to_locker");
    api.wait_for_status(&order_id, S::Routed).await;
    let shipped = api.ship(ALEXANDERPLATZ, &job).await;
    assert_eq!(shipped.status, fulfilment::JobStatus::InTransitToLocker as i32);
    api.wait_for_status(&order_id, S::Shipped).await;

    // The courier deposits the parcel; the locker system reports it.
    let at_locker = api.job_for(LOCKER, &order_id).await;
    let mut locker = api.staff.clone();
    let deposited = locker
        .deposit_in_locker(fulfilment::DepositInLockerRequest {
            store_id: LOCKER.into(),
            job_id: at_locker.job_id.clone(),
            locker_id: "C-17".into(),
        })
        .await
        .expect("the courier deposits the parcel")
        .into_inner();
    api.wait_for_status(&order_id, S::ReadyForPickup).await;
    let tracking = track(&api, &order_id).await;
    assert_eq!(
        (tracking.pickup_location_id.as_str(), tracking.pickup_code.as_str()),
        (LOCKER, deposited.pickup_code.as_str())
    );

    // The customer types the code at the locker.
    locker
        .hand_over(fulfilment::HandOverRequest {
            store_id: LOCKER.into(),
            job_id: at_locker.job_id.clone(),
            pickup_code: deposited.pickup_code,
        })
        .await
        .expect("the customer collects at the locker");
    api.wait_for_status(&order_id, S::Collected).await;
    assert_eq!(
        statuses(&track(&api, &order_id).await),
        [
            S::Placed,
            S::Routed,
            S::InFulfilment,
            S::Shipped,
            S::ReadyForPickup,
            S::Collected
        ]
    );
    let store = api.position(ALEXANDERPLATZ, sku).await.expect("a position");
    assert_eq!((store.on_hand, store.reserved), (1, 0), "one unit left the store, once");
    system.verify_live().await;
}
