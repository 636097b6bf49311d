//! End-to-end: the example API (idpkit's bearer authentication and validator, fetching the
//! provider's discovery document and JWKS over HTTP) accepts the example provider's tokens and
//! says why it refuses the others.

use idpkit_test_support::host as common;

use std::sync::Arc;

use common::*;
use idpkit::http_client::ReqwestClient;
use idpkit::{TrustedIssuer, Validator};
use serde_json::Value;

async fn start_api(issuer: &str) -> String {
    let validator = Validator::builder()
        .trust(TrustedIssuer::new(issuer, "demo-api"))
        .http_client(Arc::new(ReqwestClient::new().expect("http client")))
        .build()
        .expect("validator");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, idpkit_example::api::app(validator))
            .await
            .expect("serve");
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn the_api_accepts_provider_tokens_and_explains_refusals() {
    let host = Host::start().await;
    let api = start_api(&host.base).await;

    // client_credentials token with api:read.
    let (_, cc) = post_as_demo_client(
        &host,
        "/token",
        &[("grant_type", "client_credentials"), ("scope", "api:read")],
    )
    .await;
    let at = cc["access_token"].as_str().expect("at");
    let resp = http()
        .get(format!("{api}/api/orders"))
        .bearer_auth(at)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 200);
    let me: Value = http()
        .get(format!("{api}/api/me"))
        .bearer_auth(at)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(me["client_id"], "demo-client");

    // No token: 401 with a bare challenge.
    let resp = http()
        .get(format!("{api}/api/orders"))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.headers()["www-authenticate"], "Bearer realm=\"api\"");
    // RFC 9449 §7.1: the DPoP scheme is offered too, with the proof algorithms.
    let challenges: Vec<&str> = resp
        .headers()
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert_eq!(
        challenges,
        [
            "Bearer realm=\"api\"",
            "DPoP realm=\"api\", algs=\"ES256 PS256 EdDSA RS256\""
        ]
    );

    // A user token without api:read: 403 insufficient_scope naming the scope.
    let tokens = tokens_for_demo_client(&host, "openid email").await;
    let user_at = tokens["access_token"].as_str().expect("at");
    let resp = http()
        .get(format!("{api}/api/orders"))
        .bearer_auth(user_at)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 403);
    let challenge = resp.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        challenge.contains("insufficient_scope") && challenge.contains("scope=\"api:read\""),
        "{challenge}"
    );
    assert_eq!(
        http()
            .get(format!("{api}/api/me"))
            .bearer_auth(user_at)
            .send()
            .await
            .expect("send")
            .status(),
        200
    );

    // An ID token sent as an access token: refused, and the answer says so.
    let id_token = tokens["id_token"].as_str().expect("id token");
    let resp = http()
        .get(format!("{api}/api/me"))
        .bearer_auth(id_token)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "invalid_token");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or("")
            .contains("ID token"),
        "{body}"
    );
}
