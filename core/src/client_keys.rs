//! The keys of a client: what its `private_key_jwt` assertions (RFC 7523 §2.2) and request
//! objects (RFC 9101 §6.2) are verified with. `jwks` registered by value is decoded once
//! with the client; `jwks_uri` is fetched through the provider's
//! `HttpClient` ([`crate::http::HttpClient`]) and kept in a process cache of **public** keys
//! (a cache, not state: every instance may fetch its own copy, and losing it costs one
//! fetch).
//!
//! The cache rules, in `decide` (a sync function of the cached entry and `now`):
//! - a cached set younger than the max age
//!   ([`ProviderBuilder::client_jwks_max_age`](crate::ProviderBuilder::client_jwks_max_age),
//!   default [`DEFAULT_JWKS_MAX_AGE`]) is used as is;
//! - a JWS naming a `kid` the cached set lacks (the client rotated its keys) triggers one
//!   refetch;
//! - refetches of one client's `jwks_uri` are at most one per [`JWKS_REFETCH_INTERVAL`]
//!   (10 s), whatever the requests say, so nobody can make idpkit hammer the client's
//!   server by sending unknown `kid`s; in between, the cached set (even a stale one) is
//!   used, and a JWS with an unknown `kid` fails to verify.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use time::{Duration, OffsetDateTime};

use crate::Jwks;
use crate::client::{Client, ClientJwks};
use crate::http::{HttpClient, HttpRequest};
use crate::jose::KeySet;

/// The least time between two fetches of one client's `jwks_uri`.
pub const JWKS_REFETCH_INTERVAL: Duration = Duration::seconds(10);

/// How long a fetched client JWKS is used before it is fetched again, by default.
pub const DEFAULT_JWKS_MAX_AGE: Duration = Duration::minutes(10);

/// Cached entries kept at most; past it the cache starts over (it only costs fetches).
const MAX_ENTRIES: usize = 4096;

/// Why a client's keys are not available.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ClientKeysError {
    /// The client registered neither `jwks` nor `jwks_uri`.
    #[error("the client has registered no keys (jwks or jwks_uri)")]
    NoKeys,
    /// The client has a `jwks_uri` and the provider no [`HttpClient`].
    #[error("the client's jwks_uri cannot be fetched: the provider has no HTTP client")]
    NoHttpClient,
    /// The fetch failed.
    #[error("the client's jwks_uri could not be fetched: {0}")]
    Fetch(String),
    /// A fetch was made less than [`JWKS_REFETCH_INTERVAL`] ago and nothing is cached.
    #[error("the client's jwks_uri was fetched less than 10 s ago without success; retry later")]
    RateLimited,
    /// The client's keys have no key to encrypt to with `alg`.
    #[error(
        "the client's keys have no encryption key for {alg} (a {} key with use enc or no use)",
        alg.key_type()
    )]
    NoEncryptionKey {
        /// The algorithm registered.
        alg: crate::jose::jwe::JweAlgorithm,
    },
}

#[derive(Debug, Clone)]
struct Entry {
    keys: Option<Arc<KeySet>>,
    /// The document the keys came from, for its encryption keys.
    jwks: Option<Arc<Jwks>>,
    fetched_at: OffsetDateTime,
    last_attempt: OffsetDateTime,
}

/// What to do with a cached entry for a JWS naming `kid` (or none).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Decision {
    /// Use the cached keys.
    Use,
    /// Fetch (and record the attempt first, so concurrent requests do not all fetch).
    Fetch,
    /// Nothing usable cached and a fetch was made too recently.
    Wait,
}

/// The cache rule (see the module docs).
fn decide(
    entry: Option<&Entry>,
    kid: Option<&str>,
    max_age: Duration,
    now: OffsetDateTime,
) -> Decision {
    let Some(e) = entry else {
        return Decision::Fetch;
    };
    let may_fetch = now - e.last_attempt >= JWKS_REFETCH_INTERVAL || now < e.last_attempt;
    match &e.keys {
        Some(keys) => {
            let fresh = now - e.fetched_at < max_age;
            let knows_kid = kid.is_none_or(|k| keys.contains(k));
            if (fresh && knows_kid) || !may_fetch {
                Decision::Use
            } else {
                Decision::Fetch
            }
        }
        None if may_fetch => Decision::Fetch,
        None => Decision::Wait,
    }
}

/// The process cache of clients' `jwks_uri` key sets, keyed by client and URI.
#[derive(Debug)]
pub(crate) struct ClientKeyCache {
    entries: Mutex<HashMap<(String, String), Entry>>,
    /// How long a fetched set is used.
    pub(crate) max_age: Duration,
}

