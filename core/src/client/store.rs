//! Where clients are looked up ([`ClientStore`]), the registering kind ([`ClientRegistry`])
//! and clients configured in code ([`StaticClients`]).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use super::Client;
use crate::error::ConfigError;
use crate::store::StoreError;

/// Where clients are looked up.
///
/// # Contract
/// `find` answers `Ok(None)` for an unknown client; errors are storage failures only. Returned
/// clients have been validated by [`ClientBuilder::build`](crate::ClientBuilder::build).
#[async_trait]
pub trait ClientStore: Send + Sync + 'static {
    /// The client with `client_id`.
    async fn find(&self, client_id: &str) -> Result<Option<Arc<Client>>, StoreError>;
    /// Whether some client allows browser calls from `origin` (answers CORS preflights of
    /// the token, userinfo and revocation endpoints). Default: no origin is allowed.
    async fn origin_allowed(&self, origin: &str) -> Result<bool, StoreError> {
        let _ = origin;
        Ok(false)
    }
}

/// A client store that can also register and remove clients (the persistent backends).
///
/// # Contract
/// `register` inserts or replaces the client with the same id; `remove` of an unknown id is
/// not an error; `find` returns what was registered, validated again on the way out.
/// `idpkit_core::testkit::client_store::run_all` checks this.
#[async_trait]
pub trait ClientRegistry: ClientStore {
    /// Inserts or replaces a client.
    async fn register(&self, client: &Client) -> Result<(), StoreError>;
    /// Removes a client; returns whether it existed.
    async fn remove(&self, client_id: &str) -> Result<bool, StoreError>;
}

/// Clients configured in code.
#[derive(Debug, Default, Clone)]
pub struct StaticClients {
    clients: HashMap<String, Arc<Client>>,
}

impl StaticClients {
    /// A list of clients; a duplicate client id is a configuration error.
    pub fn new(clients: impl IntoIterator<Item = Client>) -> Result<Self, ConfigError> {
        let mut map = HashMap::new();
        for c in clients {
            let id = c.id.clone();
            if map.insert(id.clone(), Arc::new(c)).is_some() {
                return Err(ConfigError::Client {
                    client_id: id,
                    reason: "registered twice".into(),
                });
            }
        }
        Ok(Self { clients: map })
    }

    /// The clients, for the provider builder's checks against the provider's settings.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Client> {
        self.clients.values().map(|c| c.as_ref())
    }
}

#[async_trait]
impl ClientStore for StaticClients {
    async fn find(&self, client_id: &str) -> Result<Option<Arc<Client>>, StoreError> {
        Ok(self.clients.get(client_id).cloned())
    }

    async fn origin_allowed(&self, origin: &str) -> Result<bool, StoreError> {
        Ok(self
            .clients
            .values()
            .any(|c| c.allowed_origins.iter().any(|o| o == origin)))
    }
}
