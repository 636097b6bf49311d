//! The token endpoint's grants (RFC 6749 §4) behind one seam.
//!
//! Each grant type is a [`Grant`]: `authorization_code`, `refresh_token`,
//! `client_credentials`, the device authorization grant (RFC 8628), token exchange
//! (RFC 8693), the guest grant (`urn:idpkit:params:oauth:grant-type:guest`,
//! [`crate::guest`]) and (opt-in per client) `password` are built in, one file each; a
//! host adds its own extension grant (RFC 6749 §4.5) with
//! [`ProviderBuilder::extension_grant`](crate::ProviderBuilder::extension_grant). The
//! token endpoint authenticates the client, finds the grant by its `grant_type`, checks
//! that the client may use it, and calls [`Grant::exchange`].
//!
//! Inside a grant, checks are sync functions of the stored record and the request
//! ("handle"), the tokens are minted by [`crate::token`] ("populate"), and only then is
//! anything written or consumed: a signing outage (a KMS down) consumes nothing.

pub(crate) mod authorization_code;
pub(crate) mod client_credentials;
pub(crate) mod device_code;
pub(crate) mod guest;
pub(crate) mod password;
pub(crate) mod refresh_token;
#[cfg(test)]
mod test_env;
pub(crate) mod token_exchange;

use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::client::Client;
use crate::error::OAuthError;
use crate::http_types::Params;
use crate::records::{Records, Write};
use crate::services::Services;
use crate::store::{Consume, RecordKind};
use crate::token::{Issued, Minter};
use crate::users::UserStore;

/// One grant type of the token endpoint: the built-in ones, or a host's extension grant
/// (RFC 6749 §4.5) added with
/// [`ProviderBuilder::extension_grant`](crate::ProviderBuilder::extension_grant):
///
/// ```
/// use idpkit_core::{Grant, GrantContext, TokenResponse};
/// use idpkit_core::OAuthError;
///
/// /// `urn:example:grant:api-key`: trades a partner's API key for an access token.
/// struct ApiKeyGrant;
///
/// #[async_trait::async_trait]
/// impl Grant for ApiKeyGrant {
///     fn grant_type(&self) -> &str {
///         "urn:example:grant:api-key"
///     }
///     async fn exchange(&self, ctx: &GrantContext<'_>) -> Result<TokenResponse, OAuthError> {
///         let key = ctx.params().require("api_key")?;
///         if key != "partner-key-1" {
///             return Err(OAuthError::invalid_grant("unknown API key"));
///         }
///         ctx.issue_access_token(Some("partner-1"), &["api:read".to_owned()]).await
///     }
/// }
/// ```
///
/// # Contract
/// `exchange` is called only for an authenticated client that is allowed this grant type
/// ([`Client::allows_grant_type`]). It must answer client mistakes with the RFC 6749 §5.2
/// error (`invalid_grant`, `invalid_scope`, `invalid_request`, ...), never a panic; it
/// must keep any state in the grant store (instances share nothing else); and it must not
/// consume or write anything before it knows the request succeeds.
#[async_trait]
pub trait Grant: Send + Sync + 'static {
    /// The `grant_type` value this grant serves (an absolute URI for extension grants).
    fn grant_type(&self) -> &str;
    /// Handles one token request.
    async fn exchange(&self, ctx: &GrantContext<'_>) -> Result<TokenResponse, OAuthError>;
}

/// A successful token response body (RFC 6749 §5.1), sent with `Cache-Control: no-store`.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenResponse(serde_json::Map<String, serde_json::Value>);

impl TokenResponse {
    /// A response with these members.
    pub fn new(body: serde_json::Map<String, serde_json::Value>) -> Self {
        Self(body)
    }

    /// The members.
    pub fn body(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.0
    }

    /// The members, owned.
    pub fn into_body(self) -> serde_json::Map<String, serde_json::Value> {
        self.0
    }
}

