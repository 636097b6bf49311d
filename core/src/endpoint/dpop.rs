//! DPoP (RFC 9449) at the provider's endpoints: a request's proof verified with the rules
//! of [`crate::dpop`], its nonce and its single use checked in the grant store, so that
//! they hold across every instance sharing the store.
//!
//! - Replay (§11.1): a proof's [`replay_id`](crate::dpop::replay_id) (its `jti` with `htm`
//!   and `htu`) is counted with [`GrantStore::increment`](crate::GrantStore::increment),
//!   which is atomic across instances; only the first count passes, and the counter lives
//!   as long as the proof would be accepted ([`DpopRules::max_age`](crate::dpop::DpopRules)
//!   plus the leeway).
//! - Server nonces (§8): random values, each a counter record (kind `Counter`, id
//!   [`nonce_id`](crate::dpop::nonce_id)) that expires after
//!   [`DpopRules::nonce_ttl`](crate::dpop::DpopRules): a nonce one instance issued is
//!   valid at every other, and no secret has to be shared or created.

use crate::dpop::{self, Expected, Proof, ProofError};
use crate::error::OAuthError;
use crate::http_types::{Method, Request, Response};
use crate::provider::Provider;
use crate::store::RecordKind;

/// The method name a proof's `htm` must carry for `method`.
pub(crate) fn method_name(method: Method) -> &'static str {
    match method {
        Method::Get => "GET",
        Method::Post => "POST",
        Method::Options => "OPTIONS",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
        Method::Other => "",
    }
}

impl Provider {
    /// Verifies the `DPoP` proof of `req` (if it has one) for a request to `uri` (this
    /// provider's absolute URL of the endpoint, e.g. the token or PAR endpoint), with
    /// `access_token` when one is presented (`ath`): the rules of [`crate::dpop::verify`]
    /// with the provider's [`DpopRules`](crate::dpop::DpopRules), the nonce when the
    /// provider requires one (`use_dpop_nonce` otherwise: answer it with
    /// [`Provider::dpop_nonce_response`]), and single use across instances. `Ok(None)`
    /// without a `DPoP` header. For endpoints that take proofs beyond the built-in ones
    /// (PAR: compare the proof's `jkt` with `dpop_jkt` using
    /// [`crate::dpop::check_binding`]).
    pub async fn verify_dpop(
        &self,
        req: &Request,
        uri: &str,
        access_token: Option<&str>,
    ) -> Result<Option<Proof>, ProofError> {
        let Some(proof) = req.dpop.as_deref() else {
            return Ok(None);
        };
        let rules = &self.inner.config.dpop;
        let now = self.now();
        let expected = Expected {
            method: method_name(req.method),
            uri,
            access_token,
        };
        let proof = dpop::verify(proof, rules, &expected, now)?;
        let store = self.inner.grants.as_ref();
        if rules.require_nonce {
            let nonce = proof.nonce.as_deref().unwrap_or_default();
            let live = store
                .get(RecordKind::Counter, &dpop::nonce_id(nonce), now)
                .await
                .map_err(|e| {
                    tracing::warn!(error = %e, "idpkit: DPoP nonce lookup failed");
                    ProofError::Nonce("the nonce could not be checked")
                })?;
            if live.is_none() {
                return Err(ProofError::Nonce("the nonce is unknown or expired"));
            }
        }
        let count = store
            .increment(
                &dpop::replay_id(&proof),
                dpop::replay_expiry(&proof, rules, now),
                now,
            )
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "idpkit: DPoP replay check failed");
                ProofError::Presence("the DPoP proof could not be checked; retry")
            })?;
        if count > 1 {
            return Err(ProofError::Replayed);
        }
        Ok(Some(proof))
    }

    /// A fresh server nonce (RFC 9449 §8), valid at every instance sharing the grant
    /// store for [`DpopRules::nonce_ttl`](crate::dpop::DpopRules).
    pub async fn dpop_nonce(&self) -> Result<String, OAuthError> {
        let nonce = crate::crypto::random_token();
        let now = self.now();
        self.inner
            .grants
            .increment(
                &dpop::nonce_id(&nonce),
                now + self.inner.config.dpop.nonce_ttl,
                now,
            )
            .await?;
        Ok(nonce)
    }

    /// `response` with a `DPoP-Nonce` header carrying a fresh nonce (RFC 9449 §8.1); the
    /// response unchanged when no nonce can be stored.
    pub async fn dpop_nonce_response(&self, response: Response) -> Response {
        match self.dpop_nonce().await {
            Ok(n) => response.header("DPoP-Nonce", n),
            Err(_) => response,
        }
    }

    /// The absolute URL of one of this provider's paths.
    pub(crate) fn url_of(&self, path: &str) -> String {
        format!("{}{}", self.inner.config.issuer, path)
    }
}
