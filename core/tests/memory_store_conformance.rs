//! The in-memory grant store passes core's conformance kit.

#[tokio::test]
async fn memory_grant_store_passes_the_testkit() {
    let store = std::sync::Arc::new(idpkit_core::MemoryGrantStore::new());
    idpkit_core::testkit::grant_store::run_all(store).await;
}

#[tokio::test]
async fn memory_client_registry_passes_the_testkit() {
    let registry = idpkit_core::MemoryClientRegistry::new();
    idpkit_core::testkit::client_store::run_all(&registry).await;
}
