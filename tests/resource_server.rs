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

#[tokio::test]
async fn the_api_publishes_protected_resource_metadata_and_points_401s_at_it_rfc9728() {
    use idpkit::protected_resource_metadata::ProtectedResourceMetadata;
    let host = Host::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let api = format!("http://{}", listener.local_addr().expect("addr"));
    let resource = format!("{api}/api");
    let validator = Validator::builder()
        .trust(TrustedIssuer::new(&host.base, "demo-api"))
        .resource_metadata(
            ProtectedResourceMetadata::new(&resource)
                .scopes(["api:read"])
                .name("Example API")
                .documentation("https://docs.example/api"),
        )
        .http_client(Arc::new(ReqwestClient::new().expect("http client")))
        .build()
        .expect("validator");
    tokio::spawn(async move {
        axum::serve(listener, idpkit_example::api::app(validator))
            .await
            .expect("serve");
    });

    // RFC 9728 §3.1: the well-known suffix goes between the host and the path `/api`.
    let metadata_url = format!("{api}/.well-known/oauth-protected-resource/api");
    let resp = http().get(&metadata_url).send().await.expect("send");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let doc: Value = resp.json().await.expect("json");
    // §3.3: `resource` is the identifier the well-known URL was derived from.
    assert_eq!(doc["resource"], resource.as_str());
    assert_eq!(doc["authorization_servers"], serde_json::json!([host.base]));
    assert_eq!(doc["scopes_supported"], serde_json::json!(["api:read"]));
    assert_eq!(
        doc["bearer_methods_supported"],
        serde_json::json!(["header"])
    );
    assert_eq!(
        doc["dpop_signing_alg_values_supported"],
        serde_json::json!(["ES256", "PS256", "EdDSA", "RS256"])
    );
    assert_eq!(doc["resource_name"], "Example API");
    assert_eq!(doc["resource_documentation"], "https://docs.example/api");
    // The root form belongs to the resource `http://host` and is not this resource's.
    let root = http()
        .get(format!("{api}/.well-known/oauth-protected-resource"))
        .send()
        .await
        .expect("send");
    assert_eq!(root.status(), 404);

    // §5.1: the 401 without a token points at the metadata, in both schemes.
    let resp = http()
        .get(format!("{api}/api/orders"))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 401);
    let challenges: Vec<String> = resp
        .headers()
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    let param = format!("resource_metadata=\"{metadata_url}\"");
    assert_eq!(challenges.len(), 2, "{challenges:?}");
    assert_eq!(
        challenges[0],
        format!("Bearer realm=\"api\", {param}"),
        "{challenges:?}"
    );
    assert!(
        challenges[1].starts_with("DPoP ") && challenges[1].ends_with(&param),
        "{challenges:?}"
    );
    // And a refused token's 401 keeps its error alongside.
    let resp = http()
        .get(format!("{api}/api/orders"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 401);
    let challenge = resp.headers()["www-authenticate"].to_str().expect("ascii");
    assert!(
        challenge.contains("error=\"invalid_token\"") && challenge.ends_with(&param),
        "{challenge}"
    );
}
