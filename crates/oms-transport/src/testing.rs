//! A real Kafka-protocol broker for tests: tansu, started on a free loopback port with
//! in-memory storage, and stopped when dropped.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};

use crate::KafkaConfig;

/// A running tansu broker.
pub struct TansuBroker {
    /// `None` while stopped.
    child: Option<Child>,
    port: u16,
}

impl TansuBroker {
    /// Starts tansu (from `TANSU_BIN`, or `tansu` on the `PATH`) and waits until it answers
    /// metadata requests.
    pub fn start() -> Self {
        let mut last_error = String::new();
        for _attempt in 0..5 {
            let port = free_port();
            let mut broker = Self {
                child: Some(spawn(port)),
                port,
            };
            match broker.wait_ready(Duration::from_secs(30)) {
                Ok(()) => return broker,
                Err(e) => last_error = e,
            }
        }
        panic!("tansu did not become ready: {last_error}");
    }

    /// Stops the broker, as a crash of the whole cluster would: clients lose their
    /// connections and nothing answers on the port until [`TansuBroker::start_empty`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a new, empty broker on the same port: no topics, no consumer groups, no
    /// producer ids, offsets from 0 again. To clients it is the same broker, which lost
    /// everything (a broker restarted without its storage, or a cluster migration).
    pub fn start_empty(&mut self) {
        self.stop();
        let mut last_error = String::new();
        // The port was just released: another process may grab it meanwhile, or the old
        // listener may still hold it for a moment.
        for _attempt in 0..20 {
            self.child = Some(spawn(self.port));
            match self.wait_ready(Duration::from_secs(30)) {
                Ok(()) => return,
                Err(e) => last_error = e,
            }
            self.stop();
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!("tansu did not start again on port {}: {last_error}", self.port);
    }

    /// [`TansuBroker::stop`], then [`TansuBroker::start_empty`].
    pub fn replace_with_empty(&mut self) {
        self.stop();
        self.start_empty();
    }

    pub fn bootstrap_servers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Client settings for this broker.
    ///
    /// Producers send one record per batch: tansu 0.6.0's in-memory storage reports the
    /// high watermark of a partition as if each batch held one record, and a consumer
    /// resuming from a committed offset inside or after a multi-record batch then fetches
    /// nothing. Apache Kafka has no such limit; this is set for tansu only.
    pub fn config(&self, client_id: &str) -> KafkaConfig {
        let mut config = KafkaConfig::new(self.bootstrap_servers(), client_id);
        config.topic_partitions = 3;
        config
            .producer_properties
            .insert("batch.num.messages".into(), "1".into());
        config
    }

    fn wait_ready(&mut self, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        let probe: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap_servers())
            .set("group.id", "readiness-probe")
            .create()
            .map_err(|e| e.to_string())?;
        loop {
            let Some(child) = self.child.as_mut() else {
                return Err("tansu is stopped".into());
            };
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("tansu exited: {status}"));
            }
            match probe.fetch_metadata(None, Duration::from_millis(500)) {
                Ok(metadata) if !metadata.brokers().is_empty() => {
                    // Another test's broker may have taken the port between the check and
                    // the start: then this one exits, and the answer came from the other.
                    std::thread::sleep(Duration::from_millis(200));
                    return match child.try_wait() {
                        Ok(None) => Ok(()),
                        Ok(Some(status)) => Err(format!("tansu exited: {status} (port {} taken?)", self.port)),
                        Err(e) => Err(e.to_string()),
                    };
                }
                Ok(_) => {}
                Err(e) if Instant::now() > deadline => return Err(e.to_string()),
                Err(_) => {}
            }
            if Instant::now() > deadline {
                return Err("no broker in the metadata".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for TansuBroker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts tansu (from `TANSU_BIN`, or `tansu` on the `PATH`) on `port`, with in-memory
/// storage.
fn spawn(port: u16) -> Child {
    let binary = std::env::var("TANSU_BIN").unwrap_or_else(|_| "tansu".to_owned());
    let url = format!("tcp://127.0.0.1:{port}");
    Command::new(&binary)
        .args(["broker", "--storage-engine", "memory://tansu/", "--listener-url", &url])
        .args(["--advertised-listener-url", &url])
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {binary}: {e}; install it: cargo install --locked tansu --version 0.6.0 --features dynostore")
        })
}

/// Produces `payload` on `topic` with `key`, one record per batch (see [`TansuBroker::config`]).
pub async fn produce(kafka: &KafkaConfig, topic: &str, key: &str, payload: &[u8]) {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &kafka.bootstrap_servers)
        .set("batch.num.messages", "1")
        .create()
        .expect("a producer");
    producer
        .send(
            FutureRecord::to(topic).key(key).payload(payload),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(e, _)| e)
        .expect("produced");
}

/// Whether the broker has `topic`, with partitions (asked once, for a few seconds at most).
pub fn topic_exists(kafka: &KafkaConfig, topic: &str) -> bool {
    let Ok(probe) = ClientConfig::new()
        .set("bootstrap.servers", &kafka.bootstrap_servers)
        .create::<BaseConsumer>()
    else {
        return false;
    };
    probe
        .fetch_metadata(Some(topic), Duration::from_secs(2))
        .is_ok_and(|metadata| {
            metadata
                .topics()
                .iter()
                .any(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty())
        })
}

/// Reads `topic` from the start, in consumer group `group`, until `enough` says so or a
/// minute has passed.
pub async fn read_topic(
    kafka: &KafkaConfig,
    topic: &str,
    group: &str,
    mut enough: impl FnMut(&[crate::Message]) -> bool,
) -> Vec<crate::Message> {
    let mut source = crate::Source::Kafka(crate::KafkaSource::subscribe(kafka, group, &[topic]).expect("subscribed"));
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while !enough(&seen) && Instant::now() < deadline {
        seen.extend(
            source
                .next_batch(500, Duration::from_millis(200))
                .await
                .expect("messages"),
        );
    }
    source.close().await;
    seen
}

/// Waits until `condition` holds, looking every 25 ms, for a minute at most.
pub async fn wait_until<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_or(19092, |a| a.port())
}
