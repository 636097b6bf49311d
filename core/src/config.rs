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
    /// End-session endpoint (OpenID Connect RP-Initiated Logout 1.0 §2).
    pub end_session: String,
    /// The host's logout confirmation page; `{id}` is replaced by the logout id.
    pub logout_confirmation: String,
    /// Where upstream providers send the browser back: each upstream has its own
    /// `<issuer><federation_callback>/<name>` (register it as the redirect URI there; see
    /// [`Provider::federation_callback_url`](crate::Provider::federation_callback_url)).
    pub federation_callback: String,
    /// Device authorization endpoint (RFC 8628 §3.1).
    pub device_authorization: String,
    /// The host's user-code page, the `verification_uri` of RFC 8628 §3.2: it asks for the
    /// user code and hands it to
    /// [`Provider::verify_user_code`](crate::Provider::verify_user_code).
    pub device_verification: String,
    /// Pushed authorization request endpoint (RFC 9126 §2), default `/par`.
    pub pushed_authorization_request: String,
    /// Client registration endpoint (RFC 7591 §3), default `/register`; each registered
    /// client's configuration endpoint (RFC 7592) is `<registration>/<client_id>`. Routed
    /// only when registration is on.
    pub registration: String,
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
            end_session: "/logout".into(),
            logout_confirmation: "/logout/{id}".into(),
            federation_callback: "/federation/callback".into(),
            device_authorization: "/device_authorization".into(),
            device_verification: "/device".into(),
            pushed_authorization_request: "/par".into(),
            registration: "/register".into(),
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
    /// SSO session lifetime (default 14 days), absolute: counted from the login.
    pub session_ttl: Duration,
    /// SSO session idle lifetime (default 1 day): a session unused this long ends.
    pub session_idle_ttl: Duration,
    /// How long a consent is remembered (default 365 days).
    pub consent_ttl: Duration,
    /// Device code (and user code) lifetime (default 10 minutes, RFC 8628 §3.2
    /// `expires_in`).
    pub device_code_ttl: Duration,
    /// The polling interval a device is told (default 5 seconds, RFC 8628 §3.2 `interval`).
    pub device_poll_interval: Duration,
    /// Guest token lifetime (default 7 days; a client may override it).
    pub guest_token_ttl: Duration,
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
    /// What a logout ends besides the session (default: the session's grants except those
    /// with `offline_access`).
    pub logout_revokes: LogoutRevokes,
    /// Skip the logout confirmation when the `id_token_hint` names the browser's current
    /// session (default `false`: RP-Initiated Logout §2 says the OP SHOULD ask).
    pub logout_skip_confirmation_with_session_hint: bool,
    /// The security profile enforced ([`ProviderBuilder::profile`](crate::ProviderBuilder::profile);
    /// default [`Profile::Default`](crate::Profile::Default)).
    pub profile: crate::profile::Profile,
    /// Brute-force and flood limits (see [`RateLimits`](crate::RateLimits) for the defaults).
    pub rate_limits: crate::rate_limit::RateLimits,
    /// Lifetime of a pushed authorization request's `request_uri` (RFC 9126 §2.2
    /// `expires_in`; default 60 s, at most 10 min).
    pub pushed_authorization_request_ttl: Duration,
    /// Every authorization request must be pushed first (RFC 9126 §5, server-wide
    /// `require_pushed_authorization_requests`; default `false`).
    pub require_pushed_authorization_requests: bool,
    /// The resources access tokens may be requested for (RFC 8707), see
    /// [`ProviderBuilder::resource`](crate::ProviderBuilder::resource).
    pub resources: Vec<crate::resource_indicator::Resource>,
    /// `authorization_details_types_supported` (RFC 9396 §10), see
    /// [`ProviderBuilder::authorization_details_types_supported`](crate::ProviderBuilder::authorization_details_types_supported).
    /// Empty: not advertised, and any type a client registered is accepted.
    pub authorization_details_types_supported: Vec<String>,
    /// How DPoP proofs (RFC 9449) are checked: algorithms, `iat` window, nonces.
    pub dpop: crate::dpop::DpopRules,
    /// Every token request must carry a DPoP proof, whatever the client's
    /// `dpop_bound_access_tokens` (default `false`).
    pub dpop_required: bool,
    /// Rules for JWTs from clients: client assertions and request objects.
    pub client_jwt: ClientJwtConfig,
    /// The key pairwise subject identifiers are derived with (OIDC Core §8.1,
    /// [`crate::pairwise`]); required when a client is pairwise.
    pub pairwise_secret: Option<crate::pairwise::PairwiseSecret>,
    /// Dynamic client registration (RFC 7591, RFC 7592): off by default.
    pub registration: crate::registration::RegistrationSettings,
    /// Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document): off
    /// by default.
    pub client_id_metadata_documents:
        crate::client_id_metadata_document::ClientIdMetadataDocumentSettings,
    /// Fetches on a client's behalf may reach loopback addresses (tests only; see
    /// [`crate::ssrf`]). Default `false`.
    pub dangerous_allow_loopback_fetch: bool,
}

