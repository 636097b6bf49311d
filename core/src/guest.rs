//! Guest tokens and their upgrade at login (the storefront flow of issue #15; Elastic Path
//! Cortex's "public access token upgraded to a registered access token").
//!
//! A client registered for [`GrantType::Guest`](crate::GrantType::Guest) asks the token
//! endpoint for `grant_type=urn:idpkit:params:oauth:grant-type:guest` and gets an access
//! token for a fresh anonymous subject (`guest-` and 43 base64url
//! characters, 256 random bits). When the visitor logs in (authorization code + PKCE), the
//! host calls [`Provider::upgrade_guest`](crate::Provider::upgrade_guest) (or the client
//! sends `guest_token` with its `authorization_code` request): the code is redeemed under
//! the usual checks, the host's [`GuestUpgradeHook`] merges the guest's state into the
//! user's, and the same opaque token value then names the user (a JWT guest token is
//! revoked and replaced).
//!
//! The rules are sync functions here; the grant is in `grant/guest.rs`.

use time::Duration;

use crate::client::Client;
use crate::config::Config;
use crate::error::{ErrorCode, OAuthError};
use crate::store::StoreError;
use crate::token::lookup::ActiveToken;

/// The `grant_type` of the guest grant (an absolute URI, as RFC 6749 §4.5 asks of
/// extension grants).
pub const GRANT_TYPE: &str = "urn:idpkit:params:oauth:grant-type:guest";

/// The prefix of every guest subject. A host must not give a user a subject that starts
/// with it (its own subjects never do unless it chooses so).
pub const SUBJECT_PREFIX: &str = "guest-";

/// How long an upgrade holds its claim on a guest token: a second upgrade of the same
/// token is refused meanwhile; an instance that dies mid-upgrade frees it after this.
pub(crate) const CLAIM_TTL: Duration = Duration::seconds(60);

/// A fresh guest subject: [`SUBJECT_PREFIX`] and 256 random bits in base64url (43
/// characters). Never the same twice, and never a subject the host gave a user (those do
/// not start with the prefix).
pub(crate) fn new_subject() -> String {
    format!("{SUBJECT_PREFIX}{}", crate::crypto::random_token())
}

/// Whether `subject` has the shape of a guest subject ([`SUBJECT_PREFIX`] and 43 base64url
/// characters).
pub fn is_guest_subject(subject: &str) -> bool {
    subject.strip_prefix(SUBJECT_PREFIX).is_some_and(|rest| {
        rest.len() == 43
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// The lifetime of `client`'s guest tokens: its own, or the provider's.
pub(crate) fn ttl(client: &Client, config: &Config) -> Duration {
    client.guest_token_ttl.unwrap_or(config.guest_token_ttl)
}

/// The scopes of a guest token: nobody has logged in, so neither `openid` (an ID token
/// and userinfo are about an authenticated user, OIDC Core §3.1.2.1) nor `offline_access`
/// (a refresh token is a user's consent to offline access, OIDC Core §11). Anything else
/// the client may ask for ([`crate::scope::check_allowed`]) is the caller's to check.
pub(crate) fn check_scopes(scopes: &[String]) -> Result<(), OAuthError> {
    if let Some(s) = scopes
        .iter()
        .find(|s| *s == "openid" || *s == "offline_access")
    {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("a guest token cannot carry {s}: nobody has logged in"),
        ));
    }
    Ok(())
}

/// The guest token presented for an upgrade: it must be a live guest token
/// (`token`: what the lookup found, `None` for anything unknown, expired or revoked) of
/// client `client_id` (the client redeeming the code).
pub(crate) fn check_guest(token: Option<&ActiveToken>, client_id: &str) -> Result<(), OAuthError> {
    let Some(token) = token else {
        return Err(invalid_guest());
    };
    if !token.guest {
        return Err(OAuthError::invalid_grant("the token is not a guest token"));
    }
    if token.client_id != client_id {
        return Err(another_client());
    }
    Ok(())
}

/// An unknown, expired or revoked guest token.
pub(crate) fn invalid_guest() -> OAuthError {
    OAuthError::invalid_grant("the guest token is invalid, expired or revoked")
}

/// A guest token and an authorization code of different clients.
pub(crate) fn another_client() -> OAuthError {
    OAuthError::invalid_grant("the guest token was issued to another client")
}

/// The user a guest token is upgraded to must be a user: a guest subject never is (the
/// user store should never vouch for one, and an upgrade never hands a guest to a guest).
pub(crate) fn check_user(subject: &str) -> Result<(), OAuthError> {
    if is_guest_subject(subject) {
        return Err(OAuthError::invalid_grant(
            "a guest token is upgraded to a user, not to a guest",
        ));
    }
    Ok(())
}

/// What [`GuestUpgradeHook::merge`] is told.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GuestMerge {
    /// The guest's subject (the token's subject until now).
    pub guest_subject: String,
    /// The user who logged in (the token's subject from now on).
    pub user_subject: String,
    /// The client of the guest token and of the code.
    pub client_id: String,
}

