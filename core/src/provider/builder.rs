//! [`ProviderBuilder`]: every setting, validated once at [`ProviderBuilder::build`], which
//! names the knob it refuses.

use std::sync::Arc;

use time::Duration;

use super::{Inner, Provider};
use crate::Algorithm;
use crate::client::{ClientStore, StaticClients};
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, Paths};
use crate::error::ConfigError;
use crate::federation::{AccountLinker, HashedSubject, Subprovider};
use crate::grant::Grant;
use crate::keys::KeyProvider;
use crate::store::GrantStore;
use crate::users::UserStore;

/// Builds a [`Provider`]; [`build`](Self::build) validates everything and names what it refuses.
pub struct ProviderBuilder {
    config: Config,
    grants: Option<Arc<dyn GrantStore>>,
    keys: Option<Arc<dyn KeyProvider>>,
    clients: Option<Arc<dyn ClientStore>>,
    /// The clients, when given as [`StaticClients`] (checked by `build`).
    static_clients: Option<StaticClients>,
    users: Option<Arc<dyn UserStore>>,
    clock: Arc<dyn Clock>,
    development: bool,
    upstreams: Vec<Arc<dyn Subprovider>>,
    linker: Arc<dyn AccountLinker>,
    extension_grants: Vec<Arc<dyn Grant>>,
    http: Option<Arc<dyn crate::http::HttpClient>>,
    untrusted_http: Option<Arc<dyn crate::http::HttpClient>>,
    token_exchange_policy: Arc<dyn crate::token_exchange::TokenExchangePolicy>,
    token_exchange_trust: Option<Arc<crate::validate::Validator>>,
    guest_upgrade_hook: Option<Arc<dyn crate::guest::GuestUpgradeHook>>,
    client_registry: Option<Arc<dyn crate::ClientRegistry>>,
    registration_hook: Option<Arc<dyn crate::registration::RegistrationHook>>,
    authorization_details_policy: Arc<dyn crate::AuthorizationDetailsPolicy>,
}

impl std::fmt::Debug for ProviderBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ProviderBuilder {
    pub(super) fn new(issuer: String) -> Self {
        Self {
            config: Config {
                issuer,
                code_ttl: Duration::seconds(60),
                access_token_ttl: Duration::hours(1),
                id_token_ttl: Duration::hours(1),
                refresh_token_ttl: Duration::days(14),
                refresh_token_absolute_ttl: Duration::days(30),
                interaction_ttl: Duration::minutes(10),
                session_ttl: Duration::days(14),
                session_idle_ttl: Duration::days(1),
                consent_ttl: Duration::days(365),
                device_code_ttl: Duration::minutes(10),
                device_poll_interval: Duration::seconds(5),
                guest_token_ttl: Duration::days(7),
                refresh_reuse_grace: None,
                signing_alg: Algorithm::RS256,
                max_body_bytes: 64 * 1024,
                paths: Paths::default(),
                secure_cookies: true,
                rate_limits: crate::rate_limit::RateLimits::default(),
                profile: crate::profile::Profile::Default,
                logout_revokes: crate::config::LogoutRevokes::default(),
                logout_skip_confirmation_with_session_hint: false,
                pushed_authorization_request_ttl: Duration::seconds(60),
                require_pushed_authorization_requests: false,
                resources: Vec::new(),
                authorization_details_types_supported: Vec::new(),
                dpop: crate::dpop::DpopRules::default(),
                dpop_required: false,
                client_jwt: crate::config::ClientJwtConfig::default(),
                pairwise_secret: None,
                registration: crate::registration::RegistrationSettings::default(),
                client_id_metadata_documents: Default::default(),
                dangerous_allow_loopback_fetch: false,
            },
            grants: None,
            keys: None,
            clients: None,
            static_clients: None,
            users: None,
            clock: Arc::new(SystemClock),
            development: false,
            upstreams: Vec::new(),
            linker: Arc::new(HashedSubject),
            extension_grants: Vec::new(),
            http: None,
            untrusted_http: None,
            token_exchange_policy: Arc::new(crate::token_exchange::RefuseAllExchanges),
            token_exchange_trust: None,
            guest_upgrade_hook: None,
            client_registry: None,
            registration_hook: None,
            authorization_details_policy: Arc::new(crate::AcceptRegisteredTypes),
        }
    }

    /// The settings as they stand (unit tests of rules that read them).
    #[cfg(test)]
    pub(crate) fn config_for_tests(&self) -> Config {
        self.config.clone()
    }

    /// Lifetime of a pushed authorization request's `request_uri` (RFC 9126 §2.2
    /// `expires_in`; default 60 s, between 1 second and 10 minutes). It is single use
    /// whatever its lifetime: the authorization request that names it consumes it.
    pub fn pushed_authorization_request_ttl(mut self, ttl: Duration) -> Self {
        self.config.pushed_authorization_request_ttl = ttl;
        self
    }

    /// Requires every client to push its authorization requests first (RFC 9126 §5;
    /// discovery then says `require_pushed_authorization_requests: true`). A client can
    /// require it for itself alone
    /// ([`ClientBuilder::require_pushed_authorization_requests`](crate::ClientBuilder::require_pushed_authorization_requests)).
    pub fn require_pushed_authorization_requests(mut self, yes: bool) -> Self {
        self.config.require_pushed_authorization_requests = yes;
        self
    }

    /// Registers a protected resource (RFC 8707): clients may name its URI with
    /// `resource` at the authorization, token and refresh requests, and get access tokens
    /// whose `aud` is its audience, with the scopes it accepts. A `resource` that names no
    /// registered resource is refused with `invalid_target`. URIs must be unique.
    pub fn resource(mut self, resource: crate::Resource) -> Self {
        self.config.resources.push(resource);
        self
    }

