//! The staff API: a store's queue and the steps of each job.

use oms_proto::fulfilment::v1 as pb;
use oms_proto::fulfilment::v1::store_fulfilment_server::{StoreFulfilment, StoreFulfilmentServer};
use oms_service::convert::timestamp;
use oms_service::{ToStatus, Violations, command_status};
use tonic::{Request, Response, Status};

use crate::app::{FulfilmentService, pickup_code};
use crate::convert::priority_rank;
use crate::domain::{
    AcceptJob, DepositInLocker, FulfilmentError, HandOver, Job, JobRef, JobStatus, LabelJob, LineUnits,
    MarkReadyForPickup, PackJob, PickJob, ReceiveParcel, RecordCustomerArrival, RejectJob, RejectReason, ShipJob,
    StaffStep,
};
use crate::messages::ship_to_pb;

pub struct FulfilmentApi {
    service: FulfilmentService,
}

impl FulfilmentApi {
    pub fn server(service: FulfilmentService) -> StoreFulfilmentServer<Self> {
        StoreFulfilmentServer::new(Self { service })
    }

    /// Takes `step` on the job it names; answers the job as it is after it.
    async fn step(&self, step: impl StaffStep) -> Result<Response<pb::Job>, Status> {
        required(step.job().store_id.as_str(), step.job().job_id.as_str())?;
        let job = self.service.step(step, "").await.map_err(command_status)?;
        Ok(Response::new(job_pb(&job)))
    }
}

impl ToStatus for FulfilmentError {
    fn to_status(&self) -> Status {
        match self {
            FulfilmentError::Invalid(violations) => violations.clone().into_status(),
            FulfilmentError::UnknownJob(_) => Status::not_found(self.to_string()),
            FulfilmentError::WrongStore { .. } => Status::permission_denied(self.to_string()),
            FulfilmentError::NotNow { .. } => Status::failed_precondition(self.to_string()),
        }
    }
}

fn required(store_id: &str, job_id: &str) -> Result<(), Status> {
    let mut bad = Violations::new();
    bad.require(store_id, "store_id");
    bad.require(job_id, "job_id");
    bad.into_result()
}

fn status_pb(status: JobStatus) -> pb::JobStatus {
    match status {
        JobStatus::Requested => pb::JobStatus::Requested,
        JobStatus::Accepted => pb::JobStatus::Accepted,
        JobStatus::Picked => pb::JobStatus::Picked,
        JobStatus::Packed => pb::JobStatus::Packed,
        JobStatus::Labelled => pb::JobStatus::Labelled,
        JobStatus::Shipped => pb::JobStatus::Shipped,
        JobStatus::InTransitToStore => pb::JobStatus::InTransitToStore,
        JobStatus::InTransitToLocker => pb::JobStatus::InTransitToLocker,
        JobStatus::ReadyForPickup => pb::JobStatus::ReadyForPickup,
        JobStatus::CustomerWaiting => pb::JobStatus::CustomerWaiting,
        JobStatus::Collected => pb::JobStatus::Collected,
        JobStatus::Rejected => pb::JobStatus::Rejected,
        JobStatus::Cancelled => pb::JobStatus::Cancelled,
    }
}

pub fn job_pb(job: &Job) -> pb::Job {
    pb::Job {
        job_id: job.job_id.to_string(),
        order_id: job.order_id.to_string(),
        location_id: job.node_id.to_string(),
        node_type: job.node_type.proto_name().to_owned(),
        kind: job.kind.name().to_owned(),
        status: status_pb(job.status) as i32,
        lines: job
            .lines
            .iter()
            .map(|l| pb::PickedLine {
                order_line_id: l.line_id.to_string(),
                sku: l.sku.to_string(),
                ordered: l.ordered,
                picked: l.picked.unwrap_or(0),
            })
            .collect(),
        delivery_method: job.delivery_method.proto_name().to_owned(),
        ship_to: ship_to_pb(job),
        pickup_store_id: job.pickup_store_id.to_string(),
        customer_name: job.customer_name.clone(),
        priority: priority_rank(job.priority),
        promised_at: job.promised_at.map(timestamp),
        accept_by: job.accept_by.map(timestamp),
        created_at: Some(timestamp(job.created_at)),
        carrier: job.carrier.clone(),
        service: job.service.clone(),
        tracking_number: job.tracking_number.clone(),
        packages: job.packages,
        weight_grams: job.weight_grams,
        pickup_code: job.pickup_code.clone(),
        locker_id: job.locker_id.clone(),
        collect_by: job.collect_by.map(timestamp),
        curbside_bay: job.curbside_bay.clone(),
        reason: job.reason.clone(),
        reservation_id: job.reservation_id.to_string(),
        late: job.late,
    }
}

#[tonic::async_trait]
impl StoreFulfilment for FulfilmentApi {
    async fn list_queue(
        &self,
        request: Request<pb::ListQueueRequest>,
    ) -> Result<Response<pb::ListQueueResponse>, Status> {
        let request = request.into_inner();
        let mut bad = Violations::new();
        bad.require(&request.store_id, "store_id");
        bad.into_result()?;
        let jobs = self
            .service
            .queue(&request.store_id, request.include_finished)
            .iter()
            .map(job_pb)
            .collect();
        Ok(Response::new(pb::ListQueueResponse { jobs }))
    }

