//! Pairwise subject identifiers (OpenID Connect Core 1.0 §8.1): a client registered with
//! `subject_type=pairwise` sees, for each user, a `sub` that no client of another
//! *sector* sees, so relying parties cannot correlate their users by `sub`.
//!
//! - The **sector identifier** is the host of the client's `sector_identifier_uri` when it
//!   registered one, else the host of its redirect URIs (which must then all share one host:
//!   §8.1 "If there are multiple hostnames in the registered redirect_uris, the Client MUST
//!   register a sector_identifier_uri").
//! - The `sector_identifier_uri` (https only) names a JSON array of URIs that must contain
//!   every redirect URI of the client (§8.1); the provider fetches it through its
//!   [`HttpClient`] when the client is first used at the authorization or token endpoint,
//!   refuses the client if the document does not list them all, and caches the outcome
//!   ([`SECTOR_DOCUMENT_MAX_AGE`]; failures are retried after [`SECTOR_REFETCH_INTERVAL`]).
//!   The document is capped at [`MAX_SECTOR_DOCUMENT_BYTES`]; timeouts and the transport's
//!   own size cap are the [`HttpClient`]'s contract.
//! - The pairwise `sub` is `base64url(HMAC-SHA-256(secret, len(sector) ‖ sector ‖ local))`
//!   ([`subject`]) with the provider's
//!   [`pairwise_secret`](crate::ProviderBuilder::pairwise_secret): nothing is stored per
//!   pair, and every instance configured with the same secret computes the same value.
//!   Changing the secret changes every pairwise `sub` (clients see new users).
//!
//! Records keep the **local** subject; the pairwise value is computed wherever a `sub` is
//! handed out about a pairwise client's user: ID tokens, userinfo, JWT access tokens,
//! introspection, logout tokens (and an `id_token_hint` is matched against it).

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use base64::Engine;
use time::{Duration, OffsetDateTime};

use crate::client::{Client, SubjectType};
use crate::config::Config;
use crate::http::{HttpClient, HttpRequest};

/// The shortest pairwise secret accepted: 32 bytes (the HMAC-SHA-256 key size).
pub const MIN_SECRET_BYTES: usize = 32;

/// The largest `sector_identifier_uri` document accepted (64 KiB).
pub const MAX_SECTOR_DOCUMENT_BYTES: usize = 64 * 1024;

/// How long a verified `sector_identifier_uri` document is trusted before it is fetched
/// again.
pub const SECTOR_DOCUMENT_MAX_AGE: Duration = Duration::hours(1);

/// The least time between two fetches of one client's `sector_identifier_uri` after a
/// failure (so nobody can make the provider hammer the client's server).
pub const SECTOR_REFETCH_INTERVAL: Duration = Duration::seconds(10);

/// Cached outcomes kept at most; past it the cache starts over (it only costs fetches).
const MAX_ENTRIES: usize = 4096;

/// The key pairwise subjects are derived with
/// ([`ProviderBuilder::pairwise_secret`](crate::ProviderBuilder::pairwise_secret)). Its
/// `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct PairwiseSecret(Vec<u8>);

impl PairwiseSecret {
    /// A secret of at least [`MIN_SECRET_BYTES`] bytes (checked by the provider builder).
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Self(secret.into())
    }

    /// The secret's length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for PairwiseSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PairwiseSecret(..)")
    }
}

/// The pairwise `sub` of local subject `local` in `sector` (§8.1: "a different sub value
/// to each Client"; the calculation is the OP's choice, here a keyed hash): base64url
/// (no padding) of HMAC-SHA-256 keyed by `secret` over the length-prefixed sector and
/// the local subject, so no two (sector, subject) pairs share an input.
pub fn subject(secret: &PairwiseSecret, sector: &str, local: &str) -> String {
    keyed(&secret.0, sector, local)
}

fn keyed(key: &[u8], sector: &str, local: &str) -> String {
    let mut msg = Vec::with_capacity(4 + sector.len() + local.len());
    msg.extend_from_slice(
        &u32::try_from(sector.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    msg.extend_from_slice(sector.as_bytes());
    msg.extend_from_slice(local.as_bytes());
    let mac = crate::crypto::hmac_sign(crate::MacAlgorithm::HS256, key, &msg);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac)
}

/// The sector identifier of a pairwise client (§8.1): the host of `sector_identifier_uri`
/// when given (which must be https), else the one host of all `redirect_uris`.
pub fn sector_identifier(
    sector_identifier_uri: Option<&str>,
    redirect_uris: &[String],
) -> Result<String, String> {
    if let Some(uri) = sector_identifier_uri {
        let url = url::Url::parse(uri)
            .map_err(|e| format!("sector_identifier_uri {uri:?} is not a URL: {e}"))?;
        if url.scheme() != "https" {
            return Err(format!(
                "sector_identifier_uri {uri:?} must use https (OIDC Core §8.1)"
            ));
        }
        if url.fragment().is_some() || uri.contains('#') {
            return Err(format!("sector_identifier_uri {uri:?} has a fragment"));
        }
        return url
            .host_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("sector_identifier_uri {uri:?} has no host"));
    }
    let mut hosts = redirect_uris.iter().map(|u| {
        url::Url::parse(u)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
    });
    let first = match hosts.next() {
        Some(Some(h)) => h,
        Some(None) | None => {
            return Err(
                "a pairwise client needs redirect URIs with a host, or a sector_identifier_uri (OIDC Core §8.1)"
                    .into(),
            );
        }
    };
    if hosts.any(|h| h.as_deref() != Some(first.as_str())) {
        return Err(
            "a pairwise client whose redirect URIs have several hosts must register a sector_identifier_uri (OIDC Core §8.1)"
                .into(),
        );
    }
    Ok(first)
}

