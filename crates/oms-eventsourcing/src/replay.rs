//! Rebuilding a service's in-memory state from its log: the newest usable snapshot,
//! then the tail, streamed from the store and applied in place (see [`EventStore::scan`]).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::digest::{StateDigest, state_digest};
use crate::envelope::Position;
use crate::model::Model;
use crate::store::{EventStore, EventView, Snapshot, StoreError};

/// The current version of every stream, for optimistic concurrency.
pub type StreamVersions = HashMap<String, u64>;

/// A state together with the log position it reflects and the stream versions.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Replayed<M> {
    pub state: M,
    pub versions: StreamVersions,
    pub position: Position,
}

impl<M: Model> Replayed<M> {
    /// Applies one event read from the log.
    pub fn apply_view(&mut self, view: EventView<'_>) -> Result<(), StoreError> {
        let event = view.decode::<M::Event>()?;
        self.state.apply(&view.header(), &event);
        match self.versions.get_mut(view.stream_id) {
            Some(version) => *version = view.version,
            None => {
                self.versions.insert(view.stream_id.to_owned(), view.version);
            }
        }
        self.position = view.position;
        Ok(())
    }

    /// Digest of the state and stream versions (not the position), to compare a rebuilt
    /// state with a live one.
    pub fn digest(&self) -> StateDigest {
        state_digest(&(&self.state, &self.versions))
    }

    /// Encodes the state for a snapshot.
    pub fn to_snapshot(&self, taken_at: chrono::DateTime<chrono::Utc>) -> Result<Snapshot, StoreError> {
        let state = postcard::to_allocvec(self).map_err(|e| StoreError::Snapshot {
            name: M::NAME.to_owned(),
            reason: format!("cannot encode the state: {e}"),
        })?;
        Ok(Snapshot {
            position: self.position,
            schema_version: M::SNAPSHOT_VERSION,
            state,
            taken_at,
        })
    }

    fn from_snapshot(snapshot: &Snapshot) -> Result<Self, StoreError> {
        let replayed: Self = postcard::from_bytes(&snapshot.state).map_err(|e| StoreError::Snapshot {
            name: M::NAME.to_owned(),
            reason: e.to_string(),
        })?;
        if replayed.position != snapshot.position {
            return Err(StoreError::Snapshot {
                name: M::NAME.to_owned(),
                reason: format!("records position {} but holds {}", snapshot.position, replayed.position),
            });
        }
        Ok(replayed)
    }
}

/// How to rebuild.
#[derive(Debug, Clone, Copy)]
pub struct ReplayOptions {
    /// Start from the newest snapshot of the current schema version, if there is one.
    pub use_snapshot: bool,
    /// Stop after this position (for comparing with a live state taken there).
    pub until: Option<Position>,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        Self {
            use_snapshot: true,
            until: None,
        }
    }
}

/// Where a rebuild has got to, for progress bars and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayProgress {
    /// Position the rebuild started from (the snapshot's, or 0).
    pub from: Position,
    /// Position of the last event applied.
    pub at: Position,
    /// Position the rebuild will stop at.
    pub to: Position,
    pub events_applied: u64,
}

/// What a rebuild did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplayReport {
    pub snapshot_position: Option<Position>,
    pub events_applied: u64,
    pub elapsed: Duration,
}

/// Rebuilds the state of `M` from `store`.
pub async fn rebuild<M: Model>(
    store: &EventStore,
    options: ReplayOptions,
    mut progress: impl FnMut(ReplayProgress) + Send,
) -> Result<(Replayed<M>, ReplayReport), StoreError> {
    let started = Instant::now();
    let mut replayed = Replayed::<M>::default();
    let mut snapshot_position = None;
    if options.use_snapshot {
        match store.load_snapshot(M::NAME).await? {
            Some(snapshot) if snapshot.schema_version != M::SNAPSHOT_VERSION => {
                tracing::info!(
                    snapshot = M::NAME,
                    found = snapshot.schema_version,
                    current = M::SNAPSHOT_VERSION,
                    "ignoring a snapshot of an older state schema; replaying the whole log"
                );
            }
            Some(snapshot) if options.until.is_some_and(|until| snapshot.position > until) => {}
            Some(snapshot) => match Replayed::<M>::from_snapshot(&snapshot) {
                Ok(from_snapshot) => {
                    snapshot_position = Some(from_snapshot.position);
                    replayed = from_snapshot;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "ignoring an unreadable snapshot; replaying the whole log");
                }
            },
            None => {}
        }
    }
    let from = replayed.position;
    let to = match options.until {
        Some(until) => until,
        None => store.last_position().await?,
    };
    let mut events_applied = 0u64;
    if to > from {
        let mut last_report = Instant::now();
        store
            .scan(from, to, |view| {
                replayed.apply_view(view)?;
                events_applied += 1;
                if events_applied.is_multiple_of(8192) && last_report.elapsed() >= Duration::from_millis(100) {
                    last_report = Instant::now();
                    progress(ReplayProgress {
                        from,
                        at: replayed.position,
                        to,
                        events_applied,
                    });
                }
                Ok(())
            })
            .await?;
    }
    progress(ReplayProgress {
        from,
        at: replayed.position,
        to,
        events_applied,
    });
    Ok((
        replayed,
        ReplayReport {
            snapshot_position,
            events_applied,
            elapsed: started.elapsed(),
        },
    ))
}
