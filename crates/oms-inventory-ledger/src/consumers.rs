//! The messages the ledger consumes, turned into its decisions: POS stock movements,
//! fulfilment (units shipped, handed over, rejected) and returns (units restocked). Each
//! handler only translates the message into a command; the rules are the domain's.

use std::convert::Infallible;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use oms_eventsourcing::writer::Context;
use oms_eventsourcing::{Changes, Decide, Decision};
use oms_proto::fulfilment::v1 as fulfilment;
use oms_proto::pos::v1 as pos;
use oms_proto::returns::v1 as returns;
use oms_proto::routing::v1 as routing;
use oms_service::convert::time;
use oms_transport::{Handling, Message, MessageHandler};
use prost::Message as _;

use crate::app::decision;
use crate::domain::{
    JobDropped, JobRejected, JobUnits, Ledger, LedgerError, LedgerEvent, LedgerPolicy, Line, LocationId,
    RecordMovement, RejectReason, Restock, UnitsLeft,
};
use crate::grpc::movement;

type Handled = Result<Decision<LedgerEvent, ()>, Handling>;

/// `oms.pos-movements.v1`: one `oms.pos.v1.StockMovement` per message.
pub struct PosMovements {
    pub policy: Arc<LedgerPolicy>,
}

impl MessageHandler<Ledger> for PosMovements {
    fn handle(&self, ledger: &Ledger, message: &Message, ctx: &Context<'_>) -> Handled {
        let raw = pos::StockMovement::decode(message.payload.as_slice())
            .map_err(|e| Handling::poison(format!("not an oms.pos.v1.StockMovement: {e}")))?;
        let movement = movement(&raw).map_err(|bad| Handling::poison(bad.to_string()))?;
        let command = RecordMovement {
            movement,
            unknown_skus: self.policy.unknown_skus,
        };
        let changes = command.decide(ledger, ctx.now).map_err(refusal)?;
        Ok(decision(ledger, changes, (), ctx.now))
    }
}

/// `oms.fulfilment.v1`: shipped and collected units leave stock (from their reservation);
/// rejected and cancelled jobs give their units back (a rejected one's by the write-off
/// rule).
pub struct FulfilmentEvents;

impl MessageHandler<Ledger> for FulfilmentEvents {
    fn handle(&self, ledger: &Ledger, message: &Message, ctx: &Context<'_>) -> Handled {
        use fulfilment::fulfilment_event::Event;
        let event = fulfilment::FulfilmentEvent::decode(message.payload.as_slice())
            .map_err(|e| Handling::poison(format!("not an oms.fulfilment.v1.FulfilmentEvent: {e}")))?;
        let changes = match event.event {
            Some(Event::JobShipped(e)) => {
                known_location(ledger, &e.location_id)?;
                let job = units(
                    e.job_id,
                    e.reservation_id,
                    e.location_id,
                    job_lines(&e.lines)?,
                    e.at,
                    ctx,
                );
                decided(UnitsLeft { job }, ledger, ctx)
            }
            Some(Event::JobCollected(e)) => {
                known_location(ledger, &e.location_id)?;
                let job = units(
                    e.job_id,
                    e.reservation_id,
                    e.location_id,
                    job_lines(&e.lines)?,
                    e.at,
                    ctx,
                );
                decided(UnitsLeft { job }, ledger, ctx)
            }
            Some(Event::JobRejected(e)) => job_rejected(ledger, e, ctx)?,
            Some(Event::JobCancelled(e)) => job_cancelled(ledger, e, ctx)?,
            // Steps that move no stock; a job routing withdrew was released by routing.
            Some(
                Event::JobWithdrawn(_)
                | Event::JobAccepted(_)
                | Event::ReadyForPickup(_)
                | Event::JobDelivered(_)
                | Event::JobRequested(_)
                | Event::JobPicked(_)
                | Event::JobPacked(_)
                | Event::SlaBreached(_),
            )
            | None => Vec::new(),
        };
        Ok(decision(ledger, changes, (), ctx.now))
    }
}

/// A rejected job, with the node's reason.
fn job_rejected(
    ledger: &Ledger,
    e: fulfilment::JobRejected,
    ctx: &Context<'_>,
) -> Result<Changes<LedgerEvent>, Handling> {
    known_location(ledger, &e.location_id)?;
    let reason = reject_reason(e.reason);
    let job = units(
        e.job_id,
        e.reservation_id,
        e.location_id,
        job_lines(&e.lines)?,
        e.at,
        ctx,
    );
    Ok(decided(JobRejected { job, reason }, ledger, ctx))
}

/// The contract's reject reason; one it does not know (or none) is unstated.
fn reject_reason(value: i32) -> RejectReason {
    use fulfilment::RejectReason as Pb;
    match Pb::try_from(value) {
        Ok(Pb::OutOfStock) => RejectReason::OutOfStock,
        Ok(Pb::Damaged) => RejectReason::Damaged,
        Ok(Pb::Capacity) => RejectReason::Capacity,
        Ok(Pb::AcceptanceTimeout) => RejectReason::AcceptanceTimeout,
        Ok(Pb::Unspecified) | Err(_) => RejectReason::Unstated,
    }
}

