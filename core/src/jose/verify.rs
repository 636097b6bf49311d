//! Verifying a compact JWS against a key set parsed once: the algorithm allow-list, the
//! key lookup by `kid`, the key-type match and the signature, plus the JWT time claims.
//! [`verify_compact`] runs them all for a caller with one key set (the provider checking its
//! own access tokens); the validator runs the same functions one by one, because it picks
//! the issuer (and so the key set and allow-list) from the payload between parsing and
//! verifying.

use std::sync::{Arc, RwLock};

use time::OffsetDateTime;

use super::json::{JsonType, Member, read_object};
use super::{Algorithm, CompactJws, Header, JoseError, Jwks, parse_compact};
use crate::crypto::VerifyingKey;

/// Why a JWS (or its time claims) did not verify. `Display` says what was expected and
/// found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The parser refused the token.
    #[error(transparent)]
    Jose(#[from] JoseError),
    /// The header carries a `nonce`: a token minted for another vendor's API.
    #[error("the JWS header carries a nonce; it was minted for an API that alone can verify it")]
    HeaderNonce,
    /// The algorithm is not in the caller's allow-list.
    #[error("the algorithm {found} is not allowed (allowed: {allowed:?})")]
    DisallowedAlgorithm {
        /// The header's `alg`.
        found: Algorithm,
        /// The allow-list.
        allowed: Vec<Algorithm>,
    },
    /// No key of the set has the header's `kid`.
    #[error("the key id {found:?} is not in the key set (known: {known:?})")]
    UnknownKid {
        /// The header's `kid` (empty when there is none).
        found: String,
        /// The `kid`s of the set.
        known: Vec<String>,
    },
    /// The key named by `kid` is of another type than `alg` needs.
    #[error(
        "the algorithm {alg} does not match key {kid} (a {kty} key): refused, the token does not get to choose the key type"
    )]
    KeyTypeMismatch {
        /// The `kid`.
        kid: String,
        /// The header's `alg`.
        alg: Algorithm,
        /// The key's `kty`.
        kty: String,
    },
    /// The key's JWK pins another algorithm (`alg` member, RFC 7517 §4.4) than the token's.
    #[error(
        "key {kid} is pinned to {key_alg} by its JWK \"alg\", and the token says {alg}: refused (RFC 7517 §4.4)"
    )]
    KeyAlgorithmMismatch {
        /// The `kid`.
        kid: String,
        /// The header's `alg`.
        alg: Algorithm,
        /// The JWK's `alg`.
        key_alg: Algorithm,
    },
    /// The key is published in a form idpkit cannot verify with (malformed members, a curve
    /// other than P-256 / Ed25519).
    #[error("key {kid} cannot verify {alg} signatures (malformed or unsupported key material)")]
    UnusableKey {
        /// The `kid`.
        kid: String,
        /// The header's `alg`.
        alg: Algorithm,
    },
    /// The signature does not verify.
    #[error("the signature does not verify with key {kid} ({alg})")]
    BadSignature {
        /// The `kid`.
        kid: String,
        /// The algorithm.
        alg: Algorithm,
    },
    /// A time claim is not a number (a NumericDate, RFC 7519 §2).
    #[error("the token's {name:?} claim is {found}, expected a number (NumericDate, RFC 7519 §2)")]
    ClaimType {
        /// `exp`, `nbf` or `iat`.
        name: &'static str,
        /// What it is.
        found: JsonType,
    },
    /// `iat` is later than now plus the leeway: a token from the future.
    #[error(
        "the token was issued at {iat}, {}s after now ({now}, leeway {leeway}s): a clock is wrong or the token is forged",
        iat.saturating_sub(*now)
    )]
    IssuedInFuture {
        /// `iat`.
        iat: i64,
        /// The verifier's time.
        now: i64,
        /// Leeway in seconds.
        leeway: i64,
    },
    /// There is no `exp` claim.
    #[error("the token has no \"exp\" claim")]
    MissingExp,
    /// `exp` has passed.
    #[error("the token expired at {exp} (now {now}, leeway {leeway}s)")]
    Expired {
        /// `exp`.
        exp: i64,
        /// The verifier's time.
        now: i64,
        /// Leeway in seconds.
        leeway: i64,
    },
    /// `nbf` is still ahead.
    #[error("the token is not valid before {nbf} (now {now}, leeway {leeway}s)")]
    NotYetValid {
        /// `nbf`.
        nbf: i64,
        /// The verifier's time.
        now: i64,
        /// Leeway in seconds.
        leeway: i64,
    },
}

