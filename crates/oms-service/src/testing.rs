//! What the services' tests share to run services for real: a [`Testbed`] of a tansu broker
//! and a PostgreSQL schema per service store, a free loopback port for each API, and a
//! gRPC channel once the API answers. Each service crate's own `testing` module starts the
//! service on it with settings fit for tests; a test that needs several services starts
//! each one there.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use oms_eventsourcing::StoreConfig;
use oms_eventsourcing::testing::{TestBackend, TestStore};
use oms_transport::testing::TansuBroker;
use oms_transport::{KafkaConfig, Message};
use tokio::net::TcpListener;
use tonic::transport::Channel;

use crate::Wiring;

/// A broker and the stores of the services a test runs, all dropped with it.
pub struct Testbed {
    broker: TansuBroker,
    kafka: KafkaConfig,
    stores: Vec<TestStore>,
    groups: u32,
}

impl Testbed {
    /// A tansu broker of the test's own; `client_id` names the test's clients to it.
    pub async fn kafka(client_id: &str) -> Self {
        let broker = tokio::task::spawn_blocking(TansuBroker::start)
            .await
            .expect("tansu starts");
        let kafka = broker.config(client_id);
        Self {
            broker,
            kafka,
            stores: Vec::new(),
            groups: 0,
        }
    }

    /// Services started with this wiring consume and publish on the testbed's broker.
    pub fn wiring(&self) -> Wiring {
        Wiring::Kafka(self.kafka.clone())
    }

    pub fn kafka_config(&self) -> &KafkaConfig {
        &self.kafka
    }

    pub fn broker_mut(&mut self) -> &mut TansuBroker {
        &mut self.broker
    }

    /// A store of its own on PostgreSQL (a fresh schema), kept as long as the testbed.
    pub async fn store(&mut self) -> StoreConfig {
        let store = TestStore::new(TestBackend::Postgres).await;
        let config = store.config.clone();
        self.stores.push(store);
        config
    }

    /// Produces `payload` on `topic` with `key`, as a system outside the OMS would.
    pub async fn produce(&self, topic: &str, key: &str, payload: &[u8]) {
        oms_transport::testing::produce(&self.kafka, topic, key, payload).await;
    }

    /// Reads `topic` from its start, in a consumer group of its own, until `enough` says
    /// so (or a minute passes).
    pub async fn read_topic(&mut self, topic: &str, enough: impl FnMut(&[Message]) -> bool) -> Vec<Message> {
        self.groups += 1;
        let group = format!("test-reader-{}", self.groups);
        oms_transport::testing::read_topic(&self.kafka, topic, &group, enough).await
    }
}

/// A service running as a process of its own (its binary), as a deployment runs it: on
/// a store, on a broker, on a loopback port. Killed without a goodbye (SIGKILL) when the
/// test says so, and when dropped.
pub struct Process {
    child: Child,
    pub url: String,
}

impl Process {
    /// Starts `binary` (`env!("CARGO_BIN_EXE_oms-inventory-ledger")`) on `store` (a
    /// PostgreSQL schema), the broker at `bootstrap_servers` and `port`.
    pub fn spawn(binary: &str, store: &StoreConfig, bootstrap_servers: &str, port: u16) -> Self {
        let StoreConfig::Postgres { url, schema, .. } = store else {
            panic!("a service process runs on a PostgreSQL store")
        };
        let child = Command::new(binary)
            .env("OMS_STORE_URL", format!("{url}?schema={schema}"))
            .env("OMS_GRPC_ADDR", format!("127.0.0.1:{port}"))
            .env("OMS_KAFKA_BOOTSTRAP_SERVERS", bootstrap_servers)
            // tansu's in-memory storage needs one record per batch (see TansuBroker::config).
            .env("OMS_KAFKA_PRODUCER_BATCH_NUM_MESSAGES", "1")
            .env("OMS_KAFKA_TOPIC_PARTITIONS", "3")
            // A process started after a SIGKILL gets its partitions once the group gives up
            // on the killed member: after its session, 45 s by default.
            .env("OMS_KAFKA_CONSUMER_SESSION_TIMEOUT_MS", "6000")
            // A test of what the service does after a kill: the access suite and the
            // end-to-end journeys run services with access control.
            .env("OMS_INSECURE_NO_AUTH", "true")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{binary} starts: {e}"));
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// SIGKILL: no goodbye, no drain, no snapshot.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A free port on the loopback interface, bound.
pub async fn listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.expect("a free loopback port")
}

/// A channel to the API at `addr`, once it answers (30 s at most).
pub async fn channel(addr: SocketAddr) -> Channel {
    crate::grpc::channel_when_up(addr, Duration::from_secs(30))
        .await
        .unwrap_or_else(|e| panic!("nothing answers at {addr}: {e}"))
}
