//! RP-Initiated Logout (OpenID Connect RP-Initiated Logout 1.0): what a logout request
//! says, which client it comes from, where the browser may be sent afterwards, and the
//! front-channel notifications (Front-Channel Logout 1.0 §2–§4). Sync rules; the endpoint
//! (`endpoint/end_session.rs`) loads, verifies the hint's signature and persists.

use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::error::{ErrorCode, OAuthError};
use crate::http_types::Params;

/// The longest `state`, `logout_hint` or `ui_locales` accepted (as at `/authorize`).
const MAX_ECHOED: usize = 2048;

/// A parsed logout request (§2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EndSessionRequest {
    pub id_token_hint: Option<String>,
    pub logout_hint: Option<String>,
    pub client_id: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    pub ui_locales: Option<String>,
}

/// Parses the parameters of a logout request: none repeated, echoed ones bounded.
pub(crate) fn parse(params: &Params) -> Result<EndSessionRequest, OAuthError> {
    if let Some(dup) = params.first_duplicate() {
        return Err(OAuthError::invalid_request(format!(
            "parameter {dup} is included more than once"
        )));
    }
    let get = |name: &str| -> Result<Option<String>, OAuthError> {
        let v = params
            .get(name)?
            .filter(|v| !v.is_empty())
            .map(str::to_owned);
        if v.as_ref().is_some_and(|v| v.len() > MAX_ECHOED) && name != "id_token_hint" {
            return Err(OAuthError::invalid_request(format!(
                "{name} is longer than {MAX_ECHOED} bytes"
            )));
        }
        Ok(v)
    };
    Ok(EndSessionRequest {
        id_token_hint: get("id_token_hint")?,
        logout_hint: get("logout_hint")?,
        client_id: get("client_id")?,
        post_logout_redirect_uri: get("post_logout_redirect_uri")?,
        state: get("state")?,
        ui_locales: get("ui_locales")?,
    })
}

/// What a verified `id_token_hint` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hint {
    /// The client it was issued to (`aud`, or `azp` with several audiences).
    pub client_id: String,
    pub subject: String,
    pub sid: Option<String>,
}

/// Reads the claims of an `id_token_hint` whose signature was verified: our issuer, a
/// subject, and one client (OIDC Core §2: `azp` names it when `aud` has several values).
/// Its expiry is deliberately not checked (§2: an expired hint is still a hint).
pub(crate) fn hint(claims: &serde_json::Value, issuer: &str) -> Result<Hint, OAuthError> {
    let bad = |why: &str| OAuthError::invalid_request(format!("id_token_hint: {why}"));
    if claims["iss"].as_str() != Some(issuer) {
        return Err(bad("issued by another issuer"));
    }
    let subject = claims["sub"].as_str().ok_or_else(|| bad("no sub"))?;
    let client_id = match (&claims["aud"], claims["azp"].as_str()) {
        (serde_json::Value::String(a), None) => a.as_str(),
        (serde_json::Value::String(a), Some(azp)) if a == azp => a.as_str(),
        (serde_json::Value::Array(a), Some(azp)) if a.iter().any(|v| v.as_str() == Some(azp)) => {
            azp
        }
        (serde_json::Value::Array(a), None) if a.len() == 1 => {
            a[0].as_str().ok_or_else(|| bad("aud is not a string"))?
        }
        _ => return Err(bad("no single client in aud/azp")),
    };
    Ok(Hint {
        client_id: client_id.to_owned(),
        subject: subject.to_owned(),
        sid: claims["sid"].as_str().map(str::to_owned),
    })
}

/// The client the request comes from: the hint's, which a `client_id` given too must
/// equal (§2: "the OP MUST verify ... that the Client Identifier matches").
pub(crate) fn client_of(
    request: &EndSessionRequest,
    hint: Option<&Hint>,
) -> Result<Option<String>, OAuthError> {
    match (hint, &request.client_id) {
        (Some(h), Some(id)) if *id != h.client_id => Err(OAuthError::invalid_request(
            "client_id is not the client the id_token_hint was issued to",
        )),
        (Some(h), _) => Ok(Some(h.client_id.clone())),
        (None, id) => Ok(id.clone()),
    }
}

