//! What the clock decides: acceptance deadlines, promises and pickups nobody collected.

use crate::story::*;

#[test]
fn a_store_that_does_not_accept_within_the_hour_loses_the_job() {
    let created_at = Scenario::<Fulfilment>::given([created(ship_from_kreuzberg())]);
    let due_at = now() + Duration::hours(1);
    created_at
        .at(due_at - Duration::seconds(1))
        .when(SweepDeadlines)
        .then_nothing()
        .at(due_at)
        .when(SweepDeadlines)
        .then([
            job(JobEvent::SlaBreached {
                deadline: "accept".into(),
                due_at,
                at: due_at,
            }),
            job(JobEvent::Rejected {
                reason: RejectReason::AcceptanceTimeout,
                at: due_at,
            }),
        ])
        .when(SweepDeadlines)
        .then_nothing();
}

#[test]
fn a_job_past_its_promise_is_marked_late_once() {
    let promised = now() + Duration::days(2);
    let after = Scenario::<Fulfilment>::given([created(ship_from_kreuzberg()), accepted()])
        .at(promised)
        .when(SweepDeadlines)
        .then([job(JobEvent::SlaBreached {
            deadline: "promise".into(),
            due_at: promised,
            at: promised,
        })])
        .when(SweepDeadlines)
        .then_nothing();
    assert!(after.state().job(JOB).is_some_and(|j| j.late));
    // Units waiting for the customer kept the promise.
    Scenario::<Fulfilment>::given([
        created(click_and_collect_at_kreuzberg()),
        accepted(),
        picked(2, 1),
        ready("123456", ""),
    ])
    .at(promised)
    .when(SweepDeadlines)
    .then_nothing();
}

#[test]
fn units_nobody_collected_within_the_week_go_back_on_sale_where_they_are() {
    // At the store that picked them: its reservation still holds them.
    let at_the_counter = [
        created(click_and_collect_at_kreuzberg()),
        accepted(),
        picked(2, 1),
        ready("123456", ""),
    ];
    assert_eq!(uncollected_after_a_week(at_the_counter), None);
    // A parcel at the pickup store stays there.
    let at_mitte = [
        created(kreuzberg_ships_to_mitte()),
        accepted(),
        picked(2, 1),
        packed(),
        labelled(),
        shipped(),
        ready("123456", ""),
    ];
    assert_eq!(uncollected_after_a_week(at_mitte), Some(MITTE.to_owned()));
    // A locker bank's parcel goes back to the node that sent it.
    let at_the_locker_bank = [
        created(warehouse_ships_to_the_locker_bank()),
        node_shipped(2, 1),
        ready("123456", "A-12"),
    ];
    assert_eq!(uncollected_after_a_week(at_the_locker_bank), Some(WAREHOUSE.to_owned()));
}

/// Given a job waiting for its customer, a week passes: it is cancelled as uncollected, and
/// store fulfilment announces where its units went back on sale (none: where they were).
fn uncollected_after_a_week(given: impl IntoIterator<Item = Change<JobEvent>>) -> Option<String> {
    use oms_proto::fulfilment::v1 as pb;
    use prost::Message as _;
    let week = now() + collect_within();
    let waiting = Scenario::<Fulfilment>::given(given).at(week);
    let before = waiting.state().job(JOB).cloned().expect("the job");
    let mut returned_to = None;
    let after = waiting.when(SweepDeadlines).then_check(|changes| {
        let expired = job(JobEvent::Cancelled {
            reason: format!("not collected by {week}"),
            by_routing: false,
            uncollected: true,
            at: week,
        });
        assert_eq!(changes, &[expired]);
        let events: Vec<JobEvent> = changes.iter().map(|c| c.event.clone()).collect();
        let messages = oms_store_fulfilment::messages::for_events(Some(&before), &events, week);
        let [message] = messages.as_slice() else {
            panic!("one message, not {messages:?}");
        };
        match pb::FulfilmentEvent::decode(message.payload.as_slice()).map(|e| e.event) {
            Ok(Some(pb::fulfilment_event::Event::JobCancelled(cancelled))) => {
                assert!(cancelled.uncollected);
                returned_to = Some(cancelled.returned_to_location_id).filter(|l| !l.is_empty());
            }
            other => panic!("a JobCancelled, not {other:?}"),
        }
    });
    assert_eq!(status(&after), JobStatus::Cancelled);
    returned_to
}
