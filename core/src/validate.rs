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

/// A key set with every key decoded once for verification.
#[derive(Debug)]
struct KeySet {
    entries: Vec<KeyEntry>,
}

#[derive(Debug)]
struct KeyEntry {
    kid: Option<String>,
    kty: String,
    alg: Option<Algorithm>,
    key: Option<crypto::VerifyingKey>,
}

impl KeySet {
    fn new(jwks: &Jwks) -> Arc<Self> {
        let entries = jwks
            .keys()
            .iter()
            .map(|k| KeyEntry {
                kid: k.kid.clone(),
                kty: k.kty.clone(),
                alg: k.alg,
                key: crypto::VerifyingKey::from_jwk(k),
            })
            .collect();
        Arc::new(Self { entries })
    }

    fn position(&self, kid: &str) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.kid.as_deref() == Some(kid))
    }

    fn kids(&self) -> Vec<String> {
        self.entries.iter().filter_map(|e| e.kid.clone()).collect()
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
                    JwksSource::Static(j) => Some((KeySet::new(j), OffsetDateTime::UNIX_EPOCH)),
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

/// The JOSE header fields the validator reads, borrowed from the decoded bytes.
#[derive(serde::Deserialize)]
struct JoseHeader<'a> {
    #[serde(borrow, default)]
    alg: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    kid: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    typ: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    nonce: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    crit: Option<serde::de::IgnoredAny>,
}

