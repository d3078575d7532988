//! Routing with its neighbours, over a real broker: the inventory ledger, order capture and
//! routing run as services on PostgreSQL and a tansu broker; orders are placed through
//! order capture's gRPC API, stock arrives as POS movements on Kafka, and the nodes answer
//! on the fulfilment topic as store systems would.

use oms_inventory_ledger::service::RunningInventory;
use oms_inventory_ledger::testing as ledger;
use oms_order_capture::service::RunningOrderCapture;
use oms_order_capture::testing as orders_service;
use oms_proto::common::v1 as common;
use oms_proto::fulfilment::v1 as fulfilment;
use oms_proto::inventory::v1 as inventory;
use oms_proto::inventory::v1::inventory_ledger_client::InventoryLedgerClient;
use oms_proto::orders::v1 as orders;
use oms_proto::orders::v1::order_capture_client::OrderCaptureClient;
use oms_proto::pos::v1 as pos;
use oms_proto::routing::v1 as pb;
use oms_proto::routing::v1::routing_client::RoutingClient;
use oms_routing::service::RunningRouting;
use oms_routing::testing;
use oms_service::convert::timestamp;
use oms_service::testing::Testbed;
use oms_transport::testing::{produce, read_topic, wait_until};
use oms_transport::{KafkaConfig, Message};
use prost::Message as _;
use tonic::transport::Channel;

const NETWORK: &str = include_str!("../../../deploy/network.example.json");

struct Rig {
    _testbed: Testbed,
    kafka: KafkaConfig,
    ledger: Option<RunningInventory>,
    orders: Option<RunningOrderCapture>,
    routing: Option<RunningRouting>,
    ledger_client: InventoryLedgerClient<Channel>,
    orders_client: OrderCaptureClient<Channel>,
    routing_client: RoutingClient<Channel>,
}

impl Rig {
    async fn start() -> Self {
        let mut testbed = Testbed::kafka("routing-test").await;
        let ledger = ledger::started(&mut testbed).await;
        let orders = orders_service::started(&mut testbed).await;
        let routing = testing::started(&mut testbed, ledger.addr).await;
        let mut rig = Self {
            kafka: testbed.kafka_config().clone(),
            _testbed: testbed,
            ledger_client: ledger::client(&ledger).await,
            orders_client: orders_service::client(&orders).await,
            routing_client: testing::client(&routing).await,
            ledger: Some(ledger),
            orders: Some(orders),
            routing: Some(routing),
        };
        rig.set_up_network().await;
        rig
    }

    /// The example network in both places that know it: routing's nodes and rules, and
    /// the ledger's locations.
    async fn set_up_network(&mut self) {
        let imported = self
            .routing_client
            .import_network(pb::ImportNetworkRequest { json: NETWORK.into() })
            .await
            .expect("the example network imports")
            .into_inner();
        assert_eq!((imported.nodes, imported.rule_sets), (5, 3));
        for (id, kind) in [
            ("store-alexanderplatz", inventory::LocationType::Store),
            ("store-kreuzberg", inventory::LocationType::Store),
            ("store-potsdam", inventory::LocationType::Store),
            ("dc-erfurt", inventory::LocationType::Warehouse),
        ] {
            self.ledger_client
                .upsert_location(inventory::Location {
                    location_id: id.into(),
                    r#type: kind as i32,
                    name: id.into(),
                    active: true,
                    ..Default::default()
                })
                .await
                .unwrap();
        }
    }

    async fn stop(mut self) {
        if let Some(routing) = self.routing.take() {
            routing.stop().await;
        }
        if let Some(orders) = self.orders.take() {
            orders.stop().await;
        }
        if let Some(ledger) = self.ledger.take() {
            ledger.stop().await;
        }
    }

