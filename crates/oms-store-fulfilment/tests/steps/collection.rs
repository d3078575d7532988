//! The customer collects: at the counter, at the curb, from a locker at the store, at
//! another store a parcel went to, or from a locker bank.

use crate::story::*;

#[test]
fn click_and_collect_waits_a_week_at_the_counter_and_is_handed_over_with_the_right_code() {
    let after = Scenario::<Fulfilment>::given([created(click_and_collect_at_kreuzberg()), accepted(), picked(2, 1)])
        .when(pack(KREUZBERG, &[900]))
        .then_error(not_now("picked", "pack"))
        .when(mark_ready(KREUZBERG, "123456"))
        .then([ready("123456", "")])
        .when(mark_ready(KREUZBERG, "654321"))
        .then_nothing()
        .when(hand_over(KREUZBERG, "111111"))
        .then_refused(|e| invalid_fields(e) == ["pickup_code"])
        .when(RecordCustomerArrival {
            job: at(KREUZBERG),
            bay: "bay-2".into(),
        })
        .then_error(not_now("ready for pickup", "record the customer's arrival for"))
        .when(hand_over(KREUZBERG, " 123456 "))
        .then([job(JobEvent::Collected { at: now() })])
        .when(hand_over(KREUZBERG, "123456"))
        .then_nothing();
    let job = after.state().job(JOB).expect("the job");
    assert_eq!(job.status, JobStatus::Collected);
    assert_eq!(job.collect_by, Some(now() + Duration::days(7)));
}

#[test]
fn curbside_the_customer_arrives_in_a_bay_and_the_units_are_brought_out() {
    let after = Scenario::<Fulfilment>::given([
        created(curbside_at_kreuzberg()),
        accepted(),
        picked(2, 1),
        ready("123456", ""),
    ])
    .when(RecordCustomerArrival {
        job: at(KREUZBERG),
        bay: "bay-2".into(),
    })
    .then([job(JobEvent::CustomerArrived {
        bay: "bay-2".into(),
        at: now(),
    })])
    .when(RecordCustomerArrival {
        job: at(KREUZBERG),
        bay: "bay-2".into(),
    })
    .then_nothing();
    assert_eq!(after.state().job(JOB).map(|j| j.curbside_bay.as_str()), Some("bay-2"));
    after
        .when(hand_over(KREUZBERG, "123456"))
        .then([job(JobEvent::Collected { at: now() })]);
}

#[test]
fn the_store_deposits_a_locker_order_in_its_own_locker() {
    Scenario::<Fulfilment>::given([created(locker_at_kreuzberg()), accepted(), picked(2, 1)])
        .when(deposit(KREUZBERG, " ", "123456"))
        .then_refused(|e| invalid_fields(e) == ["locker_id"])
        .when(deposit(KREUZBERG, "compartment-7", "123456"))
        .then([ready("123456", "compartment-7")])
        .when(deposit(KREUZBERG, "compartment-7", "654321"))
        .then_nothing()
        .when(deposit(KREUZBERG, "compartment-8", "654321"))
        .then_error(not_now("ready for pickup", "deposit in a locker"))
        .when(hand_over(KREUZBERG, "123456"))
        .then([job(JobEvent::Collected { at: now() })]);
    // A click & collect order is not put in a locker.
    Scenario::<Fulfilment>::given([created(click_and_collect_at_kreuzberg()), accepted(), picked(2, 1)])
        .when(deposit(KREUZBERG, "compartment-7", "123456"))
        .then_error(not_now("picked", "deposit in a locker"));
}

#[test]
fn a_store_ships_to_the_store_where_the_customer_collects_which_receives_and_hands_it_over() {
    let on_its_way = Scenario::<Fulfilment>::given([created(kreuzberg_ships_to_mitte())])
        .when(accept(MITTE))
        .then_error(FulfilmentError::WrongStore {
            job_id: JOB.into(),
            store_id: MITTE.into(),
            owner: KREUZBERG.into(),
        })
        .and([accepted(), picked(2, 1), packed(), labelled()])
        .when(ship(KREUZBERG))
        .then([shipped()]);
    assert_eq!(status(&on_its_way), JobStatus::InTransitToStore);
    let mitte: Vec<&str> = on_its_way
        .state()
        .queue(MITTE, false)
        .iter()
        .map(|j| j.job_id.as_str())
        .collect();
    assert_eq!(mitte, [JOB], "the parcel is now worked at the pickup store");
    assert!(on_its_way.state().queue(KREUZBERG, false).is_empty());
    on_its_way
        .when(receive_parcel(KREUZBERG, "123456"))
        .then_error(FulfilmentError::WrongStore {
            job_id: JOB.into(),
            store_id: KREUZBERG.into(),
            owner: MITTE.into(),
        })
        .when(hand_over(MITTE, "123456"))
        .then_error(not_now("in transit to the store", "hand over"))
        .when(receive_parcel(MITTE, "123456"))
        .then([ready("123456", "")])
        .when(receive_parcel(MITTE, "654321"))
        .then_nothing()
        .when(hand_over(MITTE, "123456"))
        .then([job(JobEvent::Collected { at: now() })]);
}

#[test]
fn a_courier_deposits_a_warehouse_parcel_at_the_locker_bank_and_the_customer_collects_it() {
    Scenario::<Fulfilment>::given([created(warehouse_ships_to_the_locker_bank())])
        .when(deposit(LOCKER_BANK, "A-12", "123456"))
        .then_error(not_now("requested", "deposit in a locker"))
        .when(node_ships(vec![
            confirmed("1", "jacket-m", 2),
            confirmed("2", "scarf", 1),
        ]))
        .then([node_shipped(2, 1)])
        .when(deposit(WAREHOUSE, "A-12", "123456"))
        .then_error(FulfilmentError::WrongStore {
            job_id: JOB.into(),
            store_id: WAREHOUSE.into(),
            owner: LOCKER_BANK.into(),
        })
        .when(deposit(LOCKER_BANK, "A-12", "123456"))
        .then([ready("123456", "A-12")])
        .when(hand_over(LOCKER_BANK, "123456"))
        .then([job(JobEvent::Collected { at: now() })]);
}
