//! The gRPC API: translates protobuf to the ledger's commands and reads, and back.

use std::collections::BTreeMap;
use std::pin::Pin;

use chrono::Duration;
use oms_proto::common::v1 as common;
use oms_proto::inventory::v1 as pb;
use oms_proto::inventory::v1::inventory_ledger_server::{InventoryLedger, InventoryLedgerServer};
use oms_proto::pos::v1 as pos;
use oms_service::convert::{time, timestamp};
use oms_service::grpc::precondition_failed;
use oms_service::{ToStatus, Violations, command_status};
use tokio::sync::watch;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status};

use crate::app::{Inventory, LocationStock};
use crate::domain::{
    ChannelRule, ConsumeReservation, GeoPoint, LedgerError, Line, LocationRecord, Movement, MovementKind, NodeType,
    Position, ReleaseReservation, Reservation, ReservationStatus, ReserveStock, Sku,
};

/// Most SKUs one availability request may ask about.
const MAX_SKUS: usize = 1_000;
/// Most movements one request may carry.
const MAX_MOVEMENTS: usize = 10_000;

pub struct InventoryApi {
    inventory: Inventory,
    /// Turns true when the service stops: open feeds end, so the server can.
    stopping: watch::Receiver<bool>,
}

impl InventoryApi {
    pub fn new(inventory: Inventory, stopping: watch::Receiver<bool>) -> Self {
        Self { inventory, stopping }
    }

    pub fn server(inventory: Inventory, stopping: watch::Receiver<bool>) -> InventoryLedgerServer<Self> {
        InventoryLedgerServer::new(Self::new(inventory, stopping))
    }
}

impl ToStatus for LedgerError {
    fn to_status(&self) -> Status {
        match self {
            LedgerError::Invalid(violations) => violations.clone().into_status(),
            LedgerError::UnknownLocation(location) => {
                let mut violations = Violations::new();
                violations.add("location_id", format!("unknown location {location}"));
                violations.into_status()
            }
            LedgerError::UnknownSku(sku) => {
                let mut violations = Violations::new();
                violations.add(
                    "sku",
                    format!("SKU {sku} is not registered and unknown SKUs are refused"),
                );
                violations.into_status()
            }
            LedgerError::CountTooOld(..) => {
                let mut violations = Violations::new();
                violations.add("occurred_at", self.to_string());
                violations.into_status()
            }
            LedgerError::InsufficientStock(shortfalls) => precondition_failed(
                self.to_string(),
                shortfalls
                    .iter()
                    .map(|s| {
                        (
                            "STOCK".to_owned(),
                            s.sku.to_string(),
                            format!("{} requested, {} available", s.requested, s.available),
                        )
                    })
                    .collect(),
            ),
            LedgerError::UnknownReservation(_) => Status::not_found(self.to_string()),
            LedgerError::ReservationIdReused(_) => Status::already_exists(self.to_string()),
            LedgerError::InactiveLocation(_)
            | LedgerError::MoreThanHeld { .. }
            | LedgerError::ReservationClosed { .. } => Status::failed_precondition(self.to_string()),
        }
    }
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::AvailabilityChange, Status>> + Send>>;

#[tonic::async_trait]
impl InventoryLedger for InventoryApi {
    async fn get_availability(
        &self,
        request: Request<pb::GetAvailabilityRequest>,
    ) -> Result<Response<pb::GetAvailabilityResponse>, Status> {
        let request = request.into_inner();
        let mut violations = Violations::new();
        violations.check(request.skus.is_empty(), "skus", "at least one SKU is required");
        violations.check(
            request.skus.len() > MAX_SKUS,
            "skus",
            format!("at most {MAX_SKUS} SKUs per request"),
        );
        for (i, sku) in request.skus.iter().enumerate() {
            violations.check(sku.trim().is_empty(), format!("skus[{i}]"), "is empty");
        }
        for (i, location) in request.location_ids.iter().enumerate() {
            violations.check(
                self.inventory.location(location).is_none(),
                format!("location_ids[{i}]"),
                format!("unknown location {location}"),
            );
        }
        violations.into_result()?;
        let skus = self
            .inventory
            .availability(&request.skus, &request.location_ids, &request.channel)
            .into_iter()
            .map(|(sku, stock)| pb::SkuAvailability {
                available_to_promise: stock.iter().map(|s| s.channel_available).sum(),
                locations: stock.iter().map(location_availability).collect(),
                sku,
            })
            .collect();
        Ok(Response::new(pb::GetAvailabilityResponse { skus }))
    }