    /// A receipt at a node, as its POS or WMS reports it on Kafka.
    async fn receive_stock(&self, node: &str, sku: &str, units: i64) {
        let movement = pos::StockMovement {
            movement_id: format!("receipt-{node}-{sku}-{units}"),
            location_id: node.into(),
            sku: sku.into(),
            kind: pos::MovementKind::Receipt as i32,
            quantity: units,
            occurred_at: Some(timestamp(chrono::Utc::now())),
            ..Default::default()
        };
        produce(&self.kafka, "oms.pos-movements.v1", node, &movement.encode_to_vec()).await;
    }

    /// Waits until routing's read model shows `units` of `sku` somewhere: a quote offers
    /// standard shipping.
    async fn wait_until_routing_sees(&self, sku: &str) {
        let client = self.routing_client.clone();
        let sku = sku.to_owned();
        wait_until("routing sees the stock", || {
            let mut client = client.clone();
            let sku = sku.clone();
            async move {
                client
                    .quote_delivery_options(pb::QuoteRequest {
                        lines: vec![pb::QuoteLine { sku, quantity: 1 }],
                        destination: Some(orders_service::mitte()),
                        ..Default::default()
                    })
                    .await
                    .is_ok_and(|r| !r.into_inner().options.is_empty())
            }
        })
        .await;
    }

    async fn place(&mut self, external_id: &str, sku: &str, quantity: i64) -> String {
        let draft = orders_service::web_order(external_id, &[(sku, quantity, 4_999)]);
        let order = self
            .orders_client
            .place_order(orders::PlaceOrderRequest { order: Some(draft) })
            .await
            .expect("the order is placed")
            .into_inner();
        order.order_id
    }

    /// The routing events about `order_id`, once `enough` says so.
    async fn routing_events(
        &self,
        order_id: &str,
        group: &str,
        mut enough: impl FnMut(&[pb::routing_event::Event]) -> bool,
    ) -> Vec<pb::routing_event::Event> {
        let of_order = |messages: &[Message]| -> Vec<pb::routing_event::Event> {
            messages
                .iter()
                .filter(|m| m.key.as_deref() == Some(order_id))
                .filter_map(|m| pb::RoutingEvent::decode(m.payload.as_slice()).ok()?.event)
                .collect()
        };
        let messages = read_topic(&self.kafka, "oms.routing.v1", group, |messages| {
            enough(&of_order(messages))
        })
        .await;
        of_order(&messages)
    }

    async fn decision(&mut self, order_id: &str) -> pb::RoutingDecision {
        self.routing_client
            .get_decision(pb::GetDecisionRequest {
                order_id: order_id.into(),
            })
            .await
            .unwrap()
            .into_inner()
    }

    async fn reservation(&mut self, id: &str) -> inventory::Reservation {
        self.ledger_client
            .get_reservation(inventory::GetReservationRequest {
                reservation_id: id.into(),
            })
            .await
            .unwrap()
            .into_inner()
    }

    async fn wait_for_status(&self, order_id: &str, status: orders::OrderStatus) {
        orders_service::wait_for_status(&self.orders_client, order_id, status).await;
    }
}