    /// The `authorization_details` types the provider supports (RFC 9396 §10
    /// `authorization_details_types_supported`, advertised in discovery). A client may
    /// still only use the types it registered
    /// ([`ClientBuilder::authorization_details_types`](crate::ClientBuilder::authorization_details_types));
    /// when this list is set, a type must be in both. Unset, discovery does not advertise
    /// the member (the client store cannot be listed to compute it).
    pub fn authorization_details_types_supported<S: Into<String>>(
        mut self,
        types: impl IntoIterator<Item = S>,
    ) -> Self {
        self.config.authorization_details_types_supported =
            types.into_iter().map(Into::into).collect();
        self
    }

    /// The host's check of `authorization_details` content (RFC 9396): see
    /// [`AuthorizationDetailsPolicy`](crate::AuthorizationDetailsPolicy). Default
    /// [`AcceptRegisteredTypes`](crate::AcceptRegisteredTypes).
    pub fn authorization_details_policy(
        mut self,
        policy: impl crate::AuthorizationDetailsPolicy,
    ) -> Self {
        self.authorization_details_policy = Arc::new(policy);
        self
    }

    /// Who may exchange what at the token endpoint (RFC 8693 token exchange, for clients
    /// registered with [`GrantType::TokenExchange`](crate::GrantType::TokenExchange)). The
    /// default, [`RefuseAllExchanges`](crate::RefuseAllExchanges), refuses every exchange
    /// with `unauthorized_client`; [`ExchangeRules`](crate::ExchangeRules) is a ready-made
    /// policy of per-client rules.
    pub fn token_exchange_policy(
        mut self,
        policy: impl crate::token_exchange::TokenExchangePolicy,
    ) -> Self {
        self.token_exchange_policy = Arc::new(policy);
        self
    }

    /// Opts token exchange into subject and actor tokens of types
    /// `urn:ietf:params:oauth:token-type:id_token` and `...:jwt` (RFC 8693 §3): JWTs that
    /// `validator` accepts (its trusted issuers, their keys, audiences and `typ` rule; give
    /// it the provider's clock). This provider's own ID tokens are accepted when the
    /// validator trusts its issuer with its keys and `required_type(None)`. The subject of
    /// such a token must be a user the [`UserStore`] knows (the issuers trusted here must
    /// share the host's subject namespace); the policy still decides (see
    /// [`ExchangeRule::subject_issuer`](crate::ExchangeRule::subject_issuer)). Without
    /// this, only this provider's access tokens are exchanged.
    pub fn token_exchange_trust(mut self, validator: crate::validate::Validator) -> Self {
        self.token_exchange_trust = Some(Arc::new(validator));
        self
    }

    /// Default lifetime of guest tokens ([`GrantType::Guest`](crate::GrantType::Guest);
    /// default 7 days); a client may set its own
    /// ([`ClientBuilder::guest_token_ttl`](crate::ClientBuilder::guest_token_ttl)).
    pub fn guest_token_ttl(mut self, ttl: Duration) -> Self {
        self.config.guest_token_ttl = ttl;
        self
    }

    /// Turns on dynamic client registration (RFC 7591) and management (RFC 7592) under
    /// `policy`, storing registered clients in `registry`. Give every instance the same
    /// shared registry (SQLite, PostgreSQL): the provider finds clients in the
    /// [`clients`](Self::clients) store first, then in the registry. See the README's
    /// "Dynamic client registration".
    pub fn dynamic_client_registration(
        mut self,
        registry: Arc<dyn crate::ClientRegistry>,
        policy: crate::registration::RegistrationPolicy,
    ) -> Self {
        self.client_registry = Some(registry);
        self.config.registration.policy = policy;
        self
    }

    /// The host's review of each registration and update ([`RegistrationHook`]: it may edit
    /// or refuse).
    ///
    /// [`RegistrationHook`]: crate::RegistrationHook
    pub fn registration_hook(mut self, hook: impl crate::registration::RegistrationHook) -> Self {
        self.registration_hook = Some(Arc::new(hook));
        self
    }

