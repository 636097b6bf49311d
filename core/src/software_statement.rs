//! Software statements (RFC 7591 §2.3, §3.1.1): a JWT, signed by an issuer the host
//! trusts, asserting client metadata about a piece of software. A registration (or an RFC
//! 7592 update) may carry one as `software_statement`; when its signature verifies with a
//! trusted issuer's keys, the statement's claims **take precedence** over the same members
//! sent as plain JSON (§3.1.1), and the statement is echoed in the response unmodified
//! (§3.2.1).
//!
//! The rules here are sync: which trusted issuer a statement claims ([`claimed_issuer`]),
//! its verification ([`verify`]: signature by that issuer's key and algorithms, `exp` /
//! `nbf` / `iat` when present), and how its claims overlay the metadata ([`overlay`]).
//! Errors are RFC 7591 §3.2.2's: `unapproved_software_statement` when no trusted issuer
//! signed it (or none is configured), `invalid_software_statement` when it is malformed,
//! its signature does not verify, or it is expired.

use std::sync::Arc;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::algorithm::Algorithm;
use crate::error::{ErrorCode, OAuthError};
use crate::jose::jwk::Jwks;
use crate::jose::{KeySet, check_exp, check_iat, check_nbf, verify_compact_signature};
use crate::registration::SERVER_MEMBERS;

/// Clock skew tolerated on a statement's `exp`, `nbf` and `iat` (seconds).
pub const STATEMENT_LEEWAY_SECS: i64 = 60;

/// The largest software statement accepted (bytes); the registration body cap bounds it
/// too.
pub const MAX_STATEMENT_BYTES: usize = 8 * 1024;

/// JWT claims of a statement that are not client metadata and never overlay it.
const JWT_CLAIMS: [&str; 7] = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"];

/// An issuer whose software statements are trusted: its exact `iss` and its public keys
/// (a JWKS by value: statements are verified without any fetch).
#[derive(Debug, Clone)]
pub struct SoftwareStatementIssuer {
    issuer: String,
    keys: Arc<KeySet>,
    algorithms: Vec<Algorithm>,
}

impl SoftwareStatementIssuer {
    /// Trusts statements whose `iss` is `issuer`, signed by one of `jwks` with RS256,
    /// PS256, ES256 or EdDSA (narrow with [`SoftwareStatementIssuer::algorithms`]).
    pub fn new(issuer: impl Into<String>, jwks: &Jwks) -> Self {
        Self {
            issuer: issuer.into(),
            keys: Arc::new(KeySet::new(jwks)),
            algorithms: vec![
                Algorithm::RS256,
                Algorithm::PS256,
                Algorithm::ES256,
                Algorithm::EdDSA,
            ],
        }
    }

    /// The algorithms accepted from this issuer.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// The issuer's `iss`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
}

fn invalid(why: impl Into<std::borrow::Cow<'static, str>>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidSoftwareStatement, why)
}

fn unapproved(why: impl Into<std::borrow::Cow<'static, str>>) -> OAuthError {
    OAuthError::new(ErrorCode::UnapprovedSoftwareStatement, why)
}

/// The `iss` a statement claims, read **before** verification only to pick the issuer
/// whose keys must verify it (the claim means nothing until [`verify`] succeeds).
pub fn claimed_issuer(statement: &str) -> Result<String, OAuthError> {
    use base64::Engine;
    let payload = statement
        .split('.')
        .nth(1)
        .filter(|_| statement.split('.').count() == 3)
        .ok_or_else(|| invalid("software_statement: not a signed JWT (RFC 7591 §2.3)"))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| invalid("software_statement: the payload is not base64url"))?;
    let claims: Map<String, Value> = serde_json::from_slice(&bytes)
        .map_err(|_| invalid("software_statement: the payload is not a JSON object"))?;
    claims
        .get("iss")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| invalid("software_statement: iss is required (RFC 7591 §2.3)"))
}