fn requests(events: &[pb::routing_event::Event]) -> Vec<&pb::FulfilmentRequested> {
    events
        .iter()
        .filter_map(|e| match e {
            pb::routing_event::Event::FulfilmentRequested(r) => Some(r),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_order_goes_to_the_nearest_store_and_to_the_next_when_that_store_rejects_it() {
    let mut rig = Rig::start().await;
    rig.receive_stock("store-alexanderplatz", "jacket-m", 2).await;
    rig.receive_stock("store-kreuzberg", "jacket-m", 3).await;
    rig.wait_until_routing_sees("jacket-m").await;

    let order_id = rig.place("W-1", "jacket-m", 1).await;
    let events = rig
        .routing_events(&order_id, "check-1", |e| !requests(e).is_empty())
        .await;
    let first = requests(&events)[0].clone();
    assert_eq!(first.node_id, "store-alexanderplatz");
    assert_eq!(first.lines.len(), 1);
    assert_eq!((first.lines[0].sku.as_str(), first.lines[0].quantity), ("jacket-m", 1));
    // The ledger holds the unit under the request's reservation.
    let reservation = rig.reservation(&first.reservation_id).await;
    assert_eq!(reservation.location_id, "store-alexanderplatz");
    assert_eq!(reservation.status, inventory::ReservationStatus::Active as i32);
    // Order capture follows.
    rig.wait_for_status(&order_id, orders::OrderStatus::Routed).await;
    // The reasons: every node considered.
    let decision = rig.decision(&order_id).await;
    assert_eq!(decision.rule_set, "nearest first");
    let chosen: Vec<&str> = decision
        .candidates
        .iter()
        .filter(|c| c.chosen)
        .map(|c| c.node_id.as_str())
        .collect();
    assert_eq!(chosen, vec!["store-alexanderplatz"]);

    // The store turns it down.
    let rejected = fulfilment::FulfilmentEvent {
        event: Some(fulfilment::fulfilment_event::Event::JobRejected(
            fulfilment::JobRejected {
                job_id: first.fulfilment_request_id.clone(),
                order_id: order_id.clone(),
                location_id: first.node_id.clone(),
                reservation_id: first.reservation_id.clone(),
                lines: vec![fulfilment::JobLine {
                    sku: "jacket-m".into(),
                    quantity: 1,
                    order_line_id: "1".into(),
                }],
                reason: fulfilment::RejectReason::Capacity as i32,
                at: Some(timestamp(chrono::Utc::now())),
            },
        )),
    };
    produce(&rig.kafka, "oms.fulfilment.v1", &order_id, &rejected.encode_to_vec()).await;

    let events = rig
        .routing_events(&order_id, "check-2", |e| requests(e).len() >= 2)
        .await;
    let second = requests(&events)[1].clone();
    assert_eq!(second.node_id, "store-kreuzberg", "the next best node");
    assert_ne!(second.reservation_id, first.reservation_id);
    let rerouted = events
        .iter()
        .any(|e| matches!(e, pb::routing_event::Event::OrderRouted(r) if r.reroute));
    assert!(rerouted, "the second decision is announced as a re-route: {events:?}");
    assert_eq!(
        rig.reservation(&second.reservation_id).await.status,
        inventory::ReservationStatus::Active as i32
    );
    // The rejected store's units went back on sale.
    let ledger = rig.ledger_client.clone();
    let first_reservation = first.reservation_id.clone();
    wait_until("the rejected reservation is released", || {
        let mut ledger = ledger.clone();
        let id = first_reservation.clone();
        async move {
            ledger
                .get_reservation(inventory::GetReservationRequest { reservation_id: id })
                .await
                .is_ok_and(|r| r.into_inner().status != inventory::ReservationStatus::Active as i32)
        }
    })
    .await;
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_order_nobody_can_fill_is_backordered_and_routed_when_a_receipt_arrives() {
    let mut rig = Rig::start().await;
    let order_id = rig.place("W-2", "limited-sneaker", 2).await;
    let events = rig
        .routing_events(&order_id, "check-1", |e| {
            e.iter()
                .any(|e| matches!(e, pb::routing_event::Event::OrderBackordered(_)))
        })
        .await;
    assert!(requests(&events).is_empty());
    rig.wait_for_status(&order_id, orders::OrderStatus::Backordered).await;
    let decision = rig.decision(&order_id).await;
    assert_eq!(decision.backordered.len(), 1);
    assert_eq!(decision.backordered[0].quantity, 2);

    // Supply arrives at the warehouse.
    rig.receive_stock("dc-erfurt", "limited-sneaker", 12).await;
    let events = rig
        .routing_events(&order_id, "check-2", |e| !requests(e).is_empty())
        .await;
    let request = requests(&events)[0];
    assert_eq!(request.node_id, "dc-erfurt");
    assert_eq!(request.lines[0].quantity, 2);
    rig.wait_for_status(&order_id, orders::OrderStatus::Routed).await;
    assert!(rig.decision(&order_id).await.backordered.is_empty());
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_held_backorder_is_routed_as_soon_as_it_is_released_when_stock_came_meanwhile() {
    let mut rig = Rig::start().await;
    let order_id = rig.place("W-HOLD", "limited-boot", 1).await;
    rig.wait_for_status(&order_id, orders::OrderStatus::Backordered).await;
    rig.orders_client
        .hold_order(orders::HoldOrderRequest {
            order_id: order_id.clone(),
            reason: "customer asked to wait".into(),
            requested_by: "agent-7".into(),
        })
        .await
        .expect("customer service holds the order");
    rig.wait_for_status(&order_id, orders::OrderStatus::Held).await;
    let routing = rig.routing_client.clone();
    let id = order_id.clone();
    wait_until("routing knows of the hold", || {
        let mut routing = routing.clone();
        let order_id = id.clone();
        async move {
            routing
                .get_decision(pb::GetDecisionRequest { order_id })
                .await
                .is_ok_and(|d| d.into_inner().held)
        }
    })
    .await;

    // Stock arrives while the order is held: nothing is reserved for it.
    rig.receive_stock("dc-erfurt", "limited-boot", 5).await;
    rig.wait_until_routing_sees("limited-boot").await;
    let decision = rig.decision(&order_id).await;
    assert!(decision.allocations.is_empty(), "{decision:?}");
    assert_eq!(decision.backordered.len(), 1);

    // Released, it is routed at once, not at the next periodic retry of backorders.
    rig.orders_client
        .release_order(orders::ReleaseOrderRequest {
            order_id: order_id.clone(),
            requested_by: "agent-7".into(),
        })
        .await
        .expect("customer service releases the order");
    let events = rig
        .routing_events(&order_id, "released", |e| !requests(e).is_empty())
        .await;
    assert_eq!(requests(&events)[0].node_id, "dc-erfurt");
    rig.wait_for_status(&order_id, orders::OrderStatus::Routed).await;
    assert!(rig.decision(&order_id).await.backordered.is_empty());
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancelled_order_takes_its_request_back_and_the_ledger_releases_the_units() {
    let mut rig = Rig::start().await;
    rig.receive_stock("store-kreuzberg", "scarf", 5).await;
    rig.wait_until_routing_sees("scarf").await;
    let order_id = rig.place("W-3", "scarf", 2).await;
    let events = rig
        .routing_events(&order_id, "check-1", |e| !requests(e).is_empty())
        .await;
    let request = requests(&events)[0].clone();
    rig.orders_client
        .cancel_order(orders::CancelOrderRequest {
            order_id: order_id.clone(),
            reason: "changed my mind".into(),
            ..Default::default()
        })
        .await
        .expect("the order is cancelled");
    let events = rig
        .routing_events(&order_id, "check-2", |e| {
            e.iter()
                .any(|e| matches!(e, pb::routing_event::Event::FulfilmentCancelled(_)))
        })
        .await;
    let cancelled = events
        .iter()
        .find_map(|e| match e {
            pb::routing_event::Event::FulfilmentCancelled(c) => Some(c),
            _ => None,
        })
        .unwrap();
    assert_eq!(cancelled.fulfilment_request_id, request.fulfilment_request_id);
    assert!(!cancelled.reroute);
    let ledger = rig.ledger_client.clone();
    let id = request.reservation_id.clone();
    wait_until("the ledger releases the reservation", || {
        let mut ledger = ledger.clone();
        let id = id.clone();
        async move {
            ledger
                .get_reservation(inventory::GetReservationRequest { reservation_id: id })
                .await
                .is_ok_and(|r| r.into_inner().status != inventory::ReservationStatus::Active as i32)
        }
    })
    .await;
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_network_input_is_refused_with_the_field_named() {
    let mut rig = Rig::start().await;
    let status = rig
        .routing_client
        .upsert_node(pb::Node {
            node_id: "store-x".into(),
            r#type: pb::NodeType::Store as i32,
            location: Some(common::GeoPoint {
                latitude: 123.0,
                longitude: 0.0,
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().contains("location"), "{}", status.message());
    let status = rig
        .routing_client
        .import_network(pb::ImportNetworkRequest {
            json: "{ \"nodes\": [ { \"node_id\": 1 } ] }".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().contains("json"), "{}", status.message());
    let status = rig
        .routing_client
        .quote_delivery_options(pb::QuoteRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().contains("lines"), "{}", status.message());
    rig.stop().await;
}

/// Many customers at once for few units: the read model promises what the ledger may have
/// given away a moment ago. The ledger's refusals send the router back to plan, so nothing
/// is oversold and every order ends routed or backordered.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rush_on_scarce_stock_oversells_nothing_and_loses_no_order() {
    let mut rig = Rig::start().await;
    rig.receive_stock("store-alexanderplatz", "console", 3).await;
    rig.receive_stock("store-kreuzberg", "console", 2).await;
    rig.receive_stock("dc-erfurt", "console", 4).await;
    rig.wait_until_routing_sees("console").await;
    let on_hand = 3 + 2 + 4;
    let mut placing = Vec::new();
    for i in 0..16 {
        let mut client = rig.orders_client.clone();
        placing.push(tokio::spawn(async move {
            let mut draft = orders_service::web_order(&format!("RUSH-{i}"), &[("console", 1, 4_999)]);
            draft.customer.as_mut().unwrap().customer_id = format!("C-{i}");
            client
                .place_order(orders::PlaceOrderRequest { order: Some(draft) })
                .await
                .expect("the order is placed")
                .into_inner()
                .order_id
        }));
    }
    let mut order_ids = Vec::new();
    for placed in placing {
        order_ids.push(placed.await.unwrap());
    }
    // Every order gets an answer: a request to a node, or a backorder.
    let ids = order_ids.clone();
    let messages = read_topic(&rig.kafka, "oms.routing.v1", "rush", move |messages| {
        ids.iter().all(|id| {
            messages.iter().any(|m| {
                m.key.as_deref() == Some(id.as_str())
                    && matches!(
                        pb::RoutingEvent::decode(m.payload.as_slice())
                            .ok()
                            .and_then(|e| e.event),
                        Some(
                            pb::routing_event::Event::FulfilmentRequested(_)
                                | pb::routing_event::Event::OrderBackordered(_)
                        )
                    )
            })
        })
    })
    .await;
    let events: Vec<pb::routing_event::Event> = messages
        .iter()
        .filter_map(|m| pb::RoutingEvent::decode(m.payload.as_slice()).ok()?.event)
        .collect();
    let routed: Vec<&pb::FulfilmentRequested> = requests(&events);
    let units: i64 = routed.iter().flat_map(|r| &r.lines).map(|l| l.quantity).sum();
    assert_eq!(units, on_hand, "every unit is sold, none twice: {routed:#?}");
    for node in ["store-alexanderplatz", "store-kreuzberg", "dc-erfurt"] {
        let at_node: i64 = routed
            .iter()
            .filter(|r| r.node_id == node)
            .flat_map(|r| &r.lines)
            .map(|l| l.quantity)
            .sum();
        let stocked = match node {
            "store-alexanderplatz" => 3,
            "store-kreuzberg" => 2,
            _ => 4,
        };
        assert_eq!(at_node, stocked, "{node}");
    }
    // The ledger agrees: every request holds an active reservation.
    for request in &routed {
        assert_eq!(
            rig.reservation(&request.reservation_id).await.status,
            inventory::ReservationStatus::Active as i32
        );
    }
    let backordered = events
        .iter()
        .filter(|e| matches!(e, pb::routing_event::Event::OrderBackordered(_)))
        .count();
    assert_eq!(backordered, 16 - on_hand as usize);
    rig.stop().await;
}
