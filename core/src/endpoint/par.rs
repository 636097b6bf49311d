//! The pushed authorization request endpoint (RFC 9126 §2): authenticates the client like
//! the token endpoint, validates the parameters as the authorization endpoint does, stores
//! the request and answers its `request_uri`. The rules are in
//! [`crate::pushed_authorization_request`].

use serde_json::json;

use crate::authorization_request::Refused;
use crate::error::{ErrorCode, OAuthError};
use crate::http_types::{Method, Request, Response};
use crate::provider::Provider;
use crate::pushed_authorization_request as par;
use crate::records::{PushedRequestRecord, Records, Write, secret_id};

impl Provider {
    /// `POST` to the pushed authorization request endpoint (RFC 9126 §2): the
    /// authorization request's parameters in the form body, with the client's
    /// authentication (as at the token endpoint). Answers 201 with `request_uri` and
    /// `expires_in` (§2.2), or the error as JSON (§2.3: 400, 401 for client
    /// authentication), never a redirect.
    pub async fn pushed_authorization_request(&self, req: &Request) -> Response {
        match self.push(req).await {
            Ok((request_uri, expires_in)) => {
                let body = json!({ "request_uri": request_uri, "expires_in": expires_in });
                Response::json_no_store(201, serde_json::to_vec(&body).unwrap_or_default())
            }
            Err(e) => {
                if e.code == ErrorCode::ServerError {
                    tracing::warn!(error = %crate::logging::untrusted(&e), "idpkit: pushed authorization request failed");
                }
                Response::from_error(&e)
            }
        }
    }

    async fn push(&self, req: &Request) -> Result<(String, i64), OAuthError> {
        if req.method != Method::Post {
            return Err(OAuthError::invalid_request(
                "the pushed authorization request endpoint takes POST",
            ));
        }
        req.check_back_channel()?;
        let client = self.authenticate_client(req).await?;
        let params = par::pushed_params(&req.params, &client)?;
        // A signed request object inside the push (RFC 9126 §3, RFC 9101): its parameters
        // replace the pushed ones.
        let params = self.resolve_request_object(&params, &client).await?;
        let request = match self.authorization_request(&params, Some(&client)) {
            Ok(r) => r,
            Err(Refused::Show(e) | Refused::Redirect(_, e)) => return Err(e),
        };
        // Each push is stored until it expires: bounded per source, then per client (a
        // public client pushes with its `client_id` alone).
        let limits = &self.inner.config.rate_limits;
        let source = crate::throttle::source_part(req.source);
        let counts = [
            (
                "pushed-requests-source",
                source.as_str(),
                limits.pushed_requests_per_source,
            ),
            (
                "pushed-requests-client",
                client.id.as_str(),
                limits.pushed_requests_per_client,
            ),
        ];
        crate::throttle::count_each(self.inner.grants.as_ref(), &counts, self.now())
            .await?
            .map_err(|t| t.into_error("too many pushed authorization requests; try again later"))?;
        let request_uri = par::new_request_uri();
        let ttl = self.inner.config.pushed_authorization_request_ttl;
        Records(self.inner.grants.as_ref())
            .put(Write::new(
                secret_id(&request_uri),
                &PushedRequestRecord { request },
                None,
                self.now() + ttl,
            ))
            .await?;
        tracing::info!(client_id = %crate::logging::untrusted(&client.id), "idpkit: authorization request pushed");
        Ok((request_uri, ttl.whole_seconds()))
    }
}
