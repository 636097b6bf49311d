//! The token-exchange grant (RFC 8693 §2): `grant_type=urn:ietf:params:oauth:grant-type:token-exchange`.
//!
//! Loads the subject and actor tokens (this provider's access tokens through
//! [`crate::token::lookup`], trusted issuers' JWTs through the host's [`Validator`]), asks
//! the host's [`TokenExchangePolicy`], applies the rules of [`crate::token_exchange`]
//! (target, scope, lifetime, `act`), then mints and writes one access token. Nothing is
//! written before every check passed; no refresh token is issued (§2.2.1).

use std::sync::Arc;

use async_trait::async_trait;

use super::{Grant, GrantContext, TokenResponse, bearer_body};
use crate::client::AccessTokenFormat;
use crate::error::OAuthError;
use crate::token::AccessSpec;
use crate::token_exchange::{
    self as rules, ExchangeRequest, ExchangeToken, Presented, TokenExchangePolicy, TokenType,
};
use crate::validate::Validator;

/// The grant, with the host's policy and (opt-in) trusted issuers.
#[derive(Clone)]
pub(crate) struct TokenExchange {
    pub policy: Arc<dyn TokenExchangePolicy>,
    /// Verifies `id_token` and `jwt` subject and actor tokens; `None`: only this
    /// provider's access tokens are accepted.
    pub trust: Option<Arc<Validator>>,
}

/// A resolved token with what the grant needs besides the policy's view.
struct Resolved {
    token: ExchangeToken,
    grant_id: Option<String>,
    auth_time: Option<i64>,
    iat: i64,
}

impl TokenExchange {
    /// The live token `p` names, or `invalid_request` for `param`.
    async fn resolve(
        &self,
        ctx: &GrantContext<'_>,
        p: Presented<'_>,
        param: &str,
    ) -> Result<Resolved, OAuthError> {
        match p.token_type {
            TokenType::AccessToken => {
                let active = crate::token::lookup::access_token(ctx.services, p.token, ctx.now)
                    .await?
                    .ok_or_else(|| rules::invalid_token(param))?;
                if active.guest {
                    // A guest has no user to act for: exchanging its token would need the
                    // user store to vouch for an anonymous subject (and its refusal would
                    // revoke the guest's token).
                    return Err(OAuthError::invalid_request(format!(
                        "{param} is a guest token; guest tokens cannot be exchanged"
                    )));
                }
                Ok(Resolved {
                    token: ExchangeToken {
                        token_type: TokenType::AccessToken,
                        issuer: ctx.services.config.issuer.clone(),
                        own: true,
                        user: active.subject.is_some(),
                        // The local user (a pairwise client's token carries another
                        // `sub`, OIDC Core §8.1), else the token's client.
                        sub: active.subject.unwrap_or(active.sub),
                        client_id: Some(active.client_id),
                        aud: active.aud,
                        scopes: Some(active.scopes),
                        exp: active.exp,
                        act: active.act,
                    },
                    grant_id: active.grant_id,
                    auth_time: active.auth_time,
                    iat: active.iat,
                })
            }
            TokenType::IdToken | TokenType::Jwt => {
                let Some(trust) = &self.trust else {
                    return Err(OAuthError::invalid_request(format!(
                        "{param} type {} is not accepted here: only {} (no trusted issuers are configured)",
                        p.token_type.as_str(),
                        TokenType::AccessToken.as_str()
                    )));
                };
                if !p.token.contains('.') {
                    return Err(rules::invalid_token(param));
                }
                let v = trust.validate(p.token).await.map_err(|r| {
                    tracing::debug!(param, rejection = %r, "idpkit: token exchange refused a foreign token");
                    rules::invalid_token(param)
                })?;
                let int = |name: &str| v.claim(name).and_then(serde_json::Value::as_i64);
                let (Some(sub), Some(exp)) = (v.subject.clone(), int("exp")) else {
                    return Err(rules::invalid_token(param));
                };
                let aud = match v.claim("aud") {
                    Some(serde_json::Value::String(a)) => vec![a.clone()],
                    Some(serde_json::Value::Array(a)) => a
                        .iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect(),
                    _ => Vec::new(),
                };
                let has_scopes = v.claim("scope").is_some() || v.claim("scp").is_some();
                let client_id = v.client_id.clone().or_else(|| {
                    v.claim("azp")
                        .and_then(serde_json::Value::as_str)
                        .map(str::to_owned)
                });
                Ok(Resolved {
                    token: ExchangeToken {
                        token_type: p.token_type,
                        own: v.issuer == ctx.services.config.issuer,
                        issuer: v.issuer.clone(),
                        sub,
                        user: true,
                        client_id,
                        aud,
                        scopes: has_scopes.then(|| v.scopes.clone()),
                        exp,
                        act: rules::act_of(v.claim("act")),
                    },
                    grant_id: None,
                    auth_time: int("auth_time"),
                    iat: int("iat").unwrap_or_else(|| ctx.now.unix_timestamp()),
                })
            }
        }
    }
}

