//! A projector keeps a read model of what another service publishes — routing's view of
//! available-to-promise, say — in the consuming service's store: the rows each batch of
//! messages changes are written in one transaction with the inbox checkpoints of those
//! messages, so a redelivered or republished message never takes a row back to an older
//! value. The read model lives in memory too, loaded at start and updated after each
//! commit. Unlike a [`Consumer`](crate::Consumer) it records no events: a read model is
//! not a decision.
//!
//! A projection may also answer what it reads with messages of its own, written to the
//! outbox in the same transaction: that is how a system outside the OMS is played in the
//! process (the embedded mode's sandbox WMS answers each job it is sent with a
//! confirmation).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use oms_eventsourcing::EventStore;
use oms_eventsourcing::OutboxMessage;
use oms_eventsourcing::store::{CommitBatch, ProjectionRow};
use tokio::sync::watch;

use crate::backoff::until_ok;
use crate::checkpoints::{Applied, BatchCheckpoints};
use crate::dead_letter::dead_letter;
use crate::{ConsumerStats, Message, Source};

/// How messages become rows of a read model.
pub trait Projection: Send + Sync + 'static {
    /// The rows `message` sets, as (key, value). `Err` with the reason for a message that
    /// cannot be read: it goes to the dead-letter topic.
    fn rows(&self, message: &Message) -> Result<Vec<(String, Vec<u8>)>, String>;

    /// The rows were committed: bring the in-memory view up to date.
    fn applied(&self, rows: &[(String, Vec<u8>)]);

    /// Messages to publish in answer to `message`, committed with its rows. None by
    /// default; `Err` as for [`Projection::rows`].
    fn answers(&self, message: &Message, at: DateTime<Utc>) -> Result<Vec<OutboxMessage>, String> {
        let _ = (message, at);
        Ok(Vec::new())
    }
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
        let Some(mut applied) = self.load_checkpoints(&mut stop).await else {
            return;
        };
        loop {
            if *stop.borrow() {
                break;
            }
            let Some(batch) = self.read_batch(&mut source, &mut stop).await else {
                continue;
            };
            let projected = self.project(&batch, &applied);
            self.commit_until_written(&projected.commit).await;
            self.projection.applied(&projected.rows);
            applied.raise(projected.reached);
            let shared: Vec<Arc<Message>> = batch.into_iter().map(Arc::new).collect();
            source.acknowledge(&shared);
        }
        source.close().await;
    }

    /// The projector's inbox checkpoints: what it applied before. Asked again every second
    /// while the store cannot say; `None` if asked to stop meanwhile.
    async fn load_checkpoints(&self, stop: &mut watch::Receiver<bool>) -> Option<Applied> {
        loop {
            match self.store.inbox_checkpoints(&self.name).await {
                Ok(checkpoints) => return Some(Applied::new(checkpoints)),
                Err(e) => {
                    tracing::warn!(projection = %self.name, error = %e, "cannot read the checkpoints yet");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = stop.changed() => return None,
                    }
                }
            }
        }
    }

    /// The next batch of messages; `None` if there was none (or it could not be read, or
    /// the projector was asked to stop), to look again.
    async fn read_batch(&self, source: &mut Source, stop: &mut watch::Receiver<bool>) -> Option<Vec<Message>> {
        let batch = tokio::select! {
            batch = source.next_batch(2_000, Duration::from_millis(250)) => batch,
            _ = stop.changed() => return None,
        };
        match batch {
            Ok(batch) if batch.is_empty() => None,
            Ok(batch) => Some(batch),
            Err(e) => {
                tracing::warn!(projection = %self.name, error = %e, "cannot read messages");
                tokio::time::sleep(Duration::from_millis(500)).await;
                None
            }
        }
    }

    /// What the batch's messages not applied before make of the read model: their rows,
    /// answers and dead letters in one commit, with the inbox checkpoints they reach.
    fn project(&self, batch: &[Message], applied: &Applied) -> Projected {
        let mut commit = CommitBatch {
            recorded_at: chrono::Utc::now(),
            ..CommitBatch::default()
        };
        let mut rows = Vec::new();
        let mut reached = BatchCheckpoints::default();
        for message in batch {
            if applied.already(message) {
                continue;
            }
            let projected = self.projection.rows(message).and_then(|changed| {
                let answers = self.projection.answers(message, commit.recorded_at)?;
                Ok((changed, answers))
            });
            match projected {
                Ok((changed, answers)) => {
                    rows.extend(changed);
                    commit.outbox.extend(answers);
                }
                Err(reason) => {
                    tracing::warn!(projection = %self.name, origin = %message.origin(), %reason, "message dead-lettered");
                    commit
                        .outbox
                        .push(dead_letter(message, &self.name, &reason, commit.recorded_at));
                }
            }
            reached.reach(message);
        }
        commit.projections = rows
            .iter()
            .map(|(key, value)| ProjectionRow {
                name: self.name.clone(),
                key: key.clone(),
                value: value.clone(),
            })
            .collect();
        commit.inbox = reached.marks(&self.name);
        Projected { commit, rows, reached }
    }

    /// Commits, trying again with backoff until the store takes it: the batch is not
    /// acknowledged before.
    async fn commit_until_written(&self, commit: &CommitBatch) {
        until_ok(
            Duration::from_millis(100),
            || self.store.commit(commit),
            |e, _| tracing::warn!(projection = %self.name, error = %e, "read model not written; trying again"),
        )
        .await;
    }
}

/// A batch projected: what to commit, the rows to show the in-memory view once
/// committed, and the checkpoints the batch reaches.
struct Projected {
    commit: CommitBatch,
    rows: Vec<(String, Vec<u8>)>,
    reached: BatchCheckpoints,
}
