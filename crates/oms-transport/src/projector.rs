//! A projector keeps a read model of what another service publishes — routing's view of
//! available-to-promise, say — in the consuming service's store: the rows each batch of
//! messages changes are written in one transaction with the inbox checkpoints of those
//! messages, so a redelivered or republished message never takes a row back to an older
//! value. The read model lives in memory too, loaded at start and updated after each
//! commit. Unlike a [`Consumer`](crate::Consumer) it records no events: a read model is
//! not a decision.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use oms_eventsourcing::EventStore;
use oms_eventsourcing::store::{CommitBatch, InboxMark, OutboxPosition, ProjectionRow, RecordFingerprint};
use tokio::sync::watch;

use crate::dead_letter::dead_letter;
use crate::{ConsumerStats, Message, Source};

/// How messages become rows of a read model.
pub trait Projection: Send + Sync + 'static {
    /// The rows `message` sets, as (key, value). `Err` with the reason for a message that
    /// cannot be read: it goes to the dead-letter topic.
    fn rows(&self, message: &Message) -> Result<Vec<(String, Vec<u8>)>, String>;

    /// The rows were committed: bring the in-memory view up to date.
    fn applied(&self, rows: &[(String, Vec<u8>)]);
}

pub struct Projector<P: Projection> {
    store: EventStore,
    /// The read model's name, which is also the consumer's.
    name: String,
    projection: Arc<P>,
}

impl<P: Projection> Projector<P> {
    pub fn new(store: EventStore, name: impl Into<String>, projection: Arc<P>) -> Self {
        Self {
            store,
            name: name.into(),
            projection,
        }
    }

    /// Loads the read model from the store into `projection` (as one call of `applied`).
    pub async fn load(&self) -> Result<usize, oms_eventsourcing::StoreError> {
        let rows = self.store.load_projection(&self.name).await?;
        self.projection.applied(&rows);
        Ok(rows.len())
    }

    /// Projects messages from `source` until `stop` turns true.
    pub async fn run(self, mut source: Source, mut stop: watch::Receiver<bool>) {
        source.bind_inbox(&self.store, &self.name, Arc::new(ConsumerStats::default()));
        let mut checkpoints: HashMap<String, OutboxPosition> = loop {
            match self.store.inbox_checkpoints(&self.name).await {
                Ok(checkpoints) => break checkpoints,
                Err(e) => {
                    tracing::warn!(projection = %self.name, error = %e, "cannot read the checkpoints yet");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = stop.changed() => return,
                    }
                }
            }
        };
        loop {
            if *stop.borrow() {
                break;
            }
            let batch = tokio::select! {
                batch = source.next_batch(2_000, Duration::from_millis(250)) => batch,
                _ = stop.changed() => continue,
            };
            let batch = match batch {
                Ok(batch) if batch.is_empty() => continue,
                Ok(batch) => batch,
                Err(e) => {
                    tracing::warn!(projection = %self.name, error = %e, "cannot read messages");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            let mut commit = CommitBatch {
                recorded_at: chrono::Utc::now(),
                ..CommitBatch::default()
            };
            let mut rows = Vec::new();
            let mut marks: HashMap<String, (OutboxPosition, Option<RecordFingerprint>)> = HashMap::new();
            for message in &batch {
                let position = message.inbox_position();
                if checkpoints.get(&message.inbox_source).is_some_and(|at| position <= *at) {
                    continue;
                }
                match self.projection.rows(message) {
                    Ok(changed) => rows.extend(changed),
                    Err(reason) => {
                        tracing::warn!(projection = %self.name, origin = %message.origin(), %reason, "message dead-lettered");
                        commit
                            .outbox
                            .push(dead_letter(message, &self.name, &reason, commit.recorded_at));
                    }
                }
                // A checkpoint by offset keeps what the message there looked like.
                let fingerprint = message.fingerprint.filter(|_| message.outbox_position.is_none());
                let mark = marks
                    .entry(message.inbox_source.clone())
                    .or_insert((position, fingerprint));
                if position > mark.0 {
                    *mark = (position, fingerprint);
                }
            }
            commit.projections = rows
                .iter()
                .map(|(key, value)| ProjectionRow {
                    name: self.name.clone(),
                    key: key.clone(),
                    value: value.clone(),
                })
                .collect();
            commit.inbox = marks
                .iter()
                .map(|(source, (position, fingerprint))| InboxMark::Checkpoint {
                    consumer: self.name.clone(),
                    source: source.clone(),
                    position: *position,
                    fingerprint: *fingerprint,
                })
                .collect();
            let mut delay = Duration::from_millis(100);
            loop {
                match self.store.commit(&commit).await {
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(projection = %self.name, error = %e, "read model not written; trying again");
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(Duration::from_secs(10));
                    }
                }
            }
            self.projection.applied(&rows);
            checkpoints.extend(marks.into_iter().map(|(source, (position, _))| (source, position)));
            let shared: Vec<Arc<Message>> = batch.into_iter().map(Arc::new).collect();
            source.acknowledge(&shared);
        }
        source.close().await;
    }
}
