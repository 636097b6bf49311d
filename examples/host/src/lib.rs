//! An identity provider host embedding idpkit with axum: the demo fixtures, a real HTML login
//! page and consent page, and the provider's endpoints.
//!
//! Usage: `cargo run -p idpkit-example -- [--bind 127.0.0.1:8080] [--issuer URL] [--data-dir DIR]`
//!
//! Tests drive [`app`] in-process or on an ephemeral port.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod api;

mod device;

pub mod mcp;

pub mod serve;

pub mod shop;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, Params};
use async_trait::async_trait;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use idpkit::axum::{into_request, into_response};
use idpkit::keys::file::KeyDir;
use idpkit::storage::postgres::{PostgresOptions, PostgresStore};
use idpkit::storage::sled::SledStore;
use idpkit::storage::sqlite::SqliteStore;
use idpkit::time::Duration;
use idpkit::{
    Algorithm, Claims, Client, Clock, GrantStore, GrantType, InteractionOutcome, MemoryGrantStore,
    Needs, Params as FormParams, Provider, StaticClients, StoreError, SystemClock,
    TokenEndpointAuthMethod, UserStore,
};

/// Command-line options of the example host.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "idpkit-example",
    about = "Example OpenID Provider embedding idpkit"
)]
pub struct Options {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Public issuer URL (default: http://<bind>).
    #[arg(long)]
    pub issuer: Option<String>,
    /// Where persistent state goes: the SQLite database and the key directory, created on
    /// first run.
    #[arg(long, default_value = "./data")]
    pub data_dir: PathBuf,
    /// Grant storage: `sqlite:PATH`, `sled:PATH` (one process), `postgres://user@host:port/db`
    /// (shared by many instances) or `memory` (development only). Default: SQLite in
    /// `--data-dir`.
    #[arg(long)]
    pub storage: Option<String>,
    /// PostgreSQL schema for the grant tables (with `--storage postgres://…`).
    #[arg(long, default_value = "public")]
    pub postgres_schema: String,
    /// Key directory (PEM / X.509 / JWK files and `keys.json`). Default: `--data-dir`/keys,
    /// created with an RS256 and an ES256 key on first run.
    #[arg(long)]
    pub keys: Option<PathBuf>,
    /// Sign with this AWS KMS key (active) instead of key files. Needs the `kms` feature;
    /// region, credentials and endpoint come from the AWS environment (`AWS_REGION`,
    /// `AWS_ENDPOINT_URL`, ...).
    #[arg(long)]
    pub kms_key_id: Option<String>,
    /// A JSON list of KMS keys with rotation states, re-read at every housekeeping interval:
    /// `[{"key_id": "...", "state": "active"}, {"key_id": "...", "state": "next"}]`.
    #[arg(long)]
    pub kms_keys: Option<PathBuf>,
    /// How often the key directory is re-read and expired grants are purged, in seconds.
    #[arg(long, default_value_t = 30)]
    pub housekeeping_interval: u64,
    /// Authorization code lifetime in seconds.
    #[arg(long, default_value_t = 60)]
    pub code_ttl: i64,
    /// Access token lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    pub access_token_ttl: i64,
    /// ID token lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    pub id_token_ttl: i64,
    /// SSO session lifetime in seconds, from the login (absolute).
    #[arg(long, default_value_t = 14 * 24 * 3600)]
    pub session_ttl: i64,
    /// SSO session idle lifetime in seconds: a session unused this long ends.
    #[arg(long, default_value_t = 24 * 3600)]
    pub session_idle_ttl: i64,
    /// Device code lifetime in seconds (RFC 8628 `expires_in`): how long a user has to
    /// enter a device's code and approve it (10 s to 1 h).
    #[arg(long, default_value_t = 600)]
    pub device_code_ttl: i64,
    /// Refresh token lifetime in seconds (sliding: every rotation gets it anew, up to the
    /// absolute lifetime).
    #[arg(long, default_value_t = 14 * 24 * 3600)]
    pub refresh_token_ttl: i64,
    /// Absolute refresh token lifetime in seconds, from the user's original login: a grant
    /// refreshed however often ends then.
    #[arg(long, default_value_t = 30 * 24 * 3600)]
    pub refresh_token_absolute_ttl: i64,
    /// Guest token lifetime in seconds (the storefront's anonymous visitors, `demo-shop`
    /// and `demo-kiosk`).
    #[arg(long, default_value_t = 7 * 24 * 3600)]
    pub guest_token_ttl: i64,
    /// Seconds a client has to send a request's headers, and that a keep-alive connection
    /// may idle between requests (slow-loris defence).
    #[arg(long, default_value_t = 10)]
    pub header_read_timeout: u64,
    /// Seconds a connection is served at most (keep-alive included).
    #[arg(long, default_value_t = 300)]
    pub connection_lifetime: u64,
    /// Connections served at once (more wait in the listen backlog).
    #[arg(long, default_value_t = 512)]
    pub max_connections: usize,
    /// Login and consent pages one source (IP address, IPv6 /64) may open per 10 minutes;
    /// each costs a stored interaction before anyone has logged in.
    #[arg(long, default_value_t = 200)]
    pub max_interactions_per_source: u64,
    /// Login and consent pages opened for one client per 10 minutes.
    #[arg(long, default_value_t = 5_000)]
    pub max_interactions_per_client: u64,
    /// Login and consent pages opened in all per 10 minutes.
    #[arg(long, default_value_t = 20_000)]
    pub max_interactions: u64,
    /// Default signing algorithm for ID tokens and access tokens (RS256, PS256, ES256,
    /// EdDSA; the key source must have an active key of it).
    #[arg(long, default_value = "RS256")]
    pub signing_alg: String,
    /// Security profile: `default`, or `fapi2` (the FAPI 2.0 Security Profile: PAR, PKCE
    /// S256, private_key_jwt, DPoP-bound tokens, PS256/ES256/EdDSA, 60 s codes). Under
    /// `fapi2` the default `--signing-alg RS256` becomes ES256.
    #[arg(long, default_value = "default")]
    pub profile: String,
    /// More clients, from a JSON list (besides the demo clients): `[{"client_id": "gw",
    /// "client_secret": "...", "redirect_uris": ["https://gw.example/federation/callback"],
    /// "grant_types": ["authorization_code"], "scopes": ["openid", "email"]}]`. Optional
    /// members: `audience`, `first_party` (default true), `signing_alg`,
    /// `resource_server_for` (audiences whose tokens it may introspect), the logout metadata
    /// `post_logout_redirect_uris`, `frontchannel_logout_uri`,
    /// `frontchannel_logout_session_required`, `backchannel_logout_uri`,
    /// `backchannel_logout_session_required`, and the RFC 7591 names `client_name`,
    /// `token_endpoint_auth_method`, `response_types`, `scope` (space-separated),
    /// `require_pushed_authorization_requests` (RFC 9126), `authorization_details_types`
    /// (RFC 9396), `dpop_bound_access_tokens` (RFC 9449), for JWT client authentication
    /// and request objects `token_endpoint_auth_signing_alg`, `jwks`, `jwks_uri`,
    /// `request_object_signing_alg`, and the OIDC Registration names `subject_type`
    /// (`public` or `pairwise`; a pairwise secret is then kept in `--data-dir`),
    /// `sector_identifier_uri`, `userinfo_signed_response_alg`,
    /// `id_token_encrypted_response_alg/enc` and `userinfo_encrypted_response_alg/enc`.
    /// Unknown members are refused. No `client_secret` makes a
    /// public client (PKCE required), unless `token_endpoint_auth_method` is
    /// `private_key_jwt`.
    #[arg(long)]
    pub clients: Option<PathBuf>,
    /// An upstream OpenID Provider to log users in through (repeatable), from a JSON file:
    /// `{"name": "corp", "display_name": "Corp SSO", "issuer": "https://login.corp.example",
    /// "client_id": "...", "client_secret": "...", "scopes": ["openid", "profile", "email"],
    /// "rules": [{"op": "rename", "from": "preferred_username", "to": "nickname"}],
    /// "trust_email_verified": false}`. `trust_email_verified` (default false) lets the
    /// upstream's `email_verified` through; otherwise it is dropped and its `email` passes
    /// as unverified. Register `<this server's issuer>/federation/callback/<name>` as the redirect URI at
    /// the upstream.
    #[arg(long = "upstream")]
    pub upstreams: Vec<PathBuf>,
    /// A protected resource clients may name with `resource` (RFC 8707), repeatable: an
    /// absolute URI without a fragment; its tokens carry `aud` = the URI itself, and it
    /// accepts every scope. `urn:demo-api` (audience `demo-api`) is always known.
    #[arg(long = "resource")]
    pub resources: Vec<String>,
    /// Dynamic client registration (RFC 7591, RFC 7592) at `/register`: `off` (the
    /// default), `open` (anyone; rate-limited per source) or `token:<initial access token>`
    /// (`Authorization: Bearer <token>` required). Registered clients are stored with the
    /// grants (`--storage`) and may ask for the scopes `openid profile email
    /// offline_access mcp:tools` (the last one is the example MCP server's).
    #[arg(long, default_value = "off")]
    pub registration: String,
    /// Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document, what
    /// MCP clients use): an https URL as `client_id` is fetched for the client's metadata.
    /// `on` (the default) or `off`.
    #[arg(long, default_value = "on", value_parser = ["on", "off"])]
    pub client_id_metadata_documents: String,
    /// TESTS ONLY: fetches on a client's behalf (metadata documents, `jwks_uri`,
    /// `sector_identifier_uri`) may reach loopback addresses (127.0.0.1, ::1, localhost).
    /// Every other private or special-use address stays refused.
    #[arg(long)]
    pub dangerous_allow_loopback_fetch: bool,
    /// TESTS ONLY: a PEM root certificate trusted, in addition to the built-in roots, for
    /// fetches on a client's behalf (tests serve metadata documents with a throwaway CA).
    #[arg(long, value_name = "FILE")]
    pub dangerous_extra_root_ca: Option<PathBuf>,
}

/// The HTTP client for fetches on a client's behalf (`ReqwestClient::public_only`, with
/// `--dangerous-allow-loopback-fetch` and `--dangerous-extra-root-ca`).
pub fn untrusted_http_client(
    opts: &Options,
) -> Result<Arc<dyn idpkit::http::HttpClient>, Box<dyn std::error::Error>> {
    let mut b = idpkit::http_client::ReqwestClient::builder()
        .public_only(true)
        .dangerous_allow_loopback(opts.dangerous_allow_loopback_fetch);
    if let Some(path) = &opts.dangerous_extra_root_ca {
        let pem = std::fs::read(path)
            .map_err(|e| format!("--dangerous-extra-root-ca {}: {e}", path.display()))?;
        b = b
            .extra_root_ca_pem(&pem)
            .map_err(|e| format!("--dangerous-extra-root-ca {}: {}", path.display(), e.reason))?;
        tracing::warn!(file = %path.display(), "example: --dangerous-extra-root-ca: an extra root CA is trusted for fetches on a client's behalf (tests only)");
    }
    Ok(Arc::new(b.build()?))
}

/// The policy of `--registration off|open|token:<initial access token>`.
pub fn registration_policy(spec: &str) -> Result<idpkit::RegistrationPolicy, String> {
    match spec {
        "off" => Ok(idpkit::RegistrationPolicy::Off),
        "open" => Ok(idpkit::RegistrationPolicy::Open),
        s => match s.strip_prefix("token:") {
            Some(t) if t.len() >= 16 => Ok(idpkit::RegistrationPolicy::initial_access_token(t)),
            Some(_) => Err(
                "--registration token:<initial access token>: use at least 16 characters".into(),
            ),
            None => Err(format!(
                "--registration {s:?}: use off, open or token:<initial access token>"
            )),
        },
    }
}

/// A client of `--clients`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// `client_id`.
    pub client_id: String,
    /// The secret (absent: a public client with PKCE).
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Redirect URIs.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Grant type names.
    pub grant_types: Vec<String>,
    /// Allowed scopes (see also `scope`).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Access token audience.
    #[serde(default)]
    pub audience: Vec<String>,
    /// No consent screen.
    #[serde(default = "yes")]
    pub first_party: bool,
    /// Signing algorithm for this client's tokens.
    #[serde(default)]
    pub signing_alg: Option<String>,
    /// Audiences this (confidential) client serves as a resource server: it may introspect
    /// their access tokens.
    #[serde(default)]
    pub resource_server_for: Vec<String>,
    /// `post_logout_redirect_uris` (RP-Initiated Logout §3.1).
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// `backchannel_logout_uri` (Back-Channel Logout §2.2).
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    /// `backchannel_logout_session_required`.
    #[serde(default)]
    pub backchannel_logout_session_required: bool,
    /// `frontchannel_logout_uri` (Front-Channel Logout §2).
    #[serde(default)]
    pub frontchannel_logout_uri: Option<String>,
    /// `frontchannel_logout_session_required`.
    #[serde(default)]
    pub frontchannel_logout_session_required: bool,
    /// `client_name` (RFC 7591 §2), shown on the login and consent pages beside the id.
    #[serde(default)]
    pub client_name: Option<String>,
    /// `token_endpoint_auth_method` (RFC 7591 §2), enforced at the token endpoint: `none`
    /// for a public client; `client_secret_basic` or `client_secret_post` with a
    /// `client_secret` (absent: both are accepted); `client_secret_jwt` with a
    /// `client_secret` of at least 32 bytes (kept in clear: HMAC needs it);
    /// `private_key_jwt` with `jwks` or `jwks_uri` and no secret.
    #[serde(default)]
    pub token_endpoint_auth_method: Option<String>,
    /// `token_endpoint_auth_signing_alg` (OIDC Registration §2): the one algorithm of its
    /// client assertions.
    #[serde(default)]
    pub token_endpoint_auth_signing_alg: Option<String>,
    /// `jwks` (RFC 7591 §2): the client's public keys, a JWKS document by value.
    #[serde(default)]
    pub jwks: Option<serde_json::Value>,
    /// `jwks_uri` (RFC 7591 §2): where the client publishes its keys (https).
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// `request_object_signing_alg` (OIDC Registration §2): the one algorithm of its
    /// request objects (RFC 9101).
    #[serde(default)]
    pub request_object_signing_alg: Option<String>,
    /// `response_types` (RFC 7591 §2): only `["code"]`.
    #[serde(default)]
    pub response_types: Option<Vec<String>>,
    /// `scope` (RFC 7591 §2): space-separated, instead of or besides `scopes`.
    #[serde(default)]
    pub scope: Option<String>,
    /// `require_pushed_authorization_requests` (RFC 9126 §6): its authorization requests
    /// must be pushed to `/par` first.
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// `authorization_details_types` (RFC 9396 §10): the `authorization_details` types it
    /// may ask for.
    #[serde(default)]
    pub authorization_details_types: Vec<String>,
    /// `dpop_bound_access_tokens` (RFC 9449 §5.2): token requests without a DPoP proof
    /// are refused.
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
    /// `subject_type` (OIDC Registration §2): `public` (default) or `pairwise` (OIDC Core
    /// §8.1; the server then derives its pairwise secret from `--data-dir`).
    #[serde(default)]
    pub subject_type: Option<String>,
    /// `sector_identifier_uri` (OIDC Core §8.1): https JSON array listing the redirect URIs.
    #[serde(default)]
    pub sector_identifier_uri: Option<String>,
    /// `userinfo_signed_response_alg` (OIDC Core §5.3.2): userinfo as a signed JWT.
    #[serde(default)]
    pub userinfo_signed_response_alg: Option<String>,
    /// `id_token_encrypted_response_alg` (OIDC Registration §2): `RSA-OAEP-256`, `ECDH-ES`
    /// or `ECDH-ES+A256KW`; ID tokens are then encrypted to the client's key.
    #[serde(default)]
    pub id_token_encrypted_response_alg: Option<String>,
    /// `id_token_encrypted_response_enc`: `A128GCM` or `A256GCM` (required with the alg).
    #[serde(default)]
    pub id_token_encrypted_response_enc: Option<String>,
    /// `userinfo_encrypted_response_alg` (OIDC Registration §2), like the ID token's.
    #[serde(default)]
    pub userinfo_encrypted_response_alg: Option<String>,
    /// `userinfo_encrypted_response_enc`.
    #[serde(default)]
    pub userinfo_encrypted_response_enc: Option<String>,
}

