//! Federation: upstream identity providers ([`Subprovider`]) through which users log in.
//!
//! - [`Subprovider`]: an upstream identity provider; [`oidc::OidcSubprovider`] is the generic
//!   OpenID Connect one.
//! - Claims transformation: declarative [`MappingRule`]s ([`RuleMapper`]) or any function
//!   ([`ClaimsMapper`]).
//! - Account linking: [`AccountLinker`] (default [`HashedSubject`], keyed by upstream issuer +
//!   `sub`).
//! - Registered on the provider with `ProviderBuilder::upstream`. An authorization request
//!   naming one (`idp_hint=NAME`, or an `acr_values` entry `idp:NAME`) goes straight to it;
//!   otherwise the host's login page lists [`crate::Provider::upstreams`] and starts one with
//!   [`crate::Provider::federate`]. The upstream calls back to `Paths::federation_callback`,
//!   where [`crate::Provider::federation_callback`] finishes the local login (or answers the
//!   client with an error redirect: `access_denied`, `temporarily_unavailable`).

pub mod oidc;

use async_trait::async_trait;

use crate::http_types::Params;
use crate::users::Claims;

/// The redirect to the upstream provider and the state to keep until it calls back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamRedirect {
    /// Where to send the browser.
    pub url: String,
    /// Opaque state (PKCE verifier, nonce, ...) the host keeps with the interaction.
    pub state: String,
}

/// A user as the upstream provider identified them.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalIdentity {
    /// Which subprovider.
    pub provider: String,
    /// The upstream `sub`.
    pub subject: String,
    /// Upstream claims, already mapped to local names.
    pub claims: Claims,
    /// When the user authenticated at the upstream (its ID token's `auth_time`), if it said.
    /// Required when the client asked for `max_age` (the login is refused without it), and
    /// checked against it: [`local_auth_time`].
    pub auth_time: Option<i64>,
}

/// What the local authorization request asks of the upstream login.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpstreamRequest {
    /// The local interaction.
    pub interaction_id: String,
    /// The redirect URI to send (this upstream's callback URL at the provider).
    pub redirect_uri: String,
    /// The client asked for a fresh login (`prompt=login`): the upstream must not answer
    /// from its own session.
    pub force_login: bool,
    /// The client's `max_age`, to pass on. The provider then holds the returned
    /// [`ExternalIdentity::auth_time`] to it ([`local_auth_time`]).
    pub max_age: Option<i64>,
    /// The client's `login_hint`, to pass on.
    pub login_hint: Option<String>,
}

impl UpstreamRequest {
    /// A plain request: no `prompt`, `max_age` or `login_hint`.
    pub fn new(interaction_id: impl Into<String>, redirect_uri: impl Into<String>) -> Self {
        Self {
            interaction_id: interaction_id.into(),
            redirect_uri: redirect_uri.into(),
            force_login: false,
            max_age: None,
            login_hint: None,
        }
    }
}

/// Federation failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FederationError {
    /// A mapping rule requires a claim the upstream did not send, or sent with another value.
    #[error("the upstream identity is refused: {0}")]
    Refused(String),
    /// The upstream provider answered with an error.
    #[error("upstream provider error: {0}")]
    Upstream(String),
    /// The callback did not match the state that was sent.
    #[error("callback rejected: {0}")]
    Callback(String),
    /// The user (or the upstream's policy) refused the login at the upstream
    /// (`error=access_denied`).
    #[error("the upstream login was denied: {0}")]
    Denied(String),
    /// The upstream could not be reached, or answered with a server error.
    #[error("the upstream provider is unavailable: {0}")]
    Unavailable(String),
    /// The upstream login is older than the client's `max_age` allows, or the upstream did
    /// not say when it happened although `max_age` was asked (OIDC Core §3.1.2.1).
    #[error("the upstream login does not satisfy max_age: {0}")]
    MaxAge(String),
}

