//! The [`Provider`] and its builder, which refuses unsafe configurations.

use std::sync::Arc;

use time::Duration;

use crate::Algorithm;
use crate::client::ClientStore;
use crate::clock::Clock;
use crate::config::Config;
use crate::federation::{AccountLinker, Subprovider};
use crate::grant::Grant;
use crate::keys::KeyProvider;
use crate::services::Services;
use crate::store::GrantStore;
use crate::users::UserStore;

mod builder;

pub use builder::ProviderBuilder;

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) grants: Arc<dyn GrantStore>,
    pub(crate) keys: Arc<dyn KeyProvider>,
    pub(crate) clients: Arc<dyn ClientStore>,
    pub(crate) users: Arc<dyn UserStore>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) discovery: Arc<[u8]>,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) upstreams: Vec<Arc<dyn Subprovider>>,
    pub(crate) linker: Arc<dyn AccountLinker>,
    /// The token endpoint's grants: the built-in ones, then the host's extension grants.
    pub(crate) grants_table: Vec<Arc<dyn Grant>>,
    /// Our published keys, parsed once per JWKS (userinfo, introspection, revocation).
    pub(crate) key_sets: crate::jose::KeySetCache,
    /// Clients' `jwks_uri` key sets (public keys), cached.
    pub(crate) client_keys: crate::client_keys::ClientKeyCache,
    /// How back-channel logout tokens are sent (none: they are not).
    pub(crate) http: Option<Arc<dyn crate::http::HttpClient>>,
    /// Fetches on a self-registered client's behalf, through the SSRF guard.
    pub(crate) client_fetch: Option<Arc<dyn crate::http::HttpClient>>,
    /// The SSRF-guarded client for POSTs to a self-registered client's URIs (back-channel
    /// logout).
    pub(crate) client_notify: Option<Arc<dyn crate::http::HttpClient>>,
    /// Client ID metadata documents (on only).
    pub(crate) metadata_documents: Option<Arc<crate::client_id_metadata_document::Resolver>>,
    /// What the host does when a guest token is upgraded (none: nothing).
    pub(crate) guest_upgrade_hook: Option<Arc<dyn crate::guest::GuestUpgradeHook>>,
    /// Where dynamically registered clients live (registration on only).
    pub(crate) client_registry: Option<Arc<dyn crate::ClientRegistry>>,
    /// The host's review of registrations (RFC 7591).
    pub(crate) registration_hook: Option<Arc<dyn crate::registration::RegistrationHook>>,
    /// The host's check of authorization details (RFC 9396).
    pub(crate) authorization_details_policy: Arc<dyn crate::AuthorizationDetailsPolicy>,
    /// Pairwise clients' checked `sector_identifier_uri` documents, cached.
    pub(crate) pairwise: crate::pairwise::Readiness,
}

impl Inner {
    /// The provider's parts, borrowed for the rules and grants that need them.
    pub(crate) fn services(&self) -> Services<'_> {
        Services {
            config: &self.config,
            grants: self.grants.as_ref(),
            keys: self.keys.as_ref(),
            users: self.users.as_ref(),
            upstreams: &self.upstreams,
            algorithms: &self.algorithms,
            key_sets: &self.key_sets,
            guest_upgrade_hook: self.guest_upgrade_hook.as_deref(),
            authorization_details_policy: self.authorization_details_policy.as_ref(),
        }
    }
}

