//! OpenID Connect ID tokens (OIDC Core §2, §3.1.3.6): the user's claims (already filtered by
//! scope) plus the protocol claims, which always win over anything a user store returns.

use time::{Duration, OffsetDateTime};

use crate::users::Claims;

/// The JOSE `typ` of an ID token.
pub const TYP: &str = "JWT";

/// What binds an ID token to its request.
#[derive(Debug, Clone)]
pub struct Binding<'a> {
    /// `iss`.
    pub issuer: &'a str,
    /// `sub`.
    pub subject: &'a str,
    /// `aud`: the client id.
    pub client_id: &'a str,
    /// `iat`.
    pub now: OffsetDateTime,
    /// `exp` - `iat`.
    pub ttl: Duration,
    /// `auth_time`.
    pub auth_time: i64,
    /// `nonce` of the authorization request, echoed unchanged (§3.1.3.6).
    pub nonce: Option<&'a str>,
    /// `at_hash` of the access token issued with it (§3.1.3.8).
    pub at_hash: Option<String>,
    /// `sid`: the session the ID token comes from (Front-Channel Logout §3, Back-Channel
    /// Logout §2.1); none for grants without a browser session (password).
    pub sid: Option<&'a str>,
}

/// The claims of an ID token: `user` plus `iss`, `sub`, `aud`, `iat`, `exp`, `auth_time` and,
/// when given, `nonce` and `at_hash` (replacing any such member `user` had).
pub fn claims(mut user: Claims, b: &Binding<'_>) -> Claims {
    user.insert("iss".into(), b.issuer.into());
    user.insert("sub".into(), b.subject.into());
    user.insert("aud".into(), b.client_id.into());
    user.insert("iat".into(), b.now.unix_timestamp().into());
    user.insert("exp".into(), (b.now + b.ttl).unix_timestamp().into());
    user.insert("auth_time".into(), b.auth_time.into());
    match b.nonce {
        Some(n) => {
            user.insert("nonce".into(), n.into());
        }
        None => {
            user.remove("nonce");
        }
    }
    match &b.at_hash {
        Some(h) => {
            user.insert("at_hash".into(), h.clone().into());
        }
        None => {
            user.remove("at_hash");
        }
    }
    match b.sid.filter(|s| !s.is_empty()) {
        Some(sid) => {
            user.insert("sid".into(), sid.into());
        }
        None => {
            user.remove("sid");
        }
    }
    user
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn binding(nonce: Option<&str>) -> Binding<'_> {
        Binding {
            issuer: "https://iss",
            subject: "alice",
            client_id: "web",
            now: OffsetDateTime::UNIX_EPOCH + Duration::seconds(1000),
            ttl: Duration::hours(1),
            auth_time: 900,
            nonce,
            at_hash: Some("hash".into()),
            sid: Some("session-1"),
        }
    }

    #[test]
    fn protocol_claims_are_set_and_win_over_user_claims_oidc_2() {
        let mut user = Claims::new();
        user.insert("name".into(), json!("Alice"));
        user.insert("sub".into(), json!("mallory"));
        user.insert("aud".into(), json!("other"));
        let c = claims(user, &binding(Some("n-1")));
        assert_eq!(c["sub"], "alice");
        assert_eq!(c["aud"], "web");
        assert_eq!(c["iss"], "https://iss");
        assert_eq!(c["iat"], 1000);
        assert_eq!(c["exp"], 4600);
        assert_eq!(c["auth_time"], 900);
        assert_eq!(c["name"], "Alice");
    }

    #[test]
    fn the_nonce_is_echoed_exactly_and_only_when_sent_oidc_3_1_3_6() {
        assert_eq!(
            claims(Claims::new(), &binding(Some("a b+c")))["nonce"],
            "a b+c"
        );
        let mut user = Claims::new();
        user.insert("nonce".into(), json!("forged"));
        assert!(claims(user, &binding(None)).get("nonce").is_none());
    }

    #[test]
    fn at_hash_is_included_when_an_access_token_was_issued_oidc_3_1_3_8() {
        assert_eq!(claims(Claims::new(), &binding(None))["at_hash"], "hash");
        let mut b = binding(None);
        b.at_hash = None;
        assert!(claims(Claims::new(), &b).get("at_hash").is_none());
    }
}
