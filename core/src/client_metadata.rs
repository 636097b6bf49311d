//! Client metadata on the wire (RFC 7591 §2, OpenID Connect Dynamic Client Registration
//! 1.0 §2): what a registration request sends and its response returns, and the rules that
//! turn it into a [`ClientRegistration`] validated by the same checks as
//! [`ClientBuilder::build`](crate::ClientBuilder::build). Refusals name the member:
//! `invalid_redirect_uri` for a `redirect_uris` value, `invalid_client_metadata` for
//! anything else (RFC 7591 §3.2.2).

use serde::{Deserialize, Serialize};

use crate::client::{ClientRegistration, GrantType, TokenEndpointAuthMethod};
use crate::error::{ErrorCode, OAuthError};

/// Client metadata with the RFC 7591 §2 / OIDC Registration §2 member names. Unknown
/// members are kept in [`extra`](Self::extra) for a
/// [`RegistrationHook`](crate::RegistrationHook) to read; they are neither stored nor
/// echoed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientMetadata {
    /// `redirect_uris`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirect_uris: Vec<String>,
    /// `token_endpoint_auth_method` (default `client_secret_basic`, RFC 7591 §2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
    /// `grant_types` (default `["authorization_code"]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_types: Option<Vec<String>>,
    /// `response_types` (default `["code"]`; `code` is the only one idpkit serves).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_types: Option<Vec<String>>,
    /// `scope`: space-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// `client_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// `client_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    /// `logo_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    /// `contacts`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<String>,
    /// `tos_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    /// `policy_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    /// `jwks_uri` (exclusive with `jwks`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// `jwks`: a JWKS document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    /// `software_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_id: Option<String>,
    /// `software_version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
    /// `software_statement` (RFC 7591 §2.3): verified by the registration endpoint against
    /// the trusted issuers ([`crate::software_statement`]), whose claims then take
    /// precedence; metadata that still carries an unverified one is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_statement: Option<String>,
    /// `application_type` (OIDC Registration §2): `web` (default) or `native`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_type: Option<String>,
    /// `token_endpoint_auth_signing_alg`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg: Option<String>,
    /// `request_object_signing_alg`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_object_signing_alg: Option<String>,
    /// `post_logout_redirect_uris`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_logout_redirect_uris: Vec<String>,
    /// `backchannel_logout_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// `backchannel_logout_session_required`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_session_required: Option<bool>,
    /// `dpop_bound_access_tokens` (RFC 9449 §5.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_bound_access_tokens: Option<bool>,
    /// `subject_type` (OIDC Registration §2): `public` or `pairwise`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_type: Option<String>,
    /// `sector_identifier_uri` (OIDC Registration §2, Core §8.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sector_identifier_uri: Option<String>,
    /// `userinfo_signed_response_alg` (OIDC Registration §2, Core §5.3.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_signed_response_alg: Option<String>,
    /// `id_token_encrypted_response_alg` (OIDC Registration §2): RSA-OAEP-256, ECDH-ES or
    /// ECDH-ES+A256KW, to a key in `jwks` / `jwks_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_encrypted_response_alg: Option<String>,
    /// `id_token_encrypted_response_enc`: A128GCM or A256GCM, required with `_alg`
    /// (the registration default A128CBC-HS256 is not implemented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_encrypted_response_enc: Option<String>,
    /// `userinfo_encrypted_response_alg` (OIDC Registration §2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_encrypted_response_alg: Option<String>,
    /// `userinfo_encrypted_response_enc`, required with `_alg`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_encrypted_response_enc: Option<String>,
    /// `require_pushed_authorization_requests` (RFC 9126 §6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_pushed_authorization_requests: Option<bool>,
    /// `authorization_details_types` (RFC 9396 §10).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_details_types: Vec<String>,
    /// Members idpkit does not know (RFC 7591 §2: ignored), for the host's hook.
    #[serde(flatten, skip_serializing)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// The grant types a dynamically registered client may ask for. The password grant, token
/// exchange, guest tokens and extension grants are the host's to give (in code), never
/// self-service.
const REGISTRABLE_GRANTS: [GrantType; 4] = [
    GrantType::AuthorizationCode,
    GrantType::RefreshToken,
    GrantType::ClientCredentials,
    GrantType::DeviceCode,
];

