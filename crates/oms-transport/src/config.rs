//! Kafka settings, from the environment.
//!
//! `OMS_KAFKA_BOOTSTRAP_SERVERS` (required) and `OMS_KAFKA_CLIENT_ID` name the cluster and
//! this client; `OMS_KAFKA_TOPIC_PARTITIONS` and `OMS_KAFKA_TOPIC_REPLICATION` shape the
//! topics created at start. Any other `OMS_KAFKA_*` variable is passed to librdkafka as
//! the property of the same name, lower-cased with `_` as `.`: for example
//! `OMS_KAFKA_SECURITY_PROTOCOL=SASL_SSL`, `OMS_KAFKA_SASL_MECHANISMS=SCRAM-SHA-512`,
//! `OMS_KAFKA_SASL_USERNAME`, `OMS_KAFKA_SASL_PASSWORD`, `OMS_KAFKA_SSL_CA_LOCATION`.
//! A property for producers only or consumers only goes under `OMS_KAFKA_PRODUCER_` or
//! `OMS_KAFKA_CONSUMER_` (`OMS_KAFKA_PRODUCER_LINGER_MS=20`,
//! `OMS_KAFKA_CONSUMER_SESSION_TIMEOUT_MS=6000`), so the other clients are not given a
//! property librdkafka would warn about and ignore.

use std::collections::BTreeMap;

use rdkafka::ClientConfig;

use crate::TransportError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaConfig {
    pub bootstrap_servers: String,
    pub client_id: String,
    /// Partitions of the topics this process creates.
    pub topic_partitions: i32,
    pub topic_replication: i32,
    /// Further librdkafka properties for every client (security, timeouts...).
    pub properties: BTreeMap<String, String>,
    /// Properties for producers only (`linger.ms`, `batch.num.messages`...).
    pub producer_properties: BTreeMap<String, String>,
    /// Properties for consumers only (`session.timeout.ms`, `fetch.wait.max.ms`...).
    pub consumer_properties: BTreeMap<String, String>,
}

/// The kind of librdkafka client being configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientKind {
    Admin,
    Producer,
    Consumer,
}

const OWN: [&str; 4] = [
    "BOOTSTRAP_SERVERS",
    "CLIENT_ID",
    "TOPIC_PARTITIONS",
    "TOPIC_REPLICATION",
];

