//! The resource-server side: validating access tokens, and saying exactly why one is refused.
//!
//! A [`Validator`] trusts one or more issuers (each with its JWKS source, allowed algorithms
//! and accepted audiences) and checks a JWT access token: structure, algorithm against the
//! issuer's allow-list *and* the key's type (the token never picks the key type), issuer,
//! `kid`, signature, `exp` / `nbf` with leeway, audience, `typ` (`at+jwt` by default),
//! required scopes and claims. Every refusal is a [`Rejection`] whose `Display` is one
//! sentence with expected vs found, and which maps to RFC 6750.
//!
//! JWKS are cached with a TTL. A `kid` that is not in the cache triggers one refetch, at most
//! once per `refetch_interval` per issuer, and concurrent validations share it: a flood of
//! tokens with random `kid`s cannot flood the issuer.

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::lock::Mutex as AsyncMutex;
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use crate::clock::{Clock, SystemClock};
use crate::crypto;
use crate::error::ErrorCode;
use crate::http::{HttpClient, HttpRequest};
use crate::jose::{self, JoseError, KeySet, VerifyError};
use crate::keys::{Algorithm, Jwk, Jwks};

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

/// Why a token was refused. `Display` is one sentence with what was expected and found.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// No token, or not a JWT.
    #[error("the token is malformed: {part} {reason}")]
    Malformed {
        /// Which part (`token`, `header`, `payload`, `signature`).
        part: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The header names an algorithm idpkit never accepts (`none`, HMAC, unknown).
    #[error(
        "the token's algorithm {found:?} is not supported (only RS256, PS256, ES256 and EdDSA are; `none` and HMAC never)"
    )]
    UnsupportedAlgorithm {
        /// The header's `alg`.
        found: String,
    },
    /// The algorithm is not in the issuer's allow-list.
    #[error(
        "the token's algorithm {found} is not allowed for issuer {issuer} (allowed: {allowed:?})"
    )]
    DisallowedAlgorithm {
        /// The header's `alg`.
        found: Algorithm,
        /// The issuer.
        issuer: String,
        /// Its allow-list.
        allowed: Vec<Algorithm>,
    },
    /// `iss` is not a trusted issuer.
    #[error(
        "the token's issuer {found:?} is not trusted (trusted: {trusted:?}); a token from another issuer URL or tenant?"
    )]
    UnknownIssuer {
        /// The token's `iss`.
        found: String,
        /// The trusted issuers.
        trusted: Vec<String>,
    },
    /// The `kid` is not in the issuer's JWKS, even after a refetch.
    #[error("the token's key id {found:?} is not in the JWKS of {issuer} (known: {known:?}){}", if *.refetched { ", even after refetching it" } else { "; the JWKS was refetched recently, not again yet" })]
    UnknownKid {
        /// The header's `kid`.
        found: String,
        /// The issuer.
        issuer: String,
        /// The `kid`s known.
        known: Vec<String>,
        /// Whether a refetch was made for this token.
        refetched: bool,
    },
    /// The key named by `kid` is of another type than `alg` needs.
    #[error(
        "the token's algorithm {alg} does not match key {kid} (a {kty} key): refused, the token does not get to choose the key type"
    )]
    KeyTypeMismatch {
        /// The header's `kid`.
        kid: String,
        /// The header's `alg`.
        alg: Algorithm,
        /// The key's `kty`.
        kty: String,
    },
    /// The signature does not verify.
    #[error("the token's signature does not verify with key {kid} ({alg})")]
    BadSignature {
        /// The key.
        kid: String,
        /// The algorithm.
        alg: Algorithm,
    },
    /// `exp` has passed.
    #[error("the token expired at {exp} (now {now}, leeway {leeway}s)")]
    Expired {
        /// `exp`.
        exp: i64,
        /// The validator's time.
        now: i64,
        /// Leeway in seconds.
        leeway: i64,
    },
    /// `nbf` is still ahead.
    #[error(
        "the token is not valid before {nbf} (now {now}, leeway {leeway}s); are the clocks in sync?"
    )]
    NotYetValid {
        /// `nbf`.
        nbf: i64,
        /// The validator's time.
        now: i64,
        /// Leeway in seconds.
        leeway: i64,
    },
    /// `aud` contains none of the accepted audiences.
    #[error("the token's audience {found:?} does not include {expected:?}{}", hint.map(|h| format!("; {h}")).unwrap_or_default())]
    AudienceMismatch {
        /// The accepted audiences.
        expected: Vec<String>,
        /// The token's `aud`.
        found: Vec<String>,
        /// A well-known cause, when the shape of the token suggests one.
        hint: Option<&'static str>,
    },
    /// The header's `typ` is not the required one.
    #[error("the token's type {found:?} is not {expected:?}{}", if found.as_deref() == Some("JWT") { " (an ID token sent as an access token?)" } else { "" })]
    WrongType {
        /// The required `typ`.
        expected: String,
        /// The header's `typ`.
        found: Option<String>,
    },
    /// A required claim is missing.
    #[error("the token has no {name:?} claim")]
    MissingClaim {
        /// The claim.
        name: String,
    },
    /// A required claim has another value.
    #[error("the token's {name:?} claim is {found}, expected {expected}")]
    ClaimMismatch {
        /// The claim.
        name: String,
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },
    /// A required scope is missing.
    #[error("the token lacks scope {missing:?} (has {found:?})")]
    InsufficientScope {
        /// The missing scopes.
        missing: Vec<String>,
        /// The token's scopes.
        found: Vec<String>,
    },
    /// The token was minted for another vendor's API and cannot be validated by a third party.
    #[error("the token cannot be validated here: {reason}")]
    ForeignToken {
        /// Why.
        reason: &'static str,
    },
    /// Introspection said the opaque token is not active.
    #[error("the opaque token is not active at {issuer} (unknown, expired or revoked)")]
    Inactive {
        /// The issuer asked.
        issuer: String,
    },
    /// The issuer's JWKS (or introspection endpoint) could not be reached.
    #[error("the issuer {issuer} is unreachable (JWKS or introspection): {reason}")]
    IssuerUnreachable {
        /// The issuer.
        issuer: String,
        /// What went wrong.
        reason: String,
    },
}

