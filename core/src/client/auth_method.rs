//! How a client authenticates (`token_endpoint_auth_method`, RFC 7591 §2 and OpenID Connect
//! Registration §2) and the keys it signs with: `jwks` / `jwks_uri` for `private_key_jwt`
//! assertions (RFC 7523 §2.2) and request objects (RFC 9101), and the HMAC key of
//! `client_secret_jwt` (OIDC Core §9).

use std::fmt;
use std::sync::Arc;

use super::{Client, ClientBuilder};
use crate::jose::KeySet;
use crate::{Algorithm, Jwks, MacAlgorithm};

/// A client authentication method (RFC 7591 §2 `token_endpoint_auth_method`, OIDC Core §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenEndpointAuthMethod {
    /// `client_secret_basic`: the secret in an `Authorization: Basic` header.
    ClientSecretBasic,
    /// `client_secret_post`: the secret in the form body.
    ClientSecretPost,
    /// `client_secret_jwt`: a JWT signed with HMAC keyed by a shared secret.
    ClientSecretJwt,
    /// `private_key_jwt`: a JWT signed with a private key whose public half the client
    /// registered (`jwks` or `jwks_uri`).
    PrivateKeyJwt,
    /// `none`: a public client.
    None,
}

impl TokenEndpointAuthMethod {
    /// Every method, in the order discovery lists them.
    pub const ALL: [TokenEndpointAuthMethod; 5] = [
        Self::ClientSecretBasic,
        Self::ClientSecretPost,
        Self::ClientSecretJwt,
        Self::PrivateKeyJwt,
        Self::None,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::ClientSecretJwt => "client_secret_jwt",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::None => "none",
        }
    }

    /// Parses a wire name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// Whether the client authenticates with a JWT (`client_assertion`, RFC 7523 §2.2).
    pub fn is_jwt(self) -> bool {
        matches!(self, Self::ClientSecretJwt | Self::PrivateKeyJwt)
    }
}

impl fmt::Display for TokenEndpointAuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a client's public keys are: by value (`jwks`) or by reference (`jwks_uri`,
/// fetched through the provider's [`HttpClient`](crate::http::HttpClient) and cached; see
/// [`crate::client_keys`]).
#[derive(Debug, Clone)]
pub(crate) enum ClientJwks {
    /// `jwks`, decoded once.
    Value { jwks: Arc<Jwks>, keys: Arc<KeySet> },
    /// `jwks_uri`.
    Uri(String),
}

/// The shared secret of a `client_secret_jwt` client. HMAC verification needs the secret
/// itself, so unlike the secrets of `client_secret_basic` / `client_secret_post` (kept
/// only as SHA-256 hashes) it is held **in clear**, in memory and in the client's stored
/// registration: protect such a client store like a key store, or prefer
/// `private_key_jwt`. Its `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct HmacKey(pub(crate) Vec<u8>);

impl fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HmacKey(..)")
    }
}

/// The JWT-related registration of a client.
#[derive(Debug, Clone, Default)]
pub(crate) struct JwtAuth {
    /// The registered method; `None`: a secret client takes `client_secret_basic` and
    /// `client_secret_post`, a public client `none`.
    pub method: Option<TokenEndpointAuthMethod>,
    /// `token_endpoint_auth_signing_alg` (an [`Algorithm`] or [`MacAlgorithm`] name).
    pub signing_alg: Option<String>,
    /// `jwks` or `jwks_uri`.
    pub jwks: Option<ClientJwks>,
    /// Both were given (refused by `build`).
    pub jwks_twice: bool,
    /// The `client_secret_jwt` key.
    pub hmac_key: Option<HmacKey>,
    /// `request_object_signing_alg` (RFC 9101 §10.5 / OIDC Registration §2).
    pub request_object_signing_alg: Option<Algorithm>,
}

impl Client {
    /// A confidential client authenticating with `private_key_jwt` (RFC 7523 §2.2, OIDC
    /// Core §9): give its public keys with [`ClientBuilder::jwks`] or
    /// [`ClientBuilder::jwks_uri`].
    pub fn private_key_jwt(id: impl Into<String>) -> ClientBuilder {
        let mut b = ClientBuilder::new(id.into(), None);
        b.client.require_pkce = false;
        b.client.jwt.method = Some(TokenEndpointAuthMethod::PrivateKeyJwt);
        b
    }

