//! DPoP at a resource server (RFC 9449 §7): [`Validator::validate_request`] takes the
//! `Authorization` and `DPoP` headers of a request, validates the token as
//! [`Validator::validate`] does, and checks that its presentation fits its binding: a token
//! with `cnf.jkt` only under the `DPoP` scheme with a proof of that key for this request
//! (`htm`, `htu` = [`ValidatorBuilder::external_url`](super::ValidatorBuilder::external_url)
//! joined with the request's path, `ath`, `iat`, single use, and a nonce when asked), a token
//! without one only as `Bearer`.
//!
//! Replay and nonces need memory that outlives one request: a [`DpopStore`]. Two come with
//! idpkit: [`MemoryDpopStore`] (the default: bounded, in this process only, so a proof
//! replayed at *another* instance of the resource server is not detected: fine for a single
//! instance) and [`StoreDpopStore`], which keeps them in an idpkit [`GrantStore`] shared by
//! every instance (the provider's SQL/Redis store, or any other backend).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{Rejection, ValidatedToken, Validator};
use crate::bearer::{Scheme, authorization_token};
use crate::dpop::{self, Expected, ProofError};
use crate::store::{GrantStore, RecordKind, StoreError};

/// Where a resource server remembers DPoP proof ids (replay, RFC 9449 §11.1) and the
/// nonces it issued (§9).
///
/// # Contract
/// `first_use` is atomic: of concurrent calls for one id, exactly one gets `true`, until
/// `expires_at`; a store shared by several instances makes that hold across them (a store
/// that is not shared detects replays at this instance only). `issue_nonce` remembers a
/// nonce until `expires_at`; `nonce_is_live` says whether it is remembered at `now`. A
/// store that cannot answer returns an error: the proof is then refused (fail closed).
#[async_trait]
pub trait DpopStore: Send + Sync + 'static {
    /// Records proof id `id` until `expires_at`; `true` the first time.
    async fn first_use(
        &self,
        id: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Remembers nonce id `id` until `expires_at`.
    async fn issue_nonce(
        &self,
        id: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Whether nonce id `id` is remembered at `now`.
    async fn nonce_is_live(&self, id: &str, now: OffsetDateTime) -> Result<bool, StoreError>;
}

/// The default [`DpopStore`]: in this process, at most `capacity` entries (default
/// 100 000). When full of live entries, new proofs are refused rather than old entries
/// forgotten (forgetting would let a proof be replayed). **Single instance only**: use
/// [`StoreDpopStore`] when several instances serve one API.
#[derive(Debug)]
pub struct MemoryDpopStore {
    capacity: usize,
    entries: Mutex<HashMap<String, OffsetDateTime>>,
}

impl Default for MemoryDpopStore {
    fn default() -> Self {
        Self::with_capacity(100_000)
    }
}

impl MemoryDpopStore {
    /// A store of at most `capacity` live entries.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn insert(
        &self,
        id: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if map.get(id).is_some_and(|until| now < *until) {
            return Ok(false);
        }
        if map.len() >= self.capacity {
            map.retain(|_, until| now < *until);
        }
        if map.len() >= self.capacity {
            return Err(StoreError::backend("the DPoP replay memory is full"));
        }
        map.insert(id.to_owned(), expires_at);
        Ok(true)
    }
}

#[async_trait]
impl DpopStore for MemoryDpopStore {
    async fn first_use(
        &self,
        id: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.insert(id, expires_at, now)
    }

    async fn issue_nonce(
        &self,
        id: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.insert(id, expires_at, now).map(|_| ())
    }

    async fn nonce_is_live(&self, id: &str, now: OffsetDateTime) -> Result<bool, StoreError> {
        let map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        Ok(map.get(id).is_some_and(|until| now < *until))
    }
}

/// A [`DpopStore`] in an idpkit [`GrantStore`]: proof ids and nonces are counters
/// ([`GrantStore::increment`], atomic across instances), so every instance sharing the
/// store detects a replay at any other.
#[derive(Clone)]
pub struct StoreDpopStore(pub Arc<dyn GrantStore>);