impl Rejection {
    /// The RFC 6750 error code: `insufficient_scope` or `invalid_token`.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            Self::InsufficientScope { .. } => ErrorCode::InsufficientScope,
            _ => ErrorCode::InvalidToken,
        }
    }

    /// The HTTP status: 403 for insufficient scope, 503 when the issuer is unreachable, else 401.
    pub fn status(&self) -> u16 {
        match self {
            Self::InsufficientScope { .. } => 403,
            Self::IssuerUnreachable { .. } => 503,
            _ => 401,
        }
    }

    /// The `WWW-Authenticate` value (RFC 6750 §3, built by [`crate::bearer::challenge`]);
    /// the description is left out when `detail` is false (hosts that do not want to tell
    /// clients why).
    pub fn www_authenticate(&self, realm: &str, detail: bool) -> String {
        let description = detail.then(|| self.to_string());
        let scope = match self {
            Self::InsufficientScope { missing, .. } => Some(missing.join(" ")),
            _ => None,
        };
        crate::bearer::challenge(
            realm,
            Some((self.error_code().as_str(), description.as_deref())),
            scope.as_deref(),
        )
    }
}

/// A token that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedToken {
    /// `iss`.
    pub issuer: String,
    /// `sub`, if present.
    pub subject: Option<String>,
    /// `scope`, split.
    pub scopes: Vec<String>,
    /// `client_id`, if present.
    pub client_id: Option<String>,
    /// The key that signed it (`None` for an introspected opaque token).
    pub kid: Option<String>,
    /// The algorithm (`None` for an introspected opaque token).
    pub alg: Option<Algorithm>,
    /// The decoded JSON payload; every claim is parsed from it on first use.
    payload: Vec<u8>,
    claims: std::sync::OnceLock<Map<String, Value>>,
}

impl ValidatedToken {
    /// Whether the token carries `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Every claim (parsed on first use: the checks themselves read only the registered
    /// claims).
    pub fn claims(&self) -> &Map<String, Value> {
        self.claims
            .get_or_init(|| match serde_json::from_slice(&self.payload) {
                Ok(Value::Object(m)) => m,
                _ => Map::new(),
            })
    }

    /// One claim.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.claims().get(name)
    }
}

/// The registered claims the checks read, borrowed from the payload.
#[derive(serde::Deserialize, Default)]
struct StdClaims<'a> {
    #[serde(borrow, default)]
    iss: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    sub: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    aud: Option<OneOrMany<'a>>,
    #[serde(default)]
    exp: Option<f64>,
    #[serde(default)]
    nbf: Option<f64>,
    #[serde(borrow, default)]
    scope: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    client_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    azp: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    nonce: Option<serde::de::IgnoredAny>,
}

