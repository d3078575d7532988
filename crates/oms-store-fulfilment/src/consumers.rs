//! The messages store fulfilment consumes: routing's fulfilment requests (new jobs) and
//! requests taken back, and what warehouse, 3PL and supplier systems confirm.

use oms_eventsourcing::writer::Context;
use oms_eventsourcing::{Decide, Decision};
use oms_proto::fulfilment::v1 as pb;
use oms_proto::orders::v1 as orders;
use oms_proto::routing::v1 as routing;
use oms_service::convert::time;
use oms_transport::{Handling, Message, MessageHandler};
use prost::Message as _;

use crate::app::decision;
use crate::domain::{
    ConfirmedLine, CreateJob, Deadlines, Fulfilment, FulfilmentError, JobCreated, JobEvent, JobKind, NodeAccepted,
    NodeCancelled, NodeShipped, RequestedLine, ShipTo, WithdrawJob,
};

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

/// The job a fulfilment request asks for, arriving at `now`: its deadlines run from then.
pub fn job_requested(r: &routing::FulfilmentRequested, now: chrono::DateTime<chrono::Utc>) -> JobCreated {
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
    JobCreated {
        job_id: r.fulfilment_request_id.clone(),
        order_id: r.order_id.clone(),
        node_id: r.node_id.clone(),
        node_type: r.node_type.clone(),
        kind,
        lines: r
            .lines
            .iter()
            .map(|l| RequestedLine {
                line_id: l.order_line_id.clone(),
                sku: l.sku.clone(),
                units: l.quantity,
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
        reservation_id: r.reservation_id.clone(),
        at: now,
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
        let changes = match event.event {
            Some(Event::FulfilmentRequested(r)) => CreateJob {
                job: job_requested(&r, ctx.now),
                accept_within: self.deadlines.accept_within,
            }
            .decide(state, ctx.now),
            Some(Event::FulfilmentCancelled(c)) => WithdrawJob {
                job_id: c.fulfilment_request_id,
                reason: c.reason,
            }
            .decide(state, ctx.now),
            Some(Event::OrderRouted(_) | Event::OrderBackordered(_) | Event::RoutingFailed(_)) | None => Ok(Vec::new()),
        }
        .map_err(handling)?;
        Ok(decision(state, changes, ctx.now))
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
        let job_id = confirmation.job_id;
        let changes = match confirmation.outcome {
            Some(Outcome::Accepted(_)) => NodeAccepted { job_id, at }.decide(state, ctx.now),
            Some(Outcome::Shipped(s)) => NodeShipped {
                job_id,
                carrier: s.carrier,
                tracking_number: s.tracking_number,
                lines: s
                    .lines
                    .into_iter()
                    .map(|l| ConfirmedLine {
                        order_line_id: l.order_line_id,
                        sku: l.sku,
                        units: l.quantity,
                    })
                    .collect(),
                at,
            }
            .decide(state, ctx.now),
            Some(Outcome::Cancelled(c)) => NodeCancelled {
                job_id,
                reason: c.reason,
                at,
            }
            .decide(state, ctx.now),
            None => return Err(Handling::poison("a confirmation needs an outcome")),
        }
        .map_err(handling)?;
        Ok(decision(state, changes, ctx.now))
    }
}
