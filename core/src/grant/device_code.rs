//! The device authorization grant at the token endpoint (RFC 8628 §3.4, §3.5): the device
//! polls with its `device_code` until the user has decided.
//!
//! "Handle": [`crate::device_authorization::check`] is the sync list of rules between a
//! stored device code and a poll; the pace (`slow_down`) is kept in two store counters so
//! that polls at any instance count. "Populate": the tokens are minted, then written
//! together with the device code's consumption (single use).

use async_trait::async_trait;

use super::{Grant, GrantContext, TokenResponse, redeem};
use crate::client::GrantType;
use crate::device_authorization::{self as rules, invalid_device_code};
use crate::error::OAuthError;
use crate::rate_limit;
use crate::records::DeviceCodeRecord;
use crate::scope;
use crate::store::{RecordKind, StoreError, counter_value};
use crate::token::UserGrant;

/// `grant_type=urn:ietf:params:oauth:grant-type:device_code`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DeviceCode;

/// Whether this poll of device code `id` comes less than its interval after the previous
/// one, counting it. The interval grows by 5 seconds at each `slow_down` (RFC 8628 §3.5),
/// counted in a second counter that lives as long as the device code.
async fn too_soon(
    ctx: &GrantContext<'_>,
    id: &str,
    rec: &DeviceCodeRecord,
) -> Result<bool, StoreError> {
    let grants = ctx.services.grants;
    let slow_downs_id = rate_limit::counter_id("device-slow-downs", &[id]);
    let slow_downs = match grants
        .get(RecordKind::Counter, &slow_downs_id, ctx.now)
        .await?
    {
        Some(s) => counter_value(&s.record.payload).map_err(|reason| StoreError::Corrupt {
            kind: RecordKind::Counter.as_str(),
            id: slow_downs_id.clone(),
            reason,
        })?,
        None => 0,
    };
    let base = time::Duration::seconds(rec.interval);
    // The poll counter lives for the interval after the latest poll: a poll that finds it
    // alive came too soon.
    let polls_id = rate_limit::counter_id("device-polls", &[id]);
    let window_end =
        |slow_downs| ctx.now + rules::too_soon_window(rules::interval(base, slow_downs));
    let polls = grants
        .increment(&polls_id, window_end(slow_downs), ctx.now)
        .await?;
    if polls <= 1 {
        return Ok(false);
    }
    // Too soon: the interval grows for this and every later poll, starting now.
    grants
        .increment(&polls_id, window_end(slow_downs + 1), ctx.now)
        .await?;
    let code_end = time::OffsetDateTime::from_unix_timestamp(rec.expires_at)
        .unwrap_or(ctx.now)
        .max(ctx.now)
        + time::Duration::seconds(1);
    grants.increment(&slow_downs_id, code_end, ctx.now).await?;
    Ok(true)
}

#[async_trait]
impl Grant for DeviceCode {
    fn grant_type(&self) -> &str {
        GrantType::DeviceCode.as_str()
    }

    async fn exchange(&self, ctx: &GrantContext<'_>) -> Result<TokenResponse, OAuthError> {
        let (id, stored) = ctx
            .presented::<DeviceCodeRecord>("device_code", invalid_device_code)
            .await?;
        let grant_id = stored.grant_id.clone().unwrap_or_default();
        if stored.value.client_id != ctx.client.id {
            return Err(invalid_device_code());
        }
        if stored.consumed_at.is_some() {
            // Single use: a redeemed device code presented again is refused, and what it
            // was redeemed for is revoked, as for a reused authorization code.
            return Err(super::replayed(ctx, &grant_id, invalid_device_code).await);
        }
        let rec = stored.value;
        let too_soon = too_soon(ctx, &id, &rec).await?;
        let approval = rules::check(&rec, ctx.client, ctx.now, too_soon)?;
        let id_token = ctx
            .vouched_user(&approval.subject, &approval.scopes, None, Some(&grant_id))
            .await?;
        let refresh =
            ctx.client.allows_grant(GrantType::RefreshToken) && scope::is_offline(&approval.scopes);
        let issued = ctx
            .minter()
            .user_tokens(
                ctx.client,
                UserGrant {
                    subject: &approval.subject,
                    scopes: &approval.scopes,
                    refresh_scopes: &approval.scopes,
                    grant_id: &grant_id,
                    auth_time: approval.auth_time,
                    id_token,
                    refresh,
                    sid: approval.sid.as_deref(),
                    resources: &[],
                    refresh_resources: &[],
                    authorization_details: &[],
                },
            )
            .await?;
        let (issued, _) = redeem(
            ctx,
            RecordKind::DeviceCode,
            &id,
            &grant_id,
            issued,
            invalid_device_code,
        )
        .await?;
        Ok(TokenResponse(issued.body))
    }
}
