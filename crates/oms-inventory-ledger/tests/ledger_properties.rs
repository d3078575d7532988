//! Invariants of the ledger under random sequences of movements, reservations, releases,
//! consumptions, expiries and rejected jobs: reserved units are exactly what active
//! reservations hold, nothing is promised below zero, on hand is the sum of what moved,
//! and the state rebuilt from the events equals the live one.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use oms_eventsourcing::testing::Scenario;
use oms_eventsourcing::{Change, Changes, Decide, state_digest};
use oms_inventory_ledger::domain::{
    ConsumeReservation, ExpireDue, JobRejected, JobUnits, Ledger, LedgerEvent, LedgerPolicy, Line, LocationRecord,
    Movement, MovementKind, NodeType, Position, RecordMovement, RejectReason, ReleaseReservation, ReservationStatus,
    Reserve, ReserveStock, UpsertLocation,
};
use proptest::prelude::*;

const SKUS: [&str; 2] = ["SKU-A", "SKU-B"];
const LOCATIONS: [&str; 2] = ["S1", "W1"];

#[derive(Debug, Clone)]
enum Op {
    Move {
        kind: u8,
        sku: usize,
        location: usize,
        quantity: i64,
        minute: i64,
    },
    Count {
        sku: usize,
        location: usize,
        quantity: i64,
        minute: i64,
    },
    Reserve {
        id: u8,
        location: usize,
        a: i64,
        b: i64,
    },
    Release {
        id: u8,
        partial: bool,
    },
    Consume {
        id: u8,
        partial: bool,
    },
    Expire {
        minute: i64,
    },
    Reject {
        id: u8,
        write_off: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..6, 0usize..2, 0usize..2, 1i64..8, 0i64..300)
            .prop_map(|(kind, sku, location, quantity, minute)| Op::Move { kind, sku, location, quantity, minute }),
        1 => (0usize..2, 0usize..2, 0i64..10, 0i64..300)
            .prop_map(|(sku, location, quantity, minute)| Op::Count { sku, location, quantity, minute }),
        3 => (0u8..8, 0usize..2, 0i64..4, 0i64..4).prop_map(|(id, location, a, b)| Op::Reserve { id, location, a, b }),
        1 => (0u8..8, any::<bool>()).prop_map(|(id, partial)| Op::Release { id, partial }),
        1 => (0u8..8, any::<bool>()).prop_map(|(id, partial)| Op::Consume { id, partial }),
        1 => (0i64..400).prop_map(|minute| Op::Expire { minute }),
        1 => (0u8..8, any::<bool>()).prop_map(|(id, write_off)| Op::Reject { id, write_off }),
    ]
}

fn t(minute: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-02T09:00:00Z").unwrap().to_utc() + Duration::minutes(minute)
}

/// The ledger as the writer folds it (the core's scenario harness), and every change with
/// when it was recorded.
struct World {
    scenario: Scenario<Ledger>,
    log: Vec<(DateTime<Utc>, Change<LedgerEvent>)>,
    now: i64,
    next_movement: u64,
}

impl World {
    fn new() -> Self {
        let mut world = Self {
            scenario: Scenario::nothing(),
            log: Vec::new(),
            now: 0,
            next_movement: 0,
        };
        for (i, id) in LOCATIONS.iter().enumerate() {
            let record = LocationRecord {
                location_id: (*id).into(),
                kind: if i == 0 { NodeType::Store } else { NodeType::Warehouse },
                name: (*id).into(),
                attributes: Default::default(),
                location: None,
                active: true,
            };
            let changes = world.decide(UpsertLocation { location: record }).unwrap();
            world.apply(changes);
        }
        world
    }

    fn ledger(&self) -> &Ledger {
        self.scenario.state()
    }

    /// What `command` decides against the ledger now.
    fn decide<C: Decide<Ledger>>(&self, command: C) -> Result<Changes<LedgerEvent>, C::Refusal> {
        command.decide(self.ledger(), t(self.now))
    }