/// An `alg` / `enc` pair of the `--clients` file (both or neither).
fn encryption_pair(
    prefix: &str,
    alg: Option<&str>,
    enc: Option<&str>,
) -> Result<Option<(idpkit::JweAlgorithm, idpkit::JweEncryption)>, String> {
    match (alg, enc) {
        (None, None) => Ok(None),
        (Some(a), Some(e)) => {
            let alg = idpkit::JweAlgorithm::from_name(a).ok_or_else(|| {
                format!("{prefix}_alg {a:?}: use RSA-OAEP-256, ECDH-ES or ECDH-ES+A256KW")
            })?;
            let enc = idpkit::JweEncryption::from_name(e)
                .ok_or_else(|| format!("{prefix}_enc {e:?}: use A128GCM or A256GCM"))?;
            Ok(Some((alg, enc)))
        }
        _ => Err(format!(
            "{prefix}_alg and {prefix}_enc go together (A128CBC-HS256, the default enc, is not supported)"
        )),
    }
}

fn yes() -> bool {
    true
}

/// An upstream of `--upstream`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Short name (`idp_hint`).
    pub name: String,
    /// What the login page shows.
    #[serde(default)]
    pub display_name: Option<String>,
    /// The upstream issuer (discovered).
    pub issuer: String,
    /// This gateway's client id at the upstream.
    pub client_id: String,
    /// Its secret (absent: public client with PKCE).
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Scopes to ask for (default `openid profile email`).
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Claims mapping rules.
    #[serde(default)]
    pub rules: Vec<idpkit::federation::MappingRule>,
    /// Whether the upstream's `email_verified` is believed (default false: dropped, so its
    /// `email` passes as unverified; `OidcSubprovider::trust_email_verified`).
    #[serde(default)]
    pub trust_email_verified: bool,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<T, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

fn algorithm(name: &str) -> Result<Algorithm, String> {
    Algorithm::from_name(name).ok_or_else(|| {
        format!("unknown signing algorithm {name:?}: use RS256, PS256, ES256 or EdDSA")
    })
}