    /// A confidential client authenticating with `client_secret_jwt` (OIDC Core §9):
    /// assertions signed with HMAC (HS256, HS384 or HS512) keyed by `secret`, which must
    /// be at least as long as the hash (32 bytes for HS256, RFC 7518 §3.2). The secret is
    /// kept **in clear** (HMAC needs it), in memory and in [`Client::to_registration`]:
    /// prefer [`Client::private_key_jwt`]. A client built this way cannot use
    /// `client_secret_basic` or `client_secret_post`.
    pub fn client_secret_jwt(id: impl Into<String>, secret: &str) -> ClientBuilder {
        let mut b = ClientBuilder::new(id.into(), None);
        b.client.require_pkce = false;
        b.client.jwt.method = Some(TokenEndpointAuthMethod::ClientSecretJwt);
        b.client.jwt.hmac_key = Some(HmacKey(secret.as_bytes().to_vec()));
        b
    }

    /// The registered `token_endpoint_auth_method`, if one was set explicitly.
    pub fn token_endpoint_auth_method(&self) -> Option<TokenEndpointAuthMethod> {
        self.jwt.method
    }

    /// Whether the client may authenticate with `method`: the registered method only; a
    /// client registered without one takes `client_secret_basic` and
    /// `client_secret_post` when it has a secret, `none` when it has not.
    pub fn allows_auth_method(&self, method: TokenEndpointAuthMethod) -> bool {
        use TokenEndpointAuthMethod as M;
        match self.jwt.method {
            Some(m) => m == method,
            None if self.secret.is_some() => {
                matches!(method, M::ClientSecretBasic | M::ClientSecretPost)
            }
            None => method == M::None,
        }
    }

    /// `token_endpoint_auth_signing_alg`: the only algorithm its assertions may use, when
    /// registered.
    pub fn token_endpoint_auth_signing_alg(&self) -> Option<&str> {
        self.jwt.signing_alg.as_deref()
    }

    /// `request_object_signing_alg`: the only algorithm its request objects may use, when
    /// registered.
    pub fn request_object_signing_alg(&self) -> Option<Algorithm> {
        self.jwt.request_object_signing_alg
    }

    /// `jwks_uri`, when its keys are registered by reference.
    pub fn jwks_uri(&self) -> Option<&str> {
        match &self.jwt.jwks {
            Some(ClientJwks::Uri(u)) => Some(u),
            _ => None,
        }
    }

    /// `jwks`, when its keys are registered by value.
    pub fn jwks(&self) -> Option<&Jwks> {
        match &self.jwt.jwks {
            Some(ClientJwks::Value { jwks, .. }) => Some(jwks),
            _ => None,
        }
    }
}

impl ClientBuilder {
    /// Sets `token_endpoint_auth_method` explicitly. For a client with a secret,
    /// [`TokenEndpointAuthMethod::ClientSecretBasic`] (or `Post`) then refuses the other
    /// one. Use [`Client::private_key_jwt`] and [`Client::client_secret_jwt`] for the JWT
    /// methods.
    pub fn token_endpoint_auth_method(mut self, method: TokenEndpointAuthMethod) -> Self {
        self.client.jwt.method = Some(method);
        self
    }

    /// `token_endpoint_auth_signing_alg` (OIDC Registration §2): the one JWS algorithm its
    /// client assertions may use (`RS256`, `PS256`, `ES256`, `EdDSA` for
    /// `private_key_jwt`; `HS256`, `HS384`, `HS512` for `client_secret_jwt`). Unset: any
    /// of those of its method.
    pub fn token_endpoint_auth_signing_alg(mut self, alg: impl Into<String>) -> Self {
        self.client.jwt.signing_alg = Some(alg.into());
        self
    }

    /// `jwks`: the client's public keys by value (RFC 7591 §2).
    pub fn jwks(mut self, jwks: Jwks) -> Self {
        self.client.jwt.jwks_twice |= self.client.jwt.jwks.is_some();
        let keys = Arc::new(KeySet::new(&jwks));
        self.client.jwt.jwks = Some(ClientJwks::Value {
            jwks: Arc::new(jwks),
            keys,
        });
        self
    }