fn bad(member: &str, reason: impl std::fmt::Display) -> OAuthError {
    OAuthError::new(
        ErrorCode::InvalidClientMetadata,
        format!("{member}: {reason}"),
    )
}

impl ClientMetadata {
    /// Parses a registration request body: a JSON object (RFC 7591 §3.1). Anything else
    /// is `invalid_client_metadata`.
    pub fn from_json(body: &[u8]) -> Result<Self, OAuthError> {
        let value: serde_json::Value = serde_json::from_slice(body).map_err(|_| {
            OAuthError::new(
                ErrorCode::InvalidClientMetadata,
                "the body must be a JSON object (RFC 7591 §3.1)",
            )
        })?;
        if !value.is_object() {
            return Err(OAuthError::new(
                ErrorCode::InvalidClientMetadata,
                "the body must be a JSON object (RFC 7591 §3.1)",
            ));
        }
        serde_json::from_value(value).map_err(|e| {
            OAuthError::new(
                ErrorCode::InvalidClientMetadata,
                format!("a member has the wrong type: {e}"),
            )
        })
    }

    /// The metadata with RFC 7591 §2's defaults filled in (`token_endpoint_auth_method`
    /// `client_secret_basic`, `grant_types` `authorization_code`, `response_types` `code`,
    /// `scope` the given default, `application_type` `web`), unknown members dropped: what
    /// is stored and answered.
    pub fn normalized(mut self, default_scope: &str) -> Self {
        self.token_endpoint_auth_method
            .get_or_insert_with(|| "client_secret_basic".into());
        self.grant_types
            .get_or_insert_with(|| vec!["authorization_code".into()]);
        self.response_types
            .get_or_insert_with(|| vec!["code".into()]);
        if self.scope.is_none() {
            self.scope = Some(default_scope.to_owned());
        }
        self.application_type.get_or_insert_with(|| "web".into());
        self.extra.clear();
        self
    }

    /// The authentication method named (default `client_secret_basic`), or
    /// `invalid_client_metadata` for an unknown one.
    pub fn auth_method(&self) -> Result<TokenEndpointAuthMethod, OAuthError> {
        let name = self
            .token_endpoint_auth_method
            .as_deref()
            .unwrap_or("client_secret_basic");
        TokenEndpointAuthMethod::from_name(name).ok_or_else(|| {
            bad(
                "token_endpoint_auth_method",
                format!("unknown method {name:?}"),
            )
        })
    }

    /// The rules of RFC 7591 §2 and §3.2.2 that [`ClientBuilder::build`] does not know
    /// (normalized metadata: see [`normalized`](Self::normalized)), then the stored form
    /// of the client `client_id`, whose secret is `secret` (generated by the caller for
    /// the secret methods), and the builder's own checks.
    ///
    /// [`ClientBuilder::build`]: crate::ClientBuilder::build
    pub fn to_registration(
        &self,
        client_id: &str,
        secret: Option<&str>,
        allowed_scopes: &[String],
    ) -> Result<ClientRegistration, OAuthError> {
        let method = self.auth_method()?;
        let hashed = matches!(
            method,
            TokenEndpointAuthMethod::ClientSecretBasic | TokenEndpointAuthMethod::ClientSecretPost
        );
        let secret_sha256 = secret
            .filter(|_| hashed)
            .map(|s| crate::crypto::sha256_b64(s.as_bytes()));
        let clear = secret
            .filter(|_| method == TokenEndpointAuthMethod::ClientSecretJwt)
            .map(str::to_owned);
        self.registration_with(client_id, secret_sha256, clear, allowed_scopes)
    }

