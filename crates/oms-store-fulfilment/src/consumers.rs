//! The messages store fulfilment consumes: routing's fulfilment requests (new jobs) and
//! requests taken back, and what warehouse, 3PL and supplier systems confirm.

use oms_eventsourcing::Decision;
use oms_eventsourcing::writer::Context;
use oms_proto::fulfilment::v1 as pb;
use oms_proto::orders::v1 as orders;
use oms_proto::routing::v1 as routing;
use oms_service::convert::time;
use oms_transport::{Handling, Message, MessageHandler};
use prost::Message as _;

use crate::app::decision;
use crate::domain::{Deadlines, Fulfilment, FulfilmentError, Job, JobEvent, JobKind, JobLine, JobStatus, ShipTo};

pub const ROUTING_TOPIC: &str = "oms.routing.v1";
/// Confirmations of warehouse, 3PL and supplier systems.
pub const CONFIRMATIONS_TOPIC: &str = "oms.fulfilment-confirmations.v1";

type Handled = Result<Decision<JobEvent, ()>, Handling>;

fn handling(error: FulfilmentError) -> Handling {
    match error {
        FulfilmentError::UnknownJob(id) => Handling::park(format!("job {id} is not known yet")),
        other => Handling::poison(other.to_string()),
    }
}

/// The job a fulfilment request asks for.
pub fn job_of(r: &routing::FulfilmentRequested, now: chrono::DateTime<chrono::Utc>) -> Job {
    let delivery_method = orders::DeliveryMethod::try_from(r.delivery_method)
        .map(|m| m.as_str_name())
        .unwrap_or("DELIVERY_METHOD_UNSPECIFIED")
        .to_owned();
    let kind = JobKind::of(
        &r.node_type,
        &delivery_method,
        &r.node_id,
        &r.pickup_location_id,
        &r.pickup_location_type,
    );
    Job {
        job_id: r.fulfilment_request_id.clone(),
        order_id: r.order_id.clone(),
        node_id: r.node_id.clone(),
        node_type: r.node_type.clone(),
        kind,
        status: JobStatus::Requested,
        lines: r
            .lines
            .iter()
            .map(|l| JobLine {
                line_id: l.order_line_id.clone(),
                sku: l.sku.clone(),
                ordered: l.quantity,
                picked: None,
            })
            .collect(),
        delivery_method,
        ship_to: r.shipping_address.as_ref().map(|a| ShipTo {
            name: a.name.clone(),
            lines: a.lines.clone(),
            city: a.city.clone(),
            region: a.region.clone(),
            postal_code: a.postal_code.clone(),
            country: a.country.clone(),
            phone: a.phone.clone(),
        }),
        pickup_store_id: r.pickup_location_id.clone(),
        customer_name: r.customer_name.clone(),
        priority: r.priority,
        promised_at: r.promised_at.as_ref().and_then(time),
        accept_by: None,
        created_at: r.at.as_ref().and_then(time).unwrap_or(now),
        reservation_id: r.reservation_id.clone(),
        carrier: String::new(),
        service: String::new(),
        tracking_number: String::new(),
        packages: 0,
        weight_grams: 0,
        label: String::new(),
        pickup_code: String::new(),
        locker_id: String::new(),
        collect_by: None,
        curbside_bay: String::new(),
        reason: String::new(),
        late: false,
    }
}

/// `oms.routing.v1`: a fulfilment request becomes a job; a request taken back cancels it.
pub struct RoutingRequests {
    pub deadlines: Deadlines,
}

impl MessageHandler<Fulfilment> for RoutingRequests {
    fn handle(&self, state: &Fulfilment, message: &Message, ctx: &Context<'_>) -> Handled {
        use routing::routing_event::Event;
        let event = routing::RoutingEvent::decode(message.payload.as_slice())
            .map_err(|e| Handling::poison(format!("not an oms.routing.v1.RoutingEvent: {e}")))?;
        let events = match event.event {
            Some(Event::FulfilmentRequested(r)) => {
                // The job's deadlines run from when it arrives here.
                let mut job = job_of(&r, ctx.now);
                job.created_at = ctx.now;
                state.create(job, &self.deadlines).map_err(handling)?
            }
            Some(Event::FulfilmentCancelled(c)) => match state.job(&c.fulfilment_request_id) {
                Some(_) => state
                    .cancel(&c.fulfilment_request_id, &c.reason, true, ctx.now)
                    .map_err(handling)?,
                None => Vec::new(),
            },
            Some(Event::OrderRouted(_) | Event::OrderBackordered(_) | Event::RoutingFailed(_)) | None => Vec::new(),
        };
        Ok(decision(state, events, ctx.now))
    }
}

/// `oms.fulfilment-confirmations.v1`: `oms.fulfilment.v1.NodeConfirmation` per message.
pub struct NodeConfirmations;

impl MessageHandler<Fulfilment> for NodeConfirmations {
    fn handle(&self, state: &Fulfilment, message: &Message, ctx: &Context<'_>) -> Handled {
        use pb::node_confirmation::Outcome;
        let confirmation = pb::NodeConfirmation::decode(message.payload.as_slice())
            .map_err(|e| Handling::poison(format!("not an oms.fulfilment.v1.NodeConfirmation: {e}")))?;
        if confirmation.job_id.is_empty() {
            return Err(Handling::poison("job_id: is required"));
        }
        let at = confirmation.at.as_ref().and_then(time).unwrap_or(ctx.now);
        let id = &confirmation.job_id;
        let events = match confirmation.outcome {
            Some(Outcome::Accepted(_)) => state.node_accepted(id, at),
            Some(Outcome::Shipped(s)) => {
                let job = state
                    .job(id)
                    .ok_or_else(|| handling(FulfilmentError::UnknownJob(id.clone())))?;
                // Lines by order line id, or by SKU when the system does not know ours.
                let shipped: Vec<(String, i64)> = job
                    .lines
                    .iter()
                    .map(|line| {
                        let units = s
                            .lines
                            .iter()
                            .filter(|l| {
                                l.order_line_id == line.line_id || (l.order_line_id.is_empty() && l.sku == line.sku)
                            })
                            .map(|l| l.quantity)
                            .sum::<i64>();
                        (line.line_id.clone(), units.min(line.ordered).max(0))
                    })
                    .collect();
                state.node_shipped(id, s.carrier, s.tracking_number, shipped, at)
            }
            Some(Outcome::Cancelled(c)) => state.cancel(id, &format!("cancelled by the node: {}", c.reason), false, at),
            None => return Err(Handling::poison("a confirmation needs an outcome")),
        }
        .map_err(handling)?;
        Ok(decision(state, events, ctx.now))
    }
}