    /// The scopes a dynamically registered client may ask for (default `openid profile
    /// email offline_access`).
    pub fn registration_scopes<S: Into<String>>(
        mut self,
        scopes: impl IntoIterator<Item = S>,
    ) -> Self {
        self.config.registration.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// How long an anonymously registered client ([`RegistrationPolicy::Open`]) lives
    /// without completing a token request (default 24 hours): after that, it is deleted
    /// when next looked up, or by [`Provider::purge_unused_clients`] (which hosts run
    /// periodically), whichever comes first. A client that has obtained a token once is kept.
    ///
    /// [`Provider::purge_unused_clients`]: crate::Provider::purge_unused_clients
    ///
    /// [`RegistrationPolicy::Open`]: crate::RegistrationPolicy::Open
    pub fn unused_client_ttl(mut self, ttl: Duration) -> Self {
        self.config.registration.unused_client_ttl = ttl;
        self
    }

    /// Trusts the software statements (RFC 7591 §2.3) `issuer` signs: a registration or
    /// update carrying one that verifies has the statement's claims take precedence over
    /// its plain JSON members (§3.1.1), and the statement is echoed in the answer. A
    /// statement no trusted issuer signed is `unapproved_software_statement`; a malformed,
    /// expired or badly signed one `invalid_software_statement`. Repeatable.
    pub fn software_statement_issuer(
        mut self,
        issuer: crate::software_statement::SoftwareStatementIssuer,
    ) -> Self {
        self.config
            .registration
            .software_statement_issuers
            .push(issuer);
        self
    }

    /// Requires a trusted software statement in every registration and update (default
    /// off): one without is `invalid_software_statement`.
    pub fn require_software_statement(mut self, required: bool) -> Self {
        self.config.registration.require_software_statement = required;
        self
    }

    /// The largest registration request body (default 16 KiB, at most
    /// [`max_body_bytes`](Self::max_body_bytes)); larger is `invalid_client_metadata`.
    pub fn registration_max_bytes(mut self, bytes: usize) -> Self {
        self.config.registration.max_bytes = bytes;
        self
    }

    /// What the host does when a guest token is upgraded at login
    /// ([`Provider::upgrade_guest`], or the token endpoint's `guest_token` parameter): told
    /// the guest's and the user's subjects, it merges the guest's state (a cart) into the
    /// user's. Without one, an upgrade merges nothing.
    pub fn guest_upgrade_hook(mut self, hook: impl crate::guest::GuestUpgradeHook) -> Self {
        self.guest_upgrade_hook = Some(Arc::new(hook));
        self
    }

    /// What a logout revokes besides the session ([`LogoutRevokes`](crate::LogoutRevokes);
    /// default: the session's grants except `offline_access` ones).
    pub fn logout_revokes(mut self, policy: crate::config::LogoutRevokes) -> Self {
        self.config.logout_revokes = policy;
        self
    }

    /// Whether a logout whose `id_token_hint` names the browser's current session skips
    /// the user's confirmation (default `false`: RP-Initiated Logout §2 says the OP SHOULD
    /// ask the user; a valid hint of the session proves the client sent the request).
    pub fn logout_skip_confirmation_with_session_hint(mut self, skip: bool) -> Self {
        self.config.logout_skip_confirmation_with_session_hint = skip;
        self
    }

    /// The HTTP client back-channel logout tokens are sent with (OpenID Connect
    /// Back-Channel Logout 1.0). Without one, no logout token is sent and discovery says
    /// `backchannel_logout_supported: false`.
    pub fn http_client(mut self, http: Arc<dyn crate::http::HttpClient>) -> Self {
        self.http = Some(http);
        self
    }

    /// The HTTP client for fetches on a client's behalf: client ID metadata documents, and
    /// the `jwks_uri` and `sector_identifier_uri` of self-registered clients (dynamic
    /// registration, metadata documents). Give it one that refuses special-use addresses
    /// after name resolution (the facade's `ReqwestClient::public_only()`); without it,
    /// [`http_client`](Self::http_client) is used. Either way core refuses non-https URLs,
    /// special-use IP literals and `localhost` first, and never follows a redirect
    /// ([`crate::ssrf`]).
    pub fn untrusted_http_client(mut self, http: Arc<dyn crate::http::HttpClient>) -> Self {
        self.untrusted_http = Some(http);
        self
    }

    /// Accepts an https URL as `client_id` and fetches the client's metadata from it
    /// (draft-ietf-oauth-client-id-metadata-document; [`crate::client_id_metadata_document`]).
    /// Default `false`. Needs an HTTP client ([`untrusted_http_client`](Self::untrusted_http_client)
    /// or [`http_client`](Self::http_client)). Discovery then says
    /// `client_id_metadata_document_supported: true`.
    pub fn client_id_metadata_documents(mut self, yes: bool) -> Self {
        self.config.client_id_metadata_documents.enabled = yes;
        self
    }

    /// The largest client ID metadata document read (default
    /// [`MAX_DOCUMENT_BYTES`](crate::client_id_metadata_document::MAX_DOCUMENT_BYTES),
    /// 5 KiB; at most 64 KiB).
    pub fn client_id_metadata_document_max_bytes(mut self, max: usize) -> Self {
        self.config.client_id_metadata_documents.max_bytes = max;
        self
    }

    /// **Dangerous, tests only**: fetches on a client's behalf (metadata documents,
    /// `jwks_uri`, `sector_identifier_uri`) may reach loopback addresses (127.0.0.0/8,
    /// `::1`, `localhost`), so tests can serve them from 127.0.0.1. Every other
    /// special-use address stays refused. Default `false`; never in production
    /// (draft-ietf-oauth-client-id-metadata-document §8.6). Warns at build.
    pub fn dangerous_allow_loopback_fetch(mut self, yes: bool) -> Self {
        self.config.dangerous_allow_loopback_fetch = yes;
        self
    }

    /// Client assertions (`private_key_jwt`, `client_secret_jwt`) must name the issuer
    /// identifier alone, as a string, in `aud` (default `false`: the token endpoint URL is
    /// accepted too, RFC 7523 §3). FAPI 2.0 §5.3.2.1 requires `true`.
    pub fn client_assertion_audience_issuer_only(mut self, yes: bool) -> Self {
        self.config.client_jwt.assertion_audience_issuer_only = yes;
        self
    }

    /// How far in the future `iat` / `nbf` of a client assertion or request object may be
    /// (default 10 s; at most 60 s, FAPI 2.0 §5.3.2.1).
    pub fn client_jwt_clock_skew(mut self, skew: Duration) -> Self {
        self.config.client_jwt.clock_skew = skew;
        self
    }

    /// The longest client assertion accepted, `exp` minus `iat` (default 5 minutes, at
    /// most 1 hour).
    pub fn client_assertion_max_lifetime(mut self, lifetime: Duration) -> Self {
        self.config.client_jwt.assertion_max_lifetime = lifetime;
        self
    }

    /// The longest request object accepted, `exp` minus `nbf` / `iat` (default and
    /// maximum 60 minutes, FAPI 2.0 §5.3.2.1).
    pub fn request_object_max_lifetime(mut self, lifetime: Duration) -> Self {
        self.config.client_jwt.request_object_max_lifetime = lifetime;
        self
    }

    /// The asymmetric algorithms client assertions and request objects may be signed with,
    /// server-wide (default all four; FAPI 2.0 §5.4.1: PS256, ES256, EdDSA). Discovery
    /// lists only these. An empty list is refused by `build`.
    pub fn client_jwt_algorithms(mut self, algs: impl IntoIterator<Item = Algorithm>) -> Self {
        self.config.client_jwt.algorithms = algs.into_iter().collect();
        self
    }

    /// Whether `client_secret_jwt` (HMAC) assertions are accepted at all (default `true`).
    /// With `false`, discovery no longer lists it and such clients cannot authenticate.
    pub fn client_secret_jwt_allowed(mut self, yes: bool) -> Self {
        self.config.client_jwt.client_secret_jwt = yes;
        self
    }

    /// How long a client's fetched `jwks_uri` is cached (default 10 minutes, between 10
    /// seconds and 1 day).
    pub fn client_jwks_max_age(mut self, age: Duration) -> Self {
        self.config.client_jwt.jwks_max_age = age;
        self
    }

    /// Brute-force and flood limits: client authentication failures, interactions started,
    /// login failures ([`RateLimits`](crate::RateLimits) has the defaults). The counters
    /// live in the grant store, so instances sharing it share the limits.
    pub fn rate_limits(mut self, limits: crate::rate_limit::RateLimits) -> Self {
        self.config.rate_limits = limits;
        self
    }

    /// The grant store (required).
    pub fn grant_store(mut self, store: impl GrantStore) -> Self {
        self.grants = Some(Arc::new(store));
        self
    }

    /// The grant store, shared.
    pub fn grant_store_arc(mut self, store: Arc<dyn GrantStore>) -> Self {
        self.grants = Some(store);
        self
    }

    /// The key provider (required).
    pub fn keys(mut self, keys: impl KeyProvider) -> Self {
        self.keys = Some(Arc::new(keys));
        self
    }

    /// The key provider, shared.
    pub fn keys_arc(mut self, keys: Arc<dyn KeyProvider>) -> Self {
        self.keys = Some(keys);
        self
    }

    /// The client store (required). Clients given as [`StaticClients`] are checked
    /// against the provider's settings by [`build`](Self::build) (a pairwise client needs
    /// a [`pairwise_secret`](Self::pairwise_secret), a `userinfo_signed_response_alg`
    /// needs a key of that algorithm); clients of other stores are checked when first used
    /// at the authorization and token endpoints, and refused then.
    pub fn clients(mut self, clients: impl ClientStore) -> Self {
        if let Some(list) = (&clients as &dyn std::any::Any).downcast_ref::<StaticClients>() {
            self.static_clients = Some(list.clone());
        }
        self.clients = Some(Arc::new(clients));
        self
    }

    /// The secret pairwise subject identifiers are derived with (OIDC Core §8.1, see
    /// [`crate::pairwise`]): at least 32 random bytes, required when any client is
    /// `pairwise`. **Every instance needs the same secret**: the pairwise `sub` is
    /// computed from it, the sector and the local subject, with nothing stored per pair,
    /// so instances sharing the secret agree, and changing it changes every pairwise
    /// `sub` (clients would see new users). Keep it like a signing key.
    pub fn pairwise_secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.config.pairwise_secret = Some(crate::pairwise::PairwiseSecret::new(secret));
        self
    }

