//! Registered clients and the [`ClientStore`] trait.

use std::fmt;

use time::Duration;

use crate::Algorithm;
use crate::crypto;
use crate::error::ConfigError;

/// A grant type a client may use at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
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
    /// `urn:ietf:params:oauth:grant-type:device_code`: the device authorization grant
    /// (RFC 8628), for devices without a browser (TVs, terminals, CLIs).
    DeviceCode,
    /// `urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693), confidential clients
    /// only; what a client may exchange is the provider's
    /// [`TokenExchangePolicy`](crate::TokenExchangePolicy)'s decision.
    TokenExchange,
    /// `urn:idpkit:params:oauth:grant-type:guest`: an access token for a fresh anonymous
    /// (guest) subject, upgraded to the user's at login
    /// ([`Provider::upgrade_guest`](crate::Provider::upgrade_guest)). Public clients may
    /// use it; every guest token costs storage, so requests are rate-limited
    /// ([`RateLimits::guest_tokens_per_source`](crate::RateLimits::guest_tokens_per_source)).
    Guest,
}

impl GrantType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
            Self::Password => "password",
            Self::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
            Self::TokenExchange => crate::token_exchange::GRANT_TYPE,
            Self::Guest => crate::guest::GRANT_TYPE,
        }
    }

    /// Parses a wire name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "authorization_code" => Some(Self::AuthorizationCode),
            "refresh_token" => Some(Self::RefreshToken),
            "client_credentials" => Some(Self::ClientCredentials),
            "password" => Some(Self::Password),
            "urn:ietf:params:oauth:grant-type:device_code" => Some(Self::DeviceCode),
            crate::token_exchange::GRANT_TYPE => Some(Self::TokenExchange),
            crate::guest::GRANT_TYPE => Some(Self::Guest),
            _ => None,
        }
    }
}

/// How access tokens for a client are shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
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
/// [`Client::public`] and [`ClientBuilder::build`] (or [`ClientRegistration::into_client`]):
/// its fields are private, so a custom [`ClientStore`] cannot hand the provider a client
/// that skipped validation:
///
/// ```compile_fail,E0451
/// // Fields are private: a client can only come out of the builder's checks.
/// fn forge(template: idpkit_core::Client) -> idpkit_core::Client {
///     idpkit_core::Client { first_party: true, ..template }
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    /// `client_id`.
    pub(crate) id: String,
    /// `client_name` (RFC 7591 §2), if it has one.
    pub(crate) name: Option<String>,
    /// Hash of the secret; `None` for a public client.
    pub(crate) secret: Option<SecretHash>,
    /// Registered redirect URIs, compared exactly.
    pub(crate) redirect_uris: Vec<String>,
    /// Allowed grant types.
    pub(crate) grant_types: Vec<GrantType>,
    /// Scopes the client may ask for.
    pub(crate) scopes: Vec<String>,
    /// `aud` of its access tokens: the APIs they are for. Empty (the default) means the
    /// issuer itself, i.e. tokens good for userinfo only; never the client id, which is an
    /// ID token's audience.
    pub(crate) audience: Vec<String>,
    /// First-party clients get no consent screen.
    pub(crate) first_party: bool,
    /// PKCE S256 required (always true for public clients).
    pub(crate) require_pkce: bool,
    /// Access token shape.
    pub(crate) access_token_format: AccessTokenFormat,
    /// Browser origins allowed to call the token and userinfo endpoints (CORS).
    pub(crate) allowed_origins: Vec<String>,
    /// Signing algorithm for ID tokens and JWT access tokens (default: the provider's).
    pub(crate) signing_alg: Option<Algorithm>,
    /// Per-client lifetimes overriding the provider's.
    pub(crate) access_token_ttl: Option<Duration>,
    /// Per-client refresh token lifetime.
    pub(crate) refresh_token_ttl: Option<Duration>,
    /// Per-client absolute refresh token lifetime (from the original authentication).
    pub(crate) refresh_token_absolute_ttl: Option<Duration>,
    /// A native application (RFC 8252): loopback redirect URIs may use any port.
    pub(crate) native: bool,
    /// The audiences (`aud` values) this client serves as a resource server: it may
    /// introspect access tokens issued for them (RFC 7662 §4).
    pub(crate) resource_server_for: Vec<String>,
    /// Extension grant types (RFC 6749 §4.5, absolute URIs) the client may use; each is
    /// served by a [`crate::grant::Grant`] added with
    /// [`ProviderBuilder::extension_grant`](crate::ProviderBuilder::extension_grant).
    pub(crate) extension_grants: Vec<String>,
    /// Logout metadata (post-logout redirect URIs, back- and front-channel logout).
    pub(crate) logout: logout::Logout,
    /// Lifetime of its guest tokens ([`GrantType::Guest`]; default the provider's).
    pub(crate) guest_token_ttl: Option<Duration>,
    /// Shape of its guest tokens (default opaque: the upgrade keeps their value).
    pub(crate) guest_token_format: AccessTokenFormat,
    /// Its authorization requests must be pushed first (RFC 9126 §6).
    pub(crate) require_pushed_authorization_requests: bool,
    /// The `authorization_details` types it may ask for (RFC 9396 §10).
    pub(crate) authorization_details_types: Vec<String>,
    /// `dpop_bound_access_tokens` (RFC 9449 §5.2): token requests without a DPoP proof
    /// are refused.
    pub(crate) dpop_bound_access_tokens: bool,
    /// `token_endpoint_auth_method` and the keys of JWT client authentication and
    /// request objects (RFC 7523, RFC 9101).
    pub(crate) jwt: auth_method::JwtAuth,
    /// `subject_type`, `sector_identifier_uri` and `userinfo_signed_response_alg`
    /// (OIDC Core §8, §5.3.2).
    pub(crate) subject: subject::Subject,
    /// `id_token_encrypted_response_*` and `userinfo_encrypted_response_*` (OIDC
    /// Registration §2).
    pub(crate) encryption: encryption::Encryption,
    /// Registration state of a dynamically registered client (RFC 7591, RFC 7592).
    pub(crate) dynamic: Option<std::sync::Arc<crate::registration::DynamicRegistration>>,
    /// Resolved from its client ID metadata document ([`crate::client_id_metadata_document`]).
    pub(crate) metadata_document: bool,
}

