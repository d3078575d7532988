//! The returns API.

use oms_proto::returns::v1 as pb;
use oms_proto::returns::v1::returns_server::{Returns as ReturnsApi, ReturnsServer};
use oms_service::convert::timestamp;
use oms_service::{ToStatus, Violations, command_status};
use tonic::{Request, Response, Status};

use crate::app::ReturnsService;
use crate::domain::{
    ExchangeLine, InspectReturn, InspectedLine, LineUnits, Method, ReceiveReturn, RefundStatus, Return,
    ReturnRequestLine, ReturnStatus, ReturnsError, StartReturn,
};

pub struct ReturnsGrpc {
    service: ReturnsService,
}

impl ReturnsGrpc {
    pub fn server(service: ReturnsService) -> ReturnsServer<Self> {
        ReturnsServer::new(Self { service })
    }
}

impl ReturnsGrpc {
    /// A store's staff see and inspect the returns started or received at their stores
    /// (the policy leaves that to the service: the store is in the return, not in the
    /// request). A return that does not exist is left to the call to answer.
    fn caller_may_see<T>(&self, request: &Request<T>, return_id: &str) -> Result<(), Status> {
        let Some((caller, realm)) = oms_service::auth::to_check_held(request) else {
            return Ok(());
        };
        let Some(ret) = self.service.get(return_id) else {
            return Ok(());
        };
        let places = [ret.store_id.as_str(), ret.location_id.as_str()];
        match places
            .iter()
            .find(|place| !place.is_empty() && caller.acts_for(realm, place))
        {
            Some(_) => Ok(()),
            None => caller.require(
                realm,
                places.iter().find(|p| !p.is_empty()).unwrap_or(&"no store"),
                &format!("return {return_id}"),
            ),
        }
    }
}

impl ToStatus for ReturnsError {
    fn to_status(&self) -> Status {
        match self {
            ReturnsError::Invalid(violations) => violations.clone().into_status(),
            ReturnsError::UnknownOrder(_) | ReturnsError::UnknownReturn(_) | ReturnsError::UnknownRefund(_) => {
                Status::not_found(self.to_string())
            }
            ReturnsError::NotNow { .. } => Status::failed_precondition(self.to_string()),
        }
    }
}

pub fn return_pb(r: &Return) -> pb::Return {
    pb::Return {
        return_id: r.return_id.to_string(),
        order_id: r.order_id.to_string(),
        status: match r.status {
            ReturnStatus::Authorised => pb::ReturnStatus::Authorised,
            ReturnStatus::Received => pb::ReturnStatus::Received,
            ReturnStatus::Inspected => pb::ReturnStatus::Inspected,
            ReturnStatus::RefundPending => pb::ReturnStatus::RefundPending,
            ReturnStatus::RefundFailed => pb::ReturnStatus::RefundFailed,
            ReturnStatus::Completed => pb::ReturnStatus::Completed,
        } as i32,
        method: match r.method {
            Method::InStore => pb::ReturnMethod::InStore,
            Method::Mail => pb::ReturnMethod::Mail,
            Method::Locker => pb::ReturnMethod::Locker,
        } as i32,
        store_id: r.store_id.to_string(),
        location_id: r.location_id.to_string(),
        lines: r
            .lines
            .iter()
            .map(|l| pb::ReturnLineState {
                order_line_id: l.line_id.to_string(),
                sku: l.sku.to_string(),
                quantity: l.quantity,
                reason_code: l.reason_code.clone(),
                received: l.received,
                resellable: l.resellable,
                damaged: l.damaged,
                unit_price: Some(r.money(l.unit_price_minor).to_pb()),
            })
            .collect(),
        refunds: r
            .refunds
            .iter()
            .map(|f| pb::Refund {
                refund_id: f.refund_id.to_string(),
                amount: Some(r.money(f.amount_minor).to_pb()),
                tender: f.tender.proto_name().to_owned(),
                payment_reference: f.reference.clone(),
                status: match f.status {
                    RefundStatus::Requested => "requested",
                    RefundStatus::Confirmed => "confirmed",
                    RefundStatus::Failed => "failed",
                    RefundStatus::Retried => "retried",
                }
                .to_owned(),
                reason: f.reason.clone(),
            })
            .collect(),
        refunded: Some(r.money(r.refunded_minor()).to_pb()),
        replacement_order_id: r.replacement_order_id.to_string(),
        store_credit: r.store_credit,
        requested_by: r.requested_by.clone(),
        created_at: Some(timestamp(r.created_at)),
    }
}

fn required(value: &str, field: &str) -> Result<(), Status> {
    let mut bad = Violations::new();
    bad.require(value, field);
    bad.into_result()
}