enum OneOrMany<'a> {
    One(std::borrow::Cow<'a, str>),
    Many(Vec<std::borrow::Cow<'a, str>>),
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for OneOrMany<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = OneOrMany<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                v: &'de str,
            ) -> Result<Self::Value, E> {
                Ok(OneOrMany::One(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(OneOrMany::One(std::borrow::Cow::Owned(v.to_owned())))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(OneOrMany::One(v)) = seq.next_element::<OneOrMany<'a>>()? {
                    out.push(v);
                }
                Ok(OneOrMany::Many(out))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<'a> StdClaims<'a> {
    /// From an already parsed claim set (introspection answers).
    fn from_map(m: &'a Map<String, Value>) -> Self {
        let s = |k: &str| {
            m.get(k)
                .and_then(Value::as_str)
                .map(std::borrow::Cow::Borrowed)
        };
        Self {
            iss: s("iss"),
            sub: s("sub"),
            aud: match m.get("aud") {
                Some(Value::String(a)) => Some(OneOrMany::One(a.as_str().into())),
                Some(Value::Array(a)) => Some(OneOrMany::Many(
                    a.iter()
                        .filter_map(|v| v.as_str().map(Into::into))
                        .collect(),
                )),
                _ => None,
            },
            exp: m.get("exp").and_then(Value::as_f64),
            nbf: m.get("nbf").and_then(Value::as_f64),
            scope: s("scope"),
            client_id: s("client_id"),
            azp: s("azp"),
            nonce: m.get("nonce").map(|_| serde::de::IgnoredAny),
        }
    }

    fn audiences(&self) -> Vec<&str> {
        match &self.aud {
            Some(OneOrMany::One(a)) => vec![a.as_ref()],
            Some(OneOrMany::Many(v)) => v.iter().map(|a| a.as_ref()).collect(),
            None => Vec::new(),
        }
    }

    fn scopes(&self) -> Vec<String> {
        self.scope
            .as_deref()
            .map(|s| {
                s.split(' ')
                    .filter(|x| !x.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[derive(Debug, Default)]
struct Cache {
    /// When the last fetch failed: no new fetch before `refetch_interval` has passed.
    last_failed: Option<OffsetDateTime>,
    jwks: Option<Arc<KeySet>>,
    fetched_at: Option<OffsetDateTime>,
    last_forced: Option<OffsetDateTime>,
}

#[derive(Debug)]
struct IssuerState {
    config: TrustedIssuer,
    cache: AsyncMutex<Cache>,
    /// The cache's current key set, readable without the async lock on the hot path.
    current: std::sync::RwLock<Option<(Arc<KeySet>, OffsetDateTime)>>,
}

/// The most introspection answers kept at once.
const INTROSPECTION_CACHE_MAX: usize = 10_000;

/// Introspection answers by SHA-256 of the token, with how long they may be reused.
type IntrospectionCache =
    std::collections::HashMap<[u8; 32], (OffsetDateTime, Result<ValidatedToken, Rejection>)>;

/// Validates access tokens for a resource server. Cheap to share behind an `Arc`.
pub struct Validator {
    issuers: Vec<IssuerState>,
    leeway: Duration,
    typ: Option<String>,
    scopes: Vec<String>,
    claims: Vec<(String, ClaimRule)>,
    ttl: Duration,
    refetch_interval: Duration,
    clock: Arc<dyn Clock>,
    http: Option<Arc<dyn HttpClient>>,
    introspected: std::sync::Mutex<IntrospectionCache>,
    introspection_ttl: Duration,
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let issuers: Vec<&str> = self
            .issuers
            .iter()
            .map(|i| i.config.issuer.as_str())
            .collect();
        f.debug_struct("Validator")
            .field("issuers", &issuers)
            .finish_non_exhaustive()
    }
}

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
        let issuers = self
            .issuers
            .into_iter()
            .map(|config| {
                let current = match &config.jwks {
                    JwksSource::Static(j) => {
                        Some((Arc::new(KeySet::new(j)), OffsetDateTime::UNIX_EPOCH))
                    }
                    _ => None,
                };
                IssuerState {
                    config,
                    cache: AsyncMutex::new(Cache::default()),
                    current: std::sync::RwLock::new(current),
                }
            })
            .collect();
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
        })
    }
}

/// `aud` must contain one of the issuer's accepted audiences (RFC 9068 §4, RFC 7519
/// §4.1.3), with a hint when the token looks like an ID token.
fn check_audience(
    state: &IssuerState,
    claims: &StdClaims<'_>,
    aud: &[&str],
) -> Result<(), Rejection> {
    if aud
        .iter()
        .any(|a| state.config.audiences.iter().any(|x| x == a))
    {
        return Ok(());
    }
    let client = claims.azp.as_deref().or(claims.client_id.as_deref());
    let hint = if claims.nonce.is_some() || client.is_some_and(|c| aud.contains(&c)) {
        Some(
            "its audience is the client itself, so this looks like an ID token sent as an access token",
        )
    } else if aud.is_empty() {
        Some("the token has no audience at all")
    } else {
        None
    };
    Err(Rejection::AudienceMismatch {
        expected: state.config.audiences.clone(),
        found: aud.iter().map(|a| (*a).to_owned()).collect(),
        hint,
    })
}

/// A required claim must be present and satisfy its rule.
fn check_claim(name: &str, rule: &ClaimRule, found: Option<&Value>) -> Result<(), Rejection> {
    let Some(found) = found else {
        return Err(Rejection::MissingClaim {
            name: name.to_owned(),
        });
    };
    let ok = match rule {
        ClaimRule::Present => true,
        ClaimRule::Equals(v) => found == v,
        ClaimRule::AnyOf(vs) => vs.contains(found),
    };
    if ok {
        return Ok(());
    }
    let expected = match rule {
        ClaimRule::Equals(v) => v.to_string(),
        ClaimRule::AnyOf(vs) => format!("one of {}", Value::Array(vs.clone())),
        ClaimRule::Present => String::new(),
    };
    Err(Rejection::ClaimMismatch {
        name: name.to_owned(),
        expected,
        found: found.to_string(),
    })
}

/// Every claim of a JWT payload (read only when a claim rule needs more than the
/// registered claims).
fn all_claims(payload: &[u8]) -> Map<String, Value> {
    match serde_json::from_slice(payload) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

fn malformed(part: &'static str, reason: impl Into<String>) -> Rejection {
    Rejection::Malformed {
        part,
        reason: reason.into(),
    }
}

fn decode_json(part: &'static str, b64: &str) -> Result<Map<String, Value>, Rejection> {
    let bytes = URL_SAFE_NO_PAD
        .decode(b64)
        .map_err(|_| malformed(part, "is not base64url"))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(malformed(part, "is not a JSON object")),
    }
}

/// One check of [`Validator::inspect`]: its name, and what passed or why it failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// What was checked (`signature`, `exp`, `aud`, ...).
    pub name: &'static str,
    /// `Ok(what was found)` or `Err(why it fails)`.
    pub outcome: Result<String, String>,
}

/// A token taken apart, for tools: header, claims and every check.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspection {
    /// The decoded header, if it decodes.
    pub header: Option<Map<String, Value>>,
    /// The decoded claims, if they decode.
    pub claims: Option<Map<String, Value>>,
    /// Every check, in order; later checks are skipped (not listed) when an earlier one
    /// makes them meaningless.
    pub checks: Vec<Check>,
    /// The verdict of [`Validator::validate`].
    pub verdict: Result<(), Rejection>,
}

/// How a run of the checks reports: [`Validator::validate`] stops at the first failure;
/// [`Validator::inspect`] records every outcome and goes on where the next check still
/// means something. One list of checks serves both, so they cannot disagree.
struct Run<'c> {
    /// `Some` when inspecting.
    record: Option<&'c mut Vec<Check>>,
    /// The first failure: the verdict.
    first: Option<Rejection>,
}

