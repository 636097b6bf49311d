//! Resource indicators (RFC 8707): the `resource` parameter names the protected resources
//! (APIs) an access token is for, at the authorization request, the token request and the
//! refresh request.
//!
//! Resources are registered with the provider ([`Resource`],
//! [`ProviderBuilder::resource`](crate::ProviderBuilder::resource)): an absolute URI, the
//! audience (`aud`) its tokens carry and the scopes it accepts. The rules:
//! - every `resource` is an absolute URI without a fragment and registered, or the request
//!   is refused with `invalid_target` (§2: "invalid, missing, unknown, or malformed"), never
//!   ignored;
//! - the resources of an authorization are kept with its code and refresh token; a token
//!   or refresh request may name a subset of them (§2.2), and none means all of them;
//! - the access token's `aud` is the audiences of the resources asked for; without any, the
//!   client's audience as before;
//! - scopes a resource does not accept are dropped from the access token (its `scope` in
//!   the token response says so, RFC 6749 §3.3 and §5.1), not refused: `openid` or
//!   `offline_access` are the provider's own scopes, for the ID and refresh tokens, and an
//!   API-bound access token simply does not carry them.

use crate::client::GrantType;
use crate::error::{ErrorCode, OAuthError};
use crate::http_types::Params;

/// A protected resource access tokens may be requested for (RFC 8707 §2).
///
/// ```
/// use idpkit_core::Resource;
/// let api = Resource::new("https://api.example.com/", "orders-api").scopes(["orders:read"]);
/// assert_eq!(api.audience(), "orders-api");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    uri: String,
    audience: String,
    scopes: Option<Vec<String>>,
    encryption: Option<AccessTokenEncryption>,
}

/// How JWT access tokens for a [`Resource`] are encrypted: to its public key, with `alg`
/// and `enc` ([`Resource::encrypt_access_tokens`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenEncryption {
    /// The resource server's public encryption key.
    pub key: crate::jose::jwe::EncryptionJwk,
    /// The key management algorithm.
    pub alg: crate::jose::jwe::JweAlgorithm,
    /// The content encryption algorithm.
    pub enc: crate::jose::jwe::JweEncryption,
}

impl Resource {
    /// The resource `uri` (the `resource` value clients send: an absolute URI without a
    /// fragment, compared exactly), whose tokens carry `aud` = `audience`. It accepts
    /// every scope until [`scopes`](Self::scopes) says otherwise.
    pub fn new(uri: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            audience: audience.into(),
            scopes: None,
            encryption: None,
        }
    }

    /// Encrypts the JWT access tokens whose only audience is this resource's to `key`,
    /// the resource server's public encryption key: a nested JWT (signed, then encrypted,
    /// `cty: JWT`) that only the resource server reads, with a
    /// [`ValidatorBuilder::decryption_key`](crate::validate::ValidatorBuilder::decryption_key).
    /// The provider cannot read such a token back: userinfo, introspection and revocation
    /// by value do not take it (revoking its grant still works). Needs the aws-lc-rs
    /// backend.
    pub fn encrypt_access_tokens(
        mut self,
        key: crate::jose::jwe::EncryptionJwk,
        alg: crate::jose::jwe::JweAlgorithm,
        enc: crate::jose::jwe::JweEncryption,
    ) -> Self {
        self.encryption = Some(AccessTokenEncryption { key, alg, enc });
        self
    }

    /// How its access tokens are encrypted, if they are.
    pub fn access_token_encryption(&self) -> Option<&AccessTokenEncryption> {
        self.encryption.as_ref()
    }

    /// The only scopes a token for this resource carries (others are dropped from it).
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// The resource URI.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The `aud` of its tokens.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The scopes it accepts (`None`: every scope).
    pub fn accepted_scopes(&self) -> Option<&[String]> {
        self.scopes.as_deref()
    }

    fn accepts(&self, scope: &str) -> bool {
        self.scopes
            .as_ref()
            .is_none_or(|s| s.iter().any(|x| x == scope))
    }

    /// Why this registration is unusable, if it is (for the builder).
    pub(crate) fn problem(&self) -> Option<String> {
        if !is_resource_uri(&self.uri) {
            return Some(format!(
                "resource {:?} must be an absolute URI without a fragment (RFC 8707 §2)",
                self.uri
            ));
        }
        if self.audience.is_empty() || self.audience.chars().any(char::is_control) {
            return Some(format!(
                "resource {:?}: the audience must be non-empty printable text",
                self.uri
            ));
        }
        if let Some(e) = &self.encryption {
            if !crate::jose::jwe::SUPPORTED {
                return Some(format!(
                    "resource {:?}: encrypted access tokens: {}",
                    self.uri,
                    crate::jose::jwe::NEEDS_AWS_LC_RS
                ));
            }
            if !e.key.supports(e.alg) {
                return Some(format!(
                    "resource {:?}: the access-token encryption key is not a {} key for {}",
                    self.uri,
                    e.alg.key_type(),
                    e.alg
                ));
            }
        }
        None
    }
}

