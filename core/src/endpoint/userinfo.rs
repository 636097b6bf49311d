//! The UserInfo endpoint (OIDC Core §5.3).

use crate::error::{ErrorCode, OAuthError};
use crate::http_types::{Method, Request, Response};
use crate::provider::Provider;

impl Provider {
    /// The UserInfo endpoint (GET or POST) with a Bearer token (RFC 6750 §2.1 header, or
    /// §2.2 form body on POST).
    pub async fn userinfo(&self, req: &Request) -> Response {
        match self.userinfo_inner(req).await {
            Ok(body) => Response::json_no_store(200, body),
            Err(e) => bearer_error(&e),
        }
    }

    async fn userinfo_inner(&self, req: &Request) -> Result<Vec<u8>, OAuthError> {
        // A GET's parameters are its query; a POST's are its body (its query apart).
        let (body_token, query_token) = match req.method {
            Method::Post => (
                req.params.get("access_token")?,
                req.query.get("access_token")?,
            ),
            _ => (None, req.params.get("access_token")?),
        };
        let token =
            crate::bearer::presented(req.authorization.as_deref(), body_token, query_token)?;
        let invalid = || {
            OAuthError::new(
                ErrorCode::InvalidToken,
                "the access token is invalid, expired or revoked",
            )
        };
        let now = self.now();
        let active = crate::token::lookup::access_token(self.inner.services(), token, now)
            .await?
            .ok_or_else(invalid)?;
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
        let claims =
            crate::claims::user_claims(self.inner.services(), &subject, &active.scopes, now)
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
