//! What store fulfilment announces on `oms.fulfilment.v1` (key: order id): jobs for
//! warehouse and supplier systems, each step, shipments and hand-overs (the ledger consumes
//! the reservation, order capture follows), rejections and cancellations (routing routes
//! the units again), and missed deadlines.

use chrono::{DateTime, Utc};
use oms_eventsourcing::OutboxMessage;
use oms_proto::common::v1 as common;
use oms_proto::fulfilment::v1 as pb;
use oms_service::convert::timestamp;
use pb::fulfilment_event::Event;
use prost::Message as _;
use uuid::Uuid;

use crate::convert::priority_rank;
use crate::domain::{Address, Job, JobEvent, JobKind, JobLine, LineId, LineUnits, OrderId, RejectReason, Sku};

fn lines_pb<'a>(lines: impl IntoIterator<Item = (&'a LineId, &'a Sku, i64)>) -> Vec<pb::JobLine> {
    lines
        .into_iter()
        .filter(|(_, _, q)| *q > 0)
        .map(|(order_line_id, sku, quantity)| pb::JobLine {
            sku: sku.to_string(),
            quantity,
            order_line_id: order_line_id.to_string(),
        })
        .collect()
}

fn ordered(lines: &[JobLine]) -> Vec<pb::JobLine> {
    lines_pb(lines.iter().map(|l| (&l.line_id, &l.sku, l.ordered)))
}

fn delivered(lines: &[JobLine]) -> Vec<pb::JobLine> {
    lines_pb(lines.iter().map(|l| (&l.line_id, &l.sku, l.units())))
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
    job.ship_to.as_ref().map(Address::to_pb)
}

/// Where a shipped parcel goes when the customer collects it there; empty when it goes to
/// the customer.
fn parcel_destination(job: &Job) -> String {
    if job.kind.goes_to_pickup() {
        job.pickup_store_id.to_string()
    } else {
        String::new()
    }
}

/// The messages announcing `events` of `job` (as it was before them; for a new job, the
/// job itself).
pub fn for_events(job: Option<&Job>, events: &[JobEvent], now: DateTime<Utc>) -> Vec<OutboxMessage> {
    let mut messages = Vec::new();
    let mut state: Option<Job> = job.cloned();
    for event in events {
        if let JobEvent::Created(created) = event {
            state = Some(Job::from(&**created));
        }
        let Some(job) = state.as_mut() else { continue };
        messages.extend(announce(job, event).into_iter().map(|e| message(&job.order_id, e, now)));
        if !matches!(event, JobEvent::Created(_)) {
            // A batch may hold several events of one job: announce each on the job as
            // the ones before it left it.
            job.evolve(event);
        }
    }
    messages
}

/// What announces `event` of `job` (as it was before it).
fn announce(job: &Job, event: &JobEvent) -> Vec<Event> {
    match event {
        JobEvent::Created(_) if !job.worked_by_staff() => vec![requested(job)],
        JobEvent::Created(_) | JobEvent::Labelled { .. } | JobEvent::CustomerArrived { .. } => Vec::new(),
        JobEvent::Accepted { at } => vec![accepted(job, *at)],
        JobEvent::Rejected { reason, at } => vec![rejected(job, ordered(&job.lines), reject_reason_pb(*reason), *at)],
        JobEvent::Picked { lines, at } => with_not_found(picked(job, lines, *at), job, lines, *at),
        JobEvent::NodeShipped {
            carrier,
            tracking_number,
            lines,
            at,
        } => with_not_found(
            shipped(job, found(job, lines), carrier, tracking_number, *at),
            job,
            lines,
            *at,
        ),
        JobEvent::Packed {
            packages,
            weight_grams,
            at,
        } => vec![packed(job, *packages, *weight_grams, *at)],
        JobEvent::Shipped { at } => vec![shipped(
            job,
            delivered(&job.lines),
            &job.carrier,
            &job.tracking_number,
            *at,
        )],
        JobEvent::ReadyForPickup {
            pickup_code,
            collect_by,
            at,
            ..
        } => vec![ready_for_pickup(job, pickup_code, *collect_by, *at)],
        JobEvent::Collected { at } => vec![collected(job, *at)],
        JobEvent::Cancelled {
            reason,
            by_routing,
            uncollected,
            at,
        } => vec![cancelled(job, reason, *by_routing, *uncollected, *at)],
        JobEvent::SlaBreached { deadline, due_at, at } => vec![sla_breached(job, deadline, *due_at, *at)],
    }
}