/// An absolute URI (RFC 3986 §4.3) without a fragment (RFC 8707 §2).
pub(crate) fn is_resource_uri(s: &str) -> bool {
    crate::client::is_absolute_uri(s) && !s.contains('#')
}

fn invalid_target(description: impl Into<std::borrow::Cow<'static, str>>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidTarget, description)
}

/// The `resource` values of a request (RFC 8707 §2, repeatable), in order, without
/// repeats, each registered in `registered`: `invalid_target` for a malformed or unknown
/// one.
pub(crate) fn requested(p: &Params, registered: &[Resource]) -> Result<Vec<String>, OAuthError> {
    let mut out: Vec<String> = Vec::new();
    for r in p.all("resource") {
        if !is_resource_uri(r) {
            return Err(invalid_target(
                "resource must be an absolute URI without a fragment (RFC 8707 §2)",
            ));
        }
        if !registered.iter().any(|x| x.uri == r) {
            return Err(invalid_target("the resource is unknown"));
        }
        if !out.iter().any(|x| x == r) {
            out.push(r.to_owned());
        }
    }
    Ok(out)
}

/// The built-in grants that take `resource`: the others (password, device code, guest)
/// refuse it with `invalid_target` rather than ignore it (RFC 8707 §2: a resource the
/// server will not issue a token for is `invalid_target`). Extension grants read their
/// own parameters.
pub(crate) fn check_grant(grant: GrantType, p: &Params) -> Result<(), OAuthError> {
    let takes = matches!(
        grant,
        GrantType::AuthorizationCode
            | GrantType::RefreshToken
            | GrantType::ClientCredentials
            | GrantType::TokenExchange
    );
    if !takes && p.all("resource").next().is_some() {
        return Err(invalid_target(format!(
            "the {} grant takes no resource",
            grant.as_str()
        )));
    }
    Ok(())
}

/// At a token or refresh request: the resources asked for must be among those
/// `authorized` at the authorization (RFC 8707 §2.2); none asked means all of them.
pub(crate) fn narrow(authorized: &[String], asked: Vec<String>) -> Result<Vec<String>, OAuthError> {
    if asked.is_empty() {
        return Ok(authorized.to_vec());
    }
    if asked.iter().any(|r| !authorized.contains(r)) {
        return Err(invalid_target(
            "the resource was not part of the authorization",
        ));
    }
    Ok(asked)
}

