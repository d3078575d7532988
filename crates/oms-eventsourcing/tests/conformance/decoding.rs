//! Reading stored events back: older schema versions are upcast, and a row that cannot be
//! read is an error naming its stream and version.

use oms_eventsourcing::replay::{ReplayOptions, rebuild};
use oms_eventsourcing::store::NewEvent;
use oms_eventsourcing::testing::{TestBackend, TestStore};
use oms_eventsourcing::{DomainEvent, EventMeta, StoreError, event_type_names};
use serde::{Deserialize, Serialize};

use crate::shelves::{ShelfEvent, Shelves, batch_of, event_at};

/// Events written under an older schema version are upcast when read.
pub(crate) async fn old_event_versions_are_upcast_on_read(t: TestStore) {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    enum Counted {
        /// v1 stored `count`; v2 stores `units`.
        Added { units: u64 },
    }
    impl DomainEvent for Counted {
        event_type_names!(Counted { Added });
        fn schema_version(_: &str) -> u16 {
            2
        }
        fn upcast(_: &str, from: u16, mut json: serde_json::Value) -> Result<serde_json::Value, String> {
            if from != 1 {
                return Err(format!("unknown version {from}"));
            }
            let body = json
                .get_mut("Added")
                .and_then(|b| b.as_object_mut())
                .ok_or("not an Added")?;
            let count = body.remove("count").ok_or("no count")?;
            body.insert("units".into(), count);
            Ok(json)
        }
    }
    let mut old = event_at(
        "counter-1",
        1,
        &ShelfEvent::Received {
            shelf: "x".into(),
            units: 0,
        },
    );
    old.event_type = "Added";
    old.schema_version = 1;
    old.payload = br#"{"Added":{"count":7}}"#.to_vec();
    let current = NewEvent::from_event(
        EventMeta {
            version: 2,
            ..old.meta.clone()
        },
        &Counted::Added { units: 3 },
    )
    .unwrap();
    t.store.commit(&batch_of(vec![old, current])).await.unwrap();
    let events = t.store.load_stream::<Counted>("counter-1").await.unwrap();
    let units: Vec<_> = events.iter().map(|e| e.event.clone()).collect();
    assert_eq!(units, vec![Counted::Added { units: 7 }, Counted::Added { units: 3 }]);
}

/// A row that cannot be decoded is an error naming its stream and version, not a panic.
pub(crate) async fn a_corrupt_or_unknown_event_names_its_stream_and_version(t: TestStore) {
    let good = event_at(
        "shelf-Z",
        1,
        &ShelfEvent::Received {
            shelf: "Z".into(),
            units: 1,
        },
    );
    let mut garbage = event_at(
        "shelf-Z",
        2,
        &ShelfEvent::Received {
            shelf: "Z".into(),
            units: 1,
        },
    );
    garbage.payload = vec![0xff, 0x00, 0x13];
    let mut unknown = event_at(
        "shelf-Y",
        1,
        &ShelfEvent::Received {
            shelf: "Y".into(),
            units: 1,
        },
    );
    unknown.event_type = "Teleported";
    unknown.payload = br#"{"Teleported":{"shelf":"Y"}}"#.to_vec();
    t.store.commit(&batch_of(vec![good, garbage])).await.unwrap();

    let err = t.store.load_stream::<ShelfEvent>("shelf-Z").await.unwrap_err();
    assert!(
        matches!(err, StoreError::Corrupt { ref stream_id, version: 2, .. } if stream_id == "shelf-Z"),
        "{err}"
    );
    let err = rebuild::<Shelves>(&t.store, ReplayOptions::default(), |_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("event 2 of stream shelf-Z"), "{err}");

    let other = TestStore::new(if t.store.backend_name() == "postgres" {
        TestBackend::Postgres
    } else {
        TestBackend::Sqlite
    })
    .await;
    other.store.commit(&batch_of(vec![unknown])).await.unwrap();
    let err = rebuild::<Shelves>(&other.store, ReplayOptions::default(), |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Corrupt { ref stream_id, version: 1, ref reason, .. } if stream_id == "shelf-Y" && reason.contains("Teleported")),
        "{err}"
    );
}
