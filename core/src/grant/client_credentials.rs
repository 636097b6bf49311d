//! The client credentials grant (RFC 6749 §4.4): the token's subject is the client itself;
//! there is no user, so no user scope, no ID token and no refresh token (§4.4.3).

use async_trait::async_trait;

use super::{Grant, GrantContext, TokenResponse, bearer_body};
use crate::client::{Client, GrantType};
use crate::error::{ErrorCode, OAuthError};
use crate::token::AccessSpec;
use crate::{authorization_details, resource_indicator, scope};

/// `grant_type=client_credentials`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientCredentials;

/// "The client credentials grant type MUST only be used by confidential clients" (§4.4);
/// returns the token's scopes.
pub(crate) fn check(client: &Client, scope_param: Option<&str>) -> Result<Vec<String>, OAuthError> {
    if !client.is_confidential() {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "client_credentials needs a confidential client",
        ));
    }
    scope::for_client_credentials(client, scope_param)
}

/// The namespaces of subjects and clients are kept apart: a token for the client itself
/// has `sub` = its `client_id` (RFC 9068 §2.2), so a client whose id is also a user's
/// subject (`user_has_client_id`) gets no such token, or a resource server could not tell
/// it from that user's (RFC 9068 §5: "not allowing client_id values that are the same as
/// subject identifiers"; RFC 9700 §4.15).
pub(crate) fn check_namespace(client: &Client, user_has_client_id: bool) -> Result<(), OAuthError> {
    if user_has_client_id {
        tracing::warn!(
            client_id = %crate::logging::untrusted(&client.id),
            "idpkit: a client_id equals a user subject; its client tokens are refused (RFC 9068 §5)"
        );
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client_id is also a user's subject; register the client under another id",
        ));
    }
    Ok(())
}

#[async_trait]
impl Grant for ClientCredentials {
    fn grant_type(&self) -> &str {
        GrantType::ClientCredentials.as_str()
    }

    async fn exchange(&self, ctx: &GrantContext<'_>) -> Result<TokenResponse, OAuthError> {
        let scopes = check(ctx.client, ctx.params.get("scope")?)?;
        let config = ctx.services.config;
        // RFC 8707 §2: the resources the token is for; RFC 9396 §6: what it may do.
        let resources = resource_indicator::requested(ctx.params, &config.resources)?;
        let details = authorization_details::parse(
            ctx.params.get("authorization_details")?,
            ctx.client,
            &config.authorization_details_types_supported,
            ctx.services.authorization_details_policy,
        )?;
        ctx.check_client_subject(&scopes).await?;
        let (aud, scopes) = match resource_indicator::target(&config.resources, &resources, &scopes)
        {
            Some((aud, scopes)) => (Some(aud), scopes),
            None => (None, scopes),
        };
        let minter = ctx.minter();
        let (access_token, write) = minter
            .access_token_as(
                ctx.client,
                &AccessSpec {
                    scopes: &scopes,
                    aud,
                    authorization_details: &details,
                    ..AccessSpec::default()
                },
            )
            .await?;
        ctx.records().put_all(write.into_iter().collect()).await?;
        let mut body = bearer_body(access_token, minter.access_ttl(ctx.client), &scopes);
        if let Some(details) = authorization_details::to_json(&details) {
            body.insert("authorization_details".into(), details);
        }
        Ok(TokenResponse(body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_named_like_a_user_gets_no_client_token_rfc9068_5() {
        let c = Client::confidential("alice", "s")
            .grant_types([GrantType::ClientCredentials])
            .build()
            .expect("valid");
        let e = check_namespace(&c, true).expect_err("collides");
        assert_eq!(e.code, ErrorCode::UnauthorizedClient);
        assert!(e.description.contains("subject"), "{}", e.description);
        assert!(check_namespace(&c, false).is_ok());
    }

    #[test]
    fn public_clients_cannot_use_client_credentials_rfc6749_4_4() {
        // ClientBuilder refuses a public client with this grant; a stored client that
        // somehow has it is still refused here.
        let mut c = Client::public("spa")
            .redirect_uri("https://a.example/cb")
            .build()
            .expect("valid");
        c.grant_types.push(GrantType::ClientCredentials);
        let e = check(&c, None).expect_err("public");
        assert_eq!(e.code, ErrorCode::UnauthorizedClient);
    }

    #[test]
    fn the_token_gets_the_registered_non_user_scopes_rfc6749_4_4_2() {
        let c = Client::confidential("m2m", "s")
            .grant_types([GrantType::ClientCredentials])
            .scopes(["api:read", "openid"])
            .build()
            .expect("valid");
        assert_eq!(check(&c, None).expect("ok"), vec!["api:read"]);
        assert_eq!(
            check(&c, Some("openid")).expect_err("user").code,
            ErrorCode::InvalidScope
        );
    }
}