/// `typ` equals `expected`, or `application/` + `expected` (RFC 8725 §3.11), ignoring case.
fn typ_matches(typ: &str, expected: &str) -> bool {
    let bare = match typ.get(..12) {
        Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &typ[12..],
        _ => typ,
    };
    bare.eq_ignore_ascii_case(expected)
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

fn string_or_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
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

impl Validator {
    /// Takes a token apart and runs every check it can, for humans (the inspect tool): unlike
    /// [`validate`](Self::validate) it goes on after a failure where the next check still
    /// means something.
    pub async fn inspect(&self, token: &str) -> Inspection {
        let verdict = self.validate(token).await.map(|_| ());
        let mut checks = Vec::new();
        let mut push = |name, outcome| checks.push(Check { name, outcome });
        let parts: Vec<&str> = token.split('.').collect();
        if parts.len() != 3 {
            push(
                "structure",
                Err(format!("{} parts, a JWS has 3", parts.len())),
            );
            return Inspection {
                header: None,
                claims: None,
                checks,
                verdict,
            };
        }
        push("structure", Ok("header.payload.signature".into()));
        let header = decode_json("header", parts[0]).ok();
        let claims = decode_json("payload", parts[1]).ok();
        let (Some(h), Some(c)) = (&header, &claims) else {
            push(
                "decoding",
                Err("header or payload is not base64url JSON".into()),
            );
            return Inspection {
                header,
                claims,
                checks,
                verdict,
            };
        };
        let alg_name = h.get("alg").and_then(Value::as_str).unwrap_or_default();
        let alg = Algorithm::from_name(alg_name);
        push(
            "alg",
            alg.map(|a| a.to_string())
                .ok_or_else(|| format!("{alg_name:?} is never accepted")),
        );
        if let Some(expected) = &self.typ {
            let found = h.get("typ").and_then(Value::as_str).unwrap_or_default();
            let ok = typ_matches(found, expected);
            push(
                "typ",
                if ok {
                    Ok(found.to_owned())
                } else {
                    Err(format!("{found:?}, expected {expected:?}"))
                },
            );
        }
        let iss = c.get("iss").and_then(Value::as_str).unwrap_or_default();
        let state = self.issuers.iter().find(|i| i.config.issuer == iss);
        push(
            "iss",
            state
                .map(|_| iss.to_owned())
                .ok_or_else(|| format!("{iss:?} is not trusted")),
        );
        let now = self.clock.now().unix_timestamp();
        let leeway = self.leeway.whole_seconds();
        push(
            "exp",
            match c.get("exp").and_then(Value::as_i64) {
                Some(exp) if exp.saturating_add(leeway) > now => {
                    Ok(format!("{exp} ({}s left)", exp.saturating_sub(now)))
                }
                Some(exp) => Err(format!(
                    "{exp}, expired {}s ago (leeway {leeway}s)",
                    now.saturating_sub(exp)
                )),
                None => Err("missing".into()),
            },
        );
        if let Some(nbf) = c.get("nbf").and_then(Value::as_i64) {
            push(
                "nbf",
                if nbf.saturating_sub(leeway) <= now {
                    Ok(nbf.to_string())
                } else {
                    Err(format!("{nbf} is {}s ahead", nbf.saturating_sub(now)))
                },
            );
        }
        if let Some(state) = state {
            let aud = string_or_list(c.get("aud"));
            let ok = aud.iter().any(|a| state.config.audiences.contains(a));
            push(
                "aud",
                if ok {
                    Ok(format!("{aud:?}"))
                } else {
                    Err(format!(
                        "{aud:?}, expected one of {:?}",
                        state.config.audiences
                    ))
                },
            );
            if let Some(alg) = alg {
                let kid = h.get("kid").and_then(Value::as_str).unwrap_or_default();
                match self.key(state, kid).await {
                    Ok((set, i)) => {
                        push("kid", Ok(kid.to_owned()));
                        let sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap_or_default();
                        let input = format!("{}.{}", parts[0], parts[1]);
                        let entry = &set.entries[i];
                        let ok = entry.kty == alg.key_type()
                            && entry
                                .key
                                .as_ref()
                                .is_some_and(|k| k.verify(alg, input.as_bytes(), &sig));
                        push(
                            "signature",
                            if ok {
                                Ok(format!("valid ({alg})"))
                            } else {
                                Err(format!("does not verify with {kid} as {alg}"))
                            },
                        );
                    }
                    Err(r) => push("kid", Err(r.to_string())),
                }
            }
        }
        if !self.scopes.is_empty() {
            let have = c.get("scope").and_then(Value::as_str).unwrap_or_default();
            let missing: Vec<&String> = self
                .scopes
                .iter()
                .filter(|s| !have.split(' ').any(|h| h == s.as_str()))
                .collect();
            push(
                "scope",
                if missing.is_empty() {
                    Ok(have.to_owned())
                } else {
                    Err(format!("missing {missing:?}"))
                },
            );
        }
        Inspection {
            header,
            claims,
            checks,
            verdict,
        }
    }

    /// Validates a JWT access token (the value after `Bearer `).
    pub async fn validate(&self, token: &str) -> Result<ValidatedToken, Rejection> {
        if !token.contains('.')
            && let Some(state) = self
                .issuers
                .iter()
                .find(|i| i.config.introspection.is_some())
        {
            return self.introspect_opaque(state, token).await;
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed(
                "token",
                "is not a JWS compact serialisation (three dot-separated parts)",
            ));
        };
        let mut header_buf = [0u8; 1024];
        let header_vec;
        let header_bytes: &[u8] = match URL_SAFE_NO_PAD.decode_slice(h, &mut header_buf) {
            Ok(n) => &header_buf[..n],
            Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
                header_vec = URL_SAFE_NO_PAD
                    .decode(h)
                    .map_err(|_| malformed("header", "is not base64url"))?;
                &header_vec
            }
            Err(_) => return Err(malformed("header", "is not base64url")),
        };
        let header: JoseHeader<'_> = serde_json::from_slice(header_bytes)
            .map_err(|_| malformed("header", "is not a JSON object"))?;
        if header.crit.is_some() {
            // RFC 7515 §4.1.11: critical extensions idpkit does not understand.
            return Err(malformed(
                "header",
                "names critical extensions (crit) that are not supported",
            ));
        }
        if header.nonce.is_some() {
            return Err(Rejection::ForeignToken {
                reason: "its header carries a nonce, so it was minted for another vendor's API (such as Microsoft Graph) and only that API can validate it",
            });
        }
        let alg_name = header.alg.as_deref().unwrap_or_default();
        let alg =
            Algorithm::from_name(alg_name).ok_or_else(|| Rejection::UnsupportedAlgorithm {
                found: alg_name.to_owned(),
            })?;
        if let Some(expected) = &self.typ {
            let found = header.typ.as_deref();
            if !found.is_some_and(|t| typ_matches(t, expected)) {
                return Err(Rejection::WrongType {
                    expected: expected.clone(),
                    found: found.map(str::to_owned),
                });
            }
        }
        let payload = URL_SAFE_NO_PAD
            .decode(p)
            .map_err(|_| malformed("payload", "is not base64url"))?;
        let claims: StdClaims<'_> = serde_json::from_slice(&payload)
            .map_err(|_| malformed("payload", "is not a JSON object of JWT claims"))?;
        // Signatures are at most 1024 bytes (RSA-8192); decode without allocating.
        let mut sig_buf = [0u8; 1024];
        let sig_len = match URL_SAFE_NO_PAD.decode_slice(s, &mut sig_buf) {
            Ok(n) => n,
            Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
                return Err(malformed(
                    "signature",
                    "is longer than any supported key produces",
                ));
            }
            Err(_) => return Err(malformed("signature", "is not base64url")),
        };
        let sig = &sig_buf[..sig_len];
        let iss = claims.iss.as_deref().unwrap_or_default();
        let state = self
            .issuers
            .iter()
            .find(|i| i.config.issuer == iss)
            .ok_or_else(|| Rejection::UnknownIssuer {
                found: iss.to_owned(),
                trusted: self
                    .issuers
                    .iter()
                    .map(|i| i.config.issuer.clone())
                    .collect(),
            })?;
        if !state.config.algorithms.contains(&alg) {
            return Err(Rejection::DisallowedAlgorithm {
                found: alg,
                issuer: iss.to_owned(),
                allowed: state.config.algorithms.clone(),
            });
        }
        let kid = header.kid.as_deref().unwrap_or_default();
        let (set, i) = self.key(state, kid).await?;
        let entry = &set.entries[i];
        if entry.kty != alg.key_type() || entry.alg.is_some_and(|a| a != alg) {
            return Err(Rejection::KeyTypeMismatch {
                kid: kid.to_owned(),
                alg,
                kty: entry.kty.clone(),
            });
        }
        let signing_input = &token.as_bytes()[..h.len() + 1 + p.len()];
        if !entry
            .key
            .as_ref()
            .is_some_and(|k| k.verify(alg, signing_input, sig))
        {
            return Err(Rejection::BadSignature {
                kid: kid.to_owned(),
                alg,
            });
        }
        self.check_claims(state, &claims, || match serde_json::from_slice(&payload) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        })?;
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
        Ok(ValidatedToken { payload, ..token })
    }

    fn check_claims(
        &self,
        state: &IssuerState,
        claims: &StdClaims<'_>,
        all: impl FnOnce() -> Map<String, Value>,
    ) -> Result<(), Rejection> {
        let now = self.clock.now().unix_timestamp();
        let leeway = self.leeway.whole_seconds();
        match claims.exp.map(|e| e as i64) {
            Some(exp) if exp.saturating_add(leeway) <= now => {
                return Err(Rejection::Expired { exp, now, leeway });
            }
            Some(_) => {}
            None => return Err(Rejection::MissingClaim { name: "exp".into() }),
        }
        if let Some(nbf) = claims.nbf.map(|n| n as i64)
            && nbf.saturating_sub(leeway) > now
        {
            return Err(Rejection::NotYetValid { nbf, now, leeway });
        }
        let aud = claims.audiences();
        if !aud
            .iter()
            .any(|a| state.config.audiences.iter().any(|x| x == a))
        {
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
            return Err(Rejection::AudienceMismatch {
                expected: state.config.audiences.clone(),
                found: aud.iter().map(|a| (*a).to_owned()).collect(),
                hint,
            });
        }
        let all_claims = if self.claims.is_empty() {
            Map::new()
        } else {
            all()
        };
        let claims_map = &all_claims;
        for (name, rule) in &self.claims {
            let Some(found) = claims_map.get(name) else {
                return Err(Rejection::MissingClaim { name: name.clone() });
            };
            let ok = match rule {
                ClaimRule::Present => true,
                ClaimRule::Equals(v) => found == v,
                ClaimRule::AnyOf(vs) => vs.contains(found),
            };
            if !ok {
                let expected = match rule {
                    ClaimRule::Equals(v) => v.to_string(),
                    ClaimRule::AnyOf(vs) => format!("one of {}", Value::Array(vs.clone())),
                    ClaimRule::Present => String::new(),
                };
                return Err(Rejection::ClaimMismatch {
                    name: name.clone(),
                    expected,
                    found: found.to_string(),
                });
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
            if !missing.is_empty() {
                return Err(Rejection::InsufficientScope {
                    missing,
                    found: have,
                });
            }
        }
        Ok(())
    }

    /// The key `kid` of an issuer (its set and index): from the cache while fresh;
    /// otherwise (or when the `kid` is unknown, at most once per refetch interval) from a
    /// fetch that concurrent callers share.
    async fn key(&self, state: &IssuerState, kid: &str) -> Result<(Arc<KeySet>, usize), Rejection> {
        let now = self.clock.now();
        let is_static = matches!(state.config.jwks, JwksSource::Static(_));
        let fresh = |at: OffsetDateTime| is_static || now - at < self.ttl;
        if let Some((set, at)) = state
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            && fresh(*at)
            && let Some(i) = set.position(kid)
        {
            return Ok((set.clone(), i));
        }
        if is_static {
            return Err(self.unknown_kid(state, kid, false));
        }
        // Slow path: one fetch at a time per issuer; waiters reuse its result.
        let mut cache = state.cache.lock().await;
        let stale = cache.fetched_at.is_none_or(|at| !fresh(at));
        if !stale
            && let Some(set) = &cache.jwks
            && let Some(i) = set.position(kid)
        {
            return Ok((set.clone(), i));
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
                && let Some(i) = set.position(kid)
            {
                return Ok((set.clone(), i));
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
            Ok(j) => KeySet::new(&j),
            Err(reason) => {
                cache.last_failed = Some(now);
                // A stale key set stays usable while the issuer is unreachable.
                if let Some(set) = &cache.jwks
                    && let Some(i) = set.position(kid)
                {
                    tracing::warn!(issuer = %state.config.issuer, reason, "idpkit: JWKS refresh failed; using the cached set");
                    return Ok((set.clone(), i));
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
        match set.position(kid) {
            Some(i) => Ok((set, i)),
            None => Err(self.unknown_kid(state, kid, true)),
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
        self.check_claims(state, &std, || claims.clone())?;
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