/// What a grant sees of one token request and of the provider.
pub struct GrantContext<'a> {
    pub(crate) services: Services<'a>,
    pub(crate) client: &'a Client,
    pub(crate) params: &'a Params,
    pub(crate) now: OffsetDateTime,
    /// Where the token request came from ([`crate::Request::source`]).
    pub(crate) source: Option<std::net::IpAddr>,
    /// The thumbprint of the token request's verified DPoP proof key (RFC 9449), if any:
    /// what the issued tokens are bound to.
    pub(crate) dpop_jkt: Option<&'a str>,
}

impl std::fmt::Debug for GrantContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrantContext")
            .field("client_id", &self.client.id)
            .finish_non_exhaustive()
    }
}

impl GrantContext<'_> {
    /// The authenticated client.
    pub fn client(&self) -> &Client {
        self.client
    }

    /// Where the token request came from, if the glue said ([`crate::Request::source`]).
    pub fn source(&self) -> Option<std::net::IpAddr> {
        self.source
    }

    /// The RFC 7638 thumbprint of the key of the request's verified DPoP proof (RFC 9449),
    /// if it had one: the access tokens this context issues are bound to it (`cnf.jkt`,
    /// `token_type: DPoP`).
    pub fn dpop_jkt(&self) -> Option<&str> {
        self.dpop_jkt
    }

    /// The brute-force guard for password checks a grant makes (the password grant does).
    pub fn login_guard(&self) -> crate::LoginGuard<'_> {
        crate::LoginGuard::new(
            self.services.grants,
            &self.services.config.rate_limits,
            self.now,
        )
    }

    /// The request parameters (the client's credentials among them, when sent in the body).
    pub fn params(&self) -> &Params {
        self.params
    }

    /// The time of this request.
    pub fn now(&self) -> OffsetDateTime {
        self.now
    }

    /// The host's user store.
    pub fn users(&self) -> &dyn UserStore {
        self.services.users
    }

    /// Issues an access token to the client, for `subject` (a user the grant vouched for)
    /// or for the client itself (`None`), with `scopes` (each must be registered for the
    /// client: `invalid_scope` otherwise). A `subject` must be a user the host's
    /// [`UserStore`] (or a configured upstream) still knows: `invalid_grant` otherwise. A
    /// token for the client itself (`sub` = its `client_id`) is refused with
    /// `unauthorized_client` while a user has the client's id as subject (RFC 9068 §5). A
    /// user-bound token gets its own grant family, so it can be revoked; the response has
    /// no refresh token.
    pub async fn issue_access_token(
        &self,
        subject: Option<&str>,
        scopes: &[String],
    ) -> Result<TokenResponse, OAuthError> {
        crate::scope::check_allowed(self.client, scopes)?;
        match subject {
            Some(s) => {
                self.vouched_user(s, scopes, None, None).await?;
            }
            None => self.check_client_subject(scopes).await?,
        }
        // A user-bound token records when the grant vouched for the user (`auth_time`)
        // and gets a grant family with a revocation handle.
        let grant_id = subject.map(|_| crate::crypto::random_token());
        let auth_time = subject.map(|_| self.now.unix_timestamp());
        let (token, write) = self
            .minter()
            .access_token(self.client, subject, scopes, grant_id.as_deref(), auth_time)
            .await?;
        self.records().put_all(write.into_iter().collect()).await?;
        let mut body = bearer_body(token, self.minter().access_ttl(self.client), scopes);
        body.insert("token_type".into(), self.minter().token_type().into());
        Ok(TokenResponse(body))
    }

    /// A token for the client itself carries `sub` = its `client_id`: refused
    /// (`unauthorized_client`) while a user has that subject, so that `sub` never names
    /// both (RFC 9068 §5).
    pub(crate) async fn check_client_subject(&self, scopes: &[String]) -> Result<(), OAuthError> {
        let user =
            crate::claims::user_claims(self.services, &self.client.id, scopes, self.now).await?;
        client_credentials::check_namespace(self.client, user.is_some())
    }

    pub(crate) fn minter(&self) -> Minter<'_> {
        Minter {
            config: self.services.config,
            keys: self.services.keys,
            now: self.now,
            jkt: self.dpop_jkt,
        }
    }

    pub(crate) fn records(&self) -> Records<'_> {
        Records(self.services.grants)
    }

    /// The user of a grant, checked on every issuance (the [`UserStore`] contract: tokens
    /// for a removed user are refused): the host's user store, or for a federated-only
    /// subject a configured upstream, must still vouch for `subject`. When neither does,
    /// grant family `grant_id` (if any) is revoked and the answer is `invalid_grant`.
    /// Returns what an ID token needs when one is due (an `openid` scope): the claims of
    /// `subject` filtered by scope, and the `nonce`.
    pub(crate) async fn vouched_user<'n>(
        &self,
        subject: &str,
        scopes: &[String],
        nonce: Option<&'n str>,
        grant_id: Option<&str>,
    ) -> Result<Option<(crate::users::Claims, Option<&'n str>)>, OAuthError> {
        self.vouched_user_requesting(subject, scopes, nonce, grant_id, None)
            .await
    }

    /// [`vouched_user`](Self::vouched_user), the ID token claims also with those the
    /// `claims` parameter requests for it (OIDC Core §5.5) that the user has.
    pub(crate) async fn vouched_user_requesting<'n>(
        &self,
        subject: &str,
        scopes: &[String],
        nonce: Option<&'n str>,
        grant_id: Option<&str>,
        requested: Option<&crate::claims_request::ClaimsRequest>,
    ) -> Result<Option<(crate::users::Claims, Option<&'n str>)>, OAuthError> {
        let claims = crate::claims::user_claims(self.services, subject, scopes, self.now).await?;
        let Some(claims) = claims else {
            if let Some(g) = grant_id.filter(|g| !g.is_empty()) {
                let n = self.services.grants.revoke_grant(g).await?;
                tracing::warn!(
                    revoked = n,
                    "idpkit: the user of a grant is gone; the grant was revoked"
                );
            }
            return Err(OAuthError::invalid_grant("the user no longer exists"));
        };
        if !crate::scope::is_openid(scopes) {
            return Ok(None);
        }
        let released = match requested.filter(|r| !r.id_token.is_empty()) {
            None => crate::users::filter_claims(claims, scopes),
            Some(r) => {
                let mut released = crate::users::filter_claims(claims.clone(), scopes);
                crate::claims_request::add_requested(&mut released, &claims, r.id_token.keys());
                released
            }
        };
        Ok(Some((released, nonce)))
    }

    /// The user grant a code (or an approved device code) was issued for, ready to mint:
    /// the user must still exist ([`vouched_user`](Self::vouched_user); grant family
    /// `grant_id` is revoked otherwise), an ID token is due with `openid`, a refresh token
    /// with `offline_access` when the client may refresh (OIDC Core §11).
    pub(crate) async fn approved_grant<'g>(
        &self,
        subject: &'g str,
        scopes: &'g [String],
        nonce: Option<&'g str>,
        grant_id: &'g str,
        auth_time: i64,
        sid: Option<&'g str>,
    ) -> Result<crate::token::UserGrant<'g>, OAuthError> {
        self.approved_grant_requesting(subject, scopes, nonce, grant_id, auth_time, sid, None)
            .await
    }

    /// [`approved_grant`](Self::approved_grant) of an authorization that had a `claims`
    /// parameter (OIDC Core §5.5): the ID token has the requested claims, and the access
    /// and refresh tokens keep the request.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn approved_grant_requesting<'g>(
        &self,
        subject: &'g str,
        scopes: &'g [String],
        nonce: Option<&'g str>,
        grant_id: &'g str,
        auth_time: i64,
        sid: Option<&'g str>,
        claims: Option<&'g crate::claims_request::ClaimsRequest>,
    ) -> Result<crate::token::UserGrant<'g>, OAuthError> {
        let id_token = self
            .vouched_user_requesting(subject, scopes, nonce, Some(grant_id), claims)
            .await?;
        let refresh = self
            .client
            .allows_grant(crate::client::GrantType::RefreshToken)
            && crate::scope::is_offline(scopes);
        Ok(crate::token::UserGrant {
            subject,
            scopes,
            refresh_scopes: scopes,
            grant_id,
            auth_time,
            id_token,
            refresh,
            sid,
            resources: &[],
            refresh_resources: &[],
            authorization_details: &[],
            claims,
        })
    }

    /// The live record of type `T` named by the secret in request parameter `param` (a
    /// code, a refresh token), with its store id; `invalid()` when there is none.
    pub(crate) async fn presented<T: crate::records::Payload>(
        &self,
        param: &str,
        invalid: fn() -> OAuthError,
    ) -> Result<(String, crate::records::Loaded<T>), OAuthError> {
        let id = crate::records::secret_id(self.params.require(param)?);
        let loaded = self
            .records()
            .get::<T>(&id, self.now)
            .await?
            .ok_or_else(invalid)?;
        Ok((id, loaded))
    }
}

