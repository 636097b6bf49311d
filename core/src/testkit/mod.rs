//! Conformance kits that every backend runs against itself (feature `testkit`).
//!
//! A backend crate's `tests/conformance.rs` is a few lines (here with the memory store in
//! place of the backend):
//! ```
//! # async fn grant_store_conformance() {
//! let store = std::sync::Arc::new(idpkit_core::MemoryGrantStore::new());
//! idpkit_core::testkit::grant_store::run_all(store).await;
//! # }
//! ```

pub mod client_store;
pub mod flows;
pub mod grant_store;
pub mod key_provider;
pub mod processes;
pub mod users;
