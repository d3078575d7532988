//! The staff's steps of a parcel shipped from the store: accept, reject, pick, pack, label,
//! ship — each in order, once, at the store that works the job.

use crate::story::*;

#[test]
fn a_store_accepts_picks_packs_labels_and_ships_an_order_to_the_customer() {
    let after = Scenario::<Fulfilment>::given([created(ship_from_kreuzberg())])
        .when(accept(KREUZBERG))
        .then([accepted()])
        .when(pick(KREUZBERG, 2, 1))
        .then([picked(2, 1)])
        .when(pack(KREUZBERG, &[1_200, 600]))
        .then([job(JobEvent::Packed {
            packages: 2,
            weight_grams: 1_800,
            at: now(),
        })])
        .when(label(KREUZBERG))
        .then_check(|changes| {
            let [
                Change {
                    event:
                        JobEvent::Labelled {
                            carrier,
                            service,
                            tracking_number,
                            label,
                            ..
                        },
                    ..
                },
            ] = changes.as_slice()
            else {
                panic!("one label, not {changes:?}");
            };
            // The cheapest standard service of the default carriers.
            assert_eq!((carrier.as_str(), service.as_str()), ("dpd", "standard"));
            assert!(tracking_number.starts_with("DPD"), "{tracking_number}");
            assert!(label.starts_with("^XA") && label.contains("Ada Lovelace"), "{label}");
        })
        .when(ship(KREUZBERG))
        .then([shipped()]);
    let job = after.state().job(JOB).expect("the job");
    assert_eq!(job.status, JobStatus::Shipped);
    assert_eq!((job.packages, job.weight_grams), (2, 1_800));
    assert!(
        after.state().queue(KREUZBERG, false).is_empty(),
        "a shipped job leaves the queue"
    );
}

#[test]
fn each_step_taken_again_answers_the_job_as_it_is() {
    Scenario::<Fulfilment>::given([created(ship_from_kreuzberg())])
        .when(accept(KREUZBERG))
        .then([accepted()])
        .when(accept(KREUZBERG))
        .then_nothing()
        .when(pick(KREUZBERG, 1, 1))
        .then([picked(1, 1)])
        .when(pick(KREUZBERG, 1, 1))
        .then_nothing()
        .when(pack(KREUZBERG, &[900]))
        .then_check(|changes| assert_eq!(changes.len(), 1))
        .when(pack(KREUZBERG, &[900]))
        .then_nothing()
        .when(label(KREUZBERG))
        .then_check(|changes| assert_eq!(changes.len(), 1))
        .when(label(KREUZBERG))
        .then_nothing()
        .when(ship(KREUZBERG))
        .then([shipped()])
        .when(ship(KREUZBERG))
        .then_nothing();
}

#[test]
fn a_step_out_of_order_is_refused() {
    let requested = Scenario::<Fulfilment>::given([created(ship_from_kreuzberg())]);
    let requested = requested
        .when(pick(KREUZBERG, 2, 1))
        .then_error(not_now("requested", "pick"));
    let requested = requested
        .when(pack(KREUZBERG, &[900]))
        .then_error(not_now("requested", "pack"));
    let requested = requested
        .when(label(KREUZBERG))
        .then_error(not_now("requested", "label"));
    let accepted = requested
        .when(ship(KREUZBERG))
        .then_error(not_now("requested", "ship"))
        .and([accepted()]);
    let picked = accepted
        .when(ship(KREUZBERG))
        .then_error(not_now("accepted", "ship"))
        .and([picked(2, 1)]);
    let picked = picked
        .when(mark_ready(KREUZBERG, "123456"))
        .then_error(not_now("picked", "mark ready for pickup"));
    let picked = picked
        .when(reject(KREUZBERG, RejectReason::Damaged))
        .then_error(not_now("picked", "reject"));
    // Picked once, the units found cannot change.
    let picked = picked.when(pick(KREUZBERG, 1, 1)).then_error(not_now("picked", "pick"));
    picked
        .when(hand_over(KREUZBERG, "123456"))
        .then_error(not_now("picked", "hand over"));
}

