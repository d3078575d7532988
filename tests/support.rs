//! The five services as separate processes: each started with its own PostgreSQL schema,
//! all on one tansu broker, each API on a free loopback port. A process can be killed
//! (SIGKILL, no goodbye) and started again on the same store. The systems outside the OMS
//! (POS, WMS, payment gateway) are played by the test through the broker; everything else
//! goes through the services' gRPC APIs ([`Clients`]).
// The rig of the end-to-end tests: a step that fails is the test failing.
#![allow(clippy::unwrap_used)]

mod clients;

pub use clients::{CUSTOMER_AT, Clients, draft, eventually, pickup_draft};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use oms_cli::embedded::Addrs;
use oms_eventsourcing::StoreConfig;
use oms_eventsourcing::testing::{TestBackend, TestStore};
use oms_proto::fulfilment::v1 as fulfilment;
use oms_proto::pos::v1 as pos;
use oms_proto::topics;
use oms_service::auth::keys::{ActsFor, JWKS_FILE};
use oms_service::auth::{Identity, LocalKey, Role};
use oms_transport::KafkaConfig;
use oms_transport::testing::{TansuBroker, free_port, read_topic};
use prost::Message as _;
use tonic::transport::{Certificate, ClientTlsConfig};

/// The database password the services are given (and must never log).
const DB_PASSWORD: &str = "e2e-db-secret-3f9a";

pub const SERVICES: [&str; 5] = [
    "oms-inventory-ledger",
    "oms-order-capture",
    "oms-routing",
    "oms-store-fulfilment",
    "oms-returns",
];

/// How the processes are started: each service's own binary (as the compose file and the
/// Kubernetes manifests do), or `oms serve <service>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Launch {
    Binaries,
    OmsServe,
}

