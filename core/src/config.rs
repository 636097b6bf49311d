//! Provider settings ([`Config`]), endpoint paths ([`Paths`]) and cookie names.

use time::Duration;

use crate::Algorithm;

/// Endpoint paths (relative to the issuer): the protocol endpoints are advertised in
/// discovery; the interaction page and the federation callback are not. Start from
/// `Paths::default()` and change fields.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Paths {
    /// Authorization endpoint.
    pub authorization: String,
    /// Token endpoint.
    pub token: String,
    /// UserInfo endpoint.
    pub userinfo: String,
    /// JWKS.
    pub jwks: String,
    /// Revocation endpoint (RFC 7009).
    pub revocation: String,
    /// Introspection endpoint (RFC 7662).
    pub introspection: String,
    /// The host's interaction (login/consent) page; `{id}` is replaced by the interaction id.
    pub interaction: String,
    /// Where upstream providers send the browser back: each upstream has its own
    /// `<issuer><federation_callback>/<name>` (register it as the redirect URI there; see
    /// [`Provider::federation_callback_url`](crate::Provider::federation_callback_url)).
    pub federation_callback: String,
}

impl Default for Paths {
    fn default() -> Self {
        Self {
            authorization: "/authorize".into(),
            token: "/token".into(),
            userinfo: "/userinfo".into(),
            jwks: "/jwks".into(),
            revocation: "/revoke".into(),
            introspection: "/introspect".into(),
            interaction: "/interaction/{id}".into(),
            federation_callback: "/federation/callback".into(),
        }
    }
}

/// Provider settings. Set through [`ProviderBuilder`](crate::ProviderBuilder); read with [`Provider::config`](crate::Provider::config).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The issuer identifier (no trailing slash).
    pub issuer: String,
    /// Authorization code lifetime (default 60 s, at most 10 min).
    pub code_ttl: Duration,
    /// Access token lifetime (default 1 h).
    pub access_token_ttl: Duration,
    /// ID token lifetime (default 1 h).
    pub id_token_ttl: Duration,
    /// Refresh token lifetime (default 14 days), sliding: each rotation gets it anew.
    pub refresh_token_ttl: Duration,
    /// Absolute refresh token lifetime (default 30 days), counted from the user's original
    /// authentication (`auth_time`): no rotation extends a grant past it.
    pub refresh_token_absolute_ttl: Duration,
    /// How long a login/consent interaction may take (default 10 min).
    pub interaction_ttl: Duration,
    /// SSO session lifetime (default 14 days).
    pub session_ttl: Duration,
    /// How long a consent is remembered (default 365 days).
    pub consent_ttl: Duration,
    /// Refresh-token reuse grace window (default off). See [`ProviderBuilder::refresh_reuse_grace`](crate::ProviderBuilder::refresh_reuse_grace).
    pub refresh_reuse_grace: Option<Duration>,
    /// Default signing algorithm (RS256).
    pub signing_alg: Algorithm,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Endpoint paths.
    pub paths: Paths,
    /// Cookies get `Secure` (true unless the issuer is http on loopback).
    pub secure_cookies: bool,
    /// Brute-force and flood limits (see [`RateLimits`] for the defaults).
    pub rate_limits: crate::rate_limit::RateLimits,
}

/// Name of the SSO session cookie.
pub const SESSION_COOKIE: &str = "idpkit_session";
/// Name of the cookie binding an interaction to the browser that started it.
pub const INTERACTION_COOKIE: &str = "idpkit_interaction";
/// Name of the cookie that names the interaction waiting for an upstream callback.
pub const FEDERATION_COOKIE: &str = "idpkit_federation";