impl Run<'_> {
    /// Records one check; `found` renders a pass, only when inspecting. Returns whether it
    /// passed.
    fn check(
        &mut self,
        name: &'static str,
        result: Result<(), Rejection>,
        found: impl FnOnce() -> String,
    ) -> bool {
        match result {
            Ok(()) => {
                if let Some(checks) = self.record.as_deref_mut() {
                    checks.push(Check {
                        name,
                        outcome: Ok(found()),
                    });
                }
                true
            }
            Err(r) => {
                if let Some(checks) = self.record.as_deref_mut() {
                    checks.push(Check {
                        name,
                        outcome: Err(render(&r)),
                    });
                }
                self.first.get_or_insert(r);
                false
            }
        }
    }

    /// Whether to stop now: after any failure when validating.
    fn stop(&self) -> bool {
        self.record.is_none() && self.first.is_some()
    }

    /// The verdict so far as an error (after a failure that ends the run).
    fn failed(&mut self) -> Rejection {
        self.first.take().unwrap_or_else(|| {
            // Only called after a failed check, which sets `first`.
            malformed("token", "refused")
        })
    }
}

/// A failure as the inspect tool shows it: with the arithmetic done for the reader.
fn render(r: &Rejection) -> String {
    match r {
        Rejection::Expired { exp, now, leeway } => format!(
            "{exp}, expired {}s ago (leeway {leeway}s)",
            now.saturating_sub(*exp)
        ),
        Rejection::NotYetValid { nbf, now, leeway } => format!(
            "{nbf} is {}s ahead (leeway {leeway}s)",
            nbf.saturating_sub(*now)
        ),
        r => r.to_string(),
    }
}

/// The check a parser refusal belongs to, and its rejection.
fn parse_rejection(e: JoseError) -> (&'static str, Rejection) {
    match e {
        JoseError::Parts { .. } => ("structure", malformed("token", e.to_string())),
        JoseError::NotBase64url { part } => (part, malformed(part, "is not base64url")),
        JoseError::Header { .. } => ("header", malformed("header", "is not a JSON object")),
        JoseError::Critical { .. } => (
            "crit",
            // RFC 7515 §4.1.11: critical extensions idpkit does not understand.
            malformed(
                "header",
                "names critical extensions (crit) that are not supported",
            ),
        ),
        JoseError::UnsupportedAlgorithm { found } => {
            ("alg", Rejection::UnsupportedAlgorithm { found })
        }
        JoseError::SignatureTooLong { .. } => (
            "signature",
            malformed("signature", "is longer than any supported key produces"),
        ),
    }
}

