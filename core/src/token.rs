//! Tokens: the stored grant records, JWT minting (RFC 9068 access tokens, ID tokens) and the
//! verification of idpkit's own JWTs (for userinfo and introspection).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::client::{AccessTokenFormat, Client};
use crate::crypto;
use crate::error::OAuthError;
use crate::keys::Algorithm;
use crate::provider::Provider;
use crate::store::{Record, RecordKind};
use crate::users::Claims;

/// The validated authorization request, kept with an interaction and a code.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct AuthzRequest {
    pub client_id: String,
    pub redirect_uri: String,
    /// Whether the request carried `redirect_uri` (then the token request must too).
    #[serde(default)]
    pub redirect_uri_sent: bool,
    pub response_mode: ResponseMode,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Vec<String>,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// The upstream named by `idp_hint` / `acr_values=idp:NAME` (only a configured one).
    #[serde(default)]
    pub upstream_hint: Option<String>,
}

/// How the authorization response travels back (OAuth 2.0 Multiple Response Types, Form Post).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ResponseMode {
    Query,
    Fragment,
    FormPost,
}

/// A stored authorization code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CodeRecord {
    pub client_id: String,
    pub redirect_uri: String,
    #[serde(default)]
    pub redirect_uri_sent: bool,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub subject: String,
    pub auth_time: i64,
}

/// A stored refresh token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RefreshRecord {
    pub client_id: String,
    pub subject: String,
    pub scopes: Vec<String>,
    pub auth_time: i64,
    pub iat: i64,
}

/// A stored access token: the whole token for opaque ones, the revocation handle (keyed by
/// `jti`) for grant-bound JWTs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AccessRecord {
    /// `true` for the revocation handle of a JWT; `false` for an opaque token. An opaque
    /// lookup must never find a JWT's handle.
    #[serde(default)]
    pub jwt: bool,
    pub client_id: String,
    pub subject: Option<String>,
    pub scopes: Vec<String>,
    pub aud: Vec<String>,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// The one allowed retry of a rotated refresh token: names the successor to revoke.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct GraceRecord {
    pub successor_id: String,
    /// Revocation handles of the access tokens issued with the successor.
    #[serde(default)]
    pub access_token_ids: Vec<String>,
}

/// Claims of an idpkit access token (RFC 9068 §2.2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// Subject: the user, or the client itself for client_credentials.
    pub sub: String,
    /// Audience(s).
    pub aud: Vec<String>,
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Token id.
    pub jti: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Space-separated scopes.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub scope: String,
    /// When the user authenticated.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub auth_time: Option<i64>,
}

/// Store id of a JWT's revocation handle: domain-separated from opaque tokens' ids
/// (`sha256(token)`), so that presenting a `jti` can never pass for a token.
pub(crate) fn jwt_handle_id(jti: &str) -> String {
    crypto::sha256_b64(format!("idpkit-jwt-handle:{jti}").as_bytes())
}

pub(crate) fn to_payload<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising these plain structs cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

pub(crate) fn from_payload<T: for<'de> Deserialize<'de>>(
    kind: RecordKind,
    id: &str,
    payload: &[u8],
) -> Result<T, OAuthError> {
    serde_json::from_slice(payload).map_err(|e| {
        OAuthError::from(crate::store::StoreError::Corrupt {
            kind: kind.as_str(),
            id: id.to_owned(),
            reason: e.to_string(),
        })
    })
}

/// What a grant issues: the response body and the records to write once the grant's
/// `consume` has been won. Signing happens before, so a signing outage consumes nothing.
#[derive(Debug)]
pub(crate) struct Issued {
    pub body: serde_json::Map<String, serde_json::Value>,
    pub writes: Vec<(RecordKind, String, Record)>,
    /// Store id of the refresh token issued, if any.
    pub refresh_id: Option<String>,
}

/// Inputs for issuing tokens to a user.
pub(crate) struct UserGrant<'a> {
    pub subject: &'a str,
    /// Scopes of the access and ID tokens.
    pub scopes: &'a [String],
    /// Scopes of the new refresh token: the original grant's (RFC 6749 §6).
    pub refresh_scopes: &'a [String],
    pub grant_id: &'a str,
    pub auth_time: i64,
    /// `Some(nonce)` when an ID token is due (openid scope); the inner option is the nonce.
    pub id_token: Option<Option<&'a str>>,
    pub refresh: bool,
}

