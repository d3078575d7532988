//! Routing's requests: a job for a node, and a job taken back.

use crate::story::*;

#[test]
fn routing_asks_a_store_for_a_job_which_its_staff_must_accept_within_the_hour() {
    let after = Scenario::<Fulfilment>::nothing()
        .when(create(ship_from_kreuzberg()))
        .then([created(ship_from_kreuzberg())])
        .when(create(ship_from_kreuzberg()))
        .then_nothing();
    let job = after.state().job(JOB).expect("the job");
    assert_eq!(job.accept_by, Some(now() + Duration::hours(1)));
    assert_eq!(job.status, JobStatus::Requested);
    let queue: Vec<&str> = after
        .state()
        .queue(KREUZBERG, false)
        .iter()
        .map(|j| j.job_id.as_str())
        .collect();
    assert_eq!(queue, [JOB]);
}

#[test]
fn a_warehouse_job_has_no_acceptance_deadline_here_its_system_works_it() {
    let after = Scenario::<Fulfilment>::nothing()
        .when(create(warehouse_ships_to_the_customer()))
        .then([created(warehouse_ships_to_the_customer())]);
    assert_eq!(after.state().job(JOB).and_then(|j| j.accept_by), None);
    assert!(
        after.state().queue(WAREHOUSE, false).is_empty(),
        "no staff queue for a warehouse"
    );
}

#[test]
fn a_request_without_its_id_node_lines_or_an_address_to_ship_to_is_refused_naming_each() {
    let mut incomplete = ship_from_kreuzberg();
    incomplete.job_id = " ".into();
    incomplete.node_id = LocationId::default();
    incomplete.ship_to = None;
    incomplete.lines[1].units = 0;
    Scenario::<Fulfilment>::nothing()
        .when(create(incomplete))
        .then_refused(|e| invalid_fields(e) == ["fulfilment_request_id", "node_id", "lines[1]", "shipping_address"]);
    let mut no_lines = ship_from_kreuzberg();
    no_lines.lines.clear();
    Scenario::<Fulfilment>::nothing()
        .when(create(no_lines))
        .then_refused(|e| invalid_fields(e) == ["lines"]);
}

#[test]
fn routing_withdraws_a_job_before_it_left_and_not_after() {
    let withdraw = || WithdrawJob {
        job_id: JOB.into(),
        reason: "the order was cancelled".into(),
    };
    Scenario::<Fulfilment>::given([created(ship_from_kreuzberg()), accepted(), picked(2, 1)])
        .when(withdraw())
        .then([job(JobEvent::Cancelled {
            reason: "the order was cancelled".into(),
            by_routing: true,
            uncollected: false,
            at: now(),
        })])
        .when(withdraw())
        .then_nothing();
    Scenario::<Fulfilment>::given([
        created(ship_from_kreuzberg()),
        accepted(),
        picked(2, 1),
        packed(),
        labelled(),
        shipped(),
    ])
    .when(withdraw())
    .then_nothing();
    // On its way to the pickup store a parcel cannot be called back from here.
    Scenario::<Fulfilment>::given([
        created(kreuzberg_ships_to_mitte()),
        accepted(),
        picked(2, 1),
        packed(),
        labelled(),
        shipped(),
    ])
    .when(withdraw())
    .then_nothing();
    // A request this service never turned into a job.
    Scenario::<Fulfilment>::nothing().when(withdraw()).then_nothing();
}
