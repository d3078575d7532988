//! The ledger's business rules, given/when/then: given what happened, when a command or
//! message arrives, then these events (or this refusal).

use chrono::{DateTime, Duration, Utc};
use oms_eventsourcing::Change;
use oms_eventsourcing::testing::{Scenario, scenario_time};
use oms_inventory_ledger::domain::{
    ChannelRule, ChannelRuleTerms, ConsumeReservation, ExpireDue, GeoPoint, JobDropped, JobRejected, JobUnits, Ledger,
    LedgerError, LedgerEvent, Line, LocationDetails, LocationId, LocationRecord, Movement, MovementKind, NodeType,
    RecordMovement, RegisterSkus, RejectReason, ReleaseReservation, ReservationStatus, Reserve, ReserveStock, Restock,
    SetChannelRule, SetSafetyStock, Shortfall, Sku, UnitsLeft, UnknownSkus, UpsertLocation,
};

type Event = Change<LedgerEvent>;

fn t(minutes: i64) -> DateTime<Utc> {
    scenario_time() + Duration::minutes(minutes)
}

/// A refusal naming these (field, what is wrong), in order.
fn invalid(fields: &[(&str, &str)]) -> LedgerError {
    LedgerError::Invalid(fields.iter().map(|(f, d)| ((*f).to_owned(), (*d).to_owned())).collect())
}

fn store(id: &str) -> LocationRecord {
    LocationRecord {
        location_id: id.into(),
        kind: NodeType::Store,
        name: format!("Store {id}"),
        attributes: Default::default(),
        location: Some(GeoPoint {
            latitude: 52.52,
            longitude: 13.40,
        }),
        active: true,
    }
}

// ---------------------------------------------------------------------------------------
// What happened: events of store S1 and its SKU-1.

fn location_set(record: &LocationRecord) -> Event {
    Change::new(
        format!("location:{}", record.location_id),
        LedgerEvent::LocationUpserted {
            location: LocationDetails::from(record),
        },
    )
}

/// An event of the position of SKU-1 at S1.
fn on_shelf(event: LedgerEvent) -> Event {
    Change::new("position:S1/SKU-1", event)
}

fn moved(id: &str, kind: MovementKind, quantity: i64, delta: i64, at: DateTime<Utc>) -> Event {
    on_shelf(LedgerEvent::StockMoved {
        sku: "SKU-1".into(),
        location: "S1".into(),
        movement_id: id.into(),
        kind,
        quantity,
        delta,
        occurred_at: at,
    })
}

fn counted(id: &str, counted: i64, delta: i64, at: DateTime<Utc>) -> Event {
    on_shelf(LedgerEvent::StockCounted {
        sku: "SKU-1".into(),
        location: "S1".into(),
        movement_id: id.into(),
        counted,
        delta,
        occurred_at: at,
    })
}

fn placed(id: &str, lines: &[(&str, i64)], channel: &str, expires_at: DateTime<Utc>) -> Vec<Event> {
    let mut events = vec![Change::new(
        format!("reservation:{id}"),
        LedgerEvent::ReservationPlaced {
            reservation_id: id.into(),
            reference: format!("order-{id}"),
            location: "S1".into(),
            lines: lines.iter().map(|(sku, q)| Line::new(*sku, *q)).collect(),
            channel: channel.into(),
            expires_at,
        },
    )];
    events.extend(lines.iter().map(|(sku, quantity)| {
        Change::new(
            format!("position:S1/{sku}"),
            LedgerEvent::UnitsReserved {
                sku: (*sku).into(),
                location: "S1".into(),
                reservation_id: id.into(),
                quantity: *quantity,
            },
        )
    }));
    events
}

/// `quantity` of SKU-1 of reservation `id` given back (a release or a dropped job).
fn released(id: &str, quantity: i64, reason: &str) -> Vec<Event> {
    vec![
        Change::new(
            format!("reservation:{id}"),
            LedgerEvent::ReservationReleased {
                reservation_id: id.into(),
                lines: vec![Line::new("SKU-1", quantity)],
                reason: reason.into(),
            },
        ),
        on_shelf(LedgerEvent::ReservedUnitsReleased {
            sku: "SKU-1".into(),
            location: "S1".into(),
            reservation_id: id.into(),
            quantity,
        }),
    ]
}

