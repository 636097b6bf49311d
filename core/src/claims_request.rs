//! The `claims` request parameter (OIDC Core §5.5): a client asks for individual claims in
//! the ID token and at the UserInfo endpoint, beyond (or instead of) what its scopes release.
//!
//! [`parse`] reads the parameter strictly (a JSON object of at most 2048 bytes, the cap of
//! every kept authorization request parameter — it is stored with an unauthenticated
//! interaction —, unique member names at every depth, `id_token` and
//! `userinfo` objects whose members are `null` or objects with a boolean `essential` and an
//! array `values`; members idpkit does not understand are ignored, as §5.5 and §5.5.1
//! require). The request travels with the interaction, the code and the refresh token.
//!
//! How idpkit honours it:
//! - a requested claim is released when the user's record (the host's
//!   [`UserStore::claims`](crate::UserStore::claims), which is given the granted
//!   scopes) has it, even without the scope that would release it: the `id_token` members
//!   in ID tokens (also those of refreshes), the `userinfo` members at userinfo. Never a
//!   claim of the token itself (`sub`, `iss`, `aud`, `nonce`, …).
//! - `essential` does not fail the request when the claim cannot be provided (§5.5.1: "the
//!   Authorization Server MUST NOT generate an error"); it is shown to the consent page.
//! - `value` and `values` are hints, not filters: the user's actual value is released as it
//!   is (§5.5.1 lets the OP not honour them; idpkit never alters a user's claim to match).

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::OAuthError;
use crate::users::Claims;

/// The claims of one target (`id_token` or `userinfo`), by name.
pub type RequestedClaims = BTreeMap<String, ClaimRequest>;

/// A parsed `claims` parameter (OIDC Core §5.5).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimsRequest {
    /// Claims requested in the ID token (§5.5 `id_token`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub id_token: RequestedClaims,
    /// Claims requested from the UserInfo endpoint (§5.5 `userinfo`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub userinfo: RequestedClaims,
}

impl ClaimsRequest {
    /// Whether nothing is requested.
    pub fn is_empty(&self) -> bool {
        self.id_token.is_empty() && self.userinfo.is_empty()
    }
}

/// How one claim is requested (§5.5.1): `null` is the default (voluntary, no value).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRequest {
    /// `essential`: the client says it needs the claim (never an error when missing).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub essential: bool,
    /// `value`: the value the client asks for (a hint only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// `values`: the values the client asks for, in preference order (hints only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<Value>,
}

/// Claims of the token itself, never taken from a user's record whatever is requested.
const PROTOCOL: &[&str] = &[
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "nonce",
    "auth_time",
    "azp",
    "sid",
    "at_hash",
    "c_hash",
    "s_hash",
    "cnf",
    "acr",
    "amr",
    "client_id",
    "scope",
];

fn invalid(reason: impl fmt::Display) -> OAuthError {
    OAuthError::invalid_request(format!(
        "invalid claims parameter: {reason} (OIDC Core §5.5)"
    ))
}

/// Parses the `claims` parameter (OIDC Core §5.5, §5.5.1).
pub fn parse(raw: &str) -> Result<ClaimsRequest, OAuthError> {
    crate::authorization_request::check_length("claims", Some(raw))?;
    let Strict(value) = serde_json::from_str::<Strict>(raw).map_err(invalid)?;
    let Value::Object(top) = value else {
        return Err(invalid("not a JSON object"));
    };
    let mut out = ClaimsRequest::default();
    for (target, members) in top {
        let into = match target.as_str() {
            "id_token" => &mut out.id_token,
            "userinfo" => &mut out.userinfo,
            // §5.5: "Any members used that are not understood MUST be ignored."
            _ => continue,
        };
        let Value::Object(members) = members else {
            return Err(invalid(format!("{target} is not an object")));
        };
        for (name, request) in members {
            if name.is_empty() {
                return Err(invalid(format!("{target} has an empty claim name")));
            }
            into.insert(name.clone(), claim(&target, &name, request)?);
        }
    }
    Ok(out)
}

/// One claim's request (§5.5.1): `null` or an object.
fn claim(target: &str, name: &str, v: Value) -> Result<ClaimRequest, OAuthError> {
    let m = match v {
        Value::Null => return Ok(ClaimRequest::default()),
        Value::Object(m) => m,
        _ => {
            return Err(invalid(format!(
                "{target}.{name} is neither null nor an object"
            )));
        }
    };
    let essential = match m.get("essential") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(invalid(format!(
                "{target}.{name}.essential is not a boolean"
            )));
        }
    };
    let values = match m.get("values") {
        None => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return Err(invalid(format!("{target}.{name}.values is not an array"))),
    };
    Ok(ClaimRequest {
        essential,
        value: m.get("value").cloned(),
        values,
    })
}

