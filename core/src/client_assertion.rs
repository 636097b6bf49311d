//! Client authentication with JWTs (RFC 7523 §2.2 and §3, RFC 7521 §4.2, OIDC Core §9):
//! `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer` and a
//! `client_assertion` signed with the client's private key (`private_key_jwt`) or an HMAC
//! of its shared secret (`client_secret_jwt`). The same claim rules serve request objects
//! ([`crate::request_object`]), which are JWTs from clients too.
//!
//! Rules, each a sync function of parsed values and `now`:
//! - the signature: an algorithm of the client's method only (asymmetric for
//!   `private_key_jwt`, HMAC for `client_secret_jwt`; two parsers, so a token cannot
//!   choose to be checked as the other kind), the client's
//!   `token_endpoint_auth_signing_alg` when registered, never `none`; the key's type must
//!   fit the algorithm ([`crate::jose::KeySet::key`]);
//! - `iss` = `sub` = the `client_id` (RFC 7523 §3 items 1, 2);
//! - `aud` = the issuer identifier; the token endpoint URL is accepted too unless
//!   [`JwtPolicy::audience_issuer_only`] (FAPI 2.0 §5.3.2.1: the issuer only, as a string);
//! - `exp` required and in the future (§3 item 4); at most
//!   [`JwtPolicy::max_lifetime`] after `iat` (or `nbf`, or now);
//! - `iat` / `nbf` at most [`JwtPolicy::skew`] in the future (FAPI 2.0 §5.3.2.1: accept
//!   10 s, refuse beyond 60 s);
//! - `jti` required (§3 item 7 allows the check; idpkit requires it) and single use across
//!   instances: see [`replay_id`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::jose::{self, KeySet, VerifyError, check_algorithm, parse_compact, verify_signature};
use crate::{Algorithm, MacAlgorithm, crypto};

/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The longest JWT from a client accepted, in bytes (an assertion, a request object).
pub(crate) const MAX_JWT_BYTES: usize = 16 * 1024;

/// Time rules for a JWT from a client (seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JwtPolicy {
    /// `iat` and `nbf` may be this far in the future (clock skew).
    pub skew: i64,
    /// `exp` at most this long after `iat` (or `nbf`, or now).
    pub max_lifetime: i64,
    /// `aud` must be the issuer identifier, as a string.
    pub audience_issuer_only: bool,
}

/// Why a JWT from a client was refused. `Display` is the client-visible description.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ClientJwtError {
    /// Too long to be read.
    #[error("the JWT is longer than {MAX_JWT_BYTES} bytes")]
    TooLong,
    /// The JWS did not parse or verify.
    #[error("{0}")]
    Jws(#[from] VerifyError),
    /// The HMAC does not verify.
    #[error("the HMAC ({alg}) does not verify with the client's secret")]
    BadMac {
        /// The algorithm.
        alg: MacAlgorithm,
    },
    /// The algorithm is not the client's.
    #[error("the algorithm {found} is not allowed for this client (allowed: {allowed})")]
    Algorithm {
        /// The header's `alg`.
        found: String,
        /// What the client may use.
        allowed: String,
    },
    /// The payload is not a strict JSON object.
    #[error("the JWT payload is not a JSON object with unique members")]
    Payload,
    /// A claim has the wrong type.
    #[error("the claim {name} has the wrong type")]
    ClaimType {
        /// The claim.
        name: &'static str,
    },
    /// A required claim is missing.
    #[error("the claim {name} is required")]
    Missing {
        /// The claim.
        name: &'static str,
    },
    /// `iss` or `sub` is not the client.
    #[error("{name} must be the client_id {expected:?}, found {found:?}")]
    NotTheClient {
        /// `iss`, `sub` or `client_id`.
        name: &'static str,
        /// The client id.
        expected: String,
        /// What the JWT says.
        found: String,
    },
    /// `aud` does not name this provider.
    #[error("aud must be {expected}, found {found}")]
    Audience {
        /// What is accepted.
        expected: String,
        /// What the JWT says.
        found: String,
    },
    /// `exp` has passed.
    #[error("the JWT expired at {exp} (now {now})")]
    Expired {
        /// `exp`.
        exp: i64,
        /// Now.
        now: i64,
    },
    /// `exp` is too far after `iat`.
    #[error("the JWT lives {lifetime} s, longer than the {max} s allowed")]
    TooLongLived {
        /// `exp` minus `iat` (or `nbf`, or now).
        lifetime: i64,
        /// The maximum.
        max: i64,
    },
    /// `iat` or `nbf` is too far in the future.
    #[error("{name} is {ahead} s in the future (at most {skew} s of clock skew is accepted)")]
    Future {
        /// `iat` or `nbf`.
        name: &'static str,
        /// How far ahead.
        ahead: i64,
        /// The accepted skew.
        skew: i64,
    },
    /// A request object carries `request` or `request_uri`.
    #[error("a request object must not contain {name} (RFC 9101 §4)")]
    Nested {
        /// `request` or `request_uri`.
        name: &'static str,
    },
    /// The `jti` was seen before.
    #[error("the JWT was used before (jti replay)")]
    Replayed,
}

