//! The sled store passes core's grant-store conformance kit.

use std::sync::Arc;

use idpkit_storage_sled::SledStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sled_store_passes_the_testkit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(SledStore::open(dir.path().join("idp.sled")).expect("open"));
    idpkit_core::testkit::grant_store::run_all(store.clone()).await;
    // Twice on the same directory: the kit uses fresh ids, and what the first run left
    // behind must read back after a reopen (sled locks the directory, so close it first).
    drop(store);
    let reopened = Arc::new(SledStore::open(dir.path().join("idp.sled")).expect("reopen"));
    idpkit_core::testkit::grant_store::run_all(reopened).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sled_store_passes_the_client_store_kit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = idpkit_storage_sled::SledStore::open(dir.path().join("db")).expect("open");
    idpkit_core::testkit::client_store::run_all(&store).await;
}