fn consumed(id: &str, quantity: i64) -> Vec<Event> {
    vec![
        Change::new(
            format!("reservation:{id}"),
            LedgerEvent::ReservationConsumed {
                reservation_id: id.into(),
                lines: vec![Line::new("SKU-1", quantity)],
            },
        ),
        on_shelf(LedgerEvent::ReservedUnitsConsumed {
            sku: "SKU-1".into(),
            location: "S1".into(),
            reservation_id: id.into(),
            quantity,
        }),
    ]
}

/// Store S1 with `units` of SKU-1 received.
fn stocked(units: i64) -> Scenario<Ledger> {
    Scenario::given([
        location_set(&store("S1")),
        moved("m-0", MovementKind::Receipt, units, units, t(0)),
    ])
}

// ---------------------------------------------------------------------------------------
// What is asked.

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

fn record(movement: Movement) -> RecordMovement {
    RecordMovement {
        movement,
        unknown_skus: UnknownSkus::Accept,
    }
}

/// Reservation `id` of `lines` at S1 for 30 minutes.
fn reserve(id: &str, lines: &[(&str, i64)], channel: &str) -> Reserve {
    Reserve {
        request: ReserveStock {
            reservation_id: id.into(),
            reference: format!("order-{id}"),
            location: "S1".into(),
            lines: lines.iter().map(|(sku, q)| Line::new(*sku, *q)).collect(),
            ttl: Duration::minutes(30),
            channel: channel.into(),
        },
        unknown_skus: UnknownSkus::Accept,
        default_ttl: Duration::hours(1),
    }
}

fn release(id: &str, lines: &[(&str, i64)]) -> ReleaseReservation {
    ReleaseReservation {
        reservation_id: id.into(),
        lines: lines.iter().map(|(sku, q)| Line::new(*sku, *q)).collect(),
        reason: "cancelled".into(),
    }
}

fn consume(id: &str, lines: &[(&str, i64)]) -> ConsumeReservation {
    ConsumeReservation {
        reservation_id: id.into(),
        lines: lines.iter().map(|(sku, q)| Line::new(*sku, *q)).collect(),
    }
}

/// Units of SKU-1 of job `job` at S1, held by reservation `reservation`.
fn job(job: &str, reservation: &str, quantity: i64, at: DateTime<Utc>) -> JobUnits {
    JobUnits {
        job: job.into(),
        reservation_id: reservation.into(),
        location: "S1".into(),
        lines: if quantity == 0 {
            Vec::new()
        } else {
            vec![Line::new("SKU-1", quantity)]
        },
        at,
    }
}

fn on_hand(scenario: &Scenario<Ledger>) -> i64 {
    scenario.state().position("SKU-1", "S1").map_or(0, |p| p.on_hand)
}

fn atp(scenario: &Scenario<Ledger>) -> i64 {
    scenario
        .state()
        .position("SKU-1", "S1")
        .map_or(0, oms_inventory_ledger::domain::Position::available_to_promise)
}

/// (on hand, reserved, available to promise) of SKU-1 at S1.
fn figures(scenario: &Scenario<Ledger>) -> (i64, i64, i64) {
    let p = scenario.state().position("SKU-1", "S1").cloned().unwrap_or_default();
    (p.on_hand, p.reserved, p.available_to_promise())
}

fn status(scenario: &Scenario<Ledger>, id: &str) -> ReservationStatus {
    scenario
        .state()
        .reservation(id)
        .map(|r| r.status)
        .expect("the reservation")
}

// ---------------------------------------------------------------------------------------
// Stock movements.

#[test]
fn a_receipt_raises_on_hand_and_what_can_be_promised() {
    let after = stocked(10)
        .at(t(1))
        .when(record(movement("m-1", MovementKind::Receipt, 5, t(1))))
        .then([moved("m-1", MovementKind::Receipt, 5, 5, t(1))]);
    assert_eq!((on_hand(&after), atp(&after)), (15, 15));
}

#[test]
fn a_sale_of_stock_the_ledger_did_not_know_about_leaves_on_hand_negative_and_flagged() {
    let after = stocked(2)
        .at(t(1))
        .when(record(movement("m-1", MovementKind::Sale, 5, t(1))))
        .then([moved("m-1", MovementKind::Sale, 5, -5, t(1))]);
    let position = after.state().position("SKU-1", "S1").unwrap();
    assert_eq!(position.on_hand, -3);
    assert!(position.negative_on_hand());
    assert_eq!(position.available_to_promise(), 0, "never promised below zero");
}

