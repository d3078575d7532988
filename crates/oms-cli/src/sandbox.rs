//! The sandbox systems of the embedded mode: a WMS that ships every warehouse, 3PL and
//! supplier job it is sent, in full, at once, and a payment gateway that refunds every
//! request. They read what the OMS publishes and answer on the inbound topics through
//! [`Feeds`], so store fulfilment and returns take their answers through the consumers
//! they use in production.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use oms_eventsourcing::OutboxMessage;
use oms_proto::fulfilment::v1 as fulfilment;
use oms_proto::returns::v1 as returns;
use oms_proto::topics::{self, Topic};
use oms_service::feeds::{self, Feeds};
use oms_service::{Tasks, Wiring};
use oms_transport::{Message, Projection, Projector};
use prost::Message as _;

/// Starts the sandbox WMS and payment gateway as stages of `tasks`.
pub async fn start(tasks: &mut Tasks, wiring: &Wiring, feeds: &Feeds) -> anyhow::Result<()> {
    play(tasks, wiring, feeds, "sandbox.wms", &topics::FULFILMENT, SandboxWms).await?;
    play(
        tasks,
        wiring,
        feeds,
        "sandbox.payments",
        &topics::RETURNS,
        SandboxPayments,
    )
    .await
}

/// Runs `player`, named `name`, on what `topic` carries.
async fn play<P: Projection>(
    tasks: &mut Tasks,
    wiring: &Wiring,
    feeds: &Feeds,
    name: &str,
    topic: &'static Topic,
    player: P,
) -> anyhow::Result<()> {
    let Some(source) = wiring.source(name, feeds.store(), topic).await? else {
        return Ok(());
    };
    let projector = Projector::new(feeds.store().clone(), name, Arc::new(player));
    let stop = tasks.stage(name.to_owned());
    tasks.spawn(projector.run(source, stop));
    Ok(())
}

/// A WMS that ships every job it is given, in full, at once.
struct SandboxWms;

impl Projection for SandboxWms {
    fn rows(&self, _: &Message) -> Result<Vec<(String, Vec<u8>)>, String> {
        Ok(Vec::new())
    }

    fn applied(&self, _: &[(String, Vec<u8>)]) {}

    fn answers(&self, message: &Message, at: DateTime<Utc>) -> Result<Vec<OutboxMessage>, String> {
        let event = fulfilment::FulfilmentEvent::decode(message.payload.as_slice())
            .map_err(|e| format!("not an {}: {e}", topics::FULFILMENT.payload))?;
        let Some(fulfilment::fulfilment_event::Event::JobRequested(job)) = event.event else {
            return Ok(Vec::new());
        };
        let tracking = format!("SBX{}", job.job_id.len() * 7919 + job.order_id.len());
        let confirmation = fulfilment::NodeConfirmation {
            confirmation_id: format!("sandbox-shipped-{}", job.job_id),
            job_id: job.job_id.clone(),
            at: Some(oms_service::convert::timestamp(at)),
            outcome: Some(fulfilment::node_confirmation::Outcome::Shipped(
                fulfilment::NodeShipped {
                    carrier: "sandbox".to_owned(),
                    tracking_number: tracking,
                    lines: job.lines,
                },
            )),
        };
        let sent = feeds::message(&topics::CONFIRMATIONS, &job.job_id, &confirmation, at).map_err(|e| e.to_string())?;
        Ok(vec![sent])
    }
}

/// A payment gateway that refunds every request.
struct SandboxPayments;

impl Projection for SandboxPayments {
    fn rows(&self, _: &Message) -> Result<Vec<(String, Vec<u8>)>, String> {
        Ok(Vec::new())
    }

    fn applied(&self, _: &[(String, Vec<u8>)]) {}

    fn answers(&self, message: &Message, at: DateTime<Utc>) -> Result<Vec<OutboxMessage>, String> {
        let event = returns::ReturnEvent::decode(message.payload.as_slice())
            .map_err(|e| format!("not an {}: {e}", topics::RETURNS.payload))?;
        let Some(returns::return_event::Event::RefundRequested(refund)) = event.event else {
            return Ok(Vec::new());
        };
        let result = returns::PaymentResult {
            refund_id: refund.refund_id.clone(),
            at: Some(oms_service::convert::timestamp(at)),
            outcome: Some(returns::payment_result::Outcome::Refunded(returns::RefundDone {
                provider_reference: format!("sandbox-{}", refund.refund_id),
            })),
        };
        let sent = feeds::message(&topics::PAYMENTS, &refund.refund_id, &result, at).map_err(|e| e.to_string())?;
        Ok(vec![sent])
    }
}
