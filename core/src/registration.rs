//! Dynamic client registration (RFC 7591) and management (RFC 7592): who may register
//! ([`RegistrationPolicy`], [`RegistrationHook`]), the registration state kept with a
//! client ([`DynamicRegistration`]) and the rules on registration access tokens. The
//! endpoint is `crate::endpoint::registration`; the metadata rules are in
//! [`crate::client_metadata`].

use std::net::IpAddr;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::client::SecretHash;
use crate::client_metadata::ClientMetadata;
use crate::error::{ErrorCode, OAuthError};

/// Members of a registration response or an RFC 7592 update body that are not client
/// metadata: what the server issues or keeps itself.
pub(crate) const SERVER_MEMBERS: [&str; 6] = [
    "client_id",
    "client_secret",
    "client_id_issued_at",
    "client_secret_expires_at",
    "registration_access_token",
    "registration_client_uri",
];

/// Who may register clients at the registration endpoint.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum RegistrationPolicy {
    /// No registration endpoint (the default): not routed, not in discovery.
    #[default]
    Off,
    /// Anyone may register (RFC 7591 §3 "open registration"); registrations are
    /// rate-limited per source
    /// ([`RateLimits::registrations_per_source`](crate::RateLimits::registrations_per_source)).
    Open,
    /// A request must carry `Authorization: Bearer <initial access token>` (RFC 7591 §3).
    /// Only the token's SHA-256 is held; comparison in constant time.
    InitialAccessToken(SecretHash),
}

impl RegistrationPolicy {
    /// [`RegistrationPolicy::InitialAccessToken`] for `token` (held hashed).
    pub fn initial_access_token(token: &str) -> Self {
        Self::InitialAccessToken(SecretHash::of(token))
    }

    /// Whether registration is on.
    pub fn is_on(&self) -> bool {
        !matches!(self, Self::Off)
    }
}

/// What a [`RegistrationHook`] is told about a request.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RegistrationContext {
    /// The `client_id` the client gets (or has, for an update).
    pub client_id: String,
    /// `true` for an RFC 7592 update, `false` for a new registration.
    pub update: bool,
    /// Where the request came from ([`Request::source`](crate::Request::source)).
    pub source: Option<IpAddr>,
    /// Whether the request carried the initial access token (policy
    /// [`RegistrationPolicy::InitialAccessToken`]).
    pub with_initial_access_token: bool,
}

/// The host's say over registrations and updates: it may edit the metadata (e.g. drop
/// `scope` values, force `dpop_bound_access_tokens`) or refuse. Edited metadata is
/// validated like the request itself, after the hook.
///
/// # Contract
/// Called before anything is stored. An `Err` is answered to the client as it is (use
/// `invalid_client_metadata`, `invalid_redirect_uri` or `access_denied`, status 400 or
/// 403); nothing is stored.
#[async_trait]
pub trait RegistrationHook: Send + Sync + 'static {
    /// Reviews (and may edit) `metadata` before it is registered.
    async fn review(
        &self,
        metadata: &mut ClientMetadata,
        context: &RegistrationContext,
    ) -> Result<(), OAuthError>;
}

/// Registration settings ([`ProviderBuilder`](crate::ProviderBuilder) knobs).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RegistrationSettings {
    /// Who may register (default [`RegistrationPolicy::Off`]).
    pub policy: RegistrationPolicy,
    /// Largest accepted registration body (default 16 KiB); larger is
    /// `invalid_client_metadata`.
    pub max_bytes: usize,
    /// The scopes a registered client may ask for (default `openid profile email
    /// offline_access`); the first of its `scope` when it names none is all of them.
    pub scopes: Vec<String>,
    /// How long an anonymous registration lives without a successful token request
    /// (default 24 hours; see
    /// [`ProviderBuilder::unused_client_ttl`](crate::ProviderBuilder::unused_client_ttl)).
    pub unused_client_ttl: time::Duration,
    /// Issuers whose software statements are accepted (RFC 7591 §2.3; none by default:
    /// a statement is then `unapproved_software_statement`).
    pub software_statement_issuers: Vec<crate::software_statement::SoftwareStatementIssuer>,
    /// Whether every registration must carry a trusted software statement (default off).
    pub require_software_statement: bool,
}