#[test]
fn a_movement_sent_twice_is_applied_once() {
    let after = stocked(10)
        .at(t(1))
        .when(record(movement("m-1", MovementKind::Sale, 3, t(1))))
        .then([moved("m-1", MovementKind::Sale, 3, -3, t(1))])
        .when(record(movement("m-1", MovementKind::Sale, 3, t(1))))
        .then_nothing();
    assert_eq!(on_hand(&after), 7);
}

#[test]
fn a_late_cycle_count_keeps_the_movements_that_came_after_it() {
    let after = stocked(10)
        .at(t(40))
        .and([
            moved("sale-1", MovementKind::Sale, 2, -2, t(10)),
            moved("sale-2", MovementKind::Sale, 1, -1, t(30)),
        ])
        // The shelf was counted at minute 20 (after the first sale, before the second): 6 units.
        .when(record(movement("count-1", MovementKind::CycleCount, 6, t(20))))
        .then([counted("count-1", 6, -2, t(20))]);
    assert_eq!(on_hand(&after), 5, "6 counted, then 1 sold");
    assert_eq!(
        after.state().position("SKU-1", "S1").unwrap().last_counted_at,
        Some(t(20))
    );
}

#[test]
fn a_movement_that_occurred_before_the_last_count_is_already_in_it() {
    let after = stocked(10)
        .at(t(40))
        .and([counted("count-1", 8, -2, t(20))])
        .when(record(movement("sale-late", MovementKind::Sale, 1, t(15))))
        .then([moved("sale-late", MovementKind::Sale, 1, 0, t(15))]);
    assert_eq!(on_hand(&after), 8, "recorded, not applied");
    // An older count than the last one changes nothing either.
    let after = after
        .when(record(movement("count-0", MovementKind::CycleCount, 3, t(5))))
        .then([counted("count-0", 3, 0, t(5))]);
    assert_eq!(on_hand(&after), 8);
}

#[test]
fn a_count_older_than_the_movements_kept_to_reconcile_it_is_refused() {
    let days = |d: i64| t(0) + Duration::days(d);
    stocked(10)
        .at(days(40))
        .and([moved("sale-1", MovementKind::Sale, 1, -1, days(40))])
        .when(record(movement("count-1", MovementKind::CycleCount, 4, days(5))))
        .then_error(LedgerError::CountTooOld(days(5).to_rfc3339(), 30));
}

#[test]
fn malformed_movements_are_refused_naming_the_field() {
    let ledger = stocked(1).at(t(1));
    let ledger = ledger
        .when(record(movement("m-1", MovementKind::Sale, 0, t(1))))
        .then_error(invalid(&[("quantity", "a sale must be of 1 unit or more")]))
        .when(record(movement("m-2", MovementKind::Adjustment, 0, t(1))))
        .then_refused(
            |e| matches!(e, LedgerError::Invalid(f) if f.iter().next().is_some_and(|v| v.field == "quantity")),
        )
        .when(record(movement("m-2", MovementKind::CycleCount, -1, t(1))))
        .then_error(LedgerError::invalid("quantity", "a count cannot be negative"))
        .when(record(Movement {
            movement_id: " ".into(),
            sku: Sku::default(),
            ..movement("m-3", MovementKind::Receipt, 1, t(1))
        }))
        .then_error(invalid(&[("movement_id", "is required"), ("sku", "is required")]))
        .when(record(Movement {
            location: "S9".into(),
            ..movement("m-3", MovementKind::Receipt, 1, t(1))
        }))
        .then_error(LedgerError::UnknownLocation("S9".into()));
    ledger
        .when(RecordMovement {
            movement: movement("m-4", MovementKind::Receipt, 1, t(1)),
            unknown_skus: UnknownSkus::Refuse,
        })
        .then_error(LedgerError::UnknownSku("SKU-1".into()));
}

