//! What store fulfilment announces on `oms.fulfilment.v1` (key: order id): jobs for
//! warehouse and supplier systems, each step, shipments and hand-overs (the ledger consumes
//! the reservation, order capture follows), rejections and cancellations (routing routes
//! the units again), and missed deadlines.

use chrono::{DateTime, Utc};
use oms_eventsourcing::OutboxMessage;
use oms_proto::common::v1 as common;
use oms_proto::fulfilment::v1 as pb;
use oms_service::convert::timestamp;
use prost::Message as _;
use uuid::Uuid;

use crate::domain::{Job, JobEvent, JobKind, JobLine, RejectReason};

pub const TOPIC: &str = "oms.fulfilment.v1";

fn lines_pb(lines: impl IntoIterator<Item = (String, String, i64)>) -> Vec<pb::JobLine> {
    lines
        .into_iter()
        .filter(|(_, _, q)| *q > 0)
        .map(|(order_line_id, sku, quantity)| pb::JobLine {
            sku,
            quantity,
            order_line_id,
        })
        .collect()
}

fn ordered(lines: &[JobLine]) -> Vec<pb::JobLine> {
    lines_pb(lines.iter().map(|l| (l.line_id.clone(), l.sku.clone(), l.ordered)))
}

fn delivered(lines: &[JobLine]) -> Vec<pb::JobLine> {
    lines_pb(lines.iter().map(|l| (l.line_id.clone(), l.sku.clone(), l.units())))
}

pub fn reject_reason_pb(reason: RejectReason) -> pb::RejectReason {
    match reason {
        RejectReason::OutOfStock => pb::RejectReason::OutOfStock,
        RejectReason::Damaged => pb::RejectReason::Damaged,
        RejectReason::Capacity => pb::RejectReason::Capacity,
        RejectReason::AcceptanceTimeout => pb::RejectReason::AcceptanceTimeout,
    }
}

pub fn ship_to_pb(job: &Job) -> Option<common::Address> {
    job.ship_to.as_ref().map(|a| common::Address {
        name: a.name.clone(),
        lines: a.lines.clone(),
        city: a.city.clone(),
        region: a.region.clone(),
        postal_code: a.postal_code.clone(),
        country: a.country.clone(),
        phone: a.phone.clone(),
        ..Default::default()
    })
}

/// Where a shipped parcel goes when the customer collects it there; empty when it goes to
/// the customer.
fn parcel_destination(job: &Job) -> String {
    if job.kind.goes_to_pickup() {
        job.pickup_store_id.clone()
    } else {
        String::new()
    }
}

