//! Registered clients and the [`ClientStore`] trait.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use time::Duration;

use crate::crypto;
use crate::error::ConfigError;
use crate::keys::Algorithm;
use crate::store::StoreError;

/// A grant type a client may use at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrantType {
    /// `authorization_code`.
    AuthorizationCode,
    /// `refresh_token`.
    RefreshToken,
    /// `client_credentials` (confidential clients only).
    ClientCredentials,
    /// `password`: only for clients that opt in with
    /// [`ClientBuilder::dangerous_allow_password_grant`].
    Password,
}

impl GrantType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
            Self::Password => "password",
        }
    }

    /// Parses a wire name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "authorization_code" => Some(Self::AuthorizationCode),
            "refresh_token" => Some(Self::RefreshToken),
            "client_credentials" => Some(Self::ClientCredentials),
            "password" => Some(Self::Password),
            _ => None,
        }
    }
}

/// How access tokens for a client are shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccessTokenFormat {
    /// RFC 9068 JWT, validated by resource servers locally.
    #[default]
    Jwt,
    /// A random reference, validated by introspection and revocable at once.
    Opaque,
}

/// The hash of a client secret. Secrets are never held in clear.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretHash([u8; 32]);

impl SecretHash {
    /// Hashes a secret (SHA-256). Client secrets must be high-entropy random strings.
    pub fn of(secret: &str) -> Self {
        Self(crypto::sha256(secret.as_bytes()))
    }

    /// A hash stored earlier ([`SecretHash::as_bytes`]).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The hash bytes, for storing.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Compares a presented secret in constant time.
    pub fn verify(&self, presented: &str) -> bool {
        crypto::constant_time_eq(&self.0, &crypto::sha256(presented.as_bytes()))
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(..)")
    }
}

/// A registered client. Built (and validated) by [`Client::confidential`] or
/// [`Client::public`] and [`ClientBuilder::build`].
#[derive(Debug, Clone)]
pub struct Client {
    /// `client_id`.
    pub id: String,
    /// Hash of the secret; `None` for a public client.
    pub secret: Option<SecretHash>,
    /// Registered redirect URIs, compared exactly.
    pub redirect_uris: Vec<String>,
    /// Allowed grant types.
    pub grant_types: Vec<GrantType>,
    /// Scopes the client may ask for.
    pub scopes: Vec<String>,
    /// `aud` of its access tokens: the APIs they are for. Empty (the default) means the
    /// issuer itself, i.e. tokens good for userinfo only; never the client id, which is an
    /// ID token's audience.
    pub audience: Vec<String>,
    /// First-party clients get no consent screen.
    pub first_party: bool,
    /// PKCE S256 required (always true for public clients).
    pub require_pkce: bool,
    /// Access token shape.
    pub access_token_format: AccessTokenFormat,
    /// Browser origins allowed to call the token and userinfo endpoints (CORS).
    pub allowed_origins: Vec<String>,
    /// Signing algorithm for ID tokens and JWT access tokens (default: the provider's).
    pub signing_alg: Option<Algorithm>,
    /// Per-client lifetimes overriding the provider's.
    pub access_token_ttl: Option<Duration>,
    /// Per-client refresh token lifetime.
    pub refresh_token_ttl: Option<Duration>,
    /// A native application (RFC 8252): loopback redirect URIs may use any port.
    pub native: bool,
    /// Extension grant types (RFC 6749 §4.5, absolute URIs) the client may use; each is
    /// served by a [`crate::grant::Grant`] added with
    /// [`ProviderBuilder::extension_grant`](crate::ProviderBuilder::extension_grant).
    pub extension_grants: Vec<String>,
}

impl Client {
    /// A confidential client authenticating with a secret (`client_secret_basic` or
    /// `client_secret_post`).
    pub fn confidential(id: impl Into<String>, secret: &str) -> ClientBuilder {
        ClientBuilder::new(id.into(), Some(SecretHash::of(secret)))
    }

    /// A confidential client whose secret is stored as a hash already.
    pub fn confidential_hashed(id: impl Into<String>, secret: SecretHash) -> ClientBuilder {
        ClientBuilder::new(id.into(), Some(secret))
    }

    /// A public client (`token_endpoint_auth_method=none`): PKCE is required.
    pub fn public(id: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(id.into(), None)
    }

