//! Token introspection (RFC 7662).

use serde_json::{Map, Value, json};

use crate::error::OAuthError;
use crate::http_types::{Method, Request, Response};
use crate::introspection;
use crate::provider::Provider;
use crate::token::lookup;

const INACTIVE: &[u8] = br#"{"active":false}"#;

impl Provider {
    /// `POST` to the introspection endpoint. Client authentication is required; anything
    /// inactive (unknown, expired, revoked, rotated), and any token the caller is not
    /// entitled to see (another client's token, unless the caller is registered as a
    /// resource server of its audience with
    /// [`ClientBuilder::resource_server_for`](crate::ClientBuilder::resource_server_for);
    /// another client's refresh token always) answers exactly `{"active":false}`
    /// (RFC 7662 §2.2, §4).
    pub async fn introspect(&self, req: &Request) -> Response {
        match self.introspect_inner(req).await {
            Ok(Some(body)) => {
                Response::json_no_store(200, serde_json::to_vec(&body).unwrap_or_default())
            }
            Ok(None) => Response::json_no_store(200, INACTIVE.to_vec()),
            Err(e) => Response::from_error(&e),
        }
    }

    async fn introspect_inner(
        &self,
        req: &Request,
    ) -> Result<Option<Map<String, Value>>, OAuthError> {
        if req.method != Method::Post {
            return Err(OAuthError::invalid_request(
                "the introspection endpoint takes POST",
            ));
        }
        req.check_back_channel()?;
        let client = self.authenticate_client(req).await?;
        if !client.is_confidential() {
            return Err(OAuthError::invalid_client(
                "introspection needs client authentication",
            ));
        }
        let token = req.params.require("token")?;
        let now = self.now();
        let iss = self.inner.config.issuer.clone();
        if let Some(active) = lookup::access_token(self.inner.services(), token, now).await? {
            if !introspection::may_see_access_token(&client, &active.client_id, &active.aud) {
                return Ok(None);
            }
            // RFC 7592 §2.3: the tokens of a deleted (or expired) client are inactive.
            let Some(owner) = self.inner.clients.find(&active.client_id).await? else {
                return Ok(None);
            };
            // The `sub` of the token's client, as its JWT carries it (pairwise for a
            // pairwise client, OIDC Core §8.1), whatever the token's shape.
            let sub = match (&active.subject, active.guest) {
                (Some(local), false) => {
                    crate::pairwise::subject_for(&self.inner.config, &owner, local)
                }
                _ => active.sub.clone(),
            };
            let mut body = json!({
                "active": true,
                // RFC 9449 §6.2: a bound token is a DPoP token, with its confirmation.
                "token_type": if active.jkt.is_some() { "DPoP" } else { "Bearer" },
                "client_id": active.client_id,
                "scope": active.scopes.join(" "),
                "aud": active.aud,
                "iat": active.iat,
                "exp": active.exp,
                "jti": active.jti,
                "iss": iss,
                "sub": sub,
            });
            if let (Some(jkt), Some(obj)) = (active.jkt, body.as_object_mut()) {
                obj.insert("cnf".into(), json!({ "jkt": jkt }));
            }
            if let (Some(act), Some(obj)) = (active.act, body.as_object_mut()) {
                // RFC 8693 §4.1: the actor of a delegated token.
                obj.insert("act".into(), act);
            }
            if let (Some(details), Some(obj)) = (active.authorization_details, body.as_object_mut())
            {
                // RFC 9396 §9.2: the granted authorization details.
                obj.insert("authorization_details".into(), details);
            }
            if let Some(obj) = body.as_object_mut() {
                return Ok(Some(std::mem::take(obj)));
            }
        }
        if let Some(refresh) = lookup::refresh_token(self.inner.services(), token, now).await?
            && !refresh.consumed
        {
            let rec = refresh.record;
            if introspection::may_see_refresh_token(&client, &rec.client_id) {
                let sub = self.subject_seen_by(&rec.client_id, &rec.subject).await?;
                let body = json!({
                    "active": true,
                    "token_type": "refresh_token",
                    "client_id": rec.client_id,
                    "scope": rec.scopes.join(" "),
                    "sub": sub,
                    "iat": rec.iat,
                    "exp": refresh.expires_at.unix_timestamp(),
                    "iss": iss,
                });
                if let Value::Object(obj) = body {
                    return Ok(Some(obj));
                }
            }
        }
        Ok(None)
    }
}
