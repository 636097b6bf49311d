//! [`ValidatorBuilder`]: the knobs of a [`Validator`], checked at build.

use std::fmt;
use std::sync::Arc;

use time::Duration;

use super::jwks::IssuerState;
use super::{ClaimRule, JwksSource, TrustedIssuer, Validator};
use crate::clock::{Clock, SystemClock};
use crate::http::HttpClient;

/// The default of [`ValidatorBuilder::max_token_bytes`].
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 32 * 1024;

/// Builds a [`Validator`].
pub struct ValidatorBuilder {
    issuers: Vec<TrustedIssuer>,
    leeway: Duration,
    typ: Option<String>,
    scopes: Vec<String>,
    claims: Vec<(String, ClaimRule)>,
    ttl: Duration,
    refetch_interval: Duration,
    clock: Arc<dyn Clock>,
    http: Option<Arc<dyn HttpClient>>,
    introspection_ttl: Duration,
    max_token_bytes: usize,
    dpop: super::dpop::DpopSettings,
    metadata: Option<crate::protected_resource_metadata::ProtectedResourceMetadata>,
    decryption_keys: Vec<Arc<crate::jose::jwe::DecryptionKey>>,
}

impl fmt::Debug for ValidatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidatorBuilder")
            .field("issuers", &self.issuers)
            .finish_non_exhaustive()
    }
}

impl Validator {
    /// Starts a validator; add issuers with [`ValidatorBuilder::trust`].
    pub fn builder() -> ValidatorBuilder {
        ValidatorBuilder {
            issuers: Vec::new(),
            leeway: Duration::seconds(60),
            typ: Some("at+jwt".into()),
            scopes: Vec::new(),
            claims: Vec::new(),
            ttl: Duration::minutes(5),
            refetch_interval: Duration::seconds(30),
            clock: Arc::new(SystemClock),
            http: None,
            introspection_ttl: Duration::seconds(10),
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            dpop: super::dpop::DpopSettings::default(),
            metadata: None,
            decryption_keys: Vec::new(),
        }
    }
}

impl ValidatorBuilder {
    /// Trusts an issuer.
    pub fn trust(mut self, issuer: TrustedIssuer) -> Self {
        self.issuers.push(issuer);
        self
    }

    /// Clock skew allowed on `exp` and `nbf` (default 60 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Required header `typ` (default `at+jwt`); `None` accepts any.
    pub fn required_type(mut self, typ: Option<&str>) -> Self {
        self.typ = typ.map(str::to_owned);
        self
    }

    /// Scopes every token must carry.
    pub fn require_scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// A claim every token must carry.
    pub fn require_claim(mut self, name: impl Into<String>, rule: ClaimRule) -> Self {
        self.claims.push((name.into(), rule));
        self
    }

    /// How long a fetched JWKS is used (default 5 min).
    pub fn jwks_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The least time between two refetches caused by unknown `kid`s (default 30 s).
    pub fn refetch_interval(mut self, interval: Duration) -> Self {
        self.refetch_interval = interval;
        self
    }

    /// How long an introspection answer is reused (default 10 s; a revoked opaque token
    /// stops working at most this late).
    pub fn introspection_cache(mut self, ttl: Duration) -> Self {
        self.introspection_ttl = ttl;
        self
    }

    /// The longest token accepted, in bytes (default 32 KiB: large Entra ID tokens with
    /// group claims stay well below). Longer ones are refused before any decoding, with
    /// their size in the message.
    pub fn max_token_bytes(mut self, max: usize) -> Self {
        self.max_token_bytes = max;
        self
    }

    /// The URL this resource server is reached at from outside (scheme, host, port and
    /// any path prefix, e.g. `https://api.example`): a DPoP proof's `htu` must be it
    /// joined with the request's path ([`Validator::validate_request`]). Needed for DPoP
    /// tokens unless the caller passes absolute targets.
    pub fn external_url(mut self, url: impl Into<String>) -> Self {
        self.dpop.external_url = Some(url.into());
        self
    }

    /// How DPoP proofs are checked (algorithms, `iat` window; default
    /// [`DpopRules::default`](crate::dpop::DpopRules::default): ES256, PS256, EdDSA,
    /// RS256; at most 5 min old, 60 s ahead).
    pub fn dpop_rules(mut self, rules: crate::dpop::DpopRules) -> Self {
        self.dpop.rules = rules;
        self
    }

    /// Requires this resource server's nonce in DPoP proofs (RFC 9449 §9; default off):
    /// a proof without a current one is refused with `use_dpop_nonce`, and the refusal
    /// should carry [`Validator::dpop_nonce`] in `DPoP-Nonce` (`BearerAuth` does).
    pub fn dpop_require_nonce(mut self, required: bool) -> Self {
        self.dpop.rules.require_nonce = required;
        self
    }

