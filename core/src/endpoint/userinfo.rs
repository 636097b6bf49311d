//! The UserInfo endpoint (OIDC Core §5.3) and the lookup of access tokens shared with
//! introspection and revocation.

use crate::crypto;
use crate::error::{ErrorCode, OAuthError};
use crate::http_types::{Method, Request, Response};
use crate::provider::Provider;
use crate::store::RecordKind;
use crate::token::{AccessRecord, from_payload, jwt_handle_id};

/// A live access token, however it is shaped.
#[derive(Debug, Clone)]
pub(crate) struct ActiveToken {
    pub client_id: String,
    pub subject: Option<String>,
    pub scopes: Vec<String>,
    pub aud: Vec<String>,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// Store id of the record that makes it revocable, if any.
    pub record_id: Option<String>,
}

impl Provider {
    /// Resolves an access token issued here: a JWT is verified and, when bound to a user
    /// grant, checked against its revocation handle; an opaque token is looked up.
    pub(crate) async fn active_access_token(
        &self,
        token: &str,
    ) -> Result<Option<ActiveToken>, OAuthError> {
        let now = self.now();
        if token.contains('.') {
            let Some(claims) = self.verify_own_access_token(token).await else {
                return Ok(None);
            };
            let user_bound = claims.auth_time.is_some();
            let record_id = jwt_handle_id(&claims.jti);
            if user_bound
                && self
                    .inner
                    .grants
                    .get(RecordKind::AccessToken, &record_id, now)
                    .await?
                    .is_none()
            {
                return Ok(None);
            }
            return Ok(Some(ActiveToken {
                subject: user_bound.then(|| claims.sub.clone()),
                client_id: claims.client_id,
                scopes: claims
                    .scope
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                aud: claims.aud,
                iat: claims.iat,
                exp: claims.exp,
                jti: claims.jti,
                record_id: user_bound.then_some(record_id),
            }));
        }
        let id = crypto::sha256_b64(token.as_bytes());
        let Some(stored) = self
            .inner
            .grants
            .get(RecordKind::AccessToken, &id, now)
            .await?
        else {
            return Ok(None);
        };
        let rec: AccessRecord = from_payload(RecordKind::AccessToken, &id, &stored.record.payload)?;
        if rec.jwt {
            return Ok(None);
        }
        Ok(Some(ActiveToken {
            client_id: rec.client_id,
            subject: rec.subject,
            scopes: rec.scopes,
            aud: rec.aud,
            iat: rec.iat,
            exp: rec.exp,
            jti: rec.jti,
            record_id: Some(id),
        }))
    }

    /// The UserInfo endpoint (GET or POST) with a Bearer token (RFC 6750 §2.1 header, or
    /// §2.2 form body on POST).
    pub async fn userinfo(&self, req: &Request) -> Response {
        match self.userinfo_inner(req).await {
            Ok(body) => Response::json_no_store(200, body),
            Err(e) => bearer_error(&e),
        }
    }

    async fn userinfo_inner(&self, req: &Request) -> Result<Vec<u8>, OAuthError> {
        let header_token = match &req.authorization {
            Some(h) => match h.split_once(' ') {
                Some((scheme, t))
                    if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() =>
                {
                    Some(t.trim())
                }
                _ => {
                    return Err(OAuthError::new(
                        ErrorCode::InvalidRequest,
                        "use the Bearer scheme",
                    ));
                }
            },
            None => None,
        };
        let body_token = match req.method {
            Method::Post => req.params.get("access_token")?,
            _ => None,
        };
        let token = match (header_token, body_token) {
            (Some(_), Some(_)) => {
                return Err(OAuthError::invalid_request(
                    "more than one method of sending the access token",
                ));
            }
            (Some(t), None) | (None, Some(t)) => t,
            (None, None) => return Err(OAuthError::invalid_request("missing access token")),
        };
        let invalid = || {
            OAuthError::new(
                ErrorCode::InvalidToken,
                "the access token is invalid, expired or revoked",
            )
        };
        let active = self.active_access_token(token).await?.ok_or_else(invalid)?;
        let Some(subject) = active.subject else {
            return Err(OAuthError::new(
                ErrorCode::InsufficientScope,
                "the token has no user",
            ));
        };
        if !active.scopes.iter().any(|s| s == "openid") {
            return Err(OAuthError::new(
                ErrorCode::InsufficientScope,
                "the openid scope is required",
            ));
        }
        let claims = self
            .user_claims(&subject, &active.scopes)
            .await?
            .ok_or_else(invalid)?;
        let mut claims = crate::users::filter_claims(claims, &active.scopes);
        claims.insert("sub".into(), subject.into());
        Ok(serde_json::to_vec(&claims).unwrap_or_default())
    }
}

/// An RFC 6750 §3 error: `WWW-Authenticate: Bearer error=..., error_description=...`
/// (built by [`crate::bearer::challenge`]).
pub(crate) fn bearer_error(e: &OAuthError) -> Response {
    let mut r = Response::json_no_store(e.status(), e.to_json());
    // §3.1: no error code when the request had no authentication at all.
    let no_credentials =
        e.code == ErrorCode::InvalidRequest && e.description == "missing access token";
    let error = (!no_credentials).then(|| (e.code.as_str(), Some(e.description.as_ref())));
    let challenge = crate::bearer::challenge("idpkit", error, None);
    if e.status() == 400 || e.status() == 401 || e.status() == 403 {
        r = r.header("WWW-Authenticate", challenge);
    }
    if no_credentials {
        r.status = 401;
    }
    r
}
