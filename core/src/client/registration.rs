//! The stored form of a client ([`ClientRegistration`]), for client stores that persist
//! clients: JSON with the secret kept only as its SHA-256, validated again when read back.

use std::sync::Arc;

use time::Duration;

use super::auth_method::HmacKey;
use super::{
    AccessTokenFormat, Client, ClientBuilder, GrantType, SecretHash, SubjectType,
    TokenEndpointAuthMethod, is_absolute_uri,
};
use crate::Algorithm;
use crate::error::ConfigError;
use crate::store::StoreError;

/// The stored form of a client registration, for client stores that persist clients. The
/// secret is kept only as its SHA-256; reading a registration back validates it again.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClientRegistration {
    /// `client_id`.
    pub id: String,
    /// `client_name` (RFC 7591 §2): how consent and login pages name the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// base64url SHA-256 of the secret; absent for a public client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_sha256: Option<String>,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Grant type names.
    pub grant_types: Vec<String>,
    /// Allowed scopes.
    pub scopes: Vec<String>,
    /// Access token audience.
    #[serde(default)]
    pub audience: Vec<String>,
    /// First-party (no consent screen).
    #[serde(default)]
    pub first_party: bool,
    /// PKCE required.
    pub require_pkce: bool,
    /// `true` for opaque access tokens.
    #[serde(default)]
    pub opaque_access_tokens: bool,
    /// CORS origins.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Signing algorithm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_alg: Option<Algorithm>,
    /// Access token lifetime in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_ttl: Option<i64>,
    /// Refresh token lifetime in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_ttl: Option<i64>,
    /// Absolute refresh token lifetime in seconds, from the original authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_absolute_ttl: Option<i64>,
    /// Native application.
    #[serde(default)]
    pub native: bool,
    /// The audiences this client serves as a resource server (it may introspect their
    /// access tokens); see [`ClientBuilder::resource_server_for`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_server_for: Vec<String>,
    /// `post_logout_redirect_uris` (RP-Initiated Logout §3.1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_logout_redirect_uris: Vec<String>,
    /// `backchannel_logout_uri` (Back-Channel Logout §2.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// `backchannel_logout_session_required`.
    #[serde(default)]
    pub backchannel_logout_session_required: bool,
    /// `frontchannel_logout_uri` (Front-Channel Logout §2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontchannel_logout_uri: Option<String>,
    /// `frontchannel_logout_session_required`.
    #[serde(default)]
    pub frontchannel_logout_session_required: bool,
    /// Guest token lifetime in seconds ([`ClientBuilder::guest_token_ttl`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_token_ttl: Option<i64>,
    /// `true` for JWT guest tokens (default opaque, [`ClientBuilder::guest_token_format`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub jwt_guest_tokens: bool,
    /// `require_pushed_authorization_requests` (RFC 9126 §6).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_pushed_authorization_requests: bool,
    /// `authorization_details_types` (RFC 9396 §10).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_details_types: Vec<String>,
    /// `dpop_bound_access_tokens` (RFC 9449 §5.2).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dpop_bound_access_tokens: bool,
    /// `token_endpoint_auth_method` (RFC 7591 §2) when registered explicitly
    /// ([`ClientBuilder::token_endpoint_auth_method`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
    /// `token_endpoint_auth_signing_alg` (OIDC Registration §2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg: Option<String>,
    /// `jwks` (RFC 7591 §2): the client's public keys, a JWKS document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    /// `jwks_uri` (RFC 7591 §2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// `request_object_signing_alg` (OIDC Registration §2, RFC 9101 §10.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_object_signing_alg: Option<Algorithm>,
    /// `client_secret` **in clear**: only for `client_secret_jwt`, whose HMAC needs the
    /// secret itself (see [`Client::client_secret_jwt`]). Other methods keep the secret
    /// as `secret_sha256` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// `subject_type` (OIDC Registration §2): `public` (the default) or `pairwise`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_type: Option<String>,
    /// `sector_identifier_uri` (OIDC Registration §2, Core §8.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sector_identifier_uri: Option<String>,
    /// `userinfo_signed_response_alg` (OIDC Registration §2, Core §5.3.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_signed_response_alg: Option<Algorithm>,
    /// `id_token_encrypted_response_alg` (OIDC Registration §2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_encrypted_response_alg: Option<crate::jose::jwe::JweAlgorithm>,
    /// `id_token_encrypted_response_enc` (required with `_alg`: A128CBC-HS256, the
    /// registration default, is not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_encrypted_response_enc: Option<crate::jose::jwe::JweEncryption>,
    /// `userinfo_encrypted_response_alg` (OIDC Registration §2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_encrypted_response_alg: Option<crate::jose::jwe::JweAlgorithm>,
    /// `userinfo_encrypted_response_enc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_encrypted_response_enc: Option<crate::jose::jwe::JweEncryption>,
    /// Set for a client registered through the registration endpoint (RFC 7591): its
    /// metadata as registered and the hash of its registration access token (RFC 7592).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic: Option<crate::registration::DynamicRegistration>,
}

