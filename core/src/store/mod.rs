//! The grant store: codes, refresh tokens, opaque access tokens, sessions, interactions and
//! consents, as keyed records with expiry.
//!
//! Ids are SHA-256 hashes (base64url) of the secret values handed to clients; the secrets
//! themselves are never stored.

use async_trait::async_trait;
use time::OffsetDateTime;

/// What a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum RecordKind {
    /// An authorization code.
    AuthorizationCode,
    /// A refresh token.
    RefreshToken,
    /// An access token (opaque ones, and the revocation handle of grant-bound JWT ones).
    AccessToken,
    /// A pending login/consent interaction.
    Interaction,
    /// A browser's SSO session.
    Session,
    /// A user's consent to a client's scopes.
    Consent,
    /// The one allowed retry of a rotated refresh token inside the reuse grace window.
    RefreshGrace,
    /// A login sent to an upstream provider, waiting for its callback (consumed by it).
    UpstreamLogin,
    /// The mapped claims of a federated user, for ID tokens and userinfo.
    FederatedClaims,
    /// A logout waiting for the user's confirmation (RP-Initiated Logout).
    Logout,
    /// A back-channel logout token queued for delivery.
    LogoutDelivery,
    /// The list of a subject's SSO sessions (the session API).
    SubjectSessions,
    /// A counter of [`GrantStore::increment`] (rate limits, quotas); its payload is the
    /// count in decimal ASCII digits.
    Counter,
    /// A device authorization's device code (RFC 8628).
    DeviceCode,
    /// A device authorization's user code (RFC 8628).
    UserCode,
    /// A pushed authorization request (RFC 9126), keyed by the hash of its `request_uri`
    /// and consumed by the authorization request that names it.
    PushedAuthorizationRequest,
}

impl RecordKind {
    /// Every kind, for backends that keep one table or tree per kind.
    pub const ALL: [RecordKind; 16] = [
        Self::AuthorizationCode,
        Self::RefreshToken,
        Self::AccessToken,
        Self::Interaction,
        Self::Session,
        Self::Consent,
        Self::RefreshGrace,
        Self::UpstreamLogin,
        Self::FederatedClaims,
        Self::Logout,
        Self::LogoutDelivery,
        Self::SubjectSessions,
        Self::Counter,
        Self::DeviceCode,
        Self::UserCode,
        Self::PushedAuthorizationRequest,
    ];

    /// A stable short name for storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "code",
            Self::RefreshToken => "refresh_token",
            Self::AccessToken => "access_token",
            Self::Interaction => "interaction",
            Self::Session => "session",
            Self::Consent => "consent",
            Self::RefreshGrace => "refresh_grace",
            Self::UpstreamLogin => "upstream_login",
            Self::FederatedClaims => "federated_claims",
            Self::Logout => "logout",
            Self::LogoutDelivery => "logout_delivery",
            Self::SubjectSessions => "subject_sessions",
            Self::Counter => "counter",
            Self::DeviceCode => "device_code",
            Self::UserCode => "user_code",
            Self::PushedAuthorizationRequest => "pushed_authorization_request",
        }
    }
}

/// A stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The grant family this record belongs to, if any ([`GrantStore::revoke_grant`]).
    pub grant_id: Option<String>,
    /// Opaque payload (idpkit stores JSON).
    pub payload: Vec<u8>,
    /// When the record stops existing.
    pub expires_at: OffsetDateTime,
}

/// A record as read back, with its consumption time if it was consumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The record.
    pub record: Record,
    /// When [`GrantStore::consume`] first took it.
    pub consumed_at: Option<OffsetDateTime>,
}

/// The outcome of [`GrantStore::consume`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Consume {
    /// This call consumed the record: the caller is the one winner.
    Consumed(Record),
    /// The record had been consumed before, at `consumed_at`.
    AlreadyConsumed {
        /// The record.
        record: Record,
        /// When it was first consumed.
        consumed_at: OffsetDateTime,
    },
    /// No such record, or it expired.
    NotFound,
}

/// A time as Unix nanoseconds in an `i64`, the column type backends store: exact from 1677 to
/// 2262, saturating in the right direction outside (so an expiry in 2300 stays "far future").
pub fn unix_nanos(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos()).unwrap_or(if t.unix_timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// The inverse of [`unix_nanos`].
pub fn from_unix_nanos(n: i64) -> OffsetDateTime {
    // Every i64 of nanoseconds (1677..2262) is a valid OffsetDateTime.
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(n)).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A storage failure. Endpoints answer it with `server_error`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend could not be reached or failed; the source is the backend's own error.
    #[error("storage backend failure: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored record could not be read back.
    #[error("corrupt record {kind}/{id}: {reason}")]
    Corrupt {
        /// The record's kind.
        kind: &'static str,
        /// The record's id.
        id: String,
        /// What is wrong.
        reason: String,
    },
}

