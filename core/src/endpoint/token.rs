//! The token endpoint (RFC 6749 §3.2): authorization_code, refresh_token (rotation with reuse
//! detection), client_credentials, and the opt-in password grant.
//!
//! Every grant reads and checks first, then signs, and only then consumes what it redeems:
//! a signing outage (a KMS down) consumes nothing, and the code stays redeemable.

use crate::client::{Client, GrantType};
use crate::crypto;
use crate::endpoint::authorize::parse_scopes;
use crate::error::{ErrorCode, OAuthError};
use crate::http_types::{Method, Request, Response};
use crate::pkce;
use crate::provider::Provider;
use crate::store::{Consume, Record, RecordKind};
use crate::token::{
    CodeRecord, GraceRecord, Issued, RefreshRecord, UserGrant, from_payload, to_payload,
};

impl Provider {
    /// `POST` to the token endpoint.
    pub async fn token(&self, req: &Request) -> Response {
        match self.token_inner(req).await {
            Ok(body) => Response::json_no_store(200, serde_json::to_vec(&body).unwrap_or_default()),
            Err(e) => {
                if e.code == ErrorCode::ServerError {
                    tracing::warn!(error = %e, "idpkit: token request failed");
                }
                Response::from_error(&e)
            }
        }
    }

    async fn token_inner(
        &self,
        req: &Request,
    ) -> Result<serde_json::Map<String, serde_json::Value>, OAuthError> {
        if req.method != Method::Post {
            return Err(OAuthError::invalid_request("the token endpoint takes POST"));
        }
        req.check_back_channel()?;
        let grant_type = req.params.require("grant_type")?;
        let client = self.authenticate_client(req).await?;
        let grant = GrantType::from_name(grant_type).ok_or_else(|| {
            OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                format!("grant_type {grant_type} is not supported"),
            )
        })?;
        if !client.allows_grant(grant) {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                format!("the client may not use the {grant_type} grant"),
            ));
        }
        let issued = match grant {
            GrantType::AuthorizationCode => self.grant_authorization_code(req, &client).await?,
            GrantType::RefreshToken => self.grant_refresh_token(req, &client).await?,
            GrantType::ClientCredentials => self.grant_client_credentials(req, &client).await?,
            GrantType::Password => self.grant_password(req, &client).await?,
        };
        tracing::info!(client_id = %client.id, grant_type, "idpkit: tokens issued");
        Ok(issued.body)
    }

    async fn write_all(&self, writes: Vec<(RecordKind, String, Record)>) -> Result<(), OAuthError> {
        for (kind, id, record) in writes {
            self.inner.grants.put(kind, &id, record).await?;
        }
        Ok(())
    }

    /// RFC 6749 §4.1.3.
    async fn grant_authorization_code(
        &self,
        req: &Request,
        client: &Client,
    ) -> Result<Issued, OAuthError> {
        let code = req.params.require("code")?;
        let id = crypto::sha256_b64(code.as_bytes());
        let now = self.now();
        let invalid = || {
            OAuthError::invalid_grant("the authorization code is invalid, expired or already used")
        };
        let stored = self
            .inner
            .grants
            .get(RecordKind::AuthorizationCode, &id, now)
            .await?
            .ok_or_else(invalid)?;
        let grant_id = stored.record.grant_id.clone().unwrap_or_default();
        if stored.consumed_at.is_some() {
            return Err(self.code_reused(&grant_id).await);
        }
        let rec: CodeRecord =
            from_payload(RecordKind::AuthorizationCode, &id, &stored.record.payload)?;
        // "ensure that the authorization code was issued to the authenticated confidential
        // client, or if the client is public, ensure that the code was issued to client_id"
        if rec.client_id != client.id {
            return Err(invalid());
        }
        // "ensure that the redirect_uri parameter is present if the redirect_uri parameter was
        // included in the initial authorization request ..., and if included ensure that
        // their values are identical."
        match req.params.get("redirect_uri")? {
            Some(uri) if uri == rec.redirect_uri => {}
            Some(_) => {
                return Err(OAuthError::invalid_grant(
                    "redirect_uri does not match the authorization request",
                ));
            }
            None if rec.redirect_uri_sent => {
                return Err(OAuthError::invalid_request(
                    "missing parameter redirect_uri",
                ));
            }
            None => {}
        }
        match (&rec.code_challenge, req.params.get("code_verifier")?) {
            (Some(challenge), Some(verifier)) => pkce::verify(verifier, challenge)?,
            (Some(_), None) => {
                return Err(OAuthError::invalid_grant(
                    "code_verifier is required (PKCE)",
                ));
            }
            (None, Some(_)) => {
                return Err(OAuthError::invalid_grant(
                    "code_verifier sent for a code issued without code_challenge",
                ));
            }
            (None, None) => {}
        }
        let openid = rec.scopes.iter().any(|s| s == "openid");
        let refresh = client.allows_grant(GrantType::RefreshToken)
            && rec.scopes.iter().any(|s| s == "offline_access");
        let issued = self
            .issue_user_tokens(
                client,
                UserGrant {
                    subject: &rec.subject,
                    scopes: &rec.scopes,
                    refresh_scopes: &rec.scopes,
                    grant_id: &grant_id,
                    auth_time: rec.auth_time,
                    id_token: openid.then_some(rec.nonce.as_deref()),
                    refresh,
                },
            )
            .await?;
        Ok(self
            .redeem(
                RecordKind::AuthorizationCode,
                &id,
                &grant_id,
                issued,
                invalid,
            )
            .await?
            .0)
    }

    /// Writes what a grant issued, then consumes what it redeems (one store call: backends
    /// may make it one transaction). Writing no later than the consume matters: a
    /// concurrent request that loses the `consume` race revokes the grant family, and that
    /// revocation must find (and delete) the winner's records. Nobody can use them before
    /// the response is sent, and a lost race or an expiry deletes them again.
    async fn redeem(
        &self,
        kind: RecordKind,
        id: &str,
        grant_id: &str,
        mut issued: Issued,
        invalid: impl Fn() -> OAuthError,
    ) -> Result<(Issued, Redeemed), OAuthError> {
        let written: Vec<(RecordKind, String)> = issued
            .writes
            .iter()
            .map(|(k, i, _)| (*k, i.clone()))
            .collect();
        let writes = std::mem::take(&mut issued.writes);
        match self
            .inner
            .grants
            .put_then_consume(writes, kind, id, self.now())
            .await?
        {
            Consume::Consumed(_) => Ok((issued, Redeemed::First)),
            Consume::AlreadyConsumed { .. } if kind == RecordKind::RefreshToken => {
                self.refresh_replayed(id, grant_id).await?;
                Ok((issued, Redeemed::GraceRetry))
            }
            Consume::AlreadyConsumed { .. } => Err(self.code_reused(grant_id).await),
            Consume::NotFound => {
                for (k, i) in written {
                    self.inner.grants.delete(k, &i).await?;
                }
                Err(invalid())
            }
        }
    }

    /// RFC 6749 §4.1.2: "If an authorization code is used more than once, the authorization
    /// server MUST deny the request and SHOULD revoke (when possible) all tokens previously
    /// issued based on that authorization code."
    async fn code_reused(&self, grant_id: &str) -> OAuthError {
        match self.inner.grants.revoke_grant(grant_id).await {
            Ok(n) => tracing::warn!(
                revoked = n,
                "idpkit: authorization code reused; its grant was revoked"
            ),
            Err(e) => return OAuthError::server_error(&e),
        }
        OAuthError::invalid_grant("the authorization code is invalid, expired or already used")
    }

    /// A rotated refresh token came back. Inside the grace window, once, and only while the
    /// successor of the first rotation is itself unused, it is a retry: the successor (and
    /// its access token) are revoked and the tokens just issued stand. Anything else is
    /// reuse: the whole family is revoked (RFC 9700 §4.14.2).
    async fn refresh_replayed(&self, id: &str, grant_id: &str) -> Result<(), OAuthError> {
        let now = self.now();
        let invalid = OAuthError::invalid_grant("the refresh token is invalid, expired or revoked");
        if self.inner.config.refresh_reuse_grace.is_some()
            && let Consume::Consumed(grace) = self
                .inner
                .grants
                .consume(RecordKind::RefreshGrace, id, now)
                .await?
        {
            let g: GraceRecord = from_payload(RecordKind::RefreshGrace, id, &grace.payload)?;
            let successor = self
                .inner
                .grants
                .get(RecordKind::RefreshToken, &g.successor_id, now)
                .await?;
            if successor.is_some_and(|s| s.consumed_at.is_none()) {
                self.inner
                    .grants
                    .delete(RecordKind::RefreshToken, &g.successor_id)
                    .await?;
                for handle in &g.access_token_ids {
                    self.inner
                        .grants
                        .delete(RecordKind::AccessToken, handle)
                        .await?;
                }
                tracing::info!("idpkit: refresh token retried inside the grace window");
                return Ok(());
            }
        }
        let n = self.inner.grants.revoke_grant(grant_id).await?;
        tracing::warn!(
            revoked = n,
            "idpkit: refresh token reuse detected; the grant family was revoked"
        );
        Err(invalid)
    }

    /// RFC 6749 §6, with rotation and reuse detection (RFC 9700 §4.14.2).
    async fn grant_refresh_token(
        &self,
        req: &Request,
        client: &Client,
    ) -> Result<Issued, OAuthError> {
        let token = req.params.require("refresh_token")?;
        let id = crypto::sha256_b64(token.as_bytes());
        let now = self.now();
        let invalid =
            || OAuthError::invalid_grant("the refresh token is invalid, expired or revoked");
        let stored = self
            .inner
            .grants
            .get(RecordKind::RefreshToken, &id, now)
            .await?
            .ok_or_else(invalid)?;
        let grant_id = stored.record.grant_id.clone().unwrap_or_default();
        let rec: RefreshRecord =
            from_payload(RecordKind::RefreshToken, &id, &stored.record.payload)?;
        if rec.client_id != client.id {
            return Err(invalid());
        }
        // "The requested scope MUST NOT include any scope not originally granted by the
        // resource owner"; the new refresh token keeps the original scope (§6).
        let scopes = match req.params.get("scope")? {
            None => rec.scopes.clone(),
            Some(s) => {
                let asked = parse_scopes(Some(s));
                if let Some(bad) = asked.iter().find(|s| !rec.scopes.contains(s)) {
                    return Err(OAuthError::new(
                        ErrorCode::InvalidScope,
                        format!("scope {bad} was not granted; a refresh can only narrow the scope"),
                    ));
                }
                asked
            }
        };
        let openid = scopes.iter().any(|s| s == "openid");
        let issued = self
            .issue_user_tokens(
                client,
                UserGrant {
                    subject: &rec.subject,
                    scopes: &scopes,
                    refresh_scopes: &rec.scopes,
                    grant_id: &grant_id,
                    auth_time: rec.auth_time,
                    id_token: openid.then_some(None),
                    refresh: true,
                },
            )
            .await?;
        let grace = self.inner.config.refresh_reuse_grace.map(|window| {
            let record = GraceRecord {
                successor_id: issued.refresh_id.clone().unwrap_or_default(),
                access_token_ids: issued
                    .writes
                    .iter()
                    .filter(|(k, _, _)| *k == RecordKind::AccessToken)
                    .map(|(_, i, _)| i.clone())
                    .collect(),
            };
            (record, now + window)
        });
        let (issued, how) = self
            .redeem(RecordKind::RefreshToken, &id, &grant_id, issued, invalid)
            .await?;
        // Only a first rotation opens a grace window; the one retry it allows opens none.
        if let (Some((g, expires_at)), Redeemed::First) = (grace, how) {
            self.inner
                .grants
                .put(
                    RecordKind::RefreshGrace,
                    &id,
                    Record {
                        grant_id: Some(grant_id.clone()),
                        payload: to_payload(&g),
                        expires_at,
                    },
                )
                .await?;
        }
        Ok(issued)
    }

    /// RFC 6749 §4.4. The token's subject is the client itself; there is no user.
    async fn grant_client_credentials(
        &self,
        req: &Request,
        client: &Client,
    ) -> Result<Issued, OAuthError> {
        if !client.is_confidential() {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "client_credentials needs a confidential client",
            ));
        }
        let scopes = match req.params.get("scope")? {
            Some(s) => {
                let asked = parse_scopes(Some(s));
                if let Some(bad) = asked
                    .iter()
                    .find(|s| !client.allows_scope(s) || is_user_scope(s))
                {
                    return Err(OAuthError::new(
                        ErrorCode::InvalidScope,
                        format!("scope {bad} is not allowed for client_credentials"),
                    ));
                }
                asked
            }
            None => client
                .scopes
                .iter()
                .filter(|s| !is_user_scope(s))
                .cloned()
                .collect(),
        };
        let (access_token, write) = self
            .mint_access_token(client, None, &scopes, None, None)
            .await?;
        self.write_all(write.into_iter().collect()).await?;
        let ttl = client
            .access_token_ttl
            .unwrap_or(self.inner.config.access_token_ttl);
        let mut body = serde_json::Map::new();
        body.insert("access_token".into(), access_token.into());
        body.insert("token_type".into(), "Bearer".into());
        body.insert("expires_in".into(), ttl.whole_seconds().into());
        if !scopes.is_empty() {
            body.insert("scope".into(), scopes.join(" ").into());
        }
        Ok(Issued {
            body,
            writes: Vec::new(),
            refresh_id: None,
        })
    }

    /// RFC 6749 §4.3, only for clients that opted in.
    async fn grant_password(&self, req: &Request, client: &Client) -> Result<Issued, OAuthError> {
        let username = req.params.require("username")?;
        let password = req.params.require("password")?;
        let scopes = parse_scopes(req.params.get("scope")?);
        if let Some(bad) = scopes.iter().find(|s| !client.allows_scope(s)) {
            return Err(OAuthError::new(
                ErrorCode::InvalidScope,
                format!("scope {bad} is not allowed for this client"),
            ));
        }
        let subject = self
            .inner
            .users
            .authenticate(username, password)
            .await?
            .ok_or_else(|| OAuthError::invalid_grant("wrong username or password"))?;
        let grant_id = crypto::random_token();
        let openid = scopes.iter().any(|s| s == "openid");
        let refresh = client.allows_grant(GrantType::RefreshToken)
            && scopes.iter().any(|s| s == "offline_access");
        let mut issued = self
            .issue_user_tokens(
                client,
                UserGrant {
                    subject: &subject,
                    scopes: &scopes,
                    refresh_scopes: &scopes,
                    grant_id: &grant_id,
                    auth_time: self.now().unix_timestamp(),
                    id_token: openid.then_some(None),
                    refresh,
                },
            )
            .await?;
        self.write_all(std::mem::take(&mut issued.writes)).await?;
        Ok(issued)
    }
}

/// How a grant's `consume` went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Redeemed {
    /// This request consumed the code or refresh token.
    First,
    /// A rotated refresh token retried inside the grace window.
    GraceRetry,
}

/// Scopes that only make sense with a user.
fn is_user_scope(s: &str) -> bool {
    matches!(
        s,
        "openid" | "offline_access" | "profile" | "email" | "address" | "phone"
    )
}
