//! Request objects (RFC 9101, JAR): the authorization request as a JWT signed by the
//! client, sent by value in `request`. The claim rules are sync functions here; the
//! signature and the client's keys are [`crate::client_assertion`]'s and
//! [`crate::client_keys`]'s.
//!
//! Choices (README "Client authentication with JWTs, request objects"):
//! - signed with an asymmetric algorithm only (the client's `request_object_signing_alg`
//!   when registered), verified with the client's `jwks` / `jwks_uri`; unsigned (`none`)
//!   and HMAC request objects are refused (RFC 9101 §6.1 lets the server require signing);
//! - `iss` = the `client_id`, `aud` = the issuer identifier (RFC 9101 §4), `exp` required
//!   and at most [`JwtPolicy::max_lifetime`] (60 minutes by default) after `nbf` and after
//!   `iat`, `iat` / `nbf` at most the clock skew in the future (FAPI 2.0 §5.3.2.1);
//! - `jti` optional; when present, single use across instances like an assertion's. A
//!   replayed object without `jti` only starts another authorization for the client's own
//!   registered redirect URI (the code still needs PKCE and client authentication);
//! - when a request object is present the parameters come **only** from it (RFC 9101
//!   §6.3): every outer parameter but `client_id` (which must equal the object's) and
//!   `request` is ignored;
//! - `request_uri` by reference is not fetched (no outbound request driven by an
//!   authorization request): only PAR's `urn:ietf:params:oauth:request_uri:` values are
//!   taken, by the PAR endpoint's own lookup; discovery says
//!   `request_uri_parameter_supported: false`.

use serde_json::Value;

use crate::client_assertion::{
    ClientJwt, ClientJwtError, JwtPolicy, check_audience, check_is_client, check_times,
};
use crate::http_types::Params;

/// An encrypted request object (RFC 9101 §6.1, a compact JWE, RFC 7516) decrypted with the
/// provider's keys: the signed request object inside. It must be signed, then encrypted:
/// the plaintext must be a compact JWS (three parts), whose signature is then verified as
/// for any request object (so an unsigned inner JWT, `alg: none`, is refused there too).
pub(crate) fn decrypt(
    token: &str,
    keys: &[std::sync::Arc<crate::jose::jwe::DecryptionKey>],
) -> Result<String, String> {
    if keys.is_empty() {
        return Err(
            "the request object is encrypted, but the provider has no encryption keys".into(),
        );
    }
    let keys: Vec<&crate::jose::jwe::DecryptionKey> = keys.iter().map(|k| k.as_ref()).collect();
    let out = crate::jose::jwe::decrypt(token, &keys)
        .map_err(|e| format!("the encrypted request object is refused: {e}"))?;
    match String::from_utf8(out.plaintext) {
        Ok(jws) if jws.split('.').count() == 3 => Ok(jws),
        _ => Err(
            "the encrypted request object must carry a signed JWT (signed, then encrypted: RFC 9101 §6.1)"
                .into(),
        ),
    }
}

/// Members of a request object that are claims about the JWT, not request parameters.
const JWT_CLAIMS: [&str; 6] = ["iss", "aud", "exp", "nbf", "iat", "jti"];

/// What a checked request object leaves to do: mark its `jti` (if any) used until `exp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CheckedObject {
    pub jti: Option<String>,
    pub exp: i64,
}

/// The claim rules of a request object of `client_id` (RFC 9101 §4, §6.2; FAPI 2.0
/// §5.3.2.1 for the lifetime).
pub(crate) fn check(
    c: &ClientJwt,
    client_id: &str,
    issuer: &str,
    policy: &JwtPolicy,
    now: i64,
) -> Result<CheckedObject, ClientJwtError> {
    check_is_client("iss", c.iss.as_deref(), client_id)?;
    match c.members.get("client_id") {
        None => {}
        Some(Value::String(id)) => check_is_client("client_id", Some(id), client_id)?,
        Some(_) => return Err(ClientJwtError::ClaimType { name: "client_id" }),
    }
    // The issuer, as a string or in an array; no endpoint URL.
    check_audience(c.aud.as_ref(), issuer, &[], false)?;
    let exp = check_times(c, policy, now)?;
    if let Some(nbf) = c.nbf
        && exp.saturating_sub(nbf) > policy.max_lifetime
    {
        return Err(ClientJwtError::TooLongLived {
            lifetime: exp.saturating_sub(nbf),
            max: policy.max_lifetime,
        });
    }
    for nested in ["request", "request_uri"] {
        if c.members.contains_key(nested) {
            // RFC 9101 §4: "MUST NOT include the request and request_uri parameters".
            return Err(ClientJwtError::Nested { name: nested });
        }
    }
    Ok(CheckedObject {
        jti: c.jti.clone().filter(|j| !j.is_empty()),
        exp,
    })
}