/// The clients of `--clients`, built (and validated) like the demo ones.
pub fn configured_clients(path: &std::path::Path) -> Result<Vec<Client>, String> {
    let list: Vec<ClientConfig> = read_json(path)?;
    list.into_iter()
        .map(|c| {
            let bad = |why: String| format!("{}: client {}: {why}", path.display(), c.client_id);
            let method = match (c.token_endpoint_auth_method.as_deref(), &c.client_secret) {
                (None, _) => None,
                (Some(m @ "none" | m @ "private_key_jwt"), None)
                | (Some(m @ ("client_secret_basic" | "client_secret_post" | "client_secret_jwt")), Some(_)) => {
                    TokenEndpointAuthMethod::from_name(m)
                }
                (Some(m), _) => {
                    return Err(bad(format!(
                        "token_endpoint_auth_method {m:?} does not fit {} (none or private_key_jwt without a client_secret; client_secret_basic, client_secret_post or client_secret_jwt with one)",
                        if c.client_secret.is_some() { "a client_secret" } else { "no client_secret" }
                    )));
                }
            };
            if let Some(types) = &c.response_types
                && types.iter().any(|t| t != "code")
            {
                return Err(bad(format!("response_types {types:?}: only \"code\" is supported")));
            }
            let mut scopes = c.scopes.clone();
            for s in c.scope.iter().flat_map(|s| s.split(' ')).filter(|s| !s.is_empty()) {
                if !scopes.iter().any(|x| x == s) {
                    scopes.push(s.to_owned());
                }
            }
            let mut b = match (method, &c.client_secret) {
                (Some(TokenEndpointAuthMethod::ClientSecretJwt), Some(secret)) => {
                    Client::client_secret_jwt(c.client_id.clone(), secret)
                }
                (Some(TokenEndpointAuthMethod::PrivateKeyJwt), _) => {
                    Client::private_key_jwt(c.client_id.clone())
                }
                (Some(m), Some(secret)) => {
                    Client::confidential(c.client_id.clone(), secret).token_endpoint_auth_method(m)
                }
                (_, Some(secret)) => Client::confidential(c.client_id.clone(), secret),
                (_, None) => Client::public(c.client_id.clone()),
            };
            if let Some(alg) = &c.token_endpoint_auth_signing_alg {
                b = b.token_endpoint_auth_signing_alg(alg.clone());
            }
            if let Some(jwks) = &c.jwks {
                let doc = serde_json::to_vec(jwks).map_err(|e| bad(e.to_string()))?;
                let jwks = idpkit::Jwks::from_document(&doc)
                    .map_err(|e| bad(format!("jwks is not a JWKS document: {e}")))?;
                b = b.jwks(jwks);
            }
            if let Some(uri) = &c.jwks_uri {
                b = b.jwks_uri(uri.clone());
            }
            if let Some(alg) = &c.request_object_signing_alg {
                b = b.request_object_signing_alg(algorithm(alg)?);
            }
            for uri in &c.post_logout_redirect_uris {
                b = b.post_logout_redirect_uri(uri.clone());
            }
            if let Some(uri) = &c.backchannel_logout_uri {
                b = b.backchannel_logout_uri(uri.clone(), c.backchannel_logout_session_required);
            }
            if let Some(uri) = &c.frontchannel_logout_uri {
                b = b.frontchannel_logout_uri(uri.clone(), c.frontchannel_logout_session_required);
            }
            for uri in &c.redirect_uris {
                b = b.redirect_uri(uri.clone());
            }
            b = b.dpop_bound_access_tokens(c.dpop_bound_access_tokens);
            let grants = c
                .grant_types
                .iter()
                .map(|g| {
                    GrantType::from_name(g)
                        .ok_or_else(|| format!("{}: unknown grant type {g:?}", path.display()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            b = b
                .grant_types(grants)
                .scopes(scopes)
                .audience(c.audience.clone())
                .resource_server_for(c.resource_server_for.clone())
                .require_pushed_authorization_requests(c.require_pushed_authorization_requests)
                .authorization_details_types(c.authorization_details_types.clone())
                .first_party(c.first_party);
            if let Some(alg) = &c.signing_alg {
                b = b.signing_alg(algorithm(alg)?);
            }
            if let Some(t) = &c.subject_type {
                let t = idpkit::SubjectType::from_name(t)
                    .ok_or_else(|| bad(format!("subject_type {t:?}: use public or pairwise")))?;
                b = b.subject_type(t);
            }
            if let Some(uri) = &c.sector_identifier_uri {
                b = b.sector_identifier_uri(uri.clone());
            }
            if let Some(alg) = &c.userinfo_signed_response_alg {
                b = b.userinfo_signed_response_alg(algorithm(alg)?);
            }
            if let Some(name) = &c.client_name {
                b = b.name(name.clone());
            }
            if let Some((alg, enc)) = encryption_pair(
                "id_token_encrypted_response",
                c.id_token_encrypted_response_alg.as_deref(),
                c.id_token_encrypted_response_enc.as_deref(),
            )
            .map_err(bad)?
            {
                b = b.id_token_encrypted_response(alg, enc);
            }
            if let Some((alg, enc)) = encryption_pair(
                "userinfo_encrypted_response",
                c.userinfo_encrypted_response_alg.as_deref(),
                c.userinfo_encrypted_response_enc.as_deref(),
            )
            .map_err(bad)?
            {
                b = b.userinfo_encrypted_response(alg, enc);
            }
            b.build()
                .map_err(|e| format!("{}: client {}: {e}", path.display(), c.client_id))
        })
        .collect()
}

/// The upstream of one `--upstream` file.
pub fn configured_upstream(
    path: &std::path::Path,
    http: Arc<dyn idpkit::http::HttpClient>,
) -> Result<idpkit::federation::oidc::OidcSubprovider, String> {
    let c: UpstreamConfig = read_json(path)?;
    let mut sp = idpkit::federation::oidc::OidcSubprovider::new(
        c.name.clone(),
        c.issuer,
        c.client_id,
        c.client_secret,
        http,
    )
    .map_err(|e| format!("{}: {e}", path.display()))?
    .mapper(idpkit::federation::RuleMapper { rules: c.rules })
    .trust_email_verified(c.trust_email_verified);
    if let Some(d) = c.display_name {
        sp = sp.display_name(d);
    }
    if let Some(scopes) = c.scopes {
        sp = sp.scopes(scopes);
    }
    Ok(sp)
}

impl Options {
    /// Defaults for a given bind address (what tests use).
    pub fn for_bind(bind: SocketAddr) -> Self {
        Self {
            bind,
            issuer: None,
            data_dir: PathBuf::from("./data"),
            storage: None,
            postgres_schema: "public".into(),
            keys: None,
            kms_key_id: None,
            kms_keys: None,
            housekeeping_interval: 30,
            code_ttl: 60,
            access_token_ttl: 3600,
            id_token_ttl: 3600,
            session_ttl: 14 * 24 * 3600,
            session_idle_ttl: 24 * 3600,
            refresh_token_ttl: 14 * 24 * 3600,
            refresh_token_absolute_ttl: 30 * 24 * 3600,
            device_code_ttl: 600,
            guest_token_ttl: 7 * 24 * 3600,
            header_read_timeout: 10,
            connection_lifetime: 300,
            max_connections: 512,
            max_interactions_per_source: 200,
            max_interactions_per_client: 5_000,
            max_interactions: 20_000,
            signing_alg: "RS256".into(),
            profile: "default".into(),
            clients: None,
            upstreams: Vec::new(),
            resources: Vec::new(),
            registration: "off".into(),
            client_id_metadata_documents: "on".into(),
            dangerous_allow_loopback_fetch: false,
            dangerous_extra_root_ca: None,
        }
    }

    /// The issuer: `--issuer`, or `http://<bind>`.
    pub fn issuer(&self) -> String {
        self.issuer
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.bind))
    }
}

/// The resource indicators (RFC 8707) the example host knows: `urn:demo-api` (audience
/// `demo-api`, the example API's) and each `--resource URI`, whose audience is the URI
/// itself. Every one accepts every scope.
pub fn demo_resources(extra: &[String]) -> Vec<idpkit::Resource> {
    let mut out = vec![idpkit::Resource::new(DEMO_API_RESOURCE, "demo-api")];
    for uri in extra {
        if uri != DEMO_API_RESOURCE {
            out.push(idpkit::Resource::new(uri.clone(), uri.clone()));
        }
    }
    out
}

/// The resource indicator of the example API (RFC 8707): tokens for it have `aud`
/// `demo-api`.
pub const DEMO_API_RESOURCE: &str = "urn:demo-api";

/// The scopes a dynamically registered client may ask for: the library's default ones and
/// [`mcp::MCP_SCOPE`], which the example MCP server requires.
pub const DEMO_REGISTRATION_SCOPES: [&str; 5] = [
    "openid",
    "profile",
    "email",
    "offline_access",
    mcp::MCP_SCOPE,
];

/// The demo redirect URI of both demo clients.
pub const DEMO_REDIRECT_URI: &str = "http://127.0.0.1:9999/callback";
/// Where the demo clients may send the browser after logout (`post_logout_redirect_uris`).
pub const DEMO_POST_LOGOUT_URI: &str = "http://127.0.0.1:9999/logged-out";
/// The origin of the demo redirect URI, allowed for CORS by `demo-public`.
pub const DEMO_ORIGIN: &str = "http://127.0.0.1:9999";
/// The demo scopes.
pub const DEMO_SCOPES: [&str; 5] = ["openid", "profile", "email", "offline_access", "api:read"];

/// The demo clients of DESIGN §6.
pub fn demo_clients() -> Result<StaticClients, idpkit::ConfigError> {
    StaticClients::new(demo_client_list()?)
}

fn demo_client_list() -> Result<Vec<Client>, idpkit::ConfigError> {
    let confidential = Client::confidential("demo-client", "demo-secret")
        .redirect_uri(DEMO_REDIRECT_URI)
        .grant_types([
            GrantType::AuthorizationCode,
            GrantType::RefreshToken,
            GrantType::ClientCredentials,
        ])
        .scopes(DEMO_SCOPES)
        .audience(["demo-api"])
        // The demo API's resource server authenticates as demo-client: it may introspect
        // every token for `demo-api` (demo-public's too), no other client may (RFC 7662 §4).
        .resource_server_for(["demo-api"])
        .first_party(true)
        .post_logout_redirect_uri(DEMO_POST_LOGOUT_URI)
        .build()?;
    let public = Client::public("demo-public")
        .redirect_uri(DEMO_REDIRECT_URI)
        // A browser app served from the callback's origin may call token/userinfo (CORS).
        .allowed_origin(DEMO_ORIGIN)
        .grant_types([GrantType::AuthorizationCode, GrantType::RefreshToken])
        .scopes(DEMO_SCOPES)
        .audience(["demo-api"])
        .first_party(false)
        .post_logout_redirect_uri(DEMO_POST_LOGOUT_URI)
        .build()?;
    // A TV or CLI app: the device authorization grant (RFC 8628) and refresh tokens.
    let device = Client::public("demo-device")
        .grant_types([GrantType::DeviceCode, GrantType::RefreshToken])
        .scopes(["openid", "profile", "offline_access", "api:read"])
        .audience(["demo-api"])
        .first_party(false)
        .build()?;
    // Token exchange (RFC 8693): a backend trading a user's demo-api token for a
    // demo-backend one; what it may exchange is `demo_exchange_policy`.
    let exchanger = Client::confidential("demo-exchanger", "demo-exchanger-secret")
        .grant_types([GrantType::TokenExchange, GrantType::ClientCredentials])
        .scopes(["api:read"])
        .build()?;
    Ok(vec![
        confidential,
        public,
        device,
        exchanger,
        shop_client()?,
        kiosk_client()?,
    ])
}

/// Who may exchange what (RFC 8693): `demo-exchanger` may exchange access tokens whose
/// audience is `demo-api` for audience `demo-backend`, with at most `api:read`, with or
/// without an actor token. Every other exchange is refused.
pub fn demo_exchange_policy() -> idpkit::ExchangeRules {
    idpkit::ExchangeRules::new([idpkit::ExchangeRule::new("demo-exchanger")
        .subject_audience("demo-api")
        .audience("demo-backend")
        .max_scopes(["api:read"])
        .actor(idpkit::ActorRule::Optional)])
}

/// `demo-shop`: the storefront (public; guest tokens, opaque, upgraded at login with an
/// authorization code + PKCE; refresh tokens). Its guest tokens live `--guest-token-ttl`
/// (a week by default); its tokens are for `demo-api`, whose resource server (demo-client)
/// may introspect them.
fn shop_client() -> Result<Client, idpkit::ConfigError> {
    Client::public(shop::SHOP_CLIENT)
        .redirect_uri(DEMO_REDIRECT_URI)
        .grant_types([
            GrantType::Guest,
            GrantType::AuthorizationCode,
            GrantType::RefreshToken,
        ])
        .scopes(DEMO_SCOPES)
        .audience(["demo-api"])
        .guest_token_format(idpkit::AccessTokenFormat::Opaque)
        .first_party(true)
        .build()
}

/// `demo-kiosk`: another public client with the guest grant only (its guest tokens
/// cannot be upgraded with demo-shop's codes).
fn kiosk_client() -> Result<Client, idpkit::ConfigError> {
    Client::public("demo-kiosk")
        .grant_types([GrantType::Guest])
        .scopes(["api:read"])
        .audience(["demo-api"])
        .build()
}

/// The demo user store: `alice` / `wonderland`, password held as an Argon2id hash; and
/// the host's other data about its visitors, the storefront's carts ([`shop::Carts`]).
pub struct DemoUsers {
    alice_hash: String,
    carts: Arc<shop::Carts>,
}

impl std::fmt::Debug for DemoUsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DemoUsers")
    }
}

