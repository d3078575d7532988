//! End-to-end figures: the simulated day against the whole OMS, once on the embedded
//! default (SQLite, in-process transport) and once on PostgreSQL and a Kafka-protocol
//! broker (tansu), the services in one process each way. Prints the day's figures, then
//! `RESULT e2e_<mode>_orders_per_s` (orders placed per second over gRPC, 16 at a time) and
//! `RESULT e2e_<mode>_p99_ms` (order placed to fulfilment requested, p99).

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use oms_cli::embedded::{Embedded, EmbeddedConfig, Settings, Stores, Transport, system_clock};
use oms_cli::simulate::{Kpis, SimulationConfig, simulate};
use oms_eventsourcing::testing::{TestBackend, TestStore};
use oms_transport::testing::TansuBroker;

const ORDERS: usize = 300;

async fn day(stores: Stores, transport: Transport) -> Kpis {
    let config = EmbeddedConfig {
        stores,
        transport,
        host: IpAddr::V4(Ipv4Addr::LOCALHOST),
        base_port: 0,
        sandbox: true,
        settings: Settings::default(),
        key: Some(oms_service::auth::LocalKey::generate().expect("a key")),
    };
    let running = Embedded::start(config, system_clock()).await.expect("the OMS starts");
    let kpis = simulate(
        &running.addrs,
        &SimulationConfig {
            orders: ORDERS,
            concurrency: 16,
            timeout: Duration::from_secs(240),
            progress: false,
            ..SimulationConfig::default()
        },
    )
    .await
    .expect("the day runs");
    running.stop().await;
    kpis
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    println!("== embedded default: SQLite, in-process transport, {ORDERS} orders");
    let embedded = day(Stores::Sqlite(dir.path().to_path_buf()), Transport::InProcess).await;
    println!("{embedded}");

    println!("\n== PostgreSQL and Kafka (tansu), {ORDERS} orders");
    let broker = tokio::task::spawn_blocking(TansuBroker::start).await.unwrap();
    let mut stores = Vec::new();
    let mut keep = Vec::new();
    for name in ["orders", "inventory", "routing", "fulfilment", "returns", "outside"] {
        let store = TestStore::new(TestBackend::Postgres).await;
        stores.push((name.to_owned(), store.config.clone()));
        keep.push(store);
    }
    let kafka = day(Stores::Each(stores), Transport::Kafka(broker.config("oms-bench"))).await;
    println!("{kafka}");
    println!("\ncompared with: the same day on the two ways to run");
    println!("RESULT e2e_embedded_orders_per_s {:.0}", embedded.placed_per_s);
    println!("RESULT e2e_embedded_p99_ms {:.1}", embedded.routed_p99_ms);
    println!("RESULT e2e_kafka_postgres_orders_per_s {:.0}", kafka.placed_per_s);
    println!("RESULT e2e_kafka_postgres_p99_ms {:.1}", kafka.routed_p99_ms);
}
