//! Refresh-token lifetimes (RFC 6749 §6, RFC 9700 §4.14.2): sliding, and cut at the
//! grant's absolute end.

use time::{Duration, OffsetDateTime};

/// When a grant's refresh tokens end for good: `absolute_ttl` after the user's original
/// authentication `auth_time` (RFC 9700 §4.14.2: "refresh tokens SHOULD expire if [...]
/// a certain amount of time has elapsed"; a sliding lifetime alone never ends a grant
/// that is refreshed often enough).
pub(crate) fn absolute_end(auth_time: i64, absolute_ttl: Duration) -> OffsetDateTime {
    // An `auth_time` out of range can only come from a corrupt record: treat it as ended.
    OffsetDateTime::from_unix_timestamp(auth_time)
        .map(|t| t + absolute_ttl)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The expiry of a refresh token issued at `now` for a grant authenticated at `auth_time`:
/// the sliding lifetime, cut at the absolute end; `None` once that end has passed (no
/// refresh token is issued then).
pub(crate) fn expiry(
    now: OffsetDateTime,
    auth_time: i64,
    sliding_ttl: Duration,
    absolute_ttl: Duration,
) -> Option<OffsetDateTime> {
    let end = absolute_end(auth_time, absolute_ttl);
    (now < end).then(|| (now + sliding_ttl).min(end))
}