/// Adds to `out` the claims of `user` named in `requested` (except the token's own
/// claims); those the user does not have are left out (§5.5.1: no error).
pub(crate) fn add_requested<'a>(
    out: &mut Claims,
    user: &Claims,
    requested: impl IntoIterator<Item = &'a String>,
) {
    for name in requested {
        if PROTOCOL.contains(&name.as_str()) || out.contains_key(name) {
            continue;
        }
        if let Some(v) = user.get(name) {
            out.insert(name.clone(), v.clone());
        }
    }
}

/// A JSON value with unique member names in every object (a duplicate could be read two
/// ways by two parsers).
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(n.into())
    }
    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(n.into())
    }
    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        let mut seen = HashSet::new();
        while let Some(k) = map.next_key::<String>()? {
            let Strict(v) = map.next_value()?;
            if !seen.insert(k.clone()) {
                return Err(de::Error::custom(format!("duplicate member {k:?}")));
            }
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use serde_json::json;

    #[test]
    fn reads_id_token_and_userinfo_members_oidc_core_5_5() {
        let c = parse(
            r#"{"userinfo":{"given_name":{"essential":true},"email":null},
                "id_token":{"auth_time":{"essential":true},"acr":{"values":["urn:a","urn:b"]},
                            "nickname":{"value":"al"}}}"#,
        )
        .unwrap();
        assert!(c.userinfo["given_name"].essential);
        assert_eq!(c.userinfo["email"], ClaimRequest::default());
        assert_eq!(
            c.id_token["acr"].values,
            vec![json!("urn:a"), json!("urn:b")]
        );
        assert_eq!(c.id_token["nickname"].value, Some(json!("al")));
        assert!(!c.id_token["nickname"].essential);
        assert_eq!(c.id_token.len(), 3);
    }

    #[test]
    fn members_not_understood_are_ignored_oidc_core_5_5_and_5_5_1() {
        let c =
            parse(r#"{"x":1,"id_token":{"email":{"essential":false,"purpose":"why"}}}"#).unwrap();
        assert_eq!(c.id_token["email"], ClaimRequest::default());
        assert!(c.userinfo.is_empty());
        assert!(parse("{}").unwrap().is_empty());
    }

    #[test]
    fn malformed_requests_are_invalid_request_oidc_core_5_5() {
        for bad in [
            "",
            "not json",
            "[]",
            r#""id_token""#,
            r#"{"id_token":[]}"#,
            r#"{"userinfo":"email"}"#,
            r#"{"id_token":{"email":true}}"#,
            r#"{"id_token":{"email":{"essential":"yes"}}}"#,
            r#"{"id_token":{"acr":{"values":"urn:a"}}}"#,
            r#"{"id_token":{"":null}}"#,
            r#"{"id_token":{"email":null}} trailing"#,
        ] {
            let e = parse(bad).expect_err(bad);
            assert_eq!(e.code, ErrorCode::InvalidRequest, "{bad}");
        }
    }

    #[test]
    fn duplicate_members_are_refused_at_every_depth_oidc_core_5_5() {
        for dup in [
            r#"{"id_token":{},"id_token":{"email":null}}"#,
            r#"{"id_token":{"email":null,"email":{"essential":true}}}"#,
            r#"{"id_token":{"email":{"essential":false,"essential":true}}}"#,
        ] {
            assert!(parse(dup).is_err(), "{dup}");
        }
    }

    #[test]
    fn an_oversized_parameter_is_refused_before_parsing() {
        let names: Vec<String> = (0..300).map(|i| format!("\"claim_{i}\":null")).collect();
        let big = format!("{{\"id_token\":{{{}}}}}", names.join(","));
        assert!(big.len() > crate::authorization_request::MAX_PARAM_BYTES);
        let e = parse(&big).unwrap_err();
        assert!(e.description.contains("longer than"), "{e:?}");
    }

    #[test]
    fn requested_claims_come_from_the_user_record_only_oidc_core_5_5_1() {
        let mut user = Claims::new();
        user.insert("email".into(), json!("a@example.com"));
        user.insert("sub".into(), json!("forged"));
        user.insert("nickname".into(), json!("al"));
        let mut out = Claims::new();
        let requested = [
            "email".to_owned(),
            "sub".to_owned(),
            "phone_number".to_owned(),
        ];
        add_requested(&mut out, &user, &requested);
        // Released without the `email` scope; `sub` never; a missing essential claim is
        // simply absent; an unrequested one stays out.
        assert_eq!(out.get("email"), Some(&json!("a@example.com")));
        assert!(!out.contains_key("sub"));
        assert!(!out.contains_key("phone_number"));
        assert!(!out.contains_key("nickname"));
    }
}
