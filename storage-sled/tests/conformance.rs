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

/// A database written before the client indexes (clients only, no layout version) gets
/// them filled when opened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_a_database_from_before_the_client_indexes_fills_them() {
    use idpkit_core::{ClientRegistry, ClientStore};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let spa = idpkit_core::Client::public("spa")
        .redirect_uri("https://spa.example/cb")
        .allowed_origin("https://spa.example")
        .build()
        .expect("valid");
    {
        let db = sled::open(&path).expect("raw");
        let clients = db.open_tree("idpkit_clients").expect("tree");
        clients
            .insert("spa", idpkit_core::backend::client_to_json(&spa))
            .expect("insert");
        clients.insert("broken", &[0u8][..]).expect("insert");
        db.flush().expect("flush");
    }
    let store = idpkit_storage_sled::SledStore::open(&path).expect("open migrates");
    assert!(
        store
            .origin_allowed("https://spa.example")
            .await
            .expect("origin")
    );
    store.remove("spa").await.expect("remove");
    assert!(
        !store
            .origin_allowed("https://spa.example")
            .await
            .expect("origin")
    );
}
