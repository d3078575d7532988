//! Trace context across the transports. A binary of its own: the tracing subscriber is
//! installed once per process, before anything records a span.

mod support;

use oms_eventsourcing::writer::Context;
use oms_eventsourcing::{CommandMeta, Decision};
use support::*;

/// The consumer's span is a child of the publisher's: the trace id travels with the
/// message and into the events the consumer records.
async fn the_trace_continues_across_the_hop(transport: Transport) {
    let mut rig = Rig::new(transport).await;
    rig.start_relay(None);
    rig.start_consumer(None).await;
    let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string();
    let meta = CommandMeta::new().with_traceparent(Some(parent.clone()));
    rig.publisher
        .execute(meta, move |_: &Tally, ctx: &Context<'_>| {
            Ok::<_, std::convert::Infallible>(Decision::reply(()).publish(message("t", b"t:1".to_vec(), ctx.now)))
        })
        .await
        .unwrap();
    rig.wait_for_seen(1).await;
    rig.wait_for_count("the message is counted applied", |s| &s.applied, 1)
        .await;
    let events = rig.consumer_store.store.read_stream("seen-t", 1).await.unwrap();
    let traceparent = events[0]
        .meta
        .traceparent
        .clone()
        .expect("the consumer's event records its trace");
    assert_eq!(
        oms_eventsourcing::trace::trace_id_of(&traceparent),
        Some("4bf92f3577b34da6a3ce929d0e0e4736")
    );
    assert_ne!(
        traceparent, parent,
        "the consumer's span is a new span in the same trace"
    );
    rig.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trace_continues_across_the_hop_on_both_transports() {
    // One test: the subscriber is global, and both transports share it.
    assert!(
        oms_eventsourcing::testing::install_tracing("warn"),
        "tracing is installed first in this test binary"
    );
    the_trace_continues_across_the_hop(Transport::InProcess).await;
    the_trace_continues_across_the_hop(Transport::Kafka).await;
}
