//! The inventory ledger as routing uses it: reserve units at a node (the authority on
//! stock), and release them.

use std::time::Duration;

use oms_proto::inventory::v1 as pb;
use oms_proto::inventory::v1::inventory_ledger_client::InventoryLedgerClient;
use oms_service::auth::{Access, AuthorisedChannel};
use oms_service::grpc::traced;
use tonic::Code;
use tonic_types::StatusExt;

use crate::domain::{LineNeed, LocationId, OrderId, ReservationId};

/// Why a reservation was not made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReserveError {
    /// Not enough stock: (SKU, units available) per short line.
    #[error("not enough stock: {0:?}")]
    Short(Vec<(String, i64)>),
    /// The ledger will not reserve at this node (unknown or inactive location, unknown SKU).
    #[error("refused: {0}")]
    Refused(String),
    /// The ledger could not be reached or answered with a transient error.
    #[error("ledger unavailable: {0}")]
    Unavailable(String),
}

#[derive(Clone)]
pub struct LedgerClient {
    client: InventoryLedgerClient<AuthorisedChannel>,
    ttl: Duration,
}

impl LedgerClient {
    /// A client of the ledger at `url` (e.g. http://127.0.0.1:50052), calling with
    /// routing's identity and TLS; it connects when first used. Reservations last `ttl`
    /// unless consumed or released.
    pub fn new(url: &str, access: &Access, ttl: Duration) -> anyhow::Result<Self> {
        let channel = oms_service::auth::connect_lazy(url, access, Duration::from_secs(10))
            .map_err(|e| anyhow::anyhow!("the ledger URL: {e}"))?;
        Ok(Self {
            client: InventoryLedgerClient::new(channel),
            ttl,
        })
    }

    pub async fn reserve(
        &self,
        reservation_id: &ReservationId,
        order_id: &OrderId,
        node_id: &LocationId,
        lines: &[LineNeed],
        channel: &str,
    ) -> Result<(), ReserveError> {
        let mut merged: Vec<pb::ReservationLine> = Vec::new();
        for line in lines {
            match merged.iter_mut().find(|l| line.sku == l.sku.as_str()) {
                Some(l) => l.quantity += line.quantity,
                None => merged.push(pb::ReservationLine {
                    sku: line.sku.to_string(),
                    quantity: line.quantity,
                }),
            }
        }
        let request = pb::ReserveRequest {
            reservation_id: reservation_id.to_string(),
            reference: order_id.to_string(),
            location_id: node_id.to_string(),
            lines: merged,
            ttl_seconds: i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX),
            channel: channel.to_owned(),
        };
        match self.client.clone().reserve(traced(request)).await {
            Ok(_) => Ok(()),
            Err(status) => Err(classify(&status)),
        }
    }

    /// Releases what a reservation still holds; one that does not exist or is closed
    /// already is fine.
    pub async fn release(&self, reservation_id: &ReservationId, reason: &str) -> Result<(), ReserveError> {
        let request = pb::ReleaseRequest {
            reservation_id: reservation_id.to_string(),
            lines: Vec::new(),
            reason: reason.to_owned(),
        };
        match self.client.clone().release(traced(request)).await {
            Ok(_) => Ok(()),
            Err(status) if matches!(status.code(), Code::NotFound | Code::FailedPrecondition) => Ok(()),
            Err(status) => Err(classify(&status)),
        }
    }
}

fn classify(status: &tonic::Status) -> ReserveError {
    match status.code() {
        Code::FailedPrecondition => match status.get_details_precondition_failure() {
            Some(failure) if !failure.violations.is_empty() => ReserveError::Short(
                failure
                    .violations
                    .iter()
                    .map(|v| (v.subject.clone(), available_in(&v.description)))
                    .collect(),
            ),
            _ => ReserveError::Refused(status.message().to_owned()),
        },
        Code::InvalidArgument | Code::NotFound | Code::AlreadyExists | Code::PermissionDenied => {
            ReserveError::Refused(status.message().to_owned())
        }
        _ => ReserveError::Unavailable(format!("{}: {}", status.code(), status.message())),
    }
}

/// The available units in a shortfall's description ("3 requested, 1 available"); 0 if
/// it cannot be read.
fn available_in(description: &str) -> i64 {
    description
        .split(", ")
        .find_map(|part| part.strip_suffix(" available"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_shortfall_says_how_many_are_available() {
        assert_eq!(super::available_in("3 requested, 1 available"), 1);
        assert_eq!(super::available_in("garbled"), 0);
    }
}