    /// Records `changes` as the writer would, now.
    fn apply(&mut self, changes: Changes<LedgerEvent>) {
        let at = t(self.now);
        self.log.extend(changes.iter().map(|change| (at, change.clone())));
        let scenario = std::mem::replace(&mut self.scenario, Scenario::nothing());
        self.scenario = scenario.at(at).and(changes);
    }

    fn run(&mut self, op: &Op) {
        let policy = LedgerPolicy::default();
        let kinds = [
            MovementKind::Sale,
            MovementKind::Return,
            MovementKind::Receipt,
            MovementKind::Adjustment,
            MovementKind::TransferOut,
            MovementKind::TransferIn,
        ];
        let changes = match op.clone() {
            Op::Move {
                kind,
                sku,
                location,
                quantity,
                minute,
            } => {
                self.next_movement += 1;
                let kind = kinds[kind as usize];
                let quantity = if kind == MovementKind::Adjustment && minute % 2 == 0 {
                    -quantity
                } else {
                    quantity
                };
                let m = Movement {
                    movement_id: format!("m-{}", self.next_movement),
                    location: LOCATIONS[location].into(),
                    sku: SKUS[sku].into(),
                    kind,
                    quantity,
                    occurred_at: t(minute),
                };
                self.decide(RecordMovement {
                    movement: m,
                    unknown_skus: policy.unknown_skus,
                })
                .unwrap_or_default()
            }
            Op::Count {
                sku,
                location,
                quantity,
                minute,
            } => {
                self.next_movement += 1;
                let m = Movement {
                    movement_id: format!("c-{}", self.next_movement),
                    location: LOCATIONS[location].into(),
                    sku: SKUS[sku].into(),
                    kind: MovementKind::CycleCount,
                    quantity,
                    occurred_at: t(minute),
                };
                self.decide(RecordMovement {
                    movement: m,
                    unknown_skus: policy.unknown_skus,
                })
                .unwrap_or_default()
            }
            Op::Reserve { id, location, a, b } => {
                let lines: Vec<Line> = [(SKUS[0], a), (SKUS[1], b)]
                    .into_iter()
                    .filter(|(_, q)| *q > 0)
                    .map(|(s, q)| Line::new(s, q))
                    .collect();
                let request = ReserveStock {
                    reservation_id: format!("r-{id}").into(),
                    reference: "order".into(),
                    location: LOCATIONS[location].into(),
                    lines,
                    ttl: Duration::minutes(60),
                    channel: String::new(),
                };
                self.decide(Reserve {
                    request,
                    unknown_skus: policy.unknown_skus,
                    default_ttl: policy.default_ttl,
                })
                .unwrap_or_default()
            }
            Op::Release { id, partial } => {
                let lines = self.partial_lines(id, partial);
                let cmd = ReleaseReservation {
                    reservation_id: format!("r-{id}").into(),
                    lines,
                    reason: "test".into(),
                };
                self.decide(cmd).unwrap_or_default()
            }
            Op::Consume { id, partial } => {
                let lines = self.partial_lines(id, partial);
                let cmd = ConsumeReservation {
                    reservation_id: format!("r-{id}").into(),
                    lines,
                };
                self.decide(cmd).unwrap_or_default()
            }
            Op::Expire { minute } => {
                self.now = self.now.max(minute);
                let Ok(changes) = self.decide(ExpireDue { limit: 100 });
                changes
            }
            Op::Reject { id, write_off } => {
                let id = format!("r-{id}");
                let Some(r) = self.ledger().reservation(&id).cloned() else {
                    return;
                };
                let job = JobUnits {
                    job: "job".into(),
                    reservation_id: id.into(),
                    location: r.location,
                    lines: r.lines,
                    at: t(self.now),
                };
                let reason = if write_off {
                    RejectReason::OutOfStock
                } else {
                    RejectReason::Capacity
                };
                let Ok(changes) = self.decide(JobRejected { job, reason });
                changes
            }
        };
        self.apply(changes);
    }