/// Rules for JWTs from clients: `private_key_jwt` / `client_secret_jwt` assertions
/// (RFC 7523) and request objects (RFC 9101). Set through the
/// [`ProviderBuilder`](crate::ProviderBuilder) knobs named after the fields.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientJwtConfig {
    /// How far in the future `iat` and `nbf` may be (default 10 s, at most 60 s: FAPI 2.0
    /// §5.3.2.1 asks to accept 10 s and refuse beyond 60 s).
    pub clock_skew: Duration,
    /// The longest client assertion accepted, `exp` minus `iat` (default 5 minutes).
    pub assertion_max_lifetime: Duration,
    /// Only the issuer identifier, as a string, is a valid `aud` of a client assertion
    /// (default `false`: the token endpoint URL is accepted too, RFC 7523 §3 item 3).
    /// FAPI 2.0 §5.3.2.1 requires `true`.
    pub assertion_audience_issuer_only: bool,
    /// The longest request object accepted, `exp` minus `nbf` (or `iat`) (default 60
    /// minutes, FAPI 2.0 §5.3.2.1 / RFC 9101 §10.2).
    pub request_object_max_lifetime: Duration,
    /// How long a client's fetched `jwks_uri` key set is used before it is fetched again
    /// (default 10 minutes; an unknown `kid` refetches sooner, at most once per 10 s).
    pub jwks_max_age: Duration,
    /// The asymmetric algorithms client assertions and request objects may use, server-wide
    /// (default all: RS256, PS256, ES256, EdDSA; a client's own registered algorithm must
    /// be one of them). FAPI 2.0 §5.4.1 allows PS256, ES256 and EdDSA only.
    pub algorithms: Vec<Algorithm>,
    /// Whether `client_secret_jwt` (HMAC) assertions are accepted at all (default `true`;
    /// FAPI 2.0 §5.3.2.1 allows asymmetric client authentication only).
    pub client_secret_jwt: bool,
}

impl Default for ClientJwtConfig {
    fn default() -> Self {
        Self {
            clock_skew: Duration::seconds(10),
            assertion_max_lifetime: Duration::minutes(5),
            assertion_audience_issuer_only: false,
            request_object_max_lifetime: Duration::minutes(60),
            jwks_max_age: crate::client_keys::DEFAULT_JWKS_MAX_AGE,
            algorithms: Algorithm::ALL.to_vec(),
            client_secret_jwt: true,
        }
    }
}

/// Base name of the SSO session cookie. On an https issuer the cookie is
/// `__Host-idpkit_session`: take names from [`Config::cookie_name`].
pub const SESSION_COOKIE: &str = "idpkit_session";
/// Base name of the cookie binding an interaction to the browser that started it
/// (`__Host-idpkit_interaction` on an https issuer: see [`Config::cookie_name`]).
pub const INTERACTION_COOKIE: &str = "idpkit_interaction";
/// Base name of the cookie that names the interaction waiting for an upstream callback
/// (`__Host-idpkit_federation` on an https issuer: see [`Config::cookie_name`]).
pub const FEDERATION_COOKIE: &str = "idpkit_federation";