/// An OpenID Provider: cheap to clone, shareable across tasks.
#[derive(Clone)]
pub struct Provider {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("issuer", &self.inner.config.issuer)
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// Starts building a provider for `issuer` (e.g. `https://login.example.com`).
    pub fn builder(issuer: impl Into<String>) -> ProviderBuilder {
        ProviderBuilder::new(issuer.into())
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The issuer identifier.
    pub fn issuer(&self) -> &str {
        &self.inner.config.issuer
    }

    /// The grant store (hosts run [`GrantStore::purge_expired`] through it periodically,
    /// together with [`Provider::purge_unused_clients`]).
    pub fn grant_store(&self) -> &Arc<dyn GrantStore> {
        &self.inner.grants
    }

    /// Deletes the anonymously registered clients (dynamic registration under
    /// [`RegistrationPolicy::Open`](crate::RegistrationPolicy::Open)) whose
    /// [`unused_client_ttl`](crate::ProviderBuilder::unused_client_ttl) is over and that never
    /// completed a token request, whether or not anyone looks them up again: hosts run it
    /// periodically, next to [`GrantStore::purge_expired`]. Works in bounded batches through
    /// the registry's index ([`ClientRegistry::unused_registrations`]); clients in use are
    /// kept and not looked at again. Returns how many clients were deleted (0 when
    /// registration is off).
    ///
    /// [`ClientRegistry::unused_registrations`]: crate::ClientRegistry::unused_registrations
    pub async fn purge_unused_clients(&self) -> Result<u64, crate::StoreError> {
        let Some(registry) = &self.inner.client_registry else {
            return Ok(0);
        };
        crate::registration::purge_unused(
            registry.as_ref(),
            self.inner.grants.as_ref(),
            self.inner.config.registration.unused_client_ttl,
            self.now(),
            crate::registration::PURGE_BATCH,
        )
        .await
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// Whether a browser at `origin` may call the token, userinfo and revocation endpoints
    /// (CORS). Discovery and the JWKS are public to every origin; the authorization endpoint
    /// to none.
    pub async fn cors_allowed(&self, origin: &str) -> bool {
        match self.inner.clients.origin_allowed(origin).await {
            Ok(yes) => yes,
            Err(e) => {
                tracing::warn!(error = %crate::logging::untrusted(&e), "idpkit: CORS origin lookup failed");
                false
            }
        }
    }

    /// The HTTP client for fetches on `client`'s behalf: the SSRF-guarded one for a
    /// self-registered client (its URLs are its own), the host's for a configured one.
    pub(crate) fn http_for(&self, client: &crate::Client) -> Option<&dyn crate::http::HttpClient> {
        if client.is_self_registered() {
            self.inner.client_fetch.as_deref()
        } else {
            self.inner.http.as_deref()
        }
    }

    /// Why `client_id`'s metadata document was refused, when it is a client identifier
    /// URL that was (and is not fetched again yet): for the `error_description`.
    pub(crate) fn metadata_document_failure(&self, client_id: &str) -> Option<String> {
        self.inner.metadata_documents.as_ref()?.failure(client_id)
    }

    pub(crate) fn now(&self) -> time::OffsetDateTime {
        self.inner.clock.now()
    }

    /// The `sub` client `client_id` is given for local subject `local`: pairwise for a
    /// pairwise client (OIDC Core §8.1), else `local` (also for a client no longer
    /// registered).
    pub(crate) async fn subject_seen_by(
        &self,
        client_id: &str,
        local: &str,
    ) -> Result<String, crate::store::StoreError> {
        Ok(match self.inner.clients.find(client_id).await? {
            Some(c) => crate::pairwise::subject_for(&self.inner.config, &c, local),
            None => local.to_owned(),
        })
    }

    /// Refuses a client the provider cannot serve as registered
    /// ([`crate::pairwise::Readiness`]): a pairwise client without the provider's
    /// pairwise secret or whose `sector_identifier_uri` does not list its redirect URIs
    /// (OIDC Core §8.1), a `userinfo_signed_response_alg` without a key. Called when a
    /// client is used at the authorization, device authorization and token endpoints.
    pub(crate) async fn client_ready(
        &self,
        client: &crate::Client,
    ) -> Result<(), crate::OAuthError> {
        self.inner
            .pairwise
            .check(
                &self.inner.config,
                &self.inner.algorithms,
                client,
                self.http_for(client),
                self.now(),
            )
            .await
            .map_err(|reason| {
                tracing::warn!(client_id = %crate::logging::untrusted(client.id()), %reason, "idpkit: client refused");
                crate::OAuthError::new(
                    crate::ErrorCode::UnauthorizedClient,
                    "the client's registration cannot be served (sector_identifier_uri or provider settings)",
                )
            })
    }

    /// The brute-force guard a host's login page calls around its password check
    /// ([`LoginGuard`](crate::LoginGuard)); its counters are in the grant store.
    pub fn login_guard(&self) -> crate::LoginGuard<'_> {
        crate::LoginGuard::new(
            self.inner.grants.as_ref(),
            &self.inner.config.rate_limits,
            self.now(),
        )
    }

    /// An absolute URL of an endpoint path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.inner.config.issuer, path)
    }

    /// The `Set-Cookie` value of `cookie` for this provider (see [`crate::config::set_cookie`]).
    pub(crate) fn cookie(
        &self,
        cookie: crate::config::Cookie,
        value: &str,
        max_age: Duration,
    ) -> String {
        crate::config::set_cookie(cookie, self.inner.config.secure_cookies, value, max_age)
    }

    /// The value of `cookie` in `req`, under this provider's name for it only.
    pub(crate) fn read_cookie<'r>(
        &self,
        req: &'r crate::http_types::Request,
        cookie: crate::config::Cookie,
    ) -> Option<&'r str> {
        req.cookie(self.inner.config.cookie_name(cookie))
    }
}