/// The binaries, built next to this test's executable.
fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows where it runs");
    let dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --bins` (make test builds it)",
        path.display()
    );
    path
}

/// Builds the service binaries and `oms` as the workspace's test build does, so that they
/// are the binaries `cargo nextest run --workspace` (`make test`) has just built and this
/// is a no-op there. (`cargo build -p <service>` would unify features without the
/// dev-dependencies and compile them all again.)
pub fn build_binaries() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args(["test", "--workspace", "--no-run", "--quiet"])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the binaries do not build");
}

struct Process {
    name: &'static str,
    store: TestStore,
    addr: SocketAddr,
    child: Option<Child>,
}

pub struct System {
    broker: TansuBroker,
    /// The deployment's signing key (its public half is every service's JWKS), and the
    /// routing and returns identities it signed, in files as a deployment mounts them.
    key: LocalKey,
    secrets: tempfile::TempDir,
    /// What the services printed, every process and restart, for the check that no
    /// secret is ever in it.
    logs: std::sync::Arc<std::sync::Mutex<String>>,
    /// The tokens handed out in this test.
    tokens: std::sync::Mutex<Vec<String>>,
    launch: Launch,
    /// The test broker's client settings; each process gets them as `OMS_KAFKA_*`.
    kafka: KafkaConfig,
    processes: Vec<Process>,
}

impl System {
    /// Starts the five services on a new broker, each on a new schema.
    pub async fn start_with(launch: Launch) -> Self {
        build_binaries();
        let broker = tokio::task::spawn_blocking(TansuBroker::start).await.unwrap();
        let kafka = broker.config("e2e");
        let mut processes = Vec::new();
        for name in SERVICES {
            processes.push(Process {
                name,
                store: TestStore::new(TestBackend::Postgres).await,
                addr: SocketAddr::from(([127, 0, 0, 1], free_port())),
                child: None,
            });
        }
        let key = LocalKey::generate().unwrap();
        let secrets = tempfile::tempdir().unwrap();
        key.save(secrets.path()).unwrap();
        write_certificates(secrets.path());
        for service in ["routing", "returns"] {
            let token = key
                .issue(
                    service,
                    Role::Service,
                    ActsFor::default(),
                    Duration::from_secs(24 * 3600),
                )
                .unwrap();
            std::fs::write(secrets.path().join(format!("{service}.token")), token).unwrap();
        }
        let mut system = Self {
            broker,
            key,
            secrets,
            logs: std::sync::Arc::default(),
            tokens: std::sync::Mutex::default(),
            launch,
            kafka,
            processes,
        };
        for name in SERVICES {
            system.launch(name);
        }
        system
    }

    pub fn addr(&self, name: &str) -> SocketAddr {
        self.processes.iter().find(|p| p.name == name).expect("a service").addr
    }

    pub fn addrs(&self) -> Addrs {
        Addrs {
            orders: self.addr("oms-order-capture"),
            ledger: self.addr("oms-inventory-ledger"),
            routing: self.addr("oms-routing"),
            fulfilment: self.addr("oms-store-fulfilment"),
            returns: self.addr("oms-returns"),
            identity: Identity::minted(&self.key, "e2e-operator", Role::Operator),
            key: Some(self.key.clone()),
            tls: Some(ClientTlsConfig::new().ca_certificate(Certificate::from_pem(
                std::fs::read(self.secrets.path().join("ca.pem")).unwrap(),
            ))),
        }
    }

    /// Panics if a secret of this test is in what the services logged: the signing key,
    /// the database password, a token of the test's or the services' own.
    pub fn assert_no_secret_in_logs(&self) {
        let mut secrets = self.tokens.lock().unwrap().clone();
        secrets.push(DB_PASSWORD.to_owned());
        let key_file = std::fs::read_to_string(self.secrets.path().join("signing-key.json")).unwrap();
        let seed = key_file
            .split("\"ed25519_seed\": \"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the key file holds a seed")
            .to_owned();
        secrets.push(seed);
        for service in ["routing", "returns"] {
            secrets.push(std::fs::read_to_string(self.secrets.path().join(format!("{service}.token"))).unwrap());
        }
        if let Ok(Some(bearer)) = self.addrs().identity.bearer() {
            secrets.push(bearer.trim_start_matches("Bearer ").to_owned());
        }
        let logs = self.logs.lock().unwrap();
        assert!(logs.lines().count() > 20, "the services logged next to nothing: {logs}");
        for secret in &secrets {
            assert!(!secret.is_empty());
            assert!(!logs.contains(secret.as_str()), "a secret is in the services' logs");
        }
    }

    /// Clients that call as `role`, acting for `stores` (a store's staff, a POS).
    pub async fn clients_as(&self, role: Role, stores: &[&str]) -> Clients {
        let acts_for = ActsFor {
            stores: stores.iter().map(|s| (*s).to_owned()).collect(),
            ..ActsFor::default()
        };
        let token = self
            .key
            .issue("e2e", role, acts_for, Duration::from_secs(3600))
            .unwrap();
        self.tokens.lock().unwrap().push(token.clone());
        let mut addrs = self.addrs();
        addrs.identity = Identity::Token(token);
        Clients::connect(&addrs).await
    }

    /// Starts (or starts again) a service's process on its store.
    pub fn launch(&mut self, name: &str) {
        let ledger = self.addr("oms-inventory-ledger");
        let orders = self.addr("oms-order-capture");
        let mut kafka = self.kafka.clone();
        kafka.client_id = name.to_owned();
        // A killed member never says goodbye: the group waits this long before its
        // partitions go to the restarted process.
        kafka
            .consumer_properties
            .insert("session.timeout.ms".into(), "6000".into());
        let process = self.processes.iter_mut().find(|p| p.name == name).expect("a service");
        let StoreConfig::Postgres { url, schema, .. } = &process.store.config else {
            panic!("the end-to-end stores are on PostgreSQL")
        };
        let sep = if url.contains('?') { '&' } else { '?' };
        // A password the database does not need (trust authentication), to be looked for
        // in the logs.
        let url = url.replacen(
            "postgres://postgres@",
            &format!("postgres://postgres:{DB_PASSWORD}@"),
            1,
        );
        let mut command = match self.launch {
            Launch::Binaries => Command::new(binary(name)),
            Launch::OmsServe => {
                let mut command = Command::new(binary("oms"));
                command.args(["serve", name.trim_start_matches("oms-")]);
                command
            }
        };
        command
            .env("OMS_STORE_URL", format!("{url}{sep}schema={schema}"))
            .env("OMS_GRPC_ADDR", process.addr.to_string())
            // The test broker's settings (see TansuBroker::config).
            .envs(kafka.to_vars())
            .env("OMS_LEDGER_URL", format!("https://{ledger}"))
            .env("OMS_ORDERS_URL", format!("https://{orders}"))
            // TLS on every port and every call between services, each service showing its
            // certificate to the others (mutual TLS).
            .env("OMS_TLS_CERT_FILE", self.secrets.path().join("service.pem"))
            .env("OMS_TLS_KEY_FILE", self.secrets.path().join("service.key"))
            .env("OMS_TLS_CLIENT_CA_FILE", self.secrets.path().join("ca.pem"))
            .env("OMS_TLS_CA_FILE", self.secrets.path().join("ca.pem"))
            // Access control on, as in a deployment: the public keys, and the service's own
            // identity for the calls it makes.
            .env("OMS_AUTH_JWKS_FILE", self.secrets.path().join(JWKS_FILE))
            .env(
                "OMS_SERVICE_TOKEN_FILE",
                self.secrets
                    .path()
                    .join(format!("{}.token", name.trim_start_matches("oms-"))),
            )
            // OMS_E2E_LOG (a RUST_LOG filter) shows more of the services' logs.
            .env(
                "RUST_LOG",
                std::env::var("OMS_E2E_LOG").unwrap_or_else(|_| "info".into()),
            )
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        // The logs go on to the test's output, and into `logs`.
        if let Some(stderr) = child.stderr.take() {
            let logs = std::sync::Arc::clone(&self.logs);
            std::thread::spawn(move || {
                use std::io::BufRead as _;
                for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                    eprintln!("{line}");
                    let mut logs = logs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    logs.push_str(&line);
                    logs.push('\n');
                }
            });
        }
        process.child = Some(child);
    }

    /// Stops the broker and starts an empty one on the same port, under the running
    /// services: no topics, no consumer groups, no producer ids, offsets from 0 again.
    pub fn replace_broker(&mut self) {
        self.stop_broker();
        self.start_empty_broker();
    }

    /// Stops the broker: nothing answers on its port until [`System::start_empty_broker`].
    pub fn stop_broker(&mut self) {
        self.broker.stop();
    }

    /// Starts an empty broker on the stopped one's port (waiting for it blocks: the tests
    /// run on a multi-threaded runtime).
    pub fn start_empty_broker(&mut self) {
        tokio::task::block_in_place(|| self.broker.start_empty());
    }

    /// Waits until the broker has `topics` (created again by the services that use them).
    pub async fn wait_for_topics(&self, topics: &[&str]) {
        for topic in topics {
            eventually(&format!("topic {topic} is there"), || async move {
                let kafka = self.kafka.clone();
                let topic = topic.to_string();
                tokio::task::spawn_blocking(move || oms_transport::testing::topic_exists(&kafka, &topic))
                    .await
                    .ok()
                    .filter(|there| *there)
            })
            .await;
        }
    }

    /// Publishes a message as a system outside the OMS would (a payment gateway, a WMS).
    pub async fn produce(&self, topic: &str, key: &str, payload: &[u8]) {
        oms_transport::testing::produce(&self.kafka, topic, key, payload).await;
    }

    /// A stock movement as a store's POS streams it.
    pub async fn pos(&self, movement: &pos::StockMovement) {
        self.produce(
            topics::POS_MOVEMENTS.name,
            &movement.location_id,
            &movement.encode_to_vec(),
        )
        .await;
    }

    /// A warehouse's answer to a job, as its WMS adapter sends it.
    pub async fn confirm(&self, confirmation: &fulfilment::NodeConfirmation) {
        self.produce(
            topics::CONFIRMATIONS.name,
            &confirmation.job_id,
            &confirmation.encode_to_vec(),
        )
        .await;
    }

    /// Reads `topic` from its start, as a new consumer group, until `find` picks a message.
    async fn first_on<T>(
        &self,
        topic: &str,
        what: &str,
        mut find: impl FnMut(&oms_transport::Message) -> Option<T>,
    ) -> T {
        let group = format!("e2e-reader-{}", uuid::Uuid::new_v4());
        let mut found = None;
        read_topic(&self.kafka, topic, &group, |messages| {
            found = messages.iter().find_map(&mut find);
            found.is_some()
        })
        .await;
        found.unwrap_or_else(|| panic!("{what} never came on {topic}"))
    }

    /// The messages of `topic` with key `key` (read from the topic's start as a new consumer
    /// group), once `enough` says they are all there.
    pub async fn messages_with_key(
        &self,
        topic: &str,
        key: &str,
        mut enough: impl FnMut(&[&oms_transport::Message]) -> bool,
    ) -> Vec<oms_transport::Message> {
        let group = format!("e2e-reader-{}", uuid::Uuid::new_v4());
        let keyed = |m: &&oms_transport::Message| m.key.as_deref() == Some(key);
        let messages = read_topic(&self.kafka, topic, &group, |messages| {
            enough(&messages.iter().filter(keyed).collect::<Vec<_>>())
        })
        .await;
        messages.iter().filter(keyed).cloned().collect()
    }

    /// Reads the fulfilment events (as a WMS adapter would) until `find` picks one.
    pub async fn fulfilment_event<T>(
        &self,
        mut find: impl FnMut(fulfilment::fulfilment_event::Event) -> Option<T>,
    ) -> T {
        self.first_on(topics::FULFILMENT.name, "the awaited fulfilment event", |m| {
            find(fulfilment::FulfilmentEvent::decode(m.payload.as_slice()).ok()?.event?)
        })
        .await
    }

    /// Reads the dead-letter topic of `topic` until a message `find` picks; gives it with
    /// the reason it was set aside.
    pub async fn dead_letter<T>(&self, topic: &str, mut find: impl FnMut(&[u8]) -> Option<T>) -> (T, String) {
        self.first_on(&format!("{topic}.dlq"), "the awaited dead letter", |m| {
            let reason = m.header(oms_transport::headers::DLQ_REASON)?.to_owned();
            Some((find(&m.payload)?, reason))
        })
        .await
    }

    /// Stops a service's process as an orchestrator does, with SIGTERM, and waits for it
    /// to exit (30 s at most); the exit status tells whether it stopped cleanly.
    pub async fn terminate(&mut self, name: &str) -> ExitStatus {
        let process = self.processes.iter_mut().find(|p| p.name == name).expect("a service");
        let mut child = process.child.take().expect("the service runs");
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM could not be sent to {name}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().expect("the child can be waited on") {
                return status;
            }
            assert!(Instant::now() < deadline, "{name} did not stop within 30 s of SIGTERM");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Asks each running service for its live state (between two of its batches) and
    /// replays its log up to the same position: the two must have one digest.
    pub async fn verify_live(&self) {
        let store_of = |name: &str| -> anyhow::Result<StoreConfig> {
            let service = match name {
                "orders" => "oms-order-capture",
                "inventory" => "oms-inventory-ledger",
                "routing" => "oms-routing",
                "fulfilment" => "oms-store-fulfilment",
                "returns" => "oms-returns",
                other => anyhow::bail!("no service keeps the {other} store"),
            };
            let process = self.processes.iter().find(|p| p.name == service).expect("a service");
            Ok(process.store.config.clone())
        };
        let verdicts = oms_cli::verify::verify_all(store_of, Some(&self.addrs()), false)
            .await
            .expect("every service gives its live state");
        assert_eq!(verdicts.len(), 5);
        for verdict in verdicts {
            assert!(verdict.matches, "{verdict:?}");
        }
    }

    /// Kills a service's process as a crash would: no shutdown, nothing flushed.
    pub fn kill(&mut self, name: &str) {
        let process = self.processes.iter_mut().find(|p| p.name == name).expect("a service");
        if let Some(mut child) = process.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for System {
    fn drop(&mut self) {
        for process in &mut self.processes {
            if let Some(mut child) = process.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// A CA (`ca.pem`) and a certificate it signed for the services on 127.0.0.1
/// (`service.pem`, `service.key`), as a deployment's certificate authority issues them.
fn write_certificates(dir: &std::path::Path) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "OMS test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut service = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    service.distinguished_name.push(DnType::CommonName, "oms services");
    let cert = service.signed_by(&key, &ca_cert, &ca_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    std::fs::write(dir.join("service.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("service.key"), key.serialize_pem()).unwrap();
}