impl Options {
    /// The HTTP server's limits of the command line.
    pub fn serve_limits(&self) -> serve::ServeLimits {
        serve::ServeLimits {
            header_read_timeout: std::time::Duration::from_secs(self.header_read_timeout.max(1)),
            connection_lifetime: std::time::Duration::from_secs(self.connection_lifetime.max(1)),
            max_connections: self.max_connections.max(1),
        }
    }
}

/// The provider's limits, with the interaction bounds of the command line.
fn rate_limits(opts: &Options) -> idpkit::RateLimits {
    let mut limits = idpkit::RateLimits::default();
    let per = Duration::minutes(10);
    limits.interactions_per_source = idpkit::Limit::new(opts.max_interactions_per_source, per);
    limits.interactions_per_client = idpkit::Limit::new(opts.max_interactions_per_client, per);
    limits.interactions_total = idpkit::Limit::new(opts.max_interactions, per);
    limits
}

fn argon2() -> Argon2<'static> {
    // OWASP's minimum Argon2id setting (19 MiB, 2 passes).
    Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        Params::new(19 * 1024, 2, 1, None).unwrap_or_default(),
    )
}

impl DemoUsers {
    /// Hashes the demo password.
    pub fn new() -> Result<Self, argon2::password_hash::Error> {
        let mut salt = [0u8; 16];
        idpkit::crypto::fill_random(&mut salt);
        let salt = SaltString::encode_b64(&salt)?;
        let alice_hash = argon2().hash_password(b"wonderland", &salt)?.to_string();
        Ok(Self {
            alice_hash,
            carts: Arc::default(),
        })
    }

    /// The storefront's carts, keyed by subject (guests' and users').
    pub fn carts(&self) -> &Arc<shop::Carts> {
        &self.carts
    }
}

#[async_trait]
impl UserStore for DemoUsers {
    async fn claims(
        &self,
        subject: &str,
        _scopes: &[String],
    ) -> Result<Option<Claims>, StoreError> {
        if subject != "alice" {
            return Ok(None);
        }
        let mut c = Claims::new();
        c.insert("name".into(), "Alice Liddell".into());
        c.insert("given_name".into(), "Alice".into());
        c.insert("family_name".into(), "Liddell".into());
        c.insert("preferred_username".into(), "alice".into());
        c.insert("email".into(), "alice@example.com".into());
        c.insert("email_verified".into(), true.into());
        Ok(Some(c))
    }

    async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<String>, StoreError> {
        // Argon2 is deliberately slow (tens of milliseconds of CPU): it runs on the blocking
        // pool, so that guessers cannot stall the async workers serving everybody else.
        let stored = self.alice_hash.clone();
        let password = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || {
            let hash =
                PasswordHash::new(&stored).map_err(|e| StoreError::backend(e.to_string()))?;
            // Verify even for unknown users so that timing does not tell which usernames
            // exist.
            Ok::<_, StoreError>(argon2().verify_password(password.as_bytes(), &hash).is_ok())
        })
        .await
        .map_err(|e| StoreError::backend(e.to_string()))??;
        Ok((ok && username == "alice").then(|| "alice".to_owned()))
    }
}

/// What the host runs on, for the start-up banner.
#[derive(Debug, Clone)]
pub struct Backends {
    /// Where grants are stored.
    pub storage: String,
    /// Where keys come from.
    pub keys: String,
    /// Where the keys come from, for periodic reloads.
    pub key_source: KeySource,
}

/// Where signing keys come from, and how the host reloads them.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A key directory (PEM / X.509 / JWK files and `keys.json`).
    Dir(Arc<KeyDir>),
    /// KMS keys, listed with their states in a JSON file re-read at every reload.
    #[cfg(feature = "kms")]
    Kms {
        /// The keys.
        keys: Arc<idpkit::keys::kms::KmsKeys>,
        /// The list (`[{"key_id": "...", "state": "active"}]`), if one was given.
        manifest: Option<PathBuf>,
    },
}

impl KeySource {
    /// Re-reads the key source; on failure the last good keys stay in use.
    pub async fn reload(&self) {
        match self {
            Self::Dir(dir) => {
                let dir = dir.clone();
                let _ = tokio::task::spawn_blocking(move || dir.reload()).await;
            }
            #[cfg(feature = "kms")]
            Self::Kms {
                keys,
                manifest: Some(path),
            } => match read_kms_manifest(path) {
                Ok(list) => {
                    if let Err(e) = keys.set_keys(&list).await {
                        tracing::error!(error = %e, "example: KMS key reload failed; keeping the last good keys");
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "example: KMS key list unreadable; keeping the last good keys")
                }
            },
            #[cfg(feature = "kms")]
            Self::Kms { manifest: None, .. } => {}
        }
    }
}

#[cfg(feature = "kms")]
fn read_kms_manifest(path: &std::path::Path) -> Result<Vec<idpkit::keys::kms::KmsKey>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(feature = "kms")]
async fn kms_source(
    opts: &Options,
) -> Result<(Arc<dyn idpkit::KeyProvider>, KeySource, String), Box<dyn std::error::Error>> {
    use idpkit::keys::kms::{KmsKey, KmsKeys};
    let (list, manifest) = match (&opts.kms_keys, &opts.kms_key_id) {
        (Some(path), _) => (read_kms_manifest(path)?, Some(path.clone())),
        (None, Some(id)) => (vec![KmsKey::active(id.clone())], None),
        (None, None) => return Err("no KMS key given".into()),
    };
    let described = list
        .iter()
        .map(|k| k.key_id.clone())
        .collect::<Vec<_>>()
        .join(", ");
    let keys = Arc::new(KmsKeys::load(KmsKeys::client_from_env().await, &list).await?);
    Ok((
        keys.clone(),
        KeySource::Kms { keys, manifest },
        format!("AWS KMS ({described})"),
    ))
}

