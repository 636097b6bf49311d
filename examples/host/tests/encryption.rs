//! Encrypted ID tokens and userinfo (#17 item 6; OIDC Core §5.3.2, §16.14, Registration
//! §2) over HTTP against the example host: a client registers (RFC 7591) with its public
//! encryption key in `jwks` and `id_token_encrypted_response_alg` / `_enc`
//! (`RSA-OAEP-256` / `A256GCM`, and `ECDH-ES+A256KW` / `A128GCM`), runs the code flow, and
//! the ID token and the userinfo answer it gets are decrypted — and the nested JWTs
//! verified against the provider's JWKS — by a stock JOSE library nobody here wrote (npm
//! `jose`, `tests/js/decrypt.mjs`).

use std::time::Duration;

use base64::Engine;
use idpkit::{DecryptionKey, JweAlgorithm};
use idpkit_test_support::host as common;
use idpkit_test_support::js;

use common::{Host, browser, callback_params, http, login, param, pkce_pair};
use serde_json::{Value, json};

/// A PKCS#8 PEM file of `der`, for the JavaScript side.
fn pem_file(dir: &std::path::Path, der: &[u8]) -> std::path::PathBuf {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let body: Vec<String> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        body.join("\n")
    );
    let path = dir.join(format!("key-{}.pem", idpkit::crypto::random_token()));
    std::fs::write(&path, pem).expect("write pem");
    path
}

/// Decrypts `jwe` with npm jose (blocking, off the runtime): `{"header", "claims"}`.
async fn npm_decrypt(
    jwe: String,
    key: std::path::PathBuf,
    alg: &'static str,
    jwks: String,
) -> Value {
    let out = tokio::task::spawn_blocking(move || {
        js::run(
            "decrypt.mjs",
            &[&jwe, key.to_str().expect("path"), alg, &jwks],
            Duration::from_secs(60),
        )
    })
    .await
    .expect("node");
    serde_json::from_str(out.trim()).expect("decrypt.mjs prints JSON")
}

/// Registers a public client with `metadata` plus the defaults, runs the code flow with
/// PKCE and `openid`, and returns (client_id, token response).
async fn register_and_sign_in(host: &Host, metadata: Value) -> (String, Value) {
    let mut m = json!({
        "redirect_uris": [idpkit_example::DEMO_REDIRECT_URI],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "scope": "openid profile email"
    });
    for (k, v) in metadata.as_object().expect("object") {
        m[k] = v.clone();
    }
    let resp = http()
        .post(host.url("/register"))
        .json(&m)
        .send()
        .await
        .expect("register");
    let status = resp.status();
    let reg: Value = resp.json().await.expect("json");
    assert_eq!(status, 201, "{reg}");
    let client_id = reg["client_id"].as_str().expect("client_id").to_owned();
    let (verifier, challenge) = pkce_pair();
    let mut url = url::Url::parse(&host.url("/authorize")).expect("url");
    url.query_pairs_mut()
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", idpkit_example::DEMO_REDIRECT_URI)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid profile email")
        .append_pair("state", "jwe")
        .append_pair("nonce", "n-0S6_WzA2Mj")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let cb = login(&browser(), host, url.as_str(), "alice", "wonderland").await;
    let params = callback_params(&cb);
    let code = param(&params, "code").expect("code");
    let resp = http()
        .post(host.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", idpkit_example::DEMO_REDIRECT_URI),
            ("code_verifier", &verifier),
            ("client_id", &client_id),
        ])
        .send()
        .await
        .expect("token");
    let status = resp.status();
    let tokens: Value = resp.json().await.expect("json");
    assert_eq!(status, 200, "{tokens}");
    (client_id, tokens)
}

