//! After trouble with the broker: a source whose broker was replaced, or lost a topic,
//! pauses its partitions, creates the topics that are gone, and once the broker answers
//! with every topic rejoins its group, so each partition is assigned afresh and started
//! where the inbox says.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use super::guard::PartitionGuard;
use super::{KafkaSource, RECREATE_TOPICS_EVERY, Rejoin, TopicsThere, create_missing_topics};
use crate::TransportError;

impl KafkaSource {
    /// A consumption error. The broker may have been replaced, or a topic deleted: the
    /// partitions are paused, as their positions may lie beyond the end of a new log (some
    /// brokers answer a fetch there with nothing, and tansu with a leader hint librdkafka
    /// 2.12 crashes on); topics that are gone are created again; and once the broker
    /// answers with all of them the source rejoins its group, so every partition is
    /// assigned afresh and started where the inbox says. Fatal errors end the batch.
    pub(super) fn trouble(
        &mut self,
        consumer: &StreamConsumer<PartitionGuard>,
        error: KafkaError,
    ) -> Result<(), TransportError> {
        let code = match &error {
            KafkaError::MessageConsumption(code) => *code,
            _ => return Err(error.into()),
        };
        // Logged by the client's context, once per cause and interval.
        tracing::debug!(error = %error, "Kafka consumer error");
        if let Ok(assigned) = consumer.assignment()
            && assigned.count() > 0
            && let Err(e) = consumer.pause(&assigned)
        {
            tracing::debug!(error = %e, "cannot pause the partitions");
        }
        if matches!(
            code,
            RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic
        ) {
            self.recreate_topics();
        }
        if self.rejoin == Rejoin::No {
            self.rejoin = Rejoin::Pending(Instant::now());
        }
        Ok(())
    }

    /// After trouble, asks the broker (on a thread of its own: the question blocks)
    /// whether every subscribed topic is there again, and once they are, rejoins the group.
    pub(super) async fn ask_the_broker(&mut self, consumer: &Arc<StreamConsumer<PartitionGuard>>) {
        if let Some(asking) = self.asking.take_if(|a| a.is_finished()) {
            match asking.await {
                Ok(topics_there) => self.take_in(consumer, topics_there),
                Err(e) => tracing::warn!(error = %e, "the question to the broker failed"),
            }
        }
        if self.asking.is_some() || !matches!(self.rejoin, Rejoin::Pending(after) if Instant::now() >= after) {
            return;
        }
        self.rejoin = Rejoin::Pending(Instant::now() + Duration::from_secs(1));
        let (asked, topics) = (consumer.clone(), self.topics.clone());
        self.asking = Some(tokio::task::spawn_blocking(move || {
            let mut all = Some(true);
            for topic in &topics {
                match asked.fetch_metadata(Some(topic), Duration::from_secs(2)) {
                    Ok(metadata) => {
                        let there = metadata
                            .topics()
                            .iter()
                            .any(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty());
                        if !there {
                            all = all.map(|_| false);
                        }
                    }
                    Err(_) => all = None,
                }
            }
            all
        }));
    }

    /// What the broker said about the topics: rejoin once they are all there, create them
    /// again while some are not.
    fn take_in(&mut self, consumer: &StreamConsumer<PartitionGuard>, topics_there: TopicsThere) {
        match topics_there {
            Some(true) if self.rejoin != Rejoin::No => {
                self.rejoin = Rejoin::No;
                tracing::info!(topics = ?self.topics, "the broker answers with every topic; rejoining the group for a fresh assignment");
                let topics: Vec<&str> = self.topics.iter().map(String::as_str).collect();
                consumer.unsubscribe();
                if let Err(e) = consumer.subscribe(&topics) {
                    tracing::warn!(error = %e, "cannot subscribe again; trying later");
                    self.rejoin = Rejoin::Pending(Instant::now() + Duration::from_secs(1));
                }
            }
            Some(false) => self.recreate_topics(),
            _ => {}
        }
    }

    /// Creates the subscribed topics again (in the background), at most every
    /// `RECREATE_TOPICS_EVERY`: the service created them at its start, and a broker that
    /// lost them has them again without waiting for a restart.
    fn recreate_topics(&mut self) {
        if self
            .topics_recreated
            .is_some_and(|at| at.elapsed() < RECREATE_TOPICS_EVERY)
        {
            return;
        }
        self.topics_recreated = Some(Instant::now());
        let (kafka, topics) = (self.kafka.as_ref().clone(), self.topics.clone());
        tokio::spawn(async move {
            match tokio::time::timeout(Duration::from_secs(30), create_missing_topics(&kafka, &topics)).await {
                Ok(Ok(created)) if !created.is_empty() => {
                    tracing::warn!(topics = ?created, "subscribed topics were missing on the broker; created them again");
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(?topics, error = %e, "topics not created; trying again later"),
                Err(_) => tracing::warn!(?topics, "topics not created within 30 s; trying again later"),
            }
        });
    }
}