/// The registered claims of a JWT from a client, plus every member (for request objects).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ClientJwt {
    pub iss: Option<String>,
    pub sub: Option<String>,
    /// `aud` as sent: a string, or an array of strings.
    pub aud: Option<Value>,
    pub exp: Option<i64>,
    pub iat: Option<i64>,
    pub nbf: Option<i64>,
    pub jti: Option<String>,
    /// Every member of the payload.
    pub members: Map<String, Value>,
}

/// Reads a verified payload: a JSON object with unique members (RFC 7519 §4), typed
/// registered claims.
pub(crate) fn read_claims(payload: &[u8]) -> Result<ClientJwt, ClientJwtError> {
    jose::read_object(payload, |_, _| {}).map_err(|_| ClientJwtError::Payload)?;
    let members: Map<String, Value> =
        serde_json::from_slice(payload).map_err(|_| ClientJwtError::Payload)?;
    let string = |name: &'static str| -> Result<Option<String>, ClientJwtError> {
        match members.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ClientJwtError::ClaimType { name }),
        }
    };
    // NumericDate (RFC 7519 §2): seconds, possibly fractional; `as` saturates.
    let date = |name: &'static str| -> Result<Option<i64>, ClientJwtError> {
        match members.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_f64()
                .map(|f| Some(f as i64))
                .ok_or(ClientJwtError::ClaimType { name }),
            Some(_) => Err(ClientJwtError::ClaimType { name }),
        }
    };
    let aud = match members.get("aud") {
        None => None,
        Some(v @ Value::String(_)) => Some(v.clone()),
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => Some(Value::Array(a.clone())),
        Some(_) => return Err(ClientJwtError::ClaimType { name: "aud" }),
    };
    Ok(ClientJwt {
        iss: string("iss")?,
        sub: string("sub")?,
        aud,
        exp: date("exp")?,
        iat: date("iat")?,
        nbf: date("nbf")?,
        jti: string("jti")?,
        members,
    })
}

/// The client a JWT claims to come from (`sub`, else `iss`), read **without** verifying
/// it: only to find the client whose keys will verify it (RFC 7523 §3 item 2).
pub(crate) fn claimed_client_id(token: &str) -> Result<String, ClientJwtError> {
    if token.len() > MAX_JWT_BYTES {
        return Err(ClientJwtError::TooLong);
    }
    let payload = token
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .ok_or(ClientJwtError::Payload)?;
    let c = read_claims(&payload)?;
    c.sub
        .or(c.iss)
        .ok_or(ClientJwtError::Missing { name: "sub" })
}

/// Verifies an asymmetric JWS from a client with its key set: `alg` one of `allowed`
/// (RFC 8725 §3.1; `none` and HMAC are refused by the parser), the key named by `kid` (or
/// the set's only key when there is no `kid`) of the type `alg` needs, the signature.
/// Returns the payload, not yet checked.
pub(crate) fn verify_signed(
    token: &str,
    keys: &KeySet,
    allowed: &[Algorithm],
) -> Result<Vec<u8>, ClientJwtError> {
    if token.len() > MAX_JWT_BYTES {
        return Err(ClientJwtError::TooLong);
    }
    let jws = parse_compact(token).map_err(VerifyError::from)?;
    let header = jws.header();
    if let Err(VerifyError::DisallowedAlgorithm { found, allowed }) =
        check_algorithm(header.alg, allowed)
    {
        return Err(ClientJwtError::Algorithm {
            found: found.to_string(),
            allowed: names(allowed.iter().map(|a| a.as_str())),
        });
    }
    let (key, kid) = match header.kid.as_deref() {
        Some(kid) => (keys.key(kid, header.alg)?, kid),
        None => (keys.sole_key(header.alg)?, ""),
    };
    verify_signature(key, kid, &jws)?;
    Ok(jws.into_payload())
}