/// The authorization request parameters of a checked object, plus `client_id`: strings as
/// they are, numbers and booleans as their JSON text (`max_age`), an array of strings as a
/// repeated parameter (`resource`, RFC 8707), any other JSON value as its JSON text
/// (`claims`, `authorization_details`). Outer parameters are not merged (RFC 9101 §6.3).
pub(crate) fn parameters(c: &ClientJwt, client_id: &str) -> Params {
    let mut pairs: Vec<(String, String)> = vec![("client_id".into(), client_id.to_owned())];
    for (name, value) in &c.members {
        if JWT_CLAIMS.contains(&name.as_str()) || name == "client_id" {
            continue;
        }
        match value {
            Value::String(s) => pairs.push((name.clone(), s.clone())),
            Value::Array(a) if !a.is_empty() && a.iter().all(Value::is_string) => {
                for v in a.iter().filter_map(Value::as_str) {
                    pairs.push((name.clone(), v.to_owned()));
                }
            }
            Value::Null => {}
            other => pairs.push((name.clone(), other.to_string())),
        }
    }
    Params::from_pairs(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client_assertion::read_claims;

    const ISS: &str = "https://idp.example";
    const NOW: i64 = 1_800_000_000;

    fn policy() -> JwtPolicy {
        JwtPolicy {
            skew: 10,
            max_lifetime: 3600,
            audience_issuer_only: true,
        }
    }

    fn object(extra: Value) -> ClientJwt {
        let mut v = serde_json::json!({"iss": "c", "aud": ISS, "exp": NOW + 300, "nbf": NOW,
            "client_id": "c", "response_type": "code", "scope": "openid"});
        for (k, x) in extra.as_object().expect("object") {
            v[k] = x.clone();
        }
        read_claims(v.to_string().as_bytes()).expect("claims")
    }

    fn run(c: &ClientJwt) -> Result<CheckedObject, ClientJwtError> {
        check(c, "c", ISS, &policy(), NOW)
    }

    #[test]
    fn a_good_object_passes_and_jti_is_optional_rfc9101_4() {
        assert_eq!(
            run(&object(serde_json::json!({}))),
            Ok(CheckedObject {
                jti: None,
                exp: NOW + 300
            })
        );
        assert_eq!(
            run(&object(serde_json::json!({"jti": "x"}))).map(|c| c.jti),
            Ok(Some("x".into()))
        );
    }

    #[test]
    fn iss_and_client_id_are_the_client_rfc9101_6_2() {
        assert!(run(&object(serde_json::json!({"iss": "d"}))).is_err());
        assert!(run(&object(serde_json::json!({"client_id": "d"}))).is_err());
    }

    #[test]
    fn aud_is_the_issuer_rfc9101_4() {
        assert!(
            run(&object(
                serde_json::json!({"aud": "https://idp.example/token"})
            ))
            .is_err()
        );
        assert!(run(&object(serde_json::json!({"aud": ["x", ISS]}))).is_ok());
        assert!(run(&object(serde_json::json!({"aud": "https://other.example"}))).is_err());
    }

    #[test]
    fn exp_is_required_and_the_lifetime_at_most_an_hour_fapi2_5_3_2_1() {
        assert!(matches!(
            run(&object(serde_json::json!({"exp": NOW - 1}))),
            Err(ClientJwtError::Expired { .. })
        ));
        assert!(matches!(
            run(&object(serde_json::json!({"exp": NOW + 3601}))),
            Err(ClientJwtError::TooLongLived { .. })
        ));
        // An old nbf with a fresh iat does not stretch the lifetime.
        assert!(
            run(&object(
                serde_json::json!({"nbf": NOW - 3000, "iat": NOW, "exp": NOW + 1000})
            ))
            .is_err()
        );
        assert!(matches!(
            run(&object(serde_json::json!({"nbf": NOW + 11}))),
            Err(ClientJwtError::Future { .. })
        ));
    }

    #[test]
    fn nested_request_parameters_are_refused_rfc9101_4() {
        assert!(run(&object(serde_json::json!({"request": "x"}))).is_err());
        assert!(run(&object(serde_json::json!({"request_uri": "x"}))).is_err());
    }

    #[test]
    fn parameters_come_from_the_object_only_rfc9101_6_3() {
        let c = object(
            serde_json::json!({"max_age": 60, "resource": ["urn:a", "urn:b"],
            "claims": {"userinfo": {"email": null}}, "jti": "j"}),
        );
        let p = parameters(&c, "c");
        assert_eq!(p.get("client_id").expect("one"), Some("c"));
        assert_eq!(p.get("scope").expect("one"), Some("openid"));
        assert_eq!(p.get("max_age").expect("one"), Some("60"));
        assert_eq!(p.all("resource").collect::<Vec<_>>(), ["urn:a", "urn:b"]);
        assert_eq!(
            p.get("claims").expect("one"),
            Some(r#"{"userinfo":{"email":null}}"#)
        );
        for claim in ["iss", "aud", "exp", "nbf", "jti"] {
            assert_eq!(p.get(claim).expect("one"), None, "{claim}");
        }
    }
}
