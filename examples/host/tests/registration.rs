//! Dynamic client registration (RFC 7591, RFC 7592) over HTTP against the example host
//! (#17 items 2 and 9): with `--registration open` a client registers at `/register`
//! (advertised in discovery), then runs the authorization code flow with PKCE as that
//! client, reads its configuration with the registration access token and deletes itself;
//! with `--registration off` (the default) there is no endpoint and no advertisement;
//! `--registration token:<t>` needs the initial access token.

use idpkit_test_support::host as common;

use common::{Host, browser, callback_params, http, login, param, pkce_pair};
use serde_json::{Value, json};

async fn discovery(host: &Host) -> Value {
    http()
        .get(host.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json")
}

fn metadata() -> Value {
    json!({
        "client_name": "An agent",
        "redirect_uris": [idpkit_example::DEMO_REDIRECT_URI],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "scope": "openid profile"
    })
}

#[tokio::test]
async fn open_registration_then_code_flow_with_pkce_rfc7591() {
    let host = Host::start_with(|o| o.registration = "open".into()).await;
    let doc = discovery(&host).await;
    assert_eq!(doc["registration_endpoint"], host.url("/register"));

    // A form body is not client metadata.
    let resp = http()
        .post(host.url("/register"))
        .form(&[("redirect_uris", "x")])
        .send()
        .await
        .expect("register");
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error"], "invalid_client_metadata");

    let resp = http()
        .post(host.url("/register"))
        .json(&metadata())
        .send()
        .await
        .expect("register");
    assert_eq!(resp.status(), 201);
    let reg: Value = resp.json().await.expect("json");
    let client_id = reg["client_id"].as_str().expect("client_id").to_owned();
    let token = reg["registration_access_token"]
        .as_str()
        .expect("registration_access_token")
        .to_owned();

    let (verifier, challenge) = pkce_pair();
    let mut url = url::Url::parse(&host.url("/authorize")).expect("url");
    url.query_pairs_mut()
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", idpkit_example::DEMO_REDIRECT_URI)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid profile")
        .append_pair("state", "dcr")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let cb = login(&browser(), &host, url.as_str(), "alice", "wonderland").await;
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
    assert_eq!(resp.status(), 200);
    let tokens: Value = resp.json().await.expect("json");
    assert!(tokens["id_token"].as_str().is_some(), "{tokens}");

    // RFC 7592: read with the registration access token, refused without it, delete.
    let config_uri = reg["registration_client_uri"].as_str().expect("uri");
    assert_eq!(config_uri, host.url(&format!("/register/{client_id}")));
    let resp = http().get(config_uri).send().await.expect("read");
    assert_eq!(resp.status(), 401);
    let resp = http()
        .get(config_uri)
        .bearer_auth(&token)
        .send()
        .await
        .expect("read");
    assert_eq!(resp.status(), 200);
    let read: Value = resp.json().await.expect("json");
    assert_eq!(read["client_name"], "An agent");
    let resp = http()
        .delete(config_uri)
        .bearer_auth(&token)
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), 204);
    let resp = http()
        .get(config_uri)
        .bearer_auth(&token)
        .send()
        .await
        .expect("read");
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn registration_is_refused_when_off() {
    let host = Host::start().await;
    assert!(
        discovery(&host)
            .await
            .get("registration_endpoint")
            .is_none()
    );
    let resp = http()
        .post(host.url("/register"))
        .json(&metadata())
        .send()
        .await
        .expect("register");
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn token_registration_needs_the_initial_access_token_rfc7591_3() {
    let host = Host::start_with(|o| o.registration = "token:initial-access-token-123".into()).await;
    let resp = http()
        .post(host.url("/register"))
        .json(&metadata())
        .send()
        .await
        .expect("register");
    assert_eq!(resp.status(), 401);
    let resp = http()
        .post(host.url("/register"))
        .bearer_auth("initial-access-token-123")
        .json(&metadata())
        .send()
        .await
        .expect("register");
    assert_eq!(resp.status(), 201);
}

#[tokio::test]
async fn login_and_consent_pages_name_a_registered_client_beside_its_id_rfc7591_2() {
    let host = Host::start_with(|o| o.registration = "open".into()).await;
    let mut meta = metadata();
    meta["client_name"] = json!("Agent <b>Smith</b>");
    let reg: Value = http()
        .post(host.url("/register"))
        .json(&meta)
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("json");
    let client_id = reg["client_id"].as_str().expect("client_id").to_owned();
    let (_, challenge) = pkce_pair();
    let mut url = url::Url::parse(&host.url("/authorize")).expect("url");
    url.query_pairs_mut()
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", idpkit_example::DEMO_REDIRECT_URI)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let b = browser();
    let resp = b.get(url.as_str()).send().await.expect("authorize");
    let page_url = host.url(&common::location(&resp));
    // The name the client chose, escaped, and always its id beside it.
    let named = format!("Agent &lt;b&gt;Smith&lt;/b&gt; <small>({client_id})</small>");
    let login_page = b
        .get(&page_url)
        .send()
        .await
        .expect("login")
        .text()
        .await
        .expect("html");
    assert!(login_page.contains(&named), "{login_page}");
    let resp = b
        .post(&page_url)
        .form(&[("username", "alice"), ("password", "wonderland")])
        .send()
        .await
        .expect("login");
    let consent_url = host.url(&common::location(&resp));
    let consent = b
        .get(&consent_url)
        .send()
        .await
        .expect("consent")
        .text()
        .await
        .expect("html");
    assert!(consent.contains(&named), "{consent}");
    assert!(!consent.contains("<b>Smith"), "the name is escaped");
}
