//! What tests of the services share: the given/when/then harness of the decision model, and
//! stores of their own on PostgreSQL or SQLite.
//!
//! ```ignore
//! Scenario::<Fulfilment>::given([on(job, created(...)), on(job, JobEvent::Accepted { at })])
//!     .when(Pick { store_id, job_id, picked })
//!     .then([on(job, JobEvent::Picked { .. })]);
//! ```

use std::collections::HashMap;
use std::fmt::Debug;

use chrono::{DateTime, TimeZone, Utc};
use uuid::Uuid;

use crate::envelope::EventHeader;
use crate::model::{Change, Changes, Decide, Model};

/// The moment scenarios happen at unless they say otherwise: Tuesday 24 November 2026, 9:00 UTC.
pub fn scenario_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// A model's past, folded as the writer would fold it: every change applied with the
/// header the log would give it (its stream's next version, the scenario's time).
pub struct Scenario<M: Model> {
    state: M,
    versions: HashMap<String, u64>,
    history: Changes<M::Event>,
    now: DateTime<Utc>,
}

impl<M: Model> Scenario<M> {
    /// The state after `changes`.
    pub fn given(changes: impl IntoIterator<Item = Change<M::Event>>) -> Self {
        let mut scenario = Self {
            state: M::default(),
            versions: HashMap::new(),
            history: Vec::new(),
            now: scenario_time(),
        };
        scenario.record(changes.into_iter().collect());
        scenario
    }

    /// A model with no past.
    pub fn nothing() -> Self {
        Self::given([])
    }

    /// Later changes happen, and commands are decided, at `now`.
    pub fn at(mut self, now: DateTime<Utc>) -> Self {
        self.now = now;
        self
    }

    /// The state as it is now.
    pub fn state(&self) -> &M {
        &self.state
    }

    /// The scenario's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// More of the past.
    pub fn and(mut self, changes: impl IntoIterator<Item = Change<M::Event>>) -> Self {
        self.record(changes.into_iter().collect());
        self
    }

    /// Decides `command` against the state at the scenario's time.
    pub fn when<C: Decide<M>>(self, command: C) -> Then<M, C::Refusal> {
        let result = command.decide(&self.state, self.now);
        Then {
            scenario: self,
            command: format!("{command:?}"),
            result,
        }
    }

    fn record(&mut self, changes: Changes<M::Event>) {
        for change in changes {
            let version = self.versions.entry(change.stream.clone()).or_insert(0);
            *version += 1;
            let header = EventHeader {
                stream_id: &change.stream,
                version: *version,
                event_id: Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("{}/{version}", change.stream).as_bytes()),
                recorded_at: self.now,
                correlation_id: None,
                causation_id: None,
            };
            self.state.apply(&header, &change.event);
            self.history.push(change);
        }
    }
}

/// The outcome of one command, to be checked.
pub struct Then<M: Model, R> {
    scenario: Scenario<M>,
    command: String,
    result: Result<Changes<M::Event>, R>,
}

impl<M: Model, R: std::error::Error> Then<M, R>
where
    M::Event: PartialEq,
{
    /// The command succeeds with exactly `expected`. The scenario goes on from the state
    /// after them.
    #[track_caller]
    pub fn then(self, expected: impl IntoIterator<Item = Change<M::Event>>) -> Scenario<M> {
        let expected: Changes<M::Event> = expected.into_iter().collect();
        let Then {
            mut scenario,
            command,
            result,
        } = self;
        match result {
            Ok(changes) => {
                assert_eq!(
                    changes, expected,
                    "\ngiven {:#?}\nwhen {command}\nthe changes differ from those expected",
                    scenario.history
                );
                scenario.record(changes);
                scenario
            }
            Err(refusal) => panic!(
                "\ngiven {:#?}\nwhen {command}\nexpected changes {expected:#?}\nbut it was refused: {refusal}",
                scenario.history
            ),
        }
    }

    /// The command succeeds; `check` looks at what it decided. The scenario goes on from
    /// the state after it.
    #[track_caller]
    pub fn then_check(self, check: impl FnOnce(&Changes<M::Event>)) -> Scenario<M> {
        let Then {
            mut scenario,
            command,
            result,
        } = self;
        match result {
            Ok(changes) => {
                check(&changes);
                scenario.record(changes);
                scenario
            }
            Err(refusal) => panic!(
                "\ngiven {:#?}\nwhen {command}\nexpected changes but it was refused: {refusal}",
                scenario.history
            ),
        }
    }

    /// The command changes nothing: no changes, no refusal.
    #[track_caller]
    pub fn then_nothing(self) -> Scenario<M> {
        match self.result {
            Ok(changes) if changes.is_empty() => self.scenario,
            Ok(changes) => panic!(
                "\ngiven {:#?}\nwhen {}\nexpected nothing but got {changes:#?}",
                self.scenario.history, self.command
            ),
            Err(refusal) => panic!(
                "\ngiven {:#?}\nwhen {}\nexpected nothing but it was refused: {refusal}",
                self.scenario.history, self.command
            ),
        }
    }

    /// The command is refused with a reason `check` accepts; the scenario goes on unchanged.
    #[track_caller]
    pub fn then_refused(self, check: impl FnOnce(&R) -> bool) -> Scenario<M> {
        match self.result {
            Err(refusal) if check(&refusal) => self.scenario,
            Err(refusal) => panic!(
                "\ngiven {:#?}\nwhen {}\nit was refused, but not as expected: {refusal}",
                self.scenario.history, self.command
            ),
            Ok(changes) => panic!(
                "\ngiven {:#?}\nwhen {}\nexpected a refusal but got {changes:#?}",
                self.scenario.history, self.command
            ),
        }
    }

    /// The command is refused with exactly `expected`.
    #[track_caller]
    pub fn then_error(self, expected: R) -> Scenario<M>
    where
        R: PartialEq + Debug,
    {
        self.then_refused(|refusal| refusal == &expected)
    }
}

