//! The device authorization grant (RFC 8628): user codes, the device authorization
//! response, and the rules of the device's polling token requests.
//!
//! The flow keeps all of its state in the grant store, so the device may ask at one
//! instance, the user approve at another and the device poll at either:
//! - a device code record (keyed by the [`secret_id`](crate::records::secret_id) of the
//!   `device_code`) holds the client, the scopes, the status (pending, approved by a user,
//!   denied) and the grant family of the tokens it will be redeemed for; redeeming
//!   consumes it, so it is single use;
//! - a user code record (keyed by [`user_code_id`]) names the device code; approving or
//!   denying consumes it, so of two browsers that enter one code only one decides;
//! - the polling pace is two store counters per device code: the time since the last poll
//!   (`slow_down`, §3.5) and the number of `slow_down`s so far, each adding 5 seconds to the
//!   interval.

use time::{Duration, OffsetDateTime};

use crate::client::Client;
use crate::crypto;
use crate::error::{ErrorCode, OAuthError};
use crate::records::{DeviceApproval, DeviceCodeRecord, DeviceStatus};

/// The user code alphabet: the 20 consonants of the Latin alphabet in upper case. No
/// vowels (no words, RFC 8628 §6.1), no digits (none to mistake for a letter: `0`/`O`,
/// `1`/`I`), and one case.
pub(crate) const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";

/// Letters in a user code: 20^8 ≈ 2^34.6 codes (RFC 8628 §6.1 recommends 8 characters of
/// a 20-letter set), guessed at a rate [`crate::RateLimits`] bounds (§5.1).
pub(crate) const USER_CODE_LEN: usize = 8;

/// The longest user-code input looked at (a user may type spaces or dashes).
const MAX_USER_CODE_INPUT: usize = 64;

/// How much the interval grows at each `slow_down` (RFC 8628 §3.5: "MUST be increased by 5
/// seconds for this and all subsequent requests").
pub(crate) const SLOW_DOWN_STEP: Duration = Duration::seconds(5);

/// At most this many `slow_down` steps count (the interval stops growing at 5 minutes past
/// the base).
const MAX_SLOW_DOWNS: u64 = 60;

/// A fresh user code, canonical (8 letters of [`USER_CODE_ALPHABET`], no separator).
pub(crate) fn new_user_code() -> String {
    let mut code = String::with_capacity(USER_CODE_LEN);
    // Rejection sampling: 240 = 12 * 20, so bytes below it map onto the alphabet evenly.
    let mut buf = [0u8; 32];
    while code.len() < USER_CODE_LEN {
        crypto::fill_random(&mut buf);
        for b in buf.iter().filter(|b| **b < 240) {
            if code.len() == USER_CODE_LEN {
                break;
            }
            code.push(char::from(USER_CODE_ALPHABET[usize::from(*b % 20)]));
        }
    }
    code
}

/// How a user code is shown and typed: `BCDF-GHJK` (RFC 8628 §6.1: a separator makes it
/// easier to read and is ignored on input).
pub(crate) fn display(code: &str) -> String {
    let (a, b) = code.split_at(code.len() / 2);
    format!("{a}-{b}")
}

/// The canonical form of what a user typed: case-insensitive, spaces and dashes ignored
/// (RFC 8628 §6.1); `None` when it cannot be a user code at all (then it is not looked up).
pub(crate) fn normalize(input: &str) -> Option<String> {
    if input.len() > MAX_USER_CODE_INPUT {
        return None;
    }
    let code: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)))
        .then_some(code)
}

/// Store id of a (canonical) user code: a domain-separated SHA-256, never the code.
pub(crate) fn user_code_id(code: &str) -> String {
    crypto::sha256_b64(format!("idpkit-user-code:{code}").as_bytes())
}

/// The `verification_uri_complete` of a user code (RFC 8628 §3.3.1): the verification URI
/// with the code as its `user_code` query parameter.
pub(crate) fn verification_uri_complete(verification_uri: &str, code: &str) -> String {
    format!("{verification_uri}?user_code={}", display(code))
}

