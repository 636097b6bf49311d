//! The store side of [`crate::rate_limit`]: counting in the grant store, so that every
//! instance sharing it shares the limits, and the [`LoginGuard`] a host's login page calls.

use std::net::IpAddr;

use time::OffsetDateTime;

use crate::error::OAuthError;
use crate::rate_limit::{self, Backoff, Limit, RateLimits, Throttled};
use crate::store::{GrantStore, RecordKind, StoreError, counter_value};

/// The id of the window counter `scope` / `parts` for `now`, and the window's end.
fn window_counter(
    scope: &str,
    parts: &[&str],
    limit: Limit,
    now: OffsetDateTime,
) -> (String, OffsetDateTime) {
    let (index, end) = rate_limit::window(now, limit.per);
    let index = index.to_string();
    let mut all = parts.to_vec();
    all.push(&index);
    (rate_limit::counter_id(scope, &all), end)
}

/// Counts one event against `limit` and says whether it is allowed.
pub(crate) async fn count(
    grants: &dyn GrantStore,
    scope: &str,
    parts: &[&str],
    limit: Limit,
    now: OffsetDateTime,
) -> Result<Result<(), Throttled>, StoreError> {
    let (id, end) = window_counter(scope, parts, limit, now);
    let n = grants.increment(&id, end, now).await?;
    Ok(rate_limit::check(n, limit, end, now))
}

/// Counts one event against each `(scope, key, limit)` in order, stopping at the first
/// that refuses it (so a flood refused at its source uses up nobody else's allowance).
pub(crate) async fn count_each(
    grants: &dyn GrantStore,
    counts: &[(&str, &str, Limit)],
    now: OffsetDateTime,
) -> Result<Result<(), Throttled>, StoreError> {
    for (scope, key, limit) in counts {
        if let Err(t) = count(grants, scope, &[key], *limit, now).await? {
            return Ok(Err(t));
        }
    }
    Ok(Ok(()))
}

/// Whether one more event would still be allowed, without counting it.
pub(crate) async fn peek(
    grants: &dyn GrantStore,
    scope: &str,
    parts: &[&str],
    limit: Limit,
    now: OffsetDateTime,
) -> Result<Result<(), Throttled>, StoreError> {
    let (id, end) = window_counter(scope, parts, limit, now);
    let n = read(grants, &id, now).await?.map_or(0, |(n, _)| n);
    Ok(rate_limit::check(n + 1, limit, end, now))
}

/// A counter's value and expiry.
async fn read(
    grants: &dyn GrantStore,
    id: &str,
    now: OffsetDateTime,
) -> Result<Option<(u64, OffsetDateTime)>, StoreError> {
    let Some(stored) = grants.get(RecordKind::Counter, id, now).await? else {
        return Ok(None);
    };
    let n = counter_value(&stored.record.payload).map_err(|reason| StoreError::Corrupt {
        kind: RecordKind::Counter.as_str(),
        id: id.to_owned(),
        reason,
    })?;
    Ok(Some((n, stored.record.expires_at)))
}

/// The source part of a limit key (`-` when the glue did not say where a request came
/// from: then every request counts as that one source).
pub(crate) fn source_part(source: Option<IpAddr>) -> String {
    source.map_or_else(|| "-".to_owned(), rate_limit::source_key)
}

/// Brute-force protection for password checks (RFC 6749 §2.3.1, §4.3.2; OWASP's
/// "exponential back-off, no permanent lockout"): failures are counted per account and per
/// source in the grant store, so every instance sees them; after the free ones each failure
/// doubles the wait before the next attempt, and the count is forgotten a while after the
/// last failure, so nobody can lock an account for good. Get one with
/// [`Provider::login_guard`](crate::Provider::login_guard); the password grant uses it too.
///
/// ```no_run
/// # async fn page(provider: &idpkit_core::Provider, user: &str, ok: bool) -> Result<(), idpkit_core::OAuthError> {
/// let guard = provider.login_guard();
/// let source = Some("192.0.2.7".parse().expect("ip"));
/// guard.check(user, source).await?; // 429 with `retry_after` while backing off
/// if ok {
///     guard.succeeded(user).await?;
/// } else {
///     guard.failed(user, source).await?;
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Copy)]
pub struct LoginGuard<'a> {
    grants: &'a dyn GrantStore,
    limits: &'a RateLimits,
    now: OffsetDateTime,
}

impl std::fmt::Debug for LoginGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginGuard")
            .field("limits", self.limits)
            .finish_non_exhaustive()
    }
}

/// Account names are counted case-insensitively and trimmed: `Alice` and ` alice` share
/// one count.
fn account_part(account: &str) -> String {
    account.trim().to_lowercase()
}

impl<'a> LoginGuard<'a> {
    pub(crate) fn new(
        grants: &'a dyn GrantStore,
        limits: &'a RateLimits,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            grants,
            limits,
            now,
        }
    }

    /// The counts an attempt is checked against: the account's, and the source's when the
    /// glue said where the request came from.
    fn keys(&self, account: &str, source: Option<IpAddr>) -> Vec<(&'static str, String, Backoff)> {
        let mut keys = vec![(
            "login-account",
            account_part(account),
            self.limits.login_per_account,
        )];
        if let Some(ip) = source {
            keys.push((
                "login-source",
                rate_limit::source_key(ip),
                self.limits.login_per_source,
            ));
        }
        keys
    }

    /// Before checking a password for `account` from `source`: an error with status 429
    /// and [`OAuthError::retry_after`] while either is backing off. Past the free failures,
    /// each back-off step admits one attempt, even from many instances at once.
    pub async fn check(&self, account: &str, source: Option<IpAddr>) -> Result<(), OAuthError> {
        for (scope, key, policy) in self.keys(account, source) {
            let id = rate_limit::counter_id(scope, &[&key]);
            let Some((failures, expires_at)) = read(self.grants, &id, self.now).await? else {
                continue;
            };
            let last_failure = expires_at - policy.forget_after;
            rate_limit::backoff_check(failures, last_failure, policy, self.now)
                .map_err(|t| t.into_error("too many failed logins"))?;
            if failures >= policy.free_failures {
                // One attempt per back-off step: the first to claim the step goes on.
                let step = failures.to_string();
                let slot = rate_limit::counter_id(scope, &[&key, "step", &step]);
                let claimed = self.grants.increment(&slot, expires_at, self.now).await?;
                if claimed > 1 {
                    return Err(Throttled {
                        retry_after: policy.base_delay,
                    }
                    .into_error("too many failed logins"));
                }
            }
        }
        Ok(())
    }

    /// A password check for `account` from `source` failed.
    pub async fn failed(&self, account: &str, source: Option<IpAddr>) -> Result<(), OAuthError> {
        for (scope, key, policy) in self.keys(account, source) {
            let id = rate_limit::counter_id(scope, &[&key]);
            self.grants
                .increment(&id, self.now + policy.forget_after, self.now)
                .await?;
        }
        Ok(())
    }

    /// A password check for `account` succeeded: its failures are forgotten (the source's
    /// are not, or an attacker could clear them with an account of their own).
    pub async fn succeeded(&self, account: &str) -> Result<(), OAuthError> {
        let id = rate_limit::counter_id("login-account", &[&account_part(account)]);
        self.grants.delete(RecordKind::Counter, &id).await?;
        Ok(())
    }
}