/// Pins the stored form of every event type of `E`, from one sample of each:
///
/// - the sample's JSON must equal the golden file `<dir>/<EventType>.v<version>.json` of
///   its current schema version, and read back as the sample: a change to what is written
///   to the log needs a new schema version and an upcaster from the old one;
/// - every event type must have a sample;
/// - every golden file of an older version must still be read, through the upcasters.
///
/// With `OMS_BLESS_GOLDEN=1` a missing file is written instead (review it, then commit it).
#[track_caller]
pub fn check_golden_events<E: crate::DomainEvent + PartialEq>(dir: &std::path::Path, samples: &[E]) {
    let bless = std::env::var("OMS_BLESS_GOLDEN").is_ok_and(|v| v == "1");
    let mut problems = Vec::new();
    for sample in samples {
        let event_type = sample.event_type();
        let version = E::schema_version(event_type);
        let path = dir.join(format!("{event_type}.v{version}.json"));
        let written = serde_json::to_value(sample).unwrap_or(serde_json::Value::Null);
        match std::fs::read_to_string(&path) {
            Ok(golden) => {
                let stored: serde_json::Value = serde_json::from_str(&golden).unwrap_or(serde_json::Value::Null);
                if stored != written {
                    problems.push(format!(
                        "{event_type} v{version} is now written as {written}, not as {}: give the event a new schema version with an upcaster from v{version}, and bless its new golden file",
                        path.display()
                    ));
                } else if E::decode(event_type, version, golden.as_bytes()).as_ref() != Ok(sample) {
                    problems.push(format!("{} does not read back as the sample", path.display()));
                }
            }
            Err(_) if bless => {
                let pretty = serde_json::to_string_pretty(&written).unwrap_or_default();
                if let Err(e) = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, pretty + "\n")) {
                    problems.push(format!("cannot write {}: {e}", path.display()));
                }
            }
            Err(_) => problems.push(format!(
                "no golden file {} for {event_type} v{version}: run with OMS_BLESS_GOLDEN=1, review it and commit it",
                path.display()
            )),
        }
    }
    for event_type in E::event_types() {
        if !samples.iter().any(|s| s.event_type() == *event_type) {
            problems.push(format!("no sample of event type {event_type}"));
        }
    }
    for (event_type, version, path) in golden_files(dir) {
        let current = E::schema_version(&event_type);
        if version < current {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if let Err(e) = E::decode(&event_type, version, text.as_bytes()) {
                problems.push(format!("{} is no longer read: {e}", path.display()));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "the stored events drifted:\n- {}",
        problems.join("\n- ")
    );
}

/// The golden files of a directory: (event type, schema version, path).
fn golden_files(dir: &std::path::Path) -> Vec<(String, u16, std::path::PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let path = entry.path();
            let name = path.file_name()?.to_str()?.strip_suffix(".json")?.to_owned();
            let (event_type, version) = name.rsplit_once(".v")?;
            Some((event_type.to_owned(), version.parse().ok()?, path))
        })
        .collect()
}

/// Installs, once per test binary, a subscriber whose spans carry W3C trace context (as a
/// service's do), writing logs that pass `filter` to the test's output. `false` when a
/// subscriber was installed already.
pub fn install_tracing(filter: &str) -> bool {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{EnvFilter, Layer};

    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer("oms-test"));
    let logs = tracing_subscriber::fmt::layer()
        .with_test_writer()
        .with_filter(EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("warn")));
    tracing_subscriber::registry()
        .with(logs)
        .with(otel.with_filter(tracing_subscriber::filter::LevelFilter::INFO))
        .try_init()
        .is_ok()
}