#[test]
fn another_store_cannot_work_the_job_and_an_unknown_job_is_not_found() {
    Scenario::<Fulfilment>::given([created(ship_from_kreuzberg())])
        .when(accept(MITTE))
        .then_error(FulfilmentError::WrongStore {
            job_id: JOB.into(),
            store_id: MITTE.into(),
            owner: KREUZBERG.into(),
        });
    Scenario::<Fulfilment>::nothing()
        .when(accept(KREUZBERG))
        .then_error(FulfilmentError::UnknownJob(JOB.into()));
}

#[test]
fn a_store_rejects_a_job_before_picking_it_and_routing_sends_the_units_elsewhere() {
    let after = Scenario::<Fulfilment>::given([created(ship_from_kreuzberg())])
        .when(reject(KREUZBERG, RejectReason::Capacity))
        .then([rejected(RejectReason::Capacity)])
        .when(reject(KREUZBERG, RejectReason::Capacity))
        .then_nothing();
    assert_eq!(status(&after), JobStatus::Rejected);
    Scenario::<Fulfilment>::given([created(ship_from_kreuzberg()), accepted()])
        .when(reject(KREUZBERG, RejectReason::Damaged))
        .then([rejected(RejectReason::Damaged)]);
}

#[test]
fn a_short_pick_keeps_what_was_found_and_nothing_found_sends_the_whole_job_back() {
    let after = Scenario::<Fulfilment>::given([created(ship_from_kreuzberg()), accepted()])
        .when(pick(KREUZBERG, 1, 0))
        .then([picked(1, 0)]);
    let lines: Vec<(i64, Option<i64>, i64)> = after
        .state()
        .job(JOB)
        .expect("the job")
        .lines
        .iter()
        .map(|l| (l.ordered, l.picked, l.units()))
        .collect();
    assert_eq!(lines, [(2, Some(1), 1), (1, Some(0), 0)]);
    Scenario::<Fulfilment>::given([created(ship_from_kreuzberg()), accepted()])
        .when(pick(KREUZBERG, 0, 0))
        .then([rejected(RejectReason::OutOfStock)]);
}

#[test]
fn a_pick_must_give_every_line_once_with_no_more_than_ordered() {
    let accepted = Scenario::<Fulfilment>::given([created(ship_from_kreuzberg()), accepted()]);
    let accepted = accepted
        .when(PickJob {
            job: at(KREUZBERG),
            lines: vec![LineUnits::new("1", 3), LineUnits::new("9", 1)],
        })
        .then_refused(|e| invalid_fields(e) == ["lines[0].picked", "lines[1].order_line_id", "lines"]);
    let accepted = accepted
        .when(PickJob {
            job: at(KREUZBERG),
            lines: vec![LineUnits::new("1", 1), LineUnits::new("1", 1), LineUnits::new("2", -1)],
        })
        .then_refused(|e| invalid_fields(e) == ["lines[2].picked", "lines"]);
    assert_eq!(status(&accepted), JobStatus::Accepted);
}

#[test]
fn a_parcel_needs_at_least_one_package_weighing_something() {
    let picked = Scenario::<Fulfilment>::given([created(ship_from_kreuzberg()), accepted(), picked(2, 1)]);
    picked
        .when(pack(KREUZBERG, &[]))
        .then_refused(|e| invalid_fields(e) == ["packages"])
        .when(pack(KREUZBERG, &[800, 0]))
        .then_refused(|e| invalid_fields(e) == ["packages"]);
}

#[test]
fn a_delivery_method_no_carrier_serves_cannot_be_labelled() {
    let express_only = Carriers {
        services: Carriers::default()
            .services
            .into_iter()
            .filter(|s| s.service == DeliveryMethod::Express)
            .collect(),
    };
    Scenario::<Fulfilment>::given([created(ship_from_kreuzberg()), accepted(), picked(2, 1), packed()])
        .when(LabelJob {
            job: at(KREUZBERG),
            carriers: Arc::new(express_only),
        })
        .then_refused(|e| invalid_fields(e) == ["delivery_method"]);
}
