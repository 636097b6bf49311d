//! The host's users: the [`UserStore`] trait and the scope → claims rules of OIDC Core §5.4.

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::store::StoreError;

/// A set of claims about a user (`name`, `email`, ...), as JSON.
pub type Claims = Map<String, Value>;

/// Implemented by the host against its own user database.
///
/// # Contract
/// - `claims` answers `Ok(None)` when the subject no longer exists (tokens for it are then
///   refused); it may return more claims than the scopes allow: core filters them.
/// - `authenticate` checks a password (for the opt-in password grant and simple login
///   pages); it must compare in constant time and answer `Ok(None)` for a wrong password
///   or an unknown user alike. Hosts with their own login UI need not support it.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Claims of `subject` for the granted `scopes`.
    async fn claims(&self, subject: &str, scopes: &[String]) -> Result<Option<Claims>, StoreError>;
    /// The subject for a username and password, if they are right.
    async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<String>, StoreError> {
        let _ = (username, password);
        Ok(None)
    }
}

/// The claims each standard scope releases (OIDC Core §5.4).
pub fn claims_for_scope(scope: &str) -> &'static [&'static str] {
    match scope {
        "profile" => &[
            "name",
            "family_name",
            "given_name",
            "middle_name",
            "nickname",
            "preferred_username",
            "profile",
            "picture",
            "website",
            "gender",
            "birthdate",
            "zoneinfo",
            "locale",
            "updated_at",
        ],
        "email" => &["email", "email_verified"],
        "address" => &["address"],
        "phone" => &["phone_number", "phone_number_verified"],
        _ => &[],
    }
}

/// Keeps only the claims the scopes release; `sub` is never taken from the host.
pub fn filter_claims(claims: Claims, scopes: &[String]) -> Claims {
    claims
        .into_iter()
        .filter(|(name, _)| {
            scopes
                .iter()
                .any(|s| claims_for_scope(s).contains(&name.as_str()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_released_only_for_granted_scopes() {
        let mut c = Claims::new();
        c.insert("name".into(), "Alice".into());
        c.insert("email".into(), "a@example.com".into());
        c.insert("sub".into(), "forged".into());
        c.insert("role".into(), "admin".into());
        let out = filter_claims(c, &["openid".into(), "email".into()]);
        assert_eq!(out.keys().collect::<Vec<_>>(), vec!["email"]);
    }
}