/// The algorithm must be one the verifier allows (RFC 8725 §3.1: the verifier, not the
/// token, decides which algorithms are acceptable).
pub fn check_algorithm(alg: Algorithm, allowed: &[Algorithm]) -> Result<(), VerifyError> {
    if allowed.contains(&alg) {
        Ok(())
    } else {
        Err(VerifyError::DisallowedAlgorithm {
            found: alg,
            allowed: allowed.to_vec(),
        })
    }
}

/// `exp` must be present and later than `now - leeway` (RFC 7519 §4.1.4; RFC 9068 §4
/// makes it required for access tokens).
pub fn check_exp(exp: Option<i64>, now: i64, leeway: i64) -> Result<(), VerifyError> {
    match exp {
        Some(exp) if exp.saturating_add(leeway) <= now => {
            Err(VerifyError::Expired { exp, now, leeway })
        }
        Some(_) => Ok(()),
        None => Err(VerifyError::MissingExp),
    }
}

/// `iat`, when present, must not be later than `now + leeway`: RFC 7519 §4.1.6 makes it
/// the time of issue, so a later one is a wrong clock or a forgery (RFC 8725 §3.10 asks
/// verifiers to check the time claims they can).
pub fn check_iat(iat: Option<i64>, now: i64, leeway: i64) -> Result<(), VerifyError> {
    match iat {
        Some(iat) if iat.saturating_sub(leeway) > now => {
            Err(VerifyError::IssuedInFuture { iat, now, leeway })
        }
        _ => Ok(()),
    }
}

/// A NumericDate claim (RFC 7519 §2: seconds, possibly fractional) as whole seconds; `as`
/// saturates, so absurd values cannot overflow the arithmetic.
pub fn numeric_date(name: &'static str, value: &Member<'_>) -> Result<i64, VerifyError> {
    match value {
        Member::Num(n) => Ok(*n as i64),
        other => Err(VerifyError::ClaimType {
            name,
            found: other.json_type(),
        }),
    }
}

/// `nbf`, when present, must not be later than `now + leeway` (RFC 7519 §4.1.5).
pub fn check_nbf(nbf: Option<i64>, now: i64, leeway: i64) -> Result<(), VerifyError> {
    match nbf {
        Some(nbf) if nbf.saturating_sub(leeway) > now => {
            Err(VerifyError::NotYetValid { nbf, now, leeway })
        }
        _ => Ok(()),
    }
}

#[derive(Debug)]
struct KeyEntry {
    kid: Option<String>,
    kty: String,
    alg: Option<Algorithm>,
    key: Option<VerifyingKey>,
}

/// A JWKS with every key decoded (and, with aws-lc-rs, parsed) once for verification.
/// Build it once per published key set, not per token.
#[derive(Debug)]
pub struct KeySet {
    entries: Vec<KeyEntry>,
}

impl KeySet {
    /// Decodes every key of `jwks`; keys idpkit cannot verify with are kept (their `kid`
    /// is known) but never verify.
    pub fn new(jwks: &Jwks) -> Self {
        let entries = jwks
            .keys()
            .iter()
            .map(|k| KeyEntry {
                kid: k.kid.clone(),
                kty: k.kty.clone(),
                alg: k.alg,
                key: VerifyingKey::from_jwk(k),
            })
            .collect();
        Self { entries }
    }