impl Default for RegistrationSettings {
    fn default() -> Self {
        Self {
            policy: RegistrationPolicy::Off,
            max_bytes: 16 * 1024,
            scopes: ["openid", "profile", "email", "offline_access"]
                .map(str::to_owned)
                .to_vec(),
            unused_client_ttl: time::Duration::hours(24),
            software_statement_issuers: Vec::new(),
            require_software_statement: false,
        }
    }
}

/// The registration state stored with a dynamically registered client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DynamicRegistration {
    /// The metadata as registered (normalized, without secrets): what RFC 7592 reads
    /// answer.
    pub metadata: ClientMetadata,
    /// `client_id_issued_at` (Unix seconds).
    pub issued_at: i64,
    /// base64url SHA-256 of the current registration access token (RFC 7592 §3).
    pub registration_token_sha256: String,
    /// Registered without an initial access token (open policy).
    #[serde(default)]
    pub anonymous: bool,
}

impl DynamicRegistration {
    /// Whether `presented` is the current registration access token (constant time).
    pub fn token_matches(&self, presented: &str) -> bool {
        self.token_hash_matches(&crate::crypto::sha256_b64(presented.as_bytes()))
    }

    /// Whether `sha256` (base64url) is the current registration access token's hash
    /// (constant time).
    pub fn token_hash_matches(&self, sha256: &str) -> bool {
        crate::crypto::constant_time_eq(
            sha256.as_bytes(),
            self.registration_token_sha256.as_bytes(),
        )
    }
}

/// Whether an anonymous registration's unused lifetime is over at `now` (its owner must
/// have completed a token request by then, or it is deleted).
pub(crate) fn unused_lifetime_over(
    d: &DynamicRegistration,
    ttl: time::Duration,
    now: time::OffsetDateTime,
) -> bool {
    d.anonymous && now.unix_timestamp() >= d.issued_at.saturating_add(ttl.whole_seconds())
}

/// The grant-store counter that records that a dynamically registered client completed a
/// token request (shared by every instance; it never needs more than one increment).
pub(crate) fn used_counter_id(client_id: &str) -> String {
    crate::rate_limit::counter_id("registered-client-used", &[client_id])
}

/// Whether the client `client_id` has completed a token request.
pub(crate) async fn was_used(
    grants: &dyn crate::GrantStore,
    client_id: &str,
    now: time::OffsetDateTime,
) -> Result<bool, crate::StoreError> {
    Ok(grants
        .get(crate::RecordKind::Counter, &used_counter_id(client_id), now)
        .await?
        .is_some())
}

/// Records that `client_id` completed a token request (once: later calls only read).
pub(crate) async fn mark_used(
    grants: &dyn crate::GrantStore,
    client_id: &str,
    now: time::OffsetDateTime,
) -> Result<(), crate::StoreError> {
    if !was_used(grants, client_id, now).await? {
        grants
            .increment(
                &used_counter_id(client_id),
                now + crate::client::MAX_TTL,
                now,
            )
            .await?;
    }
    Ok(())
}

/// Registrations looked at per batch by [`Provider::purge_unused_clients`](crate::Provider::purge_unused_clients).
pub(crate) const PURGE_BATCH: usize = 500;

/// Deletes the anonymous registrations of `registry` whose unused lifetime (`ttl`) is over
/// at `now` and that never completed a token request, without waiting for a lookup, and
/// keeps ([`ClientRegistry::keep_registration`]) those that did, so that later purges do
/// not look at them again. Works through the registry's index in batches of `batch`; each
/// candidate is read back and checked with the same rule as the
/// lookup ([`unused_lifetime_over`], [`was_used`]) before anything is deleted. Returns how
/// many clients were deleted.
///
/// [`ClientRegistry::keep_registration`]: crate::ClientRegistry::keep_registration
pub(crate) async fn purge_unused(
    registry: &dyn crate::ClientRegistry,
    grants: &dyn crate::GrantStore,
    ttl: time::Duration,
    now: time::OffsetDateTime,
    batch: usize,
) -> Result<u64, crate::StoreError> {
    let batch_size = batch.max(1);
    let cutoff = now.unix_timestamp().saturating_sub(ttl.whole_seconds());
    let cutoff = time::OffsetDateTime::from_unix_timestamp(cutoff)
        .map_err(|e| crate::StoreError::backend(format!("purge cutoff: {e}")))?;
    let mut seen = std::collections::HashSet::new();
    let mut deleted = 0u64;
    loop {
        let batch = registry.unused_registrations(cutoff, batch_size).await?;
        let full = batch.len() >= batch_size;
        let mut progressed = false;
        for id in batch {
            // Listed again in this run: the registry did not take it off its list; it has
            // been dealt with already.
            if !seen.insert(id.clone()) {
                continue;
            }
            progressed = true;
            let Some(client) = registry.find(&id).await? else {
                continue;
            };
            let Some(d) = client.dynamic.as_deref() else {
                continue;
            };
            if !unused_lifetime_over(d, ttl, now) {
                continue;
            }
            if was_used(grants, &id, now).await? {
                registry.keep_registration(&id).await?;
            } else if registry.remove(&id).await? {
                deleted += 1;
                tracing::info!(client_id = %crate::logging::untrusted(&id), "idpkit: unused registered client purged");
            }
        }
        if !full || !progressed {
            return Ok(deleted);
        }
    }
}