#[test]
fn under_a_policy_refusing_unknown_skus_a_registered_sku_moves() {
    let refusing = |m: Movement| RecordMovement {
        movement: m,
        unknown_skus: UnknownSkus::Refuse,
    };
    Scenario::<Ledger>::given([location_set(&store("S1"))])
        .at(t(1))
        .when(refusing(movement("m-1", MovementKind::Receipt, 4, t(1))))
        .then_error(LedgerError::UnknownSku("SKU-1".into()))
        .when(RegisterSkus {
            skus: vec!["SKU-1".into(), "SKU-2".into(), "SKU-1".into()],
        })
        .then([
            Change::new("sku:SKU-1", LedgerEvent::SkuRegistered { sku: "SKU-1".into() }),
            Change::new("sku:SKU-2", LedgerEvent::SkuRegistered { sku: "SKU-2".into() }),
        ])
        .when(RegisterSkus {
            skus: vec!["SKU-2".into(), "SKU-3".into()],
        })
        .then([Change::new(
            "sku:SKU-3",
            LedgerEvent::SkuRegistered { sku: "SKU-3".into() },
        )])
        .when(RegisterSkus {
            skus: vec!["SKU-4".into(), " ".into()],
        })
        .then_error(LedgerError::invalid("skus[1]", "is empty"))
        .when(refusing(movement("m-1", MovementKind::Receipt, 4, t(1))))
        .then([moved("m-1", MovementKind::Receipt, 4, 4, t(1))]);
}

// ---------------------------------------------------------------------------------------
// Reservations.

#[test]
fn a_reservation_holds_every_line_or_nothing() {
    let after = stocked(5)
        .at(t(1))
        .when(reserve("r-1", &[("SKU-1", 3), ("SKU-2", 1)], ""))
        .then_error(LedgerError::InsufficientStock(vec![Shortfall {
            sku: "SKU-2".into(),
            requested: 1,
            available: 0,
        }]));
    assert_eq!(atp(&after), 5, "nothing was held");
    let after = after
        .when(reserve("r-2", &[("SKU-1", 3)], ""))
        .then(placed("r-2", &[("SKU-1", 3)], "", t(31)));
    assert_eq!(figures(&after), (5, 3, 2));
}

#[test]
fn lines_of_the_same_sku_are_held_as_one_and_a_hold_without_a_time_lasts_the_default() {
    let mut without_time = reserve("r-1", &[("SKU-1", 1), ("SKU-1", 2)], "web");
    without_time.request.ttl = Duration::zero();
    let after = stocked(5)
        .at(t(1))
        .when(without_time)
        .then(placed("r-1", &[("SKU-1", 3)], "web", t(61)));
    assert_eq!(figures(&after), (5, 3, 2));
}

#[test]
fn a_malformed_reservation_is_refused_naming_every_field() {
    let mut bad = reserve(" ", &[("", 1), ("SKU-1", 0)], "");
    bad.request.location = LocationId::default();
    bad.request.ttl = Duration::minutes(-1);
    stocked(5)
        .when(bad)
        .then_error(invalid(&[
            ("reservation_id", "is required"),
            ("location_id", "is required"),
            ("lines[0].sku", "is required"),
            ("lines[1].quantity", "must be 1 or more"),
            ("ttl_seconds", "cannot be negative"),
        ]))
        .when(reserve("r-1", &[], ""))
        .then_error(LedgerError::invalid("lines", "at least one line is required"));
}

#[test]
fn a_reservation_at_an_unknown_location_or_of_an_unknown_sku_is_refused() {
    let mut elsewhere = reserve("r-1", &[("SKU-1", 1)], "");
    elsewhere.request.location = "S9".into();
    let mut unknown_sku = reserve("r-2", &[("SKU-1", 1)], "");
    unknown_sku.unknown_skus = UnknownSkus::Refuse;
    stocked(5)
        .when(elsewhere)
        .then_error(LedgerError::UnknownLocation("S9".into()))
        .when(unknown_sku)
        .then_error(LedgerError::UnknownSku("SKU-1".into()));
}

#[test]
fn the_same_reservation_id_returns_the_reservation_placed_first() {
    let after = stocked(5)
        .at(t(1))
        .when(reserve("r-1", &[("SKU-1", 2)], ""))
        .then(placed("r-1", &[("SKU-1", 2)], "", t(31)))
        .at(t(2))
        .when(reserve("r-1", &[("SKU-1", 2)], ""))
        .then_nothing();
    let first = after.state().reservation("r-1").unwrap();
    assert_eq!((first.reservation_id.as_str(), first.held[0].quantity), ("r-1", 2));
    after
        .when(reserve("r-1", &[("SKU-1", 4)], ""))
        .then_error(LedgerError::ReservationIdReused("r-1".into()));
}