    async fn list_positions(
        &self,
        request: Request<pb::ListPositionsRequest>,
    ) -> Result<Response<pb::ListPositionsResponse>, Status> {
        let request = request.into_inner();
        let mut violations = Violations::new();
        violations.check(request.location_id.is_empty(), "location_id", "is required");
        violations.check(
            !request.location_id.is_empty() && self.inventory.location(&request.location_id).is_none(),
            "location_id",
            format!("unknown location {}", request.location_id),
        );
        violations.check(request.page_size < 0, "page_size", "cannot be negative");
        violations.into_result()?;
        let size = if request.page_size == 0 {
            500
        } else {
            request.page_size.min(5_000) as usize
        };
        let page = self
            .inventory
            .positions_at(&request.location_id, &request.page_token, size);
        let next_page_token = if page.len() == size {
            page.last().map(|(sku, _)| sku.to_string()).unwrap_or_default()
        } else {
            String::new()
        };
        let positions = page
            .iter()
            .map(|(sku, p)| position(sku.as_str(), &request.location_id, p))
            .collect();
        Ok(Response::new(pb::ListPositionsResponse {
            positions,
            next_page_token,
        }))
    }

    async fn get_position_as_of(
        &self,
        request: Request<pb::GetPositionAsOfRequest>,
    ) -> Result<Response<pb::Position>, Status> {
        let request = request.into_inner();
        let mut violations = Violations::new();
        violations.check(request.sku.is_empty(), "sku", "is required");
        violations.check(request.location_id.is_empty(), "location_id", "is required");
        let at = request.at.as_ref().and_then(time);
        violations.check(at.is_none(), "at", "a valid time is required");
        violations.into_result()?;
        let at = at.unwrap_or_default();
        let then = self
            .inventory
            .position_as_of(&request.sku, &request.location_id, at)
            .await
            .map_err(|e| Status::unavailable(format!("cannot read the log: {e}")))?;
        Ok(Response::new(position(&request.sku, &request.location_id, &then)))
    }

    async fn reserve(&self, request: Request<pb::ReserveRequest>) -> Result<Response<pb::Reservation>, Status> {
        let request = request.into_inner();
        let mut violations = Violations::new();
        violations.check(request.ttl_seconds < 0, "ttl_seconds", "cannot be negative");
        violations.check(request.ttl_seconds > 366 * 24 * 3600, "ttl_seconds", "at most a year");
        violations.into_result()?;
        let cmd = ReserveStock {
            reservation_id: request.reservation_id.into(),
            reference: request.reference,
            location: request.location_id.into(),
            lines: lines(&request.lines),
            ttl: Duration::seconds(request.ttl_seconds),
            channel: request.channel,
        };
        let reservation = self.inventory.reserve(cmd).await.map_err(command_status)?;
        Ok(Response::new(reservation_pb(&reservation)))
    }

    async fn release(&self, request: Request<pb::ReleaseRequest>) -> Result<Response<pb::Reservation>, Status> {
        let request = request.into_inner();
        let cmd = ReleaseReservation {
            reservation_id: request.reservation_id.into(),
            lines: lines(&request.lines),
            reason: request.reason,
        };
        let reservation = self.inventory.release(cmd).await.map_err(command_status)?;
        Ok(Response::new(reservation_pb(&reservation)))
    }

    async fn consume(&self, request: Request<pb::ConsumeRequest>) -> Result<Response<pb::Reservation>, Status> {
        let request = request.into_inner();
        let cmd = ConsumeReservation {
            reservation_id: request.reservation_id.into(),
            lines: lines(&request.lines),
        };
        let reservation = self.inventory.consume(cmd).await.map_err(command_status)?;
        Ok(Response::new(reservation_pb(&reservation)))
    }