#[cfg(not(feature = "kms"))]
async fn kms_source(
    _: &Options,
) -> Result<(Arc<dyn idpkit::KeyProvider>, KeySource, String), Box<dyn std::error::Error>> {
    Err("--kms-key-id / --kms-keys need the kms feature: cargo run -p idpkit-example --features kms -- ...".into())
}

/// Builds the demo provider from options, with the given clock: grants in SQLite and keys in
/// a key directory, both under `--data-dir` unless told otherwise.
pub async fn build_provider(
    opts: &Options,
    clock: Arc<dyn Clock>,
    users: Arc<DemoUsers>,
) -> Result<Provider, Box<dyn std::error::Error>> {
    build_provider_with_backends(opts, clock, users)
        .await
        .map(|(p, _)| p)
}

/// Like [`build_provider`], also saying which backends it chose.
pub async fn build_provider_with_backends(
    opts: &Options,
    clock: Arc<dyn Clock>,
    users: Arc<DemoUsers>,
) -> Result<(Provider, Backends), Box<dyn std::error::Error>> {
    let http: Arc<dyn idpkit::http::HttpClient> =
        Arc::new(idpkit::http_client::ReqwestClient::new()?);
    build_provider_with_http(opts, clock, users, http).await
}

/// Like [`build_provider_with_backends`], with the HTTP client upstream providers are
/// reached through (tests put a tampering one in between).
pub async fn build_provider_with_http(
    opts: &Options,
    clock: Arc<dyn Clock>,
    users: Arc<DemoUsers>,
    http: Arc<dyn idpkit::http::HttpClient>,
) -> Result<(Provider, Backends), Box<dyn std::error::Error>> {
    if storage_spec_is_persistent(opts) {
        users.carts().persist_to(opts.data_dir.join("carts.json"))?;
    }
    let carts = shop::MergeCarts(users.carts().clone());
    struct SharedUsers(Arc<DemoUsers>);
    #[async_trait]
    impl UserStore for SharedUsers {
        async fn claims(
            &self,
            subject: &str,
            scopes: &[String],
        ) -> Result<Option<Claims>, StoreError> {
            self.0.claims(subject, scopes).await
        }
        async fn authenticate(
            &self,
            username: &str,
            password: &str,
        ) -> Result<Option<String>, StoreError> {
            self.0.authenticate(username, password).await
        }
    }
    let storage_spec = opts
        .storage
        .clone()
        .unwrap_or_else(|| format!("sqlite:{}", opts.data_dir.join("idpkit.db").display()));
    // Dynamically registered clients (`--registration`) live in the same database as the
    // grants, so every instance sharing it finds them.
    fn both<S: GrantStore + idpkit::ClientRegistry>(
        s: S,
    ) -> (Arc<dyn GrantStore>, Arc<dyn idpkit::ClientRegistry>) {
        let s = Arc::new(s);
        (s.clone(), s)
    }
    let ((store, registry), development) = match storage_spec.as_str() {
        "memory" => {
            let registry: Arc<dyn idpkit::ClientRegistry> =
                Arc::new(idpkit::MemoryClientRegistry::new());
            let store: Arc<dyn GrantStore> = Arc::new(MemoryGrantStore::new());
            ((store, registry), true)
        }
        s if s.starts_with("sqlite:") => {
            let path = PathBuf::from(&s["sqlite:".len()..]);
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)?;
            }
            (both(SqliteStore::open(&path)?), false)
        }
        s if s.starts_with("sled:") => (both(SledStore::open(&s["sled:".len()..])?), false),
        s if s.starts_with("postgres://") || s.starts_with("postgresql://") => {
            let options = PostgresOptions::default().schema(&opts.postgres_schema);
            (both(PostgresStore::connect_with(s, options).await?), false)
        }
        other => {
            return Err(format!(
                "--storage {other:?}: use sqlite:PATH, sled:PATH, postgres://URL or memory"
            )
            .into());
        }
    };
    let (keys, key_source, keys_described): (Arc<dyn idpkit::KeyProvider>, KeySource, String) =
        if opts.kms_key_id.is_some() || opts.kms_keys.is_some() {
            kms_source(opts).await?
        } else {
            let key_path = opts
                .keys
                .clone()
                .unwrap_or_else(|| opts.data_dir.join("keys"));
            let key_dir = Arc::new(KeyDir::open_or_create(
                &key_path,
                &[Algorithm::RS256, Algorithm::ES256],
            )?);
            (
                key_dir.clone(),
                KeySource::Dir(key_dir),
                key_path.display().to_string(),
            )
        };
    let backends = Backends {
        storage: storage_spec,
        keys: keys_described,
        key_source,
    };
    let profile = match opts.profile.as_str() {
        "default" => idpkit::Profile::Default,
        "fapi2" => idpkit::Profile::Fapi2,
        other => return Err(format!("--profile {other:?}: use default or fapi2").into()),
    };
    let mut signing_alg = algorithm(&opts.signing_alg)?;
    if profile == idpkit::Profile::Fapi2 && !idpkit::FAPI2_ALGORITHMS.contains(&signing_alg) {
        tracing::info!(from = %signing_alg, "example: FAPI 2.0 signs with ES256");
        signing_alg = Algorithm::ES256;
    }
    let mut clients = demo_client_list()?;
    if let Some(path) = &opts.clients {
        clients.extend(configured_clients(path)?);
    }
    let has_pairwise = clients
        .iter()
        .any(|c| c.subject_type() == idpkit::SubjectType::Pairwise);
    // RFC 9396 §10: the types some client registered.
    let mut details_types: Vec<String> = Vec::new();
    for t in clients.iter().flat_map(|c| c.authorization_details_types()) {
        if !details_types.contains(t) {
            details_types.push(t.clone());
        }
    }
    let mut builder = Provider::builder(opts.issuer())
        .grant_store_arc(store)
        .keys_arc(keys)
        .clients(StaticClients::new(clients)?)
        .dynamic_client_registration(registry, registration_policy(&opts.registration)?)
        .registration_scopes(DEMO_REGISTRATION_SCOPES)
        .users(SharedUsers(users))
        .clock(clock)
        .code_ttl(Duration::seconds(opts.code_ttl))
        .access_token_ttl(Duration::seconds(opts.access_token_ttl))
        .id_token_ttl(Duration::seconds(opts.id_token_ttl))
        .session_ttl(Duration::seconds(opts.session_ttl))
        .session_idle_ttl(Duration::seconds(opts.session_idle_ttl))
        .refresh_token_ttl(Duration::seconds(opts.refresh_token_ttl))
        .refresh_token_absolute_ttl(Duration::seconds(opts.refresh_token_absolute_ttl))
        .device_code_ttl(Duration::seconds(opts.device_code_ttl))
        .guest_token_ttl(Duration::seconds(opts.guest_token_ttl))
        .guest_upgrade_hook(carts)
        .rate_limits(rate_limits(opts))
        .http_client(http.clone())
        .untrusted_http_client(untrusted_http_client(opts)?)
        .client_id_metadata_documents(opts.client_id_metadata_documents == "on")
        .dangerous_allow_loopback_fetch(opts.dangerous_allow_loopback_fetch)
        .token_exchange_policy(demo_exchange_policy())
        .signing_alg(signing_alg)
        .profile(profile);
    for path in &opts.upstreams {
        builder = builder.upstream(configured_upstream(path, http.clone())?);
    }
    for r in demo_resources(&opts.resources) {
        builder = builder.resource(r);
    }
    if !details_types.is_empty() {
        builder = builder.authorization_details_types_supported(details_types);
    }
    if has_pairwise {
        builder = builder.pairwise_secret(pairwise_secret(&opts.data_dir)?);
    }
    if development {
        builder = builder.dangerous_allow_development_backends();
    }
    Ok((builder.build()?, backends))
}

