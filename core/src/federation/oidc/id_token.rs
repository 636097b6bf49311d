//! The checks on an upstream ID token beyond the [`Validator`](crate::validate::Validator)'s
//! (issuer, audience, signature, `exp`, `nbf`, a future `iat`): what makes it an *ID token*
//! for *this* client, issued *now* (OIDC Core §3.1.3.7). The `nonce` is checked by the
//! caller against the pending login.

use serde_json::{Map, Value};

use crate::federation::FederationError;

/// Clock skew allowed between the upstream and us, in seconds.
pub(super) const LEEWAY_SECS: i64 = 60;

/// How old an upstream ID token may be when we receive it, in seconds (plus the leeway): it
/// was minted for the code exchange that just happened.
pub(super) const MAX_AGE_SECS: i64 = 10 * 60;

fn refused(why: String) -> FederationError {
    FederationError::Upstream(format!("the upstream ID token is refused: {why}"))
}

/// Checks the header `typ` and the claims `aud`/`azp` and `iat` of an upstream ID token
/// that passed the validator, for client `client_id` at time `now`:
///
/// - `typ` absent or `JWT`: an access token (`at+jwt`, RFC 9068 §2.1, §4), a logout token
///   (`logout+jwt`) or any other explicitly typed JWT is not an ID token (RFC 8725 §3.11).
/// - With several audiences, `azp` must be present; when present it must be our
///   `client_id` (OIDC Core §3.1.3.7 steps 4 and 5): a token the upstream issued to
///   another client that merely lists us is refused.
/// - `iat` is required (OIDC Core §2), not in the future and not older than
///   [`MAX_AGE_SECS`], with [`LEEWAY_SECS`] either way (OIDC Core §3.1.3.7 step 10).
pub(super) fn check(
    typ: Option<&str>,
    claims: &Map<String, Value>,
    client_id: &str,
    now: i64,
) -> Result<(), FederationError> {
    if let Some(t) = typ
        && !crate::jose::typ_matches(t, "JWT")
    {
        return Err(refused(format!(
            "its typ is {t:?}, which is not an ID token (an at+jwt is an access token: RFC 9068 §2.1)"
        )));
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    match claims.get("azp") {
        Some(Value::String(azp)) if azp == client_id => {}
        Some(azp) => {
            return Err(refused(format!(
                "azp is {azp}, not this client {client_id:?} (OIDC Core §3.1.3.7)"
            )));
        }
        None if audiences.len() > 1 => {
            return Err(refused(format!(
                "it has {} audiences and no azp (OIDC Core §3.1.3.7)",
                audiences.len()
            )));
        }
        None => {}
    }
    let iat = match claims.get("iat") {
        Some(Value::Number(n)) => n.as_f64().map(|f| f as i64),
        _ => None,
    }
    .ok_or_else(|| refused("it has no numeric iat (OIDC Core §2)".into()))?;
    if iat.saturating_sub(LEEWAY_SECS) > now {
        return Err(refused(format!(
            "its iat {iat} is {}s in the future (OIDC Core §3.1.3.7)",
            iat - now
        )));
    }
    if now.saturating_sub(iat) > MAX_AGE_SECS + LEEWAY_SECS {
        return Err(refused(format!(
            "its iat {iat} is {}s old, more than {MAX_AGE_SECS}s (OIDC Core §3.1.3.7)",
            now - iat
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn ok_claims() -> Map<String, Value> {
        claims(
            json!({"iss": "https://up.example", "sub": "u", "aud": "gw", "iat": NOW - 2, "exp": NOW + 300}),
        )
    }

    #[test]
    fn an_access_token_is_not_an_id_token_rfc9068_2_1_and_4() {
        for typ in ["at+jwt", "application/at+jwt", "logout+jwt", "secevent+jwt"] {
            let e = check(Some(typ), &ok_claims(), "gw", NOW).expect_err(typ);
            assert!(e.to_string().contains("not an ID token"), "{e}");
        }
        for typ in [None, Some("JWT"), Some("jwt"), Some("application/jwt")] {
            check(typ, &ok_claims(), "gw", NOW).expect("an ID token");
        }
    }

    #[test]
    fn several_audiences_need_azp_naming_this_client_oidc_core_3_1_3_7() {
        let mut c = ok_claims();
        c.insert("aud".into(), json!(["gw", "other-client"]));
        let e = check(None, &c, "gw", NOW).expect_err("no azp");
        assert!(e.to_string().contains("2 audiences and no azp"), "{e}");
        c.insert("azp".into(), json!("other-client"));
        let e = check(None, &c, "gw", NOW).expect_err("azp of another client");
        assert!(e.to_string().contains("not this client"), "{e}");
        c.insert("azp".into(), json!("gw"));
        check(None, &c, "gw", NOW).expect("azp is us");
        // A single audience with an azp naming someone else is refused too.
        let mut single = ok_claims();
        single.insert("azp".into(), json!("other-client"));
        check(None, &single, "gw", NOW).expect_err("azp of another client");
        single.insert("azp".into(), json!(7));
        check(None, &single, "gw", NOW).expect_err("azp not a string");
    }

    #[test]
    fn iat_is_required_and_recent_oidc_core_2_and_3_1_3_7() {
        let mut c = ok_claims();
        c.remove("iat");
        let e = check(None, &c, "gw", NOW).expect_err("no iat");
        assert!(e.to_string().contains("no numeric iat"), "{e}");
        c.insert("iat".into(), json!("1800000000"));
        check(None, &c, "gw", NOW).expect_err("a string iat");
        c.insert("iat".into(), json!(NOW + LEEWAY_SECS + 1));
        let e = check(None, &c, "gw", NOW).expect_err("future");
        assert!(e.to_string().contains("in the future"), "{e}");
        c.insert("iat".into(), json!(NOW - MAX_AGE_SECS - LEEWAY_SECS - 1));
        let e = check(None, &c, "gw", NOW).expect_err("stale");
        assert!(e.to_string().contains("old"), "{e}");
        for fine in [NOW + LEEWAY_SECS, NOW - MAX_AGE_SECS - LEEWAY_SECS, NOW] {
            c.insert("iat".into(), json!(fine));
            check(None, &c, "gw", NOW).expect("within the leeway");
        }
    }
}
