//! The host as a resource server of its own: resolve or revoke an access token in process
//! ([`Provider::access_token_info`], [`Provider::revoke_access_token`]), e.g. for a
//! storefront's API that takes the visitor's bearer token.

use time::OffsetDateTime;

use crate::error::OAuthError;
use crate::provider::Provider;
use crate::records::{AccessRecord, Records};
use crate::token::lookup;

/// A live access token issued by this provider, as the host's own API sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccessTokenInfo {
    /// The user (or the guest) the token is for; `None` for a token of the client itself
    /// (`client_credentials`).
    pub subject: Option<String>,
    /// The client it was issued to.
    pub client_id: String,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// Its audience (`aud`).
    pub audience: Vec<String>,
    /// When it was issued.
    pub issued_at: OffsetDateTime,
    /// When it expires.
    pub expires_at: OffsetDateTime,
    /// A guest token ([`GrantType::Guest`](crate::GrantType::Guest)): `subject` is an
    /// anonymous guest ([`crate::guest::is_guest_subject`]), not a user.
    pub guest: bool,
    /// The DPoP key thumbprint the token is bound to (`cnf.jkt`, RFC 9449 §6): the host's
    /// API must then take it only with a DPoP proof of that key
    /// ([`crate::dpop::verify`], [`Provider::verify_dpop`]), never as a bearer token.
    pub dpop_jkt: Option<String>,
}

impl Provider {
    /// Resolves an access token issued here (JWT or opaque) as the introspection endpoint
    /// does, without a client: `None` for anything unknown, expired, revoked or not ours.
    /// After [`Provider::upgrade_guest`] an opaque guest token resolves to the user.
    pub async fn access_token_info(
        &self,
        token: &str,
    ) -> Result<Option<AccessTokenInfo>, OAuthError> {
        let Some(a) = lookup::access_token(self.inner.services(), token, self.now()).await? else {
            return Ok(None);
        };
        // RFC 7592 §2.3: a deleted (or expired) client's tokens are no longer active.
        if self.inner.clients.find(&a.client_id).await?.is_none() {
            return Ok(None);
        }
        let time =
            |t: i64| OffsetDateTime::from_unix_timestamp(t).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        Ok(Some(AccessTokenInfo {
            subject: a.subject,
            client_id: a.client_id,
            scopes: a.scopes,
            audience: a.aud,
            issued_at: time(a.iat),
            expires_at: time(a.exp),
            guest: a.guest,
            dpop_jkt: a.jkt,
        }))
    }

    /// Revokes an access token issued here, in process (the host's "DELETE on the tokens
    /// resource" with the bearer token): its record, or a JWT's revocation handle, is
    /// deleted, so it is inactive at once everywhere. Returns whether there was a live,
    /// revocable token; a `client_credentials` JWT has no handle and expires on its own
    /// (`false`).
    pub async fn revoke_access_token(&self, token: &str) -> Result<bool, OAuthError> {
        let Some(a) = lookup::access_token(self.inner.services(), token, self.now()).await? else {
            return Ok(false);
        };
        let Some(id) = a.record_id else {
            return Ok(false);
        };
        Records(self.inner.grants.as_ref())
            .delete::<AccessRecord>(&id)
            .await?;
        tracing::info!(client_id = %crate::logging::untrusted(&a.client_id), guest = a.guest, "idpkit: access token revoked by the host");
        Ok(true)
    }
}
