//! Opaque access tokens: RFC 7662 introspection at the issuer, with a short answer cache
//! keyed by the token's hash (never the token).

use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::checks::Run;
use super::claims::StdClaims;
use super::jwks::IssuerState;
use super::{Rejection, ValidatedToken, Validator};
use crate::crypto;
use crate::http::HttpRequest;

/// The most introspection answers kept at once.
const INTROSPECTION_CACHE_MAX: usize = 10_000;

/// Introspection answers by SHA-256 of the token, with how long they may be reused.
pub(super) type IntrospectionCache =
    std::collections::HashMap<[u8; 32], (OffsetDateTime, Result<ValidatedToken, Rejection>)>;

impl Validator {
    /// RFC 7662 introspection of an opaque token, with a short cache keyed by the token's
    /// hash (never the token).
    pub(super) async fn introspect_opaque(
        &self,
        state: &IssuerState,
        token: &str,
    ) -> Result<ValidatedToken, Rejection> {
        let now = self.clock.now();
        let key = crypto::sha256(token.as_bytes());
        {
            let cache = self.introspected.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((until, answer)) = cache.get(&key)
                && now < *until
            {
                return answer.clone();
            }
        }
        let answer = self.introspect_remote(state, token).await;
        // Active answers are reused until the cache TTL or the token's own `exp`, whichever
        // comes first. Inactive ones are not kept: random tokens must not fill the cache.
        if let Ok(t) = &answer {
            let exp = t
                .claim("exp")
                .and_then(Value::as_i64)
                .and_then(|e| OffsetDateTime::from_unix_timestamp(e).ok());
            let until = match exp {
                Some(e) => e.min(now + self.introspection_ttl),
                None => now + self.introspection_ttl,
            };
            let mut cache = self.introspected.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() >= INTROSPECTION_CACHE_MAX {
                cache.retain(|_, (until, _)| now < *until);
            }
            if cache.len() < INTROSPECTION_CACHE_MAX {
                cache.insert(key, (until, answer.clone()));
            }
        }
        answer
    }

    async fn introspect_remote(
        &self,
        state: &IssuerState,
        token: &str,
    ) -> Result<ValidatedToken, Rejection> {
        let issuer = state.config.issuer.clone();
        let (Some(http), Some(intro)) = (&self.http, &state.config.introspection) else {
            return Err(Rejection::Malformed {
                part: "token",
                reason: "is opaque and no introspection is configured".into(),
            });
        };
        let unavailable = |reason: String| Rejection::IssuerUnreachable {
            issuer: issuer.clone(),
            reason,
        };
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .append_pair("client_id", &intro.client_id)
            .append_pair("client_secret", &intro.client_secret)
            .finish();
        let resp = http
            .send(HttpRequest {
                method: "POST",
                url: intro.endpoint.clone(),
                headers: vec![(
                    "content-type".into(),
                    "application/x-www-form-urlencoded".into(),
                )],
                body: body.into_bytes(),
            })
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        if resp.status != 200 {
            return Err(unavailable(format!(
                "introspection answered {}",
                resp.status
            )));
        }
        let claims: Map<String, Value> = serde_json::from_slice(&resp.body)
            .map_err(|e| unavailable(format!("introspection answer: {e}")))?;
        if claims.get("active") != Some(&Value::Bool(true)) {
            return Err(Rejection::Inactive { issuer });
        }
        if let Some(tt) = claims.get("token_type").and_then(Value::as_str)
            && !(tt.eq_ignore_ascii_case("bearer")
                || tt.eq_ignore_ascii_case("dpop")
                || tt == "access_token")
        {
            return Err(Rejection::WrongType {
                expected: "access token".into(),
                found: Some(tt.to_owned()),
                hint: None,
            });
        }
        if claims
            .get("iss")
            .and_then(Value::as_str)
            .is_some_and(|i| i != issuer)
        {
            return Err(Rejection::UnknownIssuer {
                found: claims["iss"].as_str().unwrap_or_default().to_owned(),
                trusted: vec![issuer],
                hint: None,
            });
        }
        let std = StdClaims::from_map(&claims)?;
        let mut run = Run::validating();
        self.check_claims(Some(state), &std, || claims.clone(), &mut run);
        if let Some(r) = run.first {
            return Err(r);
        }
        let (subject, scopes, client_id) = (
            std.sub.as_deref().map(str::to_owned),
            std.scopes(state.config.read_scp),
            std.client_id.as_deref().map(str::to_owned),
        );
        drop(std);
        Ok(ValidatedToken {
            issuer,
            subject,
            scopes,
            client_id,
            kid: None,
            alg: None,
            read_scp: state.config.read_scp,
            payload: Vec::new(),
            claims: std::sync::OnceLock::from(claims),
        })
    }
}