    async fn get_reservation(
        &self,
        request: Request<pb::GetReservationRequest>,
    ) -> Result<Response<pb::Reservation>, Status> {
        let id = request.into_inner().reservation_id;
        let reservation = self
            .inventory
            .reservation(&id)
            .ok_or_else(|| Status::not_found(format!("reservation {id} does not exist")))?;
        Ok(Response::new(reservation_pb(&reservation)))
    }

    async fn record_movements(
        &self,
        request: Request<pb::RecordMovementsRequest>,
    ) -> Result<Response<pb::RecordMovementsResponse>, Status> {
        let request = request.into_inner();
        let mut violations = Violations::new();
        violations.check(
            request.movements.is_empty(),
            "movements",
            "at least one movement is required",
        );
        violations.check(
            request.movements.len() > MAX_MOVEMENTS,
            "movements",
            format!("at most {MAX_MOVEMENTS} per request"),
        );
        let mut movements = Vec::with_capacity(request.movements.len());
        for (i, m) in request.movements.iter().enumerate() {
            match movement(m) {
                Ok(movement) => {
                    violations.extend(movement.violations(&format!("movements[{i}]")));
                    if !movement.location.is_empty() && self.inventory.location(movement.location.as_str()).is_none() {
                        violations.add(
                            format!("movements[{i}].location_id"),
                            format!("unknown location {}", movement.location),
                        );
                    }
                    movements.push(movement);
                }
                Err(bad) => {
                    for v in bad {
                        violations.add(format!("movements[{i}].{}", v.field), v.description);
                    }
                }
            }
        }
        violations.into_result()?;
        match self.inventory.record_movements(movements).await {
            Ok(recorded) => Ok(Response::new(pb::RecordMovementsResponse {
                applied: recorded.applied as i32,
                duplicates: recorded.duplicates as i32,
            })),
            Err(refused) => {
                // Each movement stands alone: the others were applied.
                let mut violations = Violations::new();
                for (i, error) in refused {
                    match error {
                        oms_eventsourcing::CommandError::Rejected(e) => {
                            violations.add(format!("movements[{i}]"), e.to_string());
                        }
                        other => return Err(command_status(other)),
                    }
                }
                Err(violations.into_status())
            }
        }
    }

    type WatchAvailabilityStream = WatchStream;

    async fn watch_availability(
        &self,
        request: Request<pb::WatchAvailabilityRequest>,
    ) -> Result<Response<Self::WatchAvailabilityStream>, Status> {
        let request = request.into_inner();
        let updates = tokio_stream::wrappers::BroadcastStream::new(self.inventory.watch());
        let stream = updates.filter_map(move |update| {
            // A watcher that falls behind misses changes; the next one of a position is whole.
            let update = update.ok()?;
            let wanted = (request.skus.is_empty() || request.skus.iter().any(|s| update.sku == s.as_str()))
                && (request.location_ids.is_empty()
                    || request.location_ids.iter().any(|l| update.location == l.as_str()));
            wanted.then(|| {
                Ok(pb::AvailabilityChange {
                    position: Some(position(
                        update.sku.as_str(),
                        update.location.as_str(),
                        &update.position,
                    )),
                    cause: update.cause.to_owned(),
                })
            })
        });
        let mut stopping = self.stopping.clone();
        let stopped = async move {
            let _ = stopping.wait_for(|stop| *stop).await;
        };
        Ok(Response::new(Box::pin(futures::StreamExt::take_until(stream, stopped))))
    }

