//! The input limits at order capture's door: a 1 MB customer name, a NUL in a SKU or an
//! id longer than any channel's are refused naming the field — the same way on PostgreSQL
//! and SQLite, and on the channel topic (dead-lettered with the reason) as over gRPC —
//! and nothing of them is stored.

mod support;

use std::sync::Arc;

use oms_eventsourcing::SystemClock;
use oms_eventsourcing::testing::{TestBackend, TestStore};
use oms_order_capture::testing;
use oms_proto::orders::v1 as pb;
use oms_service::{Outboxes, Wiring};
use oms_transport::headers;
use prost::Message as _;
use support::*;
use tonic::Code;

/// Beyond the limits, field by field: (the order, the field named, the words), with a
/// customer name of `name_chars` characters.
fn oversized(name_chars: usize) -> Vec<(pb::OrderDraft, &'static str, &'static str)> {
    let mut huge_name = web_order("L-1");
    if let Some(customer) = huge_name.customer.as_mut() {
        customer.name = "A".repeat(name_chars);
    }
    let mut nul_sku = web_order("L-2");
    nul_sku.lines[0].sku = "SKU\u{0}1".into();
    let mut long_id = web_order(&"L".repeat(300));
    long_id.lines[1].quantity = 5_000_000;
    vec![
        (huge_name, "customer.name", "longer than 256 characters"),
        (nul_sku, "lines[0].sku", "contains a control character (U+0000)"),
        (long_id, "external_order_id", "longer than 128 characters"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_limits_is_refused_naming_the_field_on_both_backends_and_nothing_is_stored() {
    let mut answers = Vec::new();
    for backend in [TestBackend::Postgres, TestBackend::Sqlite] {
        let store = TestStore::new(backend).await;
        let running = testing::start(
            testing::config(store.config.clone()),
            Wiring::InProcess(Outboxes::new()),
            Arc::new(SystemClock),
        )
        .await;
        let mut client = testing::client(&running).await;
        let mut refusals = Vec::new();
        for (order, field, words) in oversized(1024 * 1024) {
            let status = client
                .place_order(pb::PlaceOrderRequest { order: Some(order) })
                .await
                .expect_err("refused");
            assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
            assert!(
                status.message().contains(&format!("{field}: {words}")),
                "{}",
                status.message()
            );
            refusals.push(status.message().to_owned());
        }
        let listed = client
            .list_orders(pb::ListOrdersRequest::default())
            .await
            .unwrap()
            .into_inner();
        assert!(listed.orders.is_empty(), "nothing is stored");
        answers.push(refusals);
        running.stop().await;
    }
    assert_eq!(answers[0], answers[1], "PostgreSQL and SQLite answer alike");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_order_beyond_the_limits_is_dead_lettered_with_the_field_named() {
    let mut rig = Rig::start().await;
    // (A megabyte is more than a Kafka producer sends by default: 10 kB stands for it.)
    for (order, _, _) in oversized(10_000) {
        rig.produce("oms.channel-orders.v1", "web/L", order.encode_to_vec())
            .await;
    }
    rig.produce("oms.channel-orders.v1", "web/OK", web_order("L-OK").encode_to_vec())
        .await;
    let letters = rig
        .read_topic("oms.channel-orders.v1.dlq", "dlq-reader", |seen| seen.len() >= 3)
        .await;
    let reasons: Vec<&str> = letters.iter().filter_map(|l| l.header(headers::DLQ_REASON)).collect();
    for (_, field, words) in oversized(10_000) {
        assert!(
            reasons.iter().any(|r| r.contains(&format!("{field}: {words}"))),
            "{field}: {reasons:?}"
        );
    }
    // The one within the limits is placed; the others are not.
    rig.wait_for_status(
        &oms_order_capture::domain::order_id_for(oms_order_capture::domain::Channel::Web, "L-OK"),
        pb::OrderStatus::Placed,
    )
    .await;
    let listed = rig
        .client
        .list_orders(pb::ListOrdersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.orders.len(), 1);
    rig.stop().await;
}
