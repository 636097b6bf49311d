//! DPoP: demonstrating proof of possession (RFC 9449), the rules both sides apply.
//!
//! A DPoP proof is a JWT the client signs with a key of its own for one HTTP request; the
//! public key travels in the proof's `jwk` header, and its RFC 7638 thumbprint (the `jkt`)
//! is what an access token (`cnf.jkt`, RFC 9449 §6), a refresh token (§5) or an
//! authorization code (`dpop_jkt`, §10) is bound to. This module is the sync rule set of
//! §4.3 for one proof: [`verify`] checks `typ`, `alg` (against [`DpopRules::algorithms`]),
//! the `jwk` (a public key of the algorithm's type, no private members), the signature,
//! `htm`, `htu` (compared after RFC 3986 normalisation: [`normalize_htu`]), `iat` (inside
//! [`DpopRules::max_age`] / [`DpopRules::leeway`]), `jti`, `ath` (when a token is
//! presented) and the presence of `nonce` (when required). What needs the store (replay of
//! a `jti`, whether a server nonce is current) is done by the caller with the ids this
//! module derives ([`replay_id`], [`nonce_id`]), so that it holds across instances.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::{Duration, OffsetDateTime};

use crate::Algorithm;
use crate::crypto::{self, VerifyingKey};
use crate::jose::{Jwk, Member, parse_compact, read_object};

/// The JOSE `typ` of a DPoP proof (RFC 9449 §4.2).
pub const TYP: &str = "dpop+jwt";

/// The algorithms accepted by default: every asymmetric one idpkit implements.
pub const DEFAULT_ALGORITHMS: [Algorithm; 4] = [
    Algorithm::ES256,
    Algorithm::PS256,
    Algorithm::EdDSA,
    Algorithm::RS256,
];

/// The algorithms a strict profile (FAPI 2.0 Security Profile §5.4.1) accepts.
pub const STRICT_ALGORITHMS: [Algorithm; 3] =
    [Algorithm::PS256, Algorithm::ES256, Algorithm::EdDSA];

/// The knobs of proof checking, shared by the authorization server and the validator.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DpopRules {
    /// Accepted proof algorithms (default [`DEFAULT_ALGORITHMS`]; published as
    /// `dpop_signing_alg_values_supported` and in `WWW-Authenticate: DPoP algs`).
    pub algorithms: Vec<Algorithm>,
    /// How old a proof's `iat` may be (default 5 min, RFC 9449 §11.1: "a relatively brief
    /// period"). Proof `jti`s are remembered this long (plus the leeway) for replay checks.
    pub max_age: Duration,
    /// How far ahead of this server's clock a proof's `iat` may be (default 60 s).
    pub leeway: Duration,
    /// Require a server-provided `nonce` in every proof (RFC 9449 §8; default off).
    pub require_nonce: bool,
    /// How long a server nonce stays valid (default 5 min).
    pub nonce_ttl: Duration,
}

impl Default for DpopRules {
    fn default() -> Self {
        Self {
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
            max_age: Duration::minutes(5),
            leeway: Duration::seconds(60),
            require_nonce: false,
            nonce_ttl: Duration::minutes(5),
        }
    }
}

impl DpopRules {
    /// The rules with these algorithms.
    pub fn with_algorithms(mut self, algs: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algs.into_iter().collect();
        self
    }

    /// The rules with the `iat` window: proofs at most `max_age` old and `leeway` ahead.
    pub fn with_iat_window(mut self, max_age: Duration, leeway: Duration) -> Self {
        self.max_age = max_age;
        self.leeway = leeway;
        self
    }

    /// The rules with server nonces required (or not).
    pub fn with_required_nonce(mut self, required: bool) -> Self {
        self.require_nonce = required;
        self
    }

    /// The `algs` value of a `WWW-Authenticate: DPoP` challenge (RFC 9449 §7.1).
    pub fn algs(&self) -> String {
        self.algorithms
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What the request a proof came with looks like.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The request's method (`POST`, `GET`, ...).
    pub method: &'a str,
    /// The request's URI as this server is addressed from outside (the token endpoint's
    /// URL, the resource's external URL); its query and fragment are ignored.
    pub uri: &'a str,
    /// The access token presented with the proof, if any: `ath` must be its hash.
    pub access_token: Option<&'a str>,
}

/// A proof that passed [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Proof {
    /// The RFC 7638 thumbprint of the proof's key: what tokens are bound to.
    pub jkt: String,
    /// The proof's public key.
    pub jwk: Jwk,
    /// The algorithm it is signed with.
    pub alg: Algorithm,
    /// `jti`.
    pub jti: String,
    /// `iat`.
    pub iat: i64,
    /// `htm`, as sent.
    pub htm: String,
    /// `htu`, normalised.
    pub htu: String,
    /// `nonce`, if any (the caller checks it is current).
    pub nonce: Option<String>,
}