    async fn upsert_location(&self, request: Request<pb::Location>) -> Result<Response<pb::Location>, Status> {
        let request = request.into_inner();
        let mut violations = Violations::new();
        let kind = node_type(request.r#type);
        violations.check(kind.is_none(), "type", "must be STORE, WAREHOUSE or SUPPLIER");
        violations.into_result()?;
        let point = request.address.as_ref().and_then(|a| a.location.as_ref());
        let mut attributes: BTreeMap<String, String> = request.attributes.clone().into_iter().collect();
        if let Some(address) = &request.address {
            for (key, value) in [
                ("city", &address.city),
                ("postal_code", &address.postal_code),
                ("country", &address.country),
                ("region", &address.region),
            ] {
                if !value.is_empty() {
                    attributes.entry(key.to_owned()).or_insert_with(|| value.clone());
                }
            }
        }
        let record = LocationRecord {
            location_id: request.location_id.into(),
            kind: kind.unwrap_or(NodeType::Store),
            name: request.name,
            attributes,
            location: point.map(GeoPoint::from_pb),
            active: request.active,
        };
        let saved = self.inventory.upsert_location(record).await.map_err(command_status)?;
        Ok(Response::new(location_pb(&saved)))
    }

    async fn list_locations(
        &self,
        _: Request<pb::ListLocationsRequest>,
    ) -> Result<Response<pb::ListLocationsResponse>, Status> {
        let locations = self.inventory.locations().iter().map(location_pb).collect();
        Ok(Response::new(pb::ListLocationsResponse { locations }))
    }

    async fn set_safety_stock(
        &self,
        request: Request<pb::SetSafetyStockRequest>,
    ) -> Result<Response<pb::Position>, Status> {
        let request = request.into_inner();
        let (sku, location) = (request.sku.clone(), request.location_id.clone());
        let position_now = self
            .inventory
            .set_safety_stock(request.sku.into(), request.location_id.into(), request.quantity)
            .await
            .map_err(command_status)?;
        Ok(Response::new(position(&sku, &location, &position_now)))
    }

    async fn set_channel_rule(&self, request: Request<pb::ChannelRule>) -> Result<Response<pb::ChannelRule>, Status> {
        let request = request.into_inner();
        let mut violations = Violations::new();
        violations.check(
            !(0..=100).contains(&request.share_percent),
            "share_percent",
            "must be between 0 (all) and 100",
        );
        violations.into_result()?;
        let share = if request.share_percent == 0 {
            100
        } else {
            request.share_percent as u8
        };
        let rule = ChannelRule {
            channel: request.channel,
            holdback_units: request.holdback_units,
            share_percent: share,
        };
        let rule = self.inventory.set_channel_rule(rule).await.map_err(command_status)?;
        Ok(Response::new(channel_rule_pb(&rule)))
    }

    async fn list_channel_rules(
        &self,
        _: Request<pb::ListChannelRulesRequest>,
    ) -> Result<Response<pb::ListChannelRulesResponse>, Status> {
        let rules = self.inventory.channel_rules().iter().map(channel_rule_pb).collect();
        Ok(Response::new(pb::ListChannelRulesResponse { rules }))
    }

    async fn register_skus(
        &self,
        request: Request<pb::RegisterSkusRequest>,
    ) -> Result<Response<pb::RegisterSkusResponse>, Status> {
        let skus = request.into_inner().skus;
        let mut violations = Violations::new();
        violations.check(skus.is_empty(), "skus", "at least one SKU is required");
        violations.into_result()?;
        let skus = skus.into_iter().map(Sku::from).collect();
        let registered = self.inventory.register_skus(skus).await.map_err(command_status)?;
        Ok(Response::new(pb::RegisterSkusResponse {
            registered: registered as i32,
        }))
    }
}

// ---------------------------------------------------------------------------------------
// Translations.

/// A POS movement as the ledger understands it; the fields that cannot be read otherwise.
pub fn movement(m: &pos::StockMovement) -> Result<Movement, Violations> {
    let mut bad = Violations::new();
    let kind = match pos::MovementKind::try_from(m.kind) {
        Ok(pos::MovementKind::Sale) => Some(MovementKind::Sale),
        Ok(pos::MovementKind::Return) => Some(MovementKind::Return),
        Ok(pos::MovementKind::Receipt) => Some(MovementKind::Receipt),
        Ok(pos::MovementKind::Adjustment) => Some(MovementKind::Adjustment),
        Ok(pos::MovementKind::CycleCount) => Some(MovementKind::CycleCount),
        Ok(pos::MovementKind::TransferOut) => Some(MovementKind::TransferOut),
        Ok(pos::MovementKind::TransferIn) => Some(MovementKind::TransferIn),
        _ => None,
    };
    bad.check(kind.is_none(), "kind", format!("{} is not a movement kind", m.kind));
    let occurred_at = m.occurred_at.as_ref().and_then(time);
    bad.check(occurred_at.is_none(), "occurred_at", "a valid time is required");
    match (kind, occurred_at) {
        (Some(kind), Some(occurred_at)) if bad.is_empty() => Ok(Movement {
            movement_id: m.movement_id.clone(),
            location: m.location_id.clone().into(),
            sku: m.sku.clone().into(),
            kind,
            quantity: m.quantity,
            occurred_at,
        }),
        _ => Err(bad),
    }
}

fn lines(lines: &[pb::ReservationLine]) -> Vec<Line> {
    lines.iter().map(|l| Line::new(l.sku.clone(), l.quantity)).collect()
}

pub fn position(sku: &str, location: &str, p: &Position) -> pb::Position {
    pb::Position {
        sku: sku.to_owned(),
        location_id: location.to_owned(),
        on_hand: p.on_hand,
        reserved: p.reserved,
        safety_stock: p.safety_stock,
        available_to_promise: p.available_to_promise(),
        negative_on_hand: p.negative_on_hand(),
        updated_at: p.updated_at.map(timestamp),
        last_counted_at: p.last_counted_at.map(timestamp),
    }
}

fn location_availability(stock: &LocationStock) -> pb::LocationAvailability {
    pb::LocationAvailability {
        location_id: stock.location.to_string(),
        location_type: stock.kind.map_or(pb::LocationType::Unspecified, location_type) as i32,
        on_hand: stock.figures.on_hand,
        reserved: stock.figures.reserved,
        safety_stock: stock.figures.safety_stock,
        available_to_promise: stock.figures.available_to_promise(),
        channel_available: stock.channel_available,
    }
}

pub fn reservation_pb(r: &Reservation) -> pb::Reservation {
    let to_pb = |lines: &[Line]| {
        lines
            .iter()
            .map(|l| pb::ReservationLine {
                sku: l.sku.to_string(),
                quantity: l.quantity,
            })
            .collect()
    };
    pb::Reservation {
        reservation_id: r.reservation_id.to_string(),
        reference: r.reference.clone(),
        location_id: r.location.to_string(),
        lines: to_pb(&r.lines),
        status: match r.status {
            ReservationStatus::Active => pb::ReservationStatus::Active,
            ReservationStatus::Released => pb::ReservationStatus::Released,
            ReservationStatus::Consumed => pb::ReservationStatus::Consumed,
            ReservationStatus::Expired => pb::ReservationStatus::Expired,
        } as i32,
        expires_at: Some(timestamp(r.expires_at)),
        held: to_pb(&r.held),
        channel: r.channel.clone(),
    }
}

/// The node type of a location type; `None` for unspecified or unknown.
fn node_type(value: i32) -> Option<NodeType> {
    match pb::LocationType::try_from(value).ok()? {
        pb::LocationType::Store => Some(NodeType::Store),
        pb::LocationType::Warehouse => Some(NodeType::Warehouse),
        pb::LocationType::Supplier => Some(NodeType::Supplier),
        pb::LocationType::Unspecified => None,
    }
}

/// The ledger's contract knows stores, warehouses and suppliers; nodes of other types are
/// never set through it.
fn location_type(kind: NodeType) -> pb::LocationType {
    match kind {
        NodeType::Store => pb::LocationType::Store,
        NodeType::Warehouse => pb::LocationType::Warehouse,
        NodeType::Supplier => pb::LocationType::Supplier,
        NodeType::ThreePl | NodeType::Locker => pb::LocationType::Unspecified,
    }
}

fn location_pb(l: &LocationRecord) -> pb::Location {
    pb::Location {
        location_id: l.location_id.to_string(),
        r#type: location_type(l.kind) as i32,
        name: l.name.clone(),
        address: Some(common::Address {
            city: l.attributes.get("city").cloned().unwrap_or_default(),
            postal_code: l.attributes.get("postal_code").cloned().unwrap_or_default(),
            country: l.attributes.get("country").cloned().unwrap_or_default(),
            region: l.attributes.get("region").cloned().unwrap_or_default(),
            location: l.location.map(GeoPoint::to_pb),
            ..Default::default()
        }),
        attributes: l.attributes.clone().into_iter().collect(),
        active: l.active,
    }
}

fn channel_rule_pb(rule: &ChannelRule) -> pb::ChannelRule {
    pb::ChannelRule {
        channel: rule.channel.clone(),
        holdback_units: rule.holdback_units,
        share_percent: i32::from(rule.share_percent),
    }
}