    /// Whether the client holds a secret.
    pub fn is_confidential(&self) -> bool {
        self.secret.is_some()
    }

    /// Whether the client may use `grant`.
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// Whether the client may use the grant type named `grant_type` at the token endpoint:
    /// a built-in one it registered, or one of its extension grants.
    pub fn allows_grant_type(&self, grant_type: &str) -> bool {
        match GrantType::from_name(grant_type) {
            Some(g) => self.allows_grant(g),
            None => self.extension_grants.iter().any(|e| e == grant_type),
        }
    }

    /// Whether `scope` is allowed for the client.
    pub fn allows_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Whether `uri` is a registered redirect URI: exact string equality, except that a
    /// native client's loopback-IP redirect may use any port (RFC 8252 §7.3).
    pub fn redirect_uri_matches(&self, uri: &str) -> bool {
        crate::redirect_uri::matches(&self.redirect_uris, uri, self.native)
    }
}

/// Builds and validates a [`Client`].
#[derive(Debug)]
pub struct ClientBuilder {
    client: Client,
}

impl ClientBuilder {
    fn new(id: String, secret: Option<SecretHash>) -> Self {
        let public = secret.is_none();
        Self {
            client: Client {
                audience: Vec::new(),
                id,
                secret,
                redirect_uris: Vec::new(),
                grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
                scopes: vec!["openid".to_owned()],
                first_party: false,
                require_pkce: public,
                access_token_format: AccessTokenFormat::Jwt,
                allowed_origins: Vec::new(),
                signing_alg: None,
                access_token_ttl: None,
                refresh_token_ttl: None,
                native: false,
                extension_grants: Vec::new(),
            },
        }
    }

