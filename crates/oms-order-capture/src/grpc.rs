//! The gRPC API: translates protobuf to order commands and reads, and back.

use chrono::DateTime;
use oms_proto::orders::v1 as pb;
use oms_proto::orders::v1::order_capture_server::{OrderCapture as OrderCaptureApi, OrderCaptureServer};
use oms_service::auth;
use oms_service::convert::{time, timestamp};
use oms_service::{ToStatus, Violations, command_status};
use tonic::{Request, Response, Status};

use crate::app::OrderCapture;
use crate::convert;
use crate::domain::orders::OrderFilter;
use crate::domain::{CancelOrder, ChangeDelivery, ChangeShippingAddress, HoldOrder, OrderError, ReleaseOrder};

pub struct OrdersApi {
    orders: OrderCapture,
}

impl OrdersApi {
    pub fn server(orders: OrderCapture) -> OrderCaptureServer<Self> {
        OrderCaptureServer::new(Self { orders })
    }
}

impl ToStatus for OrderError {
    fn to_status(&self) -> Status {
        match self {
            OrderError::Invalid(fields) => fields.clone().into_status(),
            OrderError::UnknownOrder(_) => Status::not_found(self.to_string()),
            OrderError::UnknownLine { line_id, .. } => refused("lines", format!("the order has no line {line_id}")),
            OrderError::NotNow { .. } => Status::failed_precondition(self.to_string()),
        }
    }
}

/// `INVALID_ARGUMENT` for one field.
fn refused(field: &str, description: impl Into<String>) -> Status {
    let mut bad = Violations::new();
    bad.add(field, description);
    bad.into_status()
}

impl OrdersApi {
    /// A sales channel reads and cancels its own channel's orders only (the policy leaves
    /// that to the service: the channel is in the order, not in the request). An order
    /// that does not exist is left to the call to answer.
    fn caller_may_see<T>(&self, request: &Request<T>, order_id: &str) -> Result<(), Status> {
        let Some((caller, realm)) = auth::to_check_held(request) else {
            return Ok(());
        };
        match self.orders.channel_of(order_id) {
            Some(channel) => caller.require(realm, channel.name(), &format!("order {order_id}")),
            None => Ok(()),
        }
    }
}

fn required_order_id(order_id: &str) -> Result<(), Status> {
    let mut violations = Violations::new();
    violations.check(order_id.trim().is_empty(), "order_id", "is required");
    violations.into_result()
}

#[tonic::async_trait]
impl OrderCaptureApi for OrdersApi {
    async fn place_order(&self, request: Request<pb::PlaceOrderRequest>) -> Result<Response<pb::Order>, Status> {
        let Some(draft) = request.into_inner().order else {
            return Err(refused("order", "is required"));
        };
        let draft = convert::draft(&draft).map_err(Violations::into_status)?;
        let placed = self.orders.place(draft).await.map_err(command_status)?;
        Ok(Response::new(convert::order_pb(&placed.order)))
    }

    async fn get_order(&self, request: Request<pb::GetOrderRequest>) -> Result<Response<pb::Order>, Status> {
        self.caller_may_see(&request, &request.get_ref().order_id)?;
        let id = request.into_inner().order_id;
        required_order_id(&id)?;
        let order = self
            .orders
            .order(&id)
            .ok_or_else(|| Status::not_found(format!("order {id} does not exist")))?;
        Ok(Response::new(convert::order_pb(&order)))
    }

    async fn list_orders(
        &self,
        request: Request<pb::ListOrdersRequest>,
    ) -> Result<Response<pb::ListOrdersResponse>, Status> {
        let request = request.into_inner();
        let mut violations = Violations::new();
        let channel = match request.channel {
            0 => None,
            value => {
                let channel = crate::domain::Channel::from_pb(value);
                violations.check(channel.is_none(), "channel", "is not a channel");
                channel
            }
        };
        let status = match request.status {
            0 => None,
            value => {
                let status = convert::status(value);
                violations.check(status.is_none(), "status", "is not an order status");
                status
            }
        };
        let placed_from = request.placed_from.as_ref().map(time);
        violations.check(
            placed_from.as_ref().is_some_and(Option::is_none),
            "placed_from",
            "is not a valid time",
        );
        let placed_until = request.placed_until.as_ref().map(time);
        violations.check(
            placed_until.as_ref().is_some_and(Option::is_none),
            "placed_until",
            "is not a valid time",
        );
        violations.check(request.page_size < 0, "page_size", "cannot be negative");
        let cursor = match request.page_token.split_once(':') {
            _ if request.page_token.is_empty() => None,
            Some((micros, id)) => match micros.parse::<i64>().ok().and_then(DateTime::from_timestamp_micros) {
                Some(at) => Some((at, id.to_owned())),
                None => {
                    violations.add("page_token", "is not a token this service gave");
                    None
                }
            },
            None => {
                violations.add("page_token", "is not a token this service gave");
                None
            }
        };
        violations.into_result()?;
        let filter = OrderFilter {
            customer_id: Some(request.customer_id).filter(|c| !c.is_empty()),
            channel,
            status,
            placed_from: placed_from.flatten(),
            placed_until: placed_until.flatten(),
        };
        let size = if request.page_size == 0 {
            50
        } else {
            request.page_size.min(1_000) as usize
        };
        let page = self.orders.list(&filter, cursor, size);
        let next_page_token = match page.last() {
            Some(last) if page.len() == size => {
                format!(
                    "{}:{}",
                    last.placed_at.map_or(0, |at| at.timestamp_micros()),
                    last.order_id
                )
            }
            _ => String::new(),
        };
        Ok(Response::new(pb::ListOrdersResponse {
            orders: page.iter().map(convert::order_pb).collect(),
            next_page_token,
        }))
    }