#[test]
fn a_channel_with_a_holdback_leaves_the_last_units_to_the_others() {
    let rule = ChannelRule {
        channel: "marketplace".into(),
        holdback_units: 3,
        share_percent: 100,
    };
    let after = stocked(5)
        .at(t(1))
        .when(SetChannelRule { rule: rule.clone() })
        .then([Change::new(
            "channel:marketplace",
            LedgerEvent::ChannelRuleSet {
                rule: ChannelRuleTerms::from(&rule),
            },
        )])
        .when(reserve("r-1", &[("SKU-1", 3)], "marketplace"))
        .then_refused(|e| matches!(e, LedgerError::InsufficientStock(s) if s[0].available == 2))
        .when(reserve("r-2", &[("SKU-1", 2)], "marketplace"))
        .then(placed("r-2", &[("SKU-1", 2)], "marketplace", t(31)))
        // The web shop still gets the last three.
        .when(reserve("r-3", &[("SKU-1", 3)], "web"))
        .then(placed("r-3", &[("SKU-1", 3)], "web", t(31)));
    assert_eq!(atp(&after), 0);
    let share = ChannelRule {
        channel: "call-centre".into(),
        holdback_units: 0,
        share_percent: 50,
    };
    assert_eq!(share.apply(5), 2, "half of five, rounded down");
}

#[test]
fn a_channel_rule_is_set_once_and_refused_when_it_makes_no_sense() {
    let rule = ChannelRule {
        channel: "marketplace".into(),
        holdback_units: 1,
        share_percent: 50,
    };
    Scenario::<Ledger>::given([Change::new(
        "channel:marketplace",
        LedgerEvent::ChannelRuleSet {
            rule: ChannelRuleTerms::from(&rule),
        },
    )])
    .when(SetChannelRule { rule: rule.clone() })
    .then_nothing()
    .when(SetChannelRule {
        rule: ChannelRule {
            channel: " ".into(),
            holdback_units: -1,
            share_percent: 0,
        },
    })
    .then_error(invalid(&[
        ("channel", "is required"),
        ("holdback_units", "cannot be negative"),
        ("share_percent", "must be between 1 and 100"),
    ]));
}

#[test]
fn held_units_are_consumed_when_they_ship_and_given_back_when_released() {
    let after = stocked(10)
        .at(t(1))
        .when(reserve("r-1", &[("SKU-1", 4)], ""))
        .then(placed("r-1", &[("SKU-1", 4)], "", t(31)))
        .at(t(2))
        .when(consume("r-1", &[("SKU-1", 1)]))
        .then(consumed("r-1", 1));
    assert_eq!(figures(&after).0, 9);
    assert_eq!(figures(&after).1, 3);
    let after = after
        .at(t(3))
        .when(release("r-1", &[]))
        .then(released("r-1", 3, "cancelled"));
    assert_eq!(figures(&after), (9, 0, 9));
    assert_eq!(status(&after, "r-1"), ReservationStatus::Consumed, "part of it shipped");
    // Released again, or consumed again, it is answered as it is: nothing changes.
    after
        .when(release("r-1", &[]))
        .then_nothing()
        .when(consume("r-1", &[("SKU-1", 1)]))
        .then_nothing()
        // Units it gave back cannot leave from it now.
        .when(consume("r-1", &[("SKU-1", 2)]))
        .then_error(LedgerError::MoreThanHeld {
            reservation_id: "r-1".into(),
            sku: "SKU-1".into(),
            held: 0,
            requested: 2,
        });
}

