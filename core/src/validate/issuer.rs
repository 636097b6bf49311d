//! What a resource server trusts: an issuer, its keys, algorithms and audiences, and the
//! knobs for issuers whose tokens differ from RFC 9068 (`scp` scopes, `typ: JWT`).

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use crate::{Algorithm, Jwks};

/// Where an issuer's keys come from.
#[derive(Debug, Clone)]
pub enum JwksSource {
    /// A fixed key set (offline validation, tests).
    Static(Arc<Jwks>),
    /// A JWKS URL.
    Url(String),
    /// The issuer's discovery document (`{issuer}/.well-known/openid-configuration`).
    Discovery,
}

/// One trusted issuer.
#[derive(Debug, Clone)]
pub struct TrustedIssuer {
    /// The exact `iss` value.
    pub issuer: String,
    /// Its keys.
    pub jwks: JwksSource,
    /// Algorithms accepted from it (default RS256 and ES256).
    pub algorithms: Vec<Algorithm>,
    /// Accepted audiences: the token's `aud` must contain one of them.
    pub audiences: Vec<String>,
    /// For opaque tokens: the issuer's RFC 7662 introspection endpoint and this resource
    /// server's client credentials there.
    pub introspection: Option<Introspection>,
    /// Whether the `scp` claim (a space-separated string or an array of strings) counts
    /// as the token's scopes when it has no `scope` claim. Off by default; see
    /// [`TrustedIssuer::read_scp`].
    pub read_scp: bool,
    /// Whether access tokens with `typ: JWT` are accepted from this issuer although
    /// another `typ` is required. Off by default; see
    /// [`TrustedIssuer::dangerous_accept_typ_jwt`].
    pub accept_typ_jwt: bool,
}

/// How to introspect opaque tokens at an issuer (RFC 7662).
#[derive(Clone)]
pub struct Introspection {
    /// The introspection endpoint URL.
    pub endpoint: String,
    /// This resource server's client id at the issuer.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
}

impl fmt::Debug for Introspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Introspection")
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl TrustedIssuer {
    /// An issuer whose keys come from its discovery document, accepting `audience`.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            jwks: JwksSource::Discovery,
            algorithms: vec![Algorithm::RS256, Algorithm::ES256],
            audiences: vec![audience.into()],
            introspection: None,
            read_scp: false,
            accept_typ_jwt: false,
        }
    }

    /// Validates opaque tokens by introspection at `endpoint` with these client credentials.
    pub fn with_introspection(
        mut self,
        endpoint: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        self.introspection = Some(Introspection {
            endpoint: endpoint.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        });
        self
    }

    /// Uses a fixed key set.
    pub fn with_jwks(mut self, jwks: Jwks) -> Self {
        self.jwks = JwksSource::Static(Arc::new(jwks));
        self
    }

    /// Uses a JWKS URL.
    pub fn with_jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks = JwksSource::Url(url.into());
        self
    }

    /// Sets the accepted algorithms.
    pub fn with_algorithms(mut self, algs: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algs.into_iter().collect();
        self
    }

    /// Also accepts this audience.
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Reads the `scp` claim as the token's scopes when it has no `scope` (Microsoft Entra
    /// ID puts delegated scopes in `scp`, a space-separated string; some issuers use an
    /// array). Without this, a token with only `scp` has no scopes, and a scope refusal
    /// says that it carries `scp`.
    pub fn read_scp(mut self) -> Self {
        self.read_scp = true;
        self
    }

    /// Accepts access tokens whose header says `typ: JWT` from this issuer, although the
    /// validator requires `at+jwt` (RFC 9068 §2.1). Microsoft Entra ID's access tokens
    /// carry `typ: JWT`. This weakens one defence: `at+jwt` is what tells an access token
    /// from an ID token of the same issuer (RFC 9068 §4, RFC 8725 §3.11), so with this the
    /// audience check alone keeps ID tokens (whose audience is the client) out.
    pub fn dangerous_accept_typ_jwt(mut self) -> Self {
        self.accept_typ_jwt = true;
        self
    }
}

/// What a claim must be.
#[derive(Debug, Clone, PartialEq)]
pub enum ClaimRule {
    /// Present, any value.
    Present,
    /// Equal to this value.
    Equals(Value),
    /// Equal to one of these values.
    AnyOf(Vec<Value>),
}