/// An upstream identity provider.
///
/// # Contract
/// `start` must bind the upstream request to `state` (and PKCE) and pass `max_age` on;
/// `finish` must verify that binding, that the answer comes from this upstream (RFC 9207
/// `iss` where the upstream supports it; the provider also gives each upstream its own
/// callback URL against mix-up, RFC 9700 §4.4) and the upstream ID token before returning an
/// identity, with the upstream's `auth_time` (the provider enforces `max_age` on it:
/// [`local_auth_time`]). It must not pass an upstream's `email_verified` on unless the
/// upstream is trusted for it ([`drop_untrusted_claims`]).
#[async_trait]
pub trait Subprovider: Send + Sync + 'static {
    /// A short unique name (`"google"`, `"corp-azure"`): letters, digits, `-`, `_`, `.`.
    fn name(&self) -> &str;
    /// What the login page shows (default: the name).
    fn display_name(&self) -> &str {
        self.name()
    }
    /// The upstream's issuer, which account linking keys on (default: the name). Changing
    /// it (or, with the default, the name) changes every linked subject: keep it stable.
    fn issuer(&self) -> &str {
        self.name()
    }
    /// Builds the upstream authorization redirect for a local interaction.
    async fn start(&self, request: &UpstreamRequest) -> Result<UpstreamRedirect, FederationError>;
    /// Finishes the callback: `state` is what `start` returned, `callback` the parameters
    /// the upstream sent back.
    async fn finish(
        &self,
        state: &str,
        callback: &Params,
        redirect_uri: &str,
    ) -> Result<ExternalIdentity, FederationError>;
}

/// Clock skew allowed for an upstream `auth_time`, in seconds.
const AUTH_TIME_LEEWAY_SECS: i64 = 60;

/// The local `auth_time` of a federated login, from the upstream's (`None` when its ID
/// token had none), for an authorization request with `max_age` at `now` (OIDC Core
/// §3.1.2.1; the upstream was asked for the same `max_age`):
///
/// - with `max_age`, the upstream `auth_time` is required (OIDC Core §2: REQUIRED when
///   `max_age` was asked) and must be at most `max_age` seconds ago ([`FederationError::MaxAge`]);
///   a missing one is not "now";
/// - an `auth_time` in the future (beyond a minute of clock skew) or not after the epoch is
///   refused as not credible ([`FederationError::Upstream`]);
/// - without `max_age`, a missing `auth_time` is the moment the upstream answered (`now`).
pub fn local_auth_time(
    max_age: Option<i64>,
    upstream: Option<i64>,
    now: i64,
) -> Result<i64, FederationError> {
    if let Some(t) = upstream
        && (t <= 0 || t.saturating_sub(AUTH_TIME_LEEWAY_SECS) > now)
    {
        return Err(FederationError::Upstream(format!(
            "the upstream auth_time {t} is not credible (now is {now})"
        )));
    }
    match (max_age, upstream) {
        (Some(max_age), None) => Err(FederationError::MaxAge(format!(
            "max_age={max_age} was asked and the upstream ID token has no auth_time"
        ))),
        (Some(max_age), Some(t))
            if now.saturating_sub(t) > max_age.saturating_add(AUTH_TIME_LEEWAY_SECS) =>
        {
            Err(FederationError::MaxAge(format!(
                "the upstream login was {}s ago, max_age is {max_age}s",
                now - t
            )))
        }
        (_, Some(t)) => Ok(t),
        (None, None) => Ok(now),
    }
}

/// What is left of an upstream's claims before mapping, for an upstream trusted
/// (`trust_email_verified`) or not to vouch for the addresses it sends: an untrusted
/// upstream's `email_verified` is removed, so its `email` passes as an unverified address
/// and no relying party takes it as proof of owning it (the "nOAuth" pattern: any upstream
/// account can claim a victim's address). Mapping rules run after this: a `require
/// email_verified` rule refuses every login from an untrusted upstream, and a `constant`
/// rule is the host's own statement.
pub fn drop_untrusted_claims(claims: &Claims, trust_email_verified: bool) -> Claims {
    let mut c = claims.clone();
    if !trust_email_verified {
        c.remove("email_verified");
    }
    c
}

/// Claims that describe the upstream token, not the user: never carried into local claims.
const PROTOCOL_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "nonce",
    "at_hash",
    "c_hash",
    "azp",
    "auth_time",
    "sid",
    "acr",
    "amr",
];