impl StoreError {
    /// A backend failure with its source error (or a message: `&str` and `String` convert).
    pub fn backend(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Backend(source.into())
    }
}

/// Storage for grants.
///
/// # Contract
/// - `put` inserts or replaces the record `(kind, id)`; a replaced record is no longer consumed.
/// - Expired records (`expires_at <= now`) are invisible to `get` and `consume` at once,
///   whether or not `purge_expired` has run.
/// - `consume` is **atomic across every instance sharing the store**: of any number of
///   concurrent calls for one record exactly one gets [`Consume::Consumed`]; every later
///   call gets [`Consume::AlreadyConsumed`] until the record expires. Consumed records stay
///   readable (with `consumed_at`) so that reuse can be detected.
/// - `revoke_grant` deletes every record whose `grant_id` matches, and nothing else.
/// - `delete` of a missing record is not an error.
/// - `increment` is **atomic across every instance sharing the store**: `n` concurrent
///   calls on one live counter return `n` distinct values and leave it at its old value
///   plus `n`. A missing or expired counter starts again at 1. Each call sets the counter's
///   expiry to the `expires_at` it is given. A counter is a record of kind
///   [`RecordKind::Counter`] whose payload is the count in decimal ASCII digits: `get`
///   reads it, `delete` resets it and `purge_expired` removes it like any other record.
///
/// Every implementation must pass `idpkit_core::testkit::grant_store::run_all`
/// (feature `testkit`), which checks all of the above, including a race of 64 concurrent
/// `consume` calls.
#[async_trait]
pub trait GrantStore: Send + Sync + 'static {
    /// Inserts or replaces a record.
    async fn put(&self, kind: RecordKind, id: &str, record: Record) -> Result<(), StoreError>;
    /// Reads a live record.
    async fn get(
        &self,
        kind: RecordKind,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Stored>, StoreError>;
    /// Consumes a record atomically, exactly once.
    async fn consume(
        &self,
        kind: RecordKind,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Consume, StoreError>;
    /// Writes `writes`, then consumes (`kind`, `id`): what a grant does when it redeems a
    /// code or refresh token. The default makes the calls one after the other; a backend
    /// may do it all in one transaction (one round trip), keeping the writes only when the
    /// consume succeeded. Callers must not rely on either: on `AlreadyConsumed` or
    /// `NotFound` they revoke or delete what they wrote.
    async fn put_then_consume(
        &self,
        writes: Vec<(RecordKind, String, Record)>,
        kind: RecordKind,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Consume, StoreError> {
        for (k, i, r) in writes {
            self.put(k, &i, r).await?;
        }
        self.consume(kind, id, now).await
    }
    /// Adds one to the counter `id` (kind [`RecordKind::Counter`]) and returns its new
    /// value; a missing or expired counter starts at 1. The counter then expires at
    /// `expires_at`. What rate limits count with, across instances.
    async fn increment(
        &self,
        id: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError>;
    /// Deletes a record.
    async fn delete(&self, kind: RecordKind, id: &str) -> Result<(), StoreError>;
    /// Deletes every record of a grant family; returns how many were deleted.
    async fn revoke_grant(&self, grant_id: &str) -> Result<u64, StoreError>;
    /// Deletes expired records; returns how many were deleted.
    async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError>;
    /// `true` for stores that keep nothing across restarts and share nothing between
    /// instances; the provider builder refuses them unless development mode was asked for.
    fn is_development(&self) -> bool {
        false
    }
}

/// The value of a counter record's payload (decimal ASCII digits), for backends that
/// increment in code rather than in their query language.
pub fn counter_value(payload: &[u8]) -> Result<u64, String> {
    std::str::from_utf8(payload)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| "a counter's payload is not a decimal number".to_owned())
}

mod memory;

pub use memory::MemoryGrantStore;

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    #[test]
    fn unix_nanos_round_trip_and_saturate_by_sign() {
        let t = OffsetDateTime::UNIX_EPOCH + Duration::nanoseconds(1_795_000_000_123_456_789);
        assert_eq!(from_unix_nanos(unix_nanos(t)), t);
        let far_future = OffsetDateTime::UNIX_EPOCH + Duration::days(365 * 400);
        let far_past = OffsetDateTime::UNIX_EPOCH - Duration::days(365 * 400);
        assert_eq!(
            unix_nanos(far_future),
            i64::MAX,
            "a far expiry stays in the future"
        );
        assert_eq!(
            unix_nanos(far_past),
            i64::MIN,
            "a long-past time stays in the past"
        );
        assert!(from_unix_nanos(i64::MIN) < OffsetDateTime::UNIX_EPOCH);
    }
}
