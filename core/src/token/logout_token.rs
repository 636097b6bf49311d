//! Logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.4): a signed JWT telling a
//! client that a session ended. `typ` is `logout+jwt` (§2.4, so that it can never pass for
//! an ID token), it carries `iss`, `aud`, `iat`, `exp`, `jti`, the back-channel `events`
//! member, and `sub` and `sid`; never a `nonce` (§2.4: "MUST NOT contain a nonce Claim").

use time::{Duration, OffsetDateTime};

use crate::crypto;

/// The JOSE `typ` of a logout token (§2.4).
pub const TYP: &str = "logout+jwt";

/// The event type of a back-channel logout (§2.4).
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// How long a logout token is valid, and so how long its delivery is retried: long enough
/// for an RP that is down a few minutes, short enough that a captured one is soon useless
/// (§2.6 asks RPs to refuse old ones).
pub const TTL: Duration = Duration::minutes(10);

/// Who is logged out where.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// `iss`.
    pub issuer: &'a str,
    /// `aud`: the client told.
    pub client_id: &'a str,
    /// `sub`.
    pub subject: &'a str,
    /// `sid` of the session that ended; `None` when every session of `sub` ended.
    pub sid: Option<&'a str>,
}

/// The claims of a logout token for `s`, issued at `now`, with a fresh `jti`: every retry
/// of its delivery sends the same token, so an RP dedupes by `jti` (§2.6).
pub fn claims(s: &Subject<'_>, now: OffsetDateTime) -> serde_json::Value {
    let mut c = serde_json::json!({
        "iss": s.issuer,
        "aud": s.client_id,
        "iat": now.unix_timestamp(),
        "exp": (now + TTL).unix_timestamp(),
        "jti": crypto::random_token(),
        "sub": s.subject,
        "events": { EVENT: {} },
    });
    if let (Some(sid), Some(obj)) = (s.sid, c.as_object_mut()) {
        obj.insert("sid".into(), sid.into());
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::seconds(1_800_000_000)
    }

    #[test]
    fn a_logout_token_has_the_required_claims_and_no_nonce_backchannel_2_4() {
        let c = claims(
            &Subject {
                issuer: "https://idp",
                client_id: "rp",
                subject: "alice",
                sid: Some("s1"),
            },
            t0(),
        );
        assert_eq!(c["iss"], "https://idp");
        assert_eq!(c["aud"], "rp");
        assert_eq!(c["sub"], "alice");
        assert_eq!(c["sid"], "s1");
        assert_eq!(c["iat"], t0().unix_timestamp());
        assert_eq!(c["exp"], (t0() + TTL).unix_timestamp());
        assert_eq!(c["events"], serde_json::json!({ EVENT: {} }));
        assert!(c["jti"].as_str().is_some_and(|j| j.len() >= 32));
        assert!(c.get("nonce").is_none(), "§2.4: MUST NOT contain a nonce");
        assert_eq!(TYP, "logout+jwt");
    }

    #[test]
    fn every_token_has_its_own_jti_and_sid_is_optional() {
        let s = Subject {
            issuer: "https://idp",
            client_id: "rp",
            subject: "alice",
            sid: None,
        };
        let (a, b) = (claims(&s, t0()), claims(&s, t0()));
        assert_ne!(a["jti"], b["jti"], "RPs dedupe by jti (§2.6)");
        assert!(a.get("sid").is_none(), "all sessions of sub (§2.4)");
    }
}
