//! Where clients are looked up ([`ClientStore`]), the registering kind ([`ClientRegistry`])
//! and clients configured in code ([`StaticClients`]).

use std::collections::{BTreeSet, HashMap, HashSet};
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
/// Both methods run on every request that names a client or carries an `Origin`, so their
/// cost must not grow with the number of clients: `origin_allowed` is answered from an
/// index of origins (exact string equality), never by reading every client.
#[async_trait]
pub trait ClientStore: Send + Sync + 'static {
    /// The client with `client_id`.
    async fn find(&self, client_id: &str) -> Result<Option<Arc<Client>>, StoreError>;
    /// Whether some client allows browser calls from `origin` (answers CORS preflights of
    /// the token, userinfo and revocation endpoints): one of its
    /// [`allowed_origins`](Client::allowed_origins) equals `origin`. Default: no origin is
    /// allowed.
    async fn origin_allowed(&self, origin: &str) -> Result<bool, StoreError> {
        let _ = origin;
        Ok(false)
    }
}

/// A client store that can also register and remove clients (the persistent backends).
///
/// # Contract
/// - `register` inserts or replaces the client with the same id; `remove` of an unknown id
///   is not an error; `find` returns what was registered, validated again on the way out.
/// - The origin index behind [`origin_allowed`](ClientStore::origin_allowed) changes with
///   the client, atomically: after `register` it holds exactly the registered client's
///   [`allowed_origins`](Client::allowed_origins) (a replaced client's old origins are gone),
///   after `remove` none of the removed client's, and an origin two clients allow stays
///   allowed until both have dropped it.
/// - [`unused_registrations`](Self::unused_registrations) is an indexed query of anonymous
///   registrations by issue time (bounded by `limit`, never a scan of every client);
///   [`keep_registration`](Self::keep_registration) takes one off that list until `register`
///   replaces it. A registry that leaves both at their defaults loses unused anonymous
///   clients only when they are looked up.
///
/// `idpkit_core::testkit::client_store::run_all` checks this.
#[async_trait]
pub trait ClientRegistry: ClientStore {
    /// Inserts or replaces a client.
    async fn register(&self, client: &Client) -> Result<(), StoreError>;
    /// Removes a client; returns whether it existed.
    async fn remove(&self, client_id: &str) -> Result<bool, StoreError>;
    /// The ids of anonymous registrations (dynamically registered under
    /// [`RegistrationPolicy::Open`](crate::RegistrationPolicy::Open), see
    /// [`anonymous_issued_at`](crate::backend::anonymous_issued_at)) issued at or before
    /// `issued_at_or_before` and not kept since they were registered: at most `limit`, oldest
    /// first. [`Provider::purge_unused_clients`](crate::Provider::purge_unused_clients)
    /// deletes the ones that never completed a token request and keeps the others.
    /// Default: none.
    async fn unused_registrations(
        &self,
        issued_at_or_before: time::OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let _ = (issued_at_or_before, limit);
        Ok(Vec::new())
    }
    /// Takes the registration `client_id` off the [`unused_registrations`](Self::unused_registrations)
    /// list (it is in use); registering it again puts it back. An unknown id is not an error.
    /// Default: nothing to do.
    async fn keep_registration(&self, client_id: &str) -> Result<(), StoreError> {
        let _ = client_id;
        Ok(())
    }
}

/// Clients configured in code.
#[derive(Debug, Default, Clone)]
pub struct StaticClients {
    clients: HashMap<String, Arc<Client>>,
    origins: HashSet<String>,
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
        let origins = map
            .values()
            .flat_map(|c| c.allowed_origins.iter().cloned())
            .collect();
        Ok(Self {
            clients: map,
            origins,
        })
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
        Ok(self.origins.contains(origin))
    }
}