const FOREIGN: Rejection = Rejection::ForeignToken {
    reason: "its header carries a nonce, so it was minted for another vendor's API (such as Microsoft Graph) and only that API can validate it",
};

impl IssuerState {
    /// A [`VerifyError`] in this issuer's terms.
    fn rejection(&self, e: VerifyError) -> Rejection {
        match e {
            VerifyError::Jose(e) => parse_rejection(e).1,
            VerifyError::HeaderNonce => FOREIGN,
            VerifyError::DisallowedAlgorithm { found, allowed } => Rejection::DisallowedAlgorithm {
                found,
                issuer: self.config.issuer.clone(),
                allowed,
            },
            VerifyError::UnknownKid { found, known } => Rejection::UnknownKid {
                found,
                issuer: self.config.issuer.clone(),
                known,
                refetched: false,
            },
            VerifyError::KeyTypeMismatch { kid, alg, kty } => {
                Rejection::KeyTypeMismatch { kid, alg, kty }
            }
            VerifyError::UnusableKey { kid, alg } | VerifyError::BadSignature { kid, alg } => {
                Rejection::BadSignature { kid, alg }
            }
            e => time_rejection(e),
        }
    }
}

/// The time-claim failures (no issuer involved).
fn time_rejection(e: VerifyError) -> Rejection {
    match e {
        VerifyError::MissingExp => Rejection::MissingClaim { name: "exp".into() },
        VerifyError::Expired { exp, now, leeway } => Rejection::Expired { exp, now, leeway },
        VerifyError::NotYetValid { nbf, now, leeway } => {
            Rejection::NotYetValid { nbf, now, leeway }
        }
        e => malformed("payload", e.to_string()),
    }
}

impl Validator {
    /// Takes a token apart and runs the same checks as [`validate`](Self::validate), in the
    /// same order, for humans (the inspect tool): where `validate` stops at the first
    /// failure, this records it and goes on wherever the next check still means something.
    /// The verdict is the first failure, i.e. exactly what `validate` answers.
    pub async fn inspect(&self, token: &str) -> Inspection {
        let mut checks = Vec::new();
        let parts: Vec<&str> = token.split('.').collect();
        let (header, claims) = match parts.as_slice() {
            [h, p, _] => (
                decode_json("header", h).ok(),
                decode_json("payload", p).ok(),
            ),
            _ => (None, None),
        };
        let verdict = if self.is_opaque(token).is_some() {
            let verdict = self.validate(token).await.map(|_| ());
            checks.push(Check {
                name: "introspection",
                outcome: match &verdict {
                    Ok(()) => Ok("active".into()),
                    Err(r) => Err(render(r)),
                },
            });
            verdict
        } else {
            self.run(token, Some(&mut checks)).await.map(|_| ())
        };
        Inspection {
            header,
            claims,
            checks,
            verdict,
        }
    }

    /// The issuer that introspects `token`, when it is opaque (no dots) and one does.
    fn is_opaque(&self, token: &str) -> Option<&IssuerState> {
        if token.contains('.') {
            return None;
        }
        self.issuers
            .iter()
            .find(|i| i.config.introspection.is_some())
    }

    /// Validates a JWT access token (the value after `Bearer `).
    pub async fn validate(&self, token: &str) -> Result<ValidatedToken, Rejection> {
        if let Some(state) = self.is_opaque(token) {
            return self.introspect_opaque(state, token).await;
        }
        self.run(token, None).await
    }