    async fn track(&self, request: Request<pb::TrackRequest>) -> Result<Response<pb::Tracking>, Status> {
        self.caller_may_see(&request, &request.get_ref().order_id)?;
        let id = request.into_inner().order_id;
        required_order_id(&id)?;
        let order = self
            .orders
            .order(&id)
            .ok_or_else(|| Status::not_found(format!("order {id} does not exist")))?;
        let (pickup_location_id, pickup_code) = order.pickup.clone().unwrap_or_default();
        Ok(Response::new(pb::Tracking {
            order_id: order.order_id.clone(),
            status: convert::status_pb(order.status()) as i32,
            timeline: order.timeline.iter().map(convert::status_change_pb).collect(),
            expected_at: order.expected_at().map(timestamp),
            tracking_numbers: order.tracking_numbers.clone(),
            pickup_location_id,
            pickup_code,
        }))
    }

    async fn get_order_history(
        &self,
        request: Request<pb::GetOrderHistoryRequest>,
    ) -> Result<Response<pb::OrderHistory>, Status> {
        self.caller_may_see(&request, &request.get_ref().order_id)?;
        let id = request.into_inner().order_id;
        required_order_id(&id)?;
        let events = self
            .orders
            .history(&id)
            .await
            .map_err(|e| Status::unavailable(format!("cannot read the log: {e}")))?;
        if events.is_empty() {
            return Err(Status::not_found(format!("order {id} does not exist")));
        }
        let entries = events
            .iter()
            .map(|recorded| pb::HistoryEntry {
                version: recorded.meta.version,
                r#type: oms_eventsourcing::DomainEvent::event_type(&recorded.event).to_owned(),
                at: Some(timestamp(recorded.meta.recorded_at)),
                detail: serde_json::to_string(&recorded.event).unwrap_or_default(),
            })
            .collect();
        Ok(Response::new(pb::OrderHistory { order_id: id, entries }))
    }

    async fn cancel_order(&self, request: Request<pb::CancelOrderRequest>) -> Result<Response<pb::Order>, Status> {
        self.caller_may_see(&request, &request.get_ref().order_id)?;
        let request = request.into_inner();
        required_order_id(&request.order_id)?;
        let lines = convert::line_quantities(&request.lines);
        let (order_id, reason, by) = (request.order_id.clone(), request.reason, request.requested_by);
        let order = self
            .orders
            .act(request.order_id, Some(request.request_id), move |at| CancelOrder {
                order_id,
                lines,
                reason,
                by,
                at,
            })
            .await
            .map_err(command_status)?;
        Ok(Response::new(convert::order_pb(&order)))
    }

    async fn change_shipping_address(
        &self,
        request: Request<pb::ChangeShippingAddressRequest>,
    ) -> Result<Response<pb::Order>, Status> {
        let request = request.into_inner();
        required_order_id(&request.order_id)?;
        let Some(address) = request.address.as_ref().map(crate::domain::Address::from_pb) else {
            return Err(refused("address", "is required"));
        };
        let (order_id, by) = (request.order_id.clone(), request.requested_by);
        let order = self
            .orders
            .act(request.order_id, Some(request.request_id), move |at| {
                ChangeShippingAddress {
                    order_id,
                    address,
                    by,
                    at,
                }
            })
            .await
            .map_err(command_status)?;
        Ok(Response::new(convert::order_pb(&order)))
    }

    async fn change_delivery_method(
        &self,
        request: Request<pb::ChangeDeliveryMethodRequest>,
    ) -> Result<Response<pb::Order>, Status> {
        let request = request.into_inner();
        required_order_id(&request.order_id)?;
        let mut bad = Violations::new();
        let delivery = convert::delivery(
            request.delivery_method,
            request.shipping_address.as_ref(),
            &request.pickup_location_id,
            &mut bad,
        );
        let Some(delivery) = delivery else {
            return Err(bad.into_status());
        };
        let (order_id, by) = (request.order_id.clone(), request.requested_by);
        let order = self
            .orders
            .act(request.order_id, Some(request.request_id), move |at| ChangeDelivery {
                order_id,
                delivery,
                by,
                at,
            })
            .await
            .map_err(command_status)?;
        Ok(Response::new(convert::order_pb(&order)))
    }

    async fn hold_order(&self, request: Request<pb::HoldOrderRequest>) -> Result<Response<pb::Order>, Status> {
        let request = request.into_inner();
        required_order_id(&request.order_id)?;
        let (order_id, reason, by) = (request.order_id.clone(), request.reason, request.requested_by);
        let order = self
            .orders
            .act(request.order_id, None, move |at| HoldOrder {
                order_id,
                reason,
                by,
                at,
            })
            .await
            .map_err(command_status)?;
        Ok(Response::new(convert::order_pb(&order)))
    }

    async fn release_order(&self, request: Request<pb::ReleaseOrderRequest>) -> Result<Response<pb::Order>, Status> {
        let request = request.into_inner();
        required_order_id(&request.order_id)?;
        let (order_id, by) = (request.order_id.clone(), request.requested_by);
        let order = self
            .orders
            .act(request.order_id, None, move |at| ReleaseOrder { order_id, by, at })
            .await
            .map_err(command_status)?;
        Ok(Response::new(convert::order_pb(&order)))
    }
}
