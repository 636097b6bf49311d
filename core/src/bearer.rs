//! The `WWW-Authenticate: Bearer` challenge of RFC 6750 §3: one builder, with one quoting
//! rule, for every place idpkit answers a refused bearer token (the validator, the UserInfo
//! endpoint, the axum `BearerAuth` layer).
//!
//! Quoting: attribute values are HTTP quoted-strings (RFC 9110 §5.6.4), and RFC 6750 §3
//! limits `error`, `error_description` and `scope` to `%x20-21 / %x23-5B / %x5D-7E`: no
//! `"`, no `\` — not even escaped — and no control or non-ASCII characters. So idpkit
//! *replaces* every character outside that set with `'` (in the realm too, for one rule
//! everywhere); a value can then never end the quoted-string early or split the header.

use std::borrow::Cow;

/// The character every disallowed character becomes.
pub const REPLACEMENT: char = '\'';

/// `s` with every character outside `%x20-21 / %x23-5B / %x5D-7E` replaced by
/// [`REPLACEMENT`] (RFC 6750 §3).
pub fn quote(s: &str) -> Cow<'_, str> {
    let allowed = |c: char| matches!(c, '\x20'..='\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E');
    if s.chars().all(allowed) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(
            s.chars()
                .map(|c| if allowed(c) { c } else { REPLACEMENT })
                .collect(),
        )
    }
}

/// The challenge: `Bearer realm="…"`, then `error="…"` and `error_description="…"` when
/// `error` is given (RFC 6750 §3; §3.1: no error code when the request had no credentials),
/// then `scope="…"` when given (for `insufficient_scope`).
pub fn challenge(realm: &str, error: Option<(&str, Option<&str>)>, scope: Option<&str>) -> String {
    let mut v = format!("Bearer realm=\"{}\"", quote(realm));
    if let Some((code, description)) = error {
        v.push_str(&format!(", error=\"{}\"", quote(code)));
        if let Some(d) = description {
            v.push_str(&format!(", error_description=\"{}\"", quote(d)));
        }
    }
    if let Some(scope) = scope {
        v.push_str(&format!(", scope=\"{}\"", quote(scope)));
    }
    v
}

/// The `WWW-Authenticate: DPoP` challenge of RFC 9449 §7.1: `DPoP realm="…"`, `algs="…"`
/// (the accepted proof algorithms, space-separated), then `error` and `error_description`
/// when given; quoted like [`challenge`].
pub fn dpop_challenge(realm: &str, algs: &str, error: Option<(&str, Option<&str>)>) -> String {
    let mut v = format!("DPoP realm=\"{}\", algs=\"{}\"", quote(realm), quote(algs));
    if let Some((code, description)) = error {
        v.push_str(&format!(", error=\"{}\"", quote(code)));
        if let Some(d) = description {
            v.push_str(&format!(", error_description=\"{}\"", quote(d)));
        }
    }
    v
}

/// How an access token was presented in an `Authorization` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scheme {
    /// `Bearer` (RFC 6750 §2.1).
    Bearer,
    /// `DPoP` (RFC 9449 §7.1): with a `DPoP` proof header.
    DPoP,
}

/// The scheme and token of an `Authorization` header (`Bearer` or `DPoP`, any case);
/// `None` for another scheme or an empty token.
pub fn authorization_token(header: &str) -> Option<(Scheme, &str)> {
    let (scheme, token) = header.split_once(' ')?;
    let token = token.trim();
    if token.is_empty() {
        return None;
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        Some((Scheme::Bearer, token))
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Some((Scheme::DPoP, token))
    } else {
        None
    }
}

/// Like [`presented`], also taking `Authorization: DPoP` (RFC 9449 §7.1; a DPoP token is
/// only ever sent in the header).
pub(crate) fn presented_with_scheme<'a>(
    header: Option<&'a str>,
    body: Option<&'a str>,
    query: Option<&'a str>,
) -> Result<(Scheme, &'a str), crate::error::OAuthError> {
    if let Some((Scheme::DPoP, token)) = header.and_then(authorization_token) {
        if body.is_some() || query.is_some() {
            return Err(crate::error::OAuthError::invalid_request(
                "more than one method of sending the access token",
            ));
        }
        return Ok((Scheme::DPoP, token));
    }
    presented(header, body, query).map(|t| (Scheme::Bearer, t))
}

