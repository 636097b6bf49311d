//! Token revocation (RFC 7009).

use crate::error::{ErrorCode, OAuthError};
use crate::http_types::{Method, Request, Response};
use crate::provider::Provider;
use crate::records::{AccessRecord, Records, RefreshRecord};
use crate::token::lookup;

impl Provider {
    /// `POST` to the revocation endpoint. Unknown or invalid tokens answer 200 (RFC 7009
    /// §2.2); another client's token is refused and left untouched; revoking a refresh token
    /// revokes its whole grant family.
    pub async fn revoke(&self, req: &Request) -> Response {
        match self.revoke_inner(req).await {
            Ok(()) => Response::json_no_store(200, b"{}".to_vec()),
            Err(e) => Response::from_error(&e),
        }
    }

    async fn revoke_inner(&self, req: &Request) -> Result<(), OAuthError> {
        if req.method != Method::Post {
            return Err(OAuthError::invalid_request(
                "the revocation endpoint takes POST",
            ));
        }
        req.check_back_channel()?;
        let client = self.authenticate_client(req).await?;
        let token = req.params.require("token")?;
        let now = self.now();
        let foreign = || {
            OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "the token was issued to another client",
            )
        };
        let records = Records(self.inner.grants.as_ref());
        if let Some(refresh) = lookup::refresh_token(self.inner.services(), token, now).await? {
            if refresh.record.client_id != client.id {
                return Err(foreign());
            }
            match &refresh.grant_id {
                Some(g) => {
                    self.inner.grants.revoke_grant(g).await?;
                }
                None => records.delete::<RefreshRecord>(&refresh.id).await?,
            }
            tracing::info!(client_id = %crate::logging::untrusted(&client.id), "idpkit: refresh token revoked with its grant");
            return Ok(());
        }
        if let Some(active) = lookup::access_token(self.inner.services(), token, now).await? {
            if active.client_id != client.id {
                return Err(foreign());
            }
            match &active.record_id {
                Some(id) => records.delete::<AccessRecord>(id).await?,
                None => tracing::info!(
                    client_id = %crate::logging::untrusted(&client.id),
                    "idpkit: a self-contained client_credentials JWT cannot be revoked; it expires on its own"
                ),
            }
        }
        Ok(())
    }
}
