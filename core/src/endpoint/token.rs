//! The token endpoint (RFC 6749 §3.2): authenticates the client, finds the [`Grant`] for
//! `grant_type`, checks the client may use it, and answers what the grant issued.
//!
//! [`Grant`]: crate::grant::Grant

use crate::error::{ErrorCode, OAuthError};
use crate::grant::{GrantContext, TokenResponse};
use crate::http_types::{Method, Request, Response};
use crate::provider::Provider;

impl Provider {
    /// `POST` to the token endpoint.
    pub async fn token(&self, req: &Request) -> Response {
        match self.token_inner(req).await {
            Ok(body) => {
                Response::json_no_store(200, serde_json::to_vec(body.body()).unwrap_or_default())
            }
            Err(e) => {
                if e.code == ErrorCode::ServerError {
                    tracing::warn!(error = %crate::logging::untrusted(&e), "idpkit: token request failed");
                }
                Response::from_error(&e)
            }
        }
    }

    async fn token_inner(&self, req: &Request) -> Result<TokenResponse, OAuthError> {
        if req.method != Method::Post {
            return Err(OAuthError::invalid_request("the token endpoint takes POST"));
        }
        req.check_back_channel()?;
        let grant_type = req.params.require("grant_type")?;
        let client = self.authenticate_client(req).await?;
        let grant = self
            .inner
            .grants_table
            .iter()
            .find(|g| g.grant_type() == grant_type)
            .ok_or_else(|| {
                OAuthError::new(
                    ErrorCode::UnsupportedGrantType,
                    format!("grant_type {grant_type} is not supported"),
                )
            })?;
        if !client.allows_grant_type(grant_type) {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                format!("the client may not use the {grant_type} grant"),
            ));
        }
        if let Some(g) = crate::client::GrantType::from_name(grant_type) {
            crate::resource_indicator::check_grant(g, &req.params)?;
        }
        let ctx = GrantContext {
            services: self.inner.services(),
            client: &client,
            params: &req.params,
            now: self.now(),
            source: req.source,
        };
        let issued = grant.exchange(&ctx).await?;
        tracing::info!(client_id = %crate::logging::untrusted(&client.id), grant_type = %crate::logging::untrusted(grant_type), "idpkit: tokens issued");
        Ok(issued)
    }
}