    /// The user store (required).
    pub fn users(mut self, users: impl UserStore) -> Self {
        self.users = Some(Arc::new(users));
        self
    }

    /// The user store, shared (a host that also reads it elsewhere).
    pub fn users_arc(mut self, users: Arc<dyn UserStore>) -> Self {
        self.users = Some(users);
        self
    }

    /// The clock (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Allows development backends (in-memory grants, ephemeral keys) and an http issuer on
    /// loopback hosts. Each is still logged as a warning.
    pub fn dangerous_allow_development_backends(mut self) -> Self {
        self.development = true;
        self
    }

    /// Authorization code lifetime (at most 10 minutes).
    pub fn code_ttl(mut self, ttl: Duration) -> Self {
        self.config.code_ttl = ttl;
        self
    }

    /// Access token lifetime.
    pub fn access_token_ttl(mut self, ttl: Duration) -> Self {
        self.config.access_token_ttl = ttl;
        self
    }

    /// ID token lifetime.
    pub fn id_token_ttl(mut self, ttl: Duration) -> Self {
        self.config.id_token_ttl = ttl;
        self
    }

    /// Refresh token lifetime (default 14 days), sliding: every rotation issues a token
    /// valid this long, up to the absolute lifetime.
    pub fn refresh_token_ttl(mut self, ttl: Duration) -> Self {
        self.config.refresh_token_ttl = ttl;
        self
    }

    /// Absolute refresh token lifetime (default 30 days), counted from the user's original
    /// authentication (`auth_time`): a grant refreshed however often ends then, and the
    /// user must log in again. A client may override it
    /// ([`ClientBuilder::refresh_token_absolute_ttl`](crate::ClientBuilder::refresh_token_absolute_ttl)).
    pub fn refresh_token_absolute_ttl(mut self, ttl: Duration) -> Self {
        self.config.refresh_token_absolute_ttl = ttl;
        self
    }

