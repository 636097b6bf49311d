//! The authorization response (RFC 6749 §4.1.2) and its errors (§4.1.2.1), in the response
//! mode asked for (`query`, `fragment`, `form_post`), always with `state` when sent and the
//! RFC 9207 `iss`; and the error page shown when the client cannot be trusted.

use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, OAuthError};
use crate::http_types::Response;

/// How the authorization response travels back (OAuth 2.0 Multiple Response Type Encoding
/// Practices §2.1, OAuth 2.0 Form Post Response Mode).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ResponseMode {
    Query,
    Fragment,
    FormPost,
}

impl ResponseMode {
    /// `response_mode` as sent (`None`: the default for `code`, `query`).
    pub(crate) fn from_param(v: Option<&str>) -> Option<Self> {
        match v {
            None | Some("query") => Some(Self::Query),
            Some("fragment") => Some(Self::Fragment),
            Some("form_post") => Some(Self::FormPost),
            Some(_) => None,
        }
    }
}

/// Where an authorization response goes: the trusted redirect URI, the response mode and
/// the request's `state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub redirect_uri: String,
    pub mode: ResponseMode,
    pub state: Option<String>,
}

/// The successful response: `code` (RFC 6749 §4.1.2).
pub(crate) fn code(to: &Target, issuer: &str, code: &str) -> Response {
    respond(to, issuer, &[("code", code)])
}

/// An error response to the client (RFC 6749 §4.1.2.1).
pub(crate) fn error(to: &Target, issuer: &str, err: &OAuthError) -> Response {
    if err.code == ErrorCode::ServerError || err.code == ErrorCode::TemporarilyUnavailable {
        tracing::warn!(error = %crate::logging::untrusted(&err), "idpkit: authorization failed");
    }
    respond(
        to,
        issuer,
        &[
            ("error", err.code.as_str()),
            ("error_description", &err.description),
        ],
    )
}

/// The response parameters plus `state` and `iss` (RFC 9207 §2), encoded in the mode.
fn respond(to: &Target, issuer: &str, params: &[(&str, &str)]) -> Response {
    let mut all: Vec<(&str, &str)> = params.to_vec();
    if let Some(s) = &to.state {
        all.push(("state", s));
    }
    all.push(("iss", issuer));
    match to.mode {
        ResponseMode::Query | ResponseMode::Fragment => {
            let encoded = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(all)
                .finish();
            let location = if to.mode == ResponseMode::Fragment {
                format!("{}#{}", to.redirect_uri, encoded)
            } else if to.redirect_uri.contains('?') {
                format!("{}&{}", to.redirect_uri, encoded)
            } else {
                format!("{}?{}", to.redirect_uri, encoded)
            };
            Response::redirect(location).no_store()
        }
        ResponseMode::FormPost => form_post(&to.redirect_uri, &all),
    }
}

/// OAuth 2.0 Form Post Response Mode §2: an auto-submitting form, framed by nobody, posting
/// only to the redirect URI's origin.
fn form_post(redirect_uri: &str, all: &[(&str, &str)]) -> Response {
    let inputs: String = all
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                html_escape(k),
                html_escape(v)
            )
        })
        .collect();
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Submit</title></head>\
         <body onload=\"document.forms[0].submit()\"><form method=\"post\" action=\"{}\">{}\
         <noscript><button type=\"submit\">Continue</button></noscript></form></body></html>",
        html_escape(redirect_uri),
        inputs
    );
    let origin = url::Url::parse(redirect_uri)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| "'none'".to_owned());
    Response::html(200, html)
        .no_store()
        .header("X-Frame-Options", "DENY")
        .header(
            "Content-Security-Policy",
            format!(
                "default-src 'none'; script-src-attr 'unsafe-inline'; form-action {origin}; frame-ancestors 'none'"
            ),
        )
}

