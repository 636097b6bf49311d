//! Request objects at the authorization endpoint (RFC 9101): loads the client's keys,
//! lets [`crate::client_assertion`] verify the signature and [`crate::request_object`]
//! check the claims, marks a `jti` used, and hands back the parameters the object carries.

use crate::Algorithm;
use crate::authorization_request;
use crate::authorization_response::{ResponseMode, Target};
use crate::client::Client;
use crate::client_assertion::{self, ClientJwtError, JwtPolicy};
use crate::error::{ErrorCode, OAuthError};
use crate::http_types::Params;
use crate::interaction::Authorization;
use crate::provider::Provider;
use crate::request_object;

impl Provider {
    /// Resolves the request object of an authorization request (RFC 9101 §5.1, `request`
    /// by value) for `client` (found by the outer `client_id`): verifies its signature with
    /// the client's keys (`jwks` / `jwks_uri`; the client's `request_object_signing_alg`
    /// when registered, else any asymmetric algorithm, either way only those of
    /// [`ProviderBuilder::client_jwt_algorithms`](crate::ProviderBuilder::client_jwt_algorithms);
    /// never `none` or HMAC), checks `iss`,
    /// `aud`, `client_id`, `exp`, `nbf`, `iat` and a `jti` when present (single use across
    /// instances), and returns the parameters **from the object only** plus `client_id`
    /// (RFC 9101 §6.3: outer parameters are ignored). Parameters without `request` come
    /// back unchanged.
    ///
    /// Call it before the request's parameters are read (the authorization endpoint does;
    /// a pushed authorization request endpoint should too, on the pushed parameters).
    /// Refusals are `invalid_request_object` (or `invalid_request` for a `request` sent
    /// twice or with `request_uri`); a storage failure is `server_error`.
    pub async fn resolve_request_object(
        &self,
        params: &Params,
        client: &Client,
    ) -> Result<Params, OAuthError> {
        let Some(jwt) = params.get("request")? else {
            return Ok(params.clone());
        };
        if params.get("request_uri")?.is_some() {
            return Err(OAuthError::invalid_request(
                "request and request_uri cannot both be sent (RFC 9101 §5)",
            ));
        }
        if params.get("client_id")? != Some(client.id.as_str()) {
            return Err(OAuthError::invalid_request(
                "client_id must be sent beside the request object (RFC 9101 §5)",
            ));
        }
        // RFC 9101 §6.1: an encrypted request object (to the provider's `use: enc` key) is
        // decrypted first; the signed object inside is what is checked below.
        let decrypted;
        let jwt = if crate::jose::jwe::is_compact_jwe(jwt) {
            decrypted = request_object::decrypt(jwt, &self.inner.keys.decryption_keys())
                .map_err(|e| {
                    tracing::info!(client_id = %crate::logging::untrusted(&client.id), reason = %e, "idpkit: request object refused");
                    OAuthError::new(ErrorCode::InvalidRequestObject, e)
                })?;
            decrypted.as_str()
        } else {
            jwt
        };
        let refused = |e: ClientJwtError| {
            tracing::info!(client_id = %crate::logging::untrusted(&client.id), reason = %e, "idpkit: request object refused");
            OAuthError::new(ErrorCode::InvalidRequestObject, e.to_string())
        };
        let now = self.now();
        let server = &self.inner.config.client_jwt.algorithms;
        let allowed: Vec<Algorithm> = match client.request_object_signing_alg() {
            Some(a) => vec![a],
            None => Algorithm::ALL.to_vec(),
        }
        .into_iter()
        .filter(|a| server.contains(a))
        .collect();
        let keys = self
            .client_key_set(client, jwt, now)
            .await
            .map_err(|e| OAuthError::new(ErrorCode::InvalidRequestObject, e.description))?;
        let c = client_assertion::verify_signed(jwt, &keys, &allowed)
            .and_then(|p| client_assertion::read_claims(&p))
            .map_err(refused)?;
        let config = &self.inner.config.client_jwt;
        let policy = JwtPolicy {
            skew: config.clock_skew.whole_seconds(),
            max_lifetime: config.request_object_max_lifetime.whole_seconds(),
            audience_issuer_only: true,
        };
        let checked = request_object::check(
            &c,
            &client.id,
            &self.inner.config.issuer,
            &policy,
            now.unix_timestamp(),
        )
        .map_err(refused)?;
        if let Some(jti) = &checked.jti
            && !self
                .first_use("request-object-jti", &client.id, jti, checked.exp)
                .await?
        {
            return Err(refused(ClientJwtError::Replayed));
        }
        let ignored: Vec<&str> = params
            .pairs()
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| !matches!(*k, "client_id" | "request"))
            .collect();
        if !ignored.is_empty() {
            tracing::debug!(client_id = %crate::logging::untrusted(&client.id), ?ignored, "idpkit: parameters outside the request object ignored (RFC 9101 §6.3)");
        }
        Ok(request_object::parameters(&c, &client.id))
    }

    /// The answer to a refused request object: redirected to the client only when the
    /// outer `redirect_uri` is one registered for it (or it registered exactly one), in the
    /// query with the outer `state`; otherwise (and for a server error) an error page.
    pub(crate) fn refuse_request_object(
        &self,
        params: &Params,
        client: &Client,
        err: &OAuthError,
    ) -> Authorization {
        if err.code == ErrorCode::ServerError || err.status == Some(429) {
            return self.show_error(err);
        }
        let Ok(redirect_uri) = authorization_request::redirect_uri(params, client) else {
            return self.show_error(err);
        };
        let state = params
            .get("state")
            .ok()
            .flatten()
            .filter(|s| authorization_request::check_length("state", Some(s)).is_ok())
            .map(str::to_owned);
        let to = Target {
            redirect_uri,
            mode: ResponseMode::Query,
            state,
        };
        self.error_redirect(&to, err)
    }
}