    /// SSO session lifetime, absolute: from the login (default 14 days).
    pub fn session_ttl(mut self, ttl: Duration) -> Self {
        self.config.session_ttl = ttl;
        self
    }

    /// SSO session idle lifetime: a session unused this long ends (default 1 day).
    pub fn session_idle_ttl(mut self, ttl: Duration) -> Self {
        self.config.session_idle_ttl = ttl;
        self
    }

    /// Device code lifetime (default 10 minutes, at most 1 hour): how long the user has to
    /// enter the user code and approve (RFC 8628 §3.2 `expires_in`).
    pub fn device_code_ttl(mut self, ttl: Duration) -> Self {
        self.config.device_code_ttl = ttl;
        self
    }

    /// The polling interval devices are told (default 5 seconds, RFC 8628 §3.2; between 1
    /// and 60 seconds). A device polling faster gets `slow_down`, and its interval grows by
    /// 5 seconds each time (§3.5).
    pub fn device_poll_interval(mut self, interval: Duration) -> Self {
        self.config.device_poll_interval = interval;
        self
    }

    /// Refresh-token reuse grace window (off by default, at most 60 s).
    ///
    /// Semantics: when a client presents a refresh token that was rotated less than
    /// `window` ago, and this is the first such replay, the request is treated as a retry of
    /// a lost response: the successor issued by the rotation is revoked and a new one is
    /// issued in the same family. A second replay, or any replay after the window, is reuse:
    /// the whole family is revoked. The one-retry rule is enforced by an atomic `consume`, so
    /// it holds across instances sharing the store.
    pub fn refresh_reuse_grace(mut self, window: Duration) -> Self {
        self.config.refresh_reuse_grace = Some(window);
        self
    }

    /// How DPoP proofs (RFC 9449) are checked at the token and UserInfo endpoints: the
    /// accepted algorithms (published as `dpop_signing_alg_values_supported`), the `iat`
    /// window (default: at most 5 min old, 60 s ahead), server nonces. Default
    /// [`DpopRules::default`](crate::dpop::DpopRules::default).
    pub fn dpop(mut self, rules: crate::dpop::DpopRules) -> Self {
        self.config.dpop = rules;
        self
    }

    /// Requires a server nonce in every DPoP proof (RFC 9449 §8): a proof without the
    /// current nonce is answered `use_dpop_nonce` with a fresh `DPoP-Nonce` header. Nonces
    /// live in the grant store, so any instance accepts a nonce another one issued.
    pub fn dpop_require_nonce(mut self, required: bool) -> Self {
        self.config.dpop.require_nonce = required;
        self
    }

    /// Enforces a security profile. [`Profile::Fapi2`](crate::Profile::Fapi2), the FAPI 2.0
    /// Security Profile (Final), sets what the profile fixes, over any other setting:
    /// pushed authorization requests required, DPoP required for every token request with
    /// PS256 / ES256 / EdDSA proofs, client assertions with the issuer as their only
    /// audience and PS256 / ES256 / EdDSA signatures (`client_secret_jwt` off), a
    /// refresh-token retry window of at least 30 s; and checks per request PKCE S256 on
    /// every authorization request and `private_key_jwt` authentication of confidential
    /// clients only. `build` refuses a `signing_alg` other than PS256, ES256 or EdDSA and a
    /// `code_ttl` over 60 s. See [`Profile`](crate::Profile) for the clauses.
    pub fn profile(mut self, profile: crate::profile::Profile) -> Self {
        self.config.profile = profile;
        self
    }

    /// Requires a DPoP proof in every token request (sender-constrained tokens for every
    /// client, as FAPI 2.0 asks); per client, [`ClientBuilder::dpop_bound_access_tokens`](crate::ClientBuilder::dpop_bound_access_tokens).
    pub fn require_dpop(mut self, required: bool) -> Self {
        self.config.dpop_required = required;
        self
    }

    /// Default signing algorithm for ID tokens and JWT access tokens.
    pub fn signing_alg(mut self, alg: Algorithm) -> Self {
        self.config.signing_alg = alg;
        self
    }