    /// Adds a redirect URI.
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.client.redirect_uris.push(uri.into());
        self
    }

    /// Sets the allowed grant types.
    pub fn grant_types(mut self, grants: impl IntoIterator<Item = GrantType>) -> Self {
        self.client.grant_types = grants.into_iter().collect();
        self
    }

    /// Sets the allowed scopes.
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.client.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the access token audience(s).
    pub fn audience<S: Into<String>>(mut self, aud: impl IntoIterator<Item = S>) -> Self {
        self.client.audience = aud.into_iter().map(Into::into).collect();
        self
    }

    /// Marks the client first-party: users are not asked for consent.
    pub fn first_party(mut self, yes: bool) -> Self {
        self.client.first_party = yes;
        self
    }

    /// Whether PKCE (S256) is required for this client. Public clients always need it (the
    /// default for them); confidential clients may opt in. Whenever a client sends a
    /// `code_challenge`, PKCE is enforced at the token endpoint regardless.
    pub fn require_pkce(mut self, yes: bool) -> Self {
        self.client.require_pkce = yes;
        self
    }

    /// Opts this client into the resource-owner password grant (RFC 6749 §4.3), which RFC
    /// 9700 says must not be used. Only for migrating legacy first-party apps.
    pub fn dangerous_allow_password_grant(mut self) -> Self {
        if !self.client.grant_types.contains(&GrantType::Password) {
            self.client.grant_types.push(GrantType::Password);
        }
        self
    }

    /// Chooses opaque or JWT access tokens.
    pub fn access_token_format(mut self, format: AccessTokenFormat) -> Self {
        self.client.access_token_format = format;
        self
    }

    /// Adds a browser origin allowed by CORS on the token and userinfo endpoints.
    pub fn allowed_origin(mut self, origin: impl Into<String>) -> Self {
        self.client.allowed_origins.push(origin.into());
        self
    }

    /// Signing algorithm for this client's tokens.
    pub fn signing_alg(mut self, alg: Algorithm) -> Self {
        self.client.signing_alg = Some(alg);
        self
    }

    /// Access token lifetime for this client.
    pub fn access_token_ttl(mut self, ttl: Duration) -> Self {
        self.client.access_token_ttl = Some(ttl);
        self
    }

    /// Refresh token lifetime for this client.
    pub fn refresh_token_ttl(mut self, ttl: Duration) -> Self {
        self.client.refresh_token_ttl = Some(ttl);
        self
    }

    /// Allows an extension grant type (RFC 6749 §4.5: an absolute URI such as
    /// `urn:example:grant:assertion`), served by a [`crate::grant::Grant`] the provider
    /// was built with.
    pub fn extension_grant(mut self, grant_type: impl Into<String>) -> Self {
        let g = grant_type.into();
        if !self.client.extension_grants.contains(&g) {
            self.client.extension_grants.push(g);
        }
        self
    }

    /// Marks a native application (RFC 8252): loopback redirects may use any port.
    pub fn native(mut self, yes: bool) -> Self {
        self.client.native = yes;
        self
    }

    /// Validates and returns the client.
    pub fn build(mut self) -> Result<Client, ConfigError> {
        let c = &mut self.client;
        let err = |reason: String| ConfigError::Client {
            client_id: c.id.clone(),
            reason,
        };
        if c.id.is_empty() || c.id.chars().any(|ch| ch.is_control()) {
            return Err(err("client_id must be non-empty printable text".into()));
        }
        if c.secret.is_none() && !c.require_pkce {
            return Err(err(
                "a public client cannot turn PKCE off (RFC 9700 §2.1.1)".into(),
            ));
        }
        if c.secret.is_none() {
            if c.grant_types.contains(&GrantType::ClientCredentials) {
                return Err(err("client_credentials needs a confidential client".into()));
            }
            if c.grant_types.contains(&GrantType::Password) {
                return Err(err("the password grant needs a confidential client".into()));
            }
        }
        if c.grant_types.contains(&GrantType::AuthorizationCode) && c.redirect_uris.is_empty() {
            return Err(err(
                "authorization_code needs at least one redirect URI".into()
            ));
        }
        for uri in &c.redirect_uris {
            let parsed = url::Url::parse(uri)
                .map_err(|e| err(format!("redirect URI {uri:?} is not a URL: {e}")))?;
            if parsed.fragment().is_some() || uri.contains('#') {
                return Err(err(format!(
                    "redirect URI {uri:?} has a fragment (RFC 6749 §3.1.2)"
                )));
            }
            if parsed.scheme() == "http" && !crate::redirect_uri::is_loopback(parsed.host()) {
                return Err(err(format!(
                    "redirect URI {uri:?} uses http off loopback; use https (RFC 9700 §2.6)"
                )));
            }
        }
        for (knob, ttl) in [
            ("access_token_ttl", c.access_token_ttl),
            ("refresh_token_ttl", c.refresh_token_ttl),
        ] {
            if let Some(ttl) = ttl
                && !(time::Duration::seconds(1)..=MAX_TTL).contains(&ttl)
            {
                return Err(err(format!("{knob} must be between 1 second and 10 years")));
            }
        }
        for g in &c.extension_grants {
            if GrantType::from_name(g).is_some() || !is_absolute_uri(g) {
                return Err(err(format!(
                    "extension grant {g:?} must be an absolute URI (RFC 6749 §4.5)"
                )));
            }
        }
        if c.audience.contains(&c.id) {
            return Err(err("the access token audience must not be the client id (that is an ID token's audience)".into()));
        }
        for origin in &c.allowed_origins {
            if origin.ends_with('/')
                || !(origin.starts_with("https://") || origin.starts_with("http://"))
            {
                return Err(err(format!(
                    "allowed origin {origin:?} must be scheme://host[:port]"
                )));
            }
        }
        Ok(self.client)
    }
}

/// An absolute URI (RFC 3986 §4.3): a scheme, then anything but whitespace.
pub(crate) fn is_absolute_uri(s: &str) -> bool {
    !s.chars().any(char::is_whitespace) && url::Url::parse(s).is_ok()
}

/// The longest lifetime idpkit accepts for anything (keeps time arithmetic far from overflow).
pub(crate) const MAX_TTL: time::Duration = time::Duration::days(3650);

/// Where clients are looked up.
///
/// # Contract
/// `find` answers `Ok(None)` for an unknown client; errors are storage failures only. Returned
/// clients have been validated by [`ClientBuilder::build`].
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

/// The stored form of a client registration, for client stores that persist clients. The
/// secret is kept only as its SHA-256; reading a registration back validates it again.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClientRegistration {
    /// `client_id`.
    pub id: String,
    /// base64url SHA-256 of the secret; absent for a public client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_sha256: Option<String>,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Grant type names.
    pub grant_types: Vec<String>,
    /// Allowed scopes.
    pub scopes: Vec<String>,
    /// Access token audience.
    #[serde(default)]
    pub audience: Vec<String>,
    /// First-party (no consent screen).
    #[serde(default)]
    pub first_party: bool,
    /// PKCE required.
    pub require_pkce: bool,
    /// `true` for opaque access tokens.
    #[serde(default)]
    pub opaque_access_tokens: bool,
    /// CORS origins.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Signing algorithm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_alg: Option<Algorithm>,
    /// Access token lifetime in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_ttl: Option<i64>,
    /// Refresh token lifetime in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_ttl: Option<i64>,
    /// Native application.
    #[serde(default)]
    pub native: bool,
}

