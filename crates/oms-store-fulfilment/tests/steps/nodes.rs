//! What a warehouse's, 3PL's or supplier's own system confirms.

use crate::story::*;

#[test]
fn a_warehouse_takes_the_job_on_and_ships_it_by_order_line_or_by_sku() {
    let after = Scenario::<Fulfilment>::given([created(warehouse_ships_to_the_customer())])
        .when(NodeAccepted {
            job_id: JOB.into(),
            at: now(),
        })
        .then([accepted()])
        .when(NodeAccepted {
            job_id: JOB.into(),
            at: now(),
        })
        .then_nothing()
        // The WMS knows the scarf by its SKU only, and names more jackets than ordered.
        .when(node_ships(vec![
            confirmed("1", "jacket-m", 3),
            confirmed("", "scarf", 1),
        ]))
        .then([node_shipped(2, 1)])
        .when(node_ships(vec![confirmed("1", "jacket-m", 2)]))
        .then_nothing();
    let job = after.state().job(JOB).expect("the job");
    assert_eq!((job.status, job.carrier.as_str()), (JobStatus::Shipped, "dhl"));
}

#[test]
fn a_warehouse_ships_part_or_nothing_of_a_job() {
    Scenario::<Fulfilment>::given([created(warehouse_ships_to_the_customer())])
        .when(node_ships(vec![confirmed("1", "jacket-m", 1)]))
        .then([node_shipped(1, 0)]);
    Scenario::<Fulfilment>::given([created(warehouse_ships_to_the_customer())])
        .when(node_ships(Vec::new()))
        .then([rejected(RejectReason::OutOfStock)]);
}

#[test]
fn a_node_cannot_confirm_a_store_job_or_one_it_does_not_know() {
    let store_job = Scenario::<Fulfilment>::given([created(ship_from_kreuzberg())])
        .when(NodeAccepted {
            job_id: JOB.into(),
            at: now(),
        })
        .then_nothing()
        .when(node_ships(vec![
            confirmed("1", "jacket-m", 2),
            confirmed("2", "scarf", 1),
        ]))
        .then_error(not_now("requested", "ship"));
    assert_eq!(status(&store_job), JobStatus::Requested);
    Scenario::<Fulfilment>::nothing()
        .when(NodeAccepted {
            job_id: JOB.into(),
            at: now(),
        })
        .then_error(FulfilmentError::UnknownJob(JOB.into()))
        .when(node_ships(Vec::new()))
        .then_error(FulfilmentError::UnknownJob(JOB.into()))
        .when(NodeCancelled {
            job_id: JOB.into(),
            reason: "no stock".into(),
            at: now(),
        })
        .then_error(FulfilmentError::UnknownJob(JOB.into()));
}

#[test]
fn a_warehouse_cancels_a_job_it_cannot_fulfil() {
    Scenario::<Fulfilment>::given([created(warehouse_ships_to_the_customer()), accepted()])
        .when(NodeCancelled {
            job_id: JOB.into(),
            reason: "damaged in the warehouse".into(),
            at: now(),
        })
        .then([job(JobEvent::Cancelled {
            reason: "cancelled by the node: damaged in the warehouse".into(),
            by_routing: false,
            uncollected: false,
            at: now(),
        })])
        .when(NodeCancelled {
            job_id: JOB.into(),
            reason: "damaged in the warehouse".into(),
            at: now(),
        })
        .then_nothing();
}
