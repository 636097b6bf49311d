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
                let response = Response::from_error(&e);
                if e.code == ErrorCode::UseDpopNonce {
                    // RFC 9449 §8: the error carries the nonce to use.
                    return self.dpop_nonce_response(response).await;
                }
                response
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
        self.client_ready(&client).await?;
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
        // RFC 9449 §5: a proof binds what is issued to its key; a client registered with
        // `dpop_bound_access_tokens` (or every client, with `require_dpop`) must send one.
        let proof = self
            .verify_dpop(req, &self.url_of(&self.inner.config.paths.token), None)
            .await?;
        if proof.is_none() && (client.dpop_bound_access_tokens || self.inner.config.dpop_required) {
            return Err(OAuthError::new(
                ErrorCode::InvalidDpopProof,
                "this client's access tokens must be DPoP-bound: send a DPoP proof (RFC 9449 §5.2)",
            ));
        }
        // OIDC Core §16.14: an ID token for a client that registered encryption is signed,
        // then encrypted to its key. The key is found before the grant runs, so that a
        // client without a usable key consumes nothing.
        let id_token_recipient = match client.id_token_encrypted_response() {
            Some((alg, _)) => Some(
                self.inner
                    .client_keys
                    .recipient(&client, alg, self.inner.http.as_deref(), self.now())
                    .await
                    .map_err(|e| OAuthError::invalid_client(e.to_string()))?,
            ),
            None => None,
        };
        let ctx = GrantContext {
            services: self.inner.services(),
            client: &client,
            params: &req.params,
            now: self.now(),
            source: req.source,
            dpop_jkt: proof.as_ref().map(|p| p.jkt.as_str()),
        };
        let mut issued = grant.exchange(&ctx).await?;
        if client.dynamic.as_ref().is_some_and(|d| d.anonymous) {
            // The registration is in use: it no longer expires unused (RFC 7591 registrations
            // are bounded, see `ProviderBuilder::unused_client_ttl`). Best effort: the tokens
            // are issued already.
            if let Err(e) =
                crate::registration::mark_used(self.inner.grants.as_ref(), &client.id, self.now())
                    .await
            {
                tracing::warn!(error = %crate::logging::untrusted(&e), "idpkit: could not record a registered client's use");
            }
        }
        if proof.is_some() {
            // Every access token minted through the context is bound (`cnf.jkt`).
            let mut body = issued.into_body();
            body.insert("token_type".into(), "DPoP".into());
            issued = TokenResponse::new(body);
        }
        if let (Some(recipient), Some(setting)) =
            (&id_token_recipient, client.id_token_encrypted_response())
        {
            let mut body = issued.into_body();
            if let Some(serde_json::Value::String(jws)) = body.get("id_token") {
                let jwe = crate::jose::jwe::nest(recipient, setting, jws)?;
                body.insert("id_token".into(), jwe.into());
            }
            issued = TokenResponse::new(body);
        }
        tracing::info!(client_id = %crate::logging::untrusted(&client.id), grant_type = %crate::logging::untrusted(grant_type), "idpkit: tokens issued");
        Ok(issued)
    }
}
