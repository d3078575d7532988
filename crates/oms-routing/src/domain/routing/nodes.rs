//! What the nodes report about the jobs routing gave them (a job's id is the fulfilment
//! request's): taken on, done, or given back. Reports of jobs routing does not know, or of
//! allocations already closed, change nothing; none can be refused.

use std::convert::Infallible;

use chrono::{DateTime, Utc};
use oms_eventsourcing::{Change, Changes, Decide};

use super::Routing;
use crate::domain::{AllocationRecord, AllocationStatus, JobId, LineNeed, RoutingEvent, order_stream};

/// The node took the job on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobAccepted {
    pub request_id: JobId,
    pub at: DateTime<Utc>,
}

impl Decide<Routing> for JobAccepted {
    type Refusal = Infallible;

    fn decide(&self, routing: &Routing, _now: DateTime<Utc>) -> Result<Changes<RoutingEvent>, Infallible> {
        Ok(match routing.order_of_request(&self.request_id) {
            Some(order)
                if order
                    .allocation(&self.request_id)
                    .is_some_and(|a| a.status == AllocationStatus::Requested) =>
            {
                vec![Change::new(
                    order_stream(order.order_id()),
                    RoutingEvent::AllocationAccepted {
                        request_id: self.request_id.clone(),
                        at: self.at,
                    },
                )]
            }
            _ => Vec::new(),
        })
    }
}

/// The job's units left the node (shipped, or collected there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobCompleted {
    pub request_id: JobId,
    pub at: DateTime<Utc>,
}

impl Decide<Routing> for JobCompleted {
    type Refusal = Infallible;

    fn decide(&self, routing: &Routing, _now: DateTime<Utc>) -> Result<Changes<RoutingEvent>, Infallible> {
        Ok(match routing.order_of_request(&self.request_id) {
            Some(order)
                if order
                    .allocation(&self.request_id)
                    .is_some_and(AllocationRecord::is_open) =>
            {
                vec![Change::new(
                    order_stream(order.order_id()),
                    RoutingEvent::AllocationCompleted {
                        request_id: self.request_id.clone(),
                        at: self.at,
                    },
                )]
            }
            _ => Vec::new(),
        })
    }
}

/// A node gave units back (rejected, short-picked, missed its acceptance deadline, or
/// cancelled its job): they are routed again, elsewhere. No lines: all of the job's units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobDropped {
    pub request_id: JobId,
    pub lines: Vec<LineNeed>,
    pub reason: String,
    pub at: DateTime<Utc>,
}

impl Decide<Routing> for JobDropped {
    type Refusal = Infallible;

    fn decide(&self, routing: &Routing, _now: DateTime<Utc>) -> Result<Changes<RoutingEvent>, Infallible> {
        Ok(match routing.order_of_request(&self.request_id) {
            Some(order)
                if order
                    .allocation(&self.request_id)
                    .is_some_and(AllocationRecord::is_open) =>
            {
                vec![Change::new(
                    order_stream(order.order_id()),
                    RoutingEvent::AllocationDropped {
                        request_id: self.request_id.clone(),
                        lines: self.lines.clone(),
                        reason: self.reason.clone(),
                        exclude_node: true,
                        give_back_capacity: true,
                        at: self.at,
                    },
                )]
            }
            _ => Vec::new(),
        })
    }
}