impl Provider {
    /// The `aud` of a client's access tokens: its configured resource audience, or the
    /// issuer itself (the token is then good for userinfo only). Never the client id, which is
    /// an ID token's audience (RFC 9068 §5).
    pub(crate) fn audience_of(&self, client: &Client) -> Vec<String> {
        if client.audience.is_empty() {
            vec![self.inner.config.issuer.clone()]
        } else {
            client.audience.clone()
        }
    }

    pub(crate) fn alg_for(&self, client: &Client) -> Algorithm {
        client.signing_alg.unwrap_or(self.inner.config.signing_alg)
    }

    /// Builds `header.payload`, asks the key provider to sign it, and returns the JWS.
    pub(crate) async fn sign_jwt<T: Serialize>(
        &self,
        alg: Algorithm,
        typ: &str,
        claims: &T,
    ) -> Result<String, OAuthError> {
        let key = self.inner.keys.signing_key(alg).await?;
        let header = format!(
            r#"{{"alg":"{}","kid":{},"typ":"{}"}}"#,
            alg.as_str(),
            serde_json::to_string(&key.kid).unwrap_or_default(),
            typ
        );
        let payload = to_payload(claims);
        let mut jws = String::with_capacity(header.len() * 4 / 3 + payload.len() * 4 / 3 + 360);
        URL_SAFE_NO_PAD.encode_string(header.as_bytes(), &mut jws);
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut jws);
        let sig = self.inner.keys.sign(&key, jws.as_bytes()).await?;
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(&sig, &mut jws);
        Ok(jws)
    }

    /// Mints an access token. For a grant-bound token (`grant_id`), returns the record that
    /// makes it revocable; opaque tokens are nothing but that record.
    pub(crate) async fn mint_access_token(
        &self,
        client: &Client,
        subject: Option<&str>,
        scopes: &[String],
        grant_id: Option<&str>,
        auth_time: Option<i64>,
    ) -> Result<(String, Option<(RecordKind, String, Record)>), OAuthError> {
        let now = self.now();
        let ttl = client
            .access_token_ttl
            .unwrap_or(self.inner.config.access_token_ttl);
        let exp = now + ttl;
        let jti = crypto::random_token();
        let mut record = AccessRecord {
            jwt: false,
            client_id: client.id.clone(),
            subject: subject.map(str::to_owned),
            scopes: scopes.to_vec(),
            aud: self.audience_of(client),
            iat: now.unix_timestamp(),
            exp: exp.unix_timestamp(),
            jti: jti.clone(),
        };
        match client.access_token_format {
            AccessTokenFormat::Opaque => {
                let token = crypto::random_token();
                let rec = Record {
                    grant_id: grant_id.map(str::to_owned),
                    payload: to_payload(&record),
                    expires_at: exp,
                };
                Ok((
                    token.clone(),
                    Some((
                        RecordKind::AccessToken,
                        crypto::sha256_b64(token.as_bytes()),
                        rec,
                    )),
                ))
            }
            AccessTokenFormat::Jwt => {
                let claims = AccessClaims {
                    iss: self.inner.config.issuer.clone(),
                    sub: subject.unwrap_or(&client.id).to_owned(),
                    aud: record.aud.clone(),
                    exp: exp.unix_timestamp(),
                    iat: now.unix_timestamp(),
                    jti: jti.clone(),
                    client_id: client.id.clone(),
                    scope: scopes.join(" "),
                    auth_time,
                };
                let token = self
                    .sign_jwt(self.alg_for(client), "at+jwt", &claims)
                    .await?;
                record.jwt = true;
                let handle = grant_id.map(|g| {
                    (
                        RecordKind::AccessToken,
                        jwt_handle_id(&jti),
                        Record {
                            grant_id: Some(g.to_owned()),
                            payload: to_payload(&record),
                            expires_at: exp,
                        },
                    )
                });
                Ok((token, handle))
            }
        }
    }

    /// Mints the tokens of a user grant (code exchange, refresh, password): access token,
    /// ID token when due, refresh token when due. Nothing is written yet.
    pub(crate) async fn issue_user_tokens(
        &self,
        client: &Client,
        g: UserGrant<'_>,
    ) -> Result<Issued, OAuthError> {
        let now = self.now();
        let mut writes = Vec::with_capacity(2);
        let (access_token, handle) = self
            .mint_access_token(
                client,
                Some(g.subject),
                g.scopes,
                Some(g.grant_id),
                Some(g.auth_time),
            )
            .await?;
        writes.extend(handle);
        let ttl = client
            .access_token_ttl
            .unwrap_or(self.inner.config.access_token_ttl);
        let mut body = serde_json::Map::new();
        body.insert("token_type".into(), "Bearer".into());
        body.insert("expires_in".into(), ttl.whole_seconds().into());
        body.insert("scope".into(), g.scopes.join(" ").into());
        if let Some(nonce) = g.id_token {
            let id_token = self
                .mint_id_token(
                    client,
                    g.subject,
                    g.auth_time,
                    nonce,
                    Some(&access_token),
                    g.scopes,
                )
                .await?;
            body.insert("id_token".into(), id_token.into());
        }
        body.insert("access_token".into(), access_token.into());
        let mut refresh_id = None;
        if g.refresh {
            let token = crypto::random_token();
            let id = crypto::sha256_b64(token.as_bytes());
            let expires_at = now
                + client
                    .refresh_token_ttl
                    .unwrap_or(self.inner.config.refresh_token_ttl);
            let record = RefreshRecord {
                client_id: client.id.clone(),
                subject: g.subject.to_owned(),
                scopes: g.refresh_scopes.to_vec(),
                auth_time: g.auth_time,
                iat: now.unix_timestamp(),
            };
            writes.push((
                RecordKind::RefreshToken,
                id.clone(),
                Record {
                    grant_id: Some(g.grant_id.to_owned()),
                    payload: to_payload(&record),
                    expires_at,
                },
            ));
            body.insert("refresh_token".into(), token.into());
            refresh_id = Some(id);
        }
        Ok(Issued {
            body,
            writes,
            refresh_id,
        })
    }

    async fn mint_id_token(
        &self,
        client: &Client,
        subject: &str,
        auth_time: i64,
        nonce: Option<&str>,
        access_token: Option<&str>,
        scopes: &[String],
    ) -> Result<String, OAuthError> {
        let now = self.now();
        let mut claims: Claims = match self.user_claims(subject, scopes).await? {
            Some(c) => crate::users::filter_claims(c, scopes),
            None => return Err(OAuthError::invalid_grant("the user no longer exists")),
        };
        claims.insert("iss".into(), self.inner.config.issuer.clone().into());
        claims.insert("sub".into(), subject.into());
        claims.insert("aud".into(), client.id.clone().into());
        claims.insert("iat".into(), now.unix_timestamp().into());
        claims.insert(
            "exp".into(),
            (now + self.inner.config.id_token_ttl)
                .unix_timestamp()
                .into(),
        );
        claims.insert("auth_time".into(), auth_time.into());
        if let Some(n) = nonce {
            claims.insert("nonce".into(), n.into());
        }
        if let Some(at) = access_token {
            claims.insert(
                "at_hash".into(),
                crypto::left_half_hash(self.alg_for(client), at).into(),
            );
        }
        self.sign_jwt(self.alg_for(client), "JWT", &claims).await
    }

    /// Verifies a JWT access token issued by this provider: signature with a published key
    /// of the algorithm named in the header *and* the key's own type, `typ: at+jwt`, issuer
    /// and expiry. Returns `None` for anything else.
    pub(crate) async fn verify_own_access_token(&self, token: &str) -> Option<AccessClaims> {
        let mut parts = token.split('.');
        let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        #[derive(Deserialize)]
        struct Header {
            alg: String,
            kid: Option<String>,
            typ: Option<String>,
        }
        let header: Header = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
        let alg = Algorithm::from_name(&header.alg)?;
        if !self.inner.algorithms.contains(&alg) || header.typ.as_deref() != Some("at+jwt") {
            return None;
        }
        let jwks = self.inner.keys.jwks().await.ok()?;
        let jwk = jwks.find(header.kid.as_deref()?)?;
        if jwk.alg.is_some_and(|a| a != alg) || jwk.kty != alg.key_type() {
            return None;
        }
        let sig = URL_SAFE_NO_PAD.decode(s).ok()?;
        let signing_input = &token[..h.len() + 1 + p.len()];
        if !crypto::verify(jwk, alg, signing_input.as_bytes(), &sig) {
            return None;
        }
        let claims: AccessClaims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()?;
        if claims.iss != self.inner.config.issuer || claims.exp <= self.now().unix_timestamp() {
            return None;
        }
        Some(claims)
    }
}
