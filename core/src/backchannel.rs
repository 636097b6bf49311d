//! Back-channel logout delivery (OpenID Connect Back-Channel Logout 1.0 §2.5, §2.8): when
//! a session ends, each of its clients with a `backchannel_logout_uri` is sent a logout
//! token by POST. Deliveries are queued in the grant store, so a restart or another
//! instance picks up what was not delivered (at least once; the RP dedupes by `jti`), and
//! retried with back-off while the token is valid. Sync rules; the store and HTTP side is
//! `endpoint/backchannel.rs`.

use time::{Duration, OffsetDateTime};

/// What an RP's answer means for a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// 200 or 204 (§2.8): done.
    Delivered,
    /// The RP refused the token (4xx, §2.8: 400): logged, not retried.
    Refused,
    /// The RP is down or failing (5xx, 3xx, a transport error): retried.
    Retry,
}

/// What an HTTP status means (`None`: no answer at all).
pub(crate) fn outcome(status: Option<u16>) -> Outcome {
    match status {
        Some(200 | 204) => Outcome::Delivered,
        Some(400..=499) => Outcome::Refused,
        _ => Outcome::Retry,
    }
}

/// When to try again after `attempts` failed attempts: 1 s doubling up to a minute, never
/// after `gives_up_at` (the token's expiry: an expired token would only be refused).
pub(crate) fn retry_at(
    attempts: u32,
    now: OffsetDateTime,
    gives_up_at: OffsetDateTime,
) -> Option<OffsetDateTime> {
    let wait = Duration::seconds(1i64 << attempts.min(6)).min(Duration::minutes(1));
    let at = now + wait;
    (at < gives_up_at).then_some(at)
}

/// The form body of a delivery (§2.5: `logout_token` in an
/// `application/x-www-form-urlencoded` POST).
pub(crate) fn body(logout_token: &str) -> Vec<u8> {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("logout_token", logout_token)
        .finish()
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::seconds(1_800_000_000 + s)
    }

    #[test]
    fn success_is_200_or_204_a_refusal_is_not_retried_backchannel_2_8() {
        assert_eq!(outcome(Some(200)), Outcome::Delivered);
        assert_eq!(outcome(Some(204)), Outcome::Delivered);
        assert_eq!(outcome(Some(400)), Outcome::Refused);
        assert_eq!(outcome(Some(404)), Outcome::Refused);
        assert_eq!(outcome(Some(503)), Outcome::Retry);
        assert_eq!(
            outcome(Some(302)),
            Outcome::Retry,
            "redirects are not followed"
        );
        assert_eq!(outcome(None), Outcome::Retry, "connection refused, timeout");
    }

    #[test]
    fn retries_back_off_and_stop_when_the_token_expires() {
        let end = t(600);
        assert_eq!(retry_at(0, t(0), end), Some(t(1)));
        assert_eq!(retry_at(3, t(0), end), Some(t(8)));
        assert_eq!(retry_at(30, t(0), end), Some(t(60)), "capped at a minute");
        assert_eq!(retry_at(2, t(598), end), None, "past the token's expiry");
    }

    #[test]
    fn the_body_is_the_form_encoded_token_backchannel_2_5() {
        assert_eq!(body("a.b+c"), b"logout_token=a.b%2Bc".to_vec());
    }
}
