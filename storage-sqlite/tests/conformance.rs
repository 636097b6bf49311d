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
    assert_eq!(reopened.schema_version().await.expect("version"), 1);
    idpkit_core::testkit::grant_store::run_all(reopened).await;
}
