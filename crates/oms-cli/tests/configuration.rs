//! One configuration for both ways to run: the settings a retailer gives in `oms.toml` or
//! the environment are the ones `oms run` works by, and `oms config show` says which are in
//! force and where they come from.

use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use oms_cli::embedded::{Embedded, EmbeddedConfig, Settings, Stores, Transport};
use oms_eventsourcing::{Clock, ManualClock};
use oms_proto::fulfilment::v1 as fulfilment;
use oms_proto::fulfilment::v1::store_fulfilment_client::StoreFulfilmentClient;
use oms_proto::inventory::v1 as inventory;
use oms_proto::inventory::v1::inventory_ledger_client::InventoryLedgerClient;
use oms_proto::orders::v1 as orders;
use oms_proto::orders::v1::order_capture_client::OrderCaptureClient;
use oms_proto::pos::v1 as pos;
use oms_proto::routing::v1::routing_client::RoutingClient;

fn show(config: &std::path::Path, env: &[(&str, &str)]) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_oms"));
    command.args(["config", "show", "--config"]).arg(config);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("oms runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn line_of<'a>(shown: &'a str, key: &str) -> &'a str {
    shown
        .lines()
        .find(|l| l.split_whitespace().next() == Some(key))
        .unwrap_or_else(|| panic!("no line for {key} in:\n{shown}"))
}

#[test]
fn config_show_tells_each_value_and_where_it_comes_from_and_never_a_password() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("oms.toml");
    std::fs::write(
        &file,
        "[store-fulfilment]\naccept_within_minutes = 2\n[returns]\nreturn_window_days = 14\n",
    )
    .unwrap();
    let shown = show(
        &file,
        &[
            ("OMS_RETURN_WINDOW_DAYS", "21"),
            ("OMS_STORE_URL", "postgres://oms:hunter2@db/oms"),
        ],
    );
    assert!(line_of(&shown, "accept_within_minutes").contains(" 2 "), "{shown}");
    assert!(line_of(&shown, "accept_within_minutes").contains("file"), "{shown}");
    // The environment wins over the file.
    assert!(line_of(&shown, "return_window_days").contains(" 21 "), "{shown}");
    assert!(line_of(&shown, "return_window_days").contains("environment"), "{shown}");
    assert!(line_of(&shown, "collect_within_days").contains("default"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(line_of(&shown, "store_url").contains("oms:********@db"), "{shown}");
}

#[test]
fn a_misspelt_setting_in_the_file_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("oms.toml");
    std::fs::write(&file, "accept_within_mins = 2\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_oms"))
        .args(["config", "show", "--config"])
        .arg(&file)
        .output()
        .expect("oms runs");
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(error.contains("`accept_within_mins`"), "{error}");
    assert!(error.contains("accept_within_minutes"), "{error}");
}

/// With stores given one minute to accept, a job nobody accepts is taken from the store
/// a minute later in the embedded mode too.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_embedded_mode_works_by_the_settings_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::default();
    settings.fulfilment.accept_within_minutes = 1;
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap());
    let running = Embedded::start(
        EmbeddedConfig {
            stores: Stores::Sqlite(dir.path().to_path_buf()),
            transport: Transport::InProcess,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            base_port: 0,
            sandbox: true,
            settings,
            key: None,
        },
        Arc::new(clock.clone()),
    )
    .await
    .expect("the OMS starts");
    oms_cli::seed::seed(&running.addrs).await.expect("the sample loads");
    let channel = |addr| oms_service::grpc::channel_when_up(addr, Duration::from_secs(30));
    let mut orders = OrderCaptureClient::new(channel(running.addrs.orders).await.unwrap());
    let mut staff = StoreFulfilmentClient::new(channel(running.addrs.fulfilment).await.unwrap());
    let store = oms_cli::seed::STORES[0];
    let mut ledger = InventoryLedgerClient::new(channel(running.addrs.ledger).await.unwrap());
    ledger
        .record_movements(inventory::RecordMovementsRequest {
            movements: vec![pos::StockMovement {
                movement_id: "cfg-receipt".into(),
                location_id: store.into(),
                sku: "CFG-SKU".into(),
                kind: pos::MovementKind::Receipt as i32,
                quantity: 5,
                occurred_at: Some(oms_service::convert::timestamp(clock.now())),
                ..Default::default()
            }],
        })
        .await
        .expect("the store receives stock");
    // Routing learns the stock from the ledger's events: wait until it offers the pickup.
    let mut routing = RoutingClient::new(channel(running.addrs.routing).await.unwrap());
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let quote = routing
            .quote_delivery_options(oms_proto::routing::v1::QuoteRequest {
                lines: vec![oms_proto::routing::v1::QuoteLine {
                    sku: "CFG-SKU".into(),
                    quantity: 1,
                }],
                destination: Some(oms_proto::common::v1::Address {
                    country: "DE".into(),
                    location: Some(oms_proto::common::v1::GeoPoint {
                        latitude: 52.5219,
                        longitude: 13.4132,
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        if quote.options.iter().any(|o| o.pickup_location_id == store) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "routing never saw the stock");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let order = orders
        .place_order(orders::PlaceOrderRequest {
            order: Some(orders::OrderDraft {
                channel: orders::Channel::Web as i32,
                external_order_id: "CFG-1".into(),
                customer: Some(orders::Customer {
                    customer_id: "C-1".into(),
                    name: "Ada".into(),
                    ..Default::default()
                }),
                lines: vec![orders::OrderLine {
                    line_id: "1".into(),
                    sku: "CFG-SKU".into(),
                    quantity: 1,
                    unit_price: Some(oms_proto::common::v1::Money {
                        amount_minor: 1_000,
                        currency: "EUR".into(),
                    }),
                    description: String::new(),
                }],
                currency: "EUR".into(),
                delivery_method: orders::DeliveryMethod::ClickAndCollect as i32,
                pickup_location_id: store.into(),
                payments: vec![orders::Payment {
                    reference: "psp-cfg".into(),
                    tender: orders::TenderType::Card as i32,
                    authorised: Some(oms_proto::common::v1::Money {
                        amount_minor: 1_000,
                        currency: "EUR".into(),
                    }),
                }],
                ..Default::default()
            }),
        })
        .await
        .expect("the order is placed")
        .into_inner();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let job = loop {
        let queue = staff
            .list_queue(fulfilment::ListQueueRequest {
                store_id: store.into(),
                include_finished: false,
            })
            .await
            .unwrap()
            .into_inner();
        if let Some(job) = queue.jobs.into_iter().find(|j| j.order_id == order.order_id) {
            break job;
        }
        assert!(std::time::Instant::now() < deadline, "the store never got the job");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let accept_by = job.accept_by.expect("a store job has a deadline");
    let created = job.created_at.expect("a creation time");
    assert_eq!(
        accept_by.seconds - created.seconds,
        60,
        "one minute to accept, as configured"
    );

    clock.advance(chrono::Duration::seconds(61));
    loop {
        let now = staff
            .get_job(fulfilment::JobRef {
                store_id: store.into(),
                job_id: job.job_id.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        if now.status == fulfilment::JobStatus::Rejected as i32 {
            assert_eq!(now.reason, "AcceptanceTimeout");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the deadline never passed: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    running.stop().await;
}
