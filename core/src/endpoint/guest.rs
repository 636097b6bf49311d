//! The host's call that upgrades a guest token at login ([`Provider::upgrade_guest`]); the
//! grant and its rules are in `grant/guest.rs` and [`crate::guest`].

use crate::error::OAuthError;
use crate::grant::GrantContext;
use crate::grant::guest::{Caller, UpgradedGuest, upgrade};
use crate::http_types::Params;
use crate::provider::Provider;
use crate::token::lookup;

/// What the host got from the storefront to upgrade a guest token: the guest's bearer
/// token and what the client received at its redirect URI.
#[derive(Debug, Clone, Copy)]
pub struct GuestUpgrade<'a> {
    /// The guest's access token (the bearer token of the request).
    pub guest_token: &'a str,
    /// The authorization code (`authorization-code` in the storefront's form).
    pub code: &'a str,
    /// The PKCE verifier (`code-verifier`); required when the code was issued with a
    /// challenge, as for every public client.
    pub code_verifier: Option<&'a str>,
    /// The redirect URI of the authorization request (`original-redirect-uri`); required
    /// when that request carried one (RFC 6749 §4.1.3).
    pub redirect_uri: Option<&'a str>,
}

impl Provider {
    /// Upgrades a guest token ([`GrantType::Guest`](crate::GrantType::Guest)) to the user
    /// who just logged in: the authorization code is redeemed under the checks of the
    /// code exchange (issued to the guest token's client, `redirect_uri`, PKCE verifier,
    /// single use: a replay revokes what the code issued), the host's
    /// [`GuestUpgradeHook`](crate::GuestUpgradeHook) merges the guest's state, and then:
    ///
    /// - an opaque guest token keeps its value and names the user everywhere
    ///   (introspection, userinfo, [`Provider::access_token_info`]) with the code's scopes,
    ///   in the user's grant family (revoked with it, e.g. by logout), expiring like the
    ///   client's other access tokens from now (`access_token_ttl`, not the guest's week:
    ///   the token now carries the user's authority);
    /// - a JWT guest token is revoked and [`UpgradedGuest::access_token`] is its
    ///   replacement ([`UpgradedGuest::replaced`]).
    ///
    /// The answer also carries the code's other tokens (`id_token` with `openid`,
    /// `refresh_token` with `offline_access`). Refusals are `invalid_grant` (or
    /// `invalid_request` for a missing parameter) and change nothing: an unknown, expired
    /// or revoked guest token, a token that is not a guest's, a guest token of another
    /// client than the code's, a wrong verifier or redirect URI, a replayed code (whose
    /// grant is revoked, RFC 6749 §4.1.2, the guest token staying a guest's). Two
    /// upgrades of one token at once: one wins, across instances sharing the store.
    pub async fn upgrade_guest(
        &self,
        request: &GuestUpgrade<'_>,
    ) -> Result<UpgradedGuest, OAuthError> {
        let now = self.now();
        let services = self.inner.services();
        let active = lookup::access_token(services, request.guest_token, now).await?;
        // The client is the guest token's; `upgrade` checks the token again with it.
        let client_id = active
            .as_ref()
            .map(|a| a.client_id.clone())
            .unwrap_or_default();
        crate::guest::check_guest(active.as_ref(), &client_id)?;
        let client = self
            .inner
            .clients
            .find(&client_id)
            .await?
            .ok_or_else(crate::guest::invalid_guest)?;
        let mut pairs = vec![("code", request.code)];
        pairs.extend(request.code_verifier.map(|v| ("code_verifier", v)));
        pairs.extend(request.redirect_uri.map(|v| ("redirect_uri", v)));
        let params = Params::from_pairs(pairs);
        let ctx = GrantContext {
            services,
            client: &client,
            params: &params,
            now,
            source: None,
            dpop_jkt: None,
        };
        upgrade(&ctx, request.guest_token, Caller::Host).await
    }
}