/// Verifies a `client_secret_jwt` assertion: an HMAC algorithm of `allowed` only (RFC 7518
/// §3.2; every asymmetric `alg`, `none` and unknown ones are refused by the parser), the
/// MAC compared in constant time. Returns the payload, not yet checked.
pub(crate) fn verify_mac(
    token: &str,
    key: &[u8],
    allowed: &[MacAlgorithm],
) -> Result<Vec<u8>, ClientJwtError> {
    if token.len() > MAX_JWT_BYTES {
        return Err(ClientJwtError::TooLong);
    }
    let jws = jose::parse_compact_mac(token).map_err(VerifyError::from)?;
    if !allowed.contains(&jws.alg) {
        return Err(ClientJwtError::Algorithm {
            found: jws.alg.to_string(),
            allowed: names(allowed.iter().map(|a| a.as_str())),
        });
    }
    if key.len() < jws.alg.min_key_len()
        || !crypto::hmac_verify(jws.alg, key, jws.signing_input.as_bytes(), jws.signature())
    {
        return Err(ClientJwtError::BadMac { alg: jws.alg });
    }
    Ok(jws.payload)
}

fn names<'a>(it: impl Iterator<Item = &'a str>) -> String {
    it.collect::<Vec<_>>().join(", ")
}

/// `claim` must be the client id.
pub(crate) fn check_is_client(
    name: &'static str,
    value: Option<&str>,
    client_id: &str,
) -> Result<(), ClientJwtError> {
    match value {
        None => Err(ClientJwtError::Missing { name }),
        Some(v) if crypto::constant_time_eq(v.as_bytes(), client_id.as_bytes()) => Ok(()),
        Some(v) => Err(ClientJwtError::NotTheClient {
            name,
            expected: client_id.to_owned(),
            found: v.to_owned(),
        }),
    }
}

/// `aud` must name this provider: the issuer identifier (a string, or an element of an
/// array), or one of `also` (the token endpoint URL), unless the policy says issuer only,
/// and then as a plain string (FAPI 2.0 §5.3.2.1).
pub(crate) fn check_audience(
    aud: Option<&Value>,
    issuer: &str,
    also: &[&str],
    issuer_only: bool,
) -> Result<(), ClientJwtError> {
    let aud = aud.ok_or(ClientJwtError::Missing { name: "aud" })?;
    let accepted = |v: &str| v == issuer || (!issuer_only && also.contains(&v));
    let ok = match aud {
        Value::String(s) => accepted(s),
        Value::Array(a) if !issuer_only => a.iter().filter_map(Value::as_str).any(accepted),
        _ => false,
    };
    if ok {
        return Ok(());
    }
    let expected = if issuer_only {
        format!("the issuer {issuer:?} as a string")
    } else {
        let mut all = vec![format!("{issuer:?}")];
        all.extend(also.iter().map(|a| format!("{a:?}")));
        all.join(" or ")
    };
    Err(ClientJwtError::Audience {
        expected,
        found: aud.to_string(),
    })
}

/// The time claims: `exp` required and after `now` (RFC 7519 §4.1.4), at most
/// `max_lifetime` after `iat` (else `nbf`, else now); `iat` and `nbf` at most `skew`
/// ahead of `now` (RFC 7519 §4.1.5, §4.1.6). Returns `exp`.
pub(crate) fn check_times(
    c: &ClientJwt,
    policy: &JwtPolicy,
    now: i64,
) -> Result<i64, ClientJwtError> {
    let exp = c.exp.ok_or(ClientJwtError::Missing { name: "exp" })?;
    if exp <= now {
        return Err(ClientJwtError::Expired { exp, now });
    }
    for (name, t) in [("iat", c.iat), ("nbf", c.nbf)] {
        if let Some(t) = t
            && t.saturating_sub(now) > policy.skew
        {
            return Err(ClientJwtError::Future {
                name,
                ahead: t.saturating_sub(now),
                skew: policy.skew,
            });
        }
    }
    let start = c.iat.or(c.nbf).unwrap_or(now);
    let lifetime = exp.saturating_sub(start);
    if lifetime > policy.max_lifetime {
        return Err(ClientJwtError::TooLongLived {
            lifetime,
            max: policy.max_lifetime,
        });
    }
    Ok(exp)
}