impl Client {
    /// Its `client_name` (RFC 7591 §2), if it has one: for consent and login pages. A
    /// dynamically registered or metadata-document client chose it itself, so a page
    /// shows it beside the `client_id`, never instead of it.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The `client_id`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Registered redirect URIs (compared exactly, see [`Client::redirect_uri_matches`]).
    pub fn redirect_uris(&self) -> &[String] {
        &self.redirect_uris
    }

    /// The built-in grant types the client may use.
    pub fn grant_types(&self) -> &[GrantType] {
        &self.grant_types
    }

    /// The scopes the client may ask for.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The `aud` of its access tokens (empty: the issuer itself).
    pub fn audience(&self) -> &[String] {
        &self.audience
    }

    /// Whether the client is first-party (no consent screen).
    pub fn is_first_party(&self) -> bool {
        self.first_party
    }

    /// Whether the client was resolved from its client ID metadata document (its id is
    /// the document's URL; [`crate::client_id_metadata_document`]).
    pub fn is_metadata_document(&self) -> bool {
        self.metadata_document
    }

    /// Whether the client supplied its own metadata (dynamic registration or a metadata
    /// document): the URLs in it are fetched with the SSRF defences of [`crate::ssrf`].
    pub fn is_self_registered(&self) -> bool {
        self.metadata_document || self.dynamic.is_some()
    }

    /// Whether PKCE S256 is required.
    pub fn requires_pkce(&self) -> bool {
        self.require_pkce
    }

    /// The shape of its access tokens.
    pub fn access_token_format(&self) -> AccessTokenFormat {
        self.access_token_format
    }

    /// Whether its access tokens must be DPoP-bound (`dpop_bound_access_tokens`, RFC 9449
    /// §5.2): a token request without a proof is refused.
    pub fn dpop_bound_access_tokens(&self) -> bool {
        self.dpop_bound_access_tokens
    }

    /// The shape of its guest tokens ([`GrantType::Guest`]; opaque unless set).
    pub fn guest_token_format(&self) -> AccessTokenFormat {
        self.guest_token_format
    }

    /// The lifetime of its guest tokens, when it overrides the provider's
    /// ([`ProviderBuilder::guest_token_ttl`](crate::ProviderBuilder::guest_token_ttl)).
    pub fn guest_token_ttl(&self) -> Option<Duration> {
        self.guest_token_ttl
    }

