//! What inventory.proto promises, held through the real gRPC API: `Release` and `Consume`
//! are idempotent whatever became of the reservation since, and `GetPositionAsOf` is the
//! stock at a moment on the shop floor, however late what happened then was reported.

mod support;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use oms_eventsourcing::ManualClock;
use oms_proto::inventory::v1 as pb;
use oms_proto::pos::v1::{MovementKind, StockMovement};
use oms_service::convert::timestamp;
use support::*;
use tonic::Code;

/// 2 November 2026 at `hh:mm`, UTC.
fn at(hh_mm: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("2026-11-02T{hh_mm}:00Z"))
        .unwrap()
        .to_utc()
}

fn occurred(m: StockMovement, when: &str) -> StockMovement {
    StockMovement {
        occurred_at: Some(timestamp(at(when))),
        ..m
    }
}

fn line(sku: &str, quantity: i64) -> pb::ReservationLine {
    pb::ReservationLine {
        sku: sku.into(),
        quantity,
    }
}

fn release(id: &str) -> pb::ReleaseRequest {
    pb::ReleaseRequest {
        reservation_id: id.into(),
        lines: vec![],
        reason: "order cancelled".into(),
    }
}

fn consume(id: &str, lines: Vec<pb::ReservationLine>) -> pb::ConsumeRequest {
    pb::ConsumeRequest {
        reservation_id: id.into(),
        lines,
    }
}

