//! The ledger's business rules, given/when/then: given what happened, when a command or
//! message arrives, then these events (or this refusal).

use chrono::{DateTime, Duration, Utc};
use oms_eventsourcing::{EventHeader, Model};
use oms_inventory_ledger::domain::ledger::{Change, JobUnits, Reserved};
use oms_inventory_ledger::domain::{
    ChannelRule, ConsumeReservation, Ledger, LedgerError, LedgerEvent, LedgerPolicy, Line, LocationRecord,
    LocationType, Movement, MovementKind, ReleaseReservation, ReservationStatus, ReserveStock, UnknownSkus,
};
use uuid::Uuid;

fn t(minutes: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-02T09:00:00Z").unwrap().to_utc() + Duration::minutes(minutes)
}

fn store(id: &str) -> LocationRecord {
    LocationRecord {
        location_id: id.into(),
        kind: LocationType::Store,
        name: format!("Store {id}"),
        attributes: Default::default(),
        latitude: Some(52.52),
        longitude: Some(13.40),
        active: true,
    }
}

/// The ledger after `changes`, each applied as the writer would.
fn given(changes: impl IntoIterator<Item = Change>) -> Ledger {
    let mut ledger = Ledger::default();
    apply(&mut ledger, changes, t(0));
    ledger
}

fn apply(ledger: &mut Ledger, changes: impl IntoIterator<Item = Change>, at: DateTime<Utc>) {
    for (stream, event) in changes {
        let header = EventHeader {
            stream_id: &stream,
            version: 1,
            event_id: Uuid::now_v7(),
            recorded_at: at,
            correlation_id: None,
            causation_id: None,
        };
        ledger.apply(&header, &event);
    }
}

/// A ledger with store S1 holding `units` of SKU-1.
fn stocked(units: i64) -> Ledger {
    let mut ledger = given(Ledger::default().upsert_location(&store("S1")).unwrap());
    let receipt = movement("m-0", MovementKind::Receipt, units, t(0));
    let changes = ledger.record_movement(&receipt, &LedgerPolicy::default()).unwrap();
    apply(&mut ledger, changes, t(0));
    ledger
}

fn movement(id: &str, kind: MovementKind, quantity: i64, at: DateTime<Utc>) -> Movement {
    Movement {
        movement_id: id.into(),
        location: "S1".into(),
        sku: "SKU-1".into(),
        kind,
        quantity,
        occurred_at: at,
    }
}

fn record(ledger: &mut Ledger, m: &Movement) -> Vec<Change> {
    let changes = ledger.record_movement(m, &LedgerPolicy::default()).unwrap();
    apply(ledger, changes.clone(), m.occurred_at);
    changes
}

fn reserve(id: &str, lines: &[(&str, i64)], channel: &str) -> ReserveStock {
    ReserveStock {
        reservation_id: id.into(),
        reference: format!("order-{id}"),
        location: "S1".into(),
        lines: lines.iter().map(|(sku, q)| Line::new(*sku, *q)).collect(),
        ttl: Duration::minutes(30),
        channel: channel.into(),
    }
}

fn place(ledger: &mut Ledger, cmd: &ReserveStock, now: DateTime<Utc>) -> Vec<Change> {
    match ledger.reserve(cmd, now, &LedgerPolicy::default()).unwrap() {
        Reserved::New(changes) => {
            apply(ledger, changes.clone(), now);
            changes
        }
        Reserved::Existing(r) => panic!("expected a new reservation, got {r:?}"),
    }
}

fn on_hand(ledger: &Ledger) -> i64 {
    ledger.position("SKU-1", "S1").map_or(0, |p| p.on_hand)
}

fn atp(ledger: &Ledger) -> i64 {
    ledger.position("SKU-1", "S1").map_or(0, |p| p.available_to_promise())
}

#[test]
fn a_receipt_raises_on_hand_and_what_can_be_promised() {
    let mut ledger = stocked(10);
    let changes = record(&mut ledger, &movement("m-1", MovementKind::Receipt, 5, t(1)));
    assert!(
        matches!(&changes[..], [(stream, LedgerEvent::StockMoved { delta: 5, .. })] if stream == "position:S1/SKU-1")
    );
    assert_eq!((on_hand(&ledger), atp(&ledger)), (15, 15));
}

