//! Given/when/then scenarios for deciders: given these past events, when this command
//! arrives, then these events happen (or this refusal).
//!
//! ```ignore
//! Scenario::<Reservation>::given([placed(10)])
//!     .when(Release { units: 4 })
//!     .then([released(4)]);
//! ```

use std::fmt::Debug;

use crate::Aggregate;

/// The past of one aggregate.
pub struct Scenario<A: Aggregate> {
    state: A,
    history: Vec<A::Event>,
}

impl<A: Aggregate> Scenario<A> {
    /// The aggregate after `events`.
    pub fn given(events: impl IntoIterator<Item = A::Event>) -> Self {
        let history: Vec<A::Event> = events.into_iter().collect();
        Self {
            state: A::from_events(&history),
            history,
        }
    }

    /// An aggregate with no past.
    pub fn nothing() -> Self {
        Self::given([])
    }

    /// Decides `command` against the state.
    pub fn when(self, command: A::Command) -> Then<A> {
        let result = self.state.decide(&command);
        Then {
            state: self.state,
            history: self.history,
            command: format!("{command:?}"),
            result,
        }
    }
}

/// The outcome of one command, to be checked.
pub struct Then<A: Aggregate> {
    state: A,
    history: Vec<A::Event>,
    command: String,
    result: Result<Vec<A::Event>, A::Error>,
}

impl<A: Aggregate> Then<A>
where
    A::Event: PartialEq,
{
    /// The command succeeds with exactly `expected`. Returns the state after them.
    #[track_caller]
    pub fn then(self, expected: impl IntoIterator<Item = A::Event>) -> A {
        let expected: Vec<A::Event> = expected.into_iter().collect();
        match self.result {
            Ok(events) => {
                assert_eq!(
                    events, expected,
                    "\ngiven {:#?}\nwhen {}\nthe events differ from those expected",
                    self.history, self.command
                );
                let mut state = self.state;
                for event in &events {
                    state.evolve(event);
                }
                state
            }
            Err(error) => panic!(
                "\ngiven {:#?}\nwhen {}\nexpected events {:#?}\nbut it was refused: {error}",
                self.history, self.command, expected
            ),
        }
    }
}

impl<A: Aggregate> Then<A> {
    /// The command is refused with an error `check` accepts.
    #[track_caller]
    pub fn then_refused(self, check: impl FnOnce(&A::Error) -> bool) -> A::Error {
        match self.result {
            Err(error) if check(&error) => error,
            Err(error) => panic!(
                "\ngiven {:#?}\nwhen {}\nit was refused, but not as expected: {error}",
                self.history, self.command
            ),
            Ok(events) => panic!(
                "\ngiven {:#?}\nwhen {}\nexpected a refusal but got events {events:#?}",
                self.history, self.command
            ),
        }
    }

    /// The command is refused with exactly `expected`.
    #[track_caller]
    pub fn then_error(self, expected: A::Error) -> A::Error
    where
        A::Error: PartialEq + Debug,
    {
        self.then_refused(|e| e == &expected)
    }

    /// The command changes nothing: no events, no refusal.
    #[track_caller]
    pub fn then_nothing(self) -> A {
        match self.result {
            Ok(events) if events.is_empty() => self.state,
            Ok(events) => panic!(
                "\ngiven {:#?}\nwhen {}\nexpected no events but got {events:#?}",
                self.history, self.command
            ),
            Err(error) => panic!(
                "\ngiven {:#?}\nwhen {}\nexpected no events but it was refused: {error}",
                self.history, self.command
            ),
        }
    }
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

    /// A tiny shelf of one SKU: receive units, pick units, never below zero.
    #[derive(Debug, Clone, Default)]
    struct Shelf {
        units: u32,
    }

    #[derive(Debug)]
    enum ShelfCommand {
        Receive(u32),
        Pick(u32),
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    enum ShelfEvent {
        Received { units: u32 },
        Picked { units: u32 },
    }

    impl DomainEvent for ShelfEvent {
        crate::event_type_names!(ShelfEvent { Received, Picked });
    }

    #[derive(Debug, PartialEq, thiserror::Error)]
    enum ShelfError {
        #[error("only {available} units on the shelf")]
        NotEnough { available: u32 },
    }

    impl Aggregate for Shelf {
        type Command = ShelfCommand;
        type Event = ShelfEvent;
        type Error = ShelfError;

        fn decide(&self, command: &ShelfCommand) -> Result<Vec<ShelfEvent>, ShelfError> {
            match *command {
                ShelfCommand::Receive(0) | ShelfCommand::Pick(0) => Ok(vec![]),
                ShelfCommand::Receive(units) => Ok(vec![ShelfEvent::Received { units }]),
                ShelfCommand::Pick(units) if units > self.units => Err(ShelfError::NotEnough { available: self.units }),
                ShelfCommand::Pick(units) => Ok(vec![ShelfEvent::Picked { units }]),
            }
        }

        fn evolve(&mut self, event: &ShelfEvent) {
            match event {
                ShelfEvent::Received { units } => self.units += units,
                ShelfEvent::Picked { units } => self.units -= units,
            }
        }
    }

    #[test]
    fn picking_what_is_on_the_shelf_leaves_the_rest() {
        let shelf = Scenario::<Shelf>::given([ShelfEvent::Received { units: 5 }])
            .when(ShelfCommand::Pick(3))
            .then([ShelfEvent::Picked { units: 3 }]);
        assert_eq!(shelf.units, 2);
    }

    #[test]
    fn picking_more_than_is_there_is_refused() {
        Scenario::<Shelf>::given([ShelfEvent::Received { units: 2 }])
            .when(ShelfCommand::Pick(3))
            .then_error(ShelfError::NotEnough { available: 2 });
    }

    #[test]
    fn picking_nothing_changes_nothing() {
        Scenario::<Shelf>::nothing().when(ShelfCommand::Pick(0)).then_nothing();
    }

    #[test]
    #[should_panic(expected = "the events differ")]
    fn a_wrong_expectation_fails_the_scenario() {
        Scenario::<Shelf>::nothing()
            .when(ShelfCommand::Receive(1))
            .then([ShelfEvent::Received { units: 2 }]);
    }
}