impl Client {
    /// The stored form of this client.
    pub fn to_registration(&self) -> ClientRegistration {
        use base64::Engine;
        ClientRegistration {
            id: self.id.clone(),
            client_name: self.name.clone(),
            secret_sha256: self
                .secret
                .as_ref()
                .map(|h| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(h.as_bytes())),
            redirect_uris: self.redirect_uris.clone(),
            grant_types: self
                .grant_types
                .iter()
                .map(|g| g.as_str().to_owned())
                .chain(self.extension_grants.iter().cloned())
                .collect(),
            scopes: self.scopes.clone(),
            audience: self.audience.clone(),
            first_party: self.first_party,
            require_pkce: self.require_pkce,
            opaque_access_tokens: self.access_token_format == AccessTokenFormat::Opaque,
            allowed_origins: self.allowed_origins.clone(),
            signing_alg: self.signing_alg,
            access_token_ttl: self.access_token_ttl.map(|d| d.whole_seconds()),
            refresh_token_ttl: self.refresh_token_ttl.map(|d| d.whole_seconds()),
            refresh_token_absolute_ttl: self.refresh_token_absolute_ttl.map(|d| d.whole_seconds()),
            native: self.native,
            resource_server_for: self.resource_server_for.clone(),
            post_logout_redirect_uris: self.logout.post_logout_redirect_uris.clone(),
            backchannel_logout_uri: self.logout.backchannel_logout_uri.clone(),
            backchannel_logout_session_required: self.logout.backchannel_logout_session_required,
            frontchannel_logout_uri: self.logout.frontchannel_logout_uri.clone(),
            frontchannel_logout_session_required: self.logout.frontchannel_logout_session_required,
            guest_token_ttl: self.guest_token_ttl.map(|d| d.whole_seconds()),
            jwt_guest_tokens: self.guest_token_format == AccessTokenFormat::Jwt,
            require_pushed_authorization_requests: self.require_pushed_authorization_requests,
            authorization_details_types: self.authorization_details_types.clone(),
            dpop_bound_access_tokens: self.dpop_bound_access_tokens,
            token_endpoint_auth_method: self.jwt.method.map(|m| m.as_str().to_owned()),
            token_endpoint_auth_signing_alg: self.jwt.signing_alg.clone(),
            jwks: self
                .jwks()
                .and_then(|j| serde_json::from_slice(&j.to_json()).ok()),
            jwks_uri: self.jwks_uri().map(str::to_owned),
            request_object_signing_alg: self.jwt.request_object_signing_alg,
            client_secret: self
                .jwt
                .hmac_key
                .as_ref()
                .map(|k| String::from_utf8_lossy(&k.0).into_owned()),
            subject_type: (self.subject_type() != SubjectType::Public)
                .then(|| self.subject_type().as_str().to_owned()),
            sector_identifier_uri: self.sector_identifier_uri().map(str::to_owned),
            userinfo_signed_response_alg: self.userinfo_signed_response_alg(),
            id_token_encrypted_response_alg: self.encryption.id_token.map(|(a, _)| a),
            id_token_encrypted_response_enc: self.encryption.id_token.map(|(_, e)| e),
            userinfo_encrypted_response_alg: self.encryption.userinfo.map(|(a, _)| a),
            userinfo_encrypted_response_enc: self.encryption.userinfo.map(|(_, e)| e),
            dynamic: self.dynamic.as_deref().cloned(),
        }
    }
}