impl Client {
    /// The stored form of this client.
    pub fn to_registration(&self) -> ClientRegistration {
        use base64::Engine;
        ClientRegistration {
            id: self.id.clone(),
            secret_sha256: self
                .secret
                .as_ref()
                .map(|h| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(h.as_bytes())),
            redirect_uris: self.redirect_uris.clone(),
            grant_types: self
                .grant_types
                .iter()
                .map(|g| g.as_str().to_owned())
                .chain(self.extension_grants.iter().cloned())
                .collect(),
            scopes: self.scopes.clone(),
            audience: self.audience.clone(),
            first_party: self.first_party,
            require_pkce: self.require_pkce,
            opaque_access_tokens: self.access_token_format == AccessTokenFormat::Opaque,
            allowed_origins: self.allowed_origins.clone(),
            signing_alg: self.signing_alg,
            access_token_ttl: self.access_token_ttl.map(|d| d.whole_seconds()),
            refresh_token_ttl: self.refresh_token_ttl.map(|d| d.whole_seconds()),
            native: self.native,
        }
    }
}

impl ClientRegistration {
    /// Validates the registration and returns the client (the same checks as
    /// [`ClientBuilder::build`]).
    pub fn into_client(self) -> Result<Client, ConfigError> {
        use base64::Engine;
        let bad = |reason: String| ConfigError::Client {
            client_id: self.id.clone(),
            reason,
        };
        let secret = match &self.secret_sha256 {
            None => None,
            Some(h) => {
                let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(h)
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or_else(|| bad("secret_sha256 is not a base64url SHA-256".into()))?;
                Some(SecretHash::from_bytes(bytes))
            }
        };
        let mut grants = Vec::new();
        let mut extensions = Vec::new();
        for g in &self.grant_types {
            match GrantType::from_name(g) {
                Some(g) => grants.push(g),
                None if is_absolute_uri(g) => extensions.push(g.clone()),
                None => return Err(bad(format!("unknown grant type {g:?}"))),
            }
        }
        let mut b = ClientBuilder::new(self.id.clone(), secret)
            .grant_types(grants)
            .scopes(self.scopes.clone())
            .audience(self.audience.clone())
            .first_party(self.first_party)
            .require_pkce(self.require_pkce)
            .native(self.native)
            .access_token_format(if self.opaque_access_tokens {
                AccessTokenFormat::Opaque
            } else {
                AccessTokenFormat::Jwt
            });
        for uri in &self.redirect_uris {
            b = b.redirect_uri(uri.clone());
        }
        for g in extensions {
            b = b.extension_grant(g);
        }
        for origin in &self.allowed_origins {
            b = b.allowed_origin(origin.clone());
        }
        if let Some(alg) = self.signing_alg {
            b = b.signing_alg(alg);
        }
        if let Some(s) = self.access_token_ttl {
            b = b.access_token_ttl(Duration::seconds(s));
        }
        if let Some(s) = self.refresh_token_ttl {
            b = b.refresh_token_ttl(Duration::seconds(s));
        }
        b.build()
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

/// Decodes a stored registration (JSON) into a client, for backends.
pub fn client_from_json(id: &str, json: &[u8]) -> Result<Arc<Client>, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        kind: "client",
        id: id.to_owned(),
        reason,
    };
    let reg: ClientRegistration =
        serde_json::from_slice(json).map_err(|e| corrupt(e.to_string()))?;
    reg.into_client()
        .map(Arc::new)
        .map_err(|e| corrupt(e.to_string()))
}