#[async_trait]
impl Grant for TokenExchange {
    fn grant_type(&self) -> &str {
        rules::GRANT_TYPE
    }

    async fn exchange(&self, ctx: &GrantContext<'_>) -> Result<TokenResponse, OAuthError> {
        rules::check_client(ctx.client)?;
        let p = rules::parse(ctx.params)?;
        let subject = self.resolve(ctx, p.subject, "subject_token").await?;
        let actor = match p.actor {
            Some(a) => Some(self.resolve(ctx, a, "actor_token").await?),
            None => None,
        };
        let asked = p.scope.map(|s| crate::scope::parse(Some(s)));
        let request = ExchangeRequest {
            client: ctx.client,
            subject: &subject.token,
            actor: actor.as_ref().map(|a| &a.token),
            targets: &p.targets,
            scopes: asked.as_deref(),
        };
        let allowed = self.policy.decide(&request).await?;
        let aud = rules::audience(&p.targets, &allowed)?;
        let scopes = rules::scopes(p.scope, &subject.token, ctx.client, &allowed.max_scopes)?;
        let minter = ctx.minter();
        let ttl = rules::lifetime(
            ctx.now.unix_timestamp(),
            minter.access_ttl(ctx.client),
            subject.token.exp,
            actor.as_ref().map(|a| a.token.exp),
        )?;
        let act = rules::act_claim(
            &ctx.services.config.issuer,
            subject.token.act.as_ref(),
            actor.as_ref().map(|a| &a.token),
        )?;
        let sub = subject.token.sub.as_str();
        // A user's token joins the subject token's grant family, so revoking that grant
        // (logout, refresh-token reuse) revokes it too; a foreign token's user gets a
        // family of its own, as any user-bound token does.
        let grant_id = subject.token.user.then(|| {
            subject
                .grant_id
                .clone()
                .unwrap_or_else(crate::crypto::random_token)
        });
        let mut spec = AccessSpec {
            scopes: &scopes,
            aud: Some(aud),
            ttl: Some(ttl),
            act: act.as_ref(),
            format: (p.requested == TokenType::Jwt).then_some(AccessTokenFormat::Jwt),
            grant_id: grant_id.as_deref(),
            ..AccessSpec::default()
        };
        if subject.token.user {
            // The user must still exist (the UserStore contract); a foreign token's
            // subject must be a user of this host.
            ctx.vouched_user(sub, &scopes, None, subject.grant_id.as_deref())
                .await?;
            spec.subject = Some(sub);
            spec.auth_time = Some(subject.auth_time.unwrap_or(subject.iat));
        } else if sub != ctx.client.id {
            spec.client_subject = Some(sub);
        }
        let (token, write) = minter.access_token_as(ctx.client, &spec).await?;
        ctx.records().put_all(write.into_iter().collect()).await?;
        let mut body = bearer_body(token, ttl, &scopes);
        body.insert("issued_token_type".into(), p.requested.as_str().into());
        Ok(TokenResponse(body))
    }
}
