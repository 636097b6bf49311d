//! Client authentication for back-channel requests: the rules are in
//! [`crate::client_auth`] and [`crate::client_assertion`]; this loads the client (and its
//! keys), counts failures, marks assertion `jti`s used and logs failures.

use std::sync::Arc;

use crate::client::{Client, TokenEndpointAuthMethod};
use crate::client_assertion::{self, ClientJwtError, JwtPolicy};
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
            // A refused client ID metadata document: say why (CIMD §5.1).
            if let Some(reason) = self.metadata_document_failure(&presented.client_id) {
                return Err(OAuthError::invalid_client(format!(
                    "the client ID metadata document was refused: {reason}"
                )));
            }
            return Err(failed("unknown client or bad credentials"));
        };
        let profile = self.inner.config.profile;
        if !client.is_confidential() {
            crate::profile::check_client_authentication(profile, &client, false)?;
            client_auth::check_method(&client, presented.method).map_err(failed)?;
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
        let outcome = match client_auth::check_method(&client, presented.method) {
            Err(reason) => Err(OAuthError::invalid_client(reason)),
            Ok(()) => match &presented.assertion {
                Some(jwt) => self.verify_assertion(&client, jwt).await?,
                None => client_auth::verify(&client, presented.secret.as_deref())
                    .map_err(OAuthError::invalid_client),
            },
        };
        if let Err(e) = outcome {
            throttle::count(grants, "client-auth", &key, limit, now)
                .await?
                .ok();
            tracing::info!(client_id = %crate::logging::untrusted(&client.id), reason = %e.description, "idpkit: client authentication failed");
            return Err(e);
        }
        let private_key_jwt = presented.assertion.is_some()
            && client.token_endpoint_auth_method() == Some(TokenEndpointAuthMethod::PrivateKeyJwt);
        crate::profile::check_client_authentication(profile, &client, private_key_jwt)?;
        crate::profile::check_client_signing(profile, &client)?;
        Ok(client)
    }

    /// The time rules for client assertions, from the configuration.
    pub(crate) fn assertion_policy(&self) -> JwtPolicy {
        let c = &self.inner.config.client_jwt;
        JwtPolicy {
            skew: c.clock_skew.whole_seconds(),
            max_lifetime: c.assertion_max_lifetime.whole_seconds(),
            audience_issuer_only: c.assertion_audience_issuer_only,
        }
    }

    /// Verifies a `client_assertion` of `client` (RFC 7523 §3), then marks its `jti`
    /// used. The outer `Err` is a storage failure; the inner one the refusal
    /// (`invalid_client`), to be counted.
    async fn verify_assertion(
        &self,
        client: &Client,
        jwt: &str,
    ) -> Result<Result<(), OAuthError>, OAuthError> {
        let refused =
            |e: ClientJwtError| OAuthError::invalid_client(format!("client_assertion: {e}"));
        let now = self.now();
        let payload = match client.token_endpoint_auth_method() {
            Some(TokenEndpointAuthMethod::ClientSecretJwt) => {
                if !self.inner.config.client_jwt.client_secret_jwt {
                    return Ok(Err(OAuthError::invalid_client(
                        "client_secret_jwt is not accepted by this provider",
                    )));
                }
                let Some(key) = &client.jwt.hmac_key else {
                    return Ok(Err(OAuthError::invalid_client(
                        "the client has no shared secret",
                    )));
                };
                let allowed: Vec<crate::MacAlgorithm> =
                    match client.token_endpoint_auth_signing_alg() {
                        Some(a) => crate::MacAlgorithm::from_name(a).into_iter().collect(),
                        None => crate::MacAlgorithm::ALL.to_vec(),
                    };
                client_assertion::verify_mac(jwt, &key.0, &allowed)
            }
            _ => {
                // The client's registered algorithm (or any), within the server's list.
                let server = &self.inner.config.client_jwt.algorithms;
                let allowed: Vec<crate::Algorithm> = match client.token_endpoint_auth_signing_alg()
                {
                    Some(a) => crate::Algorithm::from_name(a).into_iter().collect(),
                    None => crate::Algorithm::ALL.to_vec(),
                }
                .into_iter()
                .filter(|a| server.contains(a))
                .collect();
                let keys = match self.client_key_set(client, jwt, now).await {
                    Ok(k) => k,
                    Err(e) => return Ok(Err(e)),
                };
                client_assertion::verify_signed(jwt, &keys, &allowed)
            }
        };
        let checked = match payload
            .and_then(|p| client_assertion::read_claims(&p))
            .and_then(|c| {
                let issuer = &self.inner.config.issuer;
                let token_endpoint = format!("{issuer}{}", self.inner.config.paths.token);
                client_assertion::check_assertion(
                    &c,
                    &client.id,
                    issuer,
                    &token_endpoint,
                    &self.assertion_policy(),
                    now.unix_timestamp(),
                )
            }) {
            Ok(c) => c,
            Err(e) => return Ok(Err(refused(e))),
        };
        if !self
            .first_use(
                "client-assertion-jti",
                &client.id,
                &checked.jti,
                checked.exp,
            )
            .await?
        {
            return Ok(Err(refused(ClientJwtError::Replayed)));
        }
        Ok(Ok(()))
    }

    /// The key set of `client` for the JWS `jwt` (its `kid` may trigger a refetch of the
    /// client's `jwks_uri`, see [`crate::client_keys`]). A failure is the client's:
    /// `invalid_client`.
    pub(crate) async fn client_key_set(
        &self,
        client: &Client,
        jwt: &str,
        now: time::OffsetDateTime,
    ) -> Result<Arc<crate::jose::KeySet>, OAuthError> {
        let kid = crate::jose::parse_compact(jwt)
            .ok()
            .and_then(|j| j.header().kid.clone());
        self.inner
            .client_keys
            .key_set(client, kid.as_deref(), self.http_for(client), now)
            .await
            .map_err(|e| OAuthError::invalid_client(e.to_string()))
    }

    /// Marks `jti` of `client_id` used for `purpose` until `exp` (plus the clock skew,
    /// for instances whose clocks lag) and says whether this was its first use: the store's
    /// atomic `increment`, so of two instances seeing one `jti` only one gets `true`.
    pub(crate) async fn first_use(
        &self,
        purpose: &str,
        client_id: &str,
        jti: &str,
        exp: i64,
    ) -> Result<bool, OAuthError> {
        let now = self.now();
        let until = time::OffsetDateTime::from_unix_timestamp(exp)
            .unwrap_or(now)
            .max(now)
            + time::Duration::seconds(60);
        let id = client_assertion::replay_id(purpose, client_id, jti);
        Ok(self.inner.grants.increment(&id, until, now).await? == 1)
    }
}
