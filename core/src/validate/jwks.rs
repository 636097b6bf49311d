//! The JWKS cache: each trusted issuer's key set, parsed once per fetch, with a TTL. A
//! `kid` that is not in the cache triggers one refetch, at most once per
//! `refetch_interval` per issuer, and concurrent validations share it: a flood of tokens
//! with random `kid`s cannot flood the issuer.

use std::sync::Arc;

use futures::lock::Mutex as AsyncMutex;
use serde_json::Value;
use time::OffsetDateTime;

use super::{JwksSource, KidLookup, Rejection, TrustedIssuer, Validator};
use crate::Jwks;
use crate::http::HttpRequest;
use crate::jose::KeySet;

#[derive(Debug, Default)]
pub(super) struct Cache {
    /// When the last fetch failed: no new fetch before `refetch_interval` has passed.
    last_failed: Option<OffsetDateTime>,
    jwks: Option<Arc<KeySet>>,
    fetched_at: Option<OffsetDateTime>,
    last_forced: Option<OffsetDateTime>,
}

#[derive(Debug)]
pub(super) struct IssuerState {
    pub config: TrustedIssuer,
    pub cache: AsyncMutex<Cache>,
    /// The cache's current key set, readable without the async lock on the hot path.
    pub current: std::sync::RwLock<Option<(Arc<KeySet>, OffsetDateTime)>>,
}

impl IssuerState {
    /// The state of a newly trusted issuer (a static key set is parsed now).
    pub fn new(config: TrustedIssuer) -> Self {
        let current = match &config.jwks {
            JwksSource::Static(j) => Some((Arc::new(KeySet::new(j)), OffsetDateTime::UNIX_EPOCH)),
            _ => None,
        };
        Self {
            config,
            cache: AsyncMutex::new(Cache::default()),
            current: std::sync::RwLock::new(current),
        }
    }

    /// The current key set, if one was fetched (or is static); never fetches.
    pub fn cached(&self) -> Option<Arc<KeySet>> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|(set, _)| set.clone())
    }
}

impl Validator {
    /// The key set of an issuer that has the key `kid`: from the cache while fresh;
    /// otherwise (or when the `kid` is unknown, at most once per refetch interval) from a
    /// fetch that concurrent callers share.
    pub(super) async fn key(
        &self,
        state: &IssuerState,
        kid: &str,
    ) -> Result<Arc<KeySet>, Rejection> {
        let now = self.clock.now();
        let is_static = matches!(state.config.jwks, JwksSource::Static(_));
        let fresh = |at: OffsetDateTime| is_static || now - at < self.ttl;
        if let Some((set, at)) = state
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            && fresh(*at)
            && set.contains(kid)
        {
            return Ok(set.clone());
        }
        if is_static {
            return Err(self.unknown_kid(state, kid, KidLookup::Static));
        }
        // Slow path: one fetch at a time per issuer; waiters reuse its result.
        let mut cache = state.cache.lock().await;
        let stale = cache.fetched_at.is_none_or(|at| !fresh(at));
        if !stale
            && let Some(set) = &cache.jwks
            && set.contains(kid)
        {
            return Ok(set.clone());
        }
        let may_force = cache
            .last_forced
            .is_none_or(|t| now - t >= self.refetch_interval);
        // After a failed fetch, wait a refetch interval before trying again: meanwhile serve
        // the stale set (when it has the key) or answer at once, instead of queueing every
        // validation behind another fetch.
        if let Some(failed) = cache.last_failed
            && now - failed < self.refetch_interval
        {
            if let Some(set) = &cache.jwks
                && set.contains(kid)
            {
                return Ok(set.clone());
            }
            drop(cache);
            return Err(Rejection::IssuerUnreachable {
                issuer: state.config.issuer.clone(),
                reason: "the last JWKS fetch failed; not retrying yet".into(),
            });
        }
        if !stale && !may_force {
            drop(cache);
            return Err(self.unknown_kid(
                state,
                kid,
                KidLookup::RateLimited {
                    interval: self.refetch_interval.whole_seconds(),
                },
            ));
        }
        if !stale {
            cache.last_forced = Some(now);
        }
        let set = match self.fetch(&state.config).await {
            Ok(j) => Arc::new(KeySet::new(&j)),
            Err(reason) => {
                cache.last_failed = Some(now);
                // A stale key set stays usable while the issuer is unreachable.
                if let Some(set) = &cache.jwks
                    && set.contains(kid)
                {
                    tracing::warn!(issuer = %crate::logging::untrusted(&state.config.issuer), reason = %crate::logging::untrusted(&reason), "idpkit: JWKS refresh failed; using the cached set");
                    return Ok(set.clone());
                }
                return Err(Rejection::IssuerUnreachable {
                    issuer: state.config.issuer.clone(),
                    reason,
                });
            }
        };
        cache.jwks = Some(set.clone());
        cache.fetched_at = Some(now);
        cache.last_failed = None;
        *state.current.write().unwrap_or_else(|p| p.into_inner()) = Some((set.clone(), now));
        drop(cache);
        if set.contains(kid) {
            Ok(set)
        } else {
            Err(self.unknown_kid(state, kid, KidLookup::Refetched))
        }
    }

    fn unknown_kid(&self, state: &IssuerState, kid: &str, lookup: KidLookup) -> Rejection {
        let known = state.cached().map(|set| set.kids()).unwrap_or_default();
        Rejection::UnknownKid {
            found: kid.to_owned(),
            issuer: state.config.issuer.clone(),
            known,
            lookup,
        }
    }

    async fn fetch(&self, issuer: &TrustedIssuer) -> Result<Jwks, String> {
        let http = self.http.as_ref().ok_or("no HTTP client configured")?;
        let get = |url: String| HttpRequest {
            method: "GET",
            url,
            headers: vec![("accept".into(), "application/json".into())],
            body: Vec::new(),
        };
        let jwks_url = match &issuer.jwks {
            JwksSource::Static(j) => return Ok(Jwks::new(j.keys().to_vec())),
            JwksSource::Url(u) => u.clone(),
            JwksSource::Discovery => {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    issuer.issuer.trim_end_matches('/')
                );
                let resp = http
                    .send(get(url.clone()))
                    .await
                    .map_err(|e| e.to_string())?;
                if resp.status != 200 {
                    return Err(format!("{url} answered {}", resp.status));
                }
                let doc: Value =
                    serde_json::from_slice(&resp.body).map_err(|e| format!("{url}: {e}"))?;
                if doc.get("issuer").and_then(Value::as_str) != Some(issuer.issuer.as_str()) {
                    return Err(format!("{url} names another issuer: {}", doc["issuer"]));
                }
                doc.get("jwks_uri")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("{url} has no jwks_uri"))?
                    .to_owned()
            }
        };
        let resp = http
            .send(get(jwks_url.clone()))
            .await
            .map_err(|e| e.to_string())?;
        if resp.status != 200 {
            return Err(format!("{jwks_url} answered {}", resp.status));
        }
        // Keys idpkit cannot use (other types, encryption keys) are skipped, not fatal.
        Jwks::from_document(&resp.body).map_err(|e| format!("{jwks_url}: {e}"))
    }
}