    /// `jwks_uri`: where the client publishes its public keys (RFC 7591 §2); https unless
    /// on a loopback host. Fetched through the provider's
    /// [`HttpClient`](crate::http::HttpClient) (required then), cached.
    pub fn jwks_uri(mut self, uri: impl Into<String>) -> Self {
        self.client.jwt.jwks_twice |= self.client.jwt.jwks.is_some();
        self.client.jwt.jwks = Some(ClientJwks::Uri(uri.into()));
        self
    }

    /// `request_object_signing_alg` (OIDC Registration §2, RFC 9101 §10.5): the one
    /// algorithm its request objects may be signed with. Unset: any asymmetric one.
    pub fn request_object_signing_alg(mut self, alg: Algorithm) -> Self {
        self.client.jwt.request_object_signing_alg = Some(alg);
        self
    }
}

/// The checks of [`ClientBuilder::build`] for the method and keys.
pub(super) fn check(c: &Client) -> Result<(), String> {
    use TokenEndpointAuthMethod as M;
    let jwt = &c.jwt;
    if jwt.jwks_twice {
        return Err("jwks and jwks_uri are exclusive (RFC 7591 §2): give one".into());
    }
    match jwt.method {
        Some(M::ClientSecretBasic | M::ClientSecretPost) if c.secret.is_none() => {
            return Err(format!(
                "token_endpoint_auth_method {} needs a client secret",
                jwt.method.map(M::as_str).unwrap_or_default()
            ));
        }
        Some(M::None) if c.secret.is_some() || jwt.hmac_key.is_some() => {
            return Err("token_endpoint_auth_method none: a public client has no secret".into());
        }
        Some(M::PrivateKeyJwt) if c.secret.is_some() || jwt.hmac_key.is_some() => {
            return Err(
                "private_key_jwt: the client has no secret (it cannot fall back to one)".into(),
            );
        }
        Some(M::PrivateKeyJwt) if jwt.jwks.is_none() => {
            return Err("private_key_jwt needs jwks or jwks_uri".into());
        }
        Some(M::ClientSecretJwt) => match &jwt.hmac_key {
            None => return Err("client_secret_jwt needs its shared secret".into()),
            Some(k) if k.0.len() < MacAlgorithm::HS256.min_key_len() => {
                return Err(
                    "client_secret_jwt: the secret must be at least 32 bytes (RFC 7518 §3.2)"
                        .into(),
                );
            }
            Some(_) if c.secret.is_some() => {
                return Err("client_secret_jwt: no second (hashed) secret".into());
            }
            Some(_) => {}
        },
        _ => {}
    }
    if jwt.hmac_key.is_some() && jwt.method != Some(M::ClientSecretJwt) {
        return Err("an HMAC key is only for client_secret_jwt".into());
    }
    if let Some(alg) = &jwt.signing_alg {
        let fits = match jwt.method {
            Some(M::PrivateKeyJwt) => Algorithm::from_name(alg).is_some(),
            Some(M::ClientSecretJwt) => MacAlgorithm::from_name(alg).is_some_and(|a| {
                jwt.hmac_key
                    .as_ref()
                    .is_some_and(|k| k.0.len() >= a.min_key_len())
            }),
            _ => false,
        };
        if !fits {
            return Err(format!(
                "token_endpoint_auth_signing_alg {alg:?} does not fit the client's method (RS256, PS256, ES256 or EdDSA for private_key_jwt; HS256, HS384 or HS512 with a key at least as long as the hash for client_secret_jwt; never none)"
            ));
        }
    }
    if jwt.request_object_signing_alg.is_some() && jwt.jwks.is_none() {
        return Err("request_object_signing_alg needs jwks or jwks_uri".into());
    }
    if let Some(ClientJwks::Uri(uri)) = &jwt.jwks {
        let parsed = url::Url::parse(uri).map_err(|e| format!("jwks_uri {uri:?}: {e}"))?;
        let ok = match parsed.scheme() {
            "https" => true,
            "http" => crate::redirect_uri::is_loopback(parsed.host()),
            _ => false,
        };
        if !ok || parsed.fragment().is_some() {
            return Err(format!(
                "jwks_uri {uri:?} must be https (http only on loopback), without a fragment"
            ));
        }
    }
    Ok(())
}
