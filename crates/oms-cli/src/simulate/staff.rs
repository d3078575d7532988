//! Store staff through the day: each round they take one step on every open job of their
//! queue — accept (or now and then reject), pick (now and then short), pack, label, ship,
//! put in a locker, hand over to the customer.

use std::collections::HashMap;

use oms_proto::fulfilment::v1 as fulfilment;
use rand::Rng;
use rand::rngs::StdRng;

use super::{Clients, Kpis, SimulationConfig};

/// Staff at `store` take one step on every open job of their queue.
pub(super) async fn work_queue(
    c: &mut Clients,
    store: &str,
    config: &SimulationConfig,
    rng: &mut StdRng,
    kpis: &mut Kpis,
    handled: &mut HashMap<String, i32>,
) -> anyhow::Result<usize> {
    let queue = c
        .staff
        .list_queue(fulfilment::ListQueueRequest {
            store_id: store.into(),
            include_finished: false,
        })
        .await?
        .into_inner();
    let mut steps = 0;
    for job in queue.jobs {
        // One step per job per round; a step already taken is not repeated.
        if handled.get(&job.job_id) == Some(&job.status) {
            continue;
        }
        handled.insert(job.job_id.clone(), job.status);
        steps += 1;
        if let Err(e) = step(c, store, &job, steps, config, rng, kpis).await {
            // Another step got there first (a deadline, a re-route): the next round sees it.
            tracing::debug!(job_id = %job.job_id, error = %e, "a staff step did not apply");
        }
    }
    Ok(steps)
}

/// The next step of `job` at `store`, as its staff would take it; the `n`th of the round.
async fn step(
    c: &mut Clients,
    store: &str,
    job: &fulfilment::Job,
    n: usize,
    config: &SimulationConfig,
    rng: &mut StdRng,
    kpis: &mut Kpis,
) -> Result<(), tonic::Status> {
    use fulfilment::JobStatus as S;
    let r = fulfilment::JobRef {
        store_id: store.into(),
        job_id: job.job_id.clone(),
    };
    let status = S::try_from(job.status).unwrap_or(S::Unspecified);
    match status {
        S::Requested if rng.random_bool(config.reject_share) => {
            kpis.rejects += 1;
            c.staff
                .reject_job(fulfilment::RejectJobRequest {
                    store_id: store.into(),
                    job_id: job.job_id.clone(),
                    reason: fulfilment::RejectReason::Capacity as i32,
                })
                .await
                .map(|_| ())
        }
        S::Requested => c.staff.accept_job(r).await.map(|_| ()),
        S::Accepted => {
            let short = rng.random_bool(config.short_pick_share);
            if short {
                kpis.short_picks += 1;
            }
            let lines = job
                .lines
                .iter()
                .enumerate()
                .map(|(i, l)| fulfilment::PickedLine {
                    order_line_id: l.order_line_id.clone(),
                    picked: if short && i == 0 { l.ordered - 1 } else { l.ordered },
                    ..Default::default()
                })
                .collect();
            c.staff
                .pick_job(fulfilment::PickJobRequest {
                    store_id: store.into(),
                    job_id: job.job_id.clone(),
                    lines,
                })
                .await
                .map(|_| ())
        }
        S::Picked if matches!(job.kind.as_str(), "ship" | "ship_to_store" | "ship_to_locker") => c
            .staff
            .pack_job(fulfilment::PackJobRequest {
                store_id: store.into(),
                job_id: job.job_id.clone(),
                packages: vec![fulfilment::Package { weight_grams: 800 }],
            })
            .await
            .map(|_| ()),
        S::Packed => c.staff.label_job(r).await.map(|_| ()),
        S::Labelled => {
            kpis.jobs_shipped_from_stores += 1;
            c.staff.ship_job(r).await.map(|_| ())
        }
        // The store's own locker, or a locker bank's courier depositing a parcel.
        S::Picked | S::InTransitToLocker if job.kind == "locker" || status == S::InTransitToLocker => c
            .staff
            .deposit_in_locker(fulfilment::DepositInLockerRequest {
                store_id: store.into(),
                job_id: job.job_id.clone(),
                locker_id: format!("compartment-{}", n % 40 + 1),
            })
            .await
            .map(|_| ()),
        S::Picked => c.staff.mark_ready_for_pickup(r).await.map(|_| ()),
        S::InTransitToStore => c.staff.receive_parcel(r).await.map(|_| ()),
        S::ReadyForPickup | S::CustomerWaiting => {
            kpis.jobs_collected += 1;
            c.staff
                .hand_over(fulfilment::HandOverRequest {
                    store_id: store.into(),
                    job_id: job.job_id.clone(),
                    pickup_code: job.pickup_code.clone(),
                })
                .await
                .map(|_| ())
        }
        _ => Ok(()),
    }
}
