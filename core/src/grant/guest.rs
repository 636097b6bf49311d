//! The guest grant (`urn:idpkit:params:oauth:grant-type:guest`) and the upgrade of a
//! guest token at login; the rules are in [`crate::guest`].
//!
//! The upgrade redeems an authorization code like the `authorization_code` grant (the same
//! [`authorization_code::check`], the same [`redeem`]: writes, then the code's atomic
//! consume, the one winner) and, in the same store call, replaces the guest token's record:
//! an opaque guest token's record now names the user (same value), a JWT guest token's
//! revocation handle is ended (the JWT is revoked; a new one is returned). Every check runs
//! before anything is written; a claim counter (one atomic `increment`) lets one upgrade
//! of a token proceed at a time across instances; a lost race puts the guest record back.

use async_trait::async_trait;

use super::{Grant, GrantContext, TokenResponse, authorization_code, bearer_body, redeem};
use crate::client::{AccessTokenFormat, GrantType};
use crate::error::OAuthError;
use crate::guest::{self, GuestMerge};
use crate::records::{AccessRecord, CodeRecord, Write};
use crate::store::RecordKind;
use crate::token::{Shape, lookup};
use crate::{scope, throttle};

/// `grant_type=urn:idpkit:params:oauth:grant-type:guest`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Guest;

#[async_trait]
impl Grant for Guest {
    fn grant_type(&self) -> &str {
        GrantType::Guest.as_str()
    }

    async fn exchange(&self, ctx: &GrantContext<'_>) -> Result<TokenResponse, OAuthError> {
        let scopes = scope::parse(ctx.params.get("scope")?);
        scope::check_allowed(ctx.client, &scopes)?;
        guest::check_scopes(&scopes)?;
        count(ctx).await?;
        let subject = guest::new_subject();
        // Each guest token is its own grant family: revocable, and never part of a user's.
        let grant_id = crate::crypto::random_token();
        let ttl = guest::ttl(ctx.client, ctx.services.config);
        let shape = Shape {
            format: ctx.client.guest_token_format,
            ttl,
            guest: true,
        };
        let (token, write) = ctx
            .minter()
            .shaped_access_token(
                ctx.client,
                Some(&subject),
                &scopes,
                Some(&grant_id),
                None,
                shape,
            )
            .await?;
        ctx.records().put_all(write.into_iter().collect()).await?;
        Ok(TokenResponse(bearer_body(token, ttl, &scopes)))
    }
}

/// Guest tokens are asked for without credentials and stored for their lifetime: bounded
/// per source, then per client (a flood refused at its source uses up nobody else's
/// allowance), 429 past the limit. Without a source (the glue did not say) only the
/// client's bound applies.
async fn count(ctx: &GrantContext<'_>) -> Result<(), OAuthError> {
    let limits = &ctx.services.config.rate_limits;
    let source = ctx.source.map(crate::rate_limit::source_key);
    let counts = [
        (
            "guest-source",
            source.as_deref(),
            limits.guest_tokens_per_source,
        ),
        (
            "guest-client",
            Some(ctx.client.id.as_str()),
            limits.guest_tokens_per_client,
        ),
    ];
    let counts: Vec<_> = counts
        .into_iter()
        .filter_map(|(scope, key, limit)| key.map(|k| (scope, k, limit)))
        .collect();
    throttle::count_each(ctx.services.grants, &counts, ctx.now)
        .await?
        .map_err(|t| t.into_error("too many guest tokens were asked for; try again later"))
}

/// Who asks for an upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    /// A client at the token endpoint (`ctx.client` authenticated it): the code is checked
    /// against it first, as any code is, then the guest token.
    Client,
    /// The host ([`crate::Provider::upgrade_guest`]): `ctx.client` is the guest token's
    /// client, which the code must have been issued to.
    Host,
}

/// A guest token upgraded to a user's.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UpgradedGuest {
    /// The token response of the redeemed code: `access_token` (the guest token's own
    /// value when it was opaque, a new token when it was a JWT), `token_type`,
    /// `expires_in`, `scope`, and `id_token` / `refresh_token` when the code's scopes ask
    /// for them (`openid`; `offline_access` with the refresh grant).
    pub response: TokenResponse,
    /// The access token that now names the user.
    pub access_token: String,
    /// `true` when the guest token was a JWT: it is revoked, use `access_token` instead.
    pub replaced: bool,
    /// The guest's subject.
    pub guest_subject: String,
    /// The user's subject.
    pub subject: String,
    /// The client.
    pub client_id: String,
}