/// Why a proof, or a binding, is refused. `Display` says what was expected and found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// More than one `DPoP` header, or none where one is needed.
    #[error("{0}")]
    Presence(&'static str),
    /// Not a JWS, or a header / payload that is not a strict JSON object.
    #[error("the DPoP proof is malformed: {0}")]
    Malformed(String),
    /// `typ` is not `dpop+jwt` (RFC 9449 §4.2).
    #[error("the DPoP proof's typ is {found:?}, expected \"dpop+jwt\" (RFC 9449 §4.2)")]
    WrongType {
        /// The header's `typ` (empty when missing).
        found: String,
    },
    /// The algorithm is not accepted.
    #[error("the DPoP proof's algorithm {found} is not accepted (accepted: {allowed:?})")]
    DisallowedAlgorithm {
        /// The header's `alg`.
        found: Algorithm,
        /// The accepted ones.
        allowed: Vec<Algorithm>,
    },
    /// The `jwk` header is missing, private, or not a key of the algorithm's type.
    #[error("the DPoP proof's jwk header is unusable: {0} (RFC 9449 §4.2)")]
    Jwk(&'static str),
    /// The signature does not verify with the `jwk`.
    #[error("the DPoP proof's signature does not verify with its jwk ({alg})")]
    BadSignature {
        /// The algorithm.
        alg: Algorithm,
    },
    /// A required claim is missing or of the wrong type.
    #[error("the DPoP proof's {name:?} claim is missing or not {expected}")]
    Claim {
        /// The claim.
        name: &'static str,
        /// The type it must have.
        expected: &'static str,
    },
    /// `htm` is not the request's method (RFC 9449 §4.3 step 8).
    #[error("the DPoP proof's htm is {found:?}, but the request is a {expected}")]
    MethodMismatch {
        /// The request's method.
        expected: String,
        /// The proof's `htm`.
        found: String,
    },
    /// `htu` is not the request's URI (RFC 9449 §4.3 step 9).
    #[error("the DPoP proof's htu is {found:?}, but the request is to {expected:?}")]
    UriMismatch {
        /// The request's URI, normalised.
        expected: String,
        /// The proof's `htu`, normalised (as sent when it is no URI).
        found: String,
    },
    /// `iat` is older than the window.
    #[error(
        "the DPoP proof was issued at {iat}, {}s before now ({now}); proofs are accepted for {max_age}s",
        now.saturating_sub(*iat)
    )]
    Stale {
        /// `iat`.
        iat: i64,
        /// This server's time.
        now: i64,
        /// [`DpopRules::max_age`] in seconds.
        max_age: i64,
    },
    /// `iat` is ahead of the leeway.
    #[error(
        "the DPoP proof was issued at {iat}, {}s after now ({now}, leeway {leeway}s)",
        iat.saturating_sub(*now)
    )]
    Future {
        /// `iat`.
        iat: i64,
        /// This server's time.
        now: i64,
        /// [`DpopRules::leeway`] in seconds.
        leeway: i64,
    },
    /// `ath` is missing or is not the hash of the presented token (RFC 9449 §4.3 step 12).
    #[error("the DPoP proof's ath is {}, expected the SHA-256 hash of the presented access token", found.as_deref().map_or_else(|| "missing".to_owned(), |f| format!("{f:?}")))]
    AthMismatch {
        /// The proof's `ath`.
        found: Option<String>,
    },
    /// The server asked for a nonce and the proof has none, or an unknown or old one
    /// (RFC 9449 §8: answered with `use_dpop_nonce` and a fresh `DPoP-Nonce`).
    #[error("the DPoP proof must carry the server's current nonce ({0})")]
    Nonce(&'static str),
    /// The proof was used before (RFC 9449 §11.1).
    #[error("the DPoP proof was already used (jti replayed)")]
    Replayed,
    /// The proof's key is not the one the token, refresh token or code is bound to.
    #[error(
        "the DPoP proof's key (jkt {found}) is not the key the {what} is bound to (jkt {expected})"
    )]
    KeyMismatch {
        /// What is bound (`access token`, `refresh token`, `authorization code`).
        what: &'static str,
        /// The bound thumbprint.
        expected: String,
        /// The proof's thumbprint.
        found: String,
    },
}