/// The PostgreSQL server tests use: `OMS_TEST_DATABASE_URL`, or the local test database.
pub fn test_database_url() -> String {
    std::env::var("OMS_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// Which backend a test store uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    Postgres,
    Sqlite,
}

/// A store of its own for one test: a new PostgreSQL schema, or a SQLite file in a new
/// temporary directory. Dropping it removes the schema or the directory.
pub struct TestStore {
    pub store: crate::EventStore,
    pub config: crate::StoreConfig,
    _dir: Option<tempfile::TempDir>,
}

impl TestStore {
    /// A fresh, empty store.
    pub async fn new(backend: TestBackend) -> Self {
        let (config, dir) = match backend {
            TestBackend::Postgres => {
                let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
                (
                    crate::StoreConfig::Postgres {
                        url: test_database_url(),
                        schema,
                        max_connections: 8,
                    },
                    None,
                )
            }
            TestBackend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory for the test's SQLite file");
                let path = dir.path().join("events.db").to_string_lossy().into_owned();
                (crate::StoreConfig::Sqlite { path }, Some(dir))
            }
        };
        let store = crate::EventStore::connect(&config)
            .await
            .unwrap_or_else(|e| panic!("cannot open the test store {config:?}: {e}"));
        Self {
            store,
            config,
            _dir: dir,
        }
    }

    /// Another connection pool to the same store, as a restarted process would open.
    pub async fn reopen(&self) -> crate::EventStore {
        crate::EventStore::connect(&self.config)
            .await
            .expect("reopening the test store")
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        if let crate::StoreConfig::Postgres { url, schema, .. } = &self.config {
            let (url, schema) = (url.clone(), schema.clone());
            // Drop runs inside the test's runtime; the clean-up gets a runtime of its own.
            let cleanup = std::thread::spawn(move || {
                let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                    return;
                };
                runtime.block_on(async move {
                    use sqlx::Connection;
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&url).await {
                        let drop = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
                        let _ = sqlx::query(sqlx::AssertSqlSafe(drop)).execute(&mut conn).await;
                        let _ = conn.close().await;
                    }
                });
            });
            let _ = cleanup.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::DomainEvent;

    /// Shelves of one SKU each: receive units, pick units, never below zero.
    #[derive(Debug, Clone, Default, Serialize, Deserialize)]
    struct Shelves {
        units: HashMap<String, u32>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    enum ShelfEvent {
        Received { units: u32 },
        Picked { units: u32 },
    }

    impl DomainEvent for ShelfEvent {
        crate::event_type_names!(ShelfEvent { Received, Picked });
    }

    impl Model for Shelves {
        type Event = ShelfEvent;
        const NAME: &'static str = "shelves";
        const SNAPSHOT_VERSION: u32 = 1;

        fn apply(&mut self, header: &EventHeader<'_>, event: &ShelfEvent) {
            let units = self.units.entry(header.stream_id.to_owned()).or_default();
            match event {
                ShelfEvent::Received { units: n } => *units += n,
                ShelfEvent::Picked { units: n } => *units -= n,
            }
        }
    }

    #[derive(Debug)]
    struct Pick {
        shelf: &'static str,
        units: u32,
    }

    #[derive(Debug, PartialEq, thiserror::Error)]
    enum ShelfError {
        #[error("only {available} units on the shelf")]
        NotEnough { available: u32 },
    }

    impl Decide<Shelves> for Pick {
        type Refusal = ShelfError;

        fn decide(&self, state: &Shelves, _now: DateTime<Utc>) -> Result<Changes<ShelfEvent>, ShelfError> {
            let available = state.units.get(self.shelf).copied().unwrap_or(0);
            match self.units {
                0 => Ok(vec![]),
                units if units > available => Err(ShelfError::NotEnough { available }),
                units => Ok(vec![Change::new(self.shelf, ShelfEvent::Picked { units })]),
            }
        }
    }

    fn received(shelf: &str, units: u32) -> Change<ShelfEvent> {
        Change::new(shelf, ShelfEvent::Received { units })
    }

    #[test]
    fn picking_what_is_on_the_shelf_leaves_the_rest_and_the_story_goes_on() {
        let after = Scenario::<Shelves>::given([received("a", 5), received("b", 1)])
            .when(Pick { shelf: "a", units: 3 })
            .then([Change::new("a", ShelfEvent::Picked { units: 3 })])
            .when(Pick { shelf: "a", units: 3 })
            .then_error(ShelfError::NotEnough { available: 2 });
        assert_eq!(after.state().units["a"], 2);
        assert_eq!(after.state().units["b"], 1);
    }

    #[test]
    fn picking_nothing_changes_nothing() {
        Scenario::<Shelves>::nothing()
            .when(Pick { shelf: "a", units: 0 })
            .then_nothing();
    }

    #[test]
    #[should_panic(expected = "the changes differ")]
    fn a_wrong_expectation_fails_the_scenario() {
        Scenario::<Shelves>::given([received("a", 5)])
            .when(Pick { shelf: "a", units: 1 })
            .then([Change::new("a", ShelfEvent::Picked { units: 2 })]);
    }
}