    async fn get_job(&self, request: Request<pb::JobRef>) -> Result<Response<pb::Job>, Status> {
        let r = request.into_inner();
        required(&r.store_id, &r.job_id)?;
        let job = self
            .service
            .job(&r.job_id)
            .ok_or_else(|| Status::not_found(format!("job {} does not exist", r.job_id)))?;
        if !job.concerns(&r.store_id) {
            return Err(FulfilmentError::WrongStore {
                job_id: r.job_id.into(),
                store_id: r.store_id.into(),
                owner: job.store_of().clone(),
            }
            .to_status());
        }
        Ok(Response::new(job_pb(&job)))
    }

    async fn accept_job(&self, request: Request<pb::JobRef>) -> Result<Response<pb::Job>, Status> {
        let r = request.into_inner();
        self.step(AcceptJob {
            job: JobRef::new(r.store_id, r.job_id),
        })
        .await
    }

    async fn reject_job(&self, request: Request<pb::RejectJobRequest>) -> Result<Response<pb::Job>, Status> {
        let r = request.into_inner();
        let reason = match pb::RejectReason::try_from(r.reason) {
            Ok(pb::RejectReason::OutOfStock) => RejectReason::OutOfStock,
            Ok(pb::RejectReason::Damaged) => RejectReason::Damaged,
            Ok(pb::RejectReason::Capacity) => RejectReason::Capacity,
            _ => {
                return Err(
                    FulfilmentError::invalid("reason", "must be out of stock, damaged or capacity").to_status(),
                );
            }
        };
        self.step(RejectJob {
            job: JobRef::new(r.store_id, r.job_id),
            reason,
        })
        .await
    }

    async fn pick_job(&self, request: Request<pb::PickJobRequest>) -> Result<Response<pb::Job>, Status> {
        let r = request.into_inner();
        let mut bad = Violations::new();
        bad.check(
            r.lines.is_empty(),
            "lines",
            "every line of the job, with the units found",
        );
        bad.into_result()?;
        let lines = r
            .lines
            .into_iter()
            .map(|l| LineUnits::new(l.order_line_id, l.picked))
            .collect();
        self.step(PickJob {
            job: JobRef::new(r.store_id, r.job_id),
            lines,
        })
        .await
    }

    async fn pack_job(&self, request: Request<pb::PackJobRequest>) -> Result<Response<pb::Job>, Status> {
        let r = request.into_inner();
        self.step(PackJob {
            job: JobRef::new(r.store_id, r.job_id),
            package_weights_grams: r.packages.iter().map(|p| p.weight_grams).collect(),
        })
        .await
    }

    async fn label_job(&self, request: Request<pb::JobRef>) -> Result<Response<pb::Job>, Status> {
        let r = request.into_inner();
        self.step(LabelJob {
            job: JobRef::new(r.store_id, r.job_id),
            carriers: self.service.carriers(),
        })
        .await
    }

    async fn get_label(&self, request: Request<pb::JobRef>) -> Result<Response<pb::Label>, Status> {
        let r = request.into_inner();
        required(&r.store_id, &r.job_id)?;
        let job = self
            .service
            .job(&r.job_id)
            .filter(|j| j.node_id == *r.store_id)
            .ok_or_else(|| Status::not_found(format!("{} has no job {}", r.store_id, r.job_id)))?;
        if job.label.is_empty() {
            return Err(Status::failed_precondition(format!(
                "job {} has no label yet: pack it, then LabelJob",
                r.job_id
            )));
        }
        Ok(Response::new(pb::Label {
            job_id: job.job_id.into_string(),
            carrier: job.carrier,
            tracking_number: job.tracking_number,
            content_type: "application/zpl".to_owned(),
            content: job.label.into_bytes(),
        }))
    }

    async fn ship_job(&self, request: Request<pb::JobRef>) -> Result<Response<pb::Job>, Status> {
        let r = request.into_inner();
        self.step(ShipJob {
            job: JobRef::new(r.store_id, r.job_id),
        })
        .await
    }

    async fn mark_ready_for_pickup(&self, request: Request<pb::JobRef>) -> Result<Response<pb::Job>, Status> {
        let r = request.into_inner();
        self.step(MarkReadyForPickup {
            job: JobRef::new(r.store_id, r.job_id),
            pickup_code: pickup_code(),
            collect_within: self.service.deadlines().collect_within,
        })
        .await
    }

    async fn deposit_in_locker(
        &self,
        request: Request<pb::DepositInLockerRequest>,
    ) -> Result<Response<pb::Job>, Status> {
        let r = request.into_inner();
        self.step(DepositInLocker {
            job: JobRef::new(r.store_id, r.job_id),
            locker_id: r.locker_id,
            pickup_code: pickup_code(),
            collect_within: self.service.deadlines().collect_within,
        })
        .await
    }

    async fn customer_arrived(
        &self,
        request: Request<pb::CustomerArrivedRequest>,
    ) -> Result<Response<pb::Job>, Status> {
        let r = request.into_inner();
        self.step(RecordCustomerArrival {
            job: JobRef::new(r.store_id, r.job_id),
            bay: r.bay,
        })
        .await
    }

    async fn hand_over(&self, request: Request<pb::HandOverRequest>) -> Result<Response<pb::Job>, Status> {
        let r = request.into_inner();
        let mut bad = Violations::new();
        bad.require(&r.pickup_code, "pickup_code");
        bad.into_result()?;
        self.step(HandOver {
            job: JobRef::new(r.store_id, r.job_id),
            pickup_code: r.pickup_code,
        })
        .await
    }

    async fn receive_parcel(&self, request: Request<pb::JobRef>) -> Result<Response<pb::Job>, Status> {
        let r = request.into_inner();
        self.step(ReceiveParcel {
            job: JobRef::new(r.store_id, r.job_id),
            pickup_code: pickup_code(),
            collect_within: self.service.deadlines().collect_within,
        })
        .await
    }
}
