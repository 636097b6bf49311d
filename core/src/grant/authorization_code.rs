//! The authorization code grant at the token endpoint (RFC 6749 §4.1.3, PKCE RFC 7636 §4.6).
//!
//! "Handle": [`check`] is the sync list of MUSTs between a stored code and a token request.
//! "Populate": the tokens are minted, then written together with the code's consumption.

use async_trait::async_trait;

use super::{Grant, GrantContext, TokenResponse, redeem};
use crate::client::{Client, GrantType};
use crate::error::OAuthError;
use crate::pkce;
use crate::records::CodeRecord;
use crate::resource_indicator;
use crate::store::RecordKind;

/// `grant_type=authorization_code`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AuthorizationCode;

pub(crate) fn invalid() -> OAuthError {
    OAuthError::invalid_grant("the authorization code is invalid, expired or already used")
}

/// The MUSTs of RFC 6749 §4.1.3 and RFC 7636 §4.6 for a code `rec` presented by `client`
/// with `redirect_uri` and `code_verifier` (as sent).
pub(crate) fn check(
    rec: &CodeRecord,
    client: &Client,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
) -> Result<(), OAuthError> {
    // "ensure that the authorization code was issued to the authenticated confidential
    // client, or if the client is public, ensure that the code was issued to client_id"
    if rec.client_id != client.id {
        return Err(invalid());
    }
    // "ensure that the redirect_uri parameter is present if the redirect_uri parameter was
    // included in the initial authorization request ..., and if included ensure that their
    // values are identical."
    match redirect_uri {
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
    match (rec.code_challenge.as_deref(), code_verifier) {
        (Some(challenge), Some(verifier)) => pkce::verify(verifier, challenge),
        (Some(_), None) => Err(OAuthError::invalid_grant(
            "code_verifier is required (PKCE)",
        )),
        // RFC 9700 §2.1.1: a verifier for a code issued without a challenge is a PKCE
        // downgrade attempt.
        (None, Some(_)) => Err(OAuthError::invalid_grant(
            "code_verifier sent for a code issued without code_challenge",
        )),
        (None, None) => Ok(()),
    }
}

/// RFC 6749 §4.1.2: "If an authorization code is used more than once, the authorization
/// server MUST deny the request and SHOULD revoke (when possible) all tokens previously
/// issued based on that authorization code."
pub(crate) async fn reused(ctx: &GrantContext<'_>, grant_id: &str) -> OAuthError {
    super::replayed(ctx, grant_id, invalid).await
}

#[async_trait]
impl Grant for AuthorizationCode {
    fn grant_type(&self) -> &str {
        GrantType::AuthorizationCode.as_str()
    }

    async fn exchange(&self, ctx: &GrantContext<'_>) -> Result<TokenResponse, OAuthError> {
        // With `guest_token`, the code upgrades that guest token (the same checks, then the
        // guest token names the user; see `grant/guest.rs`).
        if let Some(guest_token) = ctx.params.get("guest_token")? {
            return super::guest::upgrade(ctx, guest_token, super::guest::Caller::Client)
                .await
                .map(|u| u.response);
        }
        let (id, stored) = ctx.presented::<CodeRecord>("code", invalid).await?;
        let grant_id = stored.grant_id.clone().unwrap_or_default();
        if stored.consumed_at.is_some() {
            return Err(reused(ctx, &grant_id).await);
        }
        let rec = stored.value;
        check(
            &rec,
            ctx.client,
            ctx.params.get("redirect_uri")?,
            ctx.params.get("code_verifier")?,
        )?;
        // RFC 8707 §2.2: the token request may name a subset of the authorized resources.
        let resources = resource_indicator::narrow(
            &rec.resources,
            resource_indicator::requested(ctx.params, &ctx.services.config.resources)?,
        )?;
        // RFC 9449 §10: a code bound with `dpop_jkt` is redeemed with a proof of that key.
        crate::dpop::check_bound("authorization code", rec.dpop_jkt.as_deref(), ctx.dpop_jkt)?;
        let mut grant = ctx
            .approved_grant_requesting(
                &rec.subject,
                &rec.scopes,
                rec.nonce.as_deref(),
                &grant_id,
                rec.auth_time,
                rec.sid.as_deref(),
                Some(&rec.claims).filter(|c| !c.is_empty()),
            )
            .await?;
        grant.resources = &resources;
        grant.refresh_resources = &rec.resources;
        grant.authorization_details = &rec.authorization_details;
        let issued = ctx.minter().user_tokens(ctx.client, grant).await?;
        let (issued, _) = redeem(
            ctx,
            RecordKind::AuthorizationCode,
            &id,
            &grant_id,
            issued,
            invalid,
        )
        .await?;
        Ok(TokenResponse(issued.body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    const CB: &str = "https://app.example/cb";
    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn client(id: &str) -> Client {
        Client::confidential(id, "s")
            .redirect_uri(CB)
            .build()
            .expect("valid")
    }

    fn code(challenge: Option<&str>, sent: bool) -> CodeRecord {
        CodeRecord {
            claims: Default::default(),
            client_id: "web".into(),
            redirect_uri: CB.into(),
            redirect_uri_sent: sent,
            scopes: vec!["openid".into()],
            nonce: None,
            code_challenge: challenge.map(str::to_owned),
            subject: "alice".into(),
            auth_time: 0,
            sid: None,
            resources: Vec::new(),
            authorization_details: Vec::new(),
            dpop_jkt: None,
        }
    }

    fn code_of(r: Result<(), OAuthError>) -> ErrorCode {
        r.expect_err("refused").code
    }

    #[test]
    fn a_matching_request_passes() {
        assert!(check(&code(None, true), &client("web"), Some(CB), None).is_ok());
        assert!(
            check(
                &code(Some(CHALLENGE), false),
                &client("web"),
                None,
                Some(VERIFIER)
            )
            .is_ok()
        );
    }

    #[test]
    fn a_code_is_bound_to_its_client_rfc6749_4_1_3() {
        let e = check(&code(None, false), &client("other"), None, None).expect_err("foreign");
        assert_eq!(e.code, ErrorCode::InvalidGrant);
        assert_eq!(
            e.description,
            invalid().description,
            "no hint that the code exists"
        );
    }

    #[test]
    fn the_redirect_uri_must_be_identical_when_sent_rfc6749_4_1_3() {
        let c = client("web");
        assert_eq!(
            code_of(check(
                &code(None, true),
                &c,
                Some("https://app.example/cb/"),
                None
            )),
            ErrorCode::InvalidGrant
        );
        assert_eq!(
            code_of(check(
                &code(None, false),
                &c,
                Some("https://evil.example/cb"),
                None
            )),
            ErrorCode::InvalidGrant,
            "not sent at authorize, but a wrong one is still wrong"
        );
    }

    #[test]
    fn the_redirect_uri_is_required_when_the_request_had_it_rfc6749_4_1_3() {
        let e = check(&code(None, true), &client("web"), None, None).expect_err("missing");
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(check(&code(None, false), &client("web"), None, None).is_ok());
    }

    #[test]
    fn a_challenged_code_needs_the_right_verifier_rfc7636_4_6() {
        let c = client("web");
        let challenged = code(Some(CHALLENGE), false);
        assert_eq!(
            code_of(check(&challenged, &c, None, None)),
            ErrorCode::InvalidGrant
        );
        let wrong = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK";
        assert_eq!(
            code_of(check(&challenged, &c, None, Some(wrong))),
            ErrorCode::InvalidGrant
        );
        assert_eq!(
            code_of(check(&challenged, &c, None, Some("short"))),
            ErrorCode::InvalidGrant
        );
    }

    #[test]
    fn a_verifier_for_an_unchallenged_code_is_a_downgrade_rfc9700_2_1_1() {
        let e =
            check(&code(None, false), &client("web"), None, Some(VERIFIER)).expect_err("downgrade");
        assert_eq!(e.code, ErrorCode::InvalidGrant);
        assert!(e.description.contains("without code_challenge"));
    }

    // The `Grant` impl, through the token endpoint (what `check` does not cover).

    #[tokio::test]
    async fn the_grant_answers_to_grant_type_authorization_code_rfc6749_4_1_3() {
        let env = super::super::test_env::env(|b| b);
        let code = env.code("web", "openid").await;
        let (status, body) = env.exchange("web", &code).await;
        assert_eq!(status, 200, "{body}");
        assert!(body["access_token"].is_string());
    }

    #[tokio::test]
    async fn a_refresh_token_needs_offline_access_and_the_refresh_grant_oidc_core_11() {
        let env = super::super::test_env::env(|b| b);
        for (client, scope, refresh) in [
            ("web", "openid offline_access", true),
            ("web", "openid", false),
            ("no-refresh", "openid offline_access", false),
        ] {
            let code = env.code(client, scope).await;
            let (status, body) = env.exchange(client, &code).await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(
                body.get("refresh_token").is_some(),
                refresh,
                "{client} / {scope}"
            );
        }
    }

    #[tokio::test]
    async fn a_reused_code_is_refused_and_revokes_what_it_issued_rfc6749_4_1_2() {
        let env = super::super::test_env::env(|b| b);
        let code = env.code("web", "openid offline_access").await;
        let (_, first) = env.exchange("web", &code).await;
        let (status, again) = env.exchange("web", &code).await;
        assert_eq!(
            (status, again["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        let refresh = first["refresh_token"].as_str().expect("refresh token");
        let (status, body) = env
            .token(
                "web",
                &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
            )
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "the first exchange's refresh token is revoked"
        );
    }

    #[test]
    fn the_client_is_checked_before_anything_else() {
        // A foreign client learns nothing about the code's redirect URI or PKCE.
        let e =
            check(&code(Some(CHALLENGE), true), &client("other"), None, None).expect_err("foreign");
        assert_eq!(e.description, invalid().description);
    }
}