impl ProofError {
    /// Whether the client should retry with the server's nonce (`use_dpop_nonce`).
    pub fn wants_nonce(&self) -> bool {
        matches!(self, Self::Nonce(_))
    }

    /// The short, value-free description for clients.
    pub fn description(&self) -> &'static str {
        match self {
            Self::Presence(m) => m,
            Self::Malformed(_) => "the DPoP proof is malformed",
            Self::WrongType { .. } => "the DPoP proof's typ must be dpop+jwt",
            Self::DisallowedAlgorithm { .. } => "the DPoP proof's algorithm is not accepted",
            Self::Jwk(_) => "the DPoP proof's jwk header is unusable",
            Self::BadSignature { .. } => "the DPoP proof's signature is invalid",
            Self::Claim { .. } => "the DPoP proof lacks a required claim",
            Self::MethodMismatch { .. } => "the DPoP proof's htm does not match the request",
            Self::UriMismatch { .. } => "the DPoP proof's htu does not match the request",
            Self::Stale { .. } => "the DPoP proof is too old",
            Self::Future { .. } => "the DPoP proof is issued in the future",
            Self::AthMismatch { .. } => "the DPoP proof's ath does not match the access token",
            Self::Nonce(_) => "use the DPoP nonce the server provided",
            Self::Replayed => "the DPoP proof was already used",
            Self::KeyMismatch { .. } => "the DPoP proof's key is not the bound key",
        }
    }
}

/// The `htu` comparison form of a URI (RFC 9449 §4.3 step 9, RFC 3986 §6.2.2 and §6.2.3):
/// scheme and host lowercased, the default port dropped, percent-encoding normalised as
/// the WHATWG parser does, an empty path as `/`, query and fragment removed. `None` for
/// anything that is not an absolute http(s) URI.
pub fn normalize_htu(uri: &str) -> Option<String> {
    let mut url = url::Url::parse(uri).ok()?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return None;
    }
    url.set_query(None);
    url.set_fragment(None);
    Some(url.into())
}

/// The `ath` of an access token: base64url(SHA-256(token)) (RFC 9449 §4.2).
pub fn ath(access_token: &str) -> String {
    crypto::sha256_b64(access_token.as_bytes())
}

/// The store id under which a proof's single use is counted: `jti` with `htm` and `htu`
/// (two endpoints never share one), domain-separated from every other id.
pub fn replay_id(proof: &Proof) -> String {
    crypto::sha256_b64(
        format!(
            "idpkit-dpop-jti:{}\u{0}{}\u{0}{}",
            proof.jti, proof.htm, proof.htu
        )
        .as_bytes(),
    )
}

/// Until when a proof's `jti` must be remembered: as long as the proof is acceptable.
pub fn replay_expiry(proof: &Proof, rules: &DpopRules, now: OffsetDateTime) -> OffsetDateTime {
    let iat = OffsetDateTime::from_unix_timestamp(proof.iat).unwrap_or(now);
    std::cmp::max(iat, now) + rules.max_age + rules.leeway
}

/// The store id of a server nonce.
pub fn nonce_id(nonce: &str) -> String {
    crypto::sha256_b64(format!("idpkit-dpop-nonce:{nonce}").as_bytes())
}

/// The `jkt` a token, refresh token or code is bound to must be the proof's (RFC 9449
/// §6.1, §5, §10), compared in constant time.
pub fn check_binding(what: &'static str, bound: &str, proof_jkt: &str) -> Result<(), ProofError> {
    if crypto::constant_time_eq(bound.as_bytes(), proof_jkt.as_bytes()) {
        Ok(())
    } else {
        Err(ProofError::KeyMismatch {
            what,
            expected: bound.to_owned(),
            found: proof_jkt.to_owned(),
        })
    }
}

/// A `dpop_jkt` parameter (RFC 9449 §10) must look like a JWK SHA-256 thumbprint:
/// 43 base64url characters; anything else is `invalid_request`.
pub fn check_jkt_syntax(jkt: &str) -> Result<&str, crate::error::OAuthError> {
    if jkt.len() == 43
        && jkt
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(jkt)
    } else {
        Err(crate::error::OAuthError::invalid_request(
            "dpop_jkt must be a base64url SHA-256 JWK thumbprint (RFC 9449 §10)",
        ))
    }
}