/// The pairwise subject secret (OIDC Core §8.1): `pairwise_secret` in `--data-dir`, 32
/// random bytes created on first use. Instances that share the data directory (or a copy
/// of the file) give pairwise clients the same `sub`.
fn pairwise_secret(dir: &std::path::Path) -> Result<Vec<u8>, String> {
    let path = dir.join("pairwise_secret");
    match std::fs::read(&path) {
        Ok(secret) => Ok(secret),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut secret = vec![0u8; 32];
            idpkit::crypto::fill_random(&mut secret);
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            std::fs::write(&path, &secret).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(secret)
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Whether the grants outlive the process (then the demo carts are kept under
/// `--data-dir` too).
fn storage_spec_is_persistent(opts: &Options) -> bool {
    opts.storage.as_deref() != Some("memory")
}

/// Everything the host's pages need.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The provider.
    pub provider: Provider,
    /// The users.
    pub users: Arc<DemoUsers>,
}

/// The whole host: idpkit's endpoints, the login and consent pages, and a home page.
pub fn app(provider: Provider, users: Arc<DemoUsers>) -> Router {
    let state = AppState {
        provider: provider.clone(),
        users,
    };
    let shop = shop::routes(provider.clone(), state.users.carts().clone());
    let pages = Router::new()
        .route("/", get(home))
        .route(
            "/interaction/{id}",
            get(interaction_page).post(interaction_submit),
        )
        .route("/interaction/{id}/upstream/{name}", get(upstream_login))
        .route("/logout/{id}", get(logout_page).post(logout_submit))
        .route(
            "/device",
            get(device::device_page).post(device::device_submit),
        )
        .with_state(state);
    idpkit::axum::router(provider)
        .merge(pages)
        .merge(shop)
        .layer(axum::middleware::map_response(security_headers))
}

/// On every answer the host gives (#12 item 10): `X-Content-Type-Options: nosniff`, and
/// framing refused (`X-Frame-Options: DENY`, CSP `frame-ancestors 'none'`) where the page
/// did not set its own policy.
async fn security_headers(mut response: Response) -> Response {
    use axum::http::{HeaderValue, header};
    let h = response.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !h.contains_key(header::X_FRAME_OPTIONS) {
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("frame-ancestors 'none'"),
        );
    }
    response
}

/// Builds everything from options with the system clock.
pub async fn app_from_options(
    opts: &Options,
) -> Result<(Router, Provider, Backends), Box<dyn std::error::Error>> {
    let users = Arc::new(DemoUsers::new().map_err(|e| e.to_string())?);
    let (provider, backends) =
        build_provider_with_backends(opts, Arc::new(SystemClock), users.clone()).await?;
    Ok((app(provider.clone(), users), provider, backends))
}

/// Housekeeping every host runs: purge expired grants and unused anonymous client
/// registrations and reload the key directory, every `every`, until the runtime stops.
pub fn spawn_housekeeping(provider: Provider, backends: &Backends, every: std::time::Duration) {
    // Back-channel logout tokens: delivered within a second of a logout, retried from the
    // queue in the grant store (any instance delivers; a restart loses nothing).
    let deliverer = provider.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            tick.tick().await;
            if let Err(e) = deliverer.deliver_logout_tokens().await {
                tracing::warn!(error = %e, "example: back-channel logout delivery failed");
            }
        }
    });
    let source = backends.key_source.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            source.reload().await;
            let now = provider.clock().now();
            match provider.grant_store().purge_expired(now).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "example: expired grants purged"),
                Err(e) => tracing::warn!(error = %e, "example: purge failed"),
            }
            // Anonymous registrations that never completed a token request in their unused
            // lifetime, deleted even when nobody looks them up again.
            match provider.purge_unused_clients().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "example: unused registered clients purged"),
                Err(e) => tracing::warn!(error = %e, "example: client purge failed"),
            }
        }
    });
}

async fn home(State(state): State<AppState>) -> Html<String> {
    Html(page(
        "idpkit example",
        &format!(
            "<h1>idpkit example identity provider</h1><p>Issuer: <code>{issuer}</code></p>\
             <p>Discovery: <a href=\"/.well-known/openid-configuration\">/.well-known/openid-configuration</a></p>\
             <p>Demo user <code>alice</code> / <code>wonderland</code>; clients <code>demo-client</code> \
             (secret <code>demo-secret</code>), <code>demo-public</code>, <code>demo-device</code> \
             (device flow: <a href=\"/device\">/device</a>); token exchange (RFC 8693): \
             <code>demo-exchanger</code> (secret <code>demo-exchanger-secret</code>).</p>\
             <p><a href=\"/logout\">Log out</a></p>",
            issuer = escape(state.provider.issuer())
        ),
    ))
}

/// The logout confirmation page of an RP-Initiated Logout: the host asks before the
/// session ends (idpkit skips it only when configured to for a hint of the session).
async fn logout_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let req = match into_request(&state.provider, &method, &uri, &headers, &[]) {
        Ok(r) => r,
        Err(e) => return error_page(&e),
    };
    match state.provider.logout_details(&id, &req).await {
        Ok(d) => {
            let who = match (&d.subject, &d.client_id) {
                (Some(user), Some(client)) => format!(
                    "<p><code>{}</code> asks to log <strong>{}</strong> out.</p>",
                    escape(client),
                    escape(user)
                ),
                (Some(user), None) => format!("<p>Log <strong>{}</strong> out?</p>", escape(user)),
                (None, _) => "<p>You are not logged in.</p>".to_owned(),
            };
            protect(
                page(
                    "Log out",
                    &format!(
                        "<h1>Log out?</h1>{who}\
                         <form method=\"post\" action=\"/logout/{id}\">\
                         <button type=\"submit\" name=\"action\" value=\"logout\">Log out</button> \
                         <button type=\"submit\" name=\"action\" value=\"stay\">Stay logged in</button></form>",
                        id = escape(&id)
                    ),
                ),
                axum::http::StatusCode::OK,
                None,
            )
        }
        Err(e) => error_page(&e),
    }
}