/// What a logout revokes besides the session and its cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LogoutRevokes {
    /// The grants issued in the session, except those the user granted `offline_access`
    /// (OIDC Core §11: offline access is meant to outlive the session). The default.
    #[default]
    SessionGrantsExceptOffline,
    /// Every grant issued in the session.
    AllSessionGrants,
}

/// The cookies idpkit sets and reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cookie {
    /// The SSO session ([`SESSION_COOKIE`]).
    Session,
    /// The browser binding of an interaction ([`INTERACTION_COOKIE`]).
    Interaction,
    /// The interaction waiting for an upstream callback ([`FEDERATION_COOKIE`]).
    Federation,
}

impl Cookie {
    /// Every cookie idpkit uses.
    pub const ALL: [Cookie; 3] = [Cookie::Session, Cookie::Interaction, Cookie::Federation];

    /// The name without prefix, used on an http (loopback, development) issuer.
    pub fn base_name(self) -> &'static str {
        match self {
            Self::Session => SESSION_COOKIE,
            Self::Interaction => INTERACTION_COOKIE,
            Self::Federation => FEDERATION_COOKIE,
        }
    }

    /// The name on an https issuer: `__Host-` + the base name. A browser keeps a `__Host-`
    /// cookie only when it is `Secure`, has `Path=/` and no `Domain`, so a sibling
    /// subdomain can neither set nor overwrite it (RFC 6265bis §4.1.3.2).
    pub fn host_name(self) -> &'static str {
        match self {
            Self::Session => "__Host-idpkit_session",
            Self::Interaction => "__Host-idpkit_interaction",
            Self::Federation => "__Host-idpkit_federation",
        }
    }

    /// The name for an issuer with (`secure`) or without `Secure` cookies.
    pub fn name(self, secure: bool) -> &'static str {
        if secure {
            self.host_name()
        } else {
            self.base_name()
        }
    }
}

impl Config {
    /// The name of `cookie` for this provider: `__Host-idpkit_session` etc. when the issuer
    /// is https ([`Config::secure_cookies`]), the plain `idpkit_session` on an http
    /// (loopback) issuer. idpkit sets and reads only this name: a plain-named cookie sent
    /// to an https provider (which any sibling subdomain could set) is ignored.
    pub fn cookie_name(&self, cookie: Cookie) -> &'static str {
        cookie.name(self.secure_cookies)
    }
}

/// The `Set-Cookie` value of `cookie` (`max_age` zero removes it): `HttpOnly;
/// SameSite=Lax`, `Path=/`, never `Domain`; on a `secure` issuer `Secure` and the `__Host-`
/// name, whose rules those attributes meet (RFC 6265bis §4.1.3.2).
pub(crate) fn set_cookie(cookie: Cookie, secure: bool, value: &str, max_age: Duration) -> String {
    format!(
        "{}={value}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{}",
        cookie.name(secure),
        max_age.whole_seconds().max(0),
        if secure { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_cookies_are_host_prefixed_secure_path_root_and_have_no_domain_rfc6265bis_4_1_3_2() {
        for c in Cookie::ALL {
            let set = set_cookie(c, true, "v", Duration::minutes(10));
            let name = format!("__Host-{}", c.base_name());
            assert!(set.starts_with(&format!("{name}=v;")), "{set}");
            let attrs: Vec<&str> = set.split("; ").skip(1).collect();
            assert!(attrs.contains(&"Secure"), "{set}");
            assert!(attrs.contains(&"Path=/"), "{set}");
            assert!(
                !attrs
                    .iter()
                    .any(|a| a.to_ascii_lowercase().starts_with("domain")),
                "{set}"
            );
            assert!(attrs.contains(&"HttpOnly") && attrs.contains(&"SameSite=Lax"));
        }
    }

    #[test]
    fn http_development_cookies_keep_the_plain_name_without_secure() {
        let set = set_cookie(Cookie::Session, false, "v", Duration::ZERO);
        assert_eq!(
            set,
            "idpkit_session=v; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"
        );
        assert_eq!(Cookie::Federation.name(false), FEDERATION_COOKIE);
        assert_eq!(Cookie::Interaction.name(true), "__Host-idpkit_interaction");
    }
}