    fn partial_lines(&self, id: u8, partial: bool) -> Vec<Line> {
        match (partial, self.ledger().reservation(&format!("r-{id}"))) {
            (true, Some(r)) => r
                .held
                .iter()
                .filter(|l| l.quantity > 0)
                .map(|l| Line::new(l.sku.clone(), 1))
                .take(1)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// A position as of a time after everything happened is the live position.
    fn check_the_past_ends_in_the_present(&self) -> Result<(), TestCaseError> {
        for sku in SKUS {
            for location in LOCATIONS {
                let Some(live) = self.ledger().position(sku, location) else {
                    continue;
                };
                let events = self
                    .log
                    .iter()
                    .filter(|(_, change)| {
                        change
                            .event
                            .position()
                            .is_some_and(|(s, l)| *s == sku && *l == location)
                    })
                    .map(|(at, change)| (&change.event, *at));
                let then = Position::as_of(events, t(100_000));
                prop_assert_eq!(then.figures(), live.figures(), "{} at {}", sku, location);
                prop_assert_eq!(then.last_counted_at, live.last_counted_at);
            }
        }
        Ok(())
    }

    fn check_invariants(&self) -> Result<(), TestCaseError> {
        let mut held: HashMap<(String, String), i64> = HashMap::new();
        let mut moved: HashMap<(String, String), i64> = HashMap::new();
        for (_, Change { event, .. }) in &self.log {
            match event {
                LedgerEvent::StockMoved {
                    sku, location, delta, ..
                }
                | LedgerEvent::StockCounted {
                    sku, location, delta, ..
                } => {
                    *moved.entry((sku.to_string(), location.to_string())).or_default() += delta;
                }
                LedgerEvent::ReservedUnitsConsumed {
                    sku,
                    location,
                    quantity,
                    ..
                } => {
                    *moved.entry((sku.to_string(), location.to_string())).or_default() -= quantity;
                }
                _ => {}
            }
        }
        for id in 0..8 {
            if let Some(r) = self.ledger().reservation(&format!("r-{id}")) {
                for line in &r.held {
                    prop_assert!(line.quantity >= 0, "held below zero: {r:?}");
                    prop_assert!(line.quantity <= r.lines.iter().find(|l| l.sku == line.sku).map_or(0, |l| l.quantity));
                    if r.status == ReservationStatus::Active {
                        *held.entry((line.sku.to_string(), r.location.to_string())).or_default() += line.quantity;
                    }
                }
            }
        }
        for sku in SKUS {
            for location in LOCATIONS {
                let key = (sku.to_owned(), location.to_owned());
                let Some(p) = self.ledger().position(sku, location) else {
                    continue;
                };
                prop_assert_eq!(
                    p.reserved,
                    held.get(&key).copied().unwrap_or(0),
                    "reserved = held by active reservations"
                );
                prop_assert!(p.reserved >= 0);
                prop_assert_eq!(p.on_hand, moved.get(&key).copied().unwrap_or(0), "on hand = what moved");
                prop_assert!(p.available_to_promise() >= 0);
                prop_assert!(p.available_to_promise() <= p.on_hand.max(0));
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn stock_stays_consistent_and_replay_equals_live(ops in proptest::collection::vec(op(), 1..80)) {
        let mut world = World::new();
        for op in &ops {
            world.run(op);
            world.check_invariants()?;
        }
        let mut rebuilt = Scenario::<Ledger>::nothing();
        for (at, change) in &world.log {
            rebuilt = rebuilt.at(*at).and([change.clone()]);
        }
        prop_assert_eq!(state_digest(rebuilt.state()), state_digest(world.ledger()));
        world.check_the_past_ends_in_the_present()?;
    }

    /// Promised units never exceed what is on hand: concurrent-looking interleavings of
    /// reservations over one position never hold more than was there.
    #[test]
    fn a_position_never_holds_more_than_it_has(reservations in proptest::collection::vec(1i64..5, 1..40), stock in 0i64..30) {
        let mut world = World::new();
        world.run(&Op::Move { kind: 2, sku: 0, location: 0, quantity: stock.max(1), minute: 0 });
        for (i, quantity) in reservations.iter().enumerate() {
            world.run(&Op::Reserve { id: (i % 8) as u8, location: 0, a: *quantity, b: 0 });
        }
        let p = world.ledger().position(SKUS[0], LOCATIONS[0]).unwrap();
        prop_assert!(p.reserved <= p.on_hand);
    }
}