/// The answer to the confirmation: log out (the logged-out page, with the front-channel
/// iframes, then on to the client), or stay.
async fn logout_submit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req = match into_request(&state.provider, &method, &uri, &headers, &body) {
        Ok(r) => r,
        Err(e) => return error_page(&e),
    };
    let form = FormParams::parse(&body);
    if form.get("action").ok().flatten() != Some("logout") {
        return protect(
            page(
                "Still logged in",
                "<h1>You are still logged in</h1><p><a href=\"/\">Home</a></p>",
            ),
            axum::http::StatusCode::OK,
            None,
        );
    }
    match state.provider.finish_logout(&id, &req).await {
        // idpkit's page renders the front-channel iframes (its CSP allows their origins)
        // and goes on to the client's post_logout_redirect_uri, or is a plain 303.
        Ok(done) => into_response(done.response),
        Err(e) => error_page(&e),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>\
         body{{font-family:system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem;color:#222}}\
         label{{display:block;margin:.8rem 0 .2rem}}input{{width:100%;padding:.5rem;box-sizing:border-box}}\
         button{{margin-top:1rem;padding:.5rem 1.2rem}}.error{{color:#b00020}}ul{{padding-left:1.2rem}}\
         </style></head><body>{body}</body></html>",
        title = escape(title)
    )
}

/// Security headers of the login and consent pages: no framing, nothing third-party, forms
/// only to this host and (for the redirect that follows a submission) the client's origin.
fn protect(html: String, status: axum::http::StatusCode, redirect_uri: Option<&str>) -> Response {
    let client_origin = redirect_uri
        .and_then(|u| url::Url::parse(u).ok())
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
        .unwrap_or_default();
    let csp = format!(
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' {client_origin}; frame-ancestors 'none'"
    );
    (
        status,
        [
            ("X-Frame-Options", "DENY".to_owned()),
            ("Content-Security-Policy", csp.trim_end().to_owned()),
            ("Cache-Control", "no-store".to_owned()),
            ("Referrer-Policy", "no-referrer".to_owned()),
        ],
        Html(html),
    )
        .into_response()
}

/// How a page names the client, as HTML: its `client_name` beside its `client_id` (a
/// self-registered client chose its name itself, so the id always shows), else the id.
fn client_label(d: &idpkit::InteractionDetails) -> String {
    match &d.client_name {
        Some(name) => format!("{} <small>({})</small>", escape(name), escape(&d.client_id)),
        None => escape(&d.client_id),
    }
}

fn login_form(
    id: &str,
    client: &str,
    hint: Option<&str>,
    error: Option<&str>,
    upstreams: &[idpkit::UpstreamInfo],
) -> String {
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    // Links, not forms: the CSP form-action of this page would block the redirect to the
    // upstream's origin after a form submission.
    let upstreams: String = if upstreams.is_empty() {
        String::new()
    } else {
        let links: String = upstreams
            .iter()
            .map(|u| {
                format!(
                    "<li><a class=\"upstream\" href=\"/interaction/{id}/upstream/{name}\">Sign in with {display}</a></li>",
                    id = escape(id),
                    name = escape(&u.name),
                    display = escape(&u.display_name)
                )
            })
            .collect();
        format!("<p>or</p><ul>{links}</ul>")
    };
    page(
        "Sign in",
        &format!(
            "<h1>Sign in</h1><p>to continue to <strong>{client}</strong></p>{error}\
             <form method=\"post\" action=\"/interaction/{id}\">\
             <label for=\"username\">Username</label>\
             <input id=\"username\" name=\"username\" autocomplete=\"username\" value=\"{hint}\" required autofocus>\
             <label for=\"password\">Password</label>\
             <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
             <button type=\"submit\" name=\"action\" value=\"login\">Sign in</button>\
             </form>{upstreams}",
            client = client,
            id = escape(id),
            hint = escape(hint.unwrap_or_default()),
        ),
    )
}

fn consent_form(id: &str, d: &idpkit::InteractionDetails) -> String {
    let device = d.device;
    let mut items: String = d
        .scopes
        .iter()
        .map(|s| format!("<li><code>{}</code></li>", escape(s)))
        .collect();
    // RFC 9396: each authorization detail is granted as it is, so the page shows it whole.
    for detail in &d.authorization_details {
        let json = serde_json::to_string_pretty(detail.members()).unwrap_or_default();
        items.push_str(&format!(
            "<li>{}: <pre>{}</pre></li>",
            escape(detail.detail_type()),
            escape(&json)
        ));
    }
    for r in &d.resources {
        items.push_str(&format!("<li>for <code>{}</code></li>", escape(r)));
    }
    // A device's code can be phished (RFC 8628 §5.4): say what approving does.
    let device = if device {
        "<p class=\"error\">This signs in a <strong>device</strong> (a TV, a terminal). Allow it only if \
         you started this on your own device and entered the code it shows.</p>"
    } else {
        ""
    };
    // CIMD §8.5: a client named by its metadata document URL is whoever serves that URL:
    // the page says where it comes from.
    let origin = match &d.client_id_metadata_document_host {
        Some(host) => format!(
            "<p class=\"origin\">client from <strong>{}</strong> (its metadata document; not registered here)</p>",
            escape(host)
        ),
        None => String::new(),
    };
    page(
        "Allow access?",
        &format!(
            "<h1>Allow access?</h1>{device}<p><strong>{client}</strong> asks for:</p>{origin}<ul>{items}</ul>\
             <form method=\"post\" action=\"/interaction/{id}\">\
             <button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button> \
             <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\
             </form>",
            client = client_label(d),
            id = escape(id),
        ),
    )
}

fn error_page(e: &idpkit::OAuthError) -> Response {
    protect(
        page(
            "Sign-in problem",
            &format!("<h1>Sign-in problem</h1><p>{}</p>", escape(&e.description)),
        ),
        axum::http::StatusCode::BAD_REQUEST,
        None,
    )
}

async fn interaction_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let req = match into_request(&state.provider, &method, &uri, &headers, &[]) {
        Ok(r) => r,
        Err(e) => return error_page(&e),
    };
    match state.provider.interaction(&id, &req).await {
        Ok(d) => match d.needs {
            Needs::Login => protect(
                login_form(
                    &id,
                    &client_label(&d),
                    d.login_hint.as_deref(),
                    None,
                    &state.provider.upstreams(),
                ),
                axum::http::StatusCode::OK,
                Some(&d.redirect_uri),
            ),
            Needs::Consent => protect(
                consent_form(&id, &d),
                axum::http::StatusCode::OK,
                Some(&d.redirect_uri),
            ),
        },
        Err(e) => error_page(&e),
    }
}

async fn interaction_submit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    body: Bytes,
) -> Response {
    let source = idpkit::axum::source_of(&extensions);
    let req = match into_request(&state.provider, &method, &uri, &headers, &body) {
        Ok(r) => r.with_source(source),
        Err(e) => return error_page(&e),
    };
    // Loaded once: the details decide the outcome, the same handle completes the step.
    let open = match state.provider.open_interaction(&id, &req).await {
        Ok(o) => o,
        Err(e) => return error_page(&e),
    };
    let details = open.details();
    let form = FormParams::parse(&body);
    let field = |name: &str| form.get(name).ok().flatten().unwrap_or_default().to_owned();
    let outcome = match details.needs {
        Needs::Login => {
            let username = field("username");
            // Brute-force guard (per account and per source, exponential back-off, shared
            // by every instance through the grant store) around the password check.
            let guard = state.provider.login_guard();
            if let Err(e) = guard.check(&username, source).await {
                let Some(wait) = e.retry_after else {
                    return error_page(&e);
                };
                tracing::info!(wait, "example: login attempt refused while backing off");
                let mut page = protect(
                    login_form(
                        &id,
                        &client_label(details),
                        Some(&username),
                        Some(&format!("Too many failed attempts. Try again in {wait} s.")),
                        &state.provider.upstreams(),
                    ),
                    axum::http::StatusCode::TOO_MANY_REQUESTS,
                    Some(&details.redirect_uri),
                );
                if let Ok(v) = axum::http::HeaderValue::from_str(&wait.to_string()) {
                    page.headers_mut()
                        .insert(axum::http::header::RETRY_AFTER, v);
                }
                return page;
            }
            match state
                .users
                .authenticate(&username, &field("password"))
                .await
            {
                Ok(Some(subject)) => {
                    if let Err(e) = guard.succeeded(&username).await {
                        return error_page(&e);
                    }
                    InteractionOutcome::Login { subject }
                }
                Ok(None) => {
                    tracing::info!("example: failed login attempt");
                    if let Err(e) = guard.failed(&username, source).await {
                        return error_page(&e);
                    }
                    return protect(
                        login_form(
                            &id,
                            &client_label(details),
                            Some(&username),
                            Some("Wrong username or password."),
                            &state.provider.upstreams(),
                        ),
                        axum::http::StatusCode::UNAUTHORIZED,
                        Some(&details.redirect_uri),
                    );
                }
                Err(e) => return error_page(&idpkit::OAuthError::server_error(&e)),
            }
        }
        Needs::Consent => match field("decision").as_str() {
            "allow" => InteractionOutcome::Consent {
                scopes: details.scopes.clone(),
            },
            _ => InteractionOutcome::Deny,
        },
    };
    match open.finish(outcome).await {
        Ok(outcome) => into_response(outcome.into()),
        Err(e) => error_page(&e),
    }
}

/// The login page's "Sign in with ..." links: the login goes to that upstream.
async fn upstream_login(
    State(state): State<AppState>,
    Path((id, name)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let req = match into_request(&state.provider, &method, &uri, &headers, &[]) {
        Ok(r) => r,
        Err(e) => return error_page(&e),
    };
    match state.provider.federate(&id, &req, &name).await {
        Ok(outcome) => into_response(outcome.into()),
        Err(e) => error_page(&e),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn registration_flag_takes_exactly_off_open_or_token() {
        use idpkit::RegistrationPolicy as P;
        assert!(matches!(super::registration_policy("off"), Ok(P::Off)));
        assert!(matches!(super::registration_policy("open"), Ok(P::Open)));
        let p = super::registration_policy("token:0123456789abcdef").expect("token");
        assert!(matches!(&p, P::InitialAccessToken(h) if h.verify("0123456789abcdef")));
        for bad in ["Open", "on", "token:", "token:short", "token"] {
            assert!(super::registration_policy(bad).is_err(), "{bad}");
        }
    }

    use super::*;

    fn file(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    fn http() -> Arc<dyn idpkit::http::HttpClient> {
        Arc::new(idpkit::http_client::ReqwestClient::new().expect("http"))
    }

    #[test]
    fn client_files_take_the_par_and_rar_metadata_names() {
        let dir = tempfile::tempdir().expect("dir");
        let f = file(
            &dir,
            "fapi.json",
            r#"[{"client_id": "bank", "client_secret": "s", "redirect_uris": ["https://bank.example/cb"],
                "grant_types": ["authorization_code"], "scopes": ["openid"],
                "require_pushed_authorization_requests": true,
                "authorization_details_types": ["payment_initiation"]}]"#,
        );
        let clients = configured_clients(&f).expect("valid");
        assert!(clients[0].requires_pushed_authorization_requests());
        assert_eq!(
            clients[0].authorization_details_types(),
            ["payment_initiation"]
        );
    }

    #[test]
    fn bad_client_files_name_the_file_and_the_problem() {
        let dir = tempfile::tempdir().expect("dir");
        let missing = dir.path().join("nope.json");
        let e = configured_clients(&missing).expect_err("missing");
        assert!(e.contains("nope.json"), "{e}");
        let typo = file(
            &dir,
            "typo.json",
            r#"[{"client_id": "gw", "grant_types": ["authorization_code"], "scopes": ["openid"], "redirect_uri": "x"}]"#,
        );
        let e = configured_clients(&typo).expect_err("unknown field");
        assert!(e.contains("typo.json") && e.contains("redirect_uri"), "{e}");
        let grant = file(
            &dir,
            "grant.json",
            r#"[{"client_id": "gw", "client_secret": "s", "grant_types": ["implicit"], "scopes": ["openid"]}]"#,
        );
        let e = configured_clients(&grant).expect_err("grant");
        assert!(e.contains("unknown grant type \"implicit\""), "{e}");
        let alg = file(
            &dir,
            "alg.json",
            r#"[{"client_id": "gw", "client_secret": "s", "grant_types": ["client_credentials"], "scopes": ["api:read"], "signing_alg": "HS256"}]"#,
        );
        let e = configured_clients(&alg).expect_err("alg");
        assert!(e.contains("HS256"), "{e}");
        // The builder's own checks apply: a public client cannot use client_credentials.
        let public = file(
            &dir,
            "public.json",
            r#"[{"client_id": "gw", "grant_types": ["client_credentials"], "scopes": ["api:read"]}]"#,
        );
        let e = configured_clients(&public).expect_err("public cc");
        assert!(e.contains("client gw"), "{e}");
        let ok = file(
            &dir,
            "ok.json",
            r#"[{"client_id": "gw", "client_secret": "s", "redirect_uris": ["https://gw.example/cb"], "grant_types": ["authorization_code"], "scopes": ["openid"]}]"#,
        );
        let clients = configured_clients(&ok).expect("valid");
        assert_eq!(clients.len(), 1);
        assert!(clients[0].is_first_party(), "first_party defaults to true");
    }

    #[test]
    fn client_files_take_the_jwt_authentication_names_rfc7591_2() {
        let dir = tempfile::tempdir().expect("dir");
        let ok = file(
            &dir,
            "jwt.json",
            r#"[{"client_id": "pk", "token_endpoint_auth_method": "private_key_jwt",
                 "jwks_uri": "https://pk.example/jwks", "token_endpoint_auth_signing_alg": "PS256",
                 "request_object_signing_alg": "PS256", "grant_types": ["client_credentials"]},
                {"client_id": "hs", "token_endpoint_auth_method": "client_secret_jwt",
                 "client_secret": "0123456789abcdef0123456789abcdef", "grant_types": ["client_credentials"]},
                {"client_id": "basic", "token_endpoint_auth_method": "client_secret_basic",
                 "client_secret": "s", "grant_types": ["client_credentials"]}]"#,
        );
        let pairwise = file(
            &dir,
            "pairwise.json",
            r#"[{"client_id": "pw", "redirect_uris": ["https://a.example/cb", "https://b.example/cb"],
                 "grant_types": ["authorization_code"], "subject_type": "pairwise",
                 "sector_identifier_uri": "https://a.example/sector.json",
                 "userinfo_signed_response_alg": "ES256"}]"#,
        );
        let pw = &configured_clients(&pairwise).expect("valid")[0];
        assert_eq!(pw.subject_type(), idpkit::SubjectType::Pairwise);
        assert_eq!(pw.sector(), Some("a.example"));
        assert_eq!(
            pw.sector_identifier_uri(),
            Some("https://a.example/sector.json")
        );
        assert_eq!(pw.userinfo_signed_response_alg(), Some(Algorithm::ES256));
        // Encryption names: a key by value to encrypt to; both members or neither.
        let enc_key = serde_json::json!({"kty": "EC", "crv": "P-256", "use": "enc",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"});
        let encrypted = file(
            &dir,
            "encrypted.json",
            &serde_json::json!([{"client_id": "enc", "client_secret": "s",
                "redirect_uris": ["https://a.example/cb"], "grant_types": ["authorization_code"],
                "jwks": {"keys": [enc_key]},
                "id_token_encrypted_response_alg": "ECDH-ES+A256KW",
                "id_token_encrypted_response_enc": "A128GCM",
                "userinfo_encrypted_response_alg": "ECDH-ES",
                "userinfo_encrypted_response_enc": "A256GCM"}])
            .to_string(),
        );
        let c = &configured_clients(&encrypted).expect("valid")[0];
        assert_eq!(
            c.id_token_encrypted_response(),
            Some((
                idpkit::JweAlgorithm::EcdhEsA256kw,
                idpkit::JweEncryption::A128GCM
            ))
        );
        assert!(c.userinfo_encrypted_response().is_some());
        let half = file(
            &dir,
            "half.json",
            r#"[{"client_id": "enc", "client_secret": "s", "redirect_uris": ["https://a.example/cb"],
                 "grant_types": ["authorization_code"],
                 "id_token_encrypted_response_alg": "RSA-OAEP-256"}]"#,
        );
        let e = configured_clients(&half).expect_err("alg without enc");
        assert!(e.contains("id_token_encrypted_response_enc"), "{e}");
        let odd = file(
            &dir,
            "odd.json",
            r#"[{"client_id": "pw", "redirect_uris": ["https://a.example/cb"],
                 "grant_types": ["authorization_code"], "subject_type": "secret"}]"#,
        );
        let e = configured_clients(&odd).expect_err("subject_type");
        assert!(e.contains("subject_type"), "{e}");
        let clients = configured_clients(&ok).expect("valid");
        assert_eq!(
            clients[0].token_endpoint_auth_method(),
            Some(TokenEndpointAuthMethod::PrivateKeyJwt)
        );
        assert_eq!(clients[0].jwks_uri(), Some("https://pk.example/jwks"));
        assert_eq!(clients[0].token_endpoint_auth_signing_alg(), Some("PS256"));
        assert_eq!(
            clients[0].request_object_signing_alg(),
            Some(Algorithm::PS256)
        );
        assert!(clients[0].is_confidential());
        assert!(clients[1].allows_auth_method(TokenEndpointAuthMethod::ClientSecretJwt));
        assert!(!clients[2].allows_auth_method(TokenEndpointAuthMethod::ClientSecretPost));
        let bad = file(
            &dir,
            "bad.json",
            r#"[{"client_id": "pk", "token_endpoint_auth_method": "private_key_jwt",
                 "client_secret": "s", "jwks_uri": "https://pk.example/jwks", "grant_types": ["client_credentials"]}]"#,
        );
        let e = configured_clients(&bad).expect_err("a secret for private_key_jwt");
        assert!(e.contains("token_endpoint_auth_method"), "{e}");
        let nokeys = file(
            &dir,
            "nokeys.json",
            r#"[{"client_id": "pk", "token_endpoint_auth_method": "private_key_jwt", "grant_types": ["client_credentials"]}]"#,
        );
        let e = configured_clients(&nokeys).expect_err("no keys");
        assert!(e.contains("jwks"), "{e}");
    }

    #[test]
    fn client_files_take_the_standard_metadata_names() {
        let dir = tempfile::tempdir().expect("dir");
        let ok = file(
            &dir,
            "std.json",
            r#"[{"client_id": "rp", "client_name": "The RP", "token_endpoint_auth_method": "none",
                 "response_types": ["code"], "scope": "openid email", "grant_types": ["authorization_code"],
                 "redirect_uris": ["https://rp.example/cb"],
                 "post_logout_redirect_uris": ["https://rp.example/bye"],
                 "frontchannel_logout_uri": "https://rp.example/fc", "frontchannel_logout_session_required": true,
                 "backchannel_logout_uri": "https://rp.example/bc", "backchannel_logout_session_required": true,
                 "dpop_bound_access_tokens": true}]"#,
        );
        let c = &configured_clients(&ok).expect("valid")[0];
        assert!(c.dpop_bound_access_tokens(), "RFC 9449 §5.2");
        assert_eq!(c.scopes(), ["openid", "email"]);
        assert_eq!(c.name(), Some("The RP"));
        assert_eq!(c.post_logout_redirect_uris(), ["https://rp.example/bye"]);
        assert_eq!(c.frontchannel_logout_uri(), Some("https://rp.example/fc"));
        assert!(c.frontchannel_logout_session_required());
        assert_eq!(c.backchannel_logout_uri(), Some("https://rp.example/bc"));
        let mismatch = file(
            &dir,
            "auth.json",
            r#"[{"client_id": "rp", "token_endpoint_auth_method": "client_secret_basic", "grant_types": ["authorization_code"], "redirect_uris": ["https://rp.example/cb"]}]"#,
        );
        let e = configured_clients(&mismatch).expect_err("no secret");
        assert!(e.contains("token_endpoint_auth_method"), "{e}");
        let implicit = file(
            &dir,
            "rt.json",
            r#"[{"client_id": "rp", "response_types": ["token"], "grant_types": ["authorization_code"], "redirect_uris": ["https://rp.example/cb"]}]"#,
        );
        let e = configured_clients(&implicit).expect_err("token");
        assert!(e.contains("response_types"), "{e}");
        let bad_uri = file(
            &dir,
            "uri.json",
            r#"[{"client_id": "rp", "grant_types": ["authorization_code"], "redirect_uris": ["https://rp.example/cb"], "post_logout_redirect_uris": ["https://rp.example/bye#x"]}]"#,
        );
        let e = configured_clients(&bad_uri).expect_err("fragment");
        assert!(e.contains("post_logout_redirect_uri"), "{e}");
    }

    #[test]
    fn bad_upstream_files_name_the_file_and_the_problem() {
        let dir = tempfile::tempdir().expect("dir");
        let e = configured_upstream(&dir.path().join("gone.json"), http()).expect_err("missing");
        assert!(e.contains("gone.json"), "{e}");
        let rule = file(
            &dir,
            "rule.json",
            r#"{"name": "corp", "issuer": "https://login.corp.example", "client_id": "c", "rules": [{"op": "uppercase", "claim": "x"}]}"#,
        );
        let e = configured_upstream(&rule, http()).expect_err("rule");
        assert!(e.contains("rule.json") && e.contains("uppercase"), "{e}");
        let ok = file(
            &dir,
            "ok.json",
            r#"{"name": "corp", "display_name": "Corp SSO", "issuer": "https://login.corp.example", "client_id": "c", "rules": [{"op": "drop", "claim": "x"}]}"#,
        );
        let sp = configured_upstream(&ok, http()).expect("valid");
        use idpkit::federation::Subprovider;
        assert_eq!(
            (sp.name(), Subprovider::display_name(&sp), sp.issuer()),
            ("corp", "Corp SSO", "https://login.corp.example")
        );
    }

    #[test]
    fn the_refresh_token_lifetime_flags_parse_and_show_in_help() {
        use clap::{CommandFactory, Parser};
        let o = Options::try_parse_from(["idpkit-example", "--refresh-token-absolute-ttl", "3600"])
            .expect("parses");
        assert_eq!(o.refresh_token_absolute_ttl, 3600);
        let d = Options::try_parse_from(["idpkit-example"]).expect("defaults");
        assert_eq!(d.refresh_token_absolute_ttl, 30 * 24 * 3600);
        assert_eq!(
            d.refresh_token_absolute_ttl,
            Options::for_bind(d.bind).refresh_token_absolute_ttl
        );
        let help = Options::command().render_long_help().to_string();
        assert!(help.contains("--refresh-token-absolute-ttl"), "{help}");
        for flag in [
            "--id-token-ttl",
            "--session-ttl",
            "--session-idle-ttl",
            "--max-interactions-per-source",
            "--header-read-timeout",
        ] {
            assert!(help.contains(flag), "{flag} in {help}");
        }
        let o =
            Options::try_parse_from(["idpkit-example", "--id-token-ttl", "600"]).expect("parses");
        assert_eq!(o.id_token_ttl, 600);
        assert_eq!(d.id_token_ttl, Options::for_bind(d.bind).id_token_ttl);
    }

    #[test]
    fn an_unknown_signing_algorithm_is_refused_clearly() {
        let e = algorithm("RS512").expect_err("unknown");
        assert!(e.contains("RS512") && e.contains("ES256"), "{e}");
    }
}