/// Checks a fetched `sector_identifier_uri` document (§8.1): a JSON array of URIs that
/// contains every one of `redirect_uris` (compared exactly, as redirect URIs are).
pub fn check_sector_document(body: &[u8], redirect_uris: &[String]) -> Result<(), String> {
    if body.len() > MAX_SECTOR_DOCUMENT_BYTES {
        return Err(format!(
            "the sector_identifier_uri document is larger than {MAX_SECTOR_DOCUMENT_BYTES} bytes"
        ));
    }
    let listed: Vec<String> = serde_json::from_slice(body)
        .map_err(|_| "the sector_identifier_uri document is not a JSON array of URIs")?;
    match redirect_uris.iter().find(|u| !listed.contains(u)) {
        Some(missing) => Err(format!(
            "the sector_identifier_uri document does not list the redirect URI {missing:?} (OIDC Core §8.1)"
        )),
        None => Ok(()),
    }
}

/// The `sub` a client is given for local subject `local`: the local subject for a public
/// client, the pairwise value for a pairwise one. A pairwise client on a provider without
/// a pairwise secret never gets this far ([`Readiness`] refuses it first); should it, the
/// `sub` is derived from an empty key rather than leaking the local subject.
pub(crate) fn subject_for(config: &Config, client: &Client, local: &str) -> String {
    match (client.subject_type(), client.sector()) {
        (SubjectType::Pairwise, Some(sector)) => {
            let key = config
                .pairwise_secret
                .as_ref()
                .map_or(&[][..], |s| &s.0[..]);
            keyed(key, sector, local)
        }
        _ => local.to_owned(),
    }
}

/// Whether the provider can serve `client` as registered: a pairwise client needs the
/// provider's pairwise secret, a `userinfo_signed_response_alg` a key of that algorithm
/// (`algorithms`: what the key provider signs with). Checked by the provider builder for
/// static clients and on first use for every client.
pub(crate) fn servable(
    config: &Config,
    algorithms: &[crate::Algorithm],
    client: &Client,
) -> Result<(), crate::error::ConfigError> {
    let bad = |reason: String| crate::error::ConfigError::Client {
        client_id: client.id().to_owned(),
        reason,
    };
    if client.subject_type() == SubjectType::Pairwise && config.pairwise_secret.is_none() {
        return Err(bad(
            "a pairwise client needs ProviderBuilder::pairwise_secret (OIDC Core §8.1)".into(),
        ));
    }
    if let Some(alg) = client.userinfo_signed_response_alg()
        && !algorithms.contains(&alg)
    {
        return Err(bad(format!(
            "userinfo_signed_response_alg {alg}: the key provider has no {alg} key (it signs with {algorithms:?})"
        )));
    }
    Ok(())
}

#[derive(Debug, Clone)]
struct Entry {
    outcome: Result<(), String>,
    at: OffsetDateTime,
}

/// Whether a cached outcome is still good at `now`.
fn fresh(e: &Entry, now: OffsetDateTime) -> bool {
    let age = now - e.at;
    let max = if e.outcome.is_ok() {
        SECTOR_DOCUMENT_MAX_AGE
    } else {
        SECTOR_REFETCH_INTERVAL
    };
    age >= Duration::ZERO && age < max
}

/// Whether a client may be served ([`servable`]), and a pairwise client's
/// `sector_identifier_uri` lists its redirect URIs. A process cache of outcomes (not
/// state: each instance checks on its own).
#[derive(Debug, Default)]
pub(crate) struct Readiness {
    entries: Mutex<HashMap<(String, String, String), Entry>>,
}

