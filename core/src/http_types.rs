//! Request and response values: what endpoints take and return. Any web framework maps its
//! request into a [`Request`] and a [`Response`] back with a few lines of glue.

use std::borrow::Cow;
use std::sync::Arc;

use crate::error::OAuthError;

/// The HTTP method, as far as endpoints care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Method {
    /// GET (or HEAD).
    Get,
    /// POST.
    Post,
    /// PUT (client configuration updates, RFC 7592 §2.2).
    Put,
    /// DELETE (client configuration deletes, RFC 7592 §2.3).
    Delete,
    /// OPTIONS (CORS preflight).
    Options,
    /// Anything else.
    Other,
}

impl Method {
    /// From a method name.
    pub fn from_name(name: &str) -> Self {
        match name {
            "GET" | "HEAD" => Self::Get,
            "POST" => Self::Post,
            "PUT" => Self::Put,
            "DELETE" => Self::Delete,
            "OPTIONS" => Self::Options,
            _ => Self::Other,
        }
    }
}

/// Request parameters (query or form body), in order, duplicates kept so that they can be
/// refused (RFC 6749 §3.1: parameters must not be included more than once).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parses `application/x-www-form-urlencoded` text, leniently: bytes that are not
    /// UTF-8 become U+FFFD. For reading what idpkit itself wrote (redirects in tests);
    /// requests go through [`Params::parse_exact`].
    pub fn parse(input: &[u8]) -> Self {
        Self {
            pairs: form_urlencoded::parse(input).into_owned().collect(),
        }
    }

    /// Parses `application/x-www-form-urlencoded` text exactly: a name or value whose
    /// percent-decoded bytes are not UTF-8 (`state=%FF%FE`) is `invalid_request`, never
    /// altered, so that whatever idpkit echoes (`state`) is exactly what was sent.
    pub fn parse_exact(input: &[u8]) -> Result<Self, OAuthError> {
        let mut pairs = Vec::new();
        for part in input.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let (name, value) = match part.iter().position(|b| *b == b'=') {
                Some(i) => (&part[..i], &part[i + 1..]),
                None => (part, &b""[..]),
            };
            let name = form_decode(name)
                .ok_or_else(|| OAuthError::invalid_request("a parameter name is not UTF-8"))?;
            let value = form_decode(value).ok_or_else(|| {
                OAuthError::invalid_request(format!(
                    "parameter {} is not UTF-8 once percent-decoded",
                    name.chars().take(40).collect::<String>()
                ))
            })?;
            pairs.push((name, value));
        }
        Ok(Self { pairs })
    }

    /// From explicit pairs.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            pairs: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// Parses a JSON object whose values are strings (or numbers / booleans).
    pub fn from_json(input: &[u8]) -> Result<Self, OAuthError> {
        let value: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(input)
            .map_err(|_| {
                OAuthError::invalid_request("the JSON body must be an object of string values")
            })?;
        let mut pairs = Vec::with_capacity(value.len());
        for (k, v) in value {
            let v = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => {
                    return Err(OAuthError::invalid_request(format!(
                        "parameter {k} must be a string"
                    )));
                }
            };
            pairs.push((k, v));
        }
        Ok(Self { pairs })
    }

    /// Appends the pairs of `other` (query parameters after body parameters, say).
    pub fn extend(&mut self, other: Params) {
        self.pairs.extend(other.pairs);
    }

    /// The single value of `name`; an empty value counts as absent (RFC 6749 §3.1), a repeated
    /// parameter is `invalid_request`.
    pub fn get(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        let mut found = None;
        for (k, v) in &self.pairs {
            if k == name {
                if found.is_some() {
                    return Err(OAuthError::invalid_request(format!(
                        "parameter {name} is included more than once"
                    )));
                }
                found = Some(v.as_str());
            }
        }
        Ok(found.filter(|v| !v.is_empty()))
    }

    /// Like [`get`](Self::get) but the parameter is required.
    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)?
            .ok_or_else(|| OAuthError::invalid_request(format!("missing parameter {name}")))
    }

    /// Every non-empty value of `name`, in order: for the parameters a spec lets repeat
    /// (`resource`, RFC 8707 §2; `audience`, RFC 8693 §2.1).
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// The first repeated parameter name, if any.
    pub fn first_duplicate(&self) -> Option<&str> {
        let mut seen = std::collections::HashSet::with_capacity(self.pairs.len());
        self.pairs
            .iter()
            .map(|(k, _)| k.as_str())
            .find(|k| !seen.insert(*k))
    }

    /// Whether there is no parameter.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// All pairs.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }
}