/// One step of a declarative claims mapping. The mapping starts from the upstream claims
/// (without protocol claims such as `iss`, `aud`, `nonce`) and applies the rules in order.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
#[non_exhaustive]
pub enum MappingRule {
    /// Moves claim `from` to `to`.
    Rename {
        /// Upstream name.
        from: String,
        /// Local name.
        to: String,
    },
    /// Copies claim `from` to `to` as well.
    Copy {
        /// Source name.
        from: String,
        /// Destination name.
        to: String,
    },
    /// Sets `claim` to a constant.
    Constant {
        /// The claim.
        claim: String,
        /// Its value.
        value: serde_json::Value,
    },
    /// Removes `claim`.
    Drop {
        /// The claim.
        claim: String,
    },
    /// Replaces the value of `claim` (or of each element, for an array) through `map`;
    /// values not in `map` become `default`, or stay when there is none.
    MapValues {
        /// The claim.
        claim: String,
        /// Value translations (string keys).
        map: std::collections::BTreeMap<String, serde_json::Value>,
        /// For values not in `map`.
        #[serde(default)]
        default: Option<serde_json::Value>,
    },
    /// Refuses the login unless `claim` is present (and equal to `equals`, when given).
    Require {
        /// The claim.
        claim: String,
        /// The value it must have.
        #[serde(default)]
        equals: Option<serde_json::Value>,
    },
}

/// Turns upstream claims into local claims.
pub trait ClaimsMapper: Send + Sync + 'static {
    /// Maps `upstream`; an error refuses the login.
    fn map(&self, upstream: &Claims) -> Result<Claims, FederationError>;
}

/// A mapper made of [`MappingRule`]s.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RuleMapper {
    /// The rules, applied in order.
    pub rules: Vec<MappingRule>,
}

impl ClaimsMapper for RuleMapper {
    fn map(&self, upstream: &Claims) -> Result<Claims, FederationError> {
        let mut c: Claims = upstream
            .iter()
            .filter(|(k, _)| !PROTOCOL_CLAIMS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for rule in &self.rules {
            match rule {
                MappingRule::Rename { from, to } => {
                    if let Some(v) = c.remove(from) {
                        c.insert(to.clone(), v);
                    }
                }
                MappingRule::Copy { from, to } => {
                    if let Some(v) = c.get(from).cloned() {
                        c.insert(to.clone(), v);
                    }
                }
                MappingRule::Constant { claim, value } => {
                    c.insert(claim.clone(), value.clone());
                }
                MappingRule::Drop { claim } => {
                    c.remove(claim);
                }
                MappingRule::MapValues {
                    claim,
                    map,
                    default,
                } => {
                    let translate = |v: &serde_json::Value| -> serde_json::Value {
                        let key = match v {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        map.get(&key)
                            .cloned()
                            .or_else(|| default.clone())
                            .unwrap_or_else(|| v.clone())
                    };
                    if let Some(v) = c.get_mut(claim) {
                        let mapped = match &*v {
                            serde_json::Value::Array(items) => {
                                serde_json::Value::Array(items.iter().map(translate).collect())
                            }
                            other => translate(other),
                        };
                        *v = mapped;
                    }
                }
                MappingRule::Require { claim, equals } => match (c.get(claim), equals) {
                    (None, _) => {
                        return Err(FederationError::Refused(format!(
                            "the upstream sent no {claim:?} claim"
                        )));
                    }
                    (Some(v), Some(expected)) if v != expected => {
                        return Err(FederationError::Refused(format!(
                            "the upstream {claim:?} claim is {v}, {expected} is required"
                        )));
                    }
                    _ => {}
                },
            }
        }
        Ok(c)
    }
}

/// Any function from upstream claims to local claims is a mapper (the hook for code).
impl<F> ClaimsMapper for F
where
    F: Fn(&Claims) -> Result<Claims, FederationError> + Send + Sync + 'static,
{
    fn map(&self, upstream: &Claims) -> Result<Claims, FederationError> {
        self(upstream)
    }
}

/// The local account an upstream identity logs in as.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Link {
    /// An account the host's [`crate::UserStore`] knows (deliberately linked, e.g. after
    /// the user proved they own both). Its claims come from the host first; if the host
    /// no longer knows it, its tokens are refused like any deleted user's.
    Existing(String),
    /// A federated-only account: the host's user store does not know it; its claims are the
    /// mapped upstream claims. A subject the host *does* know is refused here (it would let
    /// an upstream account log in as a local one).
    Federated(String),
}

impl Link {
    /// The local subject.
    pub fn subject(&self) -> &str {
        match self {
            Self::Existing(s) | Self::Federated(s) => s,
        }
    }
}

/// Links an upstream identity to a local subject, so that the local `sub` is stable across
/// logins (and can be joined to an existing local account).
///
/// # Contract
/// The same upstream issuer and subject must always give the same local subject. Link to an
/// existing account only on evidence the user owns it: never on an unverified upstream
/// claim such as an `email` without `email_verified`.
#[async_trait]
pub trait AccountLinker: Send + Sync + 'static {
    /// The local account for an identity from `issuer`.
    async fn link(
        &self,
        issuer: &str,
        identity: &ExternalIdentity,
    ) -> Result<Link, crate::store::StoreError>;
}