    /// Where proof ids (replay) and nonces are remembered (default
    /// [`MemoryDpopStore`](super::MemoryDpopStore): this process only). With several
    /// instances, give them one shared store: [`StoreDpopStore`](super::StoreDpopStore)
    /// over an idpkit [`GrantStore`](crate::GrantStore).
    pub fn dpop_store(mut self, store: Arc<dyn super::DpopStore>) -> Self {
        self.dpop.store = store;
        self
    }

    /// Publishes this resource server's protected resource metadata (RFC 9728; default
    /// none): the document is built once, at [`build`](Self::build), and served by the
    /// facade's `BearerAuth` at its well-known path
    /// ([`well_known_path`](crate::protected_resource_metadata::well_known_path) of
    /// `metadata.resource`), whose URL its challenges then carry as `resource_metadata`
    /// (§5.1). Left empty, `authorization_servers` becomes the trusted issuers and
    /// `dpop_signing_alg_values_supported` the [`dpop_rules`](Self::dpop_rules)
    /// algorithms. `metadata.resource` is the resource identifier: normally the
    /// [`external_url`](Self::external_url) joined with the protected path (e.g.
    /// `https://api.example/mcp`), and the RFC 8707 `resource` clients ask tokens for.
    pub fn resource_metadata(
        mut self,
        metadata: crate::protected_resource_metadata::ProtectedResourceMetadata,
    ) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// The clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The HTTP client for JWKS and discovery fetches (needed unless every issuer has a
    /// static key set).
    pub fn http_client(mut self, http: Arc<dyn HttpClient>) -> Self {
        self.http = Some(http);
        self
    }

    /// A key that decrypts encrypted access tokens (a compact JWE, RFC 7516, as a
    /// provider's [`Resource::encrypt_access_tokens`](crate::Resource::encrypt_access_tokens)
    /// mints them): such a token is decrypted first, must be a nested JWT (`cty: JWT`),
    /// and the signed JWT inside is then validated as usual. Several keys may be given
    /// (rotation): the JWE's `kid` picks one. Without any, encrypted tokens are refused
    /// ([`Rejection::Undecryptable`](super::Rejection::Undecryptable)).
    pub fn decryption_key(mut self, key: crate::jose::jwe::DecryptionKey) -> Self {
        self.decryption_keys.push(Arc::new(key));
        self
    }

    /// Builds the validator; refuses one without issuers, or that needs HTTP without a client.
    pub fn build(self) -> Result<Validator, crate::error::ConfigError> {
        let setting = |knob, reason: &str| crate::error::ConfigError::Setting {
            knob,
            reason: reason.to_owned(),
        };
        if self.issuers.is_empty() {
            return Err(setting(
                "trust",
                "a validator needs at least one trusted issuer",
            ));
        }
        if self.http.is_none()
            && self
                .issuers
                .iter()
                .any(|i| !matches!(i.jwks, JwksSource::Static(_)))
        {
            return Err(setting(
                "http_client",
                "fetching a JWKS needs an HttpClient",
            ));
        }
        if self.issuers.iter().any(|i| i.audiences.is_empty()) {
            return Err(setting(
                "audiences",
                "every trusted issuer needs at least one accepted audience",
            ));
        }
        let metadata = match self.metadata {
            None => None,
            Some(mut m) => {
                if m.authorization_servers.is_empty() {
                    m.authorization_servers =
                        self.issuers.iter().map(|i| i.issuer.clone()).collect();
                }
                if m.dpop_signing_alg_values_supported.is_empty() {
                    m.dpop_signing_alg_values_supported = self
                        .dpop
                        .rules
                        .algorithms
                        .iter()
                        .map(|a| a.as_str().to_owned())
                        .collect();
                }
                Some(
                    crate::protected_resource_metadata::PublishedMetadata::new(&m)
                        .map_err(|e| setting("resource_metadata", &e.to_string()))?,
                )
            }
        };
        let issuers = self.issuers.into_iter().map(IssuerState::new).collect();
        Ok(Validator {
            issuers,
            leeway: self.leeway,
            typ: self.typ,
            scopes: self.scopes,
            claims: self.claims,
            ttl: self.ttl,
            refetch_interval: self.refetch_interval,
            clock: self.clock,
            http: self.http,
            introspected: std::sync::Mutex::new(std::collections::HashMap::new()),
            introspection_ttl: self.introspection_ttl,
            max_token_bytes: self.max_token_bytes,
            dpop: self.dpop,
            metadata,
            decryption_keys: self.decryption_keys,
        })
    }
}
