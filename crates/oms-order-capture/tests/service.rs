//! Order capture as a running service: orders over gRPC and from the channel topic, the
//! lifecycle from routing, fulfilment and returns events, customer-service operations, and
//! the order events it publishes — on PostgreSQL and a real tansu broker.

mod support;

use oms_proto::fulfilment::v1 as fulfilment;
use oms_proto::orders::v1 as pb;
use oms_proto::routing::v1 as routing;
use oms_transport::headers;
use prost::Message as _;
use support::*;
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_place_order_returns_the_same_order() {
    let mut rig = Rig::start().await;
    let first = rig
        .client
        .place_order(pb::PlaceOrderRequest {
            order: Some(web_order("W-1")),
        })
        .await
        .unwrap()
        .into_inner();
    let again = rig
        .client
        .place_order(pb::PlaceOrderRequest {
            order: Some(web_order("W-1")),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.order_id, again.order_id);
    assert_eq!(first.status, pb::OrderStatus::Placed as i32);
    assert_eq!(first.total.unwrap().amount_minor, 4_500);
    let listed = rig
        .client
        .list_orders(pb::ListOrdersRequest {
            customer_id: "C-42".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.orders.len(), 1);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_channel_messages_make_one_order_and_a_malformed_one_is_dead_lettered() {
    let mut rig = Rig::start().await;
    for _ in 0..3 {
        rig.produce("oms.channel-orders.v1", "web/M-7", web_order("M-7").encode_to_vec())
            .await;
    }
    rig.produce("oms.channel-orders.v1", "web/junk", b"\x0a\xff\xff junk".to_vec())
        .await;
    let mut incomplete = web_order("M-8");
    incomplete.lines[0].quantity = 0;
    incomplete.shipping_address = None;
    rig.produce("oms.channel-orders.v1", "web/M-8", incomplete.encode_to_vec())
        .await;
    let letters = rig
        .read_topic("oms.channel-orders.v1.dlq", "dlq-reader", |seen| seen.len() >= 2)
        .await;
    let mut reasons: Vec<&str> = letters.iter().filter_map(|l| l.header(headers::DLQ_REASON)).collect();
    reasons.sort();
    assert!(
        reasons[0].starts_with(
            "lines[0].quantity: must be 1 or more; shipping_address: standard delivery needs a shipping address"
        ),
        "{reasons:?}"
    );
    assert!(reasons[1].starts_with("not an oms.orders.v1.OrderDraft"), "{reasons:?}");
    let client = rig.client.clone();
    wait_until("the channel order is placed", || {
        let mut client = client.clone();
        async move {
            let listed = client
                .list_orders(pb::ListOrdersRequest::default())
                .await
                .unwrap()
                .into_inner();
            listed.orders.len() == 1
        }
    })
    .await;
    let listed = rig
        .client
        .list_orders(pb::ListOrdersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.orders[0].draft.as_ref().unwrap().external_order_id, "M-7");
    let placed = rig
        .read_topic("oms.orders.v1", "reader", |seen| {
            seen.iter()
                .any(|m| m.header(headers::TYPE) == Some("oms.orders.v1.OrderPlaced"))
        })
        .await;
    let placed: Vec<_> = placed
        .iter()
        .filter(|m| m.header(headers::TYPE) == Some("oms.orders.v1.OrderPlaced"))
        .collect();
    assert_eq!(placed.len(), 1, "announced once");
    assert_eq!(placed[0].key.as_deref(), Some(listed.orders[0].order_id.as_str()));
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_order_is_refused_listing_every_bad_field() {
    let mut rig = Rig::start().await;
    let mut bad = web_order("W-2");
    bad.lines[0].quantity = -1;
    bad.lines[1].unit_price = Some(oms_proto::common::v1::Money {
        amount_minor: 100,
        currency: "USD".into(),
    });
    bad.delivery_method = pb::DeliveryMethod::ClickAndCollect as i32;
    bad.payments[0].authorised = money(10);
    let status = rig
        .client
        .place_order(pb::PlaceOrderRequest { order: Some(bad) })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        status.message(),
        "lines[0].quantity: must be 1 or more; lines[1].unit_price.currency: is \"USD\" but the order is in EUR; \
         pickup_location_id: click & collect needs a store to collect from"
    );
    let mut nothing = web_order("W-3");
    nothing.lines.clear();
    nothing.channel = 0;
    nothing.delivery_method = 99;
    let status = rig
        .client
        .place_order(pb::PlaceOrderRequest { order: Some(nothing) })
        .await
        .unwrap_err();
    assert_eq!(
        status.message(),
        "channel: must be WEB, APP, MARKETPLACE, STORE or CALL_CENTRE; delivery_method: must be STANDARD, EXPRESS, SAME_DAY, \
         CLICK_AND_COLLECT, CURBSIDE, LOCKER or SHIP_TO_STORE"
    );
    let status = rig
        .client
        .get_order(pb::GetOrderRequest {
            order_id: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    rig.stop().await;
}

fn routed(order_id: &str) -> Vec<u8> {
    let line = |id: &str, sku: &str, q| routing::AllocatedLine {
        order_line_id: id.into(),
        sku: sku.into(),
        quantity: q,
    };
    routing::RoutingEvent {
        event: Some(routing::routing_event::Event::OrderRouted(routing::OrderRouted {
            order_id: order_id.into(),
            allocations: vec![routing::Allocation {
                node_id: "STORE-BERLIN".into(),
                node_type: "store".into(),
                lines: vec![line("1", "SKU-1", 2), line("2", "SKU-2", 1)],
                fulfilment_request_id: "fr-1".into(),
                expected_at: Some(oms_service::convert::timestamp(
                    chrono::Utc::now() + chrono::Duration::days(2),
                )),
            }],
            reroute: false,
            at: None,
        })),
    }
    .encode_to_vec()
}

fn fulfilment_event(event: fulfilment::fulfilment_event::Event) -> Vec<u8> {
    fulfilment::FulfilmentEvent { event: Some(event) }.encode_to_vec()
}

fn job_line(id: &str, sku: &str, quantity: i64) -> fulfilment::JobLine {
    fulfilment::JobLine {
        sku: sku.into(),
        quantity,
        order_line_id: id.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lifecycle_follows_routing_and_fulfilment_and_customer_service_acts_within_it() {
    let mut rig = Rig::start().await;
    let order = rig
        .client
        .place_order(pb::PlaceOrderRequest {
            order: Some(web_order("W-10")),
        })
        .await
        .unwrap()
        .into_inner();
    let id = order.order_id.clone();
    rig.produce("oms.routing.v1", &id, routed(&id)).await;
    rig.wait_for_status(&id, pb::OrderStatus::Routed).await;

    // Before anything ships the address can change; a retry with the same request id is the same answer.
    let mut moved = web_order("x").shipping_address.unwrap();
    moved.city = "Potsdam".into();
    let change = pb::ChangeShippingAddressRequest {
        order_id: id.clone(),
        address: Some(moved),
        requested_by: "agent-7".into(),
        request_id: "rq-1".into(),
    };
    let changed = rig
        .client
        .change_shipping_address(change.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(changed.draft.unwrap().shipping_address.unwrap().city, "Potsdam");
    rig.client.change_shipping_address(change).await.unwrap();

    let accepted = fulfilment::fulfilment_event::Event::JobAccepted(fulfilment::JobAccepted {
        job_id: "fr-1".into(),
        order_id: id.clone(),
        location_id: "STORE-BERLIN".into(),
        lines: vec![job_line("1", "SKU-1", 2), job_line("2", "SKU-2", 1)],
        at: None,
    });
    let shipped = fulfilment::fulfilment_event::Event::JobShipped(fulfilment::JobShipped {
        job_id: "fr-1".into(),
        order_id: id.clone(),
        location_id: "STORE-BERLIN".into(),
        reservation_id: "r-1".into(),
        lines: vec![job_line("1", "SKU-1", 2)],
        carrier: "DHL".into(),
        tracking_number: "JD0001".into(),
        at: None,
        pickup_location_id: String::new(),
    });
    rig.produce("oms.fulfilment.v1", &id, fulfilment_event(accepted)).await;
    rig.produce("oms.fulfilment.v1", &id, fulfilment_event(shipped)).await;
    rig.wait_for_status(&id, pb::OrderStatus::PartiallyShipped).await;

    // The rest of the order can be cancelled; shipped units cannot, nor can the address change.
    let refused = rig
        .client
        .cancel_order(pb::CancelOrderRequest {
            order_id: id.clone(),
            lines: vec![pb::LineQuantity {
                line_id: "1".into(),
                quantity: 1,
            }],
            reason: "too late".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(
        refused.message(),
        "cancelling is not possible: line 1 has 0 unit(s) left to cancel (2 shipped or collected), not 1"
    );
    let cancelled = rig
        .client
        .cancel_order(pb::CancelOrderRequest {
            order_id: id.clone(),
            reason: "customer asked".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cancelled.lines[1].cancelled, 1);
    assert_eq!(
        cancelled.status,
        pb::OrderStatus::Shipped as i32,
        "what is left has shipped"
    );
    let late = pb::ChangeShippingAddressRequest {
        order_id: id.clone(),
        address: web_order("x").shipping_address,
        ..Default::default()
    };
    assert_eq!(
        rig.client.change_shipping_address(late).await.unwrap_err().code(),
        Code::FailedPrecondition
    );

    let tracking = rig
        .client
        .track(pb::TrackRequest { order_id: id.clone() })
        .await
        .unwrap()
        .into_inner();
    let timeline: Vec<i32> = tracking.timeline.iter().map(|c| c.status).collect();
    assert_eq!(
        timeline,
        [
            pb::OrderStatus::Placed,
            pb::OrderStatus::Routed,
            pb::OrderStatus::InFulfilment,
            pb::OrderStatus::PartiallyShipped,
            pb::OrderStatus::Shipped
        ]
        .map(|s| s as i32)
    );
    assert_eq!(tracking.tracking_numbers, vec!["JD0001"]);
    assert!(tracking.expected_at.is_some());

    let history = rig
        .client
        .get_order_history(pb::GetOrderHistoryRequest { order_id: id.clone() })
        .await
        .unwrap()
        .into_inner();
    let types: Vec<&str> = history.entries.iter().map(|e| e.r#type.as_str()).collect();
    assert_eq!(
        types,
        vec![
            "Placed",
            "Allocated",
            "ShippingAddressChanged",
            "FulfilmentStarted",
            "Shipped",
            "Cancelled"
        ]
    );

    let announced = rig
        .read_topic("oms.orders.v1", "lifecycle-reader", |seen| {
            seen.iter()
                .any(|m| m.header(headers::TYPE) == Some("oms.orders.v1.OrderCancelled"))
        })
        .await;
    let kinds: Vec<&str> = announced.iter().filter_map(|m| m.header(headers::TYPE)).collect();
    assert!(kinds.contains(&"oms.orders.v1.ShippingAddressChanged"), "{kinds:?}");
    let statuses: Vec<i32> = announced
        .iter()
        .filter_map(|m| match pb::OrderEvent::decode(m.payload.as_slice()).ok()?.event? {
            pb::order_event::Event::OrderStatusChanged(s) => Some(s.status),
            _ => None,
        })
        .collect();
    assert_eq!(
        &statuses[..3],
        &[
            pb::OrderStatus::Placed as i32,
            pb::OrderStatus::Routed as i32,
            pb::OrderStatus::InFulfilment as i32
        ]
    );
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_are_held_and_released_and_listed_by_customer_channel_and_status() {
    let mut rig = Rig::start().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut draft = web_order(&format!("W-{i}"));
        if i % 2 == 1 {
            draft.channel = pb::Channel::App as i32;
            draft.customer.as_mut().unwrap().customer_id = "C-7".into();
        }
        ids.push(
            rig.client
                .place_order(pb::PlaceOrderRequest { order: Some(draft) })
                .await
                .unwrap()
                .into_inner()
                .order_id,
        );
    }
    let held = rig
        .client
        .hold_order(pb::HoldOrderRequest {
            order_id: ids[0].clone(),
            reason: "fraud check".into(),
            requested_by: "agent-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (held.status, held.hold_reason.as_str()),
        (pb::OrderStatus::Held as i32, "fraud check")
    );
    let by_status = rig
        .client
        .list_orders(pb::ListOrdersRequest {
            status: pb::OrderStatus::Held as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        by_status.orders.iter().map(|o| o.order_id.clone()).collect::<Vec<_>>(),
        vec![ids[0].clone()]
    );
    let app = rig
        .client
        .list_orders(pb::ListOrdersRequest {
            channel: pb::Channel::App as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(app.orders.len(), 2);
    let first_page = rig
        .client
        .list_orders(pb::ListOrdersRequest {
            customer_id: "C-42".into(),
            page_size: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first_page.orders.len(), 2);
    let second_page = rig
        .client
        .list_orders(pb::ListOrdersRequest {
            customer_id: "C-42".into(),
            page_size: 2,
            page_token: first_page.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second_page.orders.len(), 1);
    assert_eq!(second_page.next_page_token, "");
    let released = rig
        .client
        .release_order(pb::ReleaseOrderRequest {
            order_id: ids[0].clone(),
            requested_by: "agent-2".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(released.status, pb::OrderStatus::Placed as i32);
    let again = rig
        .client
        .release_order(pb::ReleaseOrderRequest {
            order_id: ids[0].clone(),
            requested_by: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (again.code(), again.message()),
        (
            Code::FailedPrecondition,
            "releasing is not possible: the order is not held"
        )
    );
    rig.stop().await;
}