async fn reserve(client: &mut Client, id: &str, quantity: i64, ttl_seconds: i64) -> pb::Reservation {
    client
        .reserve(pb::ReserveRequest {
            reservation_id: id.into(),
            reference: format!("order-{id}"),
            location_id: "S1".into(),
            lines: vec![line("SKU-1", quantity)],
            ttl_seconds,
            channel: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
}

fn status(reservation: &pb::Reservation) -> pb::ReservationStatus {
    pb::ReservationStatus::try_from(reservation.status).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_or_consume_sent_again_is_answered_with_the_reservation_as_it_is() {
    let clock = ManualClock::new(at("09:00"));
    let mut rig = Rig::postgres(Arc::new(clock.clone())).await;
    rig.add_store("S1").await;
    let mut client = rig.client.clone();
    client
        .record_movements(pb::RecordMovementsRequest {
            movements: vec![movement("m-1", "S1", "SKU-1", MovementKind::Receipt, 20)],
        })
        .await
        .unwrap();

    // Two units held for an order; one ships, then the order's rest is cancelled.
    reserve(&mut client, "r-1", 2, 0).await;
    client.consume(consume("r-1", vec![line("SKU-1", 1)])).await.unwrap();
    let first = client.release(release("r-1")).await.unwrap().into_inner();
    assert_eq!(status(&first), pb::ReservationStatus::Consumed, "part of it shipped");
    assert_eq!(first.held, vec![line("SKU-1", 0)]);
    // The cancellation is sent again, and so is the shipment: each is answered as before.
    let again = client.release(release("r-1")).await.unwrap().into_inner();
    assert_eq!(again, first);
    let shipped_again = client
        .consume(consume("r-1", vec![line("SKU-1", 1)]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(shipped_again, first);
    // Units it gave back cannot ship from it now.
    let refused = client
        .consume(consume("r-1", vec![line("SKU-1", 2)]))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(refused.message(), "reservation r-1 holds only 0 of SKU-1, not 2");

    // Released in full: a release again is answered as released; a shipment from it is refused.
    reserve(&mut client, "r-2", 2, 0).await;
    let released = client.release(release("r-2")).await.unwrap().into_inner();
    assert_eq!(status(&released), pb::ReservationStatus::Released);
    assert_eq!(client.release(release("r-2")).await.unwrap().into_inner(), released);
    let refused = client.consume(consume("r-2", vec![])).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(
        refused.message(),
        "reservation r-2 is released and can no longer be consumed"
    );

    // Shipped in full: a late cancellation finds nothing to give back and is told so.
    reserve(&mut client, "r-3", 2, 0).await;
    let shipped = client.consume(consume("r-3", vec![])).await.unwrap().into_inner();
    assert_eq!(status(&shipped), pb::ReservationStatus::Consumed);
    assert_eq!(client.release(release("r-3")).await.unwrap().into_inner(), shipped);
    assert_eq!(
        client.consume(consume("r-3", vec![])).await.unwrap().into_inner(),
        shipped
    );

    // One unit shipped, then the hold on the other lapsed.
    reserve(&mut client, "r-4", 2, 60).await;
    client.consume(consume("r-4", vec![line("SKU-1", 1)])).await.unwrap();
    clock.advance(Duration::seconds(61));
    let lapsed = wait_for_status(&client, "r-4", pb::ReservationStatus::Expired).await;
    assert_eq!(client.release(release("r-4")).await.unwrap().into_inner(), lapsed);
    assert_eq!(
        client
            .consume(consume("r-4", vec![line("SKU-1", 1)]))
            .await
            .unwrap()
            .into_inner(),
        lapsed
    );

    // Nothing moved twice: 20 received, 1 + 2 + 1 shipped, nothing held.
    let stock = rig.availability("SKU-1", "").await;
    let s1 = &stock.locations[0];
    assert_eq!((s1.on_hand, s1.reserved, s1.available_to_promise), (16, 0, 16));
    rig.stop().await;
}

async fn wait_for_status(client: &Client, id: &str, wanted: pb::ReservationStatus) -> pb::Reservation {
    wait_until("the reservation reaches its status", || {
        let mut client = client.clone();
        async move {
            let r = client
                .get_reservation(pb::GetReservationRequest {
                    reservation_id: id.into(),
                })
                .await
                .unwrap()
                .into_inner();
            status(&r) == wanted
        }
    })
    .await;
    client
        .clone()
        .get_reservation(pb::GetReservationRequest {
            reservation_id: id.into(),
        })
        .await
        .unwrap()
        .into_inner()
}

async fn stock_at(client: &Client, sku: &str, when: &str) -> pb::Position {
    client
        .clone()
        .get_position_as_of(pb::GetPositionAsOfRequest {
            sku: sku.into(),
            location_id: "S1".into(),
            at: Some(timestamp(at(when))),
        })
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_at_a_moment_is_what_happened_on_the_shop_floor_by_then_however_late_it_was_reported() {
    // The ledger's clock: when each report reaches it.
    let clock = ManualClock::new(at("09:00"));
    let mut rig = Rig::postgres(Arc::new(clock.clone())).await;
    rig.add_store("S1").await;
    let client = rig.client.clone();
    let report = |movements: Vec<StockMovement>| {
        let mut client = client.clone();
        async move {
            client
                .record_movements(pb::RecordMovementsRequest { movements })
                .await
                .unwrap()
        }
    };
    report(vec![
        occurred(movement("m-1", "S1", "SKU-1", MovementKind::Receipt, 10), "09:00"),
        occurred(movement("m-2", "S1", "SKU-2", MovementKind::Receipt, 10), "09:00"),
    ])
    .await;

    // The shelf of SKU-2 is counted at 14:00: it holds 7.
    clock.set(at("14:02"));
    report(vec![occurred(
        movement("c-1", "S1", "SKU-2", MovementKind::CycleCount, 7),
        "14:00",
    )])
    .await;

    // The till was offline: a sale of SKU-1 at 14:00 reaches the ledger at 14:10.
    clock.set(at("14:10"));
    report(vec![occurred(
        movement("m-3", "S1", "SKU-1", MovementKind::Sale, 2),
        "14:00",
    )])
    .await;
    assert_eq!(stock_at(&client, "SKU-1", "13:59").await.on_hand, 10);
    assert_eq!(
        stock_at(&client, "SKU-1", "14:05").await.on_hand,
        8,
        "the sale happened before 14:05, though it was reported after"
    );

    // A sale of SKU-2 at 13:58 is reported after the count.
    clock.set(at("14:15"));
    report(vec![occurred(
        movement("m-4", "S1", "SKU-2", MovementKind::Sale, 1),
        "13:58",
    )])
    .await;
    assert_eq!(stock_at(&client, "SKU-2", "13:57").await.on_hand, 10);
    assert_eq!(
        stock_at(&client, "SKU-2", "13:59").await.on_hand,
        9,
        "the sale had happened"
    );
    let counted = stock_at(&client, "SKU-2", "14:05").await;
    assert_eq!(
        counted.on_hand, 7,
        "the count saw the 13:58 sale: it is not taken twice"
    );
    assert_eq!(counted.last_counted_at, Some(timestamp(at("14:00"))));
    assert_eq!(stock_at(&client, "SKU-2", "13:59").await.last_counted_at, None);

    // Units reserved for an order count from when the OMS reserved them.
    clock.set(at("14:20"));
    reserve(&mut rig.client, "r-1", 3, 0).await;
    let before = stock_at(&client, "SKU-1", "14:19").await;
    let after = stock_at(&client, "SKU-1", "14:21").await;
    assert_eq!(
        (before.reserved, before.available_to_promise),
        (0, 8),
        "not yet reserved at 14:19"
    );
    assert_eq!((after.reserved, after.available_to_promise), (3, 5));

    // A delivery of SKU-2 at 14:30, reported at 14:40, comes on top of the count.
    clock.set(at("14:40"));
    report(vec![occurred(
        movement("m-5", "S1", "SKU-2", MovementKind::Receipt, 5),
        "14:30",
    )])
    .await;
    assert_eq!(stock_at(&client, "SKU-2", "14:29").await.on_hand, 7);
    assert_eq!(stock_at(&client, "SKU-2", "14:35").await.on_hand, 12);

    // And the latest moment is the live position.
    let now = rig.availability("SKU-2", "").await;
    let later = stock_at(&client, "SKU-2", "23:59").await;
    assert_eq!(
        (later.on_hand, later.available_to_promise),
        (now.locations[0].on_hand, now.locations[0].available_to_promise)
    );
    rig.stop().await;
}