/// Whether any of the stored registrations `(client_id, json)` allows `origin` (CORS), for
/// backends answering [`ClientStore::origin_allowed`].
pub fn any_allows_origin<I, K, J>(registrations: I, origin: &str) -> Result<bool, StoreError>
where
    I: IntoIterator<Item = (K, J)>,
    K: AsRef<str>,
    J: AsRef<[u8]>,
{
    for (id, json) in registrations {
        if client_from_json(id.as_ref(), json.as_ref())?
            .allowed_origins
            .iter()
            .any(|o| o == origin)
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Encodes a client for storage (JSON of its [`ClientRegistration`]).
pub fn client_to_json(client: &Client) -> Vec<u8> {
    serde_json::to_vec(&client.to_registration()).unwrap_or_default()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_compare_exactly() {
        let c = Client::confidential("c", "s")
            .redirect_uri("https://app.example/cb")
            .build()
            .expect("valid");
        assert!(c.redirect_uri_matches("https://app.example/cb"));
        for bad in [
            "https://app.example/cb/",
            "https://APP.example/cb",
            "https://app.example/cb?x=1",
            "https://app.example/c%62",
        ] {
            assert!(!c.redirect_uri_matches(bad), "{bad}");
        }
    }

    #[test]
    fn native_loopback_redirects_may_use_any_port_and_nothing_else() {
        let c = Client::public("n")
            .redirect_uri("http://127.0.0.1/cb")
            .native(true)
            .build()
            .expect("valid");
        assert!(c.redirect_uri_matches("http://127.0.0.1:51234/cb"));
        assert!(!c.redirect_uri_matches("http://127.0.0.1:51234/other"));
        assert!(!c.redirect_uri_matches("http://localhost:51234/cb"));
        assert!(!c.redirect_uri_matches("http://127.0.0.1.evil.example:80/cb"));
    }

    #[test]
    fn unsafe_registrations_are_refused_with_the_reason() {
        let e = Client::public("p")
            .redirect_uri("https://a.example/cb#x")
            .build();
        assert!(
            matches!(e, Err(ConfigError::Client { ref reason, .. }) if reason.contains("fragment"))
        );
        let e = Client::public("p")
            .redirect_uri("https://a.example/cb")
            .require_pkce(false)
            .build();
        assert!(
            matches!(e, Err(ConfigError::Client { ref reason, .. }) if reason.contains("PKCE"))
        );
        let e = Client::confidential("c", "s")
            .redirect_uri("http://a.example/cb")
            .build();
        assert!(
            matches!(e, Err(ConfigError::Client { ref reason, .. }) if reason.contains("http off loopback"))
        );
        let e = Client::public("p")
            .redirect_uri("https://a.example/cb")
            .grant_types([GrantType::ClientCredentials])
            .build();
        assert!(e.is_err());
    }

    #[test]
    fn http_redirect_only_to_a_real_loopback_host_rfc8252_7_3() {
        for ok in [
            "http://127.0.0.1:9999/cb",
            "http://[::1]/cb",
            "http://localhost/cb",
        ] {
            assert!(
                Client::confidential("c", "s")
                    .redirect_uri(ok)
                    .build()
                    .is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "http://127.evil.example/cb",
            "http://127.0.0.1.evil.example/cb",
        ] {
            let e = Client::confidential("c", "s").redirect_uri(bad).build();
            assert!(
                matches!(e, Err(ConfigError::Client { ref reason, .. }) if reason.contains("http off loopback")),
                "{bad} must be refused"
            );
        }
    }

    #[test]
    fn extension_grants_are_absolute_uris_and_survive_registration_rfc6749_4_5() {
        let c = Client::confidential("c", "s")
            .grant_types([GrantType::ClientCredentials])
            .extension_grant("urn:example:grant:assertion")
            .build()
            .expect("valid");
        assert!(c.allows_grant_type("urn:example:grant:assertion"));
        assert!(c.allows_grant_type("client_credentials"));
        assert!(!c.allows_grant_type("refresh_token"));
        assert!(!c.allows_grant_type("urn:example:other"));
        let back = c.to_registration().into_client().expect("round trip");
        assert_eq!(back.extension_grants, vec!["urn:example:grant:assertion"]);
        for bad in ["assertion", "password", "urn:a b"] {
            let e = Client::confidential("c", "s")
                .grant_types([GrantType::ClientCredentials])
                .extension_grant(bad)
                .build();
            assert!(e.is_err(), "{bad}");
        }
    }

    #[test]
    fn secrets_verify_only_the_right_value() {
        let h = SecretHash::of("s3cret");
        assert!(h.verify("s3cret"));
        assert!(!h.verify("s3creT"));
        assert_eq!(format!("{h:?}"), "SecretHash(..)");
    }
}