/// The back-channel parameters a spec lets repeat: `resource` (RFC 8707 §2, RFC 8693
/// §2.1) and `audience` (RFC 8693 §2.1). Read them with [`Params::all`].
pub(crate) const REPEATABLE: [&str; 2] = ["resource", "audience"];

/// More parameters than any endpoint takes: refused before any work.
const MAX_PARAMS: usize = 100;

/// One form-urlencoded component, decoded (`+` is a space, `%XX` a byte, a `%` not
/// followed by two hex digits stays itself, as the WHATWG form parser does); `None` when
/// the bytes are not UTF-8.
fn form_decode(raw: &[u8]) -> Option<String> {
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                raw.get(i + 1).and_then(|b| hex(*b)),
                raw.get(i + 2).and_then(|b| hex(*b)),
            ) {
                (Some(h), Some(l)) => {
                    // Two hex digits: at most 0xFF, so the cast is exact.
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// A parsed HTTP request, as endpoints see it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The parameters: the query string of a GET, the form/JSON body of a POST.
    pub params: Params,
    /// The query string's parameters of a POST (back-channel endpoints refuse them: RFC 6749
    /// §2.3.1 keeps credentials out of URLs).
    pub query: Params,
    /// The `Authorization` header.
    pub authorization: Option<String>,
    /// Cookies (name, value).
    pub cookies: Vec<(String, String)>,
    /// The `Origin` header (for CORS).
    pub origin: Option<String>,
    /// Where the request came from, as far as the glue knows (the peer address, or the
    /// client address a trusted proxy reported): the source key of [`crate::RateLimits`].
    /// Without it, every request counts as one source.
    pub source: Option<std::net::IpAddr>,
    /// The `DPoP` header: a proof of possession (RFC 9449 §4.1).
    pub dpop: Option<String>,
    /// A JSON body, for the endpoints that take one (client registration, RFC 7591 §3.1):
    /// set by [`Request::from_http_json`]. `None` otherwise.
    pub json: Option<Vec<u8>>,
}

impl Request {
    /// An empty request of the given method.
    pub fn new(method: Method) -> Self {
        Self {
            method,
            params: Params::default(),
            query: Params::default(),
            authorization: None,
            cookies: Vec::new(),
            origin: None,
            source: None,
            dpop: None,
            json: None,
        }
    }

    /// The same request, known to come from `source` (see [`Request::source`]).
    pub fn with_source(mut self, source: Option<std::net::IpAddr>) -> Self {
        self.source = source;
        self
    }

    /// Builds a request from raw parts: the method name, the raw query string, header pairs
    /// and the body. A POST body must be `application/x-www-form-urlencoded` (RFC 6749
    /// §3.2, RFC 7009 §2.1, RFC 7662 §2.1; JSON or anything else is `invalid_request`); a
    /// body over `max_body` bytes is refused with 413. Parameters are decoded exactly
    /// ([`Params::parse_exact`]). Refused as `invalid_request` rather than resolved: two
    /// `Authorization` headers, an `Authorization` header that is not printable ASCII (glue
    /// passes a header value it cannot read as text as `"\u{FFFD}"`, never drops it), and a
    /// cookie idpkit reads ([`crate::SESSION_COOKIE`], ...) sent more than once.
    pub fn from_http<'a>(
        method: &str,
        query: Option<&str>,
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
        body: &[u8],
        max_body: usize,
    ) -> Result<Self, OAuthError> {
        Self::from_http_as(method, query, headers, body, max_body, false)
    }

    /// [`Request::from_http`] for the endpoints whose body is JSON
    /// ([`Route::takes_json`](crate::Route::takes_json): client registration, RFC 7591
    /// §3.1): a POST or PUT body is kept in [`Request::json`] and must be sent as
    /// `application/json` (anything else is `invalid_client_metadata`, 400).
    pub fn from_http_json<'a>(
        method: &str,
        query: Option<&str>,
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
        body: &[u8],
        max_body: usize,
    ) -> Result<Self, OAuthError> {
        Self::from_http_as(method, query, headers, body, max_body, true)
    }

    fn from_http_as<'a>(
        method: &str,
        query: Option<&str>,
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
        body: &[u8],
        max_body: usize,
        json: bool,
    ) -> Result<Self, OAuthError> {
        if body.len() > max_body {
            let mut e = OAuthError::invalid_request("request body too large");
            e.status = Some(413);
            return Err(e);
        }
        let mut req = Self::new(Method::from_name(method));
        let mut content_type = None;
        for (name, value) in headers {
            if name.eq_ignore_ascii_case("authorization") {
                if req.authorization.is_some() {
                    return Err(OAuthError::invalid_request(
                        "more than one Authorization header",
                    ));
                }
                if !value
                    .bytes()
                    .all(|b| b == b' ' || b == b'\t' || b.is_ascii_graphic())
                {
                    return Err(OAuthError::invalid_request(
                        "the Authorization header must be printable ASCII",
                    ));
                }
                req.authorization = Some(value.to_owned());
            } else if name.eq_ignore_ascii_case("dpop") {
                // RFC 9449 §4.3 step 1: not more than one DPoP header.
                if req.dpop.is_some() {
                    return Err(crate::error::OAuthError::new(
                        crate::error::ErrorCode::InvalidDpopProof,
                        "more than one DPoP header",
                    ));
                }
                req.dpop = Some(value.to_owned());
            } else if name.eq_ignore_ascii_case("cookie") {
                req.cookies.extend(parse_cookies(value));
            } else if name.eq_ignore_ascii_case("origin") {
                req.origin = Some(value.to_owned());
            } else if name.eq_ignore_ascii_case("content-type") {
                content_type = Some(value.to_ascii_lowercase());
            }
        }
        // The cookies idpkit reads, under both spellings (the `__Host-` name of an https
        // issuer and the plain one): a repeated one is refused, never resolved to either.
        let own_cookies = crate::config::Cookie::ALL
            .into_iter()
            .flat_map(|c| [c.base_name(), c.host_name()]);
        for own in own_cookies {
            if req.cookies.iter().filter(|(n, _)| n == own).count() > 1 {
                return Err(OAuthError::invalid_request(format!(
                    "cookie {own} is sent more than once"
                )));
            }
        }
        let query = Params::parse_exact(query.unwrap_or_default().as_bytes())?;
        if req.method == Method::Post {
            req.query = query;
        } else {
            req.params = query;
        }
        if json && matches!(req.method, Method::Post | Method::Put) {
            let ct = content_type.as_deref().unwrap_or("");
            let is_json = ct
                .split(';')
                .next()
                .is_some_and(|t| t.trim() == "application/json");
            if !is_json {
                return Err(OAuthError::new(
                    crate::error::ErrorCode::InvalidClientMetadata,
                    "the body must be application/json (RFC 7591 §3.1)",
                ));
            }
            req.json = Some(body.to_vec());
        } else if req.method == Method::Post && !body.is_empty() {
            let ct = content_type.as_deref().unwrap_or("");
            let body_params = if ct.starts_with("application/x-www-form-urlencoded") {
                Params::parse_exact(body)?
            } else {
                return Err(OAuthError::invalid_request(
                    "the body must be application/x-www-form-urlencoded (RFC 6749 §3.2)",
                ));
            };
            req.params = body_params;
        }
        if req.params.pairs.len() + req.query.pairs.len() > MAX_PARAMS {
            return Err(OAuthError::invalid_request("too many parameters"));
        }
        Ok(req)
    }

    /// The checks every back-channel endpoint (token, revocation, introspection) makes first:
    /// parameters come from the body only, since credentials, codes and tokens must not
    /// travel in URLs where logs keep them (RFC 6749 §2.3.1, §3.2), and none is repeated
    /// (§3.1) except those a spec lets repeat: `resource` and `audience` (read them with
    /// [`Params::all`]).
    pub fn check_back_channel(&self) -> Result<(), OAuthError> {
        if !self.query.is_empty() {
            return Err(OAuthError::invalid_request(
                "parameters must be sent in the form-encoded body, not in the URL",
            ));
        }
        let mut seen = std::collections::HashSet::with_capacity(self.params.pairs.len());
        let dup = self
            .params
            .pairs
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| !REPEATABLE.contains(k))
            .find(|k| !seen.insert(*k));
        match dup {
            Some(dup) => Err(OAuthError::invalid_request(format!(
                "parameter {dup} is included more than once"
            ))),
            None => Ok(()),
        }
    }

    /// The same request with a `DPoP` proof header (RFC 9449 §4.1).
    pub fn with_dpop(mut self, proof: impl Into<String>) -> Self {
        self.dpop = Some(proof.into());
        self
    }

    /// The value of cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses a `Cookie` header.