#[test]
fn part_of_a_hold_is_given_back_and_the_rest_stays_held() {
    let after = stocked(10)
        .at(t(1))
        .when(reserve("r-1", &[("SKU-1", 4)], ""))
        .then(placed("r-1", &[("SKU-1", 4)], "", t(31)))
        .when(release("r-1", &[("SKU-1", 1), ("SKU-1", 2)]))
        .then(released("r-1", 3, "cancelled"));
    assert_eq!(figures(&after), (10, 1, 9));
    assert_eq!(status(&after, "r-1"), ReservationStatus::Active);
    after
        .when(release("r-1", &[("SKU-1", 2)]))
        .then_error(LedgerError::MoreThanHeld {
            reservation_id: "r-1".into(),
            sku: "SKU-1".into(),
            held: 1,
            requested: 2,
        })
        .when(release("r-1", &[("SKU-1", 0)]))
        .then_error(LedgerError::invalid("lines[0].quantity", "must be 1 or more"))
        .when(release("", &[]))
        .then_error(LedgerError::invalid("reservation_id", "is required"))
        .when(release("r-9", &[]))
        .then_error(LedgerError::UnknownReservation("r-9".into()));
}

/// Reservation r-1 of 2 units of SKU-1 at S1 (10 on hand), after `steps`, a minute apart.
fn reservation_after(steps: &[&str]) -> Scenario<Ledger> {
    let mut scenario = stocked(10)
        .at(t(1))
        .when(reserve("r-1", &[("SKU-1", 2)], ""))
        .then(placed("r-1", &[("SKU-1", 2)], "", t(31)));
    for (i, step) in steps.iter().enumerate() {
        let at = t(2 + i as i64);
        scenario = match *step {
            "consume 1" => scenario.at(at).when(consume("r-1", &[("SKU-1", 1)])).then_check(|_| ()),
            "consume all" => scenario.at(at).when(consume("r-1", &[])).then_check(|_| ()),
            "release" => scenario.at(at).when(release("r-1", &[])).then_check(|_| ()),
            "lapse" => scenario.at(t(24 * 60)).when(ExpireDue { limit: 10 }).then_check(|_| ()),
            other => panic!("no step {other}"),
        };
    }
    scenario
}

#[test]
fn a_release_sent_again_is_answered_with_the_reservation_as_it_is_whatever_became_of_it() {
    for (history, expected) in [
        (&["release"][..], ReservationStatus::Released),
        (&["consume all"][..], ReservationStatus::Consumed),
        (&["consume 1", "release"][..], ReservationStatus::Consumed),
        (&["lapse"][..], ReservationStatus::Expired),
        (&["consume 1", "lapse"][..], ReservationStatus::Expired),
    ] {
        let ledger = reservation_after(history);
        assert_eq!(status(&ledger, "r-1"), expected, "{history:?}");
        // Nothing held, nothing to give back.
        ledger
            .when(release("r-1", &[]))
            .then_nothing()
            .when(release("r-1", &[("SKU-1", 1)]))
            .then_nothing();
    }
}

#[test]
fn a_consume_sent_again_is_answered_as_it_is_and_units_never_consumed_cannot_leave_a_closed_hold() {
    for (history, consumed_again) in [
        (&["consume all"][..], 2),
        (&["consume 1", "release"][..], 1),
        (&["consume 1", "lapse"][..], 1),
    ] {
        reservation_after(history)
            .when(consume("r-1", &[]))
            .then_nothing()
            .when(consume("r-1", &[("SKU-1", consumed_again)]))
            .then_nothing();
    }
    for (history, status) in [(&["release"][..], "released"), (&["lapse"][..], "expired")] {
        reservation_after(history)
            .when(consume("r-1", &[]))
            .then_error(LedgerError::ReservationClosed {
                reservation_id: "r-1".into(),
                status,
                action: "consumed",
            });
    }
}

#[test]
fn more_than_is_held_cannot_be_consumed() {
    stocked(10)
        .at(t(1))
        .when(reserve("r-1", &[("SKU-1", 2)], ""))
        .then(placed("r-1", &[("SKU-1", 2)], "", t(31)))
        .when(consume("r-1", &[("SKU-1", 3)]))
        .then_error(LedgerError::MoreThanHeld {
            reservation_id: "r-1".into(),
            sku: "SKU-1".into(),
            held: 2,
            requested: 3,
        })
        .when(consume("r-9", &[]))
        .then_error(LedgerError::UnknownReservation("r-9".into()));
}