async fn userinfo(host: &Host, access_token: &str) -> (String, String) {
    let resp = http()
        .get(host.url("/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .expect("userinfo");
    assert_eq!(resp.status(), 200);
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (ct, resp.text().await.expect("body"))
}

/// A JWKS of `key`'s public half; `any_alg` drops its `alg` so that every algorithm of
/// its type may encrypt to it.
fn jwks_of(key: &DecryptionKey, any_alg: bool) -> Value {
    let mut jwk = serde_json::to_value(key.public_jwk()).expect("jwk");
    if any_alg {
        jwk.as_object_mut().expect("jwk").remove("alg");
    }
    json!({"keys": [jwk]})
}

#[tokio::test]
async fn encrypted_id_token_and_userinfo_decrypt_with_npm_jose_oidc_core_16_14() {
    let host = Host::start_with(|o| o.registration = "open".into()).await;
    let doc: Value = http()
        .get(host.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    assert_eq!(
        doc["id_token_encryption_alg_values_supported"],
        json!(["RSA-OAEP-256", "ECDH-ES", "ECDH-ES+A256KW"])
    );
    assert_eq!(
        doc["userinfo_encryption_enc_values_supported"],
        json!(["A128GCM", "A256GCM"])
    );
    let jwks_url = doc["jwks_uri"].as_str().expect("jwks_uri").to_owned();
    let keys_dir = tempfile::tempdir().expect("tmp");

    // RSA-OAEP-256 + A256GCM; userinfo signed, then encrypted.
    let (rsa, rsa_der) = DecryptionKey::generate(JweAlgorithm::RsaOaep256).expect("rsa");
    let rsa_pem = pem_file(keys_dir.path(), &rsa_der);
    let (client_id, tokens) = register_and_sign_in(
        &host,
        json!({
            "jwks": jwks_of(&rsa, false),
            "id_token_encrypted_response_alg": "RSA-OAEP-256",
            "id_token_encrypted_response_enc": "A256GCM",
            "userinfo_signed_response_alg": "ES256",
            "userinfo_encrypted_response_alg": "RSA-OAEP-256",
            "userinfo_encrypted_response_enc": "A256GCM"
        }),
    )
    .await;
    let id_token = tokens["id_token"].as_str().expect("id_token").to_owned();
    assert_eq!(
        id_token.split('.').count(),
        5,
        "a JWE, not a JWS: {id_token}"
    );
    let out = npm_decrypt(id_token, rsa_pem.clone(), "RSA-OAEP-256", jwks_url.clone()).await;
    assert_eq!(out["header"]["alg"], "RSA-OAEP-256");
    assert_eq!(out["header"]["enc"], "A256GCM");
    assert_eq!(
        out["header"]["cty"], "JWT",
        "nested: signed, then encrypted"
    );
    assert_eq!(out["header"]["kid"], rsa.kid(), "the recipient key's kid");
    assert_eq!(out["claims"]["iss"], host.base);
    assert_eq!(out["claims"]["aud"], client_id);
    assert_eq!(out["claims"]["nonce"], "n-0S6_WzA2Mj");
    assert!(out["claims"]["sub"].is_string());

    let access = tokens["access_token"].as_str().expect("access token");
    let (ct, body) = userinfo(&host, access).await;
    assert!(ct.starts_with("application/jwt"), "{ct}");
    let out = npm_decrypt(body, rsa_pem, "RSA-OAEP-256", jwks_url.clone()).await;
    assert_eq!(out["header"]["cty"], "JWT");
    assert_eq!(out["claims"]["email"], "alice@example.com");
    assert_eq!(out["claims"]["aud"], client_id);

    // ECDH-ES+A256KW + A128GCM; userinfo encrypted only: the JWE carries the claims JSON
    // (OIDC Core §5.3.2).
    let (ec, ec_der) = DecryptionKey::generate(JweAlgorithm::EcdhEsA256kw).expect("ec");
    let ec_pem = pem_file(keys_dir.path(), &ec_der);
    let (_, tokens) = register_and_sign_in(
        &host,
        json!({
            "jwks": jwks_of(&ec, true),
            "id_token_encrypted_response_alg": "ECDH-ES+A256KW",
            "id_token_encrypted_response_enc": "A128GCM",
            "userinfo_encrypted_response_alg": "ECDH-ES",
            "userinfo_encrypted_response_enc": "A128GCM"
        }),
    )
    .await;
    let id_token = tokens["id_token"].as_str().expect("id_token").to_owned();
    let out = npm_decrypt(id_token, ec_pem.clone(), "ECDH-ES+A256KW", jwks_url.clone()).await;
    assert_eq!(out["header"]["enc"], "A128GCM");
    assert_eq!(out["header"]["epk"]["crv"], "P-256");
    assert_eq!(out["claims"]["nonce"], "n-0S6_WzA2Mj");
    let (ct, body) = userinfo(&host, tokens["access_token"].as_str().expect("at")).await;
    assert!(ct.starts_with("application/jwt"), "{ct}");
    let out = npm_decrypt(body, ec_pem, "ECDH-ES", jwks_url).await;
    assert_eq!(out["header"]["alg"], "ECDH-ES");
    assert!(out["header"]["cty"].is_null(), "not nested");
    assert_eq!(out["claims"]["email"], "alice@example.com");
}

#[tokio::test]
async fn registering_encryption_without_a_usable_key_is_invalid_client_metadata() {
    let host = Host::start_with(|o| o.registration = "open".into()).await;
    let (sig_only, _) = DecryptionKey::generate(JweAlgorithm::EcdhEs).expect("ec");
    let mut jwk = serde_json::to_value(sig_only.public_jwk()).expect("jwk");
    jwk["use"] = "sig".into();
    jwk.as_object_mut().expect("jwk").remove("alg");
    let resp = http()
        .post(host.url("/register"))
        .json(&json!({
            "redirect_uris": [idpkit_example::DEMO_REDIRECT_URI],
            "token_endpoint_auth_method": "none",
            "jwks": {"keys": [jwk]},
            "id_token_encrypted_response_alg": "ECDH-ES",
            "id_token_encrypted_response_enc": "A128GCM"
        }))
        .send()
        .await
        .expect("register");
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error"], "invalid_client_metadata");
    assert!(
        v["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("id_token_encrypted_response_alg")),
        "{v}"
    );
}

/// The other direction: a JWE made by npm jose (an access token of the host, signed by
/// it, then encrypted by jose to a resource server's key) is decrypted by idpkit's
/// `Validator` with `decryption_key`, then verified against the host's JWKS.
#[tokio::test]
async fn a_validator_decrypts_an_access_token_encrypted_by_npm_jose_rfc7516() {
    let host = Host::start().await;
    let tokens = common::tokens_for_demo_client(&host, "openid api:read").await;
    let jws = tokens["access_token"].as_str().expect("at").to_owned();
    assert_eq!(
        jws.split('.').count(),
        3,
        "demo-client's access tokens are JWTs"
    );
    let (rs_key, _) = DecryptionKey::generate(JweAlgorithm::RsaOaep256).expect("rs key");
    let jwk = serde_json::to_string(rs_key.public_jwk()).expect("jwk");
    let jwe = tokio::task::spawn_blocking(move || {
        js::run(
            "encrypt.mjs",
            &[&jws, &jwk, "RSA-OAEP-256", "A256GCM", "JWT"],
            Duration::from_secs(60),
        )
    })
    .await
    .expect("node")
    .trim()
    .to_owned();
    assert_eq!(jwe.split('.').count(), 5);
    let http: std::sync::Arc<dyn idpkit::http::HttpClient> =
        std::sync::Arc::new(idpkit::http_client::ReqwestClient::new().expect("http"));
    let validator = idpkit::Validator::builder()
        .trust(
            idpkit::TrustedIssuer::new(host.base.clone(), "demo-api")
                .with_jwks_url(host.url("/jwks")),
        )
        .http_client(http.clone())
        .decryption_key(rs_key)
        .build()
        .expect("validator");
    let t = validator
        .validate(&jwe)
        .await
        .expect("decrypted and verified");
    assert_eq!(t.client_id.as_deref(), Some("demo-client"));
    // Without the key: refused, saying why.
    let plain = idpkit::Validator::builder()
        .trust(
            idpkit::TrustedIssuer::new(host.base.clone(), "demo-api")
                .with_jwks_url(host.url("/jwks")),
        )
        .http_client(http)
        .build()
        .expect("validator");
    let r = plain.validate(&jwe).await.expect_err("no key");
    assert!(matches!(r, idpkit::Rejection::Undecryptable { .. }), "{r}");
}
