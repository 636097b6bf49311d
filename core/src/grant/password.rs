//! The resource owner password credentials grant (RFC 6749 §4.3): off unless a client opts
//! in ([`crate::ClientBuilder::dangerous_allow_password_grant`]); RFC 9700 §2.4 says it
//! MUST NOT be used, so it exists only for migrations.

use async_trait::async_trait;

use super::{Grant, GrantContext, TokenResponse};
use crate::client::GrantType;
use crate::crypto;
use crate::error::OAuthError;
use crate::scope;
use crate::token::UserGrant;

/// `grant_type=password`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Password;

#[async_trait]
impl Grant for Password {
    fn grant_type(&self) -> &str {
        GrantType::Password.as_str()
    }

    async fn exchange(&self, ctx: &GrantContext<'_>) -> Result<TokenResponse, OAuthError> {
        let username = ctx.params.require("username")?;
        let password = ctx.params.require("password")?;
        let scopes = scope::parse(ctx.params.get("scope")?);
        scope::check_allowed(ctx.client, &scopes)?;
        // RFC 6749 §4.3.2: "MUST protect the endpoint against brute force attacks".
        let guard = ctx.login_guard();
        guard.check(username, ctx.source).await?;
        let Some(subject) = ctx.services.users.authenticate(username, password).await? else {
            guard.failed(username, ctx.source).await?;
            return Err(OAuthError::invalid_grant("wrong username or password"));
        };
        guard.succeeded(username).await?;
        let grant_id = crypto::random_token();
        let id_token = ctx.vouched_user(&subject, &scopes, None, None).await?;
        let refresh =
            ctx.client.allows_grant(GrantType::RefreshToken) && scope::is_offline(&scopes);
        let mut issued = ctx
            .minter()
            .user_tokens(
                ctx.client,
                UserGrant {
                    subject: &subject,
                    scopes: &scopes,
                    refresh_scopes: &scopes,
                    grant_id: &grant_id,
                    auth_time: ctx.now.unix_timestamp(),
                    id_token,
                    refresh,
                    sid: None,
                    resources: &[],
                    refresh_resources: &[],
                    authorization_details: &[],
                    claims: None,
                },
            )
            .await?;
        ctx.records()
            .put_all(std::mem::take(&mut issued.writes))
            .await?;
        Ok(TokenResponse(issued.body))
    }
}
