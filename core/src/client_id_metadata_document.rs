//! Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document-02, "CIMD"):
//! a client names itself by an https URL, and the provider fetches that URL for the
//! client's metadata instead of looking it up in a registry. Off by default
//! ([`ProviderBuilder::client_id_metadata_documents`](crate::ProviderBuilder::client_id_metadata_documents));
//! when on, discovery says `client_id_metadata_document_supported: true` (§6).
//!
//! - [`check_client_id_url`] is §3: https, a path, no userinfo, no dot segments, no
//!   fragment (a query is allowed: SHOULD NOT only).
//! - [`client_from_document`] is §4 and §4.1: the document is parsed with the same client
//!   metadata model and rules as dynamic registration
//!   ([`ClientMetadata`]), its `client_id` must equal the URL exactly, and no shared
//!   secret is possible: the client is public (`token_endpoint_auth_method` `none`, the
//!   default here) or authenticates with `private_key_jwt` and public keys (`jwks` or
//!   `jwks_uri`). Redirect URIs are checked as registration checks them (§4.2).
//! - [`cache_lifetime`] is §5.2: the HTTP caching headers (`Cache-Control` `no-store`,
//!   `no-cache`, `s-maxage`, `max-age`; `Expires`) decide, within
//!   [`MIN_CACHE_LIFETIME`] and [`MAX_CACHE_LIFETIME`]; without any, [`DEFAULT_CACHE_LIFETIME`].
//!   Errors and invalid documents are never cached (§5.2), but a URL whose fetch failed is
//!   not fetched again for [`REFETCH_INTERVAL`] (the client is refused meanwhile), so an
//!   unauthenticated request cannot make the provider fetch in a loop.
//! - Fetching (§5) goes through the provider's [`HttpClient`] with the SSRF defences of
//!   [`crate::ssrf`] (§8.6): https only, no special-use addresses, no redirects (a 3xx is
//!   a failure), and at most [`MAX_DOCUMENT_BYTES`] read (§8.7). A failure (§5.1) aborts
//!   the request: the authorization endpoint shows its error page (the redirect URI is
//!   unverified) and the token endpoint answers `invalid_client`, both naming the reason.
//! - Such a client is never first-party, and its users are asked to consent on every
//!   authorization, with the URL's host shown
//!   ([`InteractionDetails::client_id_metadata_document_host`](crate::InteractionDetails::client_id_metadata_document_host), §8.5).
//!
//! The cache is process memory of public, refetchable data (not state): each instance
//! fetches on its own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

use crate::client::{Client, ClientStore, TokenEndpointAuthMethod};
use crate::client_metadata::ClientMetadata;
use crate::http::{HttpClient, HttpRequest};
use crate::store::StoreError;

/// The largest document read (§8.7: "The recommended maximum size to read is 5
/// kilobytes"); a larger one is a failure.
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024;

/// The longest client ID URL considered (it is shown to users and used as a cache key).
pub const MAX_URL_BYTES: usize = 1024;

/// The shortest time a fetched document is kept when its caching headers allow caching
/// at all (§5.2: the server "MAY define its own upper and/or lower bounds"): 60 s.
pub const MIN_CACHE_LIFETIME: Duration = Duration::seconds(60);

/// The longest time a fetched document is kept, whatever its headers say: 24 hours
/// (§5: "SHOULD periodically re-fetch").
pub const MAX_CACHE_LIFETIME: Duration = Duration::hours(24);

/// How long a document served without caching headers is kept: 5 minutes.
pub const DEFAULT_CACHE_LIFETIME: Duration = Duration::minutes(5);

/// How long a URL whose fetch or validation failed is not fetched again (its client is
/// refused meanwhile, with the same reason). The failed answer itself is not kept.
pub const REFETCH_INTERVAL: Duration = Duration::seconds(10);

/// Entries (documents and failures) kept at most; past it the oldest are dropped.
pub const MAX_ENTRIES: usize = 1024;

/// Client ID metadata document settings
/// ([`ProviderBuilder::client_id_metadata_documents`](crate::ProviderBuilder::client_id_metadata_documents)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientIdMetadataDocumentSettings {
    /// Whether https URLs are accepted as `client_id` (default `false`).
    pub enabled: bool,
    /// The largest document read (default [`MAX_DOCUMENT_BYTES`]).
    pub max_bytes: usize,
}

impl Default for ClientIdMetadataDocumentSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            max_bytes: MAX_DOCUMENT_BYTES,
        }
    }
}

/// Why a client ID metadata document client is refused. The `Display` is the reason
/// given in logs and `error_description`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DocumentError {
    /// The URL breaks §3.
    #[error("the client_id URL {url:?} is not a client identifier URL: {reason} (CIMD §3)")]
    InvalidUrl {
        /// The URL.
        url: String,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// The URL may not be fetched ([`crate::ssrf`]).
    #[error("the metadata document is not fetched: {0} (CIMD §8.6)")]
    Refused(crate::ssrf::FetchRefusal),
    /// The fetch failed (unreachable, timeout, too large for the transport, a redirect,
    /// a resolved special-use address).
    #[error("fetching the metadata document failed: {0}")]
    Fetch(String),
    /// Not 200 (§5: "MUST treat all other HTTP status codes as an error").
    #[error("the metadata document URL answered {status}, not 200 (CIMD §5)")]
    Status {
        /// The status.
        status: u16,
    },
    /// Larger than the cap (§8.7).
    #[error("the metadata document is larger than {max} bytes (CIMD §8.7)")]
    TooLarge {
        /// The cap.
        max: usize,
    },
    /// Not a JSON object.
    #[error("the metadata document is not a JSON object (CIMD §4)")]
    NotJson,
    /// Its `client_id` is not the URL (§4).
    #[error("the metadata document's client_id is {found:?}, not the URL {expected:?} (CIMD §4)")]
    ClientIdMismatch {
        /// The URL.
        expected: String,
        /// What the document says (empty when missing or not a string).
        found: String,
    },
    /// A shared secret (§4.1).
    #[error("the metadata document uses a shared secret ({member}), which CIMD §4.1 forbids")]
    SharedSecret {
        /// The member or method.
        member: String,
    },
    /// Private key material in `jwks` (§4.1).
    #[error("the metadata document's jwks carries private key material (CIMD §4.1)")]
    PrivateKey,
    /// The metadata breaks a registration rule (redirect URIs, grant types, ...).
    #[error("the metadata document is refused: {0}")]
    Metadata(String),
    /// Fetched and refused less than [`REFETCH_INTERVAL`] ago; not fetched again yet.
    #[error("{reason} (not fetched again for {REFETCH_INTERVAL})")]
    Throttled {
        /// The earlier failure.
        reason: String,
    },
}

/// Whether `client_id` is meant as a client identifier URL: it starts with `https://` or
/// `http://` (the latter refused by [`check_client_id_url`], so an http URL gets a
/// reason rather than "unknown client").
pub fn is_candidate(client_id: &str) -> bool {
    let lower = client_id.get(..8).unwrap_or(client_id).to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// §3: a client identifier URL "MUST use the https URL scheme", "MUST NOT contain a
/// userinfo component", "MUST contain a path component", "MUST NOT contain single-dot or
/// double-dot path components", "MUST NOT contain a fragment component". Checked on the
/// string as sent (the URL parser would remove dot segments), compared by simple string
/// comparison everywhere else.
pub fn check_client_id_url(client_id: &str) -> Result<url::Url, DocumentError> {
    let bad = |reason| DocumentError::InvalidUrl {
        url: client_id.to_owned(),
        reason,
    };
    if client_id.len() > MAX_URL_BYTES {
        return Err(bad("longer than 1024 bytes"));
    }
    let Some(rest) = client_id.strip_prefix("https://") else {
        return Err(bad("it must use the https scheme"));
    };
    if client_id.contains('#') {
        return Err(bad("it must not contain a fragment"));
    }
    let (authority, path_and_query) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => return Err(bad("it must contain a path")),
    };
    if authority.contains('@') {
        return Err(bad("it must not contain a userinfo component"));
    }
    if authority.is_empty() {
        return Err(bad("it has no host"));
    }
    let path = path_and_query.split('?').next().unwrap_or_default();
    let dot = |s: &str| {
        let s = s.to_ascii_lowercase().replace("%2e", ".");
        s == "." || s == ".."
    };
    if path.split('/').any(dot) {
        return Err(bad("it must not contain dot path segments"));
    }
    let url = url::Url::parse(client_id).map_err(|_| bad("it is not a URL"))?;
    if url.host().is_none() {
        return Err(bad("it has no host"));
    }
    Ok(url)
}

