//! Rate limits: how many tries an unauthenticated party gets. RFC 6749 §2.3.1 and §4.3.2
//! ask the server to protect client-secret and password checks against brute force, RFC
//! 7662 §4 to throttle introspection; and every request made before anyone has logged in
//! must cost bounded storage, so the interactions it starts are counted too.
//!
//! The counters live in the grant store ([`GrantStore::increment`]), so every instance
//! sharing the store shares the limits; the rules here are sync functions of counts and
//! `now`. Refusals are `429 Too Many Requests` with `Retry-After` (RFC 6585 §4).
//!
//! [`GrantStore::increment`]: crate::GrantStore::increment

use std::net::IpAddr;

use time::{Duration, OffsetDateTime};

use crate::crypto;
use crate::error::{ErrorCode, OAuthError};

/// At most `max` events per `per` (a fixed window).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Events allowed in one window.
    pub max: u64,
    /// The window.
    pub per: Duration,
}

impl Limit {
    /// `max` events per `per`.
    pub const fn new(max: u64, per: Duration) -> Self {
        Self { max, per }
    }
}

/// Exponential back-off of a login guard ([`crate::LoginGuard`]): the first
/// `free_failures` failures cost nothing, each further one doubles the wait before the next
/// attempt, from `base_delay` up to `max_delay`. The count is forgotten `forget_after` the
/// last failure, so no lock is permanent, whoever triggers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Failures that cost nothing.
    pub free_failures: u64,
    /// The wait after the first failure beyond the free ones.
    pub base_delay: Duration,
    /// The longest wait.
    pub max_delay: Duration,
    /// How long after the last failure the count is forgotten.
    pub forget_after: Duration,
}

/// The limits a provider applies. Set with
/// [`ProviderBuilder::rate_limits`](crate::ProviderBuilder::rate_limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimits {
    /// Failed client authentications of one confidential client from one source, at the
    /// token, revocation and introspection endpoints (default 20 a minute). Beyond it the
    /// client is not authenticated from that source until the window ends: 429.
    pub client_auth_failures: Limit,
    /// Interactions (login and consent pages) one source may start (default 200 per
    /// 10 minutes).
    pub interactions_per_source: Limit,
    /// Interactions started for one client (default 5,000 per 10 minutes).
    pub interactions_per_client: Limit,
    /// Interactions started in all (default 20,000 per 10 minutes).
    pub interactions_total: Limit,
    /// Login failures per account ([`crate::LoginGuard`], the password grant): 5 free, then
    /// 1 s doubling up to 15 min, forgotten an hour after the last failure.
    pub login_per_account: Backoff,
    /// Login failures per source: 20 free, then 1 s doubling up to 15 min, forgotten an
    /// hour after the last failure.
    pub login_per_source: Backoff,
    /// Device authorization requests from one source (default 100 per 10 minutes): each
    /// stores a device code before anyone has approved it (RFC 8628 §3.1).
    pub device_authorizations_per_source: Limit,
    /// Device authorization requests of one client (default 5,000 per 10 minutes).
    pub device_authorizations_per_client: Limit,
    /// Wrong user codes entered from one source (default 20 per 10 minutes): user codes are
    /// short, so guessing them is rate-limited (RFC 8628 §5.1). Beyond it the source's
    /// codes are not looked up until the window ends: 429.
    pub user_code_failures_per_source: Limit,
    /// Wrong user codes entered in all (default 10,000 per 10 minutes): bounds guessing
    /// from many sources at once. Past it nobody can enter a code until the window ends,
    /// so it is set high.
    pub user_code_failures_total: Limit,
    /// Guest tokens ([`GrantType::Guest`](crate::GrantType::Guest)) one source may get
    /// (default 100 per 10 minutes). A guest token is asked for without any credential
    /// and is stored for its lifetime (a week by default), so its number is bounded.
    pub guest_tokens_per_source: Limit,
    /// Guest tokens issued to one client (default 10,000 per 10 minutes).
    pub guest_tokens_per_client: Limit,
    /// Pushed authorization requests from one source (default 200 per 10 minutes): each
    /// stores a request until its `request_uri` expires, and a public client pushes with
    /// its `client_id` alone (RFC 9126 §2).
    pub pushed_requests_per_source: Limit,
    /// Pushed authorization requests of one client (default 5,000 per 10 minutes).
    pub pushed_requests_per_client: Limit,
    /// Anonymous client registrations ([`RegistrationPolicy::Open`](crate::RegistrationPolicy::Open),
    /// RFC 7591) one source may make (default 20 per hour): each registration is stored,
    /// so their number is bounded.
    pub registrations_per_source: Limit,
}

