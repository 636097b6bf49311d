//! Provider metadata: OpenID Connect Discovery 1.0 §3 and RFC 8414 §2, built once from the
//! configuration.

use std::sync::Arc;

use serde_json::json;

use crate::Algorithm;
use crate::config::Config;

/// The metadata document. `password` is a per-client opt-in and never advertised.
pub(crate) fn document(
    config: &Config,
    algorithms: &[Algorithm],
    grant_types: &[&str],
    backchannel: bool,
    decryption: &[crate::jose::jwe::EncryptionJwk],
) -> Arc<[u8]> {
    let url = |p: &str| format!("{}{}", config.issuer, p);
    let algs: Vec<&str> = algorithms.iter().map(|a| a.as_str()).collect();
    // Client assertions (RFC 7523): every asymmetric algorithm for private_key_jwt, HMAC
    // for client_secret_jwt; request objects (RFC 9101): asymmetric only. `none` never.
    let jwt = &config.client_jwt;
    let asymmetric: Vec<&str> = Algorithm::ALL
        .iter()
        .filter(|a| jwt.algorithms.contains(a))
        .map(|a| a.as_str())
        .collect();
    let hmac: &[crate::MacAlgorithm] = if jwt.client_secret_jwt {
        &crate::MacAlgorithm::ALL
    } else {
        &[]
    };
    let assertion_algs: Vec<&str> = asymmetric
        .iter()
        .copied()
        .chain(hmac.iter().map(|a| a.as_str()))
        .collect();
    let auth_methods: Vec<&str> = [
        "client_secret_basic",
        "client_secret_post",
        "client_secret_jwt",
        "private_key_jwt",
        "none",
    ]
    .into_iter()
    .filter(|m| *m != "client_secret_jwt" || jwt.client_secret_jwt)
    // FAPI 2.0 (§5.3.2.1): private_key_jwt is the only method the profile accepts.
    .filter(|m| config.profile != crate::profile::Profile::Fapi2 || *m == "private_key_jwt")
    .collect();
    let confidential_methods: Vec<&str> = auth_methods
        .iter()
        .copied()
        .filter(|m| *m != "none")
        .collect();
    let doc = json!({
        "issuer": config.issuer,
        "authorization_endpoint": url(&config.paths.authorization),
        "token_endpoint": url(&config.paths.token),
        "userinfo_endpoint": url(&config.paths.userinfo),
        "jwks_uri": url(&config.paths.jwks),
        "revocation_endpoint": url(&config.paths.revocation),
        "introspection_endpoint": url(&config.paths.introspection),
        "end_session_endpoint": url(&config.paths.end_session),
        "device_authorization_endpoint": url(&config.paths.device_authorization),
        "frontchannel_logout_supported": true,
        "frontchannel_logout_session_supported": true,
        "backchannel_logout_supported": backchannel,
        "backchannel_logout_session_supported": backchannel,
        "scopes_supported": ["openid", "profile", "email", "address", "phone", "offline_access"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        // `password` is a per-client opt-in and not advertised.
        "grant_types_supported": grant_types
            .iter()
            .filter(|g| **g != "password")
            .collect::<Vec<_>>(),
        // OIDC Core §8: pairwise only when the provider has a pairwise secret to derive it.
        "subject_types_supported": if config.pairwise_secret.is_some() {
            vec!["public", "pairwise"]
        } else {
            vec!["public"]
        },
        "id_token_signing_alg_values_supported": algs,
        // OIDC Core §5.3.2 / Discovery §3: what `userinfo_signed_response_alg` may name.
        "userinfo_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_signing_alg_values_supported": assertion_algs,
        // Introspection needs an authenticated (confidential) client: no `none`.
        "introspection_endpoint_auth_methods_supported": confidential_methods,
        "introspection_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "sid",
            "name", "given_name", "family_name", "middle_name", "nickname", "preferred_username", "profile",
            "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at", "email",
            "email_verified", "address", "phone_number", "phone_number_verified"],
        "claims_parameter_supported": true,
        // Signed request objects by value (RFC 9101 §5.1); `request_uri` by reference is
        // not fetched (only PAR's own `urn:ietf:params:oauth:request_uri:` values).
        "request_parameter_supported": true,
        "request_object_signing_alg_values_supported": asymmetric,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        // RFC 9126 §5.
        "pushed_authorization_request_endpoint": url(&config.paths.pushed_authorization_request),
        "require_pushed_authorization_requests": config.require_pushed_authorization_requests,
        // RFC 9449 §5.1.
        "dpop_signing_alg_values_supported": config
            .dpop
            .algorithms
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>(),
    });
    // RFC 8707 defines no metadata: resource indicators are not advertised. RFC 9396 §10:
    // the types the host listed (the client store cannot be enumerated to compute them).
    let mut doc = doc;
    if !config.authorization_details_types_supported.is_empty()
        && let Some(obj) = doc.as_object_mut()
    {
        obj.insert(
            "authorization_details_types_supported".into(),
            json!(config.authorization_details_types_supported),
        );
    }
    // draft-ietf-oauth-client-id-metadata-document §6: only when metadata documents are on.
    if config.client_id_metadata_documents.enabled
        && let Some(obj) = doc.as_object_mut()
    {
        obj.insert("client_id_metadata_document_supported".into(), json!(true));
    }
    // RFC 8414 §2, OIDC Discovery §3: only when registration is on.
    if config.registration.policy.is_on()
        && let Some(obj) = doc.as_object_mut()
    {
        obj.insert(
            "registration_endpoint".into(),
            json!(url(&config.paths.registration)),
        );
    }
    // OIDC Discovery §3: the JWE algorithms ID tokens and userinfo can be encrypted with
    // (`id_token_encrypted_response_alg` / `_enc` etc.); none with the ring backend.
    if crate::jose::jwe::SUPPORTED
        && let Some(obj) = doc.as_object_mut()
    {
        let algs: Vec<&str> = crate::jose::jwe::JweAlgorithm::ALL
            .iter()
            .map(|a| a.as_str())
            .collect();
        let encs: Vec<&str> = crate::jose::jwe::JweEncryption::ALL
            .iter()
            .map(|e| e.as_str())
            .collect();
        for what in ["id_token", "userinfo"] {
            obj.insert(
                format!("{what}_encryption_alg_values_supported"),
                json!(algs),
            );
            obj.insert(
                format!("{what}_encryption_enc_values_supported"),
                json!(encs),
            );
        }
        // RFC 9101 §9.1 / OIDC Discovery §3: request objects may be encrypted to the
        // provider's own keys: the algorithms some published encryption key takes.
        let request_algs: Vec<&str> = crate::jose::jwe::JweAlgorithm::ALL
            .iter()
            .filter(|a| decryption.iter().any(|k| k.supports(**a)))
            .map(|a| a.as_str())
            .collect();
        if !request_algs.is_empty() {
            obj.insert(
                "request_object_encryption_alg_values_supported".into(),
                json!(request_algs),
            );
            obj.insert(
                "request_object_encryption_enc_values_supported".into(),
                json!(encs),
            );
        }
    }
    serde_json::to_vec(&doc).unwrap_or_default().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config {
            issuer: "https://login.example".into(),
            code_ttl: time::Duration::seconds(60),
            access_token_ttl: time::Duration::hours(1),
            id_token_ttl: time::Duration::hours(1),
            refresh_token_ttl: time::Duration::days(14),
            refresh_token_absolute_ttl: time::Duration::days(30),
            interaction_ttl: time::Duration::minutes(10),
            session_ttl: time::Duration::days(14),
            session_idle_ttl: time::Duration::days(1),
            consent_ttl: time::Duration::days(365),
            device_code_ttl: time::Duration::minutes(10),
            device_poll_interval: time::Duration::seconds(5),
            guest_token_ttl: time::Duration::days(7),
            refresh_reuse_grace: None,
            signing_alg: Algorithm::RS256,
            max_body_bytes: 1024,
            paths: crate::config::Paths::default(),
            secure_cookies: true,
            rate_limits: crate::rate_limit::RateLimits::default(),
            profile: crate::profile::Profile::Default,
            logout_revokes: crate::config::LogoutRevokes::default(),
            logout_skip_confirmation_with_session_hint: false,
            pushed_authorization_request_ttl: time::Duration::seconds(60),
            require_pushed_authorization_requests: false,
            registration: Default::default(),
            resources: Vec::new(),
            authorization_details_types_supported: Vec::new(),
            dpop: crate::dpop::DpopRules::default(),
            dpop_required: false,
            client_jwt: crate::config::ClientJwtConfig::default(),
            pairwise_secret: None,
            client_id_metadata_documents: Default::default(),
            dangerous_allow_loopback_fetch: false,
        }
    }

    #[test]
    fn client_id_metadata_document_support_is_advertised_only_when_on_cimd_6() {
        let mut c = config();
        let d: serde_json::Value =
            serde_json::from_slice(&document(&c, &[Algorithm::ES256], &[], false, &[]))
                .expect("json");
        assert!(d.get("client_id_metadata_document_supported").is_none());
        c.client_id_metadata_documents.enabled = true;
        let d: serde_json::Value =
            serde_json::from_slice(&document(&c, &[Algorithm::ES256], &[], false, &[]))
                .expect("json");
        assert_eq!(
            d["client_id_metadata_document_supported"],
            serde_json::json!(true)
        );
    }

    #[test]
    fn pairwise_and_userinfo_signing_are_advertised_oidc_discovery_3() {
        let d = doc(&[]);
        assert_eq!(d["subject_types_supported"], serde_json::json!(["public"]));
        assert_eq!(
            d["userinfo_signing_alg_values_supported"],
            serde_json::json!(["RS256", "ES256"])
        );
        let mut c = config();
        c.pairwise_secret = Some(crate::pairwise::PairwiseSecret::new(vec![1; 32]));
        let d: serde_json::Value =
            serde_json::from_slice(&document(&c, &[Algorithm::ES256], &[], false, &[]))
                .expect("json");
        assert_eq!(
            d["subject_types_supported"],
            serde_json::json!(["public", "pairwise"])
        );
    }

    #[test]
    fn encryption_algorithms_are_advertised_with_aws_lc_rs_only_oidc_discovery_3() {
        let d = doc(&[]);
        for what in ["id_token", "userinfo"] {
            let algs = &d[format!("{what}_encryption_alg_values_supported")];
            let encs = &d[format!("{what}_encryption_enc_values_supported")];
            if crate::jose::jwe::SUPPORTED {
                assert_eq!(
                    *algs,
                    serde_json::json!(["RSA-OAEP-256", "ECDH-ES", "ECDH-ES+A256KW"])
                );
                assert_eq!(*encs, serde_json::json!(["A128GCM", "A256GCM"]));
            } else {
                assert!(algs.is_null() && encs.is_null(), "ring: no JWE");
            }
        }
    }

    fn doc(grants: &[&str]) -> serde_json::Value {
        let bytes = document(
            &config(),
            &[Algorithm::RS256, Algorithm::ES256],
            grants,
            false,
            &[],
        );
        serde_json::from_slice(&bytes).expect("json")
    }

    #[test]
    fn dpop_algorithms_are_advertised_rfc9449_5_1() {
        assert_eq!(
            doc(&[])["dpop_signing_alg_values_supported"],
            serde_json::json!(["ES256", "PS256", "EdDSA", "RS256"])
        );
    }

    #[test]
    fn endpoints_are_absolute_urls_under_the_issuer_oidc_discovery_3() {
        let d = doc(&["authorization_code"]);
        assert_eq!(d["issuer"], "https://login.example");
        assert_eq!(
            d["authorization_endpoint"],
            "https://login.example/authorize"
        );
        assert_eq!(d["token_endpoint"], "https://login.example/token");
        assert_eq!(d["jwks_uri"], "https://login.example/jwks");
        assert_eq!(d["revocation_endpoint"], "https://login.example/revoke");
        assert_eq!(
            d["introspection_endpoint"],
            "https://login.example/introspect"
        );
    }

    #[test]
    fn jwt_client_authentication_is_advertised_without_none_algorithms_rfc8414_2() {
        let d = doc(&[]);
        assert_eq!(
            d["token_endpoint_auth_methods_supported"],
            serde_json::json!([
                "client_secret_basic",
                "client_secret_post",
                "client_secret_jwt",
                "private_key_jwt",
                "none"
            ])
        );
        assert_eq!(
            d["introspection_endpoint_auth_methods_supported"],
            serde_json::json!([
                "client_secret_basic",
                "client_secret_post",
                "client_secret_jwt",
                "private_key_jwt"
            ])
        );
        let algs = d["token_endpoint_auth_signing_alg_values_supported"]
            .as_array()
            .expect("algs");
        assert!(algs.contains(&"PS256".into()) && algs.contains(&"HS256".into()));
        assert!(
            !algs.contains(&"none".into()),
            "RFC 8414 §2: none is not allowed"
        );
    }

    #[test]
    fn restricted_client_jwt_algorithms_are_advertised_truthfully_rfc8414_2() {
        let mut c = config();
        c.client_jwt.algorithms = vec![Algorithm::PS256, Algorithm::ES256, Algorithm::EdDSA];
        c.client_jwt.client_secret_jwt = false;
        let d: serde_json::Value =
            serde_json::from_slice(&document(&c, &[Algorithm::ES256], &[], false, &[]))
                .expect("json");
        assert_eq!(
            d["token_endpoint_auth_signing_alg_values_supported"],
            serde_json::json!(["PS256", "ES256", "EdDSA"])
        );
        assert_eq!(
            d["request_object_signing_alg_values_supported"],
            serde_json::json!(["PS256", "ES256", "EdDSA"])
        );
        assert!(
            !d["token_endpoint_auth_methods_supported"]
                .as_array()
                .expect("methods")
                .contains(&"client_secret_jwt".into())
        );
    }

    #[test]
    fn advertised_grants_never_include_password_rfc9700_2_4() {
        let d = doc(&["authorization_code", "password", "urn:x:grant"]);
        assert_eq!(
            d["grant_types_supported"],
            serde_json::json!(["authorization_code", "urn:x:grant"])
        );
    }

    #[test]
    fn only_s256_and_the_signing_algorithms_are_advertised_rfc8414_2() {
        let d = doc(&[]);
        assert_eq!(
            d["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        assert_eq!(
            d["id_token_signing_alg_values_supported"],
            serde_json::json!(["RS256", "ES256"])
        );
        assert_eq!(d["authorization_response_iss_parameter_supported"], true);
        assert_eq!(d["request_parameter_supported"], true);
        assert_eq!(d["request_uri_parameter_supported"], false);
        assert_eq!(
            d["request_object_signing_alg_values_supported"],
            serde_json::json!(["RS256", "PS256", "ES256", "EdDSA"])
        );
    }

    #[test]
    fn par_endpoint_and_requirement_are_advertised_rfc9126_5() {
        let d = doc(&[]);
        assert_eq!(
            d["pushed_authorization_request_endpoint"],
            "https://login.example/par"
        );
        assert_eq!(d["require_pushed_authorization_requests"], false);
        let mut c = config();
        c.require_pushed_authorization_requests = true;
        let d: serde_json::Value =
            serde_json::from_slice(&document(&c, &[Algorithm::ES256], &[], false, &[]))
                .expect("json");
        assert_eq!(d["require_pushed_authorization_requests"], true);
    }

    #[test]
    fn authorization_details_types_are_advertised_only_when_listed_rfc9396_10() {
        assert!(
            doc(&[])
                .get("authorization_details_types_supported")
                .is_none()
        );
        let mut c = config();
        c.authorization_details_types_supported = vec!["payment_initiation".into()];
        let d: serde_json::Value =
            serde_json::from_slice(&document(&c, &[Algorithm::ES256], &[], false, &[]))
                .expect("json");
        assert_eq!(
            d["authorization_details_types_supported"],
            serde_json::json!(["payment_initiation"])
        );
    }
}