    /// [`to_registration`](Self::to_registration) with the secret in its stored form
    /// (an RFC 7592 update keeping the client's secret).
    pub(crate) fn registration_with(
        &self,
        client_id: &str,
        secret_sha256: Option<String>,
        client_secret: Option<String>,
        allowed_scopes: &[String],
    ) -> Result<ClientRegistration, OAuthError> {
        if self.software_statement.is_some() {
            return Err(OAuthError::new(
                ErrorCode::InvalidSoftwareStatement,
                "software_statement: not verified by this server",
            ));
        }
        for uri in &self.redirect_uris {
            crate::redirect_uri::check_registrable(uri)
                .map_err(|e| OAuthError::new(ErrorCode::InvalidRedirectUri, e))?;
        }
        let method = self.auth_method()?;
        let grant_names = self.grant_types.clone().unwrap_or_default();
        let mut grants = Vec::new();
        for g in &grant_names {
            match GrantType::from_name(g) {
                Some(g) if REGISTRABLE_GRANTS.contains(&g) => grants.push(g),
                _ => {
                    return Err(bad(
                        "grant_types",
                        format!("{g:?} cannot be registered dynamically"),
                    ));
                }
            }
        }
        // RFC 7591 §2.1: `code` goes with `authorization_code`, and back.
        let response_types = self.response_types.clone().unwrap_or_default();
        if let Some(r) = response_types.iter().find(|r| *r != "code") {
            return Err(bad(
                "response_types",
                format!("{r:?} is not served (only code)"),
            ));
        }
        let code = response_types.iter().any(|r| r == "code");
        if code != grants.contains(&GrantType::AuthorizationCode) {
            return Err(bad(
                "response_types",
                "code and the authorization_code grant go together (RFC 7591 §2.1)",
            ));
        }
        if grants.contains(&GrantType::AuthorizationCode) && self.redirect_uris.is_empty() {
            return Err(OAuthError::new(
                ErrorCode::InvalidRedirectUri,
                "redirect_uris: the authorization_code grant needs at least one",
            ));
        }
        let scopes: Vec<String> = self
            .scope
            .as_deref()
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if let Some(s) = scopes.iter().find(|s| !allowed_scopes.contains(s)) {
            return Err(bad(
                "scope",
                format!("{s:?} is not offered to registered clients"),
            ));
        }
        let native = match self.application_type.as_deref() {
            None | Some("web") => false,
            Some("native") => true,
            Some(other) => return Err(bad("application_type", format!("unknown {other:?}"))),
        };
        let request_object_signing_alg = match &self.request_object_signing_alg {
            None => None,
            Some(name) => Some(crate::Algorithm::from_name(name).ok_or_else(|| {
                bad(
                    "request_object_signing_alg",
                    format!("unsupported {name:?}"),
                )
            })?),
        };
        let userinfo_signed_response_alg = match &self.userinfo_signed_response_alg {
            None => None,
            Some(name) => Some(crate::Algorithm::from_name(name).ok_or_else(|| {
                bad(
                    "userinfo_signed_response_alg",
                    format!("unsupported {name:?}"),
                )
            })?),
        };
        let invalid = |reason: String| OAuthError::new(ErrorCode::InvalidClientMetadata, reason);
        let id_token_encryption = crate::client::encryption_pair(
            "id_token_encrypted_response",
            self.id_token_encrypted_response_alg.as_deref(),
            self.id_token_encrypted_response_enc.as_deref(),
        )
        .map_err(invalid)?;
        let userinfo_encryption = crate::client::encryption_pair(
            "userinfo_encrypted_response",
            self.userinfo_encrypted_response_alg.as_deref(),
            self.userinfo_encrypted_response_enc.as_deref(),
        )
        .map_err(invalid)?;
        let reg = ClientRegistration {
            id: client_id.to_owned(),
            client_name: self.client_name.clone(),
            secret_sha256,
            redirect_uris: self.redirect_uris.clone(),
            grant_types: grant_names,
            scopes,
            audience: Vec::new(),
            first_party: false,
            require_pkce: true,
            opaque_access_tokens: false,
            allowed_origins: Vec::new(),
            signing_alg: None,
            access_token_ttl: None,
            refresh_token_ttl: None,
            refresh_token_absolute_ttl: None,
            native,
            resource_server_for: Vec::new(),
            post_logout_redirect_uris: self.post_logout_redirect_uris.clone(),
            backchannel_logout_uri: self.backchannel_logout_uri.clone(),
            backchannel_logout_session_required: self
                .backchannel_logout_session_required
                .unwrap_or(false),
            frontchannel_logout_uri: None,
            frontchannel_logout_session_required: false,
            guest_token_ttl: None,
            jwt_guest_tokens: false,
            require_pushed_authorization_requests: self
                .require_pushed_authorization_requests
                .unwrap_or(false),
            authorization_details_types: self.authorization_details_types.clone(),
            dpop_bound_access_tokens: self.dpop_bound_access_tokens.unwrap_or(false),
            token_endpoint_auth_method: Some(method.as_str().to_owned()),
            token_endpoint_auth_signing_alg: self.token_endpoint_auth_signing_alg.clone(),
            jwks: self.jwks.clone(),
            jwks_uri: self.jwks_uri.clone(),
            request_object_signing_alg,
            client_secret,
            dynamic: None,
            subject_type: self.subject_type.clone(),
            sector_identifier_uri: self.sector_identifier_uri.clone(),
            userinfo_signed_response_alg,
            id_token_encrypted_response_alg: id_token_encryption.map(|(a, _)| a),
            id_token_encrypted_response_enc: id_token_encryption.map(|(_, e)| e),
            userinfo_encrypted_response_alg: userinfo_encryption.map(|(a, _)| a),
            userinfo_encrypted_response_enc: userinfo_encryption.map(|(_, e)| e),
        };
        // The builder's checks (auth method vs keys, `jwks` and `jwks_uri` both, logout
        // URIs, ...): the same rules as every other client, named in the description.
        reg.clone().into_client().map_err(|e| match e {
            crate::ConfigError::Client { reason, .. } => {
                OAuthError::new(ErrorCode::InvalidClientMetadata, reason)
            }
            other => OAuthError::new(ErrorCode::InvalidClientMetadata, other.to_string()),
        })?;
        Ok(reg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes() -> Vec<String> {
        vec!["openid".into(), "profile".into()]
    }

    fn meta(json: serde_json::Value) -> ClientMetadata {
        ClientMetadata::from_json(json.to_string().as_bytes())
            .expect("parses")
            .normalized("openid")
    }

    fn code(json: serde_json::Value) -> ErrorCode {
        meta(json)
            .to_registration("c1", Some("s"), &scopes())
            .expect_err("refused")
            .code
    }

    #[test]
    fn defaults_are_those_of_rfc7591_2() {
        let m = meta(serde_json::json!({"redirect_uris": ["https://rp.example/cb"]}));
        assert_eq!(
            m.token_endpoint_auth_method.as_deref(),
            Some("client_secret_basic")
        );
        let reg = m
            .to_registration("c1", Some("s"), &scopes())
            .expect("valid");
        assert!(reg.secret_sha256.is_some());
        assert_eq!(reg.grant_types, ["authorization_code"]);
    }

    #[test]
    fn http_redirect_off_loopback_is_invalid_redirect_uri_rfc7591_3_2_2() {
        let c = code(serde_json::json!({"redirect_uris": ["http://rp.example/cb"]}));
        assert_eq!(c, ErrorCode::InvalidRedirectUri);
        let c = code(serde_json::json!({"redirect_uris": ["https://rp.example/cb#x"]}));
        assert_eq!(c, ErrorCode::InvalidRedirectUri);
    }

    #[test]
    fn response_and_grant_types_must_agree_rfc7591_2_1() {
        let c = code(serde_json::json!({
            "redirect_uris": ["https://rp.example/cb"],
            "grant_types": ["client_credentials"], "response_types": ["code"]}));
        assert_eq!(c, ErrorCode::InvalidClientMetadata);
        let c = code(serde_json::json!({
            "redirect_uris": ["https://rp.example/cb"], "response_types": ["token"]}));
        assert_eq!(c, ErrorCode::InvalidClientMetadata);
    }

    #[test]
    fn privileged_grants_are_not_self_service_rfc7591_2() {
        let c = code(serde_json::json!({
            "redirect_uris": ["https://rp.example/cb"],
            "grant_types": ["authorization_code", "password"]}));
        assert_eq!(c, ErrorCode::InvalidClientMetadata);
    }

    #[test]
    fn scope_outside_the_offer_is_refused_rfc7591_2() {
        let c = code(serde_json::json!({
            "redirect_uris": ["https://rp.example/cb"], "scope": "openid admin"}));
        assert_eq!(c, ErrorCode::InvalidClientMetadata);
    }

    #[test]
    fn a_software_statement_is_refused_rfc7591_3_2_2() {
        let c = code(serde_json::json!({
            "redirect_uris": ["https://rp.example/cb"], "software_statement": "e30.e30.x"}));
        assert_eq!(c, ErrorCode::InvalidSoftwareStatement);
    }

    fn enc_jwks(key_use: &str) -> serde_json::Value {
        use base64::Engine;
        let b = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "use": key_use, "kid": "e1",
            "x": b(&[1; 32]), "y": b(&[2; 32])}]})
    }

    #[test]
    fn response_encryption_needs_a_usable_key_and_an_enc_oidc_registration_2() {
        let base = |extra: serde_json::Value| {
            let mut m = serde_json::json!({"redirect_uris": ["https://rp.example/cb"]});
            for (k, v) in extra.as_object().expect("object") {
                m[k] = v.clone();
            }
            meta(m).to_registration("c1", Some("s"), &scopes())
        };
        let refused = |extra: serde_json::Value, needle: &str| {
            let e = base(extra).expect_err("refused");
            assert_eq!(e.code, ErrorCode::InvalidClientMetadata);
            // With ring, every encryption request is refused for the backend first.
            let ring = !crate::jose::jwe::SUPPORTED && e.description.contains("aws-lc-rs");
            assert!(e.description.contains(needle) || ring, "{}", e.description);
        };
        // No keys at all; only a signature key; an EC key for RSA-OAEP-256.
        refused(
            serde_json::json!({"id_token_encrypted_response_alg": "ECDH-ES", "id_token_encrypted_response_enc": "A128GCM"}),
            "jwks or jwks_uri",
        );
        refused(
            serde_json::json!({"jwks": enc_jwks("sig"), "id_token_encrypted_response_alg": "ECDH-ES", "id_token_encrypted_response_enc": "A128GCM"}),
            "no usable encryption key",
        );
        refused(
            serde_json::json!({"jwks": enc_jwks("enc"), "userinfo_encrypted_response_alg": "RSA-OAEP-256", "userinfo_encrypted_response_enc": "A128GCM"}),
            "no usable encryption key",
        );
        // enc is required (its default A128CBC-HS256 is not implemented); enc needs alg.
        refused(
            serde_json::json!({"jwks": enc_jwks("enc"), "id_token_encrypted_response_alg": "ECDH-ES"}),
            "id_token_encrypted_response_enc is required",
        );
        refused(
            serde_json::json!({"jwks": enc_jwks("enc"), "id_token_encrypted_response_enc": "A128GCM"}),
            "needs id_token_encrypted_response_alg",
        );
        for (alg, enc) in [
            ("RSA1_5", "A128GCM"),
            ("dir", "A128GCM"),
            ("ECDH-ES", "A128CBC-HS256"),
        ] {
            refused(
                serde_json::json!({"jwks": enc_jwks("enc"), "id_token_encrypted_response_alg": alg, "id_token_encrypted_response_enc": enc}),
                "not supported",
            );
        }
        let ok = base(serde_json::json!({"jwks": enc_jwks("enc"),
            "id_token_encrypted_response_alg": "ECDH-ES+A256KW", "id_token_encrypted_response_enc": "A256GCM",
            "userinfo_encrypted_response_alg": "ECDH-ES", "userinfo_encrypted_response_enc": "A128GCM"}));
        if !crate::jose::jwe::SUPPORTED {
            let e = ok.expect_err("ring");
            assert!(e.description.contains("aws-lc-rs"), "{}", e.description);
            return;
        }
        let reg = ok.expect("valid");
        // The stored form keeps the metadata and the encryption key.
        let client = reg.clone().into_client().expect("client");
        assert_eq!(
            client.id_token_encrypted_response(),
            Some((
                crate::jose::jwe::JweAlgorithm::EcdhEsA256kw,
                crate::jose::jwe::JweEncryption::A256GCM
            ))
        );
        let again = client.to_registration().into_client().expect("round trip");
        assert_eq!(
            again.userinfo_encrypted_response(),
            client.userinfo_encrypted_response()
        );
        assert_eq!(again.jwks().map(|j| j.encryption_keys().len()), Some(1));
    }

    #[test]
    fn non_object_body_is_invalid_client_metadata_rfc7591_3_1() {
        for body in [&b"[1]"[..], b"not json", b"{\"redirect_uris\": \"x\"}"] {
            let e = ClientMetadata::from_json(body).expect_err("refused");
            assert_eq!(e.code, ErrorCode::InvalidClientMetadata);
        }
    }
}