/// The host of a client identifier URL, as shown on the consent page (§8.5: "SHOULD
/// display the hostname of the client_id").
pub fn host(client_id: &str) -> Option<String> {
    let url = url::Url::parse(client_id).ok()?;
    Some(match url.port() {
        Some(p) => format!("{}:{p}", url.host_str()?),
        None => url.host_str()?.to_owned(),
    })
}

/// The members a JWK's private half lives in (RFC 7518 §6.2.2, §6.3.2, §6.4).
const PRIVATE_JWK_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// §4 and §4.1: the client of the metadata document `body` fetched from `client_id`.
/// `scopes` are those such a client may ask for (the registration settings' offer; all
/// of them when the document names no `scope`).
pub fn client_from_document(
    client_id: &str,
    body: &[u8],
    scopes: &[String],
) -> Result<Client, DocumentError> {
    let mut meta = ClientMetadata::from_json(body).map_err(|e| {
        if serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(body).is_err() {
            DocumentError::NotJson
        } else {
            DocumentError::Metadata(e.description.to_string())
        }
    })?;
    // §4: "MUST contain a client_id property whose value MUST match the Client Identifier
    // URL ... using simple string comparison".
    match meta.extra.get("client_id") {
        Some(serde_json::Value::String(s)) if s == client_id => {}
        other => {
            return Err(DocumentError::ClientIdMismatch {
                expected: client_id.to_owned(),
                found: other
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned(),
            });
        }
    }
    // §4.1: "the client_secret and client_secret_expires_at properties MUST NOT be used".
    for member in ["client_secret", "client_secret_expires_at"] {
        if meta.extra.contains_key(member) {
            return Err(DocumentError::SharedSecret {
                member: member.into(),
            });
        }
    }
    // Public unless it names a key-based method (RFC 7591's default, client_secret_basic,
    // is impossible here: §4.1).
    let method = meta
        .token_endpoint_auth_method
        .get_or_insert_with(|| "none".into())
        .clone();
    match TokenEndpointAuthMethod::from_name(&method) {
        Some(TokenEndpointAuthMethod::None | TokenEndpointAuthMethod::PrivateKeyJwt) => {}
        _ => {
            return Err(DocumentError::SharedSecret {
                member: format!("token_endpoint_auth_method {method:?}"),
            });
        }
    }
    // §4.1: "private key material MUST NOT be included".
    if let Some(keys) = meta
        .jwks
        .as_ref()
        .and_then(|j| j.get("keys"))
        .and_then(|k| k.as_array())
        && keys
            .iter()
            .any(|k| PRIVATE_JWK_MEMBERS.iter().any(|m| k.get(m).is_some()))
    {
        return Err(DocumentError::PrivateKey);
    }
    let meta = meta.normalized(&scopes.join(" "));
    let registration = meta
        .registration_with(client_id, None, None, scopes)
        .map_err(|e| DocumentError::Metadata(e.description.to_string()))?;
    let mut client = registration
        .into_client()
        .map_err(|e| DocumentError::Metadata(e.to_string()))?;
    client.metadata_document = true;
    Ok(client)
}