#[test]
fn a_hold_lapses_after_its_time_and_the_units_come_back() {
    let after = stocked(10)
        .when(reserve("r-1", &[("SKU-1", 4)], ""))
        .then(placed("r-1", &[("SKU-1", 4)], "", t(30)))
        .at(t(29))
        .when(ExpireDue { limit: 100 })
        .then_nothing()
        .at(t(30))
        .when(ExpireDue { limit: 100 })
        .then([
            Change::new(
                "reservation:r-1",
                LedgerEvent::ReservationExpired {
                    reservation_id: "r-1".into(),
                    lines: vec![Line::new("SKU-1", 4)],
                },
            ),
            on_shelf(LedgerEvent::ReservedUnitsReleased {
                sku: "SKU-1".into(),
                location: "S1".into(),
                reservation_id: "r-1".into(),
                quantity: 4,
            }),
        ]);
    assert_eq!(atp(&after), 10);
    assert_eq!(status(&after, "r-1"), ReservationStatus::Expired);
    after.at(t(60)).when(ExpireDue { limit: 100 }).then_nothing();
}

#[test]
fn an_inactive_location_promises_nothing() {
    let closed = LocationRecord {
        active: false,
        ..store("S1")
    };
    stocked(5)
        .at(t(1))
        .when(UpsertLocation {
            location: closed.clone(),
        })
        .then([location_set(&closed)])
        .when(reserve("r-1", &[("SKU-1", 1)], ""))
        .then_error(LedgerError::InactiveLocation("S1".into()));
}

// ---------------------------------------------------------------------------------------
// Master data.

#[test]
fn a_location_set_as_it_is_changes_nothing_and_one_off_the_map_is_refused() {
    let off_the_map = LocationRecord {
        location: Some(GeoPoint {
            latitude: 91.0,
            longitude: -181.0,
        }),
        ..store("S2")
    };
    stocked(5)
        .when(UpsertLocation { location: store("S1") })
        .then_nothing()
        .when(UpsertLocation { location: off_the_map })
        .then_error(invalid(&[
            ("address.location.latitude", "must be between -90 and 90"),
            ("address.location.longitude", "must be between -180 and 180"),
        ]))
        .when(UpsertLocation { location: store(" ") })
        .then_error(LedgerError::invalid("location_id", "is required"));
}

#[test]
fn safety_stock_is_kept_back_from_what_is_promised() {
    let keep = |quantity| SetSafetyStock {
        sku: "SKU-1".into(),
        location: "S1".into(),
        quantity,
        unknown_skus: UnknownSkus::Accept,
    };
    let after = stocked(5)
        .at(t(1))
        .when(keep(2))
        .then([on_shelf(LedgerEvent::SafetyStockSet {
            sku: "SKU-1".into(),
            location: "S1".into(),
            quantity: 2,
        })])
        .when(keep(2))
        .then_nothing();
    assert_eq!(figures(&after), (5, 0, 3));
    after
        .when(reserve("r-1", &[("SKU-1", 4)], ""))
        .then_refused(|e| matches!(e, LedgerError::InsufficientStock(s) if s[0].available == 3))
        .when(keep(-1))
        .then_error(LedgerError::invalid("quantity", "cannot be negative"))
        .when(SetSafetyStock {
            location: "S9".into(),
            ..keep(1)
        })
        .then_error(LedgerError::UnknownLocation("S9".into()))
        .when(SetSafetyStock {
            unknown_skus: UnknownSkus::Refuse,
            ..keep(1)
        })
        .then_error(LedgerError::UnknownSku("SKU-1".into()));
}

// ---------------------------------------------------------------------------------------
// What fulfilment and returns report.

#[test]
fn a_store_rejecting_for_missing_stock_gives_the_hold_back_and_writes_the_units_off() {
    let rejected = |reason| JobRejected {
        job: job("job-1", "r-1", 2, t(2)),
        reason,
    };
    let after = stocked(5)
        .at(t(1))
        .when(reserve("r-1", &[("SKU-1", 2)], ""))
        .then(placed("r-1", &[("SKU-1", 2)], "", t(31)))
        .at(t(2))
        .when(rejected(RejectReason::OutOfStock))
        .then(
            released("r-1", 2, "job job-1 rejected: out of stock")
                .into_iter()
                .chain([moved("job-1/SKU-1", MovementKind::WriteOff, 2, -2, t(2))]),
        );
    assert_eq!(figures(&after), (3, 0, 3));
    // The same reject again writes nothing off twice.
    after.when(rejected(RejectReason::OutOfStock)).then_nothing();
}