    /// Whether a key has this `kid`.
    pub fn contains(&self, kid: &str) -> bool {
        self.entries.iter().any(|e| e.kid.as_deref() == Some(kid))
    }

    /// Every `kid` of the set.
    pub fn kids(&self) -> Vec<String> {
        self.entries.iter().filter_map(|e| e.kid.clone()).collect()
    }

    /// The key `kid` to verify an `alg` signature with. Refuses a key of another type than
    /// `alg` needs, or whose JWK declares another `alg` (RFC 7517 §4.4; RFC 8725 §3.1: the
    /// token never picks the key type, so no RS256 token checked with an EC key, no HMAC
    /// keyed with an RSA public key).
    pub fn key(&self, kid: &str, alg: Algorithm) -> Result<&VerifyingKey, VerifyError> {
        let entry = self
            .entries
            .iter()
            .find(|e| e.kid.as_deref() == Some(kid))
            .ok_or_else(|| VerifyError::UnknownKid {
                found: kid.to_owned(),
                known: self.kids(),
            })?;
        Self::fitting(entry, kid, alg)
    }

    /// The key for a JWS without `kid`: only when the set has exactly one key, which must
    /// fit `alg` as in [`KeySet::key`] (a client's own JWKS with one key often names no
    /// `kid`, RFC 7515 §4.1.4 makes it optional).
    pub fn sole_key(&self, alg: Algorithm) -> Result<&VerifyingKey, VerifyError> {
        match self.entries.as_slice() {
            [entry] => Self::fitting(entry, entry.kid.as_deref().unwrap_or_default(), alg),
            _ => Err(VerifyError::UnknownKid {
                found: String::new(),
                known: self.kids(),
            }),
        }
    }

    fn fitting<'k>(
        entry: &'k KeyEntry,
        kid: &str,
        alg: Algorithm,
    ) -> Result<&'k VerifyingKey, VerifyError> {
        if entry.kty != alg.key_type() {
            return Err(VerifyError::KeyTypeMismatch {
                kid: kid.to_owned(),
                alg,
                kty: entry.kty.clone(),
            });
        }
        if let Some(key_alg) = entry.alg.filter(|a| *a != alg) {
            return Err(VerifyError::KeyAlgorithmMismatch {
                kid: kid.to_owned(),
                alg,
                key_alg,
            });
        }
        entry
            .key
            .as_ref()
            .filter(|k| k.fits(alg))
            .ok_or_else(|| VerifyError::UnusableKey {
                kid: kid.to_owned(),
                alg,
            })
    }
}

/// Verifies the signature of a parsed JWS with `key` (found by [`KeySet::key`]), using the
/// header's `alg` — which [`check_algorithm`] must have allowed.
pub fn verify_signature(
    key: &VerifyingKey,
    kid: &str,
    jws: &CompactJws<'_>,
) -> Result<(), VerifyError> {
    let alg = jws.header().alg;
    if key.verify(alg, jws.signing_input(), jws.signature()) {
        Ok(())
    } else {
        Err(VerifyError::BadSignature {
            kid: kid.to_owned(),
            alg,
        })
    }
}

/// A JWS whose signature verified and whose `exp` / `nbf` hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedJws {
    header: Header,
    payload: Vec<u8>,
}

impl VerifiedJws {
    /// The header (`alg`, `kid`, `typ`).
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The payload: a JSON object, to be deserialised into the caller's claims type.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The payload, taken out.
    pub fn into_payload(self) -> Vec<u8> {
        self.payload
    }
}