/// A cancelled job gives its hold back. A parcel nobody collected that had left its node
/// (at a pickup store, or taken back from a locker) is stock again where it now is.
fn job_cancelled(
    ledger: &Ledger,
    e: fulfilment::JobCancelled,
    ctx: &Context<'_>,
) -> Result<Changes<LedgerEvent>, Handling> {
    let why = format!("job {} cancelled: {}", e.job_id, e.reason);
    let lines = job_lines(&e.lines)?;
    let restock = if e.uncollected && !e.returned_to_location_id.is_empty() {
        known_location(ledger, &e.returned_to_location_id)?;
        Some(Restock {
            reference: format!("{}/uncollected", e.job_id),
            location: LocationId::from(e.returned_to_location_id.as_str()),
            lines: lines.clone(),
            at: at(e.at, ctx),
        })
    } else {
        None
    };
    let job = units(e.job_id, e.reservation_id, e.location_id, lines, e.at, ctx);
    let mut changes = decided(JobDropped { job, reason: why }, ledger, ctx);
    if let Some(restock) = restock {
        changes.extend(decided(restock, ledger, ctx));
    }
    Ok(changes)
}

/// `oms.routing.v1`: a fulfilment request routing took back (the order was cancelled or
/// sent somewhere else) gives back what its reservation still holds.
pub struct RoutingEvents;

impl MessageHandler<Ledger> for RoutingEvents {
    fn handle(&self, ledger: &Ledger, message: &Message, ctx: &Context<'_>) -> Handled {
        use routing::routing_event::Event;
        let event = routing::RoutingEvent::decode(message.payload.as_slice())
            .map_err(|e| Handling::poison(format!("not an oms.routing.v1.RoutingEvent: {e}")))?;
        let changes = match event.event {
            Some(Event::FulfilmentCancelled(e)) => {
                let lines = e
                    .lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| {
                        if l.sku.is_empty() || l.quantity <= 0 {
                            Err(Handling::poison(format!("lines[{i}] needs a SKU and 1 unit or more")))
                        } else {
                            Ok(Line::new(l.sku.clone(), l.quantity))
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let why = format!(
                    "fulfilment request {} taken back: {}",
                    e.fulfilment_request_id, e.reason
                );
                let job = units(e.fulfilment_request_id, e.reservation_id, e.node_id, lines, e.at, ctx);
                decided(JobDropped { job, reason: why }, ledger, ctx)
            }
            // Requests are reserved through the API before they are announced; the rest
            // moves no stock.
            Some(
                Event::OrderRouted(_)
                | Event::FulfilmentRequested(_)
                | Event::OrderBackordered(_)
                | Event::RoutingFailed(_),
            )
            | None => Vec::new(),
        };
        Ok(decision(ledger, changes, (), ctx.now))
    }
}

/// `oms.returns.v1`: resellable returned units go back on sale.
pub struct ReturnEvents;

impl MessageHandler<Ledger> for ReturnEvents {
    fn handle(&self, ledger: &Ledger, message: &Message, ctx: &Context<'_>) -> Handled {
        use returns::return_event::Event;
        let event = returns::ReturnEvent::decode(message.payload.as_slice())
            .map_err(|e| Handling::poison(format!("not an oms.returns.v1.ReturnEvent: {e}")))?;
        let changes = match event.event {
            Some(Event::ItemsRestocked(e)) => {
                known_location(ledger, &e.location_id)?;
                let lines: Vec<Line> = e.lines.iter().map(|l| Line::new(l.sku.clone(), l.quantity)).collect();
                if lines.iter().any(|l| l.quantity <= 0 || l.sku.is_empty()) {
                    return Err(Handling::poison("a restocked line needs a SKU and 1 unit or more"));
                }
                let restock = Restock {
                    reference: e.return_id,
                    location: e.location_id.into(),
                    lines,
                    at: at(e.at, ctx),
                };
                decided(restock, ledger, ctx)
            }
            // Authorisations, receipts and refunds move no stock: restocks do.
            Some(
                Event::ReturnAuthorised(_)
                | Event::ReturnReceived(_)
                | Event::RefundConfirmed(_)
                | Event::ItemsWrittenOff(_)
                | Event::RefundRequested(_)
                | Event::RefundFailed(_)
                | Event::ExchangeCreated(_),
            )
            | None => Vec::new(),
        };
        Ok(decision(ledger, changes, (), ctx.now))
    }
}

/// What a rule that cannot refuse decides.
fn decided<C: Decide<Ledger, Refusal = Infallible>>(
    command: C,
    ledger: &Ledger,
    ctx: &Context<'_>,
) -> Changes<LedgerEvent> {
    let Ok(changes) = command.decide(ledger, ctx.now);
    changes
}

fn units(
    job: String,
    reservation_id: String,
    location: String,
    lines: Vec<Line>,
    happened: Option<prost_types::Timestamp>,
    ctx: &Context<'_>,
) -> JobUnits {
    JobUnits {
        job: job.into(),
        reservation_id: reservation_id.into(),
        location: location.into(),
        lines,
        at: at(happened, ctx),
    }
}

/// When a message says it happened; when it was decided, if it does not say.
fn at(at: Option<prost_types::Timestamp>, ctx: &Context<'_>) -> DateTime<Utc> {
    at.as_ref().and_then(time).unwrap_or(ctx.now)
}

fn job_lines(lines: &[fulfilment::JobLine]) -> Result<Vec<Line>, Handling> {
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if l.sku.is_empty() || l.quantity <= 0 {
                Err(Handling::poison(format!("lines[{i}] needs a SKU and 1 unit or more")))
            } else {
                Ok(Line::new(l.sku.clone(), l.quantity))
            }
        })
        .collect()
}

fn known_location(ledger: &Ledger, location: &str) -> Result<(), Handling> {
    match ledger.location(location) {
        Some(_) => Ok(()),
        None => Err(Handling::poison(format!("unknown location {location:?}"))),
    }
}

/// A refusal of the ledger, as the reason a message cannot be applied.
fn refusal(error: LedgerError) -> Handling {
    Handling::poison(error.to_string())
}