#[test]
fn a_sale_of_stock_the_ledger_did_not_know_about_leaves_on_hand_negative_and_flagged() {
    let mut ledger = stocked(2);
    record(&mut ledger, &movement("m-1", MovementKind::Sale, 5, t(1)));
    let position = ledger.position("SKU-1", "S1").unwrap();
    assert_eq!(position.on_hand, -3);
    assert!(position.negative_on_hand());
    assert_eq!(position.available_to_promise(), 0, "never promised below zero");
}

#[test]
fn a_movement_sent_twice_is_applied_once() {
    let mut ledger = stocked(10);
    record(&mut ledger, &movement("m-1", MovementKind::Sale, 3, t(1)));
    assert!(record(&mut ledger, &movement("m-1", MovementKind::Sale, 3, t(1))).is_empty());
    assert_eq!(on_hand(&ledger), 7);
}

#[test]
fn a_late_cycle_count_keeps_the_movements_that_came_after_it() {
    let mut ledger = stocked(10);
    record(&mut ledger, &movement("sale-1", MovementKind::Sale, 2, t(10)));
    record(&mut ledger, &movement("sale-2", MovementKind::Sale, 1, t(30)));
    // The shelf was counted at minute 20 (after the first sale, before the second): 6 units.
    let changes = record(&mut ledger, &movement("count-1", MovementKind::CycleCount, 6, t(20)));
    assert!(
        matches!(
            &changes[..],
            [(
                _,
                LedgerEvent::StockCounted {
                    counted: 6,
                    delta: -2,
                    ..
                }
            )]
        ),
        "{changes:?}"
    );
    assert_eq!(on_hand(&ledger), 5, "6 counted, then 1 sold");
    assert_eq!(ledger.position("SKU-1", "S1").unwrap().last_counted_at, Some(t(20)));
}

#[test]
fn a_movement_that_occurred_before_the_last_count_is_already_in_it() {
    let mut ledger = stocked(10);
    record(&mut ledger, &movement("count-1", MovementKind::CycleCount, 8, t(20)));
    let changes = record(&mut ledger, &movement("sale-late", MovementKind::Sale, 1, t(15)));
    assert!(
        matches!(
            &changes[..],
            [(
                _,
                LedgerEvent::StockMoved {
                    delta: 0,
                    quantity: 1,
                    ..
                }
            )]
        ),
        "recorded, not applied"
    );
    assert_eq!(on_hand(&ledger), 8);
    // An older count than the last one changes nothing either.
    let older = record(&mut ledger, &movement("count-0", MovementKind::CycleCount, 3, t(5)));
    assert!(matches!(&older[..], [(_, LedgerEvent::StockCounted { delta: 0, .. })]));
    assert_eq!(on_hand(&ledger), 8);
}

#[test]
fn malformed_movements_are_refused_naming_the_field() {
    let ledger = stocked(1);
    let policy = LedgerPolicy::default();
    let zero_sale = movement("m-1", MovementKind::Sale, 0, t(1));
    assert_eq!(
        ledger.record_movement(&zero_sale, &policy),
        Err(LedgerError::Invalid(vec![(
            "quantity".into(),
            "a sale must be of 1 unit or more".into()
        )]))
    );
    let zero_adjustment = movement("m-2", MovementKind::Adjustment, 0, t(1));
    assert!(
        matches!(ledger.record_movement(&zero_adjustment, &policy), Err(LedgerError::Invalid(f)) if f[0].0 == "quantity")
    );
    let nowhere = Movement {
        location: "S9".into(),
        ..movement("m-3", MovementKind::Receipt, 1, t(1))
    };
    assert_eq!(
        ledger.record_movement(&nowhere, &policy),
        Err(LedgerError::UnknownLocation("S9".into()))
    );
    let refuse = LedgerPolicy {
        unknown_skus: UnknownSkus::Refuse,
        ..policy
    };
    assert_eq!(
        ledger.record_movement(&movement("m-4", MovementKind::Receipt, 1, t(1)), &refuse),
        Err(LedgerError::UnknownSku("SKU-1".into()))
    );
}