impl Readiness {
    /// Refuses a pairwise client the provider cannot serve: no pairwise secret, or a
    /// `sector_identifier_uri` that cannot be fetched or does not list the client's
    /// redirect URIs. Public clients pass at once.
    pub(crate) async fn check(
        &self,
        config: &Config,
        algorithms: &[crate::Algorithm],
        client: &Client,
        http: Option<&dyn HttpClient>,
        now: OffsetDateTime,
    ) -> Result<(), String> {
        servable(config, algorithms, client).map_err(|e| e.to_string())?;
        if client.subject_type() != SubjectType::Pairwise {
            return Ok(());
        }
        let Some(uri) = client.sector_identifier_uri() else {
            return Ok(());
        };
        let key = (
            client.id().to_owned(),
            uri.to_owned(),
            client.redirect_uris().join("\n"),
        );
        {
            let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(e) = entries.get(&key).filter(|e| fresh(e, now)) {
                return e.outcome.clone();
            }
        }
        let outcome = match http {
            None => Err("the provider has no HTTP client to fetch sector_identifier_uri".into()),
            Some(http) => fetch(http, uri)
                .await
                .and_then(|body| check_sector_document(&body, client.redirect_uris())),
        };
        if let Err(reason) = &outcome {
            tracing::warn!(client_id = %crate::logging::untrusted(client.id()), %reason, "idpkit: pairwise client refused");
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            entries.clear();
        }
        entries.insert(
            key,
            Entry {
                outcome: outcome.clone(),
                at: now,
            },
        );
        outcome
    }
}

/// GETs a `sector_identifier_uri` document (https only, size-capped).
async fn fetch(http: &dyn HttpClient, uri: &str) -> Result<Vec<u8>, String> {
    if !uri.starts_with("https://") {
        return Err(format!("sector_identifier_uri {uri:?} is not https"));
    }
    let resp = http
        .send(HttpRequest {
            method: "GET",
            url: uri.to_owned(),
            headers: vec![("accept".into(), "application/json".into())],
            body: Vec::new(),
        })
        .await
        .map_err(|e| e.to_string())?;
    if resp.status != 200 {
        return Err(format!("{uri} answered {}", resp.status));
    }
    if resp.body.len() > MAX_SECTOR_DOCUMENT_BYTES {
        return Err(format!(
            "{uri}: the document is larger than {MAX_SECTOR_DOCUMENT_BYTES} bytes"
        ));
    }
    Ok(resp.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(b: u8) -> PairwiseSecret {
        PairwiseSecret::new(vec![b; 32])
    }

    #[test]
    fn pairwise_sub_differs_per_sector_and_is_stable_oidc_core_8_1() {
        let s = secret(1);
        let a = subject(&s, "rp-a.example", "alice");
        assert_eq!(a, subject(&s, "rp-a.example", "alice"), "deterministic");
        assert_ne!(a, subject(&s, "rp-b.example", "alice"), "other sector");
        assert_ne!(a, subject(&s, "rp-a.example", "bob"), "other user");
        assert_ne!(a, subject(&secret(2), "rp-a.example", "alice"), "other key");
        assert_ne!(a, "alice", "never the local subject");
        // The length prefix keeps (sector, subject) splits apart.
        assert_ne!(subject(&s, "ab", "c"), subject(&s, "a", "bc"));
        assert_eq!(a.len(), 43, "base64url of 32 bytes, unpadded");
        assert!(!a.contains(['=', '+', '/']));
    }

    #[test]
    fn the_sector_is_the_redirect_host_or_the_sector_uri_host_oidc_core_8_1() {
        let one = vec![
            "https://rp.example/cb".to_owned(),
            "https://rp.example/other".to_owned(),
        ];
        assert_eq!(sector_identifier(None, &one).as_deref(), Ok("rp.example"));
        let two = vec![
            "https://a.example/cb".to_owned(),
            "https://b.example/cb".to_owned(),
        ];
        assert!(
            sector_identifier(None, &two).is_err(),
            "several hosts need a sector_identifier_uri"
        );
        assert_eq!(
            sector_identifier(Some("https://sector.example/uris.json"), &two).as_deref(),
            Ok("sector.example")
        );
        assert!(sector_identifier(Some("http://sector.example/uris.json"), &two).is_err());
        assert!(sector_identifier(None, &[]).is_err(), "no host at all");
    }

    #[test]
    fn the_sector_document_must_list_every_redirect_uri_oidc_core_8_1() {
        let uris = vec![
            "https://a.example/cb".to_owned(),
            "https://b.example/cb".to_owned(),
        ];
        let all = br#"["https://a.example/cb","https://b.example/cb","https://c.example/cb"]"#;
        assert_eq!(check_sector_document(all, &uris), Ok(()));
        let some = br#"["https://a.example/cb"]"#;
        let err = check_sector_document(some, &uris).expect_err("b missing");
        assert!(err.contains("https://b.example/cb"), "{err}");
        assert!(check_sector_document(br#"{"uris":[]}"#, &uris).is_err());
        assert!(check_sector_document(b"not json", &uris).is_err());
        let big = vec![b' '; MAX_SECTOR_DOCUMENT_BYTES + 1];
        assert!(check_sector_document(&big, &uris).is_err(), "size cap");
    }

    #[test]
    fn the_secret_is_redacted() {
        assert_eq!(format!("{:?}", secret(7)), "PairwiseSecret(..)");
    }
}