pub fn parse_cookies(header: &str) -> impl Iterator<Item = (String, String)> + '_ {
    header.split(';').filter_map(|part| {
        let (k, v) = part.trim().split_once('=')?;
        Some((k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
    })
}

/// A response body. Deliberately exhaustive: glue code must send every kind, so a new
/// one is a compile error in the glue rather than a silently empty answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// No body.
    Empty,
    /// `application/json`.
    Json(Arc<[u8]>),
    /// `text/html; charset=utf-8`.
    Html(String),
    /// `application/jwt`: a compact JWS (signed userinfo, OIDC Core §5.3.2).
    Jwt(String),
}

/// An HTTP response value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers (besides `Content-Type`, which follows from the body).
    pub headers: Vec<(Cow<'static, str>, String)>,
    /// Body.
    pub body: Body,
}

impl Response {
    /// A JSON response.
    pub fn json(status: u16, body: impl Into<Arc<[u8]>>) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Body::Json(body.into()),
        }
    }

    /// A JSON response with `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1).
    pub fn json_no_store(status: u16, body: impl Into<Arc<[u8]>>) -> Self {
        Self::json(status, body).no_store()
    }

    /// Adds the no-store headers.
    pub fn no_store(self) -> Self {
        self.header("Cache-Control", "no-store")
            .header("Pragma", "no-cache")
    }

    /// A 303 redirect.
    pub fn redirect(location: String) -> Self {
        Self {
            status: 303,
            headers: vec![(Cow::Borrowed("Location"), location)],
            body: Body::Empty,
        }
    }

    /// An HTML page.
    pub fn html(status: u16, html: String) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Body::Html(html),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<Cow<'static, str>>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The JSON error response for `err` (no-store).
    pub fn from_error(err: &OAuthError) -> Self {
        let mut r = Self::json_no_store(err.status(), err.to_json());
        if let Some(secs) = err.retry_after {
            r = r.header("Retry-After", secs.to_string());
        }
        if err.code == crate::error::ErrorCode::InvalidClient {
            r = r.header(
                "WWW-Authenticate",
                "Basic realm=\"idpkit\", charset=\"UTF-8\"",
            );
        }
        r
    }

    /// The body as bytes (JSON, HTML or a JWT).
    pub fn body_bytes(&self) -> &[u8] {
        match &self.body {
            Body::Empty => &[],
            Body::Json(b) => b,
            Body::Html(s) | Body::Jwt(s) => s.as_bytes(),
        }
    }

    /// The body parsed as JSON (`Null` when it is not JSON): for tests and tools.
    pub fn json_value(&self) -> serde_json::Value {
        match &self.body {
            Body::Json(b) => serde_json::from_slice(b).unwrap_or(serde_json::Value::Null),
            _ => serde_json::Value::Null,
        }
    }
}

#[cfg(test)]
mod tests;
