//! The outbox: rows relayed in order without skipping one committed late, and what a relay
//! leaves behind counted.

use oms_eventsourcing::CommitBatch;
use oms_eventsourcing::store::OutboxPosition;
use oms_eventsourcing::testing::TestStore;
use uuid::Uuid;

use crate::shelves::{announcement, batch_of, start_time};

/// Outbox rows are relayed in order, and a transaction that took its row first but
/// commits last is still relayed: the relay never skips it.
pub(crate) async fn the_outbox_never_skips_a_row_committed_late(t: TestStore) {
    let (slow, url_or_path) = open_raw_writer(&t).await;
    // The slow transaction takes the first id and keeps its transaction open.
    let mut slow = slow;
    raw_outbox_insert(&mut slow, &url_or_path).await;

    // A fast transaction commits after it (on SQLite it has to wait for the write lock).
    let store = t.store.clone();
    let fast = tokio::spawn(async move {
        let mut batch = batch_of(vec![]);
        batch.outbox.push(announcement("fast", "Fast", start_time()));
        store.commit(&batch).await
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let mut cursor = OutboxPosition::default();
    let mut relayed = Vec::new();
    for record in t.store.read_outbox(cursor, 100).await.unwrap() {
        cursor = record.position;
        relayed.push(record.message.message_type);
    }
    assert!(
        relayed.is_empty(),
        "nothing may be relayed past the open transaction: {relayed:?}"
    );

    commit_raw(slow).await;
    fast.await.unwrap().unwrap();
    for record in t.store.read_outbox(cursor, 100).await.unwrap() {
        assert!(record.position > cursor);
        cursor = record.position;
        relayed.push(record.message.message_type);
    }
    assert_eq!(relayed, vec!["Slow".to_string(), "Fast".to_string()]);
    assert!(t.store.read_outbox(cursor, 100).await.unwrap().is_empty());

    // The relay's cursor survives a restart.
    t.store.save_relay_cursor("kafka", cursor).await.unwrap();
    assert_eq!(t.reopen().await.relay_cursor("kafka").await.unwrap(), cursor);
}

/// What a relay leaves in the outbox when it stops is counted from its cursor on.
pub(crate) async fn the_outbox_rows_after_a_cursor_are_counted(t: TestStore) {
    let batch = CommitBatch {
        outbox: ["placed", "routed", "shipped"]
            .map(|what| announcement("A", what, start_time()))
            .to_vec(),
        recorded_at: start_time(),
        ..CommitBatch::default()
    };
    t.store.commit(&batch).await.unwrap();
    assert_eq!(t.store.outbox_rows_after(OutboxPosition::default()).await.unwrap(), 3);
    // The relay reads rows once no older transaction (of any test) is still running.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let rows = loop {
        let rows = t.store.read_outbox(OutboxPosition::default(), 10).await.unwrap();
        if rows.len() == 3 || std::time::Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(rows.len(), 3);
    assert_eq!(t.store.outbox_rows_after(rows[0].position).await.unwrap(), 2);
    assert_eq!(t.store.outbox_rows_after(rows[2].position).await.unwrap(), 0);
}

// Raw access for the outbox gap scenario: a second connection that holds a transaction
// open, as a concurrent writer would.

enum RawWriter {
    Postgres(sqlx::PgConnection),
    Sqlite(sqlx::SqliteConnection),
}

async fn open_raw_writer(t: &TestStore) -> (RawWriter, String) {
    use sqlx::Connection;
    match &t.config {
        oms_eventsourcing::StoreConfig::Postgres { url, schema, .. } => {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("SET search_path TO \"{schema}\"")))
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
            (RawWriter::Postgres(conn), url.clone())
        }
        oms_eventsourcing::StoreConfig::Sqlite { path } => {
            let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{path}"))
                .await
                .unwrap();
            sqlx::query("BEGIN IMMEDIATE").execute(&mut conn).await.unwrap();
            (RawWriter::Sqlite(conn), path.clone())
        }
    }
}

async fn raw_outbox_insert(raw: &mut RawWriter, _: &str) {
    let id = Uuid::now_v7();
    match raw {
        RawWriter::Postgres(conn) => {
            sqlx::query(
                "INSERT INTO outbox (message_id, topic, message_key, message_type, payload, created_at) \
                 VALUES ($1, 'test.shelves', 'slow', 'Slow', '\\x00', now())",
            )
            .bind(id)
            .execute(conn)
            .await
            .unwrap();
        }
        RawWriter::Sqlite(conn) => {
            sqlx::query(
                "INSERT INTO outbox (message_id, topic, message_key, message_type, payload, created_at) \
                 VALUES (?1, 'test.shelves', 'slow', 'Slow', x'00', 0)",
            )
            .bind(id)
            .execute(conn)
            .await
            .unwrap();
        }
    }
}

async fn commit_raw(raw: RawWriter) {
    match raw {
        RawWriter::Postgres(mut conn) => {
            sqlx::query("COMMIT").execute(&mut conn).await.unwrap();
        }
        RawWriter::Sqlite(mut conn) => {
            sqlx::query("COMMIT").execute(&mut conn).await.unwrap();
        }
    }
}