/// A pick or a node's shipment, then the units it did not find.
fn with_not_found(event: Event, job: &Job, given: &[LineUnits], at: DateTime<Utc>) -> Vec<Event> {
    std::iter::once(event).chain(not_found(job, given, at)).collect()
}

fn accepted(job: &Job, at: DateTime<Utc>) -> Event {
    Event::JobAccepted(pb::JobAccepted {
        job_id: job.job_id.to_string(),
        order_id: job.order_id.to_string(),
        location_id: job.node_id.to_string(),
        lines: ordered(&job.lines),
        at: Some(timestamp(at)),
    })
}

fn picked(job: &Job, lines: &[LineUnits], at: DateTime<Utc>) -> Event {
    Event::JobPicked(pb::JobPicked {
        job_id: job.job_id.to_string(),
        order_id: job.order_id.to_string(),
        location_id: job.node_id.to_string(),
        lines: found(job, lines),
        at: Some(timestamp(at)),
    })
}

fn packed(job: &Job, packages: u32, weight_grams: u32, at: DateTime<Utc>) -> Event {
    Event::JobPacked(pb::JobPacked {
        job_id: job.job_id.to_string(),
        order_id: job.order_id.to_string(),
        location_id: job.node_id.to_string(),
        packages,
        weight_grams,
        at: Some(timestamp(at)),
    })
}

fn ready_for_pickup(job: &Job, pickup_code: &str, collect_by: DateTime<Utc>, at: DateTime<Utc>) -> Event {
    Event::ReadyForPickup(pb::ReadyForPickup {
        job_id: job.job_id.to_string(),
        order_id: job.order_id.to_string(),
        location_id: job.pickup_location().to_string(),
        lines: delivered(&job.lines),
        pickup_code: pickup_code.to_owned(),
        at: Some(timestamp(at)),
        collect_by: Some(timestamp(collect_by)),
    })
}

/// The node's reservation: for ship-to-store it was consumed when the parcel left the
/// warehouse, and the ledger takes nothing twice.
fn collected(job: &Job, at: DateTime<Utc>) -> Event {
    Event::JobCollected(pb::JobCollected {
        job_id: job.job_id.to_string(),
        order_id: job.order_id.to_string(),
        location_id: job.node_id.to_string(),
        reservation_id: job.reservation_id.to_string(),
        lines: delivered(&job.lines),
        at: Some(timestamp(at)),
    })
}

fn sla_breached(job: &Job, deadline: &str, due_at: DateTime<Utc>, at: DateTime<Utc>) -> Event {
    Event::SlaBreached(pb::SlaBreached {
        job_id: job.job_id.to_string(),
        order_id: job.order_id.to_string(),
        location_id: job.node_id.to_string(),
        deadline: deadline.to_owned(),
        due_at: Some(timestamp(due_at)),
        at: Some(timestamp(at)),
    })
}

/// A job a warehouse's, 3PL's or supplier's system works: they hear of it here.
fn requested(job: &Job) -> Event {
    let destination = |kind: JobKind| {
        if job.kind == kind {
            job.pickup_store_id.to_string()
        } else {
            String::new()
        }
    };
    Event::JobRequested(pb::JobRequested {
        job_id: job.job_id.to_string(),
        order_id: job.order_id.to_string(),
        location_id: job.node_id.to_string(),
        node_type: job.node_type.proto_name().to_owned(),
        lines: ordered(&job.lines),
        delivery_method: job.delivery_method.proto_name().to_owned(),
        ship_to: ship_to_pb(job),
        destination_store_id: destination(JobKind::ShipToStore),
        destination_locker_id: destination(JobKind::ShipToLocker),
        customer_name: job.customer_name.clone(),
        promised_at: job.promised_at.map(timestamp),
        priority: priority_rank(job.priority),
        reservation_id: job.reservation_id.to_string(),
        at: Some(timestamp(job.created_at)),
    })
}