/// §5.2: how long a document fetched at `now` with response `headers` (names lower-case)
/// may be used; `None`: not at all (`no-store`, `no-cache`, `max-age=0`, an `Expires`
/// in the past). A positive lifetime is raised to [`MIN_CACHE_LIFETIME`] and cut to
/// [`MAX_CACHE_LIFETIME`]; no caching header at all is [`DEFAULT_CACHE_LIFETIME`].
/// `s-maxage` wins over `max-age`, which wins over `Expires` (RFC 9111 §4.2.1).
pub fn cache_lifetime(headers: &[(String, String)], now: OffsetDateTime) -> Option<Duration> {
    fn header<'h>(
        headers: &'h [(String, String)],
        name: &'static str,
    ) -> impl Iterator<Item = &'h str> {
        headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    let mut max_age = None;
    let mut s_maxage = None;
    for directive in header(headers, "cache-control").flat_map(|v| v.split(',')) {
        let directive = directive.trim();
        let (name, value) = match directive.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
            None => (directive, None),
        };
        let seconds = || value.and_then(|v| v.parse::<u32>().ok());
        match name.to_ascii_lowercase().as_str() {
            "no-store" | "no-cache" => return None,
            "max-age" => max_age = max_age.or(Some(seconds().unwrap_or(0))),
            "s-maxage" => s_maxage = s_maxage.or(Some(seconds().unwrap_or(0))),
            _ => {}
        }
    }
    let lifetime = match s_maxage.or(max_age) {
        Some(s) => Duration::seconds(i64::from(s)),
        None => match header(headers, "expires").next() {
            // RFC 9111 §5.3: an invalid Expires means "already expired".
            Some(v) => match http_date(v) {
                Some(at) => {
                    let date = header(headers, "date")
                        .next()
                        .and_then(http_date)
                        .unwrap_or(now);
                    at - date
                }
                None => Duration::ZERO,
            },
            None => return Some(DEFAULT_CACHE_LIFETIME),
        },
    };
    (lifetime > Duration::ZERO).then(|| lifetime.clamp(MIN_CACHE_LIFETIME, MAX_CACHE_LIFETIME))
}

/// An IMF-fixdate (RFC 9110 §5.6.7), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
fn http_date(v: &str) -> Option<OffsetDateTime> {
    let format = time::format_description::parse(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT",
    )
    .ok()?;
    time::PrimitiveDateTime::parse(v.trim(), &format)
        .ok()
        .map(|t| t.assume_utc())
}

#[derive(Debug, Clone)]
enum Entry {
    /// A valid document's client, usable until `until`.
    Fresh {
        client: Arc<Client>,
        until: OffsetDateTime,
    },
    /// A failure at `at`: no refetch before `at + REFETCH_INTERVAL`.
    Failed { reason: String, at: OffsetDateTime },
}

/// What to do for a lookup, given what is kept.
#[derive(Debug, Clone)]
enum Decision {
    Use(Arc<Client>),
    Refuse(String),
    Fetch,
}

fn decide(entry: Option<&Entry>, now: OffsetDateTime) -> Decision {
    match entry {
        Some(Entry::Fresh { client, until }) if now < *until => Decision::Use(client.clone()),
        Some(Entry::Failed { reason, at }) if now >= *at && now - *at < REFETCH_INTERVAL => {
            Decision::Refuse(reason.clone())
        }
        _ => Decision::Fetch,
    }
}

/// Fetches, checks and caches metadata documents (a process cache, bounded).
pub(crate) struct Resolver {
    pub(crate) http: Arc<dyn HttpClient>,
    pub(crate) clock: Arc<dyn crate::Clock>,
    pub(crate) max_bytes: usize,
    pub(crate) scopes: Vec<String>,
    entries: Mutex<HashMap<String, (Entry, u64)>>,
    counter: std::sync::atomic::AtomicU64,
}