/// The write-off rule: units a store found missing or damaged leave the shelf; a reject
/// for any other reason only gives the hold back.
#[test]
fn only_a_reject_for_missing_or_damaged_stock_writes_the_units_off() {
    let reject = |reason| {
        stocked(5)
            .at(t(1))
            .when(reserve("r-1", &[("SKU-1", 2)], ""))
            .then(placed("r-1", &[("SKU-1", 2)], "", t(31)))
            .at(t(2))
            .when(JobRejected {
                job: job("job-1", "r-1", 2, t(2)),
                reason,
            })
    };
    let damaged = reject(RejectReason::Damaged).then(
        released("r-1", 2, "job job-1 rejected: damaged")
            .into_iter()
            .chain([moved("job-1/SKU-1", MovementKind::WriteOff, 2, -2, t(2))]),
    );
    assert_eq!((on_hand(&damaged), atp(&damaged)), (3, 3));
    for (reason, why) in [
        (RejectReason::Capacity, "no capacity"),
        (RejectReason::AcceptanceTimeout, "not accepted in time"),
        (RejectReason::Unstated, "no reason given"),
    ] {
        let after = reject(reason).then(released("r-1", 2, &format!("job job-1 rejected: {why}")));
        assert_eq!((on_hand(&after), atp(&after)), (5, 5), "{reason:?}");
    }
}

#[test]
fn a_job_taken_back_without_lines_gives_back_everything_its_reservation_holds() {
    let after = stocked(5)
        .at(t(1))
        .when(reserve("r-1", &[("SKU-1", 3)], ""))
        .then(placed("r-1", &[("SKU-1", 3)], "", t(31)))
        .when(consume("r-1", &[("SKU-1", 1)]))
        .then(consumed("r-1", 1))
        .when(JobDropped {
            job: job("fr-1", "r-1", 0, t(1)),
            reason: "taken back".into(),
        })
        .then(released("r-1", 2, "taken back"));
    assert_eq!(figures(&after), (4, 0, 4));
}

#[test]
fn shipped_units_leave_stock_from_their_hold_and_returned_ones_come_back() {
    let restock = |at| Restock {
        reference: "return-1".into(),
        location: "S1".into(),
        lines: vec![Line::new("SKU-1", 1)],
        at,
    };
    let after = stocked(5)
        .at(t(1))
        .when(reserve("r-1", &[("SKU-1", 2)], ""))
        .then(placed("r-1", &[("SKU-1", 2)], "", t(31)))
        // Three units shipped: two were held, one was not.
        .at(t(2))
        .when(UnitsLeft {
            job: job("job-1", "r-1", 3, t(2)),
        })
        .then(
            consumed("r-1", 2)
                .into_iter()
                .chain([moved("job-1/SKU-1", MovementKind::Shipment, 1, -1, t(2))]),
        );
    assert_eq!((figures(&after).0, figures(&after).1), (2, 0));
    assert_eq!(status(&after, "r-1"), ReservationStatus::Consumed);
    let after = after
        .at(t(3))
        .when(restock(t(3)))
        .then([moved("return-1/SKU-1", MovementKind::Restock, 1, 1, t(3))]);
    assert_eq!(on_hand(&after), 3);
    // Once per return.
    after.at(t(4)).when(restock(t(4))).then_nothing();
}

#[test]
fn units_that_left_without_a_hold_leave_stock_once_and_a_parcel_collected_where_it_was_consumed_leaves_nothing() {
    let after = stocked(5)
        .at(t(1))
        .when(UnitsLeft {
            job: job("job-1", "r-none", 2, t(1)),
        })
        .then([moved("job-1/SKU-1", MovementKind::Shipment, 2, -2, t(1))])
        .when(UnitsLeft {
            job: job("job-1", "r-none", 2, t(1)),
        })
        .then_nothing();
    assert_eq!(on_hand(&after), 3);
    // Shipped to the store from its own stock, then collected there: consumed once.
    let after = after
        .when(reserve("r-1", &[("SKU-1", 1)], ""))
        .then(placed("r-1", &[("SKU-1", 1)], "", t(31)))
        .when(consume("r-1", &[]))
        .then(consumed("r-1", 1))
        .when(UnitsLeft {
            job: job("job-2", "r-1", 1, t(2)),
        })
        .then_nothing();
    assert_eq!(on_hand(&after), 2);
}
