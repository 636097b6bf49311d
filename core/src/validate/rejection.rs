//! Why a token is refused: [`Rejection`], one sentence with expected vs found (and, where
//! the values suggest one, what the operator should change), mapped to RFC 6750 here and
//! nowhere else.

use crate::Algorithm;
use crate::error::ErrorCode;
use crate::jose::{JoseError, JsonType, VerifyError};

/// Why a `kid` was not found, which says whether waiting can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KidLookup {
    /// The issuer's key set is configured statically: nothing will ever be fetched.
    Static,
    /// The JWKS was fetched again for this token, and the `kid` is not in it.
    Refetched,
    /// The JWKS was refetched less than the refetch interval ago; not again yet.
    RateLimited {
        /// The refetch interval, in seconds.
        interval: i64,
    },
}

/// Why a token was refused. `Display` is one sentence with what was expected and found.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The token is longer than the validator accepts; refused before any parsing.
    #[error(
        "the token has {size} bytes, more than the {max} this validator accepts (ValidatorBuilder::max_token_bytes); refused before parsing"
    )]
    TooLarge {
        /// The token's length in bytes.
        size: usize,
        /// The cap.
        max: usize,
    },
    /// No token, or not a JWT: parts, base64url, JSON, duplicate members.
    #[error("the token is malformed: {part} {reason}")]
    Malformed {
        /// Which part (`token`, `header`, `payload`, `signature`).
        part: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The header marks extensions as critical (RFC 7515 §4.1.11).
    #[error(
        "the token's header marks extensions as critical (crit: {names:?}); idpkit supports none, so it must refuse the token (RFC 7515 §4.1.11)"
    )]
    Critical {
        /// The names listed in `crit`.
        names: Vec<String>,
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
        "the token's issuer {found:?} is not trusted (trusted: {trusted:?}){}",
        suffix(hint, "; a token from another issuer URL or tenant?")
    )]
    UnknownIssuer {
        /// The token's `iss` (empty when there is none).
        found: String,
        /// The trusted issuers.
        trusted: Vec<String>,
        /// What the values suggest (a trailing slash, another endpoint version).
        hint: Option<String>,
    },
    /// The `kid` is not in the issuer's JWKS.
    #[error("{}", unknown_kid(found, issuer, known, *lookup))]
    UnknownKid {
        /// The header's `kid` (empty when there is none).
        found: String,
        /// The issuer.
        issuer: String,
        /// The `kid`s known.
        known: Vec<String>,
        /// Whether a fetch could still find it.
        lookup: KidLookup,
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
    /// The key's JWK pins another algorithm than the token's (RFC 7517 §4.4).
    #[error(
        "the token's algorithm is {alg}, but key {kid} is pinned to {key_alg} by its JWK \"alg\" (RFC 7517 §4.4)"
    )]
    KeyAlgorithmMismatch {
        /// The header's `kid`.
        kid: String,
        /// The header's `alg`.
        alg: Algorithm,
        /// The JWK's `alg`.
        key_alg: Algorithm,
    },
    /// The signature does not verify.
    #[error("the token's signature does not verify with key {kid} ({alg})")]
    BadSignature {
        /// The key.
        kid: String,
        /// The algorithm.
        alg: Algorithm,
    },
    /// A registered claim has the wrong JSON type.
    #[error("the token's {name:?} claim is {found}, expected {expected}")]
    ClaimType {
        /// The claim.
        name: &'static str,
        /// The type it must have.
        expected: &'static str,
        /// The type it has.
        found: JsonType,
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
    /// `iat` is later than now plus the leeway.
    #[error(
        "the token was issued at {iat}, {}s after now ({now}, leeway {leeway}s): a wrong clock or a forged token",
        iat.saturating_sub(*now)
    )]
    IssuedInFuture {
        /// `iat`.
        iat: i64,
        /// The validator's time.
        now: i64,
        /// Leeway in seconds.
        leeway: i64,
    },
    /// `aud` contains none of the accepted audiences.
    #[error(
        "the token's audience {found:?} does not include {expected:?}{}",
        suffix(hint, "")
    )]
    AudienceMismatch {
        /// The accepted audiences.
        expected: Vec<String>,
        /// The token's `aud`.
        found: Vec<String>,
        /// A likely cause, when the values suggest one.
        hint: Option<String>,
    },
    /// The header's `typ` is not the required one.
    #[error("the token's type is {}, not {expected:?}{}", found.as_ref().map_or_else(|| "missing".to_owned(), |t| format!("{t:?}")), suffix(hint, ""))]
    WrongType {
        /// The required `typ`.
        expected: String,
        /// The header's `typ`.
        found: Option<String>,
        /// A likely cause, and the knob that accepts it.
        hint: Option<String>,
    },
    /// A required claim is missing.
    #[error("the token has no {name:?} claim{}", suffix(hint, ""))]
    MissingClaim {
        /// The claim.
        name: String,
        /// A claim that may carry the same information.
        hint: Option<String>,
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
    #[error(
        "the token lacks scope {missing:?} (has {found:?}){}",
        suffix(hint, "")
    )]
    InsufficientScope {
        /// The missing scopes.
        missing: Vec<String>,
        /// The token's scopes.
        found: Vec<String>,
        /// Where the scopes may be instead (`scp`, `roles`).
        hint: Option<String>,
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
    /// The DPoP proof of a DPoP token is missing or refused (RFC 9449 §7.1): which check
    /// failed, expected vs found, is the [`ProofError`](crate::dpop::ProofError).
    #[error("the DPoP proof is refused: {0}")]
    DpopProof(crate::dpop::ProofError),
    /// A DPoP-bound token (`cnf.jkt`) was presented as `Bearer` (RFC 9449 §7.2).
    #[error(
        "the token is DPoP-bound (cnf.jkt {jkt}) but was presented with the Bearer scheme; send it as Authorization: DPoP with a DPoP proof (RFC 9449 §7.2)"
    )]
    DpopBoundAsBearer {
        /// The token's `cnf.jkt`.
        jkt: String,
    },
    /// A token without `cnf.jkt` was presented with the DPoP scheme.
    #[error(
        "the token is not DPoP-bound (no cnf.jkt) but was presented with the DPoP scheme; send it as Authorization: Bearer"
    )]
    NotDpopBound,
    /// A DPoP token arrived with a relative request target, and the validator does not know
    /// its external URL, so `htu` cannot be checked.
    #[error(
        "a DPoP proof cannot be checked: the resource's external URL is unknown (set ValidatorBuilder::external_url, or pass an absolute target)"
    )]
    DpopUnconfigured,
    /// The token is an encrypted JWE (RFC 7516) that does not decrypt here, or that does
    /// not carry a signed JWT.
    #[error(
        "the token is encrypted (JWE) and cannot be read here: {reason}; expected a nested JWT (cty JWT) encrypted to one of the decryption keys {keys:?}{}",
        if keys.is_empty() { " (none is configured: ValidatorBuilder::decryption_key)" } else { "" }
    )]
    Undecryptable {
        /// What was found (the JWE refusal, or the content type).
        reason: String,
        /// The `kid`s of the configured decryption keys.
        keys: Vec<String>,
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

fn suffix(hint: &Option<String>, default: &str) -> String {
    match hint {
        Some(h) => format!("; {h}"),
        None => default.to_owned(),
    }
}

fn unknown_kid(found: &str, issuer: &str, known: &[String], lookup: KidLookup) -> String {
    let what = if found.is_empty() {
        "the token names no key id (kid)".to_owned()
    } else {
        format!("the token's key id {found:?} is not in the JWKS of {issuer}")
    };
    let why = match lookup {
        KidLookup::Static => {
            "; the key set is configured statically, so nothing will be fetched: add the key to it"
                .to_owned()
        }
        KidLookup::Refetched => ", even after refetching it".to_owned(),
        KidLookup::RateLimited { interval } => {
            format!("; the JWKS was refetched less than {interval}s ago, so not again yet")
        }
    };
    format!("{what} (known: {known:?}){why}")
}

/// The refusal of a token with a `nonce` header member.
pub(super) const FOREIGN: Rejection = Rejection::ForeignToken {
    reason: "its header carries a nonce, so it was minted for a Microsoft API such as Microsoft Graph, and only that API can validate it (IDX10511); the client must request a token for this API's own scope",
};

impl Rejection {
    /// The RFC 6750 error code: `insufficient_scope` or `invalid_token`.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            Self::InsufficientScope { .. } => ErrorCode::InsufficientScope,
            Self::DpopProof(crate::dpop::ProofError::Nonce(_)) => ErrorCode::UseDpopNonce,
            Self::DpopProof(crate::dpop::ProofError::KeyMismatch { .. }) => ErrorCode::InvalidToken,
            Self::DpopProof(_) => ErrorCode::InvalidDpopProof,
            Self::DpopUnconfigured => ErrorCode::ServerError,
            _ => ErrorCode::InvalidToken,
        }
    }

    /// The HTTP status: 403 for insufficient scope, 503 when the issuer is unreachable, else 401.
    pub fn status(&self) -> u16 {
        match self {
            Self::InsufficientScope { .. } => 403,
            Self::IssuerUnreachable { .. } => 503,
            Self::DpopUnconfigured => 500,
            _ => 401,
        }
    }

    /// A short description for clients (RFC 6750 §3 `error_description`): which check
    /// failed, without the token's values or the validator's configuration. The full
    /// sentence is [`Display`](std::fmt::Display), for logs and operators.
    pub fn description(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "the token is too large",
            Self::Malformed { .. } => "the token is malformed",
            Self::Critical { .. } => "the token has unsupported critical header extensions",
            Self::UnsupportedAlgorithm { .. } | Self::DisallowedAlgorithm { .. } => {
                "the token's algorithm is not accepted"
            }
            Self::UnknownIssuer { .. } => "the token's issuer is not trusted",
            Self::UnknownKid { .. } => "the token's signing key is unknown",
            Self::KeyTypeMismatch { .. } | Self::KeyAlgorithmMismatch { .. } => {
                "the token's algorithm does not fit its key"
            }
            Self::BadSignature { .. } => "the token's signature is invalid",
            Self::ClaimType { .. } => "a claim of the token has the wrong type",
            Self::Expired { .. } => "the token has expired",
            Self::NotYetValid { .. } => "the token is not valid yet",
            Self::IssuedInFuture { .. } => "the token is issued in the future",
            Self::AudienceMismatch { .. } => "the token is for another audience",
            Self::WrongType { found, .. }
                if found
                    .as_deref()
                    .is_some_and(|t| crate::jose::typ_matches(t, "JWT")) =>
            {
                "the token is not an access token (an ID token?)"
            }
            Self::WrongType { .. } => "the token is not an access token",
            Self::MissingClaim { .. } | Self::ClaimMismatch { .. } => {
                "a required claim is missing or wrong"
            }
            Self::InsufficientScope { .. } => "the token lacks a required scope",
            Self::ForeignToken { .. } => "the token is for another vendor's API",
            Self::Inactive { .. } => "the token is not active",
            Self::IssuerUnreachable { .. } => "the token's issuer is unreachable",
            Self::Undecryptable { .. } => "the encrypted token cannot be decrypted",
            Self::DpopProof(e) => e.description(),
            Self::DpopBoundAsBearer { .. } => {
                "the token is DPoP-bound: use the DPoP scheme with a proof"
            }
            Self::NotDpopBound => "the token is not DPoP-bound: use the Bearer scheme",
            Self::DpopUnconfigured => "the resource cannot check DPoP proofs",
        }
    }

    /// Whether the refusal is about DPoP (answered with a `WWW-Authenticate: DPoP`
    /// challenge, RFC 9449 §7.1).
    pub fn is_dpop(&self) -> bool {
        matches!(
            self,
            Self::DpopProof(_) | Self::DpopBoundAsBearer { .. } | Self::NotDpopBound
        )
    }

    /// The `WWW-Authenticate: DPoP` value (RFC 9449 §7.1, built by
    /// [`crate::bearer::dpop_challenge`]) with the accepted `algs`, the error code and the
    /// short [`description`](Self::description) (left out when `detail` is false).
    pub fn www_authenticate_dpop(&self, realm: &str, algs: &str, detail: bool) -> String {
        crate::bearer::dpop_challenge(
            realm,
            algs,
            Some((
                self.error_code().as_str(),
                detail.then(|| self.description()),
            )),
        )
    }

    /// The `WWW-Authenticate` value (RFC 6750 §3, built by [`crate::bearer::challenge`])
    /// with the error code and the short [`description`](Self::description) (left out when
    /// `detail` is false); `scope` for `insufficient_scope`.
    pub fn www_authenticate(&self, realm: &str, detail: bool) -> String {
        let scope = match self {
            Self::InsufficientScope { missing, .. } => Some(missing.join(" ")),
            _ => None,
        };
        crate::bearer::challenge(
            realm,
            Some((
                self.error_code().as_str(),
                detail.then(|| self.description()),
            )),
            scope.as_deref(),
        )
    }

    /// A parser refusal, and the check it belongs to.
    pub(super) fn from_jose(e: JoseError) -> (&'static str, Self) {
        let malformed = |part, reason: String| Self::Malformed { part, reason };
        match e {
            JoseError::Parts { .. } => ("structure", malformed("token", e.to_string())),
            JoseError::NotBase64url { part } => (part, malformed(part, "is not base64url".into())),
            JoseError::Json { part, error } => (
                part,
                malformed(part, format!("{error} (RFC 7515 §4, RFC 7519 §7.2)")),
            ),
            JoseError::HeaderMember {
                name,
                expected,
                found,
            } => (
                "header",
                malformed(
                    "header",
                    format!("member {name:?} is {found}, expected {expected}"),
                ),
            ),
            JoseError::Critical { names } => ("crit", Self::Critical { names }),
            JoseError::UnsupportedAlgorithm { found } => {
                ("alg", Self::UnsupportedAlgorithm { found })
            }
            JoseError::SignatureTooLong { found, max } => (
                "signature",
                malformed(
                    "signature",
                    format!("has {found} bytes; supported keys produce at most {max}"),
                ),
            ),
        }
    }

    /// A verifier refusal in the terms of `issuer`.
    pub(super) fn from_verify(e: VerifyError, issuer: &str) -> Self {
        match e {
            VerifyError::Jose(e) => Self::from_jose(e).1,
            VerifyError::HeaderNonce => FOREIGN,
            VerifyError::DisallowedAlgorithm { found, allowed } => Self::DisallowedAlgorithm {
                found,
                issuer: issuer.to_owned(),
                allowed,
            },
            VerifyError::UnknownKid { found, known } => Self::UnknownKid {
                found,
                issuer: issuer.to_owned(),
                known,
                lookup: KidLookup::Refetched,
            },
            VerifyError::KeyTypeMismatch { kid, alg, kty } => {
                Self::KeyTypeMismatch { kid, alg, kty }
            }
            VerifyError::KeyAlgorithmMismatch { kid, alg, key_alg } => {
                Self::KeyAlgorithmMismatch { kid, alg, key_alg }
            }
            VerifyError::UnusableKey { kid, alg } | VerifyError::BadSignature { kid, alg } => {
                Self::BadSignature { kid, alg }
            }
            e => Self::from_time(e),
        }
    }

    /// A time-claim refusal (no issuer involved).
    pub(super) fn from_time(e: VerifyError) -> Self {
        match e {
            VerifyError::MissingExp => Self::MissingClaim {
                name: "exp".into(),
                hint: Some("RFC 9068 §2.2 requires it in access tokens".into()),
            },
            VerifyError::Expired { exp, now, leeway } => Self::Expired { exp, now, leeway },
            VerifyError::NotYetValid { nbf, now, leeway } => Self::NotYetValid { nbf, now, leeway },
            VerifyError::IssuedInFuture { iat, now, leeway } => {
                Self::IssuedInFuture { iat, now, leeway }
            }
            VerifyError::ClaimType { name, found } => Self::ClaimType {
                name,
                expected: "a number (NumericDate, RFC 7519 §2)",
                found,
            },
            e => Self::Malformed {
                part: "payload",
                reason: e.to_string(),
            },
        }
    }
}