fn rejected(job: &Job, lines: Vec<pb::JobLine>, reason: pb::RejectReason, at: DateTime<Utc>) -> Event {
    Event::JobRejected(pb::JobRejected {
        job_id: job.job_id.to_string(),
        order_id: job.order_id.to_string(),
        location_id: job.node_id.to_string(),
        reservation_id: job.reservation_id.to_string(),
        lines,
        reason: reason as i32,
        at: Some(timestamp(at)),
    })
}

/// The units of each line of the job `given` names (picked, or shipped by a node).
fn found(job: &Job, given: &[LineUnits]) -> Vec<pb::JobLine> {
    lines_pb(
        job.lines
            .iter()
            .map(|l| (&l.line_id, &l.sku, units_of(given, &l.line_id))),
    )
}

/// Units not found go back to routing, and off the node's stock.
fn not_found(job: &Job, given: &[LineUnits], at: DateTime<Utc>) -> Option<Event> {
    let missing = lines_pb(
        job.lines
            .iter()
            .map(|l| (&l.line_id, &l.sku, l.ordered - units_of(given, &l.line_id))),
    );
    (!missing.is_empty()).then(|| rejected(job, missing, pb::RejectReason::OutOfStock, at))
}

fn units_of(given: &[LineUnits], line_id: &LineId) -> i64 {
    given.iter().find(|g| g.line_id == *line_id).map_or(0, |g| g.units)
}

fn shipped(job: &Job, lines: Vec<pb::JobLine>, carrier: &str, tracking_number: &str, at: DateTime<Utc>) -> Event {
    Event::JobShipped(pb::JobShipped {
        job_id: job.job_id.to_string(),
        order_id: job.order_id.to_string(),
        location_id: job.node_id.to_string(),
        reservation_id: job.reservation_id.to_string(),
        lines,
        carrier: carrier.to_owned(),
        tracking_number: tracking_number.to_owned(),
        at: Some(timestamp(at)),
        pickup_location_id: parcel_destination(job),
    })
}

/// Routing took the job back itself and has told the ledger: the node's systems hear it
/// withdrawn. Otherwise it is cancelled, and what nobody collected says where it went back.
fn cancelled(job: &Job, reason: &str, by_routing: bool, uncollected: bool, at: DateTime<Utc>) -> Event {
    if by_routing {
        return Event::JobWithdrawn(pb::JobWithdrawn {
            job_id: job.job_id.to_string(),
            order_id: job.order_id.to_string(),
            location_id: job.node_id.to_string(),
            lines: delivered(&job.lines),
            reason: reason.to_owned(),
            at: Some(timestamp(at)),
        });
    }
    Event::JobCancelled(pb::JobCancelled {
        job_id: job.job_id.to_string(),
        order_id: job.order_id.to_string(),
        location_id: job.node_id.to_string(),
        reservation_id: job.reservation_id.to_string(),
        lines: delivered(&job.lines),
        reason: reason.to_owned(),
        at: Some(timestamp(at)),
        uncollected,
        returned_to_location_id: match uncollected {
            true => job
                .uncollected_return_location()
                .map(ToString::to_string)
                .unwrap_or_default(),
            false => String::new(),
        },
    })
}

fn message(order_id: &OrderId, event: Event, at: DateTime<Utc>) -> OutboxMessage {
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
        topic: oms_proto::topics::FULFILMENT.name.to_owned(),
        key: order_id.to_string(),
        message_type: format!("oms.fulfilment.v1.{kind}"),
        payload: pb::FulfilmentEvent { event: Some(event) }.encode_to_vec(),
        headers: vec![("oms_correlation_id".to_owned(), order_id.to_string())],
        created_at: at,
    }
}