#[test]
fn a_reservation_holds_every_line_or_nothing() {
    let mut ledger = stocked(5);
    let cmd = reserve("r-1", &[("SKU-1", 3), ("SKU-2", 1)], "");
    let refused = ledger.reserve(&cmd, t(1), &LedgerPolicy::default());
    match refused {
        Err(LedgerError::InsufficientStock(short)) => {
            assert_eq!(short.len(), 1);
            assert_eq!(
                (short[0].sku.as_str(), short[0].requested, short[0].available),
                ("SKU-2", 1, 0)
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(atp(&ledger), 5, "nothing was held");
    place(&mut ledger, &reserve("r-2", &[("SKU-1", 3)], ""), t(1));
    let position = ledger.position("SKU-1", "S1").unwrap();
    assert_eq!(
        (position.on_hand, position.reserved, position.available_to_promise()),
        (5, 3, 2)
    );
}

#[test]
fn the_same_reservation_id_returns_the_reservation_placed_first() {
    let mut ledger = stocked(5);
    let cmd = reserve("r-1", &[("SKU-1", 2)], "");
    place(&mut ledger, &cmd, t(1));
    match ledger.reserve(&cmd, t(2), &LedgerPolicy::default()) {
        Ok(Reserved::Existing(r)) => assert_eq!((r.reservation_id.as_str(), r.held[0].quantity), ("r-1", 2)),
        other => panic!("{other:?}"),
    }
    let different = reserve("r-1", &[("SKU-1", 4)], "");
    assert_eq!(
        ledger.reserve(&different, t(2), &LedgerPolicy::default()),
        Err(LedgerError::ReservationIdReused("r-1".into()))
    );
}

#[test]
fn a_channel_with_a_holdback_leaves_the_last_units_to_the_others() {
    let mut ledger = stocked(5);
    let rule = ChannelRule {
        channel: "marketplace".into(),
        holdback_units: 3,
        share_percent: 100,
    };
    let changes = ledger.set_channel_rule(&rule).unwrap();
    apply(&mut ledger, changes, t(0));
    assert!(matches!(
        ledger.reserve(&reserve("r-1", &[("SKU-1", 3)], "marketplace"), t(1), &LedgerPolicy::default()),
        Err(LedgerError::InsufficientStock(s)) if s[0].available == 2
    ));
    place(&mut ledger, &reserve("r-2", &[("SKU-1", 2)], "marketplace"), t(1));
    // The web shop still gets the last three.
    place(&mut ledger, &reserve("r-3", &[("SKU-1", 3)], "web"), t(1));
    assert_eq!(atp(&ledger), 0);
    let share = ChannelRule {
        channel: "call-centre".into(),
        holdback_units: 0,
        share_percent: 50,
    };
    assert_eq!(share.apply(5), 2, "half of five, rounded down");
}

#[test]
fn held_units_are_consumed_when_they_ship_and_given_back_when_released() {
    let mut ledger = stocked(10);
    place(&mut ledger, &reserve("r-1", &[("SKU-1", 4)], ""), t(1));
    let consumed = ledger
        .consume(&ConsumeReservation {
            reservation_id: "r-1".into(),
            lines: vec![Line::new("SKU-1", 1)],
        })
        .unwrap();
    apply(&mut ledger, consumed, t(2));
    let p = ledger.position("SKU-1", "S1").unwrap().clone();
    assert_eq!((p.on_hand, p.reserved), (9, 3));
    let released = ledger
        .release(&ReleaseReservation {
            reservation_id: "r-1".into(),
            lines: vec![],
            reason: "cancelled".into(),
        })
        .unwrap();
    apply(&mut ledger, released, t(3));
    let p = ledger.position("SKU-1", "S1").unwrap();
    assert_eq!((p.on_hand, p.reserved, p.available_to_promise()), (9, 0, 9));
    assert_eq!(
        ledger.reservation("r-1").unwrap().status,
        ReservationStatus::Consumed,
        "part of it shipped"
    );
    // Released again, or consumed again, it is answered as it is: nothing changes.
    assert_eq!(
        ledger.release(&ReleaseReservation {
            reservation_id: "r-1".into(),
            lines: vec![],
            reason: String::new()
        }),
        Ok(vec![])
    );
    assert_eq!(
        ledger.consume(&ConsumeReservation {
            reservation_id: "r-1".into(),
            lines: vec![Line::new("SKU-1", 1)]
        }),
        Ok(vec![])
    );
    // Units it gave back cannot leave from it now.
    assert_eq!(
        ledger.consume(&ConsumeReservation {
            reservation_id: "r-1".into(),
            lines: vec![Line::new("SKU-1", 2)]
        }),
        Err(LedgerError::MoreThanHeld {
            reservation_id: "r-1".into(),
            sku: "SKU-1".into(),
            held: 0,
            requested: 2
        })
    );
}

/// Reservation r-1 of 2 units of SKU-1 at S1 (10 on hand), after `steps` at t(2), t(3)...
fn reservation_after(steps: &[&str]) -> Ledger {
    let mut ledger = stocked(10);
    place(&mut ledger, &reserve("r-1", &[("SKU-1", 2)], ""), t(1));
    for (i, step) in steps.iter().enumerate() {
        let at = t(2 + i as i64);
        let changes = match *step {
            "consume 1" => ledger.consume(&ConsumeReservation {
                reservation_id: "r-1".into(),
                lines: vec![Line::new("SKU-1", 1)],
            }),
            "consume all" => ledger.consume(&ConsumeReservation {
                reservation_id: "r-1".into(),
                lines: vec![],
            }),
            "release" => ledger.release(&ReleaseReservation {
                reservation_id: "r-1".into(),
                lines: vec![],
                reason: "cancelled".into(),
            }),
            "lapse" => Ok(ledger.expire_due(t(24 * 60), 10)),
            other => panic!("no step {other}"),
        };
        apply(&mut ledger, changes.unwrap(), at);
    }
    ledger
}

#[test]
fn a_release_sent_again_is_answered_with_the_reservation_as_it_is_whatever_became_of_it() {
    for (history, status) in [
        (&["release"][..], ReservationStatus::Released),
        (&["consume all"][..], ReservationStatus::Consumed),
        (&["consume 1", "release"][..], ReservationStatus::Consumed),
        (&["lapse"][..], ReservationStatus::Expired),
        (&["consume 1", "lapse"][..], ReservationStatus::Expired),
    ] {
        let ledger = reservation_after(history);
        let before = ledger.reservation("r-1").unwrap().clone();
        assert_eq!(before.status, status, "{history:?}");
        let again = ReleaseReservation {
            reservation_id: "r-1".into(),
            lines: vec![],
            reason: "cancelled".into(),
        };
        assert_eq!(
            ledger.release(&again),
            Ok(vec![]),
            "{history:?}: nothing held, nothing to give back"
        );
        let named = ReleaseReservation {
            lines: vec![Line::new("SKU-1", 1)],
            ..again
        };
        assert_eq!(ledger.release(&named), Ok(vec![]), "{history:?}");
    }
}

#[test]
fn a_consume_sent_again_is_answered_as_it_is_and_units_never_consumed_cannot_leave_a_closed_hold() {
    for (history, consumed_again) in [
        (&["consume all"][..], Line::new("SKU-1", 2)),
        (&["consume 1", "release"][..], Line::new("SKU-1", 1)),
        (&["consume 1", "lapse"][..], Line::new("SKU-1", 1)),
    ] {
        let ledger = reservation_after(history);
        for lines in [vec![], vec![consumed_again.clone()]] {
            let again = ConsumeReservation {
                reservation_id: "r-1".into(),
                lines,
            };
            assert_eq!(ledger.consume(&again), Ok(vec![]), "{history:?}: {again:?}");
        }
    }
    for (history, status) in [(&["release"][..], "released"), (&["lapse"][..], "expired")] {
        let ledger = reservation_after(history);
        assert_eq!(
            ledger.consume(&ConsumeReservation {
                reservation_id: "r-1".into(),
                lines: vec![],
            }),
            Err(LedgerError::ReservationClosed {
                reservation_id: "r-1".into(),
                status,
                action: "consumed",
            }),
            "{history:?}"
        );
    }
}

#[test]
fn more_than_is_held_cannot_be_consumed() {
    let mut ledger = stocked(10);
    place(&mut ledger, &reserve("r-1", &[("SKU-1", 2)], ""), t(1));
    assert_eq!(
        ledger.consume(&ConsumeReservation {
            reservation_id: "r-1".into(),
            lines: vec![Line::new("SKU-1", 3)]
        }),
        Err(LedgerError::MoreThanHeld {
            reservation_id: "r-1".into(),
            sku: "SKU-1".into(),
            held: 2,
            requested: 3
        })
    );
    assert_eq!(
        ledger.consume(&ConsumeReservation {
            reservation_id: "r-9".into(),
            lines: vec![]
        }),
        Err(LedgerError::UnknownReservation("r-9".into()))
    );
}

#[test]
fn a_hold_lapses_after_its_time_and_the_units_come_back() {
    let mut ledger = stocked(10);
    place(&mut ledger, &reserve("r-1", &[("SKU-1", 4)], ""), t(0));
    assert!(ledger.expire_due(t(29), 100).is_empty());
    let expired = ledger.expire_due(t(30), 100);
    assert!(
        matches!(&expired[0], (_, LedgerEvent::ReservationExpired { reservation_id, .. }) if reservation_id == "r-1")
    );
    apply(&mut ledger, expired, t(30));
    assert_eq!(atp(&ledger), 10);
    assert_eq!(ledger.reservation("r-1").unwrap().status, ReservationStatus::Expired);
    assert!(ledger.expire_due(t(60), 100).is_empty());
}

#[test]
fn a_store_rejecting_for_missing_stock_gives_the_hold_back_and_writes_the_units_off() {
    let mut ledger = stocked(5);
    place(&mut ledger, &reserve("r-1", &[("SKU-1", 2)], ""), t(1));
    let lines = [Line::new("SKU-1", 2)];
    let job = JobUnits {
        job: "job-1",
        reservation_id: "r-1",
        location: "S1",
        lines: &lines,
        at: t(2),
    };
    let changes = ledger.job_dropped(&job, "out of stock", true);
    apply(&mut ledger, changes, t(2));
    let p = ledger.position("SKU-1", "S1").unwrap();
    assert_eq!((p.on_hand, p.reserved, p.available_to_promise()), (3, 0, 3));
    // A capacity reject only gives the hold back.
    let mut ledger = stocked(5);
    place(&mut ledger, &reserve("r-2", &[("SKU-1", 2)], ""), t(1));
    let job = JobUnits {
        job: "job-2",
        reservation_id: "r-2",
        location: "S1",
        lines: &lines,
        at: t(2),
    };
    let changes = ledger.job_dropped(&job, "capacity", false);
    apply(&mut ledger, changes, t(2));
    assert_eq!((on_hand(&ledger), atp(&ledger)), (5, 5));
}

#[test]
fn shipped_units_leave_stock_from_their_hold_and_returned_ones_come_back() {
    let mut ledger = stocked(5);
    place(&mut ledger, &reserve("r-1", &[("SKU-1", 2)], ""), t(1));
    // Three units shipped: two were held, one was not.
    let lines = [Line::new("SKU-1", 3)];
    let changes = ledger.units_left(&JobUnits {
        job: "job-1",
        reservation_id: "r-1",
        location: "S1",
        lines: &lines,
        at: t(2),
    });
    apply(&mut ledger, changes, t(2));
    let p = ledger.position("SKU-1", "S1").unwrap().clone();
    assert_eq!((p.on_hand, p.reserved), (2, 0));
    assert_eq!(ledger.reservation("r-1").unwrap().status, ReservationStatus::Consumed);
    let changes = ledger.restock("return-1", "S1", &[Line::new("SKU-1", 1)], t(3));
    apply(&mut ledger, changes, t(3));
    assert_eq!(on_hand(&ledger), 3);
    assert!(
        ledger
            .restock("return-1", "S1", &[Line::new("SKU-1", 1)], t(4))
            .is_empty(),
        "once per return"
    );
}

#[test]
fn an_inactive_location_promises_nothing() {
    let mut ledger = stocked(5);
    let closed = LocationRecord {
        active: false,
        ..store("S1")
    };
    let changes = ledger.upsert_location(&closed).unwrap();
    apply(&mut ledger, changes, t(1));
    assert_eq!(
        ledger.reserve(&reserve("r-1", &[("SKU-1", 1)], ""), t(1), &LedgerPolicy::default()),
        Err(LedgerError::InactiveLocation("S1".into()))
    );
}
