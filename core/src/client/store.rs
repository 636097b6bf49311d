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

/// A [`ClientRegistry`] in process memory, for tests and single-instance development (a
/// deployment with several instances needs a shared one: SQLite or PostgreSQL). Clients are
/// held in their stored form and validated again when found, like the persistent backends.
/// Clones share the same clients.
#[derive(Debug, Default, Clone)]
pub struct MemoryClientRegistry {
    clients: Arc<std::sync::RwLock<HashMap<String, Vec<u8>>>>,
}

impl MemoryClientRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Vec<u8>>> {
        // A poisoned lock only means a panic elsewhere mid-insert of a whole value.
        self.clients.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Vec<u8>>> {
        self.clients.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl ClientStore for MemoryClientRegistry {
    async fn find(&self, client_id: &str) -> Result<Option<Arc<Client>>, StoreError> {
        let json = self.read().get(client_id).cloned();
        json.map(|j| super::client_from_json(client_id, &j))
            .transpose()
    }

    async fn origin_allowed(&self, origin: &str) -> Result<bool, StoreError> {
        let all: Vec<(String, Vec<u8>)> = self
            .read()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        super::any_allows_origin(all, origin)
    }
}

#[async_trait]
impl ClientRegistry for MemoryClientRegistry {
    async fn register(&self, client: &Client) -> Result<(), StoreError> {
        let json = super::client_to_json(client);
        self.write().insert(client.id.clone(), json);
        Ok(())
    }

    async fn remove(&self, client_id: &str) -> Result<bool, StoreError> {
        Ok(self.write().remove(client_id).is_some())
    }
}

/// The provider's client lookup when dynamic registration is on: the host's clients first,
/// then the registry's. An anonymous registration whose unused lifetime is over and that
/// never completed a token request is deleted here, on lookup, and is unknown from then on.
pub(crate) struct WithRegistry {
    pub(crate) configured: Arc<dyn ClientStore>,
    pub(crate) registry: Arc<dyn ClientRegistry>,
    pub(crate) grants: Arc<dyn crate::GrantStore>,
    pub(crate) clock: Arc<dyn crate::Clock>,
    pub(crate) unused_client_ttl: time::Duration,
}

#[async_trait]
impl ClientStore for WithRegistry {
    async fn find(&self, client_id: &str) -> Result<Option<Arc<Client>>, StoreError> {
        if let Some(c) = self.configured.find(client_id).await? {
            return Ok(Some(c));
        }
        let Some(c) = self.registry.find(client_id).await? else {
            return Ok(None);
        };
        let now = self.clock.now();
        if let Some(d) = &c.dynamic
            && crate::registration::unused_lifetime_over(d, self.unused_client_ttl, now)
            && !crate::registration::was_used(self.grants.as_ref(), client_id, now).await?
        {
            self.registry.remove(client_id).await?;
            tracing::info!(client_id = %crate::logging::untrusted(client_id), "idpkit: unused registered client deleted");
            return Ok(None);
        }
        Ok(Some(c))
    }

    async fn origin_allowed(&self, origin: &str) -> Result<bool, StoreError> {
        // Dynamically registered clients have no CORS origins: only the host's count.
        self.configured.origin_allowed(origin).await
    }
}
