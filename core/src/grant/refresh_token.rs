//! The refresh token grant (RFC 6749 §6) with rotation and reuse detection
//! (RFC 9700 §4.14.2), and the optional one-retry grace window.

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

use super::{Grant, GrantContext, Redeemed, TokenResponse, redeem};
use crate::client::{Client, GrantType};
use crate::error::OAuthError;
use crate::records::{AccessRecord, GraceRecord, RefreshRecord, Taken, Write};
use crate::store::RecordKind;
use crate::token::UserGrant;
use crate::token::refresh_token::absolute_end;
use crate::{resource_indicator, scope};

/// `grant_type=refresh_token`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RefreshToken;

fn invalid() -> OAuthError {
    OAuthError::invalid_grant("the refresh token is invalid, expired or revoked")
}

/// The checks of RFC 6749 §6 for a refresh token `rec` presented by `client` at `now` with
/// the `scope` parameter as sent: the token is bound to its client, its grant is within
/// its absolute lifetime `absolute_ttl` (see [`expiry`]), and the scope may narrow but never
/// widen. Returns the scopes of the new access token.
pub(crate) fn check(
    rec: &RefreshRecord,
    client: &Client,
    scope_param: Option<&str>,
    now: OffsetDateTime,
    absolute_ttl: Duration,
) -> Result<Vec<String>, OAuthError> {
    // "the authorization server MUST ... validate the refresh token [and] ensure that it
    // was issued to the authenticated client".
    if rec.client_id != client.id {
        return Err(invalid());
    }
    // Tokens stored before the absolute lifetime existed carry a sliding expiry only: the
    // check here ends them too.
    if now >= absolute_end(rec.auth_time, absolute_ttl) {
        return Err(OAuthError::invalid_grant(
            "the grant has reached its absolute lifetime; the user must sign in again",
        ));
    }
    scope::narrow(&rec.scopes, scope_param)
}

/// A rotated refresh token came back. Inside the grace window, once, and only while the
/// successor of the first rotation is itself unused, it is a retry: the successor (and its
/// access tokens) are revoked and the tokens just issued stand. Anything else is reuse: the
/// whole family is revoked (RFC 9700 §4.14.2).
pub(crate) async fn replayed(
    ctx: &GrantContext<'_>,
    id: &str,
    grant_id: &str,
) -> Result<(), OAuthError> {
    let records = ctx.records();
    if ctx.services.config.refresh_reuse_grace.is_some()
        && let Taken::Consumed(g) = records.consume::<GraceRecord>(id, ctx.now).await?
    {
        let successor = records
            .get::<RefreshRecord>(&g.successor_id, ctx.now)
            .await?;
        if successor.is_some_and(|s| s.consumed_at.is_none()) {
            records.delete::<RefreshRecord>(&g.successor_id).await?;
            for handle in &g.access_token_ids {
                records.delete::<AccessRecord>(handle).await?;
            }
            tracing::info!("idpkit: refresh token retried inside the grace window");
            return Ok(());
        }
    }
    let n = ctx.services.grants.revoke_grant(grant_id).await?;
    tracing::warn!(
        revoked = n,
        "idpkit: refresh token reuse detected; the grant family was revoked"
    );
    Err(invalid())
}

#[async_trait]
impl Grant for RefreshToken {
    fn grant_type(&self) -> &str {
        GrantType::RefreshToken.as_str()
    }

