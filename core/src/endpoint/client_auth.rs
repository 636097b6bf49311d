//! Client authentication for back-channel requests: the rules are in
//! [`crate::client_auth`]; this loads the client and logs failures.

use std::sync::Arc;

use crate::client::Client;
use crate::client_auth;
use crate::error::OAuthError;
use crate::http_types::Request;
use crate::provider::Provider;
use crate::throttle;

pub(crate) use client_auth::parse_basic;

impl Provider {
    /// Authenticates the client of a back-channel request. Public clients identify with
    /// `client_id` alone; confidential ones must present their secret by exactly one method.
    /// A failure answers 401 with `WWW-Authenticate: Basic` (see `Response::from_error`).
    pub(crate) async fn authenticate_client(
        &self,
        req: &Request,
    ) -> Result<Arc<Client>, OAuthError> {
        let presented = client_auth::presented(&req.params, req.authorization.as_deref())?;
        let failed = |reason: &'static str| {
            tracing::info!(client_id = %crate::logging::untrusted(&presented.client_id), reason, "idpkit: client authentication failed");
            OAuthError::invalid_client(reason)
        };
        let Some(client) = self.inner.clients.find(&presented.client_id).await? else {
            return Err(failed("unknown client or bad credentials"));
        };
        if !client.is_confidential() {
            client_auth::verify(&client, presented.secret.as_deref()).map_err(failed)?;
            return Ok(client);
        }
        // A confidential client's secret can be guessed: failures are counted per client
        // and source (RFC 6749 §2.3.1, RFC 7662 §4), and past the limit the secret is not
        // even checked. Unknown and public clients have nothing to guess and cost nothing.
        let grants = self.inner.grants.as_ref();
        let limit = self.inner.config.rate_limits.client_auth_failures;
        let source = throttle::source_part(req.source);
        let key = [client.id.as_str(), source.as_str()];
        let now = self.now();
        throttle::peek(grants, "client-auth", &key, limit, now)
            .await?
            .map_err(|t| t.into_error("too many failed client authentications"))?;
        if let Err(reason) = client_auth::verify(&client, presented.secret.as_deref()) {
            throttle::count(grants, "client-auth", &key, limit, now)
                .await?
                .ok();
            return Err(failed(reason));
        }
        Ok(client)
    }
}