/// A [`ClientRegistry`] in process memory, for tests and single-instance development (a
/// deployment with several instances needs a shared one: SQLite or PostgreSQL). Clients are
/// held in their stored form and validated again when found, like the persistent backends;
/// origins and unused anonymous registrations are indexed. Clones share the same clients.
#[derive(Debug, Default, Clone)]
pub struct MemoryClientRegistry {
    state: Arc<std::sync::RwLock<MemoryClients>>,
}

#[derive(Debug, Default)]
struct MemoryClients {
    /// `client_id` → stored form, with what it is indexed under.
    clients: HashMap<String, MemoryClient>,
    /// origin → the clients allowing it.
    origins: HashMap<String, HashSet<String>>,
    /// `(client_id_issued_at, client_id)` of anonymous registrations not kept.
    unused: BTreeSet<(i64, String)>,
}

#[derive(Debug)]
struct MemoryClient {
    json: Vec<u8>,
    origins: Vec<String>,
    unused_since: Option<i64>,
}

impl MemoryClients {
    fn remove(&mut self, client_id: &str) -> bool {
        let Some(old) = self.clients.remove(client_id) else {
            return false;
        };
        for o in old.origins {
            if let Some(ids) = self.origins.get_mut(&o) {
                ids.remove(client_id);
                if ids.is_empty() {
                    self.origins.remove(&o);
                }
            }
        }
        if let Some(at) = old.unused_since {
            self.unused.remove(&(at, client_id.to_owned()));
        }
        true
    }
}

impl MemoryClientRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, MemoryClients> {
        // A poisoned lock only means a panic elsewhere; every change below completes its
        // index updates before it can panic (they allocate only).
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, MemoryClients> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl ClientStore for MemoryClientRegistry {
    async fn find(&self, client_id: &str) -> Result<Option<Arc<Client>>, StoreError> {
        let json = self.read().clients.get(client_id).map(|c| c.json.clone());
        json.map(|j| super::client_from_json(client_id, &j))
            .transpose()
    }

    async fn origin_allowed(&self, origin: &str) -> Result<bool, StoreError> {
        Ok(self.read().origins.contains_key(origin))
    }
}

#[async_trait]
impl ClientRegistry for MemoryClientRegistry {
    async fn register(&self, client: &Client) -> Result<(), StoreError> {
        let entry = MemoryClient {
            json: super::client_to_json(client),
            origins: client.allowed_origins.clone(),
            unused_since: super::anonymous_issued_at(client),
        };
        let id = client.id.clone();
        let mut guard = self.write();
        let state = &mut *guard;
        state.remove(&id);
        for o in &entry.origins {
            state
                .origins
                .entry(o.clone())
                .or_default()
                .insert(id.clone());
        }
        if let Some(at) = entry.unused_since {
            state.unused.insert((at, id.clone()));
        }
        state.clients.insert(id, entry);
        Ok(())
    }

    async fn remove(&self, client_id: &str) -> Result<bool, StoreError> {
        Ok(self.write().remove(client_id))
    }

    async fn unused_registrations(
        &self,
        issued_at_or_before: time::OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let until = issued_at_or_before.unix_timestamp();
        Ok(self
            .read()
            .unused
            .iter()
            .take_while(|(at, _)| *at <= until)
            .take(limit)
            .map(|(_, id)| id.clone())
            .collect())
    }

    async fn keep_registration(&self, client_id: &str) -> Result<(), StoreError> {
        let mut guard = self.write();
        let state = &mut *guard;
        if let Some(c) = state.clients.get_mut(client_id)
            && let Some(at) = c.unused_since.take()
        {
            state.unused.remove(&(at, client_id.to_owned()));
        }
        Ok(())
    }
}

/// The provider's client lookup when dynamic registration is on: the host's clients first,
/// then the registry's. An anonymous registration whose unused lifetime is over and that
/// never completed a token request is deleted here, on lookup, and is unknown from then on
/// (and by [`Provider::purge_unused_clients`](crate::Provider::purge_unused_clients) when
/// nobody looks it up).
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
