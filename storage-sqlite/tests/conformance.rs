//! The SQLite store passes core's grant-store conformance kit.

use std::sync::Arc;

use idpkit_storage_sqlite::SqliteStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_passes_the_testkit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(SqliteStore::open(dir.path().join("idp.db")).expect("open"));
    idpkit_core::testkit::grant_store::run_all(store.clone()).await;
    // Twice on the same file: the kit uses fresh ids, and reopening keeps the schema.
    let reopened = Arc::new(SqliteStore::open(dir.path().join("idp.db")).expect("reopen"));
    assert_eq!(reopened.schema_version().await.expect("version"), 2);
    idpkit_core::testkit::grant_store::run_all(reopened).await;
}

#[test]
fn purge_and_revoke_use_their_indexes_not_a_table_scan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("idp.db");
    drop(SqliteStore::open(&path).expect("open"));
    let conn = rusqlite::Connection::open(&path).expect("raw connection");
    let plan = |sql: &str| -> String {
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("explain");
        let rows = stmt.query_map([], |r| r.get::<_, String>(3)).expect("rows");
        rows.map(|r| r.expect("row"))
            .collect::<Vec<_>>()
            .join(" | ")
    };
    let purge = plan("DELETE FROM idpkit_grants WHERE expires_at <= 0");
    assert!(
        purge.contains("idpkit_grants_expiry"),
        "purge plan: {purge}"
    );
    let revoke = plan("DELETE FROM idpkit_grants WHERE grant_id = 'g'");
    assert!(
        revoke.contains("idpkit_grants_family"),
        "revoke plan: {revoke}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_passes_the_client_store_kit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path().join("idp.db")).expect("open");
    idpkit_core::testkit::client_store::run_all(&store).await;
}
