//! The messages store fulfilment consumes: routing's fulfilment requests (new jobs) and
//! requests taken back, and what warehouse, 3PL and supplier systems confirm.

use oms_eventsourcing::writer::Context;
use oms_eventsourcing::{Decide, Decision};
use oms_proto::fulfilment::v1 as pb;
use oms_proto::routing::v1 as routing;
use oms_service::convert::time;
use oms_transport::{Handling, Message, MessageHandler};
use prost::Message as _;

use crate::app::decision;
use crate::convert::{PRIORITY_RANKS, priority_of_rank};
use crate::domain::{
    Address, ConfirmedLine, CreateJob, Deadlines, DeliveryMethod, Fulfilment, FulfilmentError, JobCreated, JobEvent,
    JobKind, NodeAccepted, NodeCancelled, NodeShipped, NodeType, RequestedLine, Violations, WithdrawJob,
};

type Handled = Result<Decision<JobEvent, ()>, Handling>;

fn handling(error: FulfilmentError) -> Handling {
    match error {
        FulfilmentError::UnknownJob(id) => Handling::park(format!("job {id} is not known yet")),
        other => Handling::poison(other.to_string()),
    }
}

/// The job a fulfilment request asks for, arriving at `now`: its deadlines run from then.
/// A node type, delivery method or priority the contract does not have is named, never
/// guessed.
pub fn job_requested(
    r: &routing::FulfilmentRequested,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<JobCreated, Violations> {
    let mut bad = Violations::new();
    let node_type = NodeType::from_name(&r.node_type);
    bad.check(
        node_type.is_none(),
        "node_type",
        format!("is {:?}: {}", r.node_type, NodeType::expected()),
    );
    let delivery_method = DeliveryMethod::from_pb(r.delivery_method);
    bad.check(
        delivery_method.is_none(),
        "delivery_method",
        format!("is {}: {}", r.delivery_method, DeliveryMethod::expected()),
    );
    let priority = priority_of_rank(r.priority);
    bad.check(
        priority.is_none(),
        "priority",
        format!("is {}: {PRIORITY_RANKS}", r.priority),
    );
    // Routing leaves the type out for a pickup place its network does not hold.
    let pickup_location_type = match r.pickup_location_type.as_str() {
        "" => Some(None),
        name => NodeType::from_name(name).map(Some),
    };
    bad.check(
        pickup_location_type.is_none(),
        "pickup_location_type",
        format!("is {:?}: {}", r.pickup_location_type, NodeType::expected()),
    );
    let (Some(node_type), Some(delivery_method), Some(priority), Some(pickup_location_type)) =
        (node_type, delivery_method, priority, pickup_location_type)
    else {
        return Err(bad);
    };
    let node_id = r.node_id.clone().into();
    let pickup_store_id = r.pickup_location_id.clone().into();
    Ok(JobCreated {
        job_id: r.fulfilment_request_id.clone().into(),
        order_id: r.order_id.clone().into(),
        kind: JobKind::of(
            node_type,
            delivery_method,
            &node_id,
            &pickup_store_id,
            pickup_location_type,
        ),
        node_id,
        node_type,
        lines: r
            .lines
            .iter()
            .map(|l| RequestedLine {
                line_id: l.order_line_id.clone().into(),
                sku: l.sku.clone().into(),
                units: l.quantity,
            })
            .collect(),
        delivery_method,
        ship_to: r.shipping_address.as_ref().map(Address::from_pb),
        pickup_store_id,
        customer_name: r.customer_name.clone(),
        priority,
        promised_at: r.promised_at.as_ref().and_then(time),
        accept_by: None,
        reservation_id: r.reservation_id.clone().into(),
        at: now,
    })
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
            Some(Event::FulfilmentRequested(r)) => {
                let job = job_requested(&r, ctx.now).map_err(|bad| {
                    Handling::poison(format!("fulfilment request {}: {bad}", r.fulfilment_request_id))
                })?;
                CreateJob {
                    job,
                    accept_within: self.deadlines.accept_within,
                }
                .decide(state, ctx.now)
            }
            Some(Event::FulfilmentCancelled(c)) => WithdrawJob {
                job_id: c.fulfilment_request_id.into(),
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
        let job_id = confirmation.job_id.into();
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
                        order_line_id: l.order_line_id.into(),
                        sku: l.sku.into(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> routing::FulfilmentRequested {
        routing::FulfilmentRequested {
            fulfilment_request_id: "fr-1".into(),
            order_id: "o-1".into(),
            node_id: "store-mitte".into(),
            node_type: "NODE_TYPE_STORE".into(),
            lines: vec![routing::AllocatedLine {
                order_line_id: "1".into(),
                sku: "jacket-m".into(),
                quantity: 2,
            }],
            delivery_method: DeliveryMethod::ClickAndCollect.to_pb() as i32,
            priority: 2,
            ..Default::default()
        }
    }

    #[test]
    fn a_request_is_read_once_into_the_kernels_values() {
        let job = job_requested(&request(), chrono::Utc::now()).expect("a job");
        assert_eq!(job.node_type, NodeType::Store);
        assert_eq!(job.delivery_method, DeliveryMethod::ClickAndCollect);
        assert_eq!(job.priority, crate::domain::Priority::Urgent);
        assert_eq!(job.kind, JobKind::Pickup);
        assert_eq!(job.lines[0].sku, "jacket-m");
    }

    #[test]
    fn a_value_the_contract_lacks_is_named_never_guessed() {
        let mut r = request();
        r.node_type = "NODE_TYPE_SHED".into();
        r.delivery_method = 0;
        r.priority = 7;
        r.pickup_location_id = "locker-1".into();
        r.pickup_location_type = "cupboard".into();
        let bad = job_requested(&r, chrono::Utc::now()).expect_err("refused");
        let fields: Vec<&str> = bad.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            ["node_type", "delivery_method", "priority", "pickup_location_type"]
        );
        assert!(
            bad.to_string().contains("delivery_method: is 0: must be STANDARD"),
            "{bad}"
        );
    }

    #[test]
    fn a_pickup_place_routing_does_not_know_the_type_of_is_a_store() {
        let mut r = request();
        r.pickup_location_id = "store-kreuzberg".into();
        let job = job_requested(&r, chrono::Utc::now()).expect("a job");
        assert_eq!(job.kind, JobKind::ShipToStore);
    }
}