/// The messages announcing `events` of `job` (as it was before them; for a new job, the
/// job itself).
pub fn for_events(job: Option<&Job>, events: &[JobEvent], now: DateTime<Utc>) -> Vec<OutboxMessage> {
    use pb::fulfilment_event::Event;
    let mut messages = Vec::new();
    let mut state: Option<Job> = job.cloned();
    for event in events {
        if let JobEvent::Created { job } = event {
            state = Some((**job).clone());
        }
        let Some(job) = state.as_ref() else { continue };
        let at = |t: &DateTime<Utc>| Some(timestamp(*t));
        let (id, order, node) = (job.job_id.clone(), job.order_id.clone(), job.node_id.clone());
        let mut push = |event: Event| messages.push(message(&order, event, now));
        match event {
            JobEvent::Created { job } if !job.worked_by_staff() => push(Event::JobRequested(pb::JobRequested {
                job_id: id,
                order_id: order.clone(),
                location_id: node,
                node_type: job.node_type.clone(),
                lines: ordered(&job.lines),
                delivery_method: job.delivery_method.clone(),
                ship_to: ship_to_pb(job),
                destination_store_id: if job.kind == JobKind::ShipToStore {
                    job.pickup_store_id.clone()
                } else {
                    String::new()
                },
                destination_locker_id: if job.kind == JobKind::ShipToLocker {
                    job.pickup_store_id.clone()
                } else {
                    String::new()
                },
                customer_name: job.customer_name.clone(),
                promised_at: job.promised_at.map(timestamp),
                priority: job.priority,
                reservation_id: job.reservation_id.clone(),
                at: Some(timestamp(job.created_at)),
            })),
            JobEvent::Created { .. } => {}
            JobEvent::Accepted { at: t } => push(Event::JobAccepted(pb::JobAccepted {
                job_id: id,
                order_id: order.clone(),
                location_id: node,
                lines: ordered(&job.lines),
                at: at(t),
            })),
            JobEvent::Rejected { reason, at: t } => push(Event::JobRejected(pb::JobRejected {
                job_id: id,
                order_id: order.clone(),
                location_id: node,
                reservation_id: job.reservation_id.clone(),
                lines: ordered(&job.lines),
                reason: reject_reason_pb(*reason) as i32,
                at: at(t),
            })),
            JobEvent::Picked { picked, at: t }
            | JobEvent::NodeShipped {
                shipped: picked, at: t, ..
            } => {
                let found = |line: &JobLine| picked.iter().find(|(l, _)| *l == line.line_id).map_or(0, |(_, q)| *q);
                if matches!(event, JobEvent::Picked { .. }) {
                    push(Event::JobPicked(pb::JobPicked {
                        job_id: id.clone(),
                        order_id: order.clone(),
                        location_id: node.clone(),
                        lines: lines_pb(job.lines.iter().map(|l| (l.line_id.clone(), l.sku.clone(), found(l)))),
                        at: at(t),
                    }));
                } else if let JobEvent::NodeShipped {
                    carrier,
                    tracking_number,
                    ..
                } = event
                {
                    push(Event::JobShipped(pb::JobShipped {
                        job_id: id.clone(),
                        order_id: order.clone(),
                        location_id: node.clone(),
                        reservation_id: job.reservation_id.clone(),
                        lines: lines_pb(job.lines.iter().map(|l| (l.line_id.clone(), l.sku.clone(), found(l)))),
                        carrier: carrier.clone(),
                        tracking_number: tracking_number.clone(),
                        at: at(t),
                        pickup_location_id: parcel_destination(job),
                    }));
                }
                // Units not found go back to routing, and off the node's stock.
                let missing = lines_pb(
                    job.lines
                        .iter()
                        .map(|l| (l.line_id.clone(), l.sku.clone(), l.ordered - found(l))),
                );
                if !missing.is_empty() {
                    push(Event::JobRejected(pb::JobRejected {
                        job_id: id,
                        order_id: order.clone(),
                        location_id: node,
                        reservation_id: job.reservation_id.clone(),
                        lines: missing,
                        reason: pb::RejectReason::OutOfStock as i32,
                        at: at(t),
                    }));
                }
            }
            JobEvent::Packed {
                packages,
                weight_grams,
                at: t,
            } => push(Event::JobPacked(pb::JobPacked {
                job_id: id,
                order_id: order.clone(),
                location_id: node,
                packages: *packages,
                weight_grams: *weight_grams,
                at: at(t),
            })),
            JobEvent::Labelled { .. } | JobEvent::CustomerArrived { .. } => {}
            JobEvent::Shipped { at: t } => push(Event::JobShipped(pb::JobShipped {
                job_id: id,
                order_id: order.clone(),
                location_id: node,
                reservation_id: job.reservation_id.clone(),
                lines: delivered(&job.lines),
                carrier: job.carrier.clone(),
                tracking_number: job.tracking_number.clone(),
                at: at(t),
                pickup_location_id: parcel_destination(job),
            })),
            JobEvent::ReadyForPickup {
                pickup_code,
                collect_by,
                at: t,
                ..
            } => push(Event::ReadyForPickup(pb::ReadyForPickup {
                job_id: id,
                order_id: order.clone(),
                location_id: job.pickup_location().to_owned(),
                lines: delivered(&job.lines),
                pickup_code: pickup_code.clone(),
                at: at(t),
                collect_by: at(collect_by),
            })),
            // The node's reservation: for ship-to-store it was consumed when the parcel
            // left the warehouse, and the ledger takes nothing twice.
            JobEvent::Collected { at: t } => push(Event::JobCollected(pb::JobCollected {
                job_id: id,
                order_id: order.clone(),
                location_id: node,
                reservation_id: job.reservation_id.clone(),
                lines: delivered(&job.lines),
                at: at(t),
            })),
            // Routing took it back itself and has told the ledger; the node's systems
            // hear it here.
            JobEvent::Cancelled {
                by_routing: true,
                reason,
                at: t,
                ..
            } => push(Event::JobWithdrawn(pb::JobWithdrawn {
                job_id: id,
                order_id: order.clone(),
                location_id: node,
                lines: delivered(&job.lines),
                reason: reason.clone(),
                at: at(t),
            })),
            JobEvent::Cancelled {
                reason,
                uncollected,
                at: t,
                ..
            } => push(Event::JobCancelled(pb::JobCancelled {
                job_id: id,
                order_id: order.clone(),
                location_id: node,
                reservation_id: job.reservation_id.clone(),
                lines: delivered(&job.lines),
                reason: reason.clone(),
                at: at(t),
                uncollected: *uncollected,
                returned_to_location_id: match uncollected {
                    true => job.uncollected_return_location().unwrap_or_default().to_owned(),
                    false => String::new(),
                },
            })),
            JobEvent::SlaBreached {
                deadline,
                due_at,
                at: t,
            } => push(Event::SlaBreached(pb::SlaBreached {
                job_id: id,
                order_id: order.clone(),
                location_id: node,
                deadline: deadline.clone(),
                due_at: at(due_at),
                at: at(t),
            })),
        }
        if let Some(state) = state.as_mut()
            && !matches!(event, JobEvent::Created { .. })
        {
            // A batch may hold several events of one job: announce each on the job as
            // the ones before it left it.
            crate::domain::evolve_job(state, event);
        }
    }
    messages
}

fn message(order_id: &str, event: pb::fulfilment_event::Event, at: DateTime<Utc>) -> OutboxMessage {
    use pb::fulfilment_event::Event;
    let kind = match &event {
        Event::JobShipped(_) => "JobShipped",
        Event::JobCollected(_) => "JobCollected",
        Event::JobRejected(_) => "JobRejected",
        Event::JobCancelled(_) => "JobCancelled",
        Event::JobWithdrawn(_) => "JobWithdrawn",
        Event::JobAccepted(_) => "JobAccepted",
        Event::ReadyForPickup(_) => "ReadyForPickup",
        Event::JobDelivered(_) => "JobDelivered",
        Event::JobRequested(_) => "JobRequested",
        Event::JobPicked(_) => "JobPicked",
        Event::JobPacked(_) => "JobPacked",
        Event::SlaBreached(_) => "SlaBreached",
    };
    OutboxMessage {
        message_id: Uuid::now_v7(),
        topic: TOPIC.to_owned(),
        key: order_id.to_owned(),
        message_type: format!("oms.fulfilment.v1.{kind}"),
        payload: pb::FulfilmentEvent { event: Some(event) }.encode_to_vec(),
        headers: vec![("oms_correlation_id".to_owned(), order_id.to_owned())],
        created_at: at,
    }
}
