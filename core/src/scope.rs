//! Scope rules (RFC 6749 §3.3): parsing the `scope` parameter, what a client may ask for,
//! narrowing on refresh (§6), client-credentials scopes (§4.4) and consent coverage.

use crate::client::Client;
use crate::error::{ErrorCode, OAuthError};

/// Splits a `scope` parameter (space-delimited, §3.3) into distinct scopes, in order.
/// Repeated spaces and repeated scopes are ignored.
pub fn parse(scope: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in scope
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
    {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    out
}

/// Whether the scopes include `openid` (an OpenID Connect request, OIDC Core §3.1.2.1).
pub fn is_openid(scopes: &[String]) -> bool {
    scopes.iter().any(|s| s == "openid")
}

/// Whether the scopes ask for a refresh token (`offline_access`, OIDC Core §11).
pub fn is_offline(scopes: &[String]) -> bool {
    scopes.iter().any(|s| s == "offline_access")
}

/// Scopes that only make sense with a user (OpenID Connect's and `offline_access`).
pub fn is_user_scope(s: &str) -> bool {
    matches!(
        s,
        "openid" | "offline_access" | "profile" | "email" | "address" | "phone"
    )
}

/// Every asked scope must be registered for the client: `invalid_scope` naming the first
/// that is not (§3.3, §5.2).
pub fn check_allowed(client: &Client, asked: &[String]) -> Result<(), OAuthError> {
    match asked.iter().find(|s| !client.allows_scope(s)) {
        Some(bad) => Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("scope {bad} is not allowed for this client"),
        )),
        None => Ok(()),
    }
}

/// The scopes of a refresh (§6): none asked keeps the granted ones; otherwise each asked
/// scope must have been granted ("MUST NOT include any scope not originally granted").
pub fn narrow(granted: &[String], asked: Option<&str>) -> Result<Vec<String>, OAuthError> {
    let Some(asked) = asked else {
        return Ok(granted.to_vec());
    };
    let asked = parse(Some(asked));
    if let Some(bad) = asked.iter().find(|s| !granted.contains(s)) {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("scope {bad} was not granted; a refresh can only narrow the scope"),
        ));
    }
    Ok(asked)
}

/// The scopes of a client_credentials token (§4.4.2): the asked ones, each registered and
/// none a user scope; none asked gives every registered non-user scope.
pub fn for_client_credentials(
    client: &Client,
    asked: Option<&str>,
) -> Result<Vec<String>, OAuthError> {
    match asked {
        Some(s) => {
            let asked = parse(Some(s));
            if let Some(bad) = asked
                .iter()
                .find(|s| !client.allows_scope(s) || is_user_scope(s))
            {
                return Err(OAuthError::new(
                    ErrorCode::InvalidScope,
                    format!("scope {bad} is not allowed for client_credentials"),
                ));
            }
            Ok(asked)
        }
        None => Ok(client
            .scopes
            .iter()
            .filter(|s| !is_user_scope(s))
            .cloned()
            .collect()),
    }
}

/// The asked scopes the user approved, in the order asked (anything approved that was not
/// asked for is ignored).
pub fn approved(asked: &[String], approved: &[String]) -> Vec<String> {
    asked
        .iter()
        .filter(|s| approved.contains(s))
        .cloned()
        .collect()
}

/// Whether an earlier consent covers every asked scope.
pub fn covered(asked: &[String], consented: &[String]) -> bool {
    asked.iter().all(|s| consented.contains(s))
}

/// Adds newly approved scopes to what was consented before (no duplicates, order kept).
pub fn merge(consented: &mut Vec<String>, approved: &[String]) {
    for s in approved {
        if !consented.contains(s) {
            consented.push(s.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::GrantType;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| (*x).to_owned()).collect()
    }

    fn client() -> Client {
        Client::confidential("c", "s")
            .redirect_uri("https://a.example/cb")
            .grant_types([GrantType::AuthorizationCode, GrantType::ClientCredentials])
            .scopes(["openid", "profile", "api:read", "api:write"])
            .build()
            .expect("valid")
    }

    #[test]
    fn scope_is_space_delimited_and_deduplicated_rfc6749_3_3() {
        assert_eq!(
            parse(Some("openid  profile openid")),
            v(&["openid", "profile"])
        );
        assert!(parse(None).is_empty());
        assert!(parse(Some("   ")).is_empty());
        assert_eq!(parse(Some("b a")), v(&["b", "a"]), "order kept");
    }

    #[test]
    fn openid_and_offline_are_recognised_exactly() {
        assert!(is_openid(&v(&["profile", "openid"])));
        assert!(!is_openid(&v(&["OpenID", "openid2"])));
        assert!(is_offline(&v(&["offline_access"])));
        assert!(!is_offline(&v(&["offline"])));
    }

    #[test]
    fn unregistered_scopes_are_invalid_scope_rfc6749_3_3() {
        let c = client();
        assert!(check_allowed(&c, &v(&["openid", "api:read"])).is_ok());
        let e = check_allowed(&c, &v(&["openid", "admin"])).expect_err("admin");
        assert_eq!(e.code, ErrorCode::InvalidScope);
        assert!(e.description.contains("admin"));
    }

    #[test]
    fn refresh_keeps_or_narrows_never_widens_rfc6749_6() {
        let granted = v(&["openid", "profile", "offline_access"]);
        assert_eq!(narrow(&granted, None).expect("kept"), granted);
        assert_eq!(
            narrow(&granted, Some("openid")).expect("narrowed"),
            v(&["openid"])
        );
        let e = narrow(&granted, Some("openid email")).expect_err("widened");
        assert_eq!(e.code, ErrorCode::InvalidScope);
        assert!(e.description.contains("email"));
    }

    #[test]
    fn client_credentials_never_carries_user_scopes_rfc6749_4_4() {
        let c = client();
        assert_eq!(
            for_client_credentials(&c, None).expect("default"),
            v(&["api:read", "api:write"])
        );
        assert_eq!(
            for_client_credentials(&c, Some("api:read")).expect("asked"),
            v(&["api:read"])
        );
        for bad in ["openid", "profile", "api:admin"] {
            let e = for_client_credentials(&c, Some(bad)).expect_err(bad);
            assert_eq!(e.code, ErrorCode::InvalidScope, "{bad}");
        }
    }

    #[test]
    fn approval_keeps_only_asked_scopes_in_asked_order() {
        let asked = v(&["openid", "profile", "email"]);
        assert_eq!(
            approved(&asked, &v(&["email", "openid", "admin"])),
            v(&["openid", "email"])
        );
        assert!(approved(&asked, &[]).is_empty());
    }

    #[test]
    fn consent_covers_only_when_every_scope_was_approved() {
        let mut consented = v(&["openid"]);
        assert!(covered(&v(&["openid"]), &consented));
        assert!(!covered(&v(&["openid", "email"]), &consented));
        merge(&mut consented, &v(&["email", "openid"]));
        assert_eq!(consented, v(&["openid", "email"]));
        assert!(covered(&v(&["openid", "email"]), &consented));
    }
}
