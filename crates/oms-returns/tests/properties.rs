//! Properties of returns over random orders and histories: the money refunded (or being
//! refunded) for an order never exceeds what was paid for it, no line is returned beyond
//! what was delivered, and the state rebuilt from the log equals the live one.

use chrono::{DateTime, Duration, TimeZone, Utc};
use oms_eventsourcing::testing::Scenario;
use oms_eventsourcing::{Change, Decide, state_digest};
use oms_returns::domain::{
    DeliveredLine, ExchangeLine, InspectReturn, InspectedLine, LearnOrder, LineId, LineSold, LocationId, Method,
    OrderSold, Payment, PaymentOutcome, Policy, ReceiveReturn, RecordDelivery, RecordPaymentResult, RefundId,
    RefundStatus, RetryRefunds, ReturnId, ReturnRequestLine, Returns, ReturnsError, ReturnsEvent, Sku, StartReturn,
    Tender,
};
use proptest::prelude::*;

fn t(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap() + Duration::minutes(minutes)
}

#[derive(Debug, Clone)]
enum Step {
    /// Deliver `units` of line k.
    Deliver(usize, i64),
    /// Return `units` of line k, maybe as store credit, maybe exchanged.
    Return(usize, i64, bool, bool),
    /// Receive return k (all of it).
    Receive(usize),
    /// Inspect return k: the first `damaged` units of each line damaged.
    Inspect(usize, i64),
    /// Answer refund k: confirmed or declined.
    Pay(usize, bool),
    /// Answer refund k again, the same way.
    PayAgain(usize),
    Retry(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => ((0usize..3), 1i64..3).prop_map(|(k, q)| Step::Deliver(k, q)),
        3 => ((0usize..3), 1i64..3, any::<bool>(), any::<bool>()).prop_map(|(k, q, c, x)| Step::Return(k, q, c, x)),
        2 => (0usize..8).prop_map(Step::Receive),
        2 => ((0usize..8), 0i64..2).prop_map(|(k, d)| Step::Inspect(k, d)),
        3 => ((0usize..16), any::<bool>()).prop_map(|(k, ok)| Step::Pay(k, ok)),
        1 => (0usize..16).prop_map(Step::PayAgain),
        1 => (0usize..8).prop_map(Step::Retry),
    ]
}

/// Returns as it lives: each command decided on the state so far, its changes recorded.
struct World {
    live: Option<Scenario<Returns>>,
    log: Vec<Change<ReturnsEvent>>,
    answers: Vec<(RefundId, bool)>,
}

impl World {
    fn state(&self) -> &Returns {
        self.live.as_ref().expect("a live state").state()
    }