impl KafkaConfig {
    pub fn new(bootstrap_servers: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            bootstrap_servers: bootstrap_servers.into(),
            client_id: client_id.into(),
            topic_partitions: 6,
            topic_replication: 1,
            properties: BTreeMap::new(),
            producer_properties: BTreeMap::new(),
            consumer_properties: BTreeMap::new(),
        }
    }

    /// Reads the `OMS_KAFKA_*` variables; `client_id` is used when none is set.
    pub fn from_env(client_id: &str) -> Result<Self, TransportError> {
        Self::from_vars(std::env::vars(), client_id)
    }

    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
        client_id: &str,
    ) -> Result<Self, TransportError> {
        let vars: BTreeMap<String, String> = vars.into_iter().filter(|(k, _)| k.starts_with("OMS_KAFKA_")).collect();
        let get = |name: &str| vars.get(&format!("OMS_KAFKA_{name}")).cloned();
        let bootstrap = get("BOOTSTRAP_SERVERS").ok_or_else(|| {
            TransportError::Config(
                "OMS_KAFKA_BOOTSTRAP_SERVERS is not set: give the broker list, e.g. localhost:9092".into(),
            )
        })?;
        let mut config = Self::new(bootstrap, get("CLIENT_ID").unwrap_or_else(|| client_id.to_owned()));
        if let Some(p) = get("TOPIC_PARTITIONS") {
            config.topic_partitions = p.parse().map_err(|_| {
                TransportError::Config(format!(
                    "OMS_KAFKA_TOPIC_PARTITIONS={p:?} is not a number of partitions"
                ))
            })?;
        }
        if let Some(r) = get("TOPIC_REPLICATION") {
            config.topic_replication = r.parse().map_err(|_| {
                TransportError::Config(format!("OMS_KAFKA_TOPIC_REPLICATION={r:?} is not a replication factor"))
            })?;
        }
        for (name, value) in &vars {
            let key = &name["OMS_KAFKA_".len()..];
            if OWN.contains(&key) {
                continue;
            }
            let (properties, key) = if let Some(key) = key.strip_prefix("PRODUCER_") {
                (&mut config.producer_properties, key)
            } else if let Some(key) = key.strip_prefix("CONSUMER_") {
                (&mut config.consumer_properties, key)
            } else {
                (&mut config.properties, key)
            };
            properties.insert(key.to_lowercase().replace('_', "."), value.clone());
        }
        Ok(config)
    }

    /// The settings as `OMS_KAFKA_*` variables, as [`KafkaConfig::from_vars`] reads them:
    /// for a process started with this configuration.
    pub fn to_vars(&self) -> Vec<(String, String)> {
        let var =
            |prefix: &str, property: &str| format!("OMS_KAFKA_{prefix}{}", property.replace('.', "_").to_uppercase());
        let mut vars = vec![
            ("OMS_KAFKA_BOOTSTRAP_SERVERS".to_owned(), self.bootstrap_servers.clone()),
            ("OMS_KAFKA_CLIENT_ID".to_owned(), self.client_id.clone()),
            (
                "OMS_KAFKA_TOPIC_PARTITIONS".to_owned(),
                self.topic_partitions.to_string(),
            ),
            (
                "OMS_KAFKA_TOPIC_REPLICATION".to_owned(),
                self.topic_replication.to_string(),
            ),
        ];
        for (prefix, properties) in [
            ("", &self.properties),
            ("PRODUCER_", &self.producer_properties),
            ("CONSUMER_", &self.consumer_properties),
        ] {
            vars.extend(properties.iter().map(|(k, v)| (var(prefix, k), v.clone())));
        }
        vars
    }

    /// `defaults` for one kind of client, under the configured properties for every client
    /// and for that kind: a property set in the environment always wins.
    pub(crate) fn client(&self, kind: ClientKind, defaults: &[(&str, &str)]) -> ClientConfig {
        let mut client = ClientConfig::new();
        client
            .set("bootstrap.servers", &self.bootstrap_servers)
            .set("client.id", &self.client_id);
        for (key, value) in defaults {
            client.set(*key, *value);
        }
        let own = match kind {
            ClientKind::Admin => None,
            ClientKind::Producer => Some(&self.producer_properties),
            ClientKind::Consumer => Some(&self.consumer_properties),
        };
        for (key, value) in self.properties.iter().chain(own.into_iter().flatten()) {
            client.set(key, value);
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_settings_are_passed_through_as_librdkafka_properties() {
        let vars = [
            ("OMS_KAFKA_BOOTSTRAP_SERVERS", "broker-1:9093,broker-2:9093"),
            ("OMS_KAFKA_SECURITY_PROTOCOL", "SASL_SSL"),
            ("OMS_KAFKA_SASL_MECHANISMS", "SCRAM-SHA-512"),
            ("OMS_KAFKA_TOPIC_PARTITIONS", "12"),
            ("PATH", "/usr/bin"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let config = KafkaConfig::from_vars(vars, "order-capture").unwrap();
        assert_eq!(config.bootstrap_servers, "broker-1:9093,broker-2:9093");
        assert_eq!(config.client_id, "order-capture");
        assert_eq!(config.topic_partitions, 12);
        assert_eq!(
            config.properties.get("security.protocol").map(String::as_str),
            Some("SASL_SSL")
        );
        assert_eq!(
            config.properties.get("sasl.mechanisms").map(String::as_str),
            Some("SCRAM-SHA-512")
        );
        assert_eq!(config.properties.len(), 2);
    }

    #[test]
    fn producer_and_consumer_properties_reach_only_their_kind_of_client() {
        let vars = [
            ("OMS_KAFKA_BOOTSTRAP_SERVERS", "b:9092"),
            ("OMS_KAFKA_SECURITY_PROTOCOL", "SSL"),
            ("OMS_KAFKA_PRODUCER_LINGER_MS", "20"),
            ("OMS_KAFKA_CONSUMER_SESSION_TIMEOUT_MS", "6000"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let config = KafkaConfig::from_vars(vars, "routing").unwrap();
        let get = |kind, key| config.client(kind, &[]).get(key).map(str::to_owned);
        for kind in [ClientKind::Admin, ClientKind::Producer, ClientKind::Consumer] {
            assert_eq!(get(kind, "security.protocol").as_deref(), Some("SSL"));
        }
        assert_eq!(get(ClientKind::Producer, "linger.ms").as_deref(), Some("20"));
        assert_eq!(get(ClientKind::Consumer, "linger.ms"), None);
        assert_eq!(get(ClientKind::Admin, "linger.ms"), None);
        assert_eq!(get(ClientKind::Consumer, "session.timeout.ms").as_deref(), Some("6000"));
        assert_eq!(get(ClientKind::Producer, "session.timeout.ms"), None);
        // A setting from the environment wins over the client's own default.
        assert_eq!(
            config
                .client(ClientKind::Producer, &[("linger.ms", "5")])
                .get("linger.ms"),
            Some("20")
        );
        // Written back as variables, the configuration reads the same.
        assert_eq!(KafkaConfig::from_vars(config.to_vars(), "other").unwrap(), config);
    }

    #[test]
    fn a_missing_broker_list_says_what_to_set() {
        let err = KafkaConfig::from_vars(Vec::new(), "x").unwrap_err();
        assert!(err.to_string().contains("OMS_KAFKA_BOOTSTRAP_SERVERS"));
    }

    #[test]
    fn a_bad_partition_count_is_refused() {
        let vars = [
            ("OMS_KAFKA_BOOTSTRAP_SERVERS", "b:9092"),
            ("OMS_KAFKA_TOPIC_PARTITIONS", "many"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        assert!(KafkaConfig::from_vars(vars, "x").is_err());
    }
}