/// The access token of a request to a protected resource (RFC 6750 §2): the
/// `Authorization: Bearer` header (§2.1), the form body's `access_token` (§2.2, POST), or
/// the URL's `access_token` (§2.3, which idpkit does not take: URLs end up in logs).
/// "Clients MUST NOT use more than one method to transmit the token in each request"
/// (§2): a second method, in whatever combination, is `invalid_request`, as is a token in
/// the URL alone or a header of another scheme.
pub(crate) fn presented<'a>(
    header: Option<&'a str>,
    body: Option<&'a str>,
    query: Option<&'a str>,
) -> Result<&'a str, crate::error::OAuthError> {
    use crate::error::OAuthError;
    let header = match header {
        Some(h) => match h.split_once(' ') {
            Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() => {
                Some(t.trim())
            }
            _ => return Err(OAuthError::invalid_request("use the Bearer scheme")),
        },
        None => None,
    };
    let sent = [header, body, query];
    if sent.iter().flatten().count() > 1 {
        return Err(OAuthError::invalid_request(
            "more than one method of sending the access token",
        ));
    }
    match sent {
        [Some(t), _, _] | [_, Some(t), _] => Ok(t),
        [_, _, Some(_)] => Err(OAuthError::invalid_request(
            "send the access token in the Authorization header, not in the URL",
        )),
        _ => Err(OAuthError::invalid_request("missing access token")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_method_of_sending_the_token_rfc6750_2() {
        assert_eq!(
            presented(Some("Bearer t"), None, None).expect("header"),
            "t"
        );
        assert_eq!(
            presented(Some("bearer  t "), None, None).expect("case"),
            "t"
        );
        assert_eq!(presented(None, Some("t"), None).expect("body"), "t");
        for (h, b, q) in [
            (Some("Bearer t"), Some("t"), None),
            (Some("Bearer t"), None, Some("t")),
            (None, Some("t"), Some("t")),
        ] {
            let e = presented(h, b, q).expect_err("two methods");
            assert_eq!(e.code.as_str(), "invalid_request");
            assert!(e.description.contains("more than one"), "{}", e.description);
        }
        let e = presented(None, None, Some("t")).expect_err("URL only");
        assert!(e.description.contains("URL"), "{}", e.description);
        assert!(presented(Some("Basic abc"), None, None).is_err());
        assert!(presented(None, None, None).is_err());
    }

    #[test]
    fn the_dpop_challenge_names_algs_and_the_error_rfc9449_7_1() {
        assert_eq!(
            dpop_challenge(
                "api",
                "ES256 EdDSA",
                Some(("invalid_dpop_proof", Some("bad \"htu\"")))
            ),
            r#"DPoP realm="api", algs="ES256 EdDSA", error="invalid_dpop_proof", error_description="bad 'htu'""#
        );
        assert_eq!(authorization_token("dpop abc"), Some((Scheme::DPoP, "abc")));
        assert_eq!(authorization_token("Basic abc"), None);
        assert!(presented_with_scheme(Some("DPoP t"), Some("t"), None).is_err());
    }

    #[test]
    fn no_credentials_gives_a_challenge_without_error_rfc6750_3_1() {
        assert_eq!(challenge("api", None, None), r#"Bearer realm="api""#);
    }

    #[test]
    fn error_description_and_scope_follow_the_error_rfc6750_3() {
        assert_eq!(
            challenge(
                "api",
                Some(("insufficient_scope", Some("needs write"))),
                Some("read write")
            ),
            r#"Bearer realm="api", error="insufficient_scope", error_description="needs write", scope="read write""#
        );
        assert_eq!(
            challenge("api", Some(("invalid_token", None)), None),
            r#"Bearer realm="api", error="invalid_token""#
        );
    }

    #[test]
    fn quotes_backslashes_controls_and_non_ascii_are_replaced_rfc6750_3() {
        assert_eq!(quote(r#"say "hi" \o/"#), "say 'hi' 'o/");
        assert_eq!(quote("line\r\nSet-Cookie: x"), "line''Set-Cookie: x");
        assert_eq!(quote("caf\u{e9}\t"), "caf''");
        assert!(matches!(quote("plain text!"), Cow::Borrowed(_)));
        let c = challenge("a\"b", Some(("invalid_token", Some("x\"y\\z"))), None);
        assert_eq!(
            c,
            r#"Bearer realm="a'b", error="invalid_token", error_description="x'y'z""#
        );
        // Every value stays inside its quotes: exactly two quotes per attribute.
        assert_eq!(c.matches('"').count(), 6);
    }
}
