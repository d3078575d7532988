//! The embedded mode takes what the systems outside the OMS send through the consumers
//! production uses: a POS receipt and a channel order sent on their feeds are applied, the
//! sandbox WMS ships the order through the confirmations feed, and a payment result nobody
//! asked for is dead-lettered with its reason, as on Kafka.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use oms_cli::embedded::{Embedded, EmbeddedConfig, Settings, Stores, Transport, system_clock};
use oms_cli::seed::{WAREHOUSE, seed};
use oms_eventsourcing::store::OutboxPosition;
use oms_eventsourcing::{EventStore, StoreConfig};
use oms_proto::common::v1 as common;
use oms_proto::inventory::v1 as inventory;
use oms_proto::inventory::v1::inventory_ledger_client::InventoryLedgerClient;
use oms_proto::orders::v1 as orders;
use oms_proto::orders::v1::order_capture_client::OrderCaptureClient;
use oms_proto::pos::v1 as pos;
use oms_proto::returns::v1 as returns;
use oms_proto::topics;
use oms_service::convert::timestamp;

const SKU: &str = "SKU-FEED";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn what_outside_systems_send_takes_the_production_path() {
    let dir = tempfile::tempdir().unwrap();
    let config = EmbeddedConfig {
        stores: Stores::Sqlite(dir.path().to_path_buf()),
        transport: Transport::InProcess,
        host: IpAddr::V4(Ipv4Addr::LOCALHOST),
        base_port: 0,
        sandbox: true,
        settings: Settings::default(),
        key: None,
    };
    let running = Embedded::start(config, system_clock()).await.expect("the OMS starts");
    seed(&running.addrs).await.expect("the sample network loads");
    let feeds = running.feeds();

    // The warehouse's stock system reports a receipt on the POS feed.
    let receipt = pos::StockMovement {
        movement_id: "feed-receipt-1".into(),
        location_id: WAREHOUSE.into(),
        sku: SKU.into(),
        kind: pos::MovementKind::Receipt as i32,
        quantity: 50,
        occurred_at: Some(timestamp(chrono::Utc::now())),
        ..Default::default()
    };
    feeds
        .send(&topics::POS_MOVEMENTS, WAREHOUSE, &receipt)
        .await
        .expect("the receipt is sent");
    let channel = oms_cli::grpc_channel(running.addrs.ledger).await.unwrap();
    let mut ledger = InventoryLedgerClient::new(channel);
    eventually("the receipt is on the ledger", || {
        let mut ledger = ledger.clone();
        async move {
            let position = ledger
                .get_position_as_of(inventory::GetPositionAsOfRequest {
                    sku: SKU.into(),
                    location_id: WAREHOUSE.into(),
                    at: Some(timestamp(chrono::Utc::now() + chrono::Duration::hours(1))),
                })
                .await
                .ok()?
                .into_inner();
            (position.on_hand == 50).then_some(())
        }
    })
    .await;

    // The web shop sends an order on the channel feed; routing sends it to the warehouse,
    // and the sandbox WMS ships it by a confirmation on its feed.
    feeds
        .send(&topics::CHANNEL_ORDERS, "web:FEED-1", &draft("FEED-1"))
        .await
        .expect("the order is sent");
    let orders_api = OrderCaptureClient::new(oms_cli::grpc_channel(running.addrs.orders).await.unwrap());
    eventually("the channel order is placed and shipped", || {
        let mut api = orders_api.clone();
        async move {
            let listed = api
                .list_orders(orders::ListOrdersRequest {
                    customer_id: "C-FEED-1".into(),
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner();
            let order = listed.orders.into_iter().next()?;
            (order.status == orders::OrderStatus::Shipped as i32).then_some(())
        }
    })
    .await;
    let shipped = ledger
        .get_position_as_of(inventory::GetPositionAsOfRequest {
            sku: SKU.into(),
            location_id: WAREHOUSE.into(),
            at: Some(timestamp(chrono::Utc::now() + chrono::Duration::hours(1))),
        })
        .await
        .expect("the position")
        .into_inner();
    assert_eq!((shipped.on_hand, shipped.reserved), (49, 0), "{shipped:?}");

    // A payment result for a refund nobody asked for goes to the dead letters.
    let stray = returns::PaymentResult {
        refund_id: "refund-nobody-asked-for".into(),
        outcome: Some(returns::payment_result::Outcome::Refunded(returns::RefundDone {
            provider_reference: "psp-1".into(),
        })),
        ..Default::default()
    };
    feeds
        .send(&topics::PAYMENTS, "refund-nobody-asked-for", &stray)
        .await
        .expect("the result is sent");
    let returns_store = EventStore::connect(
        &StoreConfig::from_url(
            &format!("sqlite://{}", dir.path().join("returns.db").display()),
            "returns",
        )
        .unwrap(),
    )
    .await
    .unwrap();
    let dead = eventually("the stray result is dead-lettered", || {
        let store = returns_store.clone();
        async move {
            let outbox = store.read_outbox(OutboxPosition::default(), 1_000).await.ok()?;
            outbox
                .into_iter()
                .find(|r| r.message.topic == topics::PAYMENTS.dead_letter())
        }
    })
    .await;
    let reason = dead.message.header("dlq_reason").unwrap_or_default();
    assert!(reason.contains("refund-nobody-asked-for"), "{reason}");
    running.stop().await;
}

/// A web order of one unit of [`SKU`], delivered to a customer in Berlin, paid by card.
fn draft(external_id: &str) -> orders::OrderDraft {
    let eur = |amount_minor| common::Money {
        amount_minor,
        currency: "EUR".into(),
    };
    orders::OrderDraft {
        channel: orders::Channel::Web as i32,
        external_order_id: external_id.into(),
        customer: Some(orders::Customer {
            customer_id: format!("C-{external_id}"),
            name: "Ada".into(),
            ..Default::default()
        }),
        lines: vec![orders::OrderLine {
            line_id: "1".into(),
            sku: SKU.into(),
            quantity: 1,
            unit_price: Some(eur(1_000)),
            description: String::new(),
        }],
        currency: "EUR".into(),
        delivery_method: orders::DeliveryMethod::Standard as i32,
        shipping_address: Some(common::Address {
            name: "Ada Lovelace".into(),
            lines: vec!["Alexanderplatz 1".into()],
            city: "Berlin".into(),
            postal_code: "10178".into(),
            country: "DE".into(),
            location: Some(common::GeoPoint {
                latitude: 52.5219,
                longitude: 13.4132,
            }),
            ..Default::default()
        }),
        payments: vec![orders::Payment {
            reference: format!("psp-{external_id}"),
            tender: orders::TenderType::Card as i32,
            authorised: Some(eur(1_000)),
        }],
        ..Default::default()
    }
}

/// Waits up to 60 s for `check` to give a value.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
