//! Client authentication with JWTs and request objects over HTTP against the example host
//! (#16 items 1 and 3): a `private_key_jwt` client from a `--clients` file (`jwks` by value)
//! gets client_credentials tokens, runs an authorization-code flow whose request is a
//! signed request object (RFC 9101), and a replayed assertion is refused.

use idpkit_test_support::host as common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Host, browser, callback_params, http, login, param, pkce_pair, sign_jws};
use idpkit::{Algorithm, Clock, SigningKey};
use idpkit_example::DEMO_REDIRECT_URI;
use serde_json::{Value, json};

const CLIENT: &str = "jwt-rp";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The host with `jwt-rp` registered in a `--clients` file under the RFC 7591 names.
async fn host_with_jwt_client(key: &SigningKey) -> (Host, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("clients.json");
    let jwks = json!({"keys": [key.public_jwk()]});
    let clients = json!([{
        "client_id": CLIENT,
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": "ES256",
        "request_object_signing_alg": "ES256",
        "jwks": jwks,
        "redirect_uris": [DEMO_REDIRECT_URI],
        "grant_types": ["authorization_code", "client_credentials"],
        "scope": "openid api:read",
        "audience": ["demo-api"]
    }]);
    std::fs::write(&path, clients.to_string()).expect("write clients");
    let host = Host::start_with(|o| o.clients = Some(path)).await;
    (host, dir)
}

fn assertion(host: &Host, key: &SigningKey) -> String {
    let now = host.clock.now().unix_timestamp();
    sign_jws(
        key,
        &json!({"iss": CLIENT, "sub": CLIENT, "aud": host.base, "iat": now, "exp": now + 60,
            "jti": idpkit::crypto::random_token()}),
    )
}

async fn token(host: &Host, form: &[(&str, &str)]) -> (u16, Value) {
    let resp = http()
        .post(host.url("/token"))
        .form(form)
        .send()
        .await
        .expect("token request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn private_key_jwt_client_credentials_and_a_replayed_assertion_refused() {
    let key = SigningKey::generate(Algorithm::ES256).expect("key").0;
    let (host, _dir) = host_with_jwt_client(&key).await;
    let jwt = assertion(&host, &key);
    let form = [
        ("grant_type", "client_credentials"),
        ("scope", "api:read"),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", jwt.as_str()),
    ];
    let (status, body) = token(&host, &form).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["access_token"].is_string());
    let (status, body) = token(&host, &form).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("used before"),
        "{body}"
    );
    // A secret is not this client's method.
    let resp = http()
        .post(host.url("/token"))
        .basic_auth(CLIENT, Some("guess"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token request");
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn discovery_advertises_jwt_client_authentication_and_request_objects() {
    let key = SigningKey::generate(Algorithm::ES256).expect("key").0;
    let (host, _dir) = host_with_jwt_client(&key).await;
    let doc: Value = http()
        .get(host.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    let methods = doc["token_endpoint_auth_methods_supported"]
        .as_array()
        .expect("methods");
    assert!(methods.contains(&json!("private_key_jwt")), "{doc}");
    assert_eq!(doc["request_parameter_supported"], true);
    assert_eq!(doc["request_uri_parameter_supported"], false);
}

#[tokio::test]
async fn an_authorization_code_flow_with_a_signed_request_object() {
    let key = SigningKey::generate(Algorithm::ES256).expect("key").0;
    let (host, _dir) = host_with_jwt_client(&key).await;
    let (verifier, challenge) = pkce_pair();
    let now = host.clock.now().unix_timestamp();
    let request = sign_jws(
        &key,
        &json!({"iss": CLIENT, "aud": host.base, "client_id": CLIENT, "exp": now + 300,
            "nbf": now, "iat": now, "jti": idpkit::crypto::random_token(),
            "response_type": "code", "scope": "openid", "redirect_uri": DEMO_REDIRECT_URI,
            "state": "from-the-object", "nonce": "n-1", "code_challenge": challenge,
            "code_challenge_method": "S256"}),
    );
    let mut url = url::Url::parse(&host.url("/authorize")).expect("url");
    url.query_pairs_mut()
        .append_pair("client_id", CLIENT)
        .append_pair("request", &request)
        .append_pair("state", "outer-ignored");
    let cb = login(&browser(), &host, url.as_str(), "alice", "wonderland").await;
    let params = callback_params(&cb);
    assert_eq!(param(&params, "state"), Some("from-the-object"));
    assert_eq!(param(&params, "iss"), Some(host.base.as_str()));
    let code = param(&params, "code").expect("code").to_owned();
    let jwt = assertion(&host, &key);
    let (status, body) = token(
        &host,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", DEMO_REDIRECT_URI),
            ("code_verifier", &verifier),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &jwt),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let id_token = body["id_token"].as_str().expect("id token");
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(id_token.split('.').nth(1).expect("payload"))
            .expect("b64"),
    )
    .expect("json");
    assert_eq!(claims["nonce"], "n-1");
    assert_eq!(claims["aud"], CLIENT);
    // The same request object again: its jti was used.
    let resp = browser().get(url.as_str()).send().await.expect("authorize");
    assert!(
        resp.status() == 400 || resp.status() == 303,
        "{}",
        resp.status()
    );
    let loc = resp
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        loc.contains("error=invalid_request_object"),
        "a replayed request object is refused: {loc}"
    );
}
