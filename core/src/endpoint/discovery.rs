//! OpenID Connect Discovery 1.0 and RFC 8414 metadata: built once at `build()`, served as
//! bytes.

use std::sync::Arc;

use serde_json::json;

use crate::http_types::Response;
use crate::keys::Algorithm;
use crate::provider::{Config, Provider};

pub(crate) fn document(
    config: &Config,
    algorithms: &[Algorithm],
    grants: &[Arc<dyn crate::grant::Grant>],
) -> Arc<[u8]> {
    let url = |p: &str| format!("{}{}", config.issuer, p);
    let algs: Vec<&str> = algorithms.iter().map(|a| a.as_str()).collect();
    let doc = json!({
        "issuer": config.issuer,
        "authorization_endpoint": url(&config.paths.authorization),
        "token_endpoint": url(&config.paths.token),
        "userinfo_endpoint": url(&config.paths.userinfo),
        "jwks_uri": url(&config.paths.jwks),
        "revocation_endpoint": url(&config.paths.revocation),
        "introspection_endpoint": url(&config.paths.introspection),
        "scopes_supported": ["openid", "profile", "email", "address", "phone", "offline_access"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        // `password` is a per-client opt-in and not advertised.
        "grant_types_supported": grants
            .iter()
            .map(|g| g.grant_type())
            .filter(|g| *g != "password")
            .collect::<Vec<_>>(),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash",
            "name", "given_name", "family_name", "middle_name", "nickname", "preferred_username", "profile",
            "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at", "email",
            "email_verified", "address", "phone_number", "phone_number_verified"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
    });
    serde_json::to_vec(&doc).unwrap_or_default().into()
}

impl Provider {
    /// `GET /.well-known/openid-configuration` (and `/.well-known/oauth-authorization-server`):
    /// the metadata document, serialised once when the provider was built.
    pub fn discovery(&self) -> Response {
        Response::json(200, self.inner.discovery.clone())
            .header("Cache-Control", "public, max-age=300")
    }

    /// `GET` on the JWKS path: the published keys.
    pub async fn jwks(&self) -> Response {
        match self.inner.keys.jwks().await {
            Ok(jwks) => {
                Response::json(200, jwks.to_json()).header("Cache-Control", "public, max-age=300")
            }
            Err(e) => Response::from_error(&e.into()),
        }
    }
}