/// Where the browser goes after logout: `post_logout_redirect_uri` only when a hint or
/// `client_id` identifies the client and the URI is one it registered, compared exactly
/// (§3: "MUST NOT redirect ... unless ... registered"; §2 asks for a hint or client_id
/// with it). `state` is appended (§3).
pub(crate) fn redirect_after(
    request: &EndSessionRequest,
    client: Option<&Client>,
) -> Result<Option<String>, OAuthError> {
    let Some(uri) = &request.post_logout_redirect_uri else {
        return Ok(None);
    };
    let Some(client) = client else {
        return Err(OAuthError::invalid_request(
            "post_logout_redirect_uri needs an id_token_hint or client_id naming its client",
        ));
    };
    if !client.post_logout_redirect_uris().iter().any(|r| r == uri) {
        return Err(OAuthError::new(
            ErrorCode::InvalidRequest,
            "post_logout_redirect_uri is not registered for the client",
        ));
    }
    let mut url = url::Url::parse(uri)
        .map_err(|_| OAuthError::invalid_request("post_logout_redirect_uri is not a URL"))?;
    if let Some(state) = &request.state {
        url.query_pairs_mut().append_pair("state", state);
    }
    Ok(Some(url.to_string()))
}

/// Whether the user must confirm: always, unless the hint proves the request comes from
/// the client of the browser's current session (its `sid`) and the host lets such logouts
/// through (§2: "the OP SHOULD ask the End-User whether to log out"; a valid hint naming
/// the session is the RP's proof).
pub(crate) fn needs_confirmation(
    skip_with_matching_hint: bool,
    hint: Option<&Hint>,
    session_sid: Option<&str>,
) -> bool {
    let proven = match (hint.and_then(|h| h.sid.as_deref()), session_sid) {
        (Some(h), Some(s)) => {
            !s.is_empty() && crate::crypto::constant_time_eq(h.as_bytes(), s.as_bytes())
        }
        _ => false,
    };
    !(skip_with_matching_hint && proven)
}

/// Whether the hint is about the user of the browser's session: its `sub` is the one the
/// hint's client knows that user by (`seen_sub`: pairwise for a pairwise client, OIDC
/// Core §8.1), so a pairwise hint maps back to the local subject. A hint about somebody
/// else proves nothing about this session (RP-Initiated Logout §2: such a request is
/// suspect) and is then treated as no hint for [`needs_confirmation`].
pub(crate) fn names_subject(hint: &Hint, seen_sub: &str) -> bool {
    crate::crypto::constant_time_eq(hint.subject.as_bytes(), seen_sub.as_bytes())
}