#[tonic::async_trait]
impl ReturnsApi for ReturnsGrpc {
    async fn start_return(&self, request: Request<pb::StartReturnRequest>) -> Result<Response<pb::Return>, Status> {
        let r = request.into_inner();
        let mut bad = Violations::new();
        bad.require(&r.order_id, "order_id");
        let method = match pb::ReturnMethod::try_from(r.method) {
            Ok(pb::ReturnMethod::InStore) => Method::InStore,
            Ok(pb::ReturnMethod::Mail) => Method::Mail,
            Ok(pb::ReturnMethod::Locker) => Method::Locker,
            _ => {
                bad.add("method", "must be in store, mail or locker");
                Method::Mail
            }
        };
        bad.into_result()?;
        // The request id names the return, so a retry finds the first one.
        let return_id = if r.request_id.is_empty() {
            format!("RET-{}", uuid::Uuid::now_v7().simple())
        } else {
            format!("RET-{}", r.request_id)
        };
        let request = StartReturn {
            return_id: return_id.into(),
            order_id: r.order_id.into(),
            lines: r
                .lines
                .into_iter()
                .map(|l| ReturnRequestLine {
                    line_id: l.order_line_id.into(),
                    quantity: l.quantity,
                    reason_code: l.reason_code,
                })
                .collect(),
            method,
            store_id: r.store_id.into(),
            store_credit: r.store_credit,
            exchange: r
                .exchange
                .into_iter()
                .map(|x| ExchangeLine {
                    line_id: x.order_line_id.into(),
                    sku: x.sku.into(),
                    quantity: x.quantity,
                })
                .collect(),
            requested_by: if r.requested_by.is_empty() {
                "customer".to_owned()
            } else {
                r.requested_by
            },
            window: self.service.policy().window,
        };
        let ret = self
            .service
            .start_return(request, &r.request_id)
            .await
            .map_err(command_status)?;
        Ok(Response::new(return_pb(&ret)))
    }

    async fn receive_return(&self, request: Request<pb::ReceiveReturnRequest>) -> Result<Response<pb::Return>, Status> {
        let r = request.into_inner();
        required(&r.return_id, "return_id")?;
        let receipt = ReceiveReturn {
            return_id: r.return_id.into(),
            location_id: r.location_id.into(),
            lines: r
                .lines
                .into_iter()
                .map(|l| LineUnits::new(l.order_line_id, l.quantity))
                .collect(),
        };
        let ret = self.service.receive(receipt).await.map_err(command_status)?;
        Ok(Response::new(return_pb(&ret)))
    }

    async fn inspect_return(&self, request: Request<pb::InspectReturnRequest>) -> Result<Response<pb::Return>, Status> {
        self.caller_may_see(&request, &request.get_ref().return_id)?;
        let r = request.into_inner();
        required(&r.return_id, "return_id")?;
        let inspection = InspectReturn {
            return_id: r.return_id.into(),
            lines: r
                .lines
                .into_iter()
                .map(|l| InspectedLine {
                    line_id: l.order_line_id.into(),
                    resellable: l.resellable,
                    damaged: l.damaged,
                })
                .collect(),
            refund_damaged: self.service.policy().refund_damaged,
        };
        let ret = self.service.inspect(inspection).await.map_err(command_status)?;
        Ok(Response::new(return_pb(&ret)))
    }

    async fn retry_refund(&self, request: Request<pb::RetryRefundRequest>) -> Result<Response<pb::Return>, Status> {
        let r = request.into_inner();
        required(&r.return_id, "return_id")?;
        let ret = self.service.retry_refund(&r.return_id).await.map_err(command_status)?;
        Ok(Response::new(return_pb(&ret)))
    }

    async fn get_return(&self, request: Request<pb::GetReturnRequest>) -> Result<Response<pb::Return>, Status> {
        self.caller_may_see(&request, &request.get_ref().return_id)?;
        let r = request.into_inner();
        required(&r.return_id, "return_id")?;
        let ret = self
            .service
            .get(&r.return_id)
            .ok_or_else(|| Status::not_found(format!("return {} does not exist", r.return_id)))?;
        Ok(Response::new(return_pb(&ret)))
    }

    async fn list_returns(
        &self,
        request: Request<pb::ListReturnsRequest>,
    ) -> Result<Response<pb::ListReturnsResponse>, Status> {
        let r = request.into_inner();
        required(&r.order_id, "order_id")?;
        let returns = self.service.of_order(&r.order_id).iter().map(return_pb).collect();
        Ok(Response::new(pb::ListReturnsResponse { returns }))
    }
}