/// The body of a bearer access-token response.
pub(crate) fn bearer_body(
    access_token: String,
    ttl: time::Duration,
    scopes: &[String],
) -> serde_json::Map<String, serde_json::Value> {
    let mut body = serde_json::Map::new();
    body.insert("access_token".into(), access_token.into());
    body.insert("token_type".into(), "Bearer".into());
    body.insert("expires_in".into(), ttl.whole_seconds().into());
    if !scopes.is_empty() {
        body.insert("scope".into(), scopes.join(" ").into());
    }
    body
}

/// The built-in grants, in the order the token endpoint tries them; token exchange with
/// the host's policy and trusted issuers.
pub(crate) fn built_in(exchange: token_exchange::TokenExchange) -> Vec<Arc<dyn Grant>> {
    vec![
        Arc::new(authorization_code::AuthorizationCode),
        Arc::new(refresh_token::RefreshToken),
        Arc::new(client_credentials::ClientCredentials),
        Arc::new(password::Password),
        Arc::new(device_code::DeviceCode),
        Arc::new(exchange),
        Arc::new(guest::Guest),
    ]
}

/// A single-use code (an authorization code, a device code) came back after it was
/// redeemed: RFC 6749 §4.1.2 "MUST deny the request and SHOULD revoke (when possible) all
/// tokens previously issued based on" it. Revokes grant family `grant_id` and returns
/// `invalid()`.
pub(crate) async fn replayed(
    ctx: &GrantContext<'_>,
    grant_id: &str,
    invalid: impl Fn() -> OAuthError,
) -> OAuthError {
    match ctx.services.grants.revoke_grant(grant_id).await {
        Ok(n) => tracing::warn!(
            revoked = n,
            "idpkit: a single-use code was presented again; its grant was revoked"
        ),
        Err(e) => return OAuthError::server_error(&e),
    }
    invalid()
}