impl Default for RateLimits {
    fn default() -> Self {
        let login = |free| Backoff {
            free_failures: free,
            base_delay: Duration::seconds(1),
            max_delay: Duration::minutes(15),
            forget_after: Duration::hours(1),
        };
        Self {
            client_auth_failures: Limit::new(20, Duration::minutes(1)),
            interactions_per_source: Limit::new(200, Duration::minutes(10)),
            interactions_per_client: Limit::new(5_000, Duration::minutes(10)),
            interactions_total: Limit::new(20_000, Duration::minutes(10)),
            login_per_account: login(5),
            login_per_source: login(20),
            device_authorizations_per_source: Limit::new(100, Duration::minutes(10)),
            device_authorizations_per_client: Limit::new(5_000, Duration::minutes(10)),
            user_code_failures_per_source: Limit::new(20, Duration::minutes(10)),
            user_code_failures_total: Limit::new(10_000, Duration::minutes(10)),
            guest_tokens_per_source: Limit::new(100, Duration::minutes(10)),
            guest_tokens_per_client: Limit::new(10_000, Duration::minutes(10)),
            registrations_per_source: Limit::new(20, Duration::hours(1)),
            pushed_requests_per_source: Limit::new(200, Duration::minutes(10)),
            pushed_requests_per_client: Limit::new(5_000, Duration::minutes(10)),
        }
    }
}

/// A refusal: try again after `retry_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// How long to wait.
    pub retry_after: Duration,
}

impl Throttled {
    /// `Retry-After` in whole seconds, at least 1 (RFC 9110 §10.2.3).
    pub fn seconds(&self) -> u64 {
        let s = self.retry_after.whole_seconds();
        let s = if self.retry_after > Duration::seconds(s) {
            s + 1
        } else {
            s
        };
        u64::try_from(s.max(1)).unwrap_or(1)
    }

    /// The wire error: `temporarily_unavailable`, 429, with `Retry-After`.
    pub fn into_error(self, what: &str) -> OAuthError {
        let mut e = OAuthError::new(
            ErrorCode::TemporarilyUnavailable,
            format!("{what}; retry in {} s", self.seconds()),
        );
        e.status = Some(429);
        e.retry_after = Some(self.seconds());
        e
    }
}

/// The window `now` falls in: its index (the counter id includes it, so each window counts
/// afresh) and its end (the counter's expiry).
pub(crate) fn window(now: OffsetDateTime, per: Duration) -> (i128, OffsetDateTime) {
    let len = per.whole_nanoseconds().max(1);
    let t = now.unix_timestamp_nanos();
    let index = t.div_euclid(len);
    let end = OffsetDateTime::from_unix_timestamp_nanos((index + 1) * len).unwrap_or(now + per);
    (index, end)
}

/// A counter's store id: hashed, so that names of any length or content make a fixed-size
/// id, and domain-separated by `scope`.
pub(crate) fn counter_id(scope: &str, parts: &[&str]) -> String {
    let mut input = format!("idpkit-rate:{scope}");
    for p in parts {
        input.push('\u{0}');
        input.push_str(p);
    }
    crypto::sha256_b64(input.as_bytes())
}