/// The front-channel logout URL of a client for session `sid` (Front-Channel Logout §3:
/// `iss` and `sid` as query parameters when the client asked for them).
pub(crate) fn frontchannel_url(client: &Client, issuer: &str, sid: &str) -> Option<String> {
    let uri = client.frontchannel_logout_uri()?;
    let mut url = url::Url::parse(uri).ok()?;
    if client.frontchannel_logout_session_required() {
        url.query_pairs_mut()
            .append_pair("iss", issuer)
            .append_pair("sid", sid);
    }
    Some(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn client() -> Client {
        Client::public("rp")
            .redirect_uri("https://rp.example/cb")
            .post_logout_redirect_uri("https://rp.example/bye?from=idp")
            .frontchannel_logout_uri("https://rp.example/fc?x=1", true)
            .build()
            .expect("client")
    }

    fn request(pairs: &[(&str, &str)]) -> EndSessionRequest {
        parse(&Params::from_pairs(pairs.iter().copied())).expect("parses")
    }

    #[test]
    fn parameters_are_not_repeated_and_echoed_ones_are_bounded_rp_initiated_2() {
        let p = Params::from_pairs([("state", "a"), ("state", "b")]);
        assert!(parse(&p).is_err());
        let long = "x".repeat(MAX_ECHOED + 1);
        let p = Params::from_pairs([("state", long.as_str())]);
        assert!(parse(&p).is_err());
        let r = request(&[("client_id", "rp"), ("ui_locales", "fr en")]);
        assert_eq!(r.client_id.as_deref(), Some("rp"));
        assert_eq!(r.ui_locales.as_deref(), Some("fr en"));
    }

    #[test]
    fn a_hint_names_our_issuer_a_subject_and_one_client_rp_initiated_2() {
        let h = hint(
            &json!({"iss": "https://idp", "sub": "alice", "aud": "rp", "sid": "s1"}),
            "https://idp",
        )
        .expect("hint");
        assert_eq!(
            (h.client_id.as_str(), h.subject.as_str(), h.sid.as_deref()),
            ("rp", "alice", Some("s1"))
        );
        let multi = json!({"iss": "https://idp", "sub": "a", "aud": ["rp", "api"], "azp": "rp"});
        assert_eq!(hint(&multi, "https://idp").expect("azp").client_id, "rp");
        let foreign = json!({"iss": "https://evil", "sub": "a", "aud": "rp"});
        assert!(hint(&foreign, "https://idp").is_err());
        let ambiguous = json!({"iss": "https://idp", "sub": "a", "aud": ["rp", "api"]});
        assert!(hint(&ambiguous, "https://idp").is_err());
        let expired = json!({"iss": "https://idp", "sub": "a", "aud": "rp", "exp": 1});
        assert!(
            hint(&expired, "https://idp").is_ok(),
            "expiry is not checked"
        );
    }

    #[test]
    fn client_id_must_match_the_hint() {
        let h = Hint {
            client_id: "rp".into(),
            subject: "a".into(),
            sid: None,
        };
        let r = request(&[("client_id", "other")]);
        assert!(client_of(&r, Some(&h)).is_err());
        let r = request(&[("client_id", "rp")]);
        assert_eq!(client_of(&r, Some(&h)).expect("same"), Some("rp".into()));
        assert_eq!(client_of(&request(&[]), None).expect("none"), None);
    }

    #[test]
    fn the_post_logout_uri_is_exactly_a_registered_one_of_an_identified_client_rp_initiated_3() {
        let c = client();
        let ok = request(&[
            (
                "post_logout_redirect_uri",
                "https://rp.example/bye?from=idp",
            ),
            ("state", "s t"),
        ]);
        assert_eq!(
            redirect_after(&ok, Some(&c))
                .expect("registered")
                .as_deref(),
            Some("https://rp.example/bye?from=idp&state=s+t")
        );
        for altered in [
            "https://rp.example/bye",
            "https://rp.example/bye?from=idp&x=1",
            "https://rp.example/bye?from=idp#f",
            "https://evil.example/bye?from=idp",
        ] {
            let r = request(&[("post_logout_redirect_uri", altered)]);
            assert!(redirect_after(&r, Some(&c)).is_err(), "{altered}");
        }
        assert!(
            redirect_after(&ok, None).is_err(),
            "without a hint or client_id nothing identifies the client"
        );
        assert_eq!(redirect_after(&request(&[]), Some(&c)).expect("none"), None);
    }

    #[test]
    fn a_hint_names_the_session_user_by_the_sub_its_client_sees_oidc_core_8_1() {
        let h = Hint {
            client_id: "rp".into(),
            subject: "pairwise-sub".into(),
            sid: Some("s1".into()),
        };
        assert!(names_subject(&h, "pairwise-sub"));
        assert!(
            !names_subject(&h, "alice"),
            "the local subject is not the hint's"
        );
        assert!(!names_subject(&h, "other"));
    }

    #[test]
    fn confirmation_is_skipped_only_for_a_hint_naming_the_current_session() {
        let h = Hint {
            client_id: "rp".into(),
            subject: "a".into(),
            sid: Some("s1".into()),
        };
        assert!(
            needs_confirmation(false, Some(&h), Some("s1")),
            "policy: always ask"
        );
        assert!(!needs_confirmation(true, Some(&h), Some("s1")));
        assert!(
            needs_confirmation(true, Some(&h), Some("s2")),
            "another session"
        );
        assert!(needs_confirmation(true, None, Some("s1")), "no hint");
        assert!(needs_confirmation(true, Some(&h), None), "no session");
    }

    #[test]
    fn frontchannel_urls_carry_iss_and_sid_when_asked_frontchannel_3() {
        let u = frontchannel_url(&client(), "https://idp", "s1").expect("uri");
        assert_eq!(u, "https://rp.example/fc?x=1&iss=https%3A%2F%2Fidp&sid=s1");
        let plain = Client::public("p")
            .redirect_uri("https://p.example/cb")
            .frontchannel_logout_uri("https://p.example/fc", false)
            .build()
            .expect("client");
        assert_eq!(
            frontchannel_url(&plain, "https://idp", "s1").as_deref(),
            Some("https://p.example/fc")
        );
    }
}
