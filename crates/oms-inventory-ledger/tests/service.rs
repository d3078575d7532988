//! The ledger as a running service: gRPC in and out, POS movements and fulfilment and
//! returns events from Kafka, inventory events to Kafka, all on PostgreSQL and a real
//! tansu broker.

mod support;

use std::sync::Arc;

use chrono::Duration;
use oms_eventsourcing::ManualClock;
use oms_proto::fulfilment::v1 as fulfilment;
use oms_proto::inventory::v1 as pb;
use oms_proto::pos::v1::MovementKind;
use oms_proto::returns::v1 as returns;
use oms_transport::headers;
use support::*;
use tokio_stream::StreamExt;
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pos_movements_from_the_topic_move_stock_and_are_announced() {
    let mut rig = Rig::kafka().await;
    rig.add_store("S1").await;
    for (id, kind, quantity) in [
        ("m-1", MovementKind::Receipt, 10),
        ("m-2", MovementKind::Sale, 3),
        ("m-2", MovementKind::Sale, 3),
    ] {
        rig.produce(
            "oms.pos-movements.v1",
            "S1",
            encode(&movement(id, "S1", "SKU-1", kind, quantity)),
        )
        .await;
    }
    let mut client = rig.client.clone();
    wait_until("the movements are applied", || {
        let mut client = client.clone();
        async move {
            let request = pb::GetAvailabilityRequest {
                skus: vec!["SKU-1".into()],
                ..Default::default()
            };
            client.get_availability(request).await.unwrap().into_inner().skus[0].available_to_promise == 7
        }
    })
    .await;
    let availability = rig.availability("SKU-1", "").await;
    assert_eq!(availability.locations[0].on_hand, 7, "the sale sent twice counted once");

    let announced = rig
        .read_topic("oms.inventory.v1", "test-reader", |seen| {
            seen.iter()
                .filter_map(decode_inventory)
                .any(|e| matches!(e, pb::inventory_event::Event::PositionChanged(p) if p.on_hand == 7))
        })
        .await;
    let changes: Vec<pb::PositionChanged> = announced
        .iter()
        .filter_map(decode_inventory)
        .filter_map(|e| match e {
            pb::inventory_event::Event::PositionChanged(p) => Some(p),
            _ => None,
        })
        .collect();
    assert_eq!(
        changes.iter().map(|c| c.available_to_promise).collect::<Vec<_>>(),
        vec![10, 7]
    );
    assert_eq!(changes[1].cause, "sale");
    assert_eq!(announced[0].key.as_deref(), Some("SKU-1"));
    assert_eq!(
        announced[0].header(headers::TYPE),
        Some("oms.inventory.v1.PositionChanged")
    );

    client = rig.client.clone();
    drop(client);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_movements_go_to_the_dead_letter_topic_and_nothing_is_lost() {
    let rig = Rig::kafka().await;
    let mut rig = rig;
    rig.add_store("S1").await;
    rig.produce("oms.pos-movements.v1", "S1", b"\xff\xff not protobuf".to_vec())
        .await;
    rig.produce(
        "oms.pos-movements.v1",
        "S9",
        encode(&movement("m-1", "S9", "SKU-1", MovementKind::Receipt, 5)),
    )
    .await;
    rig.produce(
        "oms.pos-movements.v1",
        "S1",
        encode(&movement("m-2", "S1", "SKU-1", MovementKind::Sale, 0)),
    )
    .await;
    rig.produce(
        "oms.pos-movements.v1",
        "S1",
        encode(&movement("m-3", "S1", "SKU-1", MovementKind::Receipt, 4)),
    )
    .await;
    let letters = rig
        .read_topic("oms.pos-movements.v1.dlq", "dlq-reader", |seen| seen.len() >= 3)
        .await;
    // Keyed by location, the letters come from different partitions: in no set order.
    let mut reasons: Vec<&str> = letters.iter().filter_map(|l| l.header(headers::DLQ_REASON)).collect();
    reasons.sort();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert_eq!(reasons[0], "location S9 is not known to the ledger");
    assert!(reasons[1].starts_with("not an oms.pos.v1.StockMovement"), "{reasons:?}");
    assert_eq!(reasons[2], "quantity: a sale must be of 1 unit or more");
    assert!(
        letters
            .iter()
            .all(|l| l.header(headers::DLQ_TOPIC) == Some("oms.pos-movements.v1"))
    );
    // The good movement after them was applied.
    assert_eq!(rig.availability("SKU-1", "").await.available_to_promise, 4);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_grpc_input_is_refused_naming_every_field() {
    let mut rig = Rig::kafka().await;
    rig.add_store("S1").await;
    let bad = pb::ReserveRequest {
        reservation_id: String::new(),
        location_id: "S1".into(),
        lines: vec![
            pb::ReservationLine {
                sku: "SKU-1".into(),
                quantity: 0,
            },
            pb::ReservationLine {
                sku: String::new(),
                quantity: 1,
            },
        ],
        ..Default::default()
    };
    let status = rig.client.reserve(bad).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        status.message(),
        "reservation_id: is required; lines[0].quantity: must be 1 or more; lines[1].sku: is required"
    );

    let nowhere = pb::ReserveRequest {
        reservation_id: "r-1".into(),
        location_id: "S9".into(),
        lines: vec![pb::ReservationLine {
            sku: "SKU-1".into(),
            quantity: 1,
        }],
        ..Default::default()
    };
    let status = rig.client.reserve(nowhere).await.unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (Code::InvalidArgument, "location_id: unknown location S9")
    );

    let mut no_kind = movement("m-1", "S1", "SKU-1", MovementKind::Receipt, 1);
    no_kind.kind = 42;
    no_kind.occurred_at = None;
    let negative = movement("m-2", "S1", "SKU-1", MovementKind::Receipt, -1);
    let status = rig
        .client
        .record_movements(pb::RecordMovementsRequest {
            movements: vec![no_kind, negative],
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        status.message(),
        "movements[0].kind: 42 is not a movement kind; movements[0].occurred_at: a valid time is required; \
         movements[1].quantity: a receipt must be of 1 unit or more"
    );
    assert_eq!(
        rig.availability("SKU-1", "").await.locations.len(),
        0,
        "nothing was applied"
    );

    let status = rig
        .client
        .get_availability(pb::GetAvailabilityRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (Code::InvalidArgument, "skus: at least one SKU is required")
    );
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_racing_for_the_last_units_get_exactly_those_units() {
    let mut rig = Rig::kafka().await;
    rig.add_store("S1").await;
    rig.client
        .record_movements(pb::RecordMovementsRequest {
            movements: vec![movement("m-1", "S1", "SKU-LAST", MovementKind::Receipt, 10)],
        })
        .await
        .unwrap();
    let url = format!("http://{}", rig.service().addr);
    let mut clients = Vec::new();
    for c in 0..4 {
        let url = url.clone();
        clients.push(tokio::spawn(async move {
            let client = connect_to(&url).await;
            let mut attempts = Vec::new();
            for i in 0..25 {
                let mut client = client.clone();
                attempts.push(tokio::spawn(async move {
                    let request = pb::ReserveRequest {
                        reservation_id: format!("r-{c}-{i}"),
                        reference: format!("order-{c}-{i}"),
                        location_id: "S1".into(),
                        lines: vec![pb::ReservationLine {
                            sku: "SKU-LAST".into(),
                            quantity: 1,
                        }],
                        ..Default::default()
                    };
                    client.reserve(request).await.map(|_| ()).map_err(|s| s.code())
                }));
            }
            let mut results = Vec::new();
            for attempt in attempts {
                results.push(attempt.await.unwrap());
            }
            results
        }));
    }
    let mut won = 0;
    for client in clients {
        for result in client.await.unwrap() {
            match result {
                Ok(()) => won += 1,
                Err(code) => assert_eq!(code, Code::FailedPrecondition),
            }
        }
    }
    assert_eq!(won, 10, "exactly the ten units on hand were reserved");
    let position = &rig.availability("SKU-LAST", "").await.locations[0];
    assert_eq!(
        (position.on_hand, position.reserved, position.available_to_promise),
        (10, 10, 0)
    );
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shipped_rejected_and_returned_units_move_stock() {
    let mut rig = Rig::kafka().await;
    rig.add_store("S1").await;
    rig.client
        .record_movements(pb::RecordMovementsRequest {
            movements: vec![movement("m-1", "S1", "SKU-1", MovementKind::Receipt, 10)],
        })
        .await
        .unwrap();
    for (id, quantity) in [("r-ship", 3), ("r-reject", 2)] {
        rig.client
            .reserve(pb::ReserveRequest {
                reservation_id: id.into(),
                reference: "order-1".into(),
                location_id: "S1".into(),
                lines: vec![pb::ReservationLine {
                    sku: "SKU-1".into(),
                    quantity,
                }],
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let line = |q| fulfilment::JobLine {
        sku: "SKU-1".into(),
        quantity: q,
        order_line_id: "1".into(),
    };
    let shipped = fulfilment::FulfilmentEvent {
        event: Some(fulfilment::fulfilment_event::Event::JobShipped(
            fulfilment::JobShipped {
                job_id: "job-1".into(),
                order_id: "order-1".into(),
                location_id: "S1".into(),
                reservation_id: "r-ship".into(),
                lines: vec![line(3)],
                ..Default::default()
            },
        )),
    };
    let rejected = fulfilment::FulfilmentEvent {
        event: Some(fulfilment::fulfilment_event::Event::JobRejected(
            fulfilment::JobRejected {
                job_id: "job-2".into(),
                order_id: "order-1".into(),
                location_id: "S1".into(),
                reservation_id: "r-reject".into(),
                lines: vec![line(2)],
                reason: fulfilment::RejectReason::OutOfStock as i32,
                ..Default::default()
            },
        )),
    };
    rig.produce("oms.fulfilment.v1", "order-1", encode(&shipped)).await;
    rig.produce("oms.fulfilment.v1", "order-1", encode(&rejected)).await;
    let restocked = returns::ReturnEvent {
        event: Some(returns::return_event::Event::ItemsRestocked(returns::ItemsRestocked {
            return_id: "return-1".into(),
            order_id: "order-1".into(),
            location_id: "S1".into(),
            lines: vec![returns::RestockedLine {
                sku: "SKU-1".into(),
                quantity: 1,
            }],
            ..Default::default()
        })),
    };
    rig.produce("oms.returns.v1", "return-1", encode(&restocked)).await;
    let client = rig.client.clone();
    wait_until("shipments, rejects and restocks are applied", || {
        let mut client = client.clone();
        async move {
            let request = pb::GetAvailabilityRequest {
                skus: vec!["SKU-1".into()],
                ..Default::default()
            };
            let a = client
                .get_availability(request)
                .await
                .unwrap()
                .into_inner()
                .skus
                .remove(0);
            // 10 received, 3 shipped, 2 written off, 1 restocked.
            a.locations.first().is_some_and(|l| l.on_hand == 6 && l.reserved == 0)
        }
    })
    .await;
    let shipped = rig
        .client
        .get_reservation(pb::GetReservationRequest {
            reservation_id: "r-ship".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(shipped.status, pb::ReservationStatus::Consumed as i32);
    let rejected = rig
        .client
        .get_reservation(pb::GetReservationRequest {
            reservation_id: "r-reject".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rejected.status, pb::ReservationStatus::Released as i32);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parcel_nobody_collected_is_stock_again_at_the_store_holding_it() {
    let mut rig = Rig::kafka().await;
    rig.add_store("S1").await;
    rig.add_store("S2").await;
    rig.client
        .record_movements(pb::RecordMovementsRequest {
            movements: vec![movement("m-1", "S1", "SKU-1", MovementKind::Receipt, 5)],
        })
        .await
        .unwrap();
    rig.client
        .reserve(pb::ReserveRequest {
            reservation_id: "r-sts".into(),
            reference: "order-2".into(),
            location_id: "S1".into(),
            lines: vec![pb::ReservationLine {
                sku: "SKU-1".into(),
                quantity: 2,
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    let lines = vec![fulfilment::JobLine {
        sku: "SKU-1".into(),
        quantity: 2,
        order_line_id: "1".into(),
    }];
    // S1 ships a parcel to S2, where the customer was to collect it; nobody comes.
    let shipped = fulfilment::FulfilmentEvent {
        event: Some(fulfilment::fulfilment_event::Event::JobShipped(
            fulfilment::JobShipped {
                job_id: "job-sts".into(),
                order_id: "order-2".into(),
                location_id: "S1".into(),
                reservation_id: "r-sts".into(),
                lines: lines.clone(),
                pickup_location_id: "S2".into(),
                ..Default::default()
            },
        )),
    };
    let uncollected = fulfilment::FulfilmentEvent {
        event: Some(fulfilment::fulfilment_event::Event::JobCancelled(
            fulfilment::JobCancelled {
                job_id: "job-sts".into(),
                order_id: "order-2".into(),
                location_id: "S1".into(),
                reservation_id: "r-sts".into(),
                lines,
                reason: "not collected".into(),
                uncollected: true,
                returned_to_location_id: "S2".into(),
                ..Default::default()
            },
        )),
    };
    rig.produce("oms.fulfilment.v1", "order-2", encode(&shipped)).await;
    rig.produce("oms.fulfilment.v1", "order-2", encode(&uncollected)).await;
    // The same news twice moves nothing twice.
    rig.produce("oms.fulfilment.v1", "order-2", encode(&uncollected)).await;
    let client = rig.client.clone();
    wait_until("the parcel is stock at the pickup store", || {
        let mut client = client.clone();
        async move {
            let request = pb::GetAvailabilityRequest {
                skus: vec!["SKU-1".into()],
                ..Default::default()
            };
            let a = client
                .get_availability(request)
                .await
                .unwrap()
                .into_inner()
                .skus
                .remove(0);
            let on_hand = |id: &str| {
                a.locations
                    .iter()
                    .find(|l| l.location_id == id)
                    .map_or(0, |l| l.on_hand)
            };
            // 5 received at S1, 2 left it; the 2 are on sale at S2 now.
            on_hand("S1") == 3 && on_hand("S2") == 2
        }
    })
    .await;
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reservation_lapses_when_its_time_is_up_on_the_clock() {
    let clock = ManualClock::new(chrono::Utc::now());
    let mut rig = Rig::embedded(Arc::new(clock.clone())).await;
    rig.add_store("S1").await;
    rig.client
        .record_movements(pb::RecordMovementsRequest {
            movements: vec![movement("m-1", "S1", "SKU-1", MovementKind::Receipt, 5)],
        })
        .await
        .unwrap();
    let placed = rig
        .client
        .reserve(pb::ReserveRequest {
            reservation_id: "r-1".into(),
            location_id: "S1".into(),
            lines: vec![pb::ReservationLine {
                sku: "SKU-1".into(),
                quantity: 5,
            }],
            ttl_seconds: 600,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(placed.status, pb::ReservationStatus::Active as i32);
    assert_eq!(rig.availability("SKU-1", "").await.available_to_promise, 0);
    clock.advance(Duration::seconds(601));
    let client = rig.client.clone();
    wait_until("the hold lapses", || {
        let mut client = client.clone();
        async move {
            let r = client
                .get_reservation(pb::GetReservationRequest {
                    reservation_id: "r-1".into(),
                })
                .await
                .unwrap()
                .into_inner();
            r.status == pb::ReservationStatus::Expired as i32
        }
    })
    .await;
    assert_eq!(rig.availability("SKU-1", "").await.available_to_promise, 5);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboards_see_availability_change_as_it_happens_and_the_past_can_be_read() {
    let clock = ManualClock::new(chrono::Utc::now());
    let start = oms_eventsourcing::Clock::now(&clock);
    let mut rig = Rig::embedded(Arc::new(clock.clone())).await;
    rig.add_store("S1").await;
    let mut feed = rig
        .client
        .watch_availability(pb::WatchAvailabilityRequest {
            skus: vec!["SKU-1".into()],
            location_ids: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    rig.client
        .record_movements(pb::RecordMovementsRequest {
            movements: vec![
                movement("m-0", "S1", "SKU-OTHER", MovementKind::Receipt, 1),
                movement("m-1", "S1", "SKU-1", MovementKind::Receipt, 8),
            ],
        })
        .await
        .unwrap();
    let change = tokio::time::timeout(std::time::Duration::from_secs(10), feed.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let position = change.position.unwrap();
    assert_eq!(
        (
            position.sku.as_str(),
            position.available_to_promise,
            change.cause.as_str()
        ),
        ("SKU-1", 8, "receipt")
    );

    clock.advance(Duration::hours(1));
    let sold = oms_proto::pos::v1::StockMovement {
        occurred_at: Some(oms_service::convert::timestamp(start + Duration::hours(1))),
        ..movement("m-2", "S1", "SKU-1", MovementKind::Sale, 3)
    };
    rig.client
        .record_movements(pb::RecordMovementsRequest { movements: vec![sold] })
        .await
        .unwrap();
    let at = |minutes| Some(oms_service::convert::timestamp(start + Duration::minutes(minutes)));
    let then = rig
        .client
        .get_position_as_of(pb::GetPositionAsOfRequest {
            sku: "SKU-1".into(),
            location_id: "S1".into(),
            at: at(30),
        })
        .await
        .unwrap()
        .into_inner();
    let now = rig
        .client
        .get_position_as_of(pb::GetPositionAsOfRequest {
            sku: "SKU-1".into(),
            location_id: "S1".into(),
            at: at(90),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((then.on_hand, now.on_hand), (8, 5));
    let listing = rig
        .client
        .list_positions(pb::ListPositionsRequest {
            location_id: "S1".into(),
            page_size: 1,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listing.positions[0].sku, "SKU-1");
    let rest = rig
        .client
        .list_positions(pb::ListPositionsRequest {
            location_id: "S1".into(),
            page_size: 1,
            page_token: listing.next_page_token,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.positions[0].sku, "SKU-OTHER");
    rig.stop().await;
}