impl std::fmt::Debug for StoreDpopStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreDpopStore")
    }
}

#[async_trait]
impl DpopStore for StoreDpopStore {
    async fn first_use(
        &self,
        id: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        Ok(self.0.increment(id, expires_at, now).await? == 1)
    }

    async fn issue_nonce(
        &self,
        id: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.0.increment(id, expires_at, now).await.map(|_| ())
    }

    async fn nonce_is_live(&self, id: &str, now: OffsetDateTime) -> Result<bool, StoreError> {
        Ok(self.0.get(RecordKind::Counter, id, now).await?.is_some())
    }
}

/// A request to a protected resource, as far as token checks care.
#[derive(Debug, Clone, Copy)]
pub struct ResourceRequest<'a> {
    /// The `Authorization` header (`Bearer …` or `DPoP …`).
    pub authorization: Option<&'a str>,
    /// The `DPoP` header.
    pub dpop: Option<&'a str>,
    /// The method (`GET`, `POST`, ...).
    pub method: &'a str,
    /// The request target: its path (and query, which `htu` ignores), joined with
    /// [`ValidatorBuilder::external_url`](super::ValidatorBuilder::external_url); or an
    /// absolute URL.
    pub target: &'a str,
}

impl ValidatedToken {
    /// The DPoP key thumbprint the token is bound to (`cnf.jkt`, RFC 9449 §6), if any.
    pub fn jkt(&self) -> Option<&str> {
        self.claim("cnf")
            .and_then(|c| c.get("jkt"))
            .and_then(|j| j.as_str())
    }
}

impl Validator {
    /// Validates the token of a request to a protected resource: `Authorization: Bearer`
    /// (RFC 6750) or `Authorization: DPoP` with a `DPoP` proof (RFC 9449 §7). Everything
    /// [`validate`](Self::validate) checks, then the binding: a DPoP-bound token (`cnf.jkt`)
    /// presented as `Bearer` is refused ([`Rejection::DpopBoundAsBearer`]), an unbound one
    /// presented as DPoP too ([`Rejection::NotDpopBound`]); a DPoP one needs a proof
    /// ([`Rejection::DpopProof`]) of its key for this method and URL, with `ath`, fresh,
    /// used once, with this server's nonce when
    /// [`ValidatorBuilder::dpop_require_nonce`](super::ValidatorBuilder::dpop_require_nonce)
    /// is on (then answer with [`dpop_nonce`](Self::dpop_nonce) in `DPoP-Nonce`).
    pub async fn validate_request(
        &self,
        req: &ResourceRequest<'_>,
    ) -> Result<ValidatedToken, Rejection> {
        let Some((scheme, token)) = req.authorization.and_then(authorization_token) else {
            return Err(Rejection::Malformed {
                part: "token",
                reason: "is missing: no Authorization header with the Bearer or DPoP scheme".into(),
            });
        };
        let validated = self.validate_any(token).await?;
        let jkt = validated.jkt().map(str::to_owned);
        match (scheme, jkt) {
            (Scheme::Bearer, None) => Ok(validated),
            (Scheme::Bearer, Some(jkt)) => Err(Rejection::DpopBoundAsBearer { jkt }),
            (Scheme::DPoP, None) => Err(Rejection::NotDpopBound),
            (Scheme::DPoP, Some(jkt)) => {
                self.check_proof(req, token, &jkt).await?;
                Ok(validated)
            }
        }
    }