impl ClientRegistration {
    /// Validates the registration and returns the client (the same checks as
    /// [`ClientBuilder::build`]).
    pub fn into_client(self) -> Result<Client, ConfigError> {
        use base64::Engine;
        let bad = |reason: String| ConfigError::Client {
            client_id: self.id.clone(),
            reason,
        };
        let secret = match &self.secret_sha256 {
            None => None,
            Some(h) => {
                let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(h)
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or_else(|| bad("secret_sha256 is not a base64url SHA-256".into()))?;
                Some(SecretHash::from_bytes(bytes))
            }
        };
        let mut grants = Vec::new();
        let mut extensions = Vec::new();
        for g in &self.grant_types {
            match GrantType::from_name(g) {
                Some(g) => grants.push(g),
                None if is_absolute_uri(g) => extensions.push(g.clone()),
                None => return Err(bad(format!("unknown grant type {g:?}"))),
            }
        }
        let mut b = ClientBuilder::new(self.id.clone(), secret)
            .grant_types(grants)
            .scopes(self.scopes.clone())
            .audience(self.audience.clone())
            .first_party(self.first_party)
            .require_pkce(self.require_pkce)
            .native(self.native)
            .resource_server_for(self.resource_server_for.clone())
            .require_pushed_authorization_requests(self.require_pushed_authorization_requests)
            .authorization_details_types(self.authorization_details_types.clone())
            .access_token_format(if self.opaque_access_tokens {
                AccessTokenFormat::Opaque
            } else {
                AccessTokenFormat::Jwt
            });
        for uri in &self.redirect_uris {
            b = b.redirect_uri(uri.clone());
        }
        if let Some(name) = &self.client_name {
            b = b.name(name.clone());
        }
        for g in extensions {
            b = b.extension_grant(g);
        }
        for origin in &self.allowed_origins {
            b = b.allowed_origin(origin.clone());
        }
        if let Some(alg) = self.signing_alg {
            b = b.signing_alg(alg);
        }
        if let Some(s) = self.access_token_ttl {
            b = b.access_token_ttl(Duration::seconds(s));
        }
        if let Some(s) = self.refresh_token_ttl {
            b = b.refresh_token_ttl(Duration::seconds(s));
        }
        if let Some(s) = self.refresh_token_absolute_ttl {
            b = b.refresh_token_absolute_ttl(Duration::seconds(s));
        }
        if let Some(s) = self.guest_token_ttl {
            b = b.guest_token_ttl(Duration::seconds(s));
        }
        if self.dpop_bound_access_tokens {
            b = b.dpop_bound_access_tokens(true);
        }
        if self.jwt_guest_tokens {
            b = b.guest_token_format(AccessTokenFormat::Jwt);
        }
        for uri in &self.post_logout_redirect_uris {
            b = b.post_logout_redirect_uri(uri.clone());
        }
        if let Some(uri) = &self.backchannel_logout_uri {
            b = b.backchannel_logout_uri(uri.clone(), self.backchannel_logout_session_required);
        }
        if let Some(uri) = &self.frontchannel_logout_uri {
            b = b.frontchannel_logout_uri(uri.clone(), self.frontchannel_logout_session_required);
        }
        if let Some(m) = &self.token_endpoint_auth_method {
            let m = TokenEndpointAuthMethod::from_name(m)
                .ok_or_else(|| bad(format!("unknown token_endpoint_auth_method {m:?}")))?;
            b = b.token_endpoint_auth_method(m);
        }
        if let Some(secret) = &self.client_secret {
            b.client.jwt.hmac_key = Some(HmacKey(secret.as_bytes().to_vec()));
        }
        if let Some(alg) = &self.token_endpoint_auth_signing_alg {
            b = b.token_endpoint_auth_signing_alg(alg.clone());
        }
        if let Some(jwks) = &self.jwks {
            let doc = serde_json::to_vec(jwks).unwrap_or_default();
            let jwks = crate::Jwks::from_document(&doc)
                .map_err(|e| bad(format!("jwks is not a JWKS document: {e}")))?;
            b = b.jwks(jwks);
        }
        if let Some(uri) = &self.jwks_uri {
            b = b.jwks_uri(uri.clone());
        }
        if let Some(alg) = self.request_object_signing_alg {
            b = b.request_object_signing_alg(alg);
        }
        if let Some(t) = &self.subject_type {
            let t = SubjectType::from_name(t)
                .ok_or_else(|| bad(format!("unknown subject_type {t:?}")))?;
            b = b.subject_type(t);
        }
        if let Some(uri) = &self.sector_identifier_uri {
            b = b.sector_identifier_uri(uri.clone());
        }
        if let Some(alg) = self.userinfo_signed_response_alg {
            b = b.userinfo_signed_response_alg(alg);
        }
        for (prefix, alg, enc) in [
            (
                "id_token_encrypted_response",
                self.id_token_encrypted_response_alg,
                self.id_token_encrypted_response_enc,
            ),
            (
                "userinfo_encrypted_response",
                self.userinfo_encrypted_response_alg,
                self.userinfo_encrypted_response_enc,
            ),
        ] {
            let pair =
                super::encryption_pair(prefix, alg.map(|a| a.as_str()), enc.map(|e| e.as_str()))
                    .map_err(bad)?;
            if let Some((alg, enc)) = pair {
                b = if prefix.starts_with("id_token") {
                    b.id_token_encrypted_response(alg, enc)
                } else {
                    b.userinfo_encrypted_response(alg, enc)
                };
            }
        }
        b.client.dynamic = self.dynamic.map(std::sync::Arc::new);
        b.build()
    }
}

/// Decodes a stored registration (JSON) into a client, for backends.
pub fn client_from_json(id: &str, json: &[u8]) -> Result<Arc<Client>, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        kind: "client",
        id: id.to_owned(),
        reason,
    };
    let reg: ClientRegistration =
        serde_json::from_slice(json).map_err(|e| corrupt(e.to_string()))?;
    reg.into_client()
        .map(Arc::new)
        .map_err(|e| corrupt(e.to_string()))
}

/// The `client_id_issued_at` (Unix seconds) of an anonymous registration (dynamically
/// registered without an initial access token): what a [`ClientRegistry`] indexes for
/// [`unused_registrations`](crate::ClientRegistry::unused_registrations). `None` for every
/// other client.
///
/// [`ClientRegistry`]: crate::ClientRegistry
pub fn anonymous_issued_at(client: &Client) -> Option<i64> {
    client
        .dynamic
        .as_deref()
        .filter(|d| d.anonymous)
        .map(|d| d.issued_at)
}

/// Encodes a client for storage (JSON of its [`ClientRegistration`]).
pub fn client_to_json(client: &Client) -> Vec<u8> {
    serde_json::to_vec(&client.to_registration()).unwrap_or_default()
}
