//! Properties of returns over random orders and histories: the money refunded (or being
//! refunded) for an order never exceeds what was paid for it, no line is returned beyond
//! what was delivered, and the state rebuilt from the log equals the live one.

use chrono::{DateTime, Duration, TimeZone, Utc};
use oms_eventsourcing::{EventHeader, Model, state_digest};
use oms_returns::domain::{
    Events, ExchangeLine, Method, Policy, RefundStatus, Returns, ReturnsEvent, SoldLine, SoldOrder, StartReturn, Tender,
};
use proptest::prelude::*;
use uuid::Uuid;

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

struct World {
    live: Returns,
    log: Vec<(String, ReturnsEvent)>,
    clock: i64,
    answers: Vec<(String, bool)>,
}

impl World {
    fn record(&mut self, events: Events) {
        for (stream, event) in events {
            let header = EventHeader {
                stream_id: &stream,
                version: 0,
                event_id: Uuid::nil(),
                recorded_at: t(self.clock),
                correlation_id: None,
                causation_id: None,
            };
            self.live.apply(&header, &event);
            self.log.push((stream, event));
        }
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
        let order = SoldOrder {
            order_id: "o-1".into(),
            currency: "EUR".into(),
            lines: lines.iter().enumerate().map(|(i, (q, p))| SoldLine {
                line_id: (i + 1).to_string(), sku: format!("sku-{i}"), quantity: *q, unit_price_minor: *p,
                delivered: 0, delivered_at: None, returned: 0,
            }).collect(),
            tenders: vec![
                Tender { reference: "gift".into(), tender: "TENDER_TYPE_GIFT_CARD".into(), authorised_minor: gift },
                Tender { reference: "card".into(), tender: "TENDER_TYPE_CARD".into(), authorised_minor: total - gift },
            ],
            draft: Vec::new(),
            jobs: Vec::new(),
        };
        let paid = order.paid_minor();
        let mut world = World { live: Returns::default(), log: Vec::new(), clock: 0, answers: Vec::new() };
        let events = world.live.sold(order);
        world.record(events);
        let policy = Policy::default();
        let mut returns: Vec<String> = Vec::new();
        let mut jobs = 0;
        for step in steps {
            world.clock += 1;
            let now = t(world.clock);
            let line_id = |k: usize| ((k % lines.len()) + 1).to_string();
            let result = match step {
                Step::Deliver(k, q) => {
                    jobs += 1;
                    world.live.delivered("o-1", &format!("job-{jobs}"), vec![(line_id(k), q)], now)
                }
                Step::Return(k, q, credit, exchange) => {
                    let id = format!("r-{}", returns.len() + 1);
                    let request = StartReturn {
                        return_id: id.clone(),
                        order_id: "o-1".into(),
                        lines: vec![(line_id(k), q, "reason".into())],
                        method: Method::Mail,
                        store_id: String::new(),
                        store_credit: credit,
                        exchange: if exchange { vec![ExchangeLine { line_id: line_id(k), sku: "other".into(), quantity: 1 }] } else { Vec::new() },
                        requested_by: "customer".into(),
                    };
                    let before = world.live.order("o-1").unwrap().line(&line_id(k)).cloned().unwrap();
                    let r = world.live.start(request, &policy, now);
                    if r.is_ok() {
                        prop_assert!(before.returned + q <= before.delivered, "{before:?} + {q}");
                        returns.push(id);
                    }
                    r
                }
                Step::Receive(k) if !returns.is_empty() => {
                    world.live.receive(&returns[k % returns.len()], "dc", Vec::new(), now)
                }
                Step::Inspect(k, damaged) if !returns.is_empty() => {
                    let id = returns[k % returns.len()].clone();
                    let lines: Vec<(String, i64, i64)> = world.live.get(&id).unwrap().lines.iter()
                        .map(|l| { let d = damaged.min(l.received); (l.line_id.clone(), l.received - d, d) })
                        .collect();
                    world.live.inspect(&id, lines, &policy, now)
                }
                Step::Pay(k, ok) => {
                    let refunds: Vec<String> = returns.iter()
                        .flat_map(|r| world.live.get(r).unwrap().refunds.iter().map(|f| f.refund_id.clone()).collect::<Vec<_>>())
                        .collect();
                    if refunds.is_empty() { continue; }
                    let id = refunds[k % refunds.len()].clone();
                    world.answers.push((id.clone(), ok));
                    world.live.payment_result(&id, (!ok).then(|| "declined".to_owned()), now)
                }
                Step::PayAgain(k) => {
                    if world.answers.is_empty() { continue; }
                    let (id, ok) = world.answers[k % world.answers.len()].clone();
                    let r = world.live.payment_result(&id, (!ok).then(|| "declined".to_owned()), now);
                    prop_assert_eq!(r.as_ref().map(Vec::len).unwrap_or(0), 0, "an answer again changes nothing");
                    r
                }
                Step::Retry(k) if !returns.is_empty() => world.live.retry_refunds(&returns[k % returns.len()], now),
                _ => continue,
            };
            if let Ok(events) = result {
                world.record(events);
            }
            // The money never exceeds what was paid.
            let holding: i64 = returns.iter()
                .flat_map(|r| world.live.get(r).unwrap().refunds.clone())
                .filter(|f| matches!(f.status, RefundStatus::Requested | RefundStatus::Confirmed))
                .map(|f| f.amount_minor)
                .sum();
            prop_assert!(holding <= paid, "{holding} refunding of {paid} paid");
            prop_assert!(returns.iter().all(|r| world.live.get(r).unwrap().refunds.iter().all(|f| f.amount_minor > 0)));
            for line in &world.live.order("o-1").unwrap().lines {
                prop_assert!(line.returned <= line.delivered && line.delivered <= line.quantity, "{line:?}");
            }
        }
        let mut rebuilt = Returns::default();
        for (stream, event) in &world.log {
            let header = EventHeader { stream_id: stream, version: 0, event_id: Uuid::nil(), recorded_at: t(0), correlation_id: None, causation_id: None };
            rebuilt.apply(&header, event);
        }
        prop_assert_eq!(state_digest(&rebuilt), state_digest(&world.live));
    }
}