/// Verifies `statement` against the trusted `issuers` at `now` and returns its claims.
///
/// The statement must be a compact JWS (no `alg: none`: only the issuer's algorithms are
/// accepted) whose `iss` names one of `issuers`, signed by the key of that issuer its
/// `kid` names (the key type must fit the algorithm); `exp` and `nbf`, when present, are checked with
/// [`STATEMENT_LEEWAY_SECS`], and `iat` may not lie in the future.
pub fn verify(
    statement: &str,
    issuers: &[SoftwareStatementIssuer],
    now: OffsetDateTime,
) -> Result<Map<String, Value>, OAuthError> {
    if statement.len() > MAX_STATEMENT_BYTES {
        return Err(invalid("software_statement: too large"));
    }
    let iss = claimed_issuer(statement)?;
    let issuer = issuers.iter().find(|i| i.issuer == iss).ok_or_else(|| {
        unapproved(format!(
            "software_statement: its issuer is not trusted here (iss {:?})",
            crate::logging::untrusted(&iss).to_string()
        ))
    })?;
    let verified = verify_compact_signature(statement, &issuer.keys, &issuer.algorithms)
        .map_err(|e| invalid(format!("software_statement: {e}")))?;
    let claims: Map<String, Value> = serde_json::from_slice(verified.payload())
        .map_err(|_| invalid("software_statement: the payload is not a JSON object"))?;
    let now = now.unix_timestamp();
    let time = |name: &str| claims.get(name).and_then(Value::as_i64);
    for name in ["exp", "nbf", "iat"] {
        if claims.get(name).is_some() && time(name).is_none() {
            return Err(invalid(format!(
                "software_statement: {name} is not a NumericDate"
            )));
        }
    }
    if let Some(exp) = time("exp") {
        check_exp(Some(exp), now, STATEMENT_LEEWAY_SECS)
            .map_err(|e| invalid(format!("software_statement: {e}")))?;
    }
    check_nbf(time("nbf"), now, STATEMENT_LEEWAY_SECS)
        .map_err(|e| invalid(format!("software_statement: {e}")))?;
    check_iat(time("iat"), now, STATEMENT_LEEWAY_SECS)
        .map_err(|e| invalid(format!("software_statement: {e}")))?;
    Ok(claims)
}