/// The default linking: a federated-only subject derived from the upstream issuer and
/// subject (`fed-` + base64url SHA-256, truncated to 128 bits): stable, opaque, and never
/// equal for two different upstream accounts in practice. Hosts must not hand out `fed-…`
/// subjects to local accounts (a collision is refused at login).
#[derive(Debug, Clone, Copy, Default)]
pub struct HashedSubject;

#[async_trait]
impl AccountLinker for HashedSubject {
    async fn link(
        &self,
        issuer: &str,
        identity: &ExternalIdentity,
    ) -> Result<Link, crate::store::StoreError> {
        Ok(Link::Federated(hashed_subject(issuer, &identity.subject)))
    }
}

/// The subject [`HashedSubject`] gives.
pub fn hashed_subject(issuer: &str, upstream_subject: &str) -> String {
    use base64::Engine;
    let digest = crate::crypto::sha256(format!("{issuer}\u{0}{upstream_subject}").as_bytes());
    format!(
        "fed-{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn upstream() -> Claims {
        json!({"iss": "https://login.corp.example", "sub": "u-1", "aud": "gw", "nonce": "n",
               "preferred_username": "alice@corp", "email": "alice@corp.example", "groups": ["g-admins", "g-sales"],
               "tid": "tenant-1", "internal": true})
        .as_object()
        .cloned()
        .unwrap_or_default()
    }

    #[test]
    fn rules_rename_copy_set_drop_and_map_values_in_order() {
        let rules: Vec<MappingRule> = serde_json::from_value(json!([
            {"op": "rename", "from": "preferred_username", "to": "name"},
            {"op": "copy", "from": "email", "to": "upstream_email"},
            {"op": "constant", "claim": "email_verified", "value": true},
            {"op": "drop", "claim": "internal"},
            {"op": "map_values", "claim": "groups", "map": {"g-admins": "admin"}, "default": "user"},
            {"op": "require", "claim": "tid", "equals": "tenant-1"}
        ]))
        .expect("rules deserialize");
        let local = RuleMapper { rules }.map(&upstream()).expect("mapped");
        assert_eq!(local.get("name"), Some(&json!("alice@corp")));
        assert!(local.get("preferred_username").is_none(), "renamed away");
        assert_eq!(local.get("upstream_email"), local.get("email"));
        assert_eq!(local.get("email_verified"), Some(&json!(true)));
        assert!(local.get("internal").is_none());
        assert_eq!(local.get("groups"), Some(&json!(["admin", "user"])));
        for protocol in ["iss", "sub", "aud", "nonce"] {
            assert!(
                local.get(protocol).is_none(),
                "{protocol} is never carried over"
            );
        }
    }

    #[test]
    fn require_refuses_with_the_reason() {
        let missing = RuleMapper {
            rules: vec![MappingRule::Require {
                claim: "department".into(),
                equals: None,
            }],
        };
        let e = missing.map(&upstream()).expect_err("refused");
        assert!(e.to_string().contains("no \"department\" claim"), "{e}");
        let wrong = RuleMapper {
            rules: vec![MappingRule::Require {
                claim: "tid".into(),
                equals: Some(json!("tenant-2")),
            }],
        };
        let e = wrong.map(&upstream()).expect_err("refused");
        assert!(e.to_string().contains("\"tenant-2\" is required"), "{e}");
    }

    #[test]
    fn a_function_is_a_mapper() {
        let f = |c: &Claims| -> Result<Claims, FederationError> {
            let mut out = Claims::new();
            out.insert(
                "upper".into(),
                json!(
                    c.get("tid")
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                        .to_uppercase()
                ),
            );
            Ok(out)
        };
        assert_eq!(
            f.map(&upstream()).expect("mapped").get("upper"),
            Some(&json!("TENANT-1"))
        );
    }

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn max_age_needs_a_recent_upstream_auth_time_oidc_core_3_1_2_1() {
        assert_eq!(
            local_auth_time(Some(600), Some(NOW - 300), NOW).ok(),
            Some(NOW - 300)
        );
        let stale = local_auth_time(Some(600), Some(NOW - 3600), NOW).expect_err("stale");
        assert!(matches!(stale, FederationError::MaxAge(_)), "{stale}");
        assert!(
            stale.to_string().contains("3600s ago, max_age is 600s"),
            "{stale}"
        );
        // A minute of clock skew is allowed, no more.
        assert!(local_auth_time(Some(600), Some(NOW - 660), NOW).is_ok());
        assert!(local_auth_time(Some(600), Some(NOW - 661), NOW).is_err());
        // max_age=0 asks for a login just now.
        assert!(local_auth_time(Some(0), Some(NOW - 5), NOW).is_ok());
        assert!(local_auth_time(Some(0), Some(NOW - 120), NOW).is_err());
    }

    #[test]
    fn a_missing_upstream_auth_time_is_not_now_when_max_age_was_asked_oidc_core_2() {
        let e = local_auth_time(Some(600), None, NOW).expect_err("no auth_time");
        assert!(matches!(e, FederationError::MaxAge(_)), "{e}");
        assert!(e.to_string().contains("has no auth_time"), "{e}");
        assert_eq!(local_auth_time(None, None, NOW).ok(), Some(NOW));
        assert_eq!(
            local_auth_time(None, Some(NOW - 86_400), NOW).ok(),
            Some(NOW - 86_400)
        );
    }

    #[test]
    fn a_future_or_nonpositive_upstream_auth_time_is_refused() {
        for bad in [NOW + 3600, 0, -5] {
            for max_age in [None, Some(600)] {
                let e = local_auth_time(max_age, Some(bad), NOW).expect_err("not credible");
                assert!(matches!(e, FederationError::Upstream(_)), "{e}");
            }
        }
        assert!(local_auth_time(None, Some(NOW + 60), NOW).is_ok(), "skew");
    }

    #[test]
    fn an_untrusted_upstreams_email_verified_is_dropped_and_its_email_kept() {
        let mut claims = upstream();
        claims.insert("email_verified".into(), json!(true));
        let untrusted = drop_untrusted_claims(&claims, false);
        assert!(untrusted.get("email_verified").is_none());
        assert_eq!(untrusted.get("email"), Some(&json!("alice@corp.example")));
        assert_eq!(
            untrusted.get("preferred_username"),
            claims.get("preferred_username")
        );
        let trusted = drop_untrusted_claims(&claims, true);
        assert_eq!(trusted.get("email_verified"), Some(&json!(true)));
        // A `require email_verified` rule then refuses an untrusted upstream's logins.
        let require = RuleMapper {
            rules: vec![MappingRule::Require {
                claim: "email_verified".into(),
                equals: Some(json!(true)),
            }],
        };
        assert!(require.map(&untrusted).is_err());
        assert!(require.map(&trusted).is_ok());
    }

    #[tokio::test]
    async fn hashed_subjects_are_stable_and_distinct() {
        let id = |sub: &str| ExternalIdentity {
            provider: "corp".into(),
            subject: sub.into(),
            claims: Claims::new(),
            auth_time: None,
        };
        let a1 = HashedSubject
            .link("https://a.example", &id("u-1"))
            .await
            .expect("link");
        let a2 = HashedSubject
            .link("https://a.example", &id("u-1"))
            .await
            .expect("link");
        let b = HashedSubject
            .link("https://b.example", &id("u-1"))
            .await
            .expect("link");
        let c = HashedSubject
            .link("https://a.example", &id("u-2"))
            .await
            .expect("link");
        assert_eq!(a1, a2, "stable across logins");
        assert_ne!(a1, b, "the same sub at another issuer is another account");
        assert_ne!(a1, c);
        let a1 = a1.subject().to_owned();
        assert!(a1.starts_with("fed-") && a1.len() == 26, "{a1}");
        assert!(matches!(a2, Link::Federated(_)));
    }
}