/// The error page for the user, when the client or redirect URI cannot be trusted
/// (RFC 6749 §4.1.2.1: "MUST NOT automatically redirect the user-agent").
pub(crate) fn error_page(err: &OAuthError) -> Response {
    tracing::info!(error = %crate::logging::untrusted(&err), "idpkit: authorization request refused without redirect");
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Authorization error</title></head>\
         <body><h1>The application sent an invalid request</h1><p><code>{}</code>: {}</p></body></html>",
        err.code,
        html_escape(&err.description)
    );
    let mut page = Response::html(err.status(), html);
    if let Some(secs) = err.retry_after {
        page = page.header("Retry-After", secs.to_string());
    }
    page.no_store().header("X-Frame-Options", "DENY").header(
        "Content-Security-Policy",
        "default-src 'none'; frame-ancestors 'none'",
    )
}

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http_types::Body;

    const ISS: &str = "https://login.example";

    fn target(uri: &str, mode: ResponseMode, state: Option<&str>) -> Target {
        Target {
            redirect_uri: uri.into(),
            mode,
            state: state.map(str::to_owned),
        }
    }

    fn location(r: &Response) -> &str {
        r.header_value("Location").expect("a redirect")
    }

    fn html(r: &Response) -> &str {
        match &r.body {
            Body::Html(h) => h,
            other => panic!("not html: {other:?}"),
        }
    }

    #[test]
    fn code_in_the_query_with_state_and_iss_rfc9207_2() {
        let r = code(
            &target("https://a.example/cb", ResponseMode::Query, Some("s 1")),
            ISS,
            "abc",
        );
        assert_eq!(r.status, 303, "RFC 9700 §4.11: 303 after a POST");
        assert_eq!(
            location(&r),
            "https://a.example/cb?code=abc&state=s+1&iss=https%3A%2F%2Flogin.example"
        );
        assert_eq!(r.header_value("Cache-Control"), Some("no-store"));
    }

    #[test]
    fn a_redirect_uri_with_a_query_keeps_it_rfc6749_3_1_2() {
        let r = code(
            &target("https://a.example/cb?tenant=7", ResponseMode::Query, None),
            ISS,
            "c",
        );
        assert!(location(&r).starts_with("https://a.example/cb?tenant=7&code=c&iss="));
    }

    #[test]
    fn fragment_mode_puts_the_answer_after_the_hash() {
        let r = code(
            &target("https://a.example/cb", ResponseMode::Fragment, None),
            ISS,
            "c",
        );
        assert!(location(&r).starts_with("https://a.example/cb#code=c&iss="));
    }

    #[test]
    fn errors_carry_code_description_state_and_iss_rfc6749_4_1_2_1() {
        let e = OAuthError::new(ErrorCode::AccessDenied, "the user denied the request");
        let r = error(
            &target("https://a.example/cb", ResponseMode::Query, Some("xyz")),
            ISS,
            &e,
        );
        let loc = location(&r);
        let q: Vec<(String, String)> = url::Url::parse(loc)
            .expect("url")
            .query_pairs()
            .into_owned()
            .collect();
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("error"), Some("access_denied"));
        assert_eq!(
            get("error_description"),
            Some("the user denied the request")
        );
        assert_eq!(get("state"), Some("xyz"));
        assert_eq!(get("iss"), Some(ISS));
    }

    #[test]
    fn form_post_escapes_values_and_locks_the_form_to_the_client_origin() {
        let r = code(
            &target(
                "https://a.example/cb",
                ResponseMode::FormPost,
                Some("\"><script>"),
            ),
            ISS,
            "c",
        );
        assert_eq!(r.status, 200);
        let body = html(&r);
        assert!(body.contains("action=\"https://a.example/cb\""));
        assert!(body.contains("value=\"&quot;&gt;&lt;script&gt;\""));
        assert!(!body.contains("<script>"));
        let csp = r.header_value("Content-Security-Policy").expect("csp");
        assert!(csp.contains("form-action https://a.example"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert_eq!(r.header_value("X-Frame-Options"), Some("DENY"));
    }

    #[test]
    fn the_error_page_escapes_and_is_not_a_redirect() {
        let r = error_page(&OAuthError::invalid_request("bad <b>uri</b>"));
        assert_eq!(r.status, 400);
        assert!(r.header_value("Location").is_none());
        assert!(html(&r).contains("bad &lt;b&gt;uri&lt;/b&gt;"));
        assert_eq!(r.header_value("X-Frame-Options"), Some("DENY"));
    }

    #[test]
    fn html_escape_covers_the_five_specials() {
        assert_eq!(html_escape("&<>\"'x"), "&amp;&lt;&gt;&quot;&#39;x");
    }
}