/// Upgrades `guest_token` with the code in `ctx.params` (`code`, `code_verifier`,
/// `redirect_uri`), for `caller`.
pub(crate) async fn upgrade(
    ctx: &GrantContext<'_>,
    guest_token: &str,
    caller: Caller,
) -> Result<UpgradedGuest, OAuthError> {
    let invalid_code = authorization_code::invalid;
    // The code, as the authorization_code grant loads it: a replay revokes its grant
    // family (RFC 6749 §4.1.2) and changes nothing else (the guest token stays a guest's).
    let (code_id, stored) = ctx.presented::<CodeRecord>("code", invalid_code).await?;
    let grant_id = stored.grant_id.clone().unwrap_or_default();
    if stored.consumed_at.is_some() {
        return Err(authorization_code::reused(ctx, &grant_id).await);
    }
    let rec = stored.value;
    if caller == Caller::Host && rec.client_id != ctx.client.id {
        return Err(guest::another_client());
    }
    authorization_code::check(
        &rec,
        ctx.client,
        ctx.params.get("redirect_uri")?,
        ctx.params.get("code_verifier")?,
    )?;
    let active = lookup::access_token(ctx.services, guest_token, ctx.now).await?;
    guest::check_guest(active.as_ref(), &ctx.client.id)?;
    // A guest token always has a record: the opaque token's, or the JWT's handle.
    let Some((active, guest_record_id)) =
        active.and_then(|a| a.record_id.clone().map(|id| (a, id)))
    else {
        return Err(guest::invalid_guest());
    };
    guest::check_user(&rec.subject)?;
    let Some(guest_record) = ctx
        .records()
        .get::<AccessRecord>(&guest_record_id, ctx.now)
        .await?
    else {
        return Err(guest::invalid_guest());
    };
    let guest_subject = active.subject.clone().unwrap_or_default();
    let g = ctx
        .approved_grant(
            &rec.subject,
            &rec.scopes,
            rec.nonce.as_deref(),
            &grant_id,
            rec.auth_time,
            rec.sid.as_deref(),
        )
        .await?;
    // The upgrade mints its own access token (the guest's, reassigned): resource
    // indicators and authorization details of the code do not apply to it (the
    // approved grant has none).
    let minter = ctx.minter();
    let replaced = guest_record.value.jwt;
    let (access, guest_replacement) = if replaced {
        // A JWT cannot change its subject: a new token for the user, and the guest's
        // revocation handle ended (replaced by an expired record) in the same store call, in the user's
        // grant family so that a lost race's revocation removes it with the rest.
        let shape = Shape {
            format: AccessTokenFormat::Jwt,
            ttl: minter.access_ttl(ctx.client),
            guest: false,
        };
        let access = minter
            .shaped_access_token(
                ctx.client,
                Some(g.subject),
                g.scopes,
                Some(g.grant_id),
                Some(g.auth_time),
                shape,
            )
            .await?;
        // Expired long ago rather than `now`: an instance whose clock is a little behind
        // must not see the handle alive.
        let ended = Write::new(
            guest_record_id.clone(),
            &guest_record.value,
            Some(&grant_id),
            time::OffsetDateTime::UNIX_EPOCH,
        );
        (access, Some(ended))
    } else {
        // The same opaque value, now the user's.
        let write = minter.reassigned_opaque(ctx.client, &guest_record_id, &g);
        ((guest_token.to_owned(), Some(write)), None)
    };
    let mut issued = minter.user_tokens_with(ctx.client, g, access).await?;
    issued.writes.extend(guest_replacement);
    let access_token = issued
        .body
        .get("access_token")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned();

    // One upgrade of a token at a time, across instances: two upgrades with two different
    // codes would otherwise both win their codes' consumes.
    let grants = ctx.services.grants;
    let claim = crate::rate_limit::counter_id("guest-upgrade", &[&guest_record_id]);
    if grants
        .increment(&claim, ctx.now + guest::CLAIM_TTL, ctx.now)
        .await?
        > 1
    {
        return Err(OAuthError::invalid_grant(
            "the guest token is being upgraded by another request",
        ));
    }
    let release = || async {
        if let Err(e) = grants.delete(RecordKind::Counter, &claim).await {
            tracing::warn!(error = %e, "idpkit: could not release a guest upgrade's claim; it expires by itself");
        }
    };
    let merge = GuestMerge {
        guest_subject: guest_subject.clone(),
        user_subject: rec.subject.clone(),
        client_id: ctx.client.id.clone(),
    };
    if let Some(hook) = ctx.services.guest_upgrade_hook
        && let Err(e) = hook.merge(&merge).await
    {
        release().await;
        return Err(e.into());
    }
    let restore = Write::new(
        guest_record_id.clone(),
        &guest_record.value,
        guest_record.grant_id.as_deref(),
        guest_record.expires_at,
    );
    let redeemed = redeem(
        ctx,
        RecordKind::AuthorizationCode,
        &code_id,
        &grant_id,
        issued,
        invalid_code,
    )
    .await;
    let issued = match redeemed {
        Ok((issued, _)) => issued,
        Err(e) => {
            // The code was replayed or expired meanwhile: whatever was written is revoked
            // or deleted, the guest record among it; the guest token is put back.
            if let Err(put) = ctx.records().put(restore).await {
                tracing::error!(error = %put, "idpkit: a guest token could not be restored after a failed upgrade");
            }
            release().await;
            return Err(e);
        }
    };
    release().await;
    tracing::info!(
        client_id = %crate::logging::untrusted(&ctx.client.id),
        replaced,
        "idpkit: guest token upgraded at login"
    );
    Ok(UpgradedGuest {
        response: TokenResponse(issued.body),
        access_token,
        replaced,
        guest_subject,
        subject: merge.user_subject,
        client_id: merge.client_id,
    })
}
