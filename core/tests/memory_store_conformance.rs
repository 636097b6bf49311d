//! The in-memory grant store passes core's conformance kit.

#[tokio::test]
async fn memory_grant_store_passes_the_testkit() {
    let store = std::sync::Arc::new(idpkit_core::MemoryGrantStore::new());
    idpkit_core::testkit::grant_store::run_all(store).await;
}