impl Resolver {
    pub(crate) fn new(
        http: Arc<dyn HttpClient>,
        clock: Arc<dyn crate::Clock>,
        max_bytes: usize,
        scopes: Vec<String>,
    ) -> Self {
        Self {
            http,
            clock,
            max_bytes,
            scopes,
            entries: Mutex::new(HashMap::new()),
            counter: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Entry, u64)>> {
        // A poisoned lock only means a panic elsewhere between whole-value inserts.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The reason `client_id` was last refused, while it is not fetched again.
    pub(crate) fn failure(&self, client_id: &str) -> Option<String> {
        match decide(
            self.entries().get(client_id).map(|(e, _)| e),
            self.clock.now(),
        ) {
            Decision::Refuse(reason) => Some(reason),
            _ => None,
        }
    }

    /// The client of `client_id`'s metadata document: cached, or fetched and checked.
    pub(crate) async fn resolve(&self, client_id: &str) -> Result<Arc<Client>, DocumentError> {
        let now = self.clock.now();
        match decide(self.entries().get(client_id).map(|(e, _)| e), now) {
            Decision::Use(c) => return Ok(c),
            Decision::Refuse(reason) => return Err(DocumentError::Throttled { reason }),
            Decision::Fetch => {}
        }
        let outcome = self.fetch(client_id, now).await;
        let entry = match &outcome {
            Ok((client, Some(lifetime))) => Some(Entry::Fresh {
                client: client.clone(),
                until: now + *lifetime,
            }),
            Ok((_, None)) => None,
            Err(e) => Some(Entry::Failed {
                reason: e.to_string(),
                at: now,
            }),
        };
        {
            let mut entries = self.entries();
            match entry {
                Some(entry) => {
                    if entries.len() >= MAX_ENTRIES && !entries.contains_key(client_id) {
                        // Drop the oldest entry (insertion order): bounded memory.
                        if let Some(oldest) = entries
                            .iter()
                            .min_by_key(|(_, (_, n))| *n)
                            .map(|(k, _)| k.clone())
                        {
                            entries.remove(&oldest);
                        }
                    }
                    let n = self
                        .counter
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    entries.insert(client_id.to_owned(), (entry, n));
                }
                None => {
                    entries.remove(client_id);
                }
            }
        }
        outcome.map(|(c, _)| c)
    }

    async fn fetch(
        &self,
        client_id: &str,
        now: OffsetDateTime,
    ) -> Result<(Arc<Client>, Option<Duration>), DocumentError> {
        check_client_id_url(client_id)?;
        let resp = self
            .http
            .send(HttpRequest {
                method: "GET",
                url: client_id.to_owned(),
                headers: vec![("accept".into(), "application/json".into())],
                body: Vec::new(),
            })
            .await
            .map_err(|e| DocumentError::Fetch(e.reason))?;
        if resp.status != 200 {
            return Err(DocumentError::Status {
                status: resp.status,
            });
        }
        if resp.body.len() > self.max_bytes {
            return Err(DocumentError::TooLarge {
                max: self.max_bytes,
            });
        }
        let client = client_from_document(client_id, &resp.body, &self.scopes)?;
        Ok((Arc::new(client), cache_lifetime(&resp.headers, now)))
    }
}

/// The provider's client lookup when metadata documents are on: the host's clients (and
/// registered ones) first, then, for an https `client_id` none of them knows, its
/// metadata document. Every endpoint looks clients up through this one place, so the
/// authorization, PAR, token, revocation and introspection endpoints see the same client.
pub(crate) struct WithMetadataDocuments {
    pub(crate) inner: Arc<dyn ClientStore>,
    pub(crate) resolver: Arc<Resolver>,
}

#[async_trait]
impl ClientStore for WithMetadataDocuments {
    async fn find(&self, client_id: &str) -> Result<Option<Arc<Client>>, StoreError> {
        if let Some(c) = self.inner.find(client_id).await? {
            return Ok(Some(c));
        }
        if !is_candidate(client_id) {
            return Ok(None);
        }
        match self.resolver.resolve(client_id).await {
            Ok(c) => Ok(Some(c)),
            Err(e) => {
                tracing::warn!(client_id = %crate::logging::untrusted(client_id), reason = %e, "idpkit: client ID metadata document refused");
                Ok(None)
            }
        }
    }

    async fn origin_allowed(&self, origin: &str) -> Result<bool, StoreError> {
        // Metadata-document clients have no CORS origins: only the host's count.
        self.inner.origin_allowed(origin).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const URL: &str = "https://client.example/oauth/metadata.json";

    fn scopes() -> Vec<String> {
        ["openid", "profile", "offline_access"]
            .map(str::to_owned)
            .to_vec()
    }

    fn doc(extra: serde_json::Value) -> Vec<u8> {
        let mut d = json!({
            "client_id": URL,
            "client_name": "Example",
            "redirect_uris": ["https://client.example/callback"],
        });
        if let (Some(d), Some(e)) = (d.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                d.insert(k.clone(), v.clone());
            }
        }
        d.to_string().into_bytes()
    }

    fn at(s: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::seconds(1_800_000_000 + s)
    }

    #[test]
    fn client_identifier_urls_follow_cimd_3() {
        assert!(check_client_id_url(URL).is_ok());
        assert!(check_client_id_url("https://client.example:8443/c?v=1").is_ok());
        assert!(check_client_id_url("https://client.example/").is_ok());
        for (bad, why) in [
            ("http://client.example/c", "https"),
            ("https://client.example", "path"),
            ("https://client.example/c#x", "fragment"),
            ("https://u:p@client.example/c", "userinfo"),
            ("https://u@client.example/c", "userinfo"),
            ("https://client.example/a/../c", "dot"),
            ("https://client.example/./c", "dot"),
            ("https://client.example/a/%2E%2E/c", "dot"),
            ("https://client.example/a/..", "dot"),
            ("HTTPS://client.example/c", "https"),
            ("https:///c", "host"),
        ] {
            match check_client_id_url(bad) {
                Err(DocumentError::InvalidUrl { reason, .. }) => {
                    assert!(reason.contains(why), "{bad}: {reason}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        let long = format!("https://client.example/{}", "a".repeat(MAX_URL_BYTES));
        assert!(check_client_id_url(&long).is_err());
        assert!(is_candidate(URL) && is_candidate("http://x/y") && !is_candidate("demo"));
        assert_eq!(
            host("https://client.example:8443/c").as_deref(),
            Some("client.example:8443")
        );
        assert_eq!(host(URL).as_deref(), Some("client.example"));
    }

    #[test]
    fn a_good_document_makes_a_public_third_party_client_cimd_4() {
        let c = client_from_document(URL, &doc(json!({})), &scopes()).expect("valid");
        assert_eq!(c.id(), URL);
        assert!(!c.is_confidential(), "token_endpoint_auth_method none");
        assert!(!c.is_first_party());
        assert!(c.requires_pkce());
        assert!(c.is_metadata_document());
        assert_eq!(c.redirect_uris(), ["https://client.example/callback"]);
        assert_eq!(c.scopes(), &scopes()[..], "all offered scopes by default");
    }

    #[test]
    fn the_client_id_member_must_equal_the_url_exactly_cimd_4() {
        for other in [
            json!("https://client.example:443/oauth/metadata.json"),
            json!("https://CLIENT.example/oauth/metadata.json"),
            json!("https://evil.example/oauth/metadata.json"),
            json!(42),
            serde_json::Value::Null,
        ] {
            let body = doc(json!({ "client_id": other }));
            assert!(
                matches!(
                    client_from_document(URL, &body, &scopes()),
                    Err(DocumentError::ClientIdMismatch { .. })
                ),
                "{other}"
            );
        }
        let mut missing: serde_json::Value = serde_json::from_slice(&doc(json!({}))).expect("json");
        missing.as_object_mut().map(|o| o.remove("client_id"));
        assert!(matches!(
            client_from_document(URL, missing.to_string().as_bytes(), &scopes()),
            Err(DocumentError::ClientIdMismatch { .. })
        ));
    }

    #[test]
    fn no_shared_secrets_and_no_private_keys_cimd_4_1() {
        for extra in [
            json!({"client_secret": "s"}),
            json!({"client_secret_expires_at": 0}),
            json!({"token_endpoint_auth_method": "client_secret_basic"}),
            json!({"token_endpoint_auth_method": "client_secret_post"}),
            json!({"token_endpoint_auth_method": "client_secret_jwt"}),
        ] {
            assert!(
                matches!(
                    client_from_document(URL, &doc(extra.clone()), &scopes()),
                    Err(DocumentError::SharedSecret { .. })
                ),
                "{extra}"
            );
        }
        let public = crate::Jwk::ec_p256(&[1; 32], &[2; 32]);
        let mut private = serde_json::to_value(&public).expect("jwk");
        private["d"] = json!("AAAA");
        let e = client_from_document(
            URL,
            &doc(json!({"token_endpoint_auth_method": "private_key_jwt",
                         "jwks": {"keys": [private]}})),
            &scopes(),
        );
        assert_eq!(e.err(), Some(DocumentError::PrivateKey));
        let c = client_from_document(
            URL,
            &doc(json!({"token_endpoint_auth_method": "private_key_jwt",
                         "jwks": {"keys": [public]}})),
            &scopes(),
        )
        .expect("private_key_jwt with public keys");
        assert!(c.is_confidential());
        assert!(matches!(
            client_from_document(
                URL,
                &doc(json!({"token_endpoint_auth_method": "private_key_jwt"})),
                &scopes()
            ),
            Err(DocumentError::Metadata(_))
        ));
    }

    #[test]
    fn redirect_uris_and_metadata_follow_the_registration_rules_cimd_4_2() {
        for extra in [
            json!({"redirect_uris": ["http://client.example/cb"]}),
            json!({"redirect_uris": ["https://client.example/cb#f"]}),
            json!({"redirect_uris": []}),
            json!({"grant_types": ["password"]}),
            json!({"scope": "openid admin"}),
            json!({"response_types": ["token"]}),
        ] {
            assert!(
                matches!(
                    client_from_document(URL, &doc(extra.clone()), &scopes()),
                    Err(DocumentError::Metadata(_))
                ),
                "{extra}"
            );
        }
        for body in [&b"not json"[..], b"[1,2]", b"\"s\""] {
            assert_eq!(
                client_from_document(URL, body, &scopes()).err(),
                Some(DocumentError::NotJson)
            );
        }
    }

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn caching_follows_the_http_headers_within_bounds_cimd_5_2() {
        let now = at(0);
        assert_eq!(cache_lifetime(&[], now), Some(DEFAULT_CACHE_LIFETIME));
        assert_eq!(
            cache_lifetime(&h(&[("cache-control", "public, max-age=600")]), now),
            Some(Duration::seconds(600))
        );
        assert_eq!(
            cache_lifetime(&h(&[("cache-control", "max-age=5")]), now),
            Some(MIN_CACHE_LIFETIME),
            "floor"
        );
        assert_eq!(
            cache_lifetime(&h(&[("cache-control", "max-age=31536000")]), now),
            Some(MAX_CACHE_LIFETIME),
            "ceiling"
        );
        for never in ["no-store", "no-cache", "max-age=0", "max-age=600, no-store"] {
            assert_eq!(
                cache_lifetime(&h(&[("cache-control", never)]), now),
                None,
                "{never}"
            );
        }
        assert_eq!(
            cache_lifetime(&h(&[("cache-control", "max-age=120, s-maxage=900")]), now),
            Some(Duration::seconds(900))
        );
        let date = "Tue, 01 Dec 2026 10:00:00 GMT";
        assert_eq!(
            cache_lifetime(
                &h(&[("date", date), ("expires", "Tue, 01 Dec 2026 11:00:00 GMT")]),
                now
            ),
            Some(Duration::hours(1))
        );
        assert_eq!(
            cache_lifetime(
                &h(&[("date", date), ("expires", "Tue, 01 Dec 2026 09:00:00 GMT")]),
                now
            ),
            None,
            "expired"
        );
        assert_eq!(cache_lifetime(&h(&[("expires", "0")]), now), None);
        assert_eq!(
            cache_lifetime(
                &h(&[("cache-control", "max-age=120"), ("expires", "0")]),
                now
            ),
            Some(MIN_CACHE_LIFETIME.max(Duration::seconds(120))),
            "max-age wins over Expires"
        );
    }

    #[test]
    fn failures_are_not_cached_but_not_refetched_for_a_while_cimd_5_2() {
        let c = Arc::new(client_from_document(URL, &doc(json!({})), &scopes()).expect("ok"));
        let fresh = Entry::Fresh {
            client: c,
            until: at(60),
        };
        assert!(matches!(decide(Some(&fresh), at(59)), Decision::Use(_)));
        assert!(matches!(decide(Some(&fresh), at(60)), Decision::Fetch));
        let failed = Entry::Failed {
            reason: "r".into(),
            at: at(0),
        };
        assert!(matches!(decide(Some(&failed), at(9)), Decision::Refuse(_)));
        assert!(matches!(decide(Some(&failed), at(10)), Decision::Fetch));
        assert!(matches!(decide(None, at(0)), Decision::Fetch));
    }
}