/// What the host does when a guest token is upgraded: merge the guest's state (a cart)
/// into the user's. Set with
/// [`ProviderBuilder::guest_upgrade_hook`](crate::ProviderBuilder::guest_upgrade_hook).
///
/// ```
/// use idpkit_core::{GuestMerge, GuestUpgradeHook, StoreError};
///
/// struct Carts;
///
/// #[async_trait::async_trait]
/// impl GuestUpgradeHook for Carts {
///     async fn merge(&self, m: &GuestMerge) -> Result<(), StoreError> {
///         // e.g. UPDATE cart_items SET owner = $user WHERE owner = $guest
///         let _ = (&m.guest_subject, &m.user_subject);
///         Ok(())
///     }
/// }
/// ```
///
/// # Contract
/// `merge` is called once per upgrade, after every check has passed (the code, its PKCE
/// verifier, the guest token, the user) and before the code is consumed. An error aborts
/// the upgrade with nothing changed: the guest token stays the guest's, the code stays
/// unused, and the upgrade may be retried, so make `merge` idempotent (copy, or move and
/// tolerate a second call). Only a concurrent replay of the same code by someone else can
/// still fail the upgrade after `merge` (the code's grant is then revoked, RFC 6749
/// §4.1.2); the guest's token then stays a guest token.
#[async_trait::async_trait]
pub trait GuestUpgradeHook: Send + Sync + 'static {
    /// Merges the guest's state into the user's.
    async fn merge(&self, merge: &GuestMerge) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(client_id: &str, guest: bool) -> ActiveToken {
        let subject = new_subject();
        ActiveToken {
            userinfo_claims: Vec::new(),
            client_id: client_id.into(),
            sub: subject.clone(),
            subject: Some(subject),
            grant_id: None,
            auth_time: None,
            act: None,
            scopes: Vec::new(),
            aud: Vec::new(),
            iat: 0,
            exp: 1,
            jti: "j".into(),
            record_id: Some("r".into()),
            guest,
            authorization_details: None,
            jkt: None,
        }
    }

    #[test]
    fn guest_subjects_are_fresh_random_and_recognisable() {
        let a = new_subject();
        let b = new_subject();
        assert_ne!(a, b, "256 random bits each");
        assert!(a.starts_with(SUBJECT_PREFIX) && a.len() == SUBJECT_PREFIX.len() + 43);
        assert!(is_guest_subject(&a));
        for user in ["alice", "guest", "guest-alice", "fed-abc", ""] {
            assert!(!is_guest_subject(user), "{user}");
        }
        let almost = format!("{SUBJECT_PREFIX}{}", "a".repeat(42));
        assert!(!is_guest_subject(&almost), "exactly 43 characters");
        let bad_char = format!("{SUBJECT_PREFIX}{}!", "a".repeat(42));
        assert!(!is_guest_subject(&bad_char), "base64url only");
    }

    #[test]
    fn a_guest_token_has_no_user_scopes_oidc_core_3_1_2_1_and_11() {
        assert!(check_scopes(&[]).is_ok());
        assert!(check_scopes(&["api:read".into()]).is_ok());
        for s in ["openid", "offline_access"] {
            let e = check_scopes(&["api:read".into(), s.into()]).expect_err(s);
            assert_eq!(e.code, ErrorCode::InvalidScope);
            assert!(e.description.contains(s), "{}", e.description);
        }
    }

    #[test]
    fn only_a_live_guest_token_of_the_codes_client_is_upgraded() {
        assert!(check_guest(Some(&token("shop", true)), "shop").is_ok());
        let e = check_guest(None, "shop").expect_err("unknown or expired");
        assert_eq!(e.code, ErrorCode::InvalidGrant);
        assert!(e.description.contains("invalid, expired or revoked"));
        let e = check_guest(Some(&token("shop", false)), "shop").expect_err("a user's token");
        assert_eq!(e.description, "the token is not a guest token");
        let e = check_guest(Some(&token("kiosk", true)), "shop").expect_err("another client");
        assert_eq!(e, another_client());
    }

    #[test]
    fn a_guest_is_never_upgraded_to_a_guest() {
        assert!(check_user("alice").is_ok());
        assert_eq!(
            check_user(&new_subject()).expect_err("guest").code,
            ErrorCode::InvalidGrant
        );
    }
}