    /// The checks, in order: the JWS parser (three parts, base64url, header, no `crit`, an
    /// implemented `alg`); no header `nonce`; `typ`; the payload; `iss`; `alg` in the
    /// issuer's allow-list; `kid` in its JWKS; key type; signature; then the claims
    /// ([`Self::check_claims`]).
    async fn run(
        &self,
        token: &str,
        record: Option<&mut Vec<Check>>,
    ) -> Result<ValidatedToken, Rejection> {
        let mut run = Run {
            record,
            first: None,
        };
        let jws = match jose::parse_compact(token) {
            Ok(jws) => jws,
            Err(e) => {
                let (name, r) = parse_rejection(e);
                run.check(name, Err(r), String::new);
                return Err(run.failed());
            }
        };
        let h = jws.header();
        let (alg, kid) = (h.alg, h.kid.as_deref().unwrap_or_default());
        run.check("structure", Ok(()), || "header.payload.signature".into());
        run.check("alg", Ok(()), || alg.to_string());
        run.check("nonce", if h.nonce { Err(FOREIGN) } else { Ok(()) }, || {
            "none in the header".into()
        });
        if run.stop() {
            return Err(run.failed());
        }
        if let Some(expected) = &self.typ {
            let typ = if h.typ_is(expected) {
                Ok(())
            } else {
                Err(Rejection::WrongType {
                    expected: expected.clone(),
                    found: h.typ.clone(),
                })
            };
            run.check("typ", typ, || h.typ.clone().unwrap_or_default());
            if run.stop() {
                return Err(run.failed());
            }
        }
        let claims: StdClaims<'_> = match serde_json::from_slice(jws.payload()) {
            Ok(c) => c,
            Err(_) => {
                run.check(
                    "payload",
                    Err(malformed("payload", "is not a JSON object of JWT claims")),
                    String::new,
                );
                return Err(run.failed());
            }
        };
        let iss = claims.iss.as_deref().unwrap_or_default();
        let state = self.issuers.iter().find(|i| i.config.issuer == iss);
        let trusted = state.map(|_| ()).ok_or_else(|| Rejection::UnknownIssuer {
            found: iss.to_owned(),
            trusted: self
                .issuers
                .iter()
                .map(|i| i.config.issuer.clone())
                .collect(),
        });
        run.check("iss", trusted, || iss.to_owned());
        if run.stop() {
            return Err(run.failed());
        }
        if let Some(state) = state {
            let allowed = jose::check_algorithm(alg, &state.config.algorithms)
                .map_err(|e| state.rejection(e));
            run.check("alg allowed", allowed, || {
                format!("{alg} (allowed: {:?})", state.config.algorithms)
            });
            if run.stop() {
                return Err(run.failed());
            }
            match self.key(state, kid).await {
                Err(r) => {
                    run.check("kid", Err(r), String::new);
                }
                Ok(set) => {
                    run.check("kid", Ok(()), || kid.to_owned());
                    match set.key(kid, alg) {
                        Err(e) => {
                            run.check("key type", Err(state.rejection(e)), String::new);
                        }
                        Ok(key) => {
                            run.check("key type", Ok(()), || format!("fits {alg}"));
                            let sig = jose::verify_signature(key, kid, &jws)
                                .map_err(|e| state.rejection(e));
                            run.check("signature", sig, || format!("valid ({alg})"));
                        }
                    }
                }
            }
            if run.stop() {
                return Err(run.failed());
            }
        }
        self.check_claims(state, &claims, || all_claims(jws.payload()), &mut run);
        if let Some(r) = run.first.take() {
            return Err(r);
        }
        let token = ValidatedToken {
            issuer: iss.to_owned(),
            subject: claims.sub.as_deref().map(str::to_owned),
            scopes: claims.scopes(),
            client_id: claims.client_id.as_deref().map(str::to_owned),
            kid: Some(kid.to_owned()),
            alg: Some(alg),
            payload: Vec::new(),
            claims: std::sync::OnceLock::new(),
        };
        drop(claims);
        Ok(ValidatedToken {
            payload: jws.into_payload(),
            ..token
        })
    }

    /// The claim checks, in order: `exp` (required), `nbf`, `aud` (when the issuer is
    /// known), the required claims, the required scopes. Shared by JWTs and introspection
    /// answers.
    fn check_claims(
        &self,
        state: Option<&IssuerState>,
        claims: &StdClaims<'_>,
        all: impl FnOnce() -> Map<String, Value>,
        run: &mut Run<'_>,
    ) {
        let now = self.clock.now().unix_timestamp();
        let leeway = self.leeway.whole_seconds();
        // `as` saturates: absurd float times cannot overflow.
        let exp = claims.exp.map(|e| e as i64);
        run.check(
            "exp",
            jose::check_exp(exp, now, leeway).map_err(time_rejection),
            || {
                let exp = exp.unwrap_or_default();
                format!("{exp} ({}s left)", exp.saturating_sub(now))
            },
        );
        if run.stop() {
            return;
        }
        if let Some(nbf) = claims.nbf.map(|n| n as i64) {
            run.check(
                "nbf",
                jose::check_nbf(Some(nbf), now, leeway).map_err(time_rejection),
                || nbf.to_string(),
            );
            if run.stop() {
                return;
            }
        }
        if let Some(state) = state {
            let aud = claims.audiences();
            run.check("aud", check_audience(state, claims, &aud), || {
                format!("{aud:?}")
            });
            if run.stop() {
                return;
            }
        }
        if !self.claims.is_empty() {
            let all_claims = all();
            for (name, rule) in &self.claims {
                let found = all_claims.get(name);
                run.check("claim", check_claim(name, rule, found), || {
                    format!("{name} = {}", found.cloned().unwrap_or_default())
                });
                if run.stop() {
                    return;
                }
            }
        }
        if !self.scopes.is_empty() {
            let have = claims.scopes();
            let missing: Vec<String> = self
                .scopes
                .iter()
                .filter(|s| !have.contains(s))
                .cloned()
                .collect();
            let result = if missing.is_empty() {
                Ok(())
            } else {
                Err(Rejection::InsufficientScope {
                    missing,
                    found: have.clone(),
                })
            };
            run.check("scope", result, || have.join(" "));
        }
    }

    /// The key set of an issuer that has the key `kid`: from the cache while fresh;
    /// otherwise (or when the `kid` is unknown, at most once per refetch interval) from a
    /// fetch that concurrent callers share.
    async fn key(&self, state: &IssuerState, kid: &str) -> Result<Arc<KeySet>, Rejection> {
        let now = self.clock.now();
        let is_static = matches!(state.config.jwks, JwksSource::Static(_));
        let fresh = |at: OffsetDateTime| is_static || now - at < self.ttl;
        if let Some((set, at)) = state
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            && fresh(*at)
            && set.contains(kid)
        {
            return Ok(set.clone());
        }
        if is_static {
            return Err(self.unknown_kid(state, kid, false));
        }
        // Slow path: one fetch at a time per issuer; waiters reuse its result.
        let mut cache = state.cache.lock().await;
        let stale = cache.fetched_at.is_none_or(|at| !fresh(at));
        if !stale
            && let Some(set) = &cache.jwks
            && set.contains(kid)
        {
            return Ok(set.clone());
        }
        let may_force = cache
            .last_forced
            .is_none_or(|t| now - t >= self.refetch_interval);
        // After a failed fetch, wait a refetch interval before trying again: meanwhile serve
        // the stale set (when it has the key) or answer at once, instead of queueing every
        // validation behind another fetch.
        if let Some(failed) = cache.last_failed
            && now - failed < self.refetch_interval
        {
            if let Some(set) = &cache.jwks
                && set.contains(kid)
            {
                return Ok(set.clone());
            }
            drop(cache);
            return Err(Rejection::IssuerUnreachable {
                issuer: state.config.issuer.clone(),
                reason: "the last JWKS fetch failed; not retrying yet".into(),
            });
        }
        if !stale && !may_force {
            drop(cache);
            return Err(self.unknown_kid(state, kid, false));
        }
        if !stale {
            cache.last_forced = Some(now);
        }
        let set = match self.fetch(&state.config).await {
            Ok(j) => Arc::new(KeySet::new(&j)),
            Err(reason) => {
                cache.last_failed = Some(now);
                // A stale key set stays usable while the issuer is unreachable.
                if let Some(set) = &cache.jwks
                    && set.contains(kid)
                {
                    tracing::warn!(issuer = %state.config.issuer, reason, "idpkit: JWKS refresh failed; using the cached set");
                    return Ok(set.clone());
                }
                return Err(Rejection::IssuerUnreachable {
                    issuer: state.config.issuer.clone(),
                    reason,
                });
            }
        };
        cache.jwks = Some(set.clone());
        cache.fetched_at = Some(now);
        cache.last_failed = None;
        *state.current.write().unwrap_or_else(|p| p.into_inner()) = Some((set.clone(), now));
        drop(cache);
        if set.contains(kid) {
            Ok(set)
        } else {
            Err(self.unknown_kid(state, kid, true))
        }
    }

    /// RFC 7662 introspection of an opaque token, with a short cache keyed by the token's
    /// hash (never the token).
    async fn introspect_opaque(
        &self,
        state: &IssuerState,
        token: &str,
    ) -> Result<ValidatedToken, Rejection> {
        let now = self.clock.now();
        let key = crypto::sha256(token.as_bytes());
        {
            let cache = self.introspected.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((until, answer)) = cache.get(&key)
                && now < *until
            {
                return answer.clone();
            }
        }
        let answer = self.introspect_remote(state, token).await;
        // Active answers are reused until the cache TTL or the token's own `exp`, whichever
        // comes first. Inactive ones are not kept: random tokens must not fill the cache.
        if let Ok(t) = &answer {
            let exp = t
                .claim("exp")
                .and_then(Value::as_i64)
                .and_then(|e| OffsetDateTime::from_unix_timestamp(e).ok());
            let until = match exp {
                Some(e) => e.min(now + self.introspection_ttl),
                None => now + self.introspection_ttl,
            };
            let mut cache = self.introspected.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() >= INTROSPECTION_CACHE_MAX {
                cache.retain(|_, (until, _)| now < *until);
            }
            if cache.len() < INTROSPECTION_CACHE_MAX {
                cache.insert(key, (until, answer.clone()));
            }
        }
        answer
    }

    async fn introspect_remote(
        &self,
        state: &IssuerState,
        token: &str,
    ) -> Result<ValidatedToken, Rejection> {
        let issuer = state.config.issuer.clone();
        let (Some(http), Some(intro)) = (&self.http, &state.config.introspection) else {
            return Err(malformed(
                "token",
                "is opaque and no introspection is configured",
            ));
        };
        let unavailable = |reason: String| Rejection::IssuerUnreachable {
            issuer: issuer.clone(),
            reason,
        };
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .append_pair("client_id", &intro.client_id)
            .append_pair("client_secret", &intro.client_secret)
            .finish();
        let resp = http
            .send(HttpRequest {
                method: "POST",
                url: intro.endpoint.clone(),
                headers: vec![(
                    "content-type".into(),
                    "application/x-www-form-urlencoded".into(),
                )],
                body: body.into_bytes(),
            })
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        if resp.status != 200 {
            return Err(unavailable(format!(
                "introspection answered {}",
                resp.status
            )));
        }
        let claims: Map<String, Value> = serde_json::from_slice(&resp.body)
            .map_err(|e| unavailable(format!("introspection answer: {e}")))?;
        if claims.get("active") != Some(&Value::Bool(true)) {
            return Err(Rejection::Inactive { issuer });
        }
        if let Some(tt) = claims.get("token_type").and_then(Value::as_str)
            && !(tt.eq_ignore_ascii_case("bearer") || tt == "access_token")
        {
            return Err(Rejection::WrongType {
                expected: "access token".into(),
                found: Some(tt.to_owned()),
            });
        }
        if claims
            .get("iss")
            .and_then(Value::as_str)
            .is_some_and(|i| i != issuer)
        {
            return Err(Rejection::UnknownIssuer {
                found: claims["iss"].as_str().unwrap_or_default().to_owned(),
                trusted: vec![issuer],
            });
        }
        let std = StdClaims::from_map(&claims);
        let mut run = Run {
            record: None,
            first: None,
        };
        self.check_claims(Some(state), &std, || claims.clone(), &mut run);
        if let Some(r) = run.first {
            return Err(r);
        }
        let (subject, scopes, client_id) = (
            std.sub.as_deref().map(str::to_owned),
            std.scopes(),
            std.client_id.as_deref().map(str::to_owned),
        );
        drop(std);
        Ok(ValidatedToken {
            issuer,
            subject,
            scopes,
            client_id,
            kid: None,
            alg: None,
            payload: Vec::new(),
            claims: std::sync::OnceLock::from(claims),
        })
    }

    fn unknown_kid(&self, state: &IssuerState, kid: &str, refetched: bool) -> Rejection {
        let known = state
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|(set, _)| set.kids())
            .unwrap_or_default();
        Rejection::UnknownKid {
            found: kid.to_owned(),
            issuer: state.config.issuer.clone(),
            known,
            refetched,
        }
    }

    async fn fetch(&self, issuer: &TrustedIssuer) -> Result<Jwks, String> {
        let http = self.http.as_ref().ok_or("no HTTP client configured")?;
        let get = |url: String| HttpRequest {
            method: "GET",
            url,
            headers: vec![("accept".into(), "application/json".into())],
            body: Vec::new(),
        };
        let jwks_url = match &issuer.jwks {
            JwksSource::Static(j) => return Ok(Jwks::new(j.keys().to_vec())),
            JwksSource::Url(u) => u.clone(),
            JwksSource::Discovery => {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    issuer.issuer.trim_end_matches('/')
                );
                let resp = http
                    .send(get(url.clone()))
                    .await
                    .map_err(|e| e.to_string())?;
                if resp.status != 200 {
                    return Err(format!("{url} answered {}", resp.status));
                }
                let doc: Value =
                    serde_json::from_slice(&resp.body).map_err(|e| format!("{url}: {e}"))?;
                if doc.get("issuer").and_then(Value::as_str) != Some(issuer.issuer.as_str()) {
                    return Err(format!("{url} names another issuer: {}", doc["issuer"]));
                }
                doc.get("jwks_uri")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("{url} has no jwks_uri"))?
                    .to_owned()
            }
        };
        let resp = http
            .send(get(jwks_url.clone()))
            .await
            .map_err(|e| e.to_string())?;
        if resp.status != 200 {
            return Err(format!("{jwks_url} answered {}", resp.status));
        }
        #[derive(serde::Deserialize)]
        struct Doc {
            keys: Vec<Value>,
        }
        let doc: Doc =
            serde_json::from_slice(&resp.body).map_err(|e| format!("{jwks_url}: {e}"))?;
        // Keys idpkit cannot use (other types, encryption keys) are skipped, not fatal.
        let keys = doc
            .keys
            .into_iter()
            .filter_map(|k| serde_json::from_value::<Jwk>(k).ok())
            .filter(|k| k.key_use.as_deref().is_none_or(|u| u == "sig"))
            .collect();
        Ok(Jwks::new(keys))
    }
}