/// A code (`dpop_jkt`, RFC 9449 §10) or refresh token (§5) bound to key `bound` is
/// redeemed only with a proof of that key: no proof is [`ProofError::Presence`], another
/// key [`ProofError::KeyMismatch`].
pub fn check_bound(
    what: &'static str,
    bound: Option<&str>,
    proof_jkt: Option<&str>,
) -> Result<(), ProofError> {
    match (bound, proof_jkt) {
        (None, _) => Ok(()),
        (Some(_), None) => Err(ProofError::Presence(
            "this grant is bound to a DPoP key: send a DPoP proof of it",
        )),
        (Some(b), Some(p)) => check_binding(what, b, p),
    }
}

/// The wire form of a refusal at the token endpoint: `use_dpop_nonce` for a missing or
/// stale nonce (RFC 9449 §8), `invalid_grant` for a code or refresh token bound to another
/// key, `invalid_dpop_proof` for everything else (§5).
impl From<ProofError> for crate::error::OAuthError {
    fn from(e: ProofError) -> Self {
        use crate::error::ErrorCode;
        let code = match &e {
            ProofError::Nonce(_) => ErrorCode::UseDpopNonce,
            ProofError::KeyMismatch { .. } => ErrorCode::InvalidGrant,
            _ => ErrorCode::InvalidDpopProof,
        };
        tracing::debug!(reason = %e, "idpkit: DPoP proof refused");
        crate::error::OAuthError::new(code, e.description())
    }
}

/// The JWK members that only a private (or symmetric) key has (RFC 7518 §6.2.2, §6.3.2,
/// §6.4.1; RFC 8037 §2).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The `jwk` header of a proof: a public key, of the type `alg` needs.
fn header_jwk(header_b64: &str, alg: Algorithm) -> Result<(Jwk, VerifyingKey), ProofError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(header_b64)
        .map_err(|_| ProofError::Malformed("the header is not base64url".into()))?;
    let header: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|_| ProofError::Malformed("the header is not JSON".into()))?;
    let Some(jwk) = header.get("jwk").and_then(|j| j.as_object()) else {
        return Err(ProofError::Jwk("missing, or not an object"));
    };
    if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
        return Err(ProofError::Jwk("it carries private key members"));
    }
    let jwk: Jwk = serde_json::from_value(serde_json::Value::Object(jwk.clone()))
        .map_err(|_| ProofError::Jwk("not a JSON Web Key"))?;
    let public = jwk
        .public_key()
        .ok_or(ProofError::Jwk("not an RSA, P-256 or Ed25519 public key"))?;
    if !public.fits(alg) || jwk.alg.is_some_and(|a| a != alg) {
        return Err(ProofError::Jwk("its key type does not fit the algorithm"));
    }
    let key = VerifyingKey::new(public, None);
    Ok((jwk, key))
}

