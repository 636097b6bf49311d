//! The resource-server side: validating access tokens, and saying exactly why one is refused.
//!
//! A [`Validator`] trusts one or more issuers (each with its JWKS source, allowed algorithms
//! and accepted audiences) and checks a JWT access token: size, structure (header and
//! payload strict JSON objects with unique members, RFC 7515 §4 and §5.2, RFC 7519 §7.2),
//! algorithm against the issuer's allow-list *and* the key (the token never picks the key
//! type), issuer, `kid`, signature, `exp` / `nbf` / `iat` with leeway, audience, `typ`
//! (`at+jwt` by default), required scopes and claims. Every refusal is a [`Rejection`]
//! whose `Display` is one sentence with expected vs found, plus what to change when the
//! values suggest it (a Microsoft Graph audience, the other Entra issuer version, `scp`
//! instead of `scope`), and which maps to RFC 6750.
//!
//! Modules: `issuer` (what is trusted, and the knobs), `builder`, `rejection` (the
//! refusals and their wire mapping), `claims` (the registered claims, typed), `hints`
//! (near misses and the few vendor facts), `checks` (the one check list of `validate`
//! and `inspect`), `jwks` (the key cache), `introspect` (opaque tokens).

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};
use time::Duration;

use crate::Algorithm;
use crate::clock::Clock;
use crate::http::HttpClient;

mod builder;
mod checks;
mod claims;
mod dpop;
mod hints;
mod introspect;
mod issuer;
mod jwks;
mod rejection;

pub use builder::{DEFAULT_MAX_TOKEN_BYTES, ValidatorBuilder};
pub use checks::{Check, Inspection};
pub use dpop::{DpopStore, MemoryDpopStore, ResourceRequest, StoreDpopStore};
pub use issuer::{ClaimRule, Introspection, JwksSource, TrustedIssuer};
pub use rejection::{KidLookup, Rejection};

use checks::{Run, render};
use jwks::IssuerState;

/// A token that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedToken {
    /// `iss`.
    pub issuer: String,
    /// `sub`, if present.
    pub subject: Option<String>,
    /// `scope`, split (or `scp`, when the issuer is trusted with
    /// [`TrustedIssuer::read_scp`]).
    pub scopes: Vec<String>,
    /// `client_id`, if present.
    pub client_id: Option<String>,
    /// The key that signed it (`None` for an introspected opaque token).
    pub kid: Option<String>,
    /// The algorithm (`None` for an introspected opaque token).
    pub alg: Option<Algorithm>,
    /// Whether `scp` was read as the scopes.
    read_scp: bool,
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

    /// Checks that the token carries every one of `scopes` (for per-route requirements on
    /// top of the validator's): [`Rejection::InsufficientScope`] names the missing ones and
    /// where the scopes may be instead (`scp`, `roles`).
    pub fn require_scopes(&self, scopes: &[String]) -> Result<(), Rejection> {
        let missing: Vec<String> = scopes
            .iter()
            .filter(|s| !self.has_scope(s))
            .cloned()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let hint = claims::StdClaims::from_map(self.claims())
            .ok()
            .and_then(|c| hints::scope(&c, &self.issuer, self.read_scp));
        Err(Rejection::InsufficientScope {
            missing,
            found: self.scopes.clone(),
            hint,
        })
    }
}

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
    introspected: std::sync::Mutex<introspect::IntrospectionCache>,
    introspection_ttl: Duration,
    max_token_bytes: usize,
    dpop: dpop::DpopSettings,
    metadata: Option<crate::protected_resource_metadata::PublishedMetadata>,
    /// Keys that decrypt encrypted (JWE) access tokens before they are verified.
    decryption_keys: Vec<Arc<crate::jose::jwe::DecryptionKey>>,
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

/// A decoded part for [`Inspection`]: any JSON object, without the strict checks (those
/// are in the check list).
fn decode_json(b64: &str) -> Option<Map<String, Value>> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(b64)
        .ok()?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

impl Validator {
    /// Takes a token apart and runs the same checks as [`validate`](Self::validate), in the
    /// same order, for humans (the inspect tool): where `validate` stops at the first
    /// failure, this records it and goes on wherever the next check still means something.
    /// The verdict is the first failure, i.e. exactly what `validate` answers.
    pub async fn inspect(&self, token: &str) -> Inspection {
        let mut checks = Vec::new();
        let (header, claims) = match token.split('.').collect::<Vec<_>>().as_slice() {
            [h, p, _] if token.len() <= self.max_token_bytes => (decode_json(h), decode_json(p)),
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
            self.run(token, Run::inspecting(&mut checks))
                .await
                .and_then(|t| match t.jkt() {
                    // What `validate` answers for a token presented as Bearer.
                    Some(jkt) => {
                        let r = Rejection::DpopBoundAsBearer {
                            jkt: jkt.to_owned(),
                        };
                        checks.push(Check {
                            name: "cnf",
                            outcome: Err(render(&r)),
                        });
                        Err(r)
                    }
                    None => Ok(()),
                })
        };
        Inspection {
            header,
            claims,
            checks,
            verdict,
        }
    }

    /// The protected resource metadata (RFC 9728), built once at
    /// [`build`](ValidatorBuilder::build) from
    /// [`ValidatorBuilder::resource_metadata`]; `None` when not configured.
    pub fn resource_metadata(
        &self,
    ) -> Option<&crate::protected_resource_metadata::PublishedMetadata> {
        self.metadata.as_ref()
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

    /// Validates an access token (the value after `Bearer `): a JWT, or an opaque token
    /// by introspection when an issuer is configured for it. A DPoP-bound token
    /// (`cnf.jkt`) is refused here ([`Rejection::DpopBoundAsBearer`], RFC 9449 §7.2):
    /// it is only good with a proof, through [`validate_request`](Self::validate_request).
    pub async fn validate(&self, token: &str) -> Result<ValidatedToken, Rejection> {
        let t = self.validate_any(token).await?;
        match t.jkt() {
            Some(jkt) => Err(Rejection::DpopBoundAsBearer {
                jkt: jkt.to_owned(),
            }),
            None => Ok(t),
        }
    }

    /// [`validate`](Self::validate) without the bearer-presentation rule.
    async fn validate_any(&self, token: &str) -> Result<ValidatedToken, Rejection> {
        if token.len() > self.max_token_bytes {
            return Err(Rejection::TooLarge {
                size: token.len(),
                max: self.max_token_bytes,
            });
        }
        if let Some(state) = self.is_opaque(token) {
            return self.introspect_opaque(state, token).await;
        }
        self.run(token, Run::validating()).await
    }
}
