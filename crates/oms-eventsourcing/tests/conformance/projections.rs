//! Read-model rows: upserted with the batch, the last value per key winning.

use oms_eventsourcing::testing::TestStore;

use crate::shelves::start_time;

/// Read-model rows are upserted with the batch: the last value per key wins, names are apart.
pub(crate) async fn projection_rows_are_upserted_with_the_batch(t: TestStore) {
    use oms_eventsourcing::store::{CommitBatch, ProjectionRow};
    let row = |name: &str, key: &str, value: &str| ProjectionRow {
        name: name.into(),
        key: key.into(),
        value: value.as_bytes().to_vec(),
    };
    let first = CommitBatch {
        projections: vec![
            row("atp", "sku-1", "3"),
            row("atp", "sku-1", "5"),
            row("atp", "sku-2", "1"),
        ],
        recorded_at: start_time(),
        ..CommitBatch::default()
    };
    t.store.commit(&first).await.unwrap();
    let second = CommitBatch {
        projections: vec![row("atp", "sku-2", "0"), row("other", "sku-1", "x")],
        recorded_at: start_time(),
        ..CommitBatch::default()
    };
    t.store.commit(&second).await.unwrap();
    let mut atp = t.store.load_projection("atp").await.unwrap();
    atp.sort();
    assert_eq!(
        atp,
        vec![
            ("sku-1".to_string(), b"5".to_vec()),
            ("sku-2".to_string(), b"0".to_vec())
        ]
    );
    assert_eq!(t.store.load_projection("other").await.unwrap().len(), 1);
    assert!(t.store.load_projection("none").await.unwrap().is_empty());
}