/// The token of an `Authorization: Bearer` header (RFC 6750 §2.1), if there is one.
pub(crate) fn bearer(authorization: Option<&str>) -> Option<&str> {
    let (scheme, token) = authorization?.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The one refusal of RFC 7592 management requests: a missing, wrong or old registration
/// access token and an unknown client all look the same (RFC 7592 §2: 401 `invalid_token`,
/// and nothing says whether the client exists).
pub(crate) fn invalid_registration_token() -> OAuthError {
    OAuthError::new(
        ErrorCode::InvalidToken,
        "the registration access token is missing, invalid or revoked",
    )
}

/// Whether a registration request is let in under `policy` (RFC 7591 §3): `Err` is
/// 401 `invalid_token` for a missing or wrong initial access token, or
/// `access_denied` when registration is off.
pub(crate) fn admit(
    policy: &RegistrationPolicy,
    authorization: Option<&str>,
) -> Result<bool, OAuthError> {
    match policy {
        RegistrationPolicy::Off => Err(OAuthError::new(
            ErrorCode::AccessDenied,
            "client registration is not enabled",
        )),
        RegistrationPolicy::Open => Ok(false),
        RegistrationPolicy::InitialAccessToken(hash) => match bearer(authorization) {
            Some(t) if hash.verify(t) => Ok(true),
            _ => Err(OAuthError::new(
                ErrorCode::InvalidToken,
                "registration needs a valid initial access token",
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_access_token_is_required_and_compared_rfc7591_3() {
        let p = RegistrationPolicy::initial_access_token("iat-secret");
        assert_eq!(admit(&p, Some("Bearer iat-secret")), Ok(true));
        for bad in [
            None,
            Some("Bearer wrong"),
            Some("Basic iat-secret"),
            Some("Bearer "),
        ] {
            assert_eq!(
                admit(&p, bad).expect_err("refused").code,
                ErrorCode::InvalidToken
            );
        }
        assert_eq!(admit(&RegistrationPolicy::Open, None), Ok(false));
        assert!(admit(&RegistrationPolicy::Off, None).is_err());
    }

    #[test]
    fn only_anonymous_registrations_run_out_unused() {
        let mut d = DynamicRegistration {
            metadata: ClientMetadata::default(),
            issued_at: 1_000,
            registration_token_sha256: String::new(),
            anonymous: true,
        };
        let at = |s| time::OffsetDateTime::from_unix_timestamp(s).expect("time");
        let ttl = time::Duration::seconds(100);
        assert!(!unused_lifetime_over(&d, ttl, at(1_099)));
        assert!(unused_lifetime_over(&d, ttl, at(1_100)));
        d.anonymous = false;
        assert!(!unused_lifetime_over(&d, ttl, at(9_999)));
    }

    #[test]
    fn registration_token_matches_only_itself_rfc7592_3() {
        let d = DynamicRegistration {
            metadata: ClientMetadata::default(),
            issued_at: 0,
            registration_token_sha256: crate::crypto::sha256_b64(b"rat"),
            anonymous: true,
        };
        assert!(d.token_matches("rat"));
        assert!(!d.token_matches("rat2"));
        assert!(!d.token_matches(""));
    }
}