/// The polling interval after `slow_downs` `slow_down` answers (RFC 8628 §3.5).
pub(crate) fn interval(base: Duration, slow_downs: u64) -> Duration {
    let steps = i32::try_from(slow_downs.min(MAX_SLOW_DOWNS)).unwrap_or(0);
    base + SLOW_DOWN_STEP * steps
}

/// How long a poll keeps the next one "too soon": the interval less one second of network
/// jitter (a client that waits the interval after its answer may still arrive a little
/// early), at least one second.
pub(crate) fn too_soon_window(interval: Duration) -> Duration {
    (interval - Duration::seconds(1)).max(Duration::seconds(1))
}

/// The device authorization request's scopes (RFC 8628 §3.1: `scope` as in RFC 6749 §3.3):
/// each must be registered for the client. `scope` is required: a device asks for what it
/// needs, as an authorization request must.
pub(crate) fn scopes(client: &Client, scope: Option<&str>) -> Result<Vec<String>, OAuthError> {
    let scopes = crate::scope::parse(scope);
    if scopes.is_empty() {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "scope is required",
        ));
    }
    crate::scope::check_allowed(client, &scopes)?;
    Ok(scopes)
}

/// The answer to a device authorization request (RFC 8628 §3.2).
pub(crate) fn response(
    device_code: &str,
    user_code: &str,
    verification_uri: &str,
    expires_in: Duration,
    interval: Duration,
) -> serde_json::Map<String, serde_json::Value> {
    let mut body = serde_json::Map::new();
    body.insert("device_code".into(), device_code.into());
    body.insert("user_code".into(), display(user_code).into());
    body.insert("verification_uri".into(), verification_uri.into());
    body.insert(
        "verification_uri_complete".into(),
        verification_uri_complete(verification_uri, user_code).into(),
    );
    body.insert("expires_in".into(), expires_in.whole_seconds().into());
    body.insert("interval".into(), interval.whole_seconds().into());
    body
}

fn invalid() -> OAuthError {
    OAuthError::invalid_grant("the device code is invalid or was already used")
}

/// The token request's rules for a stored device code `rec` polled by `client` at `now`;
/// `too_soon` says whether the last poll was less than the interval ago. In this order:
/// the code is bound to its client (`invalid_grant`, as for an unknown code), it has not
/// expired (`expired_token`), the device keeps its pace (`slow_down`), and the user has
/// decided (`authorization_pending` until then, `access_denied` when refused; RFC 8628
/// §3.5). Returns the approval to issue tokens for.
pub(crate) fn check<'r>(
    rec: &'r DeviceCodeRecord,
    client: &Client,
    now: OffsetDateTime,
    too_soon: bool,
) -> Result<&'r DeviceApproval, OAuthError> {
    if rec.client_id != client.id {
        return Err(invalid());
    }
    if now.unix_timestamp() >= rec.expires_at {
        return Err(OAuthError::new(
            ErrorCode::ExpiredToken,
            "the device code has expired; start a new device authorization",
        ));
    }
    if too_soon {
        return Err(OAuthError::new(
            ErrorCode::SlowDown,
            "polling too fast; wait the interval (now 5 seconds longer) between requests",
        ));
    }
    match &rec.status {
        DeviceStatus::Pending => Err(OAuthError::new(
            ErrorCode::AuthorizationPending,
            "the user has not approved the device yet",
        )),
        DeviceStatus::Denied => Err(OAuthError::new(
            ErrorCode::AccessDenied,
            "the user denied the device authorization",
        )),
        DeviceStatus::Approved(a) => Ok(a),
    }
}

/// The invalid-code answer of the token request.
pub(crate) fn invalid_device_code() -> OAuthError {
    invalid()
}

/// The user-code page's refusal of a code that is not (or no longer) pending: one message
/// for unknown, expired, used and malformed codes, so the page tells a guesser nothing.
pub(crate) fn unknown_user_code() -> OAuthError {
    OAuthError::invalid_request("this code is not valid (mistyped, expired or already used)")
}