    async fn check_proof(
        &self,
        req: &ResourceRequest<'_>,
        token: &str,
        jkt: &str,
    ) -> Result<(), Rejection> {
        let refuse = |e: ProofError| Rejection::DpopProof(e);
        let proof = req.dpop.ok_or(refuse(ProofError::Presence(
            "a DPoP token needs a DPoP proof header",
        )))?;
        let uri = if req.target.starts_with("https://") || req.target.starts_with("http://") {
            req.target.to_owned()
        } else {
            let Some(base) = &self.dpop.external_url else {
                return Err(Rejection::DpopUnconfigured);
            };
            format!("{}{}", base.trim_end_matches('/'), req.target)
        };
        let now = self.clock.now();
        let expected = Expected {
            method: req.method,
            uri: &uri,
            access_token: Some(token),
        };
        let proof = dpop::verify(proof, &self.dpop.rules, &expected, now).map_err(refuse)?;
        dpop::check_binding("access token", jkt, &proof.jkt).map_err(refuse)?;
        let store = self.dpop.store.as_ref();
        if self.dpop.rules.require_nonce {
            let nonce = proof.nonce.as_deref().unwrap_or_default();
            let live = store
                .nonce_is_live(&dpop::nonce_id(nonce), now)
                .await
                .map_err(|_| refuse(ProofError::Nonce("the nonce could not be checked")))?;
            if !live {
                return Err(refuse(ProofError::Nonce("the nonce is unknown or expired")));
            }
        }
        let first = store
            .first_use(
                &dpop::replay_id(&proof),
                dpop::replay_expiry(&proof, &self.dpop.rules, now),
                now,
            )
            .await
            .map_err(|_| {
                refuse(ProofError::Presence(
                    "the DPoP proof could not be checked; retry",
                ))
            })?;
        if !first {
            return Err(refuse(ProofError::Replayed));
        }
        Ok(())
    }

    /// A fresh DPoP nonce for the `DPoP-Nonce` header (RFC 9449 §9), remembered in the
    /// validator's [`DpopStore`].
    pub async fn dpop_nonce(&self) -> Result<String, StoreError> {
        let nonce = crate::crypto::random_token();
        let now = self.clock.now();
        self.dpop
            .store
            .issue_nonce(
                &dpop::nonce_id(&nonce),
                now + self.dpop.rules.nonce_ttl,
                now,
            )
            .await?;
        Ok(nonce)
    }

    /// The proof algorithms accepted, space-separated: the `algs` of a
    /// `WWW-Authenticate: DPoP` challenge.
    pub fn dpop_algs(&self) -> String {
        self.dpop.rules.algs()
    }
}

/// The DPoP settings of a validator.
pub(super) struct DpopSettings {
    pub rules: dpop::DpopRules,
    pub external_url: Option<String>,
    pub store: Arc<dyn DpopStore>,
}

impl Default for DpopSettings {
    fn default() -> Self {
        Self {
            rules: dpop::DpopRules::default(),
            external_url: None,
            store: Arc::new(MemoryDpopStore::default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + s).expect("in range")
    }

    #[tokio::test]
    async fn the_memory_store_detects_a_second_use_until_expiry_rfc9449_11_1() {
        let m = MemoryDpopStore::with_capacity(2);
        assert!(m.first_use("a", t(10), t(0)).await.expect("ok"));
        assert!(!m.first_use("a", t(10), t(5)).await.expect("ok"), "replay");
        assert!(m.first_use("a", t(20), t(10)).await.expect("ok"), "expired");
        assert!(m.first_use("b", t(20), t(10)).await.expect("ok"));
        assert!(
            m.first_use("c", t(20), t(11)).await.is_err(),
            "full of live entries: refused, never forgotten"
        );
        assert!(
            m.first_use("c", t(30), t(21))
                .await
                .expect("room after expiry")
        );
    }

    #[tokio::test]
    async fn the_memory_store_keeps_nonces_until_they_expire_rfc9449_9() {
        let m = MemoryDpopStore::default();
        m.issue_nonce("n", t(10), t(0)).await.expect("ok");
        assert!(m.nonce_is_live("n", t(9)).await.expect("ok"));
        assert!(!m.nonce_is_live("n", t(10)).await.expect("ok"));
        assert!(!m.nonce_is_live("other", t(0)).await.expect("ok"));
    }
}