    /// Browser origins allowed to call the token, userinfo and revocation endpoints.
    pub fn allowed_origins(&self) -> &[String] {
        &self.allowed_origins
    }

    /// Its signing algorithm, when it overrides the provider's.
    pub fn signing_alg(&self) -> Option<Algorithm> {
        self.signing_alg
    }

    /// Whether it is a native application (RFC 8252).
    pub fn is_native(&self) -> bool {
        self.native
    }

    /// The audiences it serves as a resource server: besides its own tokens, it may
    /// introspect access tokens whose `aud` names one of them (RFC 7662 §4).
    pub fn resource_server_for(&self) -> &[String] {
        &self.resource_server_for
    }

    /// Whether its authorization requests must be pushed first (RFC 9126 §6,
    /// `require_pushed_authorization_requests`).
    pub fn requires_pushed_authorization_requests(&self) -> bool {
        self.require_pushed_authorization_requests
    }

    /// The `authorization_details` types it may ask for (RFC 9396 §10).
    pub fn authorization_details_types(&self) -> &[String] {
        &self.authorization_details_types
    }

    /// Whether the client was registered through the registration endpoint (RFC 7591).
    pub fn is_dynamically_registered(&self) -> bool {
        self.dynamic.is_some()
    }

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

    /// Whether the client is confidential: it holds a secret or authenticates with a JWT
    /// (`private_key_jwt`, `client_secret_jwt`).
    pub fn is_confidential(&self) -> bool {
        self.secret.is_some() || self.jwt.method.is_some_and(TokenEndpointAuthMethod::is_jwt)
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
                name: None,
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
                refresh_token_absolute_ttl: None,
                native: false,
                resource_server_for: Vec::new(),
                extension_grants: Vec::new(),
                logout: logout::Logout::default(),
                guest_token_ttl: None,
                guest_token_format: AccessTokenFormat::Opaque,
                require_pushed_authorization_requests: false,
                authorization_details_types: Vec::new(),
                dpop_bound_access_tokens: false,
                jwt: auth_method::JwtAuth::default(),
                subject: subject::Subject::default(),
                encryption: encryption::Encryption::default(),
                dynamic: None,
                metadata_document: false,
            },
        }
    }

    /// `client_name` (RFC 7591 §2): how consent and login pages name the client.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.client.name = Some(name.into());
        self
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

    /// `dpop_bound_access_tokens` (RFC 9449 §5.2): every token request of this client
    /// must carry a DPoP proof, so all its access tokens are sender-constrained.
    pub fn dpop_bound_access_tokens(mut self, required: bool) -> Self {
        self.client.dpop_bound_access_tokens = required;
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

    /// Refresh token lifetime for this client (sliding, see
    /// [`ProviderBuilder::refresh_token_ttl`](crate::ProviderBuilder::refresh_token_ttl)).
    pub fn refresh_token_ttl(mut self, ttl: Duration) -> Self {
        self.client.refresh_token_ttl = Some(ttl);
        self
    }

    /// Absolute refresh token lifetime for this client, counted from the user's original
    /// authentication (see
    /// [`ProviderBuilder::refresh_token_absolute_ttl`](crate::ProviderBuilder::refresh_token_absolute_ttl)).
    pub fn refresh_token_absolute_ttl(mut self, ttl: Duration) -> Self {
        self.client.refresh_token_absolute_ttl = Some(ttl);
        self
    }

    /// Lifetime of this client's guest tokens ([`GrantType::Guest`]), e.g. one week for a
    /// storefront's anonymous visitors; default
    /// [`ProviderBuilder::guest_token_ttl`](crate::ProviderBuilder::guest_token_ttl).
    pub fn guest_token_ttl(mut self, ttl: Duration) -> Self {
        self.client.guest_token_ttl = Some(ttl);
        self
    }

    /// Shape of this client's guest tokens: [`AccessTokenFormat::Opaque`] (the default;
    /// an upgrade at login keeps the token's value) or [`AccessTokenFormat::Jwt`] (an
    /// upgrade revokes it and returns a new token).
    pub fn guest_token_format(mut self, format: AccessTokenFormat) -> Self {
        self.client.guest_token_format = format;
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

    /// Registers the client as the resource server of these audiences (the `aud` values
    /// other clients' access tokens carry, see [`audience`](Self::audience)): introspection
    /// answers it `active: true` for those tokens too, not only for its own (RFC 7662 §2.2,
    /// §4). Confidential clients only. A client may use no grant at all
    /// (`grant_types([])`) and only introspect.
    pub fn resource_server_for<S: Into<String>>(
        mut self,
        audiences: impl IntoIterator<Item = S>,
    ) -> Self {
        self.client.resource_server_for = audiences.into_iter().map(Into::into).collect();
        self
    }

    /// Requires the client's authorization requests to be pushed first (RFC 9126 §6,
    /// `require_pushed_authorization_requests`): the authorization endpoint then refuses
    /// a request without a `request_uri` from the pushed authorization request endpoint.
    pub fn require_pushed_authorization_requests(mut self, yes: bool) -> Self {
        self.client.require_pushed_authorization_requests = yes;
        self
    }

    /// The `authorization_details` types (RFC 9396 §10 `authorization_details_types`) the
    /// client may ask for; none (the default) means the client may send no
    /// `authorization_details` at all.
    pub fn authorization_details_types<S: Into<String>>(
        mut self,
        types: impl IntoIterator<Item = S>,
    ) -> Self {
        self.client.authorization_details_types = types.into_iter().map(Into::into).collect();
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
        if !c.is_confidential() && !c.require_pkce {
            return Err(err(
                "a public client cannot turn PKCE off (RFC 9700 §2.1.1)".into(),
            ));
        }
        if !c.is_confidential() {
            if c.grant_types.contains(&GrantType::ClientCredentials) {
                return Err(err("client_credentials needs a confidential client".into()));
            }
            if c.grant_types.contains(&GrantType::Password) {
                return Err(err("the password grant needs a confidential client".into()));
            }
            if c.grant_types.contains(&GrantType::TokenExchange) {
                return Err(err(
                    "token exchange needs a confidential client (RFC 8693 §2.1)".into(),
                ));
            }
        }
        if c.grant_types.contains(&GrantType::AuthorizationCode) && c.redirect_uris.is_empty() {
            return Err(err(
                "authorization_code needs at least one redirect URI".into()
            ));
        }
        for uri in &c.redirect_uris {
            crate::redirect_uri::check_registrable(uri).map_err(err)?;
        }
        for (knob, ttl) in [
            ("access_token_ttl", c.access_token_ttl),
            ("refresh_token_ttl", c.refresh_token_ttl),
            ("refresh_token_absolute_ttl", c.refresh_token_absolute_ttl),
            ("guest_token_ttl", c.guest_token_ttl),
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
        if !c.resource_server_for.is_empty() && !c.is_confidential() {
            return Err(err(
                "a resource server (resource_server_for) must be a confidential client: introspection needs client authentication (RFC 7662 §2.1)".into(),
            ));
        }
        if c.resource_server_for
            .iter()
            .any(|a| a.is_empty() || a.chars().any(char::is_control))
        {
            return Err(err(
                "resource_server_for: an audience is non-empty printable text".into(),
            ));
        }
        if c.audience.contains(&c.id) {
            return Err(err("the access token audience must not be the client id (that is an ID token's audience)".into()));
        }
        if c.authorization_details_types
            .iter()
            .any(|t| t.is_empty() || t.chars().any(char::is_control))
        {
            return Err(err(
                "authorization_details_types: a type is non-empty printable text".into(),
            ));
        }
        logout::check(&c.logout).map_err(err)?;
        auth_method::check(c).map_err(err)?;
        encryption::check(c).map_err(err)?;
        for origin in &c.allowed_origins {
            if origin.ends_with('/')
                || !(origin.starts_with("https://") || origin.starts_with("http://"))
            {
                return Err(err(format!(
                    "allowed origin {origin:?} must be scheme://host[:port]"
                )));
            }
        }
        if let Err(reason) = subject::check(&mut self.client) {
            return Err(ConfigError::Client {
                client_id: self.client.id.clone(),
                reason,
            });
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

mod auth_method;
mod encryption;
mod logout;
mod registration;
mod store;
mod subject;

pub(crate) use auth_method::ClientJwks;
pub use auth_method::TokenEndpointAuthMethod;
pub use encryption::ResponseEncryption;
pub(crate) use encryption::pair as encryption_pair;
pub use registration::{ClientRegistration, anonymous_issued_at, client_from_json, client_to_json};
pub(crate) use store::WithRegistry;
pub use store::{ClientRegistry, ClientStore, MemoryClientRegistry, StaticClients};
pub use subject::SubjectType;

#[cfg(test)]
mod tests;