/// A source address as a limit key: IPv4 addresses whole, IPv6 by their /64 prefix (one
/// customer's network; an attacker holding one can rotate through 2^64 addresses), IPv4
/// mapped into IPv6 as IPv4.
pub fn source_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// The `count`-th event of a window ending at `window_end`: allowed while `count` is at
/// most `limit.max`, else refused until the window ends.
pub(crate) fn check(
    count: u64,
    limit: Limit,
    window_end: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<(), Throttled> {
    if count <= limit.max {
        Ok(())
    } else {
        Err(Throttled {
            retry_after: (window_end - now).max(Duration::seconds(1)),
        })
    }
}

/// The wait owed after `failures` failures (0 while they are free, then `base_delay`
/// doubling, capped at `max_delay`).
pub(crate) fn backoff_delay(failures: u64, policy: Backoff) -> Duration {
    if failures < policy.free_failures.max(1) {
        return Duration::ZERO;
    }
    let doublings = (failures - policy.free_failures.max(1)).min(40);
    let factor = 1i64 << doublings;
    policy
        .base_delay
        .checked_mul(i32::try_from(factor).unwrap_or(i32::MAX))
        .unwrap_or(policy.max_delay)
        .min(policy.max_delay)
}

/// Whether an attempt may be made now, after `failures` failures, the last at
/// `last_failure`.
pub(crate) fn backoff_check(
    failures: u64,
    last_failure: OffsetDateTime,
    policy: Backoff,
    now: OffsetDateTime,
) -> Result<(), Throttled> {
    let free_at = last_failure + backoff_delay(failures, policy);
    if now >= free_at {
        Ok(())
    } else {
        Err(Throttled {
            retry_after: free_at - now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn t(secs: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::seconds(1_800_000_000 + secs)
    }

    #[test]
    fn windows_are_fixed_and_end_where_the_next_begins() {
        let per = Duration::minutes(1);
        let (i0, end0) = window(t(0), per);
        let (i1, end1) = window(t(59), per);
        assert_eq!(i0, i1, "one minute, one window");
        assert_eq!(end0, end1);
        let (i2, _) = window(end0, per);
        assert_eq!(i2, i0 + 1, "the window's end is the next one's start");
        assert!(end0 > t(0) && end0 <= t(60));
    }

    #[test]
    fn a_limit_allows_max_then_refuses_until_the_window_ends() {
        // RFC 6585 §4: 429 says how long to wait.
        let limit = Limit::new(3, Duration::minutes(1));
        let end = t(30);
        for n in 1..=3 {
            assert!(check(n, limit, end, t(0)).is_ok(), "event {n} of 3");
        }
        let refused = check(4, limit, end, t(0)).expect_err("the fourth");
        assert_eq!(refused.retry_after, Duration::seconds(30));
        assert_eq!(refused.seconds(), 30);
        assert_eq!(
            check(4, limit, end, end).expect_err("at the end").seconds(),
            1,
            "never Retry-After: 0"
        );
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let th = Throttled {
            retry_after: Duration::milliseconds(1_200),
        };
        assert_eq!(th.seconds(), 2);
        let e = th.into_error("too many attempts");
        assert_eq!(e.status(), 429);
        assert_eq!(e.retry_after, Some(2));
        assert_eq!(e.code, ErrorCode::TemporarilyUnavailable);
    }

    #[test]
    fn backoff_is_free_then_doubles_then_caps() {
        let p = Backoff {
            free_failures: 5,
            base_delay: Duration::seconds(1),
            max_delay: Duration::minutes(15),
            forget_after: Duration::hours(1),
        };
        assert_eq!(backoff_delay(0, p), Duration::ZERO);
        assert_eq!(backoff_delay(4, p), Duration::ZERO, "five free failures");
        assert_eq!(backoff_delay(5, p), Duration::seconds(1));
        assert_eq!(backoff_delay(6, p), Duration::seconds(2));
        assert_eq!(backoff_delay(8, p), Duration::seconds(8));
        assert_eq!(backoff_delay(20, p), Duration::minutes(15), "capped");
        assert_eq!(
            backoff_delay(u64::MAX, p),
            Duration::minutes(15),
            "no overflow"
        );
    }

    #[test]
    fn backoff_waits_from_the_last_failure() {
        let p = RateLimits::default().login_per_account;
        assert!(backoff_check(4, t(0), p, t(0)).is_ok());
        let w = backoff_check(6, t(0), p, t(1)).expect_err("2 s owed, 1 s passed");
        assert_eq!(w.retry_after, Duration::seconds(1));
        assert!(
            backoff_check(6, t(0), p, t(2)).is_ok(),
            "waited long enough"
        );
    }

    #[test]
    fn ipv6_sources_count_by_their_64_prefix() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(source_key(a), source_key(b), "one /64, one source");
        assert_ne!(source_key(a), source_key(c));
        let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 7).to_ipv6_mapped());
        assert_eq!(source_key(mapped), "192.0.2.7");
        assert_eq!(source_key(IpAddr::V6(Ipv6Addr::LOCALHOST)), "0:0:0:0::/64");
    }

    #[test]
    fn counter_ids_are_fixed_size_and_separate_their_parts() {
        let long = "x".repeat(10_000);
        assert_eq!(counter_id("login", &[&long]).len(), 43);
        assert_ne!(counter_id("a", &["bc"]), counter_id("a", &["b", "c"]));
        assert_ne!(counter_id("login", &["x"]), counter_id("auth", &["x"]));
    }
}