/// Verifies the proof `proof` for the request `expected` at `now` (RFC 9449 §4.3, steps
/// 1-12; the replay check of step 11 and the nonce's currency are the caller's, with
/// [`replay_id`] and [`nonce_id`]).
pub fn verify(
    proof: &str,
    rules: &DpopRules,
    expected: &Expected<'_>,
    now: OffsetDateTime,
) -> Result<Proof, ProofError> {
    // Steps 2-3: a well-formed JWT (the shared parser: no `crit`, no `none`/HMAC).
    let jws = parse_compact(proof).map_err(|e| ProofError::Malformed(e.to_string()))?;
    let header = jws.header();
    // Step 4: typ.
    if !header
        .typ
        .as_deref()
        .is_some_and(|t| crate::jose::typ_matches(t, TYP))
    {
        return Err(ProofError::WrongType {
            found: header.typ.clone().unwrap_or_default(),
        });
    }
    // Step 5: an asymmetric algorithm this server accepts.
    let alg = header.alg;
    if !rules.algorithms.contains(&alg) {
        return Err(ProofError::DisallowedAlgorithm {
            found: alg,
            allowed: rules.algorithms.clone(),
        });
    }
    // Steps 6-7: the jwk is a public key and the signature verifies with it.
    let header_b64 = proof.split('.').next().unwrap_or_default();
    let (jwk, key) = header_jwk(header_b64, alg)?;
    if !key.verify(alg, jws.signing_input(), jws.signature()) {
        return Err(ProofError::BadSignature { alg });
    }
    // The claims: strict JSON object, typed members.
    let (mut htm, mut htu, mut jti, mut iat, mut ath_claim, mut nonce) =
        (None, None, None, None, None, None);
    let mut wrong = None;
    read_object(jws.payload(), |name, value| {
        let (slot, name) = match name.as_ref() {
            "htm" => (&mut htm, "htm"),
            "htu" => (&mut htu, "htu"),
            "jti" => (&mut jti, "jti"),
            "ath" => (&mut ath_claim, "ath"),
            "nonce" => (&mut nonce, "nonce"),
            "iat" => {
                match value {
                    Member::Num(n) if n.is_finite() => iat = Some(n as i64),
                    _ => {
                        wrong.get_or_insert(ProofError::Claim {
                            name: "iat",
                            expected: "a number",
                        });
                    }
                }
                return;
            }
            _ => return,
        };
        match value {
            Member::Str(s) => *slot = Some(s.into_owned()),
            _ => {
                wrong.get_or_insert(ProofError::Claim {
                    name,
                    expected: "a string",
                });
            }
        }
    })
    .map_err(|e| ProofError::Malformed(format!("the payload {e}")))?;
    if let Some(e) = wrong {
        return Err(e);
    }
    let claim = |name| ProofError::Claim {
        name,
        expected: "a string",
    };
    // §4.2: jti, htm, htu and iat are required.
    let jti = jti.filter(|j| !j.is_empty()).ok_or(claim("jti"))?;
    let htm = htm.ok_or(claim("htm"))?;
    let htu_sent = htu.ok_or(claim("htu"))?;
    let iat = iat.ok_or(ProofError::Claim {
        name: "iat",
        expected: "a number",
    })?;
    // Step 8: htm is the request's method (method names are case-sensitive, RFC 9110 §9.1).
    if htm != expected.method {
        return Err(ProofError::MethodMismatch {
            expected: expected.method.to_owned(),
            found: htm,
        });
    }
    // Step 9: htu is the request's URI, without query and fragment, after normalisation.
    let want = normalize_htu(expected.uri).unwrap_or_else(|| expected.uri.to_owned());
    let htu = normalize_htu(&htu_sent);
    if htu.as_deref() != Some(want.as_str()) {
        return Err(ProofError::UriMismatch {
            expected: want,
            found: htu.unwrap_or(htu_sent),
        });
    }
    // Step 11 (time part): iat inside the window.
    let t = now.unix_timestamp();
    if iat < t - rules.max_age.whole_seconds() {
        return Err(ProofError::Stale {
            iat,
            now: t,
            max_age: rules.max_age.whole_seconds(),
        });
    }
    if iat > t + rules.leeway.whole_seconds() {
        return Err(ProofError::Future {
            iat,
            now: t,
            leeway: rules.leeway.whole_seconds(),
        });
    }
    // Step 12: with an access token, ath is its hash.
    if let Some(token) = expected.access_token {
        let want = ath(token);
        if !ath_claim
            .as_deref()
            .is_some_and(|a| crypto::constant_time_eq(a.as_bytes(), want.as_bytes()))
        {
            return Err(ProofError::AthMismatch { found: ath_claim });
        }
    }
    // Step 10 (presence part): a nonce when the server requires one.
    if rules.require_nonce && nonce.is_none() {
        return Err(ProofError::Nonce("the proof has no nonce"));
    }
    Ok(Proof {
        jkt: jwk.thumbprint(),
        jwk,
        alg,
        jti,
        iat,
        htm,
        htu: want,
        nonce,
    })
}

/// Builds a DPoP proof signed with `key` (for clients and tests): header `typ`, `alg`,
/// `jwk`; claims `jti` (random), `htm`, `htu`, `iat`, and `ath` / `nonce` when given.
pub fn proof(
    key: &crate::SigningKey,
    method: &str,
    uri: &str,
    iat: i64,
    access_token: Option<&str>,
    nonce: Option<&str>,
) -> Result<String, crate::crypto::CryptoError> {
    let mut jwk = key.public_jwk().clone();
    jwk.kid = None;
    let header = serde_json::json!({"typ": TYP, "alg": key.alg().as_str(), "jwk": jwk});
    let mut claims = serde_json::json!({
        "jti": crypto::random_token(),
        "htm": method,
        "htu": uri,
        "iat": iat,
    });
    if let Some(obj) = claims.as_object_mut() {
        if let Some(t) = access_token {
            obj.insert("ath".into(), ath(t).into());
        }
        if let Some(n) = nonce {
            obj.insert("nonce".into(), n.into());
        }
    }
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = key.sign(input.as_bytes())?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

#[cfg(test)]
mod tests;
