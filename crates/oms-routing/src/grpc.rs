//! The gRPC API: delivery options before checkout, the reasons of a decision, and the
//! network and its rule sets as data.

use oms_proto::routing::v1 as pb;
use oms_proto::routing::v1::routing_server::{Routing as RoutingApi, RoutingServer};
use oms_service::{ToStatus, Violations, command_status};
use tonic::{Request, Response, Status};

use crate::app::RoutingService;
use crate::convert;
use crate::domain::quote::{DEFAULT_PICKUP_RADIUS_KM, QuoteRequest};
use crate::domain::{Address, GeoPoint, NetworkDocument, RoutingError, Sku};

/// Lines a quote may ask about.
const QUOTE_LINES_MAX: usize = 200;

pub struct RoutingGrpc {
    routing: RoutingService,
}

impl RoutingGrpc {
    pub fn server(routing: RoutingService) -> RoutingServer<Self> {
        RoutingServer::new(Self { routing })
    }
}

impl ToStatus for RoutingError {
    fn to_status(&self) -> Status {
        match self {
            RoutingError::Invalid(violations) => violations.clone().into_status(),
            RoutingError::UnknownNode(_) | RoutingError::UnknownOrder(_) => Status::not_found(self.to_string()),
            RoutingError::AttemptVoid(_) => Status::aborted(self.to_string()),
        }
    }
}

#[tonic::async_trait]
impl RoutingApi for RoutingGrpc {
    async fn quote_delivery_options(
        &self,
        request: Request<pb::QuoteRequest>,
    ) -> Result<Response<pb::QuoteResponse>, Status> {
        let request = request.into_inner();
        let mut bad = Violations::new();
        bad.check(request.lines.is_empty(), "lines", "at least one line is required");
        bad.check(
            request.lines.len() > QUOTE_LINES_MAX,
            "lines",
            format!("at most {QUOTE_LINES_MAX} lines"),
        );
        for (i, line) in request.lines.iter().enumerate() {
            bad.check(line.sku.trim().is_empty(), format!("lines[{i}].sku"), "is required");
            bad.check(line.quantity <= 0, format!("lines[{i}].quantity"), "must be 1 or more");
        }
        bad.check(
            !request.pickup_radius_km.is_finite() || request.pickup_radius_km < 0.0,
            "pickup_radius_km",
            "must be 0 (the default) or more",
        );
        if let Some(location) = request.destination.as_ref().and_then(|d| d.location.as_ref()) {
            GeoPoint::from_pb(location).check("destination.location", &mut bad);
        }
        bad.into_result()?;
        let quote = QuoteRequest {
            lines: request
                .lines
                .iter()
                .map(|l| (Sku::new(l.sku.as_str()), l.quantity))
                .collect(),
            destination: request.destination.as_ref().map(Address::from_pb),
            pickup_radius_km: if request.pickup_radius_km == 0.0 {
                DEFAULT_PICKUP_RADIUS_KM
            } else {
                request.pickup_radius_km
            },
            currency: request.currency.trim().to_uppercase(),
            now: self.routing.now(),
        };
        let options = self.routing.quote(&quote).iter().map(convert::option_pb).collect();
        Ok(Response::new(pb::QuoteResponse { options }))
    }

    async fn get_decision(
        &self,
        request: Request<pb::GetDecisionRequest>,
    ) -> Result<Response<pb::RoutingDecision>, Status> {
        let id = request.into_inner().order_id;
        let mut bad = Violations::new();
        bad.check(id.trim().is_empty(), "order_id", "is required");
        bad.into_result()?;
        let view = self
            .routing
            .decision(&id)
            .ok_or_else(|| Status::not_found(format!("order {id} has no routing decision yet")))?;
        Ok(Response::new(convert::decision_pb(&id, &view)))
    }

    async fn upsert_node(&self, request: Request<pb::Node>) -> Result<Response<pb::Node>, Status> {
        let node = convert::node(&request.into_inner()).map_err(Violations::into_status)?;
        let node = self.routing.upsert_node(node).await.map_err(command_status)?;
        Ok(Response::new(convert::node_pb(&node)))
    }

    async fn remove_node(
        &self,
        request: Request<pb::RemoveNodeRequest>,
    ) -> Result<Response<pb::RemoveNodeResponse>, Status> {
        let id = request.into_inner().node_id;
        let mut bad = Violations::new();
        bad.check(id.trim().is_empty(), "node_id", "is required");
        bad.into_result()?;
        self.routing.remove_node(id.into()).await.map_err(command_status)?;
        Ok(Response::new(pb::RemoveNodeResponse {}))
    }

    async fn list_nodes(
        &self,
        _request: Request<pb::ListNodesRequest>,
    ) -> Result<Response<pb::ListNodesResponse>, Status> {
        let nodes = self.routing.nodes().iter().map(convert::node_pb).collect();
        Ok(Response::new(pb::ListNodesResponse { nodes }))
    }

    async fn set_rule_sets(&self, request: Request<pb::RuleSets>) -> Result<Response<pb::RuleSets>, Status> {
        let rule_sets = convert::rule_sets(&request.into_inner()).map_err(Violations::into_status)?;
        let rule_sets = self.routing.set_rule_sets(rule_sets).await.map_err(command_status)?;
        Ok(Response::new(convert::rule_sets_pb(&rule_sets)))
    }

    async fn get_rule_sets(&self, _request: Request<pb::GetRuleSetsRequest>) -> Result<Response<pb::RuleSets>, Status> {
        Ok(Response::new(convert::rule_sets_pb(&self.routing.rule_sets())))
    }

    async fn import_network(
        &self,
        request: Request<pb::ImportNetworkRequest>,
    ) -> Result<Response<pb::ImportNetworkResponse>, Status> {
        let json = request.into_inner().json;
        let document: NetworkDocument = serde_json::from_str(&json).map_err(|e| {
            let mut bad = Violations::new();
            bad.add(
                "json",
                format!(
                    "is not a network document (line {}, column {}): {e}",
                    e.line(),
                    e.column()
                ),
            );
            bad.into_status()
        })?;
        let (nodes, rule_sets) = self.routing.import(document).await.map_err(command_status)?;
        Ok(Response::new(pb::ImportNetworkResponse {
            nodes: u32::try_from(nodes).unwrap_or(u32::MAX),
            rule_sets: u32::try_from(rule_sets).unwrap_or(u32::MAX),
        }))
    }
}
