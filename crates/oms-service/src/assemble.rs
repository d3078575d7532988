//! The parts every service process is assembled from, as stages of its [`Tasks`]: the
//! gRPC server, one consumer per input topic, the writer, and (on Kafka) the outbox relay.
//! Stages stop in the order they are added; services add them in this module's order.

use std::sync::Arc;

use oms_eventsourcing::{EventStore, Model, Writer};
use oms_proto::topics::Topic;
use oms_transport::{Consumer, ConsumerConfig, MessageHandler, Relay, RelayConfig, ensure_topics};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::service::Routes;

use crate::{Tasks, Wiring};

/// Creates, on Kafka, the service's own topic, the topics it reads (creating one that
/// exists is harmless, and a consumer of a topic nobody created yet only waits) and their
/// dead-letter topics.
pub async fn topics(wiring: &Wiring, own: &str, inputs: &[&str]) -> anyhow::Result<()> {
    if let Wiring::Kafka(kafka) = wiring {
        let mut topics = vec![own.to_owned()];
        topics.extend(inputs.iter().map(std::string::ToString::to_string));
        topics.extend(inputs.iter().map(|t| oms_transport::dead_letter::topic_of(t)));
        ensure_topics(kafka, &topics).await?;
    }
    Ok(())
}

/// The gRPC stage: serves `routes`, and the admin API over `writer`, until the stage stops
/// (calls in flight finish). `routes` is given a receiver that turns true when it stops,
/// for streams that must end then; `name` is the gRPC service in `routes`, the only one
/// the port lists and answers (with health, reflection and admin).
pub fn grpc<M: Model>(
    tasks: &mut Tasks,
    listener: TcpListener,
    writer: &Writer<M>,
    routes: impl FnOnce(watch::Receiver<bool>) -> Routes,
    name: &'static str,
    access: crate::auth::Access,
) {
    let mut stop = tasks.stage("grpc");
    let admin =
        crate::admin::AdminApi::server(writer.clone()).max_decoding_message_size(crate::grpc::MAX_MESSAGE_BYTES);
    let routes = routes(stop.clone()).add_service(admin);
    if matches!(access.gate, crate::auth::Gate::Open) {
        tasks.spawn(crate::auth::warn_while_open(name, stop.clone()));
    }
    tasks.spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        if let Err(e) = crate::grpc::serve(listener, routes, &[name], &access, shutdown).await {
            tracing::error!(error = %e, "the gRPC server stopped");
        }
    });
}

/// A consumer stage named `name` for `topic`, applied through `writer`; what systems outside
/// the OMS send is checked against the contract's limits first. In the embedded mode a topic
/// nobody publishes on in the process has no source: nothing is started.
pub async fn consumer<M: Model, H: MessageHandler<M>>(
    tasks: &mut Tasks,
    wiring: &Wiring,
    writer: &Writer<M>,
    name: &str,
    topic: &'static Topic,
    handler: H,
) -> anyhow::Result<()> {
    let Some(source) = wiring.source(name, writer.store(), topic).await? else {
        return Ok(());
    };
    let handler = crate::limits::WithinLimits {
        handler,
        message_type: topic.is_inbound().then_some(topic.payload),
    };
    let consumer = Consumer::new(writer.clone(), Arc::new(handler), ConsumerConfig::new(name));
    let stop = tasks.stage(format!("consumer {name}"));
    tasks.spawn(async move {
        consumer.run(source, stop).await;
    });
    Ok(())
}

/// The writer stage: at stop, the writer finishes the commands queued and snapshots.
pub fn writer<M: Model>(tasks: &mut Tasks, writer: &Writer<M>) {
    let mut stop = tasks.stage("writer");
    let writer = writer.clone();
    tasks.spawn(async move {
        let _ = stop.wait_for(|s| *s).await;
        writer.shutdown().await;
    });
}

/// The relay stage (Kafka only): relays the outbox until stopped, then drains it for
/// `OMS_RELAY_DRAIN_SECONDS` at most (5 by default); what is left is relayed after the next
/// start.
pub fn relay(tasks: &mut Tasks, wiring: &Wiring, store: &EventStore, service: &str) -> anyhow::Result<()> {
    let Wiring::Kafka(kafka) = wiring else { return Ok(()) };
    let stop = tasks.stage("relay");
    let relay = Relay::new(store.clone(), kafka, RelayConfig::from_env(format!("oms/{service}"))?)?;
    tasks.spawn(async move {
        if let Err(e) = relay.run(stop).await {
            tracing::error!(error = %e, "the outbox relay stopped");
        }
    });
    Ok(())
}

/// Makes the service's outbox readable by the other services of this process.
pub fn publish_outbox(wiring: &Wiring, service: &str, store: &EventStore) {
    if let Wiring::InProcess(outboxes) = wiring {
        outboxes.register(service, store.clone());
    }
}