/// Parses and verifies a compact JWS against one key set, no leeway: the rules the
/// validator applies, for callers that trust one issuer (the provider's own tokens).
///
/// In order: [`parse_compact`] (three parts, base64url, no `crit`, an implemented `alg`);
/// no header `nonce`; [`check_algorithm`] against `allowed`; [`KeySet::key`] by `kid` and
/// key type; [`verify_signature`]; the payload is a JSON object with unique members
/// ([`read_object`]); [`check_exp`] (required) and [`check_nbf`] at `now`. (`iat` is not
/// checked here: with no leeway, a clock a second apart between two instances would refuse
/// their own tokens.) The caller checks `typ` ([`Header::typ_is`]), `iss`, `aud`
/// and whatever else its claims need.
pub fn verify_compact(
    token: &str,
    keys: &KeySet,
    allowed: &[Algorithm],
    now: OffsetDateTime,
) -> Result<VerifiedJws, VerifyError> {
    let (mut exp, mut nbf) = (None, None);
    let verified = verified_object(token, keys, allowed, |name, value, wrong| {
        let (name, slot) = match name {
            "exp" => ("exp", &mut exp),
            "nbf" => ("nbf", &mut nbf),
            _ => return,
        };
        match numeric_date(name, value) {
            Ok(t) => *slot = Some(t),
            Err(e) => {
                wrong.get_or_insert(e);
            }
        }
    })?;
    let now = now.unix_timestamp();
    check_exp(exp, now, 0)?;
    check_nbf(nbf, now, 0)?;
    Ok(verified)
}

/// The checks of [`verify_compact`] but the times: for a token that is valid as evidence
/// even once expired (an `id_token_hint`, OIDC RP-Initiated Logout §2: "the OP SHOULD
/// accept ID Tokens ... when the RP ... has expired"). The payload is still a JSON object
/// with unique members.
pub fn verify_compact_signature(
    token: &str,
    keys: &KeySet,
    allowed: &[Algorithm],
) -> Result<VerifiedJws, VerifyError> {
    verified_object(token, keys, allowed, |_, _, _| {})
}

/// Header, algorithm and signature checks, then one pass over the payload (which must be
/// a JSON object with unique members) handing each member to `member`, which may record a
/// refusal.
fn verified_object(
    token: &str,
    keys: &KeySet,
    allowed: &[Algorithm],
    mut member: impl FnMut(&str, &Member<'_>, &mut Option<VerifyError>),
) -> Result<VerifiedJws, VerifyError> {
    let jws = parse_compact(token)?;
    let header = jws.header();
    if header.nonce {
        return Err(VerifyError::HeaderNonce);
    }
    check_algorithm(header.alg, allowed)?;
    let kid = header.kid.as_deref().unwrap_or_default();
    verify_signature(keys.key(kid, header.alg)?, kid, &jws)?;
    let mut wrong = None;
    read_object(jws.payload(), |name, value| {
        member(name.as_ref(), &value, &mut wrong)
    })
    .map_err(|error| JoseError::Json {
        part: "payload",
        error,
    })?;
    if let Some(e) = wrong {
        return Err(e);
    }
    let header = header.clone();
    Ok(VerifiedJws {
        header,
        payload: jws.into_payload(),
    })
}

/// A [`KeySet`] kept for the [`Jwks`] it was built from: rebuilt only when a key provider
/// hands out another `Arc<Jwks>` (providers return the same `Arc` while nothing changed).
#[derive(Debug, Default)]
pub struct KeySetCache {
    current: RwLock<Option<(Arc<Jwks>, Arc<KeySet>)>>,
}

impl KeySetCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The key set for `jwks`, built on the first call and whenever `jwks` is another
    /// `Arc` than last time.
    pub fn get(&self, jwks: &Arc<Jwks>) -> Arc<KeySet> {
        if let Some((j, set)) = self
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            && Arc::ptr_eq(j, jwks)
        {
            return set.clone();
        }
        let set = Arc::new(KeySet::new(jwks));
        *self.current.write().unwrap_or_else(|p| p.into_inner()) =
            Some((jwks.clone(), set.clone()));
        set
    }
}

#[cfg(test)]
mod tests;