/// How a grant's `consume` went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Redeemed {
    /// This request consumed the code or refresh token.
    First,
    /// A rotated refresh token retried inside the grace window.
    GraceRetry,
}

/// Writes what a grant issued, then consumes what it redeems (one store call: backends may
/// make it one transaction). Writing no later than the consume matters: a concurrent
/// request that loses the `consume` race revokes the grant family, and that revocation must
/// find (and delete) the winner's records. Nobody can use them before the response is
/// sent, and a lost race or an expiry deletes them again.
pub(crate) async fn redeem(
    ctx: &GrantContext<'_>,
    kind: RecordKind,
    id: &str,
    grant_id: &str,
    mut issued: Issued,
    invalid: impl Fn() -> OAuthError,
) -> Result<(Issued, Redeemed), OAuthError> {
    let written: Vec<(RecordKind, String)> = issued
        .writes
        .iter()
        .map(|w| (w.kind, w.id.clone()))
        .collect();
    let writes = std::mem::take(&mut issued.writes)
        .into_iter()
        .map(Write::into_tuple)
        .collect();
    let store = ctx.services.grants;
    match store.put_then_consume(writes, kind, id, ctx.now).await? {
        Consume::Consumed(_) => Ok((issued, Redeemed::First)),
        Consume::AlreadyConsumed { .. } if kind == RecordKind::RefreshToken => {
            refresh_token::replayed(ctx, id, grant_id).await?;
            Ok((issued, Redeemed::GraceRetry))
        }
        Consume::AlreadyConsumed { .. } => Err(replayed(ctx, grant_id, &invalid).await),
        Consume::NotFound => {
            for (k, i) in written {
                store.delete(k, &i).await?;
            }
            Err(invalid())
        }
    }
}