/// What an access token for `resources` (registered URIs) carries: its `aud` (the
/// resources' audiences, in order, without repeats) and the `scopes` some resource
/// accepts. `None` when no resource was asked for (the client's defaults apply).
pub(crate) fn target(
    registered: &[Resource],
    resources: &[String],
    scopes: &[String],
) -> Option<(Vec<String>, Vec<String>)> {
    let found: Vec<&Resource> = resources
        .iter()
        .filter_map(|r| registered.iter().find(|x| &x.uri == r))
        .collect();
    if found.is_empty() {
        return None;
    }
    let mut aud: Vec<String> = Vec::new();
    for r in &found {
        if !aud.contains(&r.audience) {
            aud.push(r.audience.clone());
        }
    }
    let scopes = scopes
        .iter()
        .filter(|s| found.iter().any(|r| r.accepts(s)))
        .cloned()
        .collect();
    Some((aud, scopes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered() -> Vec<Resource> {
        vec![
            Resource::new("urn:demo-api", "demo-api").scopes(["api:read"]),
            Resource::new("https://files.example/", "files"),
        ]
    }

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn an_unknown_resource_is_invalid_target_never_ignored_rfc8707_2() {
        let e =
            requested(&params(&[("resource", "urn:other")]), &registered()).expect_err("unknown");
        assert_eq!(e.code, ErrorCode::InvalidTarget);
    }

    #[test]
    fn a_relative_or_fragment_resource_is_invalid_target_rfc8707_2() {
        for bad in ["/api", "api", "https://files.example/#x", "urn:demo-api#f"] {
            let e = requested(&params(&[("resource", bad)]), &registered()).expect_err(bad);
            assert_eq!(e.code, ErrorCode::InvalidTarget, "{bad}");
        }
    }

    #[test]
    fn resource_repeats_and_is_kept_in_order_without_duplicates_rfc8707_2() {
        let p = params(&[
            ("resource", "https://files.example/"),
            ("resource", "urn:demo-api"),
            ("resource", "urn:demo-api"),
        ]);
        assert_eq!(
            requested(&p, &registered()).expect("known"),
            vec!["https://files.example/", "urn:demo-api"]
        );
        assert!(
            requested(&params(&[]), &registered())
                .expect("none")
                .is_empty()
        );
    }

    #[test]
    fn a_token_request_narrows_to_authorized_resources_only_rfc8707_2_2() {
        let authorized = vec![
            "urn:demo-api".to_owned(),
            "https://files.example/".to_owned(),
        ];
        assert_eq!(
            narrow(&authorized, vec!["urn:demo-api".into()]).expect("subset"),
            vec!["urn:demo-api"]
        );
        assert_eq!(narrow(&authorized, Vec::new()).expect("all"), authorized);
        let e = narrow(
            &["urn:demo-api".into()],
            vec!["https://files.example/".into()],
        )
        .expect_err("widening");
        assert_eq!(e.code, ErrorCode::InvalidTarget);
        let e = narrow(&[], vec!["urn:demo-api".into()]).expect_err("nothing authorized");
        assert_eq!(e.code, ErrorCode::InvalidTarget);
    }

    #[test]
    fn the_audience_is_the_resources_and_unaccepted_scopes_are_dropped_rfc8707_2_2() {
        let scopes: Vec<String> = ["openid", "api:read", "files:write"]
            .map(String::from)
            .to_vec();
        let (aud, s) =
            target(&registered(), &["urn:demo-api".into()], &scopes).expect("a resource");
        assert_eq!(aud, vec!["demo-api"]);
        assert_eq!(s, vec!["api:read"]);
        let (aud, s) = target(
            &registered(),
            &["urn:demo-api".into(), "https://files.example/".into()],
            &scopes,
        )
        .expect("two");
        assert_eq!(aud, vec!["demo-api", "files"]);
        assert_eq!(s, scopes, "files accepts every scope");
        assert!(target(&registered(), &[], &scopes).is_none());
    }

    #[test]
    fn grants_without_resource_support_refuse_it_rather_than_ignore_it_rfc8707_2() {
        let p = params(&[("resource", "urn:demo-api")]);
        for g in [GrantType::Password, GrantType::DeviceCode, GrantType::Guest] {
            assert_eq!(
                check_grant(g, &p).expect_err("refused").code,
                ErrorCode::InvalidTarget
            );
            assert!(check_grant(g, &params(&[])).is_ok());
        }
        for g in [
            GrantType::AuthorizationCode,
            GrantType::RefreshToken,
            GrantType::ClientCredentials,
            GrantType::TokenExchange,
        ] {
            assert!(check_grant(g, &p).is_ok());
        }
    }

    #[test]
    fn registrations_are_checked() {
        assert!(Resource::new("urn:x", "x").problem().is_none());
        assert!(Resource::new("relative", "x").problem().is_some());
        assert!(Resource::new("https://a/#f", "x").problem().is_some());
        assert!(Resource::new("urn:x", "").problem().is_some());
    }
}
