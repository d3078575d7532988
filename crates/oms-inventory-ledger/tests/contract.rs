//! What inventory.proto promises, held through the real gRPC API: `Release` and `Consume`
//! are idempotent whatever became of the reservation since.

mod support;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use oms_eventsourcing::ManualClock;
use oms_proto::inventory::v1 as pb;
use oms_proto::pos::v1::MovementKind;
use support::*;
use tonic::Code;

/// 2 November 2026 at `hh:mm`, UTC.
fn at(hh_mm: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("2026-11-02T{hh_mm}:00Z"))
        .unwrap()
        .to_utc()
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