impl ClientKeyCache {
    /// An empty cache.
    pub(crate) fn new(max_age: Duration) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            max_age,
        }
    }

    /// The key set to verify a JWS of `client` naming `kid` with.
    pub(crate) async fn key_set(
        &self,
        client: &Client,
        kid: Option<&str>,
        http: Option<&dyn HttpClient>,
        now: OffsetDateTime,
    ) -> Result<Arc<KeySet>, ClientKeysError> {
        self.sets(client, kid, http, now).await.map(|(k, _)| k)
    }

    /// The key of `client` to encrypt to with `alg`
    /// ([`select_recipient`](crate::jose::jwe::select_recipient) over
    /// [`Jwks::encryption_keys`]), from its `jwks` or its `jwks_uri` (the same cache and
    /// refetch rules as for its signature keys).
    pub(crate) async fn recipient(
        &self,
        client: &Client,
        alg: crate::jose::jwe::JweAlgorithm,
        http: Option<&dyn HttpClient>,
        now: OffsetDateTime,
    ) -> Result<crate::jose::jwe::EncryptionJwk, ClientKeysError> {
        let (_, jwks) = self.sets(client, None, http, now).await?;
        crate::jose::jwe::select_recipient(jwks.encryption_keys(), alg)
            .cloned()
            .ok_or(ClientKeysError::NoEncryptionKey { alg })
    }

    async fn sets(
        &self,
        client: &Client,
        kid: Option<&str>,
        http: Option<&dyn HttpClient>,
        now: OffsetDateTime,
    ) -> Result<(Arc<KeySet>, Arc<Jwks>), ClientKeysError> {
        let uri = match &client.jwt.jwks {
            None => return Err(ClientKeysError::NoKeys),
            Some(ClientJwks::Value { keys, jwks }) => return Ok((keys.clone(), jwks.clone())),
            Some(ClientJwks::Uri(uri)) => uri,
        };
        let key = (client.id.clone(), uri.clone());
        let cached = {
            let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            let entry = entries.get(&key).cloned();
            match decide(entry.as_ref(), kid, self.max_age, now) {
                Decision::Use => {
                    // `decide` says Use only for an entry with keys.
                    if let Some(e) = entry
                        && let (Some(keys), Some(jwks)) = (e.keys, e.jwks)
                    {
                        return Ok((keys, jwks));
                    }
                    return Err(ClientKeysError::RateLimited);
                }
                Decision::Wait => return Err(ClientKeysError::RateLimited),
                Decision::Fetch => {
                    if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
                        entries.clear();
                    }
                    let e = entries.entry(key.clone()).or_insert(Entry {
                        keys: None,
                        jwks: None,
                        fetched_at: now,
                        last_attempt: now,
                    });
                    e.last_attempt = now;
                    e.keys.clone().zip(e.jwks.clone())
                }
            }
        };
        let http = http.ok_or(ClientKeysError::NoHttpClient)?;
        match fetch(http, uri).await {
            Ok(jwks) => {
                let keys = Arc::new(KeySet::new(&jwks));
                let jwks = Arc::new(jwks);
                let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
                entries.insert(
                    key,
                    Entry {
                        keys: Some(keys.clone()),
                        jwks: Some(jwks.clone()),
                        fetched_at: now,
                        last_attempt: now,
                    },
                );
                Ok((keys, jwks))
            }
            Err(reason) => {
                tracing::warn!(client_id = %crate::logging::untrusted(&client.id), %reason, "idpkit: fetching a client's jwks_uri failed");
                // A failed refresh keeps the old set usable until the next attempt.
                cached.ok_or(ClientKeysError::Fetch(reason))
            }
        }
    }
}

/// GETs a JWKS document.
async fn fetch(http: &dyn HttpClient, uri: &str) -> Result<Jwks, String> {
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
    Jwks::from_document(&resp.body).map_err(|e| format!("{uri}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::seconds(1_800_000_000 + s)
    }

    fn entry(kids: &[&str], fetched: i64, attempt: i64) -> Entry {
        let keys = kids
            .iter()
            .map(|k| {
                let mut j = crate::Jwk::ec_p256(&[1; 32], &[2; 32]);
                j.kid = Some((*k).to_owned());
                j
            })
            .collect();
        Entry {
            keys: Some(Arc::new(KeySet::new(&Jwks::new(keys)))),
            jwks: None,
            fetched_at: at(fetched),
            last_attempt: at(attempt),
        }
    }

    const AGE: Duration = Duration::minutes(10);

    #[test]
    fn a_fresh_set_with_the_kid_is_used_and_nothing_cached_is_fetched() {
        assert_eq!(decide(None, Some("a"), AGE, at(0)), Decision::Fetch);
        let e = entry(&["a"], 0, 0);
        assert_eq!(decide(Some(&e), Some("a"), AGE, at(5)), Decision::Use);
        assert_eq!(decide(Some(&e), None, AGE, at(5)), Decision::Use);
    }

    #[test]
    fn an_unknown_kid_refetches_once_then_waits_out_the_interval() {
        let e = entry(&["a"], 0, 0);
        assert_eq!(
            decide(Some(&e), Some("b"), AGE, at(5)),
            Decision::Use,
            "within 10 s of the last fetch: no refetch, the JWS fails with unknown kid"
        );
        assert_eq!(decide(Some(&e), Some("b"), AGE, at(10)), Decision::Fetch);
    }

    #[test]
    fn a_stale_set_is_refetched_but_used_while_a_fetch_is_too_recent() {
        let e = entry(&["a"], 0, 0);
        assert_eq!(decide(Some(&e), Some("a"), AGE, at(600)), Decision::Fetch);
        let e = entry(&["a"], 0, 595);
        assert_eq!(decide(Some(&e), Some("a"), AGE, at(600)), Decision::Use);
    }

    #[test]
    fn failed_fetches_are_rate_limited_per_client() {
        let failed = Entry {
            keys: None,
            jwks: None,
            fetched_at: at(0),
            last_attempt: at(0),
        };
        assert_eq!(decide(Some(&failed), Some("a"), AGE, at(9)), Decision::Wait);
        assert_eq!(
            decide(Some(&failed), Some("a"), AGE, at(10)),
            Decision::Fetch
        );
    }
}