/// What a checked assertion leaves to do: mark its `jti` used until `exp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Checked {
    pub jti: String,
    pub exp: i64,
}

/// Every claim rule of a client assertion (RFC 7523 §3) for `client_id`.
pub(crate) fn check_assertion(
    c: &ClientJwt,
    client_id: &str,
    issuer: &str,
    token_endpoint: &str,
    policy: &JwtPolicy,
    now: i64,
) -> Result<Checked, ClientJwtError> {
    check_is_client("iss", c.iss.as_deref(), client_id)?;
    check_is_client("sub", c.sub.as_deref(), client_id)?;
    check_audience(
        c.aud.as_ref(),
        issuer,
        &[token_endpoint],
        policy.audience_issuer_only,
    )?;
    let exp = check_times(c, policy, now)?;
    let jti = c
        .jti
        .clone()
        .filter(|j| !j.is_empty())
        .ok_or(ClientJwtError::Missing { name: "jti" })?;
    Ok(Checked { jti, exp })
}

/// The grant-store counter id that makes `jti` single use for `client_id` (`purpose`
/// separates assertions from request objects). The counter is incremented with the
/// store's atomic `increment`: the one caller that gets 1 accepts the JWT, every other
/// (on any instance sharing the store) sees a replay. A counter rather than a
/// `put`/`consume` pair because `put` replaces a record (and un-consumes it): two
/// instances putting then consuming one `jti` could both win.
pub(crate) fn replay_id(purpose: &str, client_id: &str, jti: &str) -> String {
    crate::rate_limit::counter_id(purpose, &[client_id, jti])
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISS: &str = "https://idp.example";
    const TOKEN: &str = "https://idp.example/token";
    const NOW: i64 = 1_800_000_000;

    fn policy() -> JwtPolicy {
        JwtPolicy {
            skew: 10,
            max_lifetime: 300,
            audience_issuer_only: false,
        }
    }

    fn claims(v: Value) -> ClientJwt {
        read_claims(v.to_string().as_bytes()).expect("claims")
    }

    fn good() -> Value {
        serde_json::json!({"iss": "c", "sub": "c", "aud": ISS, "exp": NOW + 60,
            "iat": NOW, "jti": "j1"})
    }

    fn with(k: &str, v: Value) -> ClientJwt {
        let mut g = good();
        g[k] = v;
        claims(g)
    }

    fn check(c: &ClientJwt, p: &JwtPolicy) -> Result<Checked, ClientJwtError> {
        check_assertion(c, "c", ISS, TOKEN, p, NOW)
    }

    #[test]
    fn a_good_assertion_passes_rfc7523_3() {
        let c = check(&claims(good()), &policy()).expect("ok");
        assert_eq!(
            c,
            Checked {
                jti: "j1".into(),
                exp: NOW + 60
            }
        );
    }

    #[test]
    fn iss_and_sub_must_be_the_client_rfc7523_3_1_and_3_2() {
        assert!(matches!(
            check(&with("iss", "x".into()), &policy()),
            Err(ClientJwtError::NotTheClient { name: "iss", .. })
        ));
        assert!(matches!(
            check(&with("sub", "x".into()), &policy()),
            Err(ClientJwtError::NotTheClient { name: "sub", .. })
        ));
    }

    #[test]
    fn aud_is_the_issuer_or_the_token_endpoint_rfc7523_3_3() {
        assert!(check(&with("aud", TOKEN.into()), &policy()).is_ok());
        assert!(check(&with("aud", serde_json::json!(["x", ISS])), &policy()).is_ok());
        let e = check(&with("aud", "https://other".into()), &policy()).expect_err("aud");
        assert!(matches!(e, ClientJwtError::Audience { .. }), "{e}");
        let mut g = good();
        g.as_object_mut().expect("object").remove("aud");
        assert_eq!(
            check(&claims(g), &policy()),
            Err(ClientJwtError::Missing { name: "aud" })
        );
        assert!(read_claims(br#"{"aud":null}"#).is_err());
    }

    #[test]
    fn the_strict_audience_is_the_issuer_alone_as_a_string_fapi2_5_3_2_1() {
        let strict = JwtPolicy {
            audience_issuer_only: true,
            ..policy()
        };
        assert!(check(&claims(good()), &strict).is_ok());
        assert!(check(&with("aud", TOKEN.into()), &strict).is_err());
        assert!(check(&with("aud", serde_json::json!([ISS])), &strict).is_err());
    }

    #[test]
    fn exp_is_required_and_in_the_future_rfc7523_3_4() {
        let mut g = good();
        g.as_object_mut().expect("object").remove("exp");
        assert_eq!(
            check(&claims(g), &policy()),
            Err(ClientJwtError::Missing { name: "exp" })
        );
        assert!(matches!(
            check(&with("exp", NOW.into()), &policy()),
            Err(ClientJwtError::Expired { .. })
        ));
    }

    #[test]
    fn a_long_lived_assertion_is_refused() {
        assert!(check(&with("exp", (NOW + 300).into()), &policy()).is_ok());
        assert!(matches!(
            check(&with("exp", (NOW + 301).into()), &policy()),
            Err(ClientJwtError::TooLongLived { lifetime: 301, .. })
        ));
        // Without iat the lifetime counts from now.
        let mut g = good();
        g.as_object_mut().expect("object").remove("iat");
        g["exp"] = (NOW + 3600).into();
        assert!(check(&claims(g), &policy()).is_err());
    }

    #[test]
    fn iat_and_nbf_may_be_ten_seconds_ahead_not_more_fapi2_5_3_2_1() {
        assert!(check(&with("iat", (NOW + 10).into()), &policy()).is_ok());
        assert!(matches!(
            check(&with("iat", (NOW + 11).into()), &policy()),
            Err(ClientJwtError::Future { name: "iat", .. })
        ));
        assert!(matches!(
            check(&with("nbf", (NOW + 11).into()), &policy()),
            Err(ClientJwtError::Future { name: "nbf", .. })
        ));
    }

    #[test]
    fn jti_is_required_rfc7523_3_7() {
        let mut g = good();
        g.as_object_mut().expect("object").remove("jti");
        assert_eq!(
            check(&claims(g), &policy()),
            Err(ClientJwtError::Missing { name: "jti" })
        );
        assert!(check(&with("jti", "".into()), &policy()).is_err());
    }

    #[test]
    fn claims_are_typed_and_members_unique_rfc7519_4() {
        assert!(read_claims(br#"{"iss":"a","iss":"b"}"#).is_err());
        assert!(read_claims(br#"{"exp":"soon"}"#).is_err());
        assert!(read_claims(br#"{"aud":[1]}"#).is_err());
        assert!(read_claims(b"[]").is_err());
    }

    #[test]
    fn replay_ids_separate_clients_and_purposes() {
        assert_ne!(replay_id("a", "c", "j"), replay_id("a", "d", "j"));
        assert_ne!(replay_id("a", "c", "j"), replay_id("b", "c", "j"));
    }

    #[test]
    fn an_hmac_verifies_only_with_its_key_and_allowed_algorithms_rfc7518_3_2() {
        let key = [7u8; 32];
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256"}"#),
            URL_SAFE_NO_PAD.encode(br#"{"sub":"c"}"#)
        );
        let mac = crypto::hmac_sign(MacAlgorithm::HS256, &key, input.as_bytes());
        let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(&mac));
        assert!(verify_mac(&token, &key, &MacAlgorithm::ALL).is_ok());
        assert!(matches!(
            verify_mac(&token, &[8u8; 32], &MacAlgorithm::ALL),
            Err(ClientJwtError::BadMac { .. })
        ));
        assert!(matches!(
            verify_mac(&token, &key, &[MacAlgorithm::HS512]),
            Err(ClientJwtError::Algorithm { .. })
        ));
        // The asymmetric verifier never takes an HMAC token (no key confusion).
        let keys = KeySet::new(&crate::Jwks::new(vec![]));
        assert!(matches!(
            verify_signed(&token, &keys, &Algorithm::ALL),
            Err(ClientJwtError::Jws(VerifyError::Jose(
                jose::JoseError::UnsupportedAlgorithm { .. }
            )))
        ));
    }
}