    fn decide(
        &self,
        command: impl Decide<Returns, Refusal = ReturnsError>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Change<ReturnsEvent>>, ReturnsError> {
        command.decide(self.state(), now)
    }

    fn record(&mut self, changes: Vec<Change<ReturnsEvent>>, now: DateTime<Utc>) {
        self.log.extend(changes.iter().cloned());
        self.live = self.live.take().map(|live| live.at(now).and(changes));
    }
}

fn pay(refund_id: &RefundId, ok: bool, at: DateTime<Utc>) -> RecordPaymentResult {
    RecordPaymentResult {
        refund_id: refund_id.clone(),
        outcome: if ok {
            PaymentOutcome::Refunded
        } else {
            PaymentOutcome::Declined {
                reason: "declined".to_owned(),
            }
        },
        at,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn refunds_never_exceed_what_was_paid_and_replay_equals_live(
        lines in proptest::collection::vec((1i64..4, 100i64..5_000), 1..4),
        split in 0.0f64..1.0,
        steps in proptest::collection::vec(step(), 1..50),
    ) {
        let total: i64 = lines.iter().map(|(q, p)| q * p).sum();
        let gift = (total as f64 * split) as i64;
        let order = OrderSold {
            order_id: "o-1".into(),
            currency: "EUR".into(),
            lines: lines.iter().enumerate().map(|(i, (q, p))| LineSold {
                line_id: (i + 1).to_string().into(), sku: format!("sku-{i}").into(), quantity: *q, unit_price_minor: *p,
            }).collect(),
            payments: vec![
                Payment { reference: "gift".into(), tender: Tender::GiftCard, authorised_minor: gift },
                Payment { reference: "card".into(), tender: Tender::Card, authorised_minor: total - gift },
            ],
            draft: Vec::new(),
        };
        let paid = total;
        let mut world = World { live: Some(Scenario::nothing().at(t(0))), log: Vec::new(), answers: Vec::new() };
        let learnt = world.decide(LearnOrder { order }, t(0));
        prop_assert!(learnt.is_ok());
        world.record(learnt.unwrap_or_default(), t(0));
        let policy = Policy::default();
        let mut clock = 0;
        let mut returns: Vec<ReturnId> = Vec::new();
        let mut jobs = 0;
        for step in steps {
            clock += 1;
            let now = t(clock);
            let line_id = |k: usize| LineId::from(((k % lines.len()) + 1).to_string());
            let result = match step {
                Step::Deliver(k, q) => {
                    jobs += 1;
                    let delivery = RecordDelivery {
                        order_id: "o-1".into(),
                        job_id: format!("job-{jobs}").into(),
                        lines: vec![DeliveredLine { order_line_id: line_id(k), sku: Sku::default(), units: q }],
                        at: now,
                    };
                    world.decide(delivery, now)
                }
                Step::Return(k, q, credit, exchange) => {
                    let id = ReturnId::from(format!("r-{}", returns.len() + 1));
                    let request = StartReturn {
                        return_id: id.clone(),
                        order_id: "o-1".into(),
                        lines: vec![ReturnRequestLine { line_id: line_id(k), quantity: q, reason_code: "reason".into() }],
                        method: Method::Mail,
                        store_id: LocationId::default(),
                        store_credit: credit,
                        exchange: if exchange { vec![ExchangeLine { line_id: line_id(k), sku: "other".into(), quantity: 1 }] } else { Vec::new() },
                        requested_by: "customer".into(),
                        window: policy.window,
                    };
                    let before = world.state().order("o-1").unwrap().line(line_id(k)).cloned().unwrap();
                    let r = world.decide(request, now);
                    if r.is_ok() {
                        prop_assert!(before.returned + q <= before.delivered, "{before:?} + {q}");
                        returns.push(id);
                    }
                    r
                }
                Step::Receive(k) if !returns.is_empty() => {
                    let receipt = ReceiveReturn { return_id: returns[k % returns.len()].clone(), location_id: "dc".into(), lines: Vec::new() };
                    world.decide(receipt, now)
                }
                Step::Inspect(k, damaged) if !returns.is_empty() => {
                    let id = returns[k % returns.len()].clone();
                    let lines: Vec<InspectedLine> = world.state().get(&id).unwrap().lines.iter()
                        .map(|l| { let d = damaged.min(l.received); InspectedLine { line_id: l.line_id.clone(), resellable: l.received - d, damaged: d } })
                        .collect();
                    world.decide(InspectReturn { return_id: id, lines, refund_damaged: policy.refund_damaged }, now)
                }
                Step::Pay(k, ok) => {
                    let refunds: Vec<RefundId> = returns.iter()
                        .flat_map(|r| world.state().get(r).unwrap().refunds.iter().map(|f| f.refund_id.clone()).collect::<Vec<_>>())
                        .collect();
                    if refunds.is_empty() { continue; }
                    let id = refunds[k % refunds.len()].clone();
                    world.answers.push((id.clone(), ok));
                    world.decide(pay(&id, ok, now), now)
                }
                Step::PayAgain(k) => {
                    if world.answers.is_empty() { continue; }
                    let (id, ok) = world.answers[k % world.answers.len()].clone();
                    let r = world.decide(pay(&id, ok, now), now);
                    prop_assert_eq!(r.as_ref().map_or(0, Vec::len), 0, "an answer again changes nothing");
                    r
                }
                Step::Retry(k) if !returns.is_empty() => world.decide(RetryRefunds { return_id: returns[k % returns.len()].clone() }, now),
                _ => continue,
            };
            if let Ok(changes) = result {
                world.record(changes, now);
            }
            // The money never exceeds what was paid.
            let holding: i64 = returns.iter()
                .flat_map(|r| world.state().get(r).unwrap().refunds.clone())
                .filter(|f| matches!(f.status, RefundStatus::Requested | RefundStatus::Confirmed))
                .map(|f| f.amount_minor)
                .sum();
            prop_assert!(holding <= paid, "{holding} refunding of {paid} paid");
            prop_assert!(returns.iter().all(|r| world.state().get(r).unwrap().refunds.iter().all(|f| f.amount_minor > 0)));
            for line in &world.state().order("o-1").unwrap().lines {
                prop_assert!(line.returned <= line.delivered && line.delivered <= line.quantity, "{line:?}");
            }
        }
        let rebuilt = Scenario::<Returns>::given(world.log.clone());
        prop_assert_eq!(state_digest(rebuilt.state()), state_digest(world.state()));
    }
}