/// The registration body with a verified statement's claims laid over it (RFC 7591
/// §3.1.1: "the software statement ... values ... MUST take precedence"). JWT claims
/// (`iss`, `exp`, ...) and server-issued members (`client_id`, `client_secret`, ...) in
/// the statement are ignored; the body's `software_statement` stays, to be echoed.
pub fn overlay(mut body: Map<String, Value>, claims: &Map<String, Value>) -> Map<String, Value> {
    for (name, value) in claims {
        if JWT_CLAIMS.contains(&name.as_str()) || SERVER_MEMBERS.contains(&name.as_str()) {
            continue;
        }
        body.insert(name.clone(), value.clone());
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::signing::SigningKey;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    fn key() -> SigningKey {
        SigningKey::generate(Algorithm::ES256).expect("key").0
    }

    fn sign(key: &SigningKey, header: Value, claims: Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = key.sign(input.as_bytes()).expect("sign");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    fn statement(key: &SigningKey, claims: Value) -> String {
        sign(key, json!({"alg": "ES256", "kid": key.kid()}), claims)
    }

    fn trusted(key: &SigningKey) -> Vec<SoftwareStatementIssuer> {
        vec![SoftwareStatementIssuer::new(
            "https://software.example",
            &Jwks::new(vec![key.public_jwk().clone()]),
        )]
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("time")
    }

    #[test]
    fn a_trusted_statement_verifies_and_its_claims_come_back_rfc7591_2_3() {
        let k = key();
        let s = statement(
            &k,
            json!({"iss": "https://software.example", "software_id": "app-1",
                   "client_name": "Signed App", "iat": 1_799_999_000}),
        );
        let claims = verify(&s, &trusted(&k), now()).expect("verified");
        assert_eq!(claims["software_id"], "app-1");
    }

    #[test]
    fn an_untrusted_issuer_is_unapproved_rfc7591_3_2_2() {
        let k = key();
        let s = statement(&k, json!({"iss": "https://other.example"}));
        let e = verify(&s, &trusted(&k), now()).expect_err("refused");
        assert_eq!(e.code, ErrorCode::UnapprovedSoftwareStatement);
        // No issuer configured at all: unapproved too.
        let e = verify(&s, &[], now()).expect_err("refused");
        assert_eq!(e.code, ErrorCode::UnapprovedSoftwareStatement);
    }

    #[test]
    fn a_statement_signed_by_another_key_is_invalid_rfc7591_3_2_2() {
        let (k, other) = (key(), key());
        // Claims the trusted issuer, signed by someone else with the trusted kid.
        let s = sign(
            &other,
            json!({"alg": "ES256", "kid": k.kid()}),
            json!({"iss": "https://software.example"}),
        );
        let e = verify(&s, &trusted(&k), now()).expect_err("refused");
        assert_eq!(e.code, ErrorCode::InvalidSoftwareStatement);
    }

    #[test]
    fn alg_none_and_malformed_statements_are_invalid_rfc7591_2_3() {
        let k = key();
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(json!({"alg": "none"}).to_string()),
            URL_SAFE_NO_PAD.encode(json!({"iss": "https://software.example"}).to_string())
        );
        for s in [none.as_str(), "e30", "a.b.c", "x.e30.y", ""] {
            let e = verify(s, &trusted(&k), now()).expect_err("refused");
            assert_eq!(e.code, ErrorCode::InvalidSoftwareStatement, "{s}");
        }
        let huge = "a".repeat(MAX_STATEMENT_BYTES + 1);
        assert!(verify(&huge, &trusted(&k), now()).is_err());
    }

    #[test]
    fn an_algorithm_the_issuer_does_not_use_is_invalid() {
        let k = key();
        let issuers = vec![trusted(&k).remove(0).algorithms([Algorithm::EdDSA])];
        let s = statement(&k, json!({"iss": "https://software.example"}));
        let e = verify(&s, &issuers, now()).expect_err("refused");
        assert_eq!(e.code, ErrorCode::InvalidSoftwareStatement);
    }

    #[test]
    fn expired_not_yet_valid_and_future_statements_are_invalid() {
        let k = key();
        let t = now().unix_timestamp();
        for claims in [
            json!({"iss": "https://software.example", "exp": t - 3600}),
            json!({"iss": "https://software.example", "nbf": t + 3600}),
            json!({"iss": "https://software.example", "iat": t + 3600}),
            json!({"iss": "https://software.example", "exp": "tomorrow"}),
        ] {
            let e =
                verify(&statement(&k, claims.clone()), &trusted(&k), now()).expect_err("refused");
            assert_eq!(e.code, ErrorCode::InvalidSoftwareStatement, "{claims}");
        }
        // Inside the leeway, and a statement without exp, are fine.
        let ok = json!({"iss": "https://software.example", "exp": t - 30});
        assert!(verify(&statement(&k, ok), &trusted(&k), now()).is_ok());
    }

    #[test]
    fn statement_claims_take_precedence_but_not_jwt_or_server_members_rfc7591_3_1_1() {
        let body = json!({"client_name": "Plain", "redirect_uris": ["https://a.example/cb"],
                          "software_statement": "s"});
        let claims = json!({"iss": "https://software.example", "exp": 1,
                            "client_name": "Signed", "client_id": "mine",
                            "redirect_uris": ["https://signed.example/cb"]});
        let out = overlay(
            body.as_object().cloned().expect("object"),
            claims.as_object().expect("object"),
        );
        assert_eq!(out["client_name"], "Signed");
        assert_eq!(out["redirect_uris"], json!(["https://signed.example/cb"]));
        assert_eq!(out["software_statement"], "s");
        assert!(!out.contains_key("iss") && !out.contains_key("exp"));
        assert!(!out.contains_key("client_id"));
    }
}