    async fn exchange(&self, ctx: &GrantContext<'_>) -> Result<TokenResponse, OAuthError> {
        let (id, stored) = ctx
            .presented::<RefreshRecord>("refresh_token", invalid)
            .await?;
        let grant_id = stored.grant_id.clone().unwrap_or_default();
        let rec = stored.value;
        let scopes = check(
            &rec,
            ctx.client,
            ctx.params.get("scope")?,
            ctx.now,
            ctx.minter().refresh_absolute_ttl(ctx.client),
        )?;
        // RFC 8707 §2.2: a refresh may name a subset of the authorized resources; the new
        // refresh token keeps them all, as it keeps the scopes (RFC 6749 §6).
        let resources = resource_indicator::narrow(
            &rec.resources,
            resource_indicator::requested(ctx.params, &ctx.services.config.resources)?,
        )?;
        // RFC 9449 §5: a public client's refresh token bound to a DPoP key is used only
        // with a proof of that key.
        crate::dpop::check_bound("refresh token", rec.jkt.as_deref(), ctx.dpop_jkt)?;
        let id_token = ctx
            .vouched_user_requesting(
                &rec.subject,
                &scopes,
                None,
                Some(&grant_id),
                Some(&rec.claims),
            )
            .await?;
        let issued = ctx
            .minter()
            .user_tokens(
                ctx.client,
                UserGrant {
                    subject: &rec.subject,
                    scopes: &scopes,
                    // "the new refresh token ... MUST be identical in scope to that of the
                    // refresh token included by the client in the request" (§6).
                    refresh_scopes: &rec.scopes,
                    grant_id: &grant_id,
                    auth_time: rec.auth_time,
                    id_token,
                    refresh: true,
                    sid: rec.sid.as_deref(),
                    resources: &resources,
                    refresh_resources: &rec.resources,
                    authorization_details: &rec.authorization_details,
                    // OIDC Core §5.5: the requested claims stay with the grant.
                    claims: Some(&rec.claims).filter(|c| !c.is_empty()),
                },
            )
            .await?;
        let grace = ctx.services.config.refresh_reuse_grace.map(|window| {
            let record = GraceRecord {
                successor_id: issued.refresh_id.clone().unwrap_or_default(),
                access_token_ids: issued
                    .writes
                    .iter()
                    .filter(|w| w.kind == RecordKind::AccessToken)
                    .map(|w| w.id.clone())
                    .collect(),
            };
            (record, ctx.now + window)
        });
        let (issued, how) = redeem(
            ctx,
            RecordKind::RefreshToken,
            &id,
            &grant_id,
            issued,
            invalid,
        )
        .await?;
        // Only a first rotation opens a grace window; the one retry it allows opens none.
        if let (Some((g, expires_at)), Redeemed::First) = (grace, how) {
            ctx.records()
                .put(Write::new(id.clone(), &g, Some(&grant_id), expires_at))
                .await?;
        }
        Ok(TokenResponse(issued.body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::token::refresh_token::expiry;

    const AUTH_TIME: i64 = 1_700_000_000;

    fn rec() -> RefreshRecord {
        RefreshRecord {
            claims: Default::default(),
            client_id: "web".into(),
            subject: "alice".into(),
            scopes: vec!["openid".into(), "profile".into(), "offline_access".into()],
            auth_time: AUTH_TIME,
            iat: AUTH_TIME,
            sid: None,
            resources: Vec::new(),
            authorization_details: Vec::new(),
            jkt: None,
        }
    }

    fn at(secs_after_auth: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(AUTH_TIME + secs_after_auth).expect("in range")
    }

    const ABSOLUTE: Duration = Duration::days(30);

    fn check(
        rec: &RefreshRecord,
        client: &Client,
        scope: Option<&str>,
    ) -> Result<Vec<String>, OAuthError> {
        super::check(rec, client, scope, at(60), ABSOLUTE)
    }

    #[test]
    fn a_grant_ends_at_its_absolute_lifetime_however_often_refreshed_rfc9700_4_14_2() {
        let c = client("web");
        let just_before = at(ABSOLUTE.whole_seconds() - 1);
        assert!(super::check(&rec(), &c, None, just_before, ABSOLUTE).is_ok());
        let e = super::check(&rec(), &c, None, at(ABSOLUTE.whole_seconds()), ABSOLUTE)
            .expect_err("past the absolute lifetime");
        assert_eq!(e.code, ErrorCode::InvalidGrant);
        assert!(
            e.description.contains("absolute lifetime"),
            "{}",
            e.description
        );
    }

    #[test]
    fn a_new_refresh_token_expires_at_the_sliding_ttl_cut_at_the_absolute_end() {
        let sliding = Duration::days(14);
        assert_eq!(
            expiry(at(0), AUTH_TIME, sliding, ABSOLUTE),
            Some(at(0) + sliding),
            "sliding first"
        );
        assert_eq!(
            expiry(
                at(Duration::days(20).whole_seconds()),
                AUTH_TIME,
                sliding,
                ABSOLUTE
            ),
            Some(at(ABSOLUTE.whole_seconds())),
            "cut at the absolute end"
        );
        assert_eq!(
            expiry(at(ABSOLUTE.whole_seconds()), AUTH_TIME, sliding, ABSOLUTE),
            None,
            "none once the end has passed"
        );
    }

    fn client(id: &str) -> Client {
        Client::confidential(id, "s")
            .redirect_uri("https://app.example/cb")
            .build()
            .expect("valid")
    }

    #[test]
    fn a_refresh_token_is_bound_to_its_client_rfc6749_6() {
        let e = check(&rec(), &client("other"), None).expect_err("foreign");
        assert_eq!(e.code, ErrorCode::InvalidGrant);
        assert_eq!(e.description, invalid().description);
    }

    #[test]
    fn no_scope_keeps_the_granted_scope_rfc6749_6() {
        assert_eq!(
            check(&rec(), &client("web"), None).expect("ok"),
            rec().scopes
        );
    }

    #[test]
    fn scope_may_narrow_but_never_widen_rfc6749_6() {
        assert_eq!(
            check(&rec(), &client("web"), Some("profile")).expect("narrowed"),
            vec!["profile"]
        );
        let e = check(&rec(), &client("web"), Some("openid email")).expect_err("widened");
        assert_eq!(e.code, ErrorCode::InvalidScope);
    }

    // The `Grant` impl, through the token endpoint: rotation, reuse, the grace window.

    use std::sync::Arc;

    use super::super::test_env::{Env, env};
    use crate::store::MemoryGrantStore;

    /// The refresh token of a code exchange at `web`.
    async fn first_refresh_token(env: &Env) -> String {
        let code = env.code("web", "openid offline_access").await;
        let (status, body) = env.exchange("web", &code).await;
        assert_eq!(status, 200, "{body}");
        body["refresh_token"]
            .as_str()
            .expect("refresh token")
            .to_owned()
    }

    async fn refresh(env: &Env, token: &str) -> (u16, serde_json::Value) {
        env.token(
            "web",
            &[("grant_type", "refresh_token"), ("refresh_token", token)],
        )
        .await
    }

    async fn active(env: &Env, access_token: &str) -> bool {
        let mut r = crate::http_types::Request::new(crate::http_types::Method::Post);
        r.params = crate::http_types::Params::from_pairs([
            ("token", access_token),
            ("client_id", "web"),
            ("client_secret", "s"),
        ]);
        env.provider.introspect(&r).await.json_value()["active"] == true
    }

    #[tokio::test]
    async fn the_grant_answers_to_grant_type_refresh_token_and_rotates_rfc6749_6() {
        let env = env(|b| b);
        let r1 = first_refresh_token(&env).await;
        let (status, body) = refresh(&env, &r1).await;
        assert_eq!(status, 200, "{body}");
        let r2 = body["refresh_token"].as_str().expect("rotated");
        assert_ne!(r2, r1);
    }

    #[tokio::test]
    async fn a_replayed_refresh_token_revokes_the_family_rfc9700_4_14_2() {
        let env = env(|b| b);
        let r1 = first_refresh_token(&env).await;
        let (_, t2) = refresh(&env, &r1).await;
        let (status, body) = refresh(&env, &r1).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        let (status, _) = refresh(&env, t2["refresh_token"].as_str().expect("rt")).await;
        assert_eq!(status, 400, "the successor is revoked with the family");
        let access = t2["access_token"].as_str().expect("at");
        assert!(!active(&env, access).await, "and so is its access token");
    }

    #[tokio::test]
    async fn a_retry_inside_the_grace_window_revokes_the_lost_rotation_and_its_access_token() {
        let env = env(|b| b.refresh_reuse_grace(Duration::seconds(10)));
        let r1 = first_refresh_token(&env).await;
        let (_, lost) = refresh(&env, &r1).await;
        let lost_access = lost["access_token"].as_str().expect("at");
        assert!(active(&env, lost_access).await);
        env.clock.advance(Duration::seconds(3));
        let (status, retry) = refresh(&env, &r1).await;
        assert_eq!(status, 200, "one retry inside the window: {retry}");
        assert!(
            !active(&env, lost_access).await,
            "the lost rotation's access token is revoked by the retry"
        );
        let (status, _) = refresh(&env, lost["refresh_token"].as_str().expect("rt")).await;
        assert_eq!(status, 400, "and so is its refresh token");
        let retry_access = retry["access_token"].as_str().expect("at");
        assert!(active(&env, retry_access).await, "the retry's tokens stand");
    }

    #[tokio::test]
    async fn turning_the_grace_window_off_ends_retries_at_once_rfc9700_4_14_2() {
        // A grace record written while the window was on is not honoured by an instance
        // (or restart) with it off: the replay is reuse.
        let store = Arc::new(MemoryGrantStore::new());
        let on = env(|b| {
            b.grant_store_arc(store.clone())
                .refresh_reuse_grace(Duration::seconds(10))
        });
        let r1 = first_refresh_token(&on).await;
        let (_, t2) = refresh(&on, &r1).await;
        let off = env(|b| b.grant_store_arc(store.clone()));
        let (status, _) = refresh(&off, &r1).await;
        assert_eq!(status, 400, "no retry without a grace window");
        let (status, _) = refresh(&off, t2["refresh_token"].as_str().expect("rt")).await;
        assert_eq!(status, 400, "the family is revoked");
    }
}