/// Whether a device authorization can still be approved or denied at `now`.
pub(crate) fn is_pending(rec: &DeviceCodeRecord, now: OffsetDateTime) -> bool {
    rec.status == DeviceStatus::Pending && now.unix_timestamp() < rec.expires_at
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::GrantType;

    fn t0() -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::days(20_000)
    }

    fn client(id: &str) -> Client {
        Client::public(id)
            .grant_types([GrantType::DeviceCode, GrantType::RefreshToken])
            .scopes(["openid", "api:read"])
            .build()
            .expect("valid")
    }

    fn rec(status: DeviceStatus) -> DeviceCodeRecord {
        DeviceCodeRecord {
            client_id: "tv".into(),
            scopes: vec!["openid".into()],
            user_code_id: user_code_id("BCDFGHJK"),
            expires_at: (t0() + Duration::minutes(10)).unix_timestamp(),
            interval: 5,
            status,
        }
    }

    fn approved() -> DeviceStatus {
        DeviceStatus::Approved(DeviceApproval {
            subject: "alice".into(),
            scopes: vec!["openid".into()],
            auth_time: t0().unix_timestamp(),
            sid: None,
        })
    }

    fn code_of(r: Result<&DeviceApproval, OAuthError>) -> ErrorCode {
        r.expect_err("refused").code
    }

    #[test]
    fn user_codes_are_8_consonants_without_vowels_or_digits_rfc8628_6_1() {
        for _ in 0..200 {
            let c = new_user_code();
            assert_eq!(c.len(), USER_CODE_LEN);
            assert!(c.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)), "{c}");
            assert!(!c.bytes().any(|b| b"AEIOUY0123456789".contains(&b)), "{c}");
        }
        assert_ne!(new_user_code(), new_user_code(), "random");
    }

    #[test]
    fn every_letter_of_the_alphabet_comes_up_rfc8628_6_1() {
        // Rejection sampling maps onto all 20 letters, not a biased subset.
        let mut seen = std::collections::HashSet::new();
        for _ in 0..100 {
            seen.extend(new_user_code().bytes());
        }
        assert_eq!(seen.len(), 20);
    }

    #[test]
    fn input_is_case_insensitive_and_ignores_dashes_and_spaces_rfc8628_6_1() {
        assert_eq!(normalize("bcdf-ghjk").as_deref(), Some("BCDFGHJK"));
        assert_eq!(normalize(" BCDF ghjk ").as_deref(), Some("BCDFGHJK"));
        assert_eq!(normalize(&display("BCDFGHJK")).as_deref(), Some("BCDFGHJK"));
        assert_eq!(display("BCDFGHJK"), "BCDF-GHJK");
    }

    #[test]
    fn what_cannot_be_a_code_is_refused_before_any_lookup_rfc8628_6_1() {
        for bad in [
            "",
            "BCDFGHJ",
            "BCDFGHJKL",
            "BCDFGHJA",
            "BCDF0HJK",
            "ＢCDFGHJK",
            &"-".repeat(100),
        ] {
            assert_eq!(normalize(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn user_codes_are_stored_as_hashes_rfc8628_5_1() {
        let id = user_code_id("BCDFGHJK");
        assert!(!id.contains("BCDFGHJK"));
        assert_ne!(
            id,
            crate::records::secret_id("BCDFGHJK"),
            "domain-separated"
        );
        assert_ne!(id, user_code_id("BCDFGHJL"));
    }

    #[test]
    fn the_response_has_every_member_of_rfc8628_3_2() {
        let body = response(
            "dc",
            "BCDFGHJK",
            "https://idp.example/device",
            Duration::minutes(10),
            Duration::seconds(5),
        );
        assert_eq!(body["device_code"], "dc");
        assert_eq!(body["user_code"], "BCDF-GHJK");
        assert_eq!(body["verification_uri"], "https://idp.example/device");
        assert_eq!(
            body["verification_uri_complete"],
            "https://idp.example/device?user_code=BCDF-GHJK"
        );
        assert_eq!(body["expires_in"], 600);
        assert_eq!(body["interval"], 5);
    }

    #[test]
    fn each_slow_down_adds_5_seconds_to_the_interval_rfc8628_3_5() {
        let base = Duration::seconds(5);
        assert_eq!(interval(base, 0), base);
        assert_eq!(interval(base, 1), Duration::seconds(10));
        assert_eq!(interval(base, 3), Duration::seconds(20));
        assert_eq!(interval(base, u64::MAX), Duration::seconds(305), "bounded");
        assert_eq!(too_soon_window(Duration::seconds(5)), Duration::seconds(4));
        assert_eq!(too_soon_window(Duration::seconds(1)), Duration::seconds(1));
    }

    #[test]
    fn a_pending_code_answers_authorization_pending_rfc8628_3_5() {
        let r = rec(DeviceStatus::Pending);
        assert_eq!(
            code_of(check(&r, &client("tv"), t0(), false)),
            ErrorCode::AuthorizationPending
        );
    }

    #[test]
    fn a_denied_code_answers_access_denied_rfc8628_3_5() {
        let r = rec(DeviceStatus::Denied);
        assert_eq!(
            code_of(check(&r, &client("tv"), t0(), false)),
            ErrorCode::AccessDenied
        );
    }

    #[test]
    fn an_expired_code_answers_expired_token_whatever_its_status_rfc8628_3_5() {
        let end = t0() + Duration::minutes(10);
        for status in [DeviceStatus::Pending, approved(), DeviceStatus::Denied] {
            let r = rec(status);
            assert_eq!(
                code_of(check(&r, &client("tv"), end, false)),
                ErrorCode::ExpiredToken
            );
        }
        assert!(
            check(
                &rec(approved()),
                &client("tv"),
                end - Duration::seconds(1),
                false
            )
            .is_ok()
        );
    }

    #[test]
    fn polling_too_soon_answers_slow_down_rfc8628_3_5() {
        for status in [DeviceStatus::Pending, approved()] {
            let r = rec(status);
            assert_eq!(
                code_of(check(&r, &client("tv"), t0(), true)),
                ErrorCode::SlowDown
            );
        }
    }

    #[test]
    fn a_device_code_is_bound_to_its_client_rfc8628_3_4() {
        let r = rec(approved());
        let e = check(&r, &client("other"), t0(), false).expect_err("foreign");
        assert_eq!(e.code, ErrorCode::InvalidGrant);
        assert_eq!(e.description, invalid().description, "no hint it exists");
    }

    #[test]
    fn an_approved_code_yields_its_approval_rfc8628_3_5() {
        let r = rec(approved());
        let a = check(&r, &client("tv"), t0(), false).expect("approved");
        assert_eq!(a.subject, "alice");
    }

    #[test]
    fn only_unexpired_pending_codes_can_be_decided_rfc8628_3_3() {
        assert!(is_pending(&rec(DeviceStatus::Pending), t0()));
        assert!(!is_pending(&rec(approved()), t0()));
        assert!(!is_pending(&rec(DeviceStatus::Denied), t0()));
        assert!(!is_pending(
            &rec(DeviceStatus::Pending),
            t0() + Duration::minutes(10)
        ));
    }

    #[test]
    fn the_request_needs_registered_scopes_rfc8628_3_1() {
        let c = client("tv");
        assert_eq!(
            scopes(&c, Some("openid api:read")).expect("ok"),
            vec!["openid", "api:read"]
        );
        assert_eq!(
            scopes(&c, None).expect_err("none").code,
            ErrorCode::InvalidScope
        );
        assert_eq!(
            scopes(&c, Some("openid admin"))
                .expect_err("unregistered")
                .code,
            ErrorCode::InvalidScope
        );
    }
}
