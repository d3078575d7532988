//! The whole OMS in one process on the embedded default, a simulated day against it
//! through the public APIs, and then every service's log replayed and verified.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use oms_cli::embedded::{Embedded, EmbeddedConfig, Settings, Stores, Transport, system_clock};
use oms_cli::simulate::{SimulationConfig, simulate};
use oms_cli::verify::verify_all;
use oms_eventsourcing::StoreConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_simulated_day_on_the_embedded_default_settles_and_every_log_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let config = EmbeddedConfig {
        stores: Stores::Sqlite(dir.path().to_path_buf()),
        transport: Transport::InProcess,
        host: IpAddr::V4(Ipv4Addr::LOCALHOST),
        base_port: 0,
        sandbox: true,
        settings: Settings::default(),
        key: Some(oms_service::auth::LocalKey::generate().unwrap()),
    };
    let running = Embedded::start(config.clone(), system_clock())
        .await
        .expect("the OMS starts");
    // Each port lists its own service alone, in reflection v1 and v1alpha alike.
    let addrs = &running.addrs;
    for (addr, own) in [
        (addrs.orders, "oms.orders.v1.OrderCapture"),
        (addrs.ledger, "oms.inventory.v1.InventoryLedger"),
        (addrs.routing, "oms.routing.v1.Routing"),
        (addrs.fulfilment, "oms.fulfilment.v1.StoreFulfilment"),
        (addrs.returns, "oms.returns.v1.Returns"),
    ] {
        let (v1, v1alpha) = listed_services(addr).await;
        let oms: Vec<&str> = v1
            .iter()
            .map(String::as_str)
            .filter(|s| s.starts_with("oms."))
            .collect();
        assert_eq!(oms, ["oms.admin.v1.Admin", own], "{addr}: {v1:?}");
        assert_eq!(v1, v1alpha, "{addr}");
    }
    let day = SimulationConfig {
        orders: 60,
        concurrency: 8,
        return_share: 0.3,
        timeout: Duration::from_secs(120),
        progress: false,
        ..SimulationConfig::default()
    };
    let kpis = simulate(&running.addrs, &day).await.expect("the day runs");
    println!("{kpis}");
    assert_eq!(kpis.orders, 60);
    // Most orders end shipped or collected; the rest wait for stock or a person, or
    // are still moving when the day ends.
    assert!(kpis.fulfilled >= 30, "{kpis}");
    assert_eq!(
        kpis.fulfilled + kpis.backordered + kpis.review + kpis.open.values().sum::<usize>(),
        60,
        "every order is accounted for: {kpis}"
    );
    assert!(
        kpis.jobs_at_stores > 0 && kpis.jobs > kpis.jobs_at_stores,
        "stores and the warehouse both fulfil: {kpis}"
    );
    assert!(kpis.jobs_collected > 0, "{kpis}");
    assert!(kpis.returns > 0 && kpis.refunded_minor > 0, "{kpis}");

    // Running, each service's live state is what its log rebuilds to...
    let store_in = |dir: &std::path::Path| {
        let dir = dir.to_path_buf();
        move |name: &str| {
            Ok(StoreConfig::from_url(
                &format!("sqlite://{}", dir.join(format!("{name}.db")).display()),
                name,
            )?)
        }
    };
    let verdicts = verify_all(store_in(dir.path()), Some(&running.addrs), false)
        .await
        .expect("every live state is compared");
    assert_eq!(verdicts.len(), 5);
    for v in &verdicts {
        assert!(v.matches, "{v:?}");
        assert!(v.events > 0, "{v:?}");
    }
    // ...and not what another log rebuilds to.
    let empty = tempfile::tempdir().unwrap();
    let verdicts = verify_all(store_in(empty.path()), Some(&running.addrs), false)
        .await
        .expect("compared with empty logs");
    assert!(verdicts.iter().all(|v| !v.matches), "{verdicts:?}");
    running.stop().await;

    // Stopped, each service replays its log to the state it had.
    let verdicts = verify_all(store_in(dir.path()), None, false)
        .await
        .expect("every log replays");
    assert_eq!(verdicts.len(), 5);
    for v in &verdicts {
        assert!(v.matches, "{v:?}");
        assert!(v.events > 0, "{v:?}");
    }

    // And it starts again on the same files, with what it had.
    let again = Embedded::start(config, system_clock())
        .await
        .expect("the OMS starts again");
    again.stop().await;
}

/// The services reflection lists at `addr`, sorted: as v1 lists them, and as v1alpha does.
async fn listed_services(addr: std::net::SocketAddr) -> (Vec<String>, Vec<String>) {
    use tokio_stream::StreamExt;
    use tonic_reflection::pb::{v1, v1alpha};
    let channel = oms_service::grpc::channel_when_up(addr, Duration::from_secs(30))
        .await
        .expect("the port answers");
    let ask = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let answer = v1::server_reflection_client::ServerReflectionClient::new(channel.clone())
        .server_reflection_info(tokio_stream::once(ask))
        .await
        .expect("reflection v1 answers")
        .into_inner()
        .next()
        .await;
    let mut listed_v1: Vec<String> = match answer.and_then(|a| a.ok()?.message_response) {
        Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("{addr}: not a list of services: {other:?}"),
    };
    let ask = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1alpha::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let answer = v1alpha::server_reflection_client::ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::once(ask))
        .await
        .expect("reflection v1alpha answers")
        .into_inner()
        .next()
        .await;
    let mut listed_v1alpha: Vec<String> = match answer.and_then(|a| a.ok()?.message_response) {
        Some(v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("{addr}: not a list of services: {other:?}"),
    };
    listed_v1.sort();
    listed_v1alpha.sort();
    (listed_v1, listed_v1alpha)
}
