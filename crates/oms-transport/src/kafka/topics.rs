//! Topics: created with the configured partitions and replication unless the broker has
//! them — at a service's start, and again by a relay or source that finds them gone.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::error::RDKafkaErrorCode;

use crate::config::ClientKind;
use crate::warnings::QuietLog;
use crate::{KafkaConfig, TransportError};

/// Creates `topics` (with the configured partitions and replication) unless they exist.
pub async fn ensure_topics(config: &KafkaConfig, topics: &[String]) -> Result<(), TransportError> {
    for topic in create_missing_topics(config, topics).await? {
        tracing::info!(%topic, partitions = config.topic_partitions, "topic created");
    }
    Ok(())
}

/// Creates those of `topics` the broker does not have; returns them.
pub(crate) async fn create_missing_topics(
    config: &KafkaConfig,
    topics: &[String],
) -> Result<Vec<String>, TransportError> {
    let admin: AdminClient<QuietLog> = config
        .client(ClientKind::Admin, &[])
        .create_with_context(QuietLog::default())?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| {
            NewTopic::new(
                t,
                config.topic_partitions,
                TopicReplication::Fixed(config.topic_replication),
            )
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let mut created = Vec::new();
    for result in admin.create_topics(new.iter(), &options).await? {
        match result {
            Ok(topic) => created.push(topic),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(TransportError::Config(format!("cannot create topic {topic}: {code}")));
            }
        }
    }
    Ok(created)
}