    /// Largest accepted request body (default 64 KiB).
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.config.max_body_bytes = bytes;
        self
    }

    /// Adds an upstream identity provider (federation). Its name must be unique; users reach
    /// it through `idp_hint=NAME` (or `acr_values=idp:NAME`) or the host's login page.
    pub fn upstream(mut self, upstream: impl Subprovider) -> Self {
        self.upstreams.push(Arc::new(upstream));
        self
    }

    /// Like [`upstream`](Self::upstream), for a shared one.
    pub fn upstream_arc(mut self, upstream: Arc<dyn Subprovider>) -> Self {
        self.upstreams.push(upstream);
        self
    }

    /// How upstream identities become local subjects (default [`HashedSubject`]).
    pub fn account_linker(mut self, linker: impl AccountLinker) -> Self {
        self.linker = Arc::new(linker);
        self
    }

    /// Adds an extension grant (RFC 6749 §4.5) to the token endpoint: requests with its
    /// `grant_type` go to it, for clients that allow it
    /// ([`ClientBuilder::extension_grant`](crate::ClientBuilder::extension_grant)). Its
    /// grant type must be an absolute URI and unique. See [`Grant`].
    pub fn extension_grant(mut self, grant: impl Grant) -> Self {
        self.extension_grants.push(Arc::new(grant));
        self
    }

    /// Endpoint paths.
    pub fn paths(mut self, paths: Paths) -> Self {
        self.config.paths = paths;
        self
    }

    /// Validates the configuration and builds the provider.
    pub fn build(self) -> Result<Provider, ConfigError> {
        let mut config = self.config;
        let issuer_err = |reason| ConfigError::Issuer {
            issuer: config.issuer.clone(),
            reason,
        };
        let url = url::Url::parse(&config.issuer).map_err(|_| issuer_err("not an absolute URL"))?;
        if url.query().is_some()
            || url.fragment().is_some()
            || config.issuer.contains('?')
            || config.issuer.contains('#')
        {
            return Err(issuer_err(
                "an issuer has no query or fragment (RFC 8414 §2)",
            ));
        }
        if config.issuer.ends_with('/') {
            return Err(issuer_err("drop the trailing slash"));
        }
        let loopback = crate::redirect_uri::is_loopback(url.host());
        match url.scheme() {
            "https" => {}
            "http" if loopback => config.secure_cookies = false,
            "http" => {
                return Err(issuer_err(
                    "http is only allowed on loopback hosts; use https",
                ));
            }
            _ => return Err(issuer_err("the scheme must be https")),
        }
        if config.profile == crate::profile::Profile::Fapi2 {
            crate::profile::check_config(config.profile, config.signing_alg, config.code_ttl)?;
            let strict = crate::profile::FAPI2_ALGORITHMS.to_vec();
            config.require_pushed_authorization_requests = true;
            config.dpop_required = true;
            config.dpop = config.dpop.clone().with_algorithms(strict.clone());
            config.client_jwt.assertion_audience_issuer_only = true;
            config.client_jwt.algorithms.retain(|a| strict.contains(a));
            if config.client_jwt.algorithms.is_empty() {
                config.client_jwt.algorithms = strict;
            }
            config.client_jwt.client_secret_jwt = false;
            config.client_jwt.clock_skew = config.client_jwt.clock_skew.min(Duration::seconds(10));
            let retry = crate::profile::FAPI2_REFRESH_RETRY;
            config.refresh_reuse_grace =
                Some(config.refresh_reuse_grace.unwrap_or(retry).max(retry));
        }
        let grants = self.grants.ok_or(ConfigError::Missing("grant_store"))?;
        let keys = self.keys.ok_or(ConfigError::Missing("keys"))?;
        let clients = self.clients.ok_or(ConfigError::Missing("clients"))?;
        let client_registry = self
            .client_registry
            .filter(|_| config.registration.policy.is_on());
        let clients: Arc<dyn ClientStore> = match &client_registry {
            Some(registry) => Arc::new(crate::client::WithRegistry {
                configured: clients,
                registry: registry.clone(),
                grants: grants.clone(),
                clock: self.clock.clone(),
                unused_client_ttl: config.registration.unused_client_ttl,
            }),
            None => clients,
        };
        // Fetches on a client's behalf: through the SSRF guard (crate::ssrf).
        let guarded = |method: &'static str| -> Option<Arc<dyn crate::http::HttpClient>> {
            self.untrusted_http
                .clone()
                .or_else(|| self.http.clone())
                .map(|inner| {
                    Arc::new(crate::ssrf::Guarded {
                        inner,
                        allow_loopback: config.dangerous_allow_loopback_fetch,
                        method,
                    }) as Arc<dyn crate::http::HttpClient>
                })
        };
        let client_fetch = guarded("GET");
        // Back-channel logout notifications to a self-registered client's URI: guarded too.
        let client_notify = guarded("POST");
        if config.dangerous_allow_loopback_fetch {
            tracing::warn!(
                "idpkit: dangerous_allow_loopback_fetch is on: fetches on a client's behalf may reach loopback addresses (tests only)"
            );
        }
        let cimd = &config.client_id_metadata_documents;
        let metadata_documents = if cimd.enabled {
            let Some(http) = client_fetch.clone() else {
                return Err(ConfigError::Setting {
                    knob: "client_id_metadata_documents",
                    reason: "needs an HTTP client (http_client or untrusted_http_client)".into(),
                });
            };
            if cimd.max_bytes == 0 || cimd.max_bytes > 64 * 1024 {
                return Err(ConfigError::Setting {
                    knob: "client_id_metadata_document_max_bytes",
                    reason: "must be between 1 byte and 64 KiB".into(),
                });
            }
            Some(Arc::new(crate::client_id_metadata_document::Resolver::new(
                http,
                self.clock.clone(),
                cimd.max_bytes,
                config.registration.scopes.clone(),
            )))
        } else {
            None
        };
        let clients: Arc<dyn ClientStore> = match &metadata_documents {
            Some(resolver) => Arc::new(crate::client_id_metadata_document::WithMetadataDocuments {
                inner: clients,
                resolver: resolver.clone(),
            }),
            None => clients,
        };
        if config.registration.unused_client_ttl < Duration::minutes(1)
            || config.registration.unused_client_ttl > crate::client::MAX_TTL
        {
            return Err(ConfigError::Setting {
                knob: "unused_client_ttl",
                reason: "must be between 1 minute and 10 years".into(),
            });
        }
        if config.registration.max_bytes == 0
            || config.registration.max_bytes > config.max_body_bytes
        {
            return Err(ConfigError::Setting {
                knob: "registration_max_bytes",
                reason: "must be between 1 and max_body_bytes".into(),
            });
        }
        let users = self.users.ok_or(ConfigError::Missing("users"))?;
        if grants.is_development() && !self.development {
            return Err(ConfigError::DevelopmentBackend {
                what: "the in-memory grant store",
            });
        }
        if keys.is_development() && !self.development {
            return Err(ConfigError::DevelopmentBackend {
                what: "the ephemeral development key provider",
            });
        }
        if config.code_ttl <= Duration::ZERO || config.code_ttl > Duration::minutes(10) {
            return Err(ConfigError::Setting {
                knob: "code_ttl",
                reason: "must be between 1 second and 10 minutes (RFC 6749 §4.1.2)".into(),
            });
        }
        for (knob, ttl) in [
            ("access_token_ttl", config.access_token_ttl),
            ("id_token_ttl", config.id_token_ttl),
            ("refresh_token_ttl", config.refresh_token_ttl),
            (
                "refresh_token_absolute_ttl",
                config.refresh_token_absolute_ttl,
            ),
            ("session_ttl", config.session_ttl),
            ("session_idle_ttl", config.session_idle_ttl),
            ("interaction_ttl", config.interaction_ttl),
            ("consent_ttl", config.consent_ttl),
            ("guest_token_ttl", config.guest_token_ttl),
        ] {
            if ttl <= Duration::ZERO || ttl > crate::client::MAX_TTL {
                return Err(ConfigError::Setting {
                    knob,
                    reason: "must be between 1 second and 10 years".into(),
                });
            }
        }
        if config.device_code_ttl < Duration::seconds(10)
            || config.device_code_ttl > Duration::hours(1)
        {
            return Err(ConfigError::Setting {
                knob: "device_code_ttl",
                reason: "must be between 10 seconds and 1 hour (RFC 8628 §3.2)".into(),
            });
        }
        if config.device_poll_interval < Duration::seconds(1)
            || config.device_poll_interval > Duration::seconds(60)
        {
            return Err(ConfigError::Setting {
                knob: "device_poll_interval",
                reason: "must be between 1 and 60 seconds (RFC 8628 §3.2)".into(),
            });
        }
        if config.pushed_authorization_request_ttl < Duration::seconds(1)
            || config.pushed_authorization_request_ttl > Duration::minutes(10)
        {
            return Err(ConfigError::Setting {
                knob: "pushed_authorization_request_ttl",
                reason: "must be between 1 second and 10 minutes (RFC 9126 §2.2: short)".into(),
            });
        }
        for (i, r) in config.resources.iter().enumerate() {
            let reason = r.problem().or_else(|| {
                config.resources[..i]
                    .iter()
                    .any(|o| o.uri() == r.uri())
                    .then(|| format!("resource {:?} is registered twice", r.uri()))
            });
            if let Some(reason) = reason {
                return Err(ConfigError::Setting {
                    knob: "resource",
                    reason,
                });
            }
        }
        if let Some(g) = config.refresh_reuse_grace
            && (g <= Duration::ZERO || g > Duration::seconds(60))
        {
            return Err(ConfigError::Setting {
                knob: "refresh_reuse_grace",
                reason: "must be between 1 and 60 seconds".into(),
            });
        }
        let jwt = &config.client_jwt;
        for (knob, value, min, max) in [
            (
                "client_jwt_clock_skew",
                jwt.clock_skew,
                Duration::ZERO,
                Duration::seconds(60),
            ),
            (
                "client_assertion_max_lifetime",
                jwt.assertion_max_lifetime,
                Duration::seconds(1),
                Duration::hours(1),
            ),
            (
                "request_object_max_lifetime",
                jwt.request_object_max_lifetime,
                Duration::seconds(1),
                Duration::hours(1),
            ),
            (
                "client_jwks_max_age",
                jwt.jwks_max_age,
                Duration::seconds(10),
                Duration::days(1),
            ),
        ] {
            if value < min || value > max {
                return Err(ConfigError::Setting {
                    knob,
                    reason: format!("must be between {min} and {max}"),
                });
            }
        }
        if jwt.algorithms.is_empty() {
            return Err(ConfigError::Setting {
                knob: "client_jwt_algorithms",
                reason: "name at least one algorithm".into(),
            });
        }
        let mut algorithms = keys.algorithms();
        if config.profile == crate::profile::Profile::Fapi2 {
            // Only the profile's algorithms are published and verified (§5.4).
            algorithms.retain(|a| crate::profile::FAPI2_ALGORITHMS.contains(a));
        }
        if !algorithms.contains(&config.signing_alg) {
            return Err(ConfigError::Setting {
                knob: "signing_alg",
                reason: format!(
                    "the key provider has no active {} key (it signs with {:?})",
                    config.signing_alg, algorithms
                ),
            });
        }
        if let Some(secret) = &config.pairwise_secret
            && secret.len() < crate::pairwise::MIN_SECRET_BYTES
        {
            return Err(ConfigError::Setting {
                knob: "pairwise_secret",
                reason: format!(
                    "must be at least {} bytes",
                    crate::pairwise::MIN_SECRET_BYTES
                ),
            });
        }
        for c in self.static_clients.iter().flat_map(StaticClients::iter) {
            crate::pairwise::servable(&config, &algorithms, c)?;
        }
        if !algorithms.contains(&Algorithm::RS256)
            && config.profile != crate::profile::Profile::Fapi2
        {
            tracing::warn!("idpkit: no RS256 key; OpenID Connect requires RS256 for ID tokens");
        }
        if self.development {
            tracing::warn!("idpkit: development backends are allowed for this provider");
        }
        let mut names = std::collections::HashSet::new();
        for u in &self.upstreams {
            let name = u.name();
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            {
                return Err(ConfigError::Setting {
                    knob: "upstream",
                    reason: format!(
                        "upstream name {name:?}: use letters, digits, '-', '_' and '.' only"
                    ),
                });
            }
            if !names.insert(name.to_owned()) {
                return Err(ConfigError::Setting {
                    knob: "upstream",
                    reason: format!("two upstreams are named {name:?}"),
                });
            }
        }
        let mut grants_table =
            crate::grant::built_in(crate::grant::token_exchange::TokenExchange {
                policy: self.token_exchange_policy,
                trust: self.token_exchange_trust,
            });
        for g in self.extension_grants {
            let name = g.grant_type();
            if !crate::client::is_absolute_uri(name)
                || grants_table.iter().any(|t| t.grant_type() == name)
            {
                return Err(ConfigError::Setting {
                    knob: "extension_grant",
                    reason: format!(
                        "grant type {name:?} must be an absolute URI (RFC 6749 §4.5) that no other grant uses"
                    ),
                });
            }
            grants_table.push(g);
        }
        let grant_types: Vec<&str> = grants_table.iter().map(|g| g.grant_type()).collect();
        let decryption: Vec<crate::jose::jwe::EncryptionJwk> = keys
            .decryption_keys()
            .iter()
            .map(|k| k.public_jwk().clone())
            .collect();
        let discovery = crate::discovery::document(
            &config,
            &algorithms,
            &grant_types,
            self.http.is_some(),
            &decryption,
        );
        let client_keys = crate::client_keys::ClientKeyCache::new(config.client_jwt.jwks_max_age);
        Ok(Provider {
            inner: Arc::new(Inner {
                config,
                grants,
                keys,
                clients,
                users,
                clock: self.clock,
                discovery,
                algorithms,
                upstreams: self.upstreams,
                linker: self.linker,
                grants_table,
                key_sets: crate::jose::KeySetCache::new(),
                client_keys,
                http: self.http,
                client_fetch,
                client_notify,
                metadata_documents,
                guest_upgrade_hook: self.guest_upgrade_hook,
                client_registry,
                registration_hook: self.registration_hook,
                authorization_details_policy: self.authorization_details_policy,
                pairwise: crate::pairwise::Readiness::default(),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{Client, StaticClients};
    use crate::keys::LocalKeys;
    use crate::store::MemoryGrantStore;
    use crate::users::{Claims, UserStore};

    struct NoUsers;
    #[async_trait::async_trait]
    impl UserStore for NoUsers {
        async fn claims(
            &self,
            _: &str,
            _: &[String],
        ) -> Result<Option<Claims>, crate::store::StoreError> {
            Ok(None)
        }
    }

    fn build(issuer: &str) -> Result<Provider, ConfigError> {
        let client = Client::confidential("c", "s")
            .grant_types([crate::client::GrantType::ClientCredentials])
            .build()
            .expect("valid client");
        Provider::builder(issuer)
            .grant_store(MemoryGrantStore::new())
            .keys(LocalKeys::ephemeral_for_development().expect("keys"))
            .clients(StaticClients::new([client]).expect("clients"))
            .users(NoUsers)
            // ES256: the ring backend's development keys have no RSA key.
            .signing_alg(Algorithm::ES256)
            .dangerous_allow_development_backends()
            .build()
    }

    #[test]
    fn client_jwt_knobs_are_bounded_fapi2_5_3_2_1() {
        let base = || {
            Provider::builder("https://idp.example")
                .grant_store(MemoryGrantStore::new())
                .keys(LocalKeys::ephemeral_for_development().expect("keys"))
                .clients(StaticClients::new([]).expect("clients"))
                .users(NoUsers)
                .signing_alg(Algorithm::ES256)
                .dangerous_allow_development_backends()
        };
        let knob = |b: ProviderBuilder| match b.build() {
            Err(ConfigError::Setting { knob, .. }) => knob,
            other => panic!("expected a refused knob, got {:?}", other.map(|_| ())),
        };
        assert_eq!(
            knob(base().client_jwt_clock_skew(Duration::seconds(61))),
            "client_jwt_clock_skew"
        );
        assert_eq!(
            knob(base().request_object_max_lifetime(Duration::minutes(61))),
            "request_object_max_lifetime"
        );
        assert_eq!(
            knob(base().client_assertion_max_lifetime(Duration::ZERO)),
            "client_assertion_max_lifetime"
        );
        assert_eq!(
            knob(base().client_jwks_max_age(Duration::seconds(1))),
            "client_jwks_max_age"
        );
        let p = base()
            .client_jwt_clock_skew(Duration::seconds(60))
            .client_assertion_audience_issuer_only(true)
            .build()
            .expect("builds");
        assert!(p.config().client_jwt.assertion_audience_issuer_only);
        assert_eq!(p.config().client_jwt.clock_skew, Duration::seconds(60));
    }

    #[test]
    fn http_issuer_only_on_a_loopback_ip_or_localhost_rfc8414_2() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:8080",
            "http://[::1]:8080",
        ] {
            let p = build(ok).expect(ok);
            assert!(
                !p.config().secure_cookies,
                "{ok}: no Secure on loopback http"
            );
        }
        for bad in [
            "http://127.evil.example",
            "http://127.0.0.1.nip.io",
            "http://login.example",
        ] {
            assert!(
                matches!(build(bad), Err(ConfigError::Issuer { .. })),
                "{bad} must be refused"
            );
        }
        assert!(
            build("https://login.example")
                .expect("https")
                .config()
                .secure_cookies
        );
    }

    #[test]
    fn issuer_with_query_fragment_or_trailing_slash_is_refused_rfc8414_2() {
        for bad in [
            "https://login.example/?x=1",
            "https://login.example#f",
            "https://login.example/",
            "ftp://login.example",
            "login.example",
        ] {
            assert!(
                matches!(build(bad), Err(ConfigError::Issuer { .. })),
                "{bad} must be refused"
            );
        }
    }
}
