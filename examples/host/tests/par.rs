//! Pushed authorization requests (RFC 9126) and resource indicators (RFC 8707) over HTTP
//! against the example host (#16 items 2 and 6): demo-client pushes its request with
//! `client_secret_basic`, the browser logs in with `client_id` + `request_uri` only, the
//! code is exchanged; the `request_uri` is single use, also across two instances sharing
//! one store; an unknown `resource` is `invalid_target`; `--resource URI` adds a resource
//! whose audience is the URI; a `--clients` client's `authorization_details` (RFC 9396)
//! reach the consent page (escaped) and the token response.

use idpkit_test_support::host as common;

use common::{
    Host, browser, callback_params, exchange, http, login, param, pkce_pair, two_instances,
};
use serde_json::{Value, json};

/// POSTs demo-client's authorization request to `/par` with `client_secret_basic`.
async fn push(host: &Host, extra: &[(&str, &str)]) -> (u16, Value) {
    push_to(&host.base, extra).await
}

/// Like [`push`], to the instance at `base`.
async fn push_to(base: &str, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut form = vec![
        ("response_type", "code"),
        ("redirect_uri", idpkit_example::DEMO_REDIRECT_URI),
        ("state", "par-state"),
    ];
    form.extend_from_slice(extra);
    let resp = http()
        .post(format!("{base}/par"))
        .basic_auth("demo-client", Some("demo-secret"))
        .form(&form)
        .send()
        .await
        .expect("PAR request");
    let status = resp.status().as_u16();
    let cache = resp
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    assert_eq!(cache.as_deref(), Some("no-store"), "RFC 9126 §2.2");
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn authorize_by_reference(host: &Host, request_uri: &str) -> String {
    authorize_at(&host.base, request_uri)
}

fn authorize_at(base: &str, request_uri: &str) -> String {
    let mut url = url::Url::parse(&format!("{base}/authorize")).expect("url");
    url.query_pairs_mut()
        .append_pair("client_id", "demo-client")
        .append_pair("request_uri", request_uri);
    url.to_string()
}

fn claims(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON")
}

#[tokio::test]
async fn pushed_request_then_browser_login_then_code_exchange_rfc9126() {
    let host = Host::start().await;
    let doc: Value = http()
        .get(host.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    assert_eq!(
        doc["pushed_authorization_request_endpoint"],
        host.url("/par")
    );
    let (verifier, challenge) = pkce_pair();
    let (status, body) = push(
        &host,
        &[
            ("scope", "openid api:read"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("resource", "urn:demo-api"),
        ],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let request_uri = body["request_uri"].as_str().expect("request_uri");
    assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"));
    assert_eq!(body["expires_in"], 60);
    let url = authorize_by_reference(&host, request_uri);
    let cb = login(&browser(), &host, &url, "alice", "wonderland").await;
    let params = callback_params(&cb);
    assert_eq!(param(&params, "state"), Some("par-state"));
    let code = param(&params, "code").expect("code");
    let resp = exchange(&host, code, &verifier).await;
    assert_eq!(resp.status(), 200);
    let tokens: Value = resp.json().await.expect("json");
    assert_eq!(
        claims(tokens["access_token"].as_str().expect("at"))["aud"],
        json!(["demo-api"])
    );
    // Single use: the same request_uri again is refused on the error page.
    let again = browser().get(&url).send().await.expect("authorize");
    assert_eq!(again.status(), 400);
    assert!(again.headers().get("location").is_none());
}

#[tokio::test]
async fn pushed_errors_are_json_and_an_unknown_resource_is_invalid_target_rfc8707_2() {
    let host = Host::start().await;
    let (status, body) = push(
        &host,
        &[
            ("scope", "openid"),
            ("resource", "https://unknown.example/"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_target"))
    );
    // At the authorization endpoint: an error redirect to the client.
    let (_, challenge) = pkce_pair();
    let url = common::authorize_url(
        &host,
        "demo-client",
        &[
            ("response_type", "code"),
            ("scope", "openid"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("resource", "https://unknown.example/"),
        ],
    );
    let resp = browser().get(&url).send().await.expect("authorize");
    let params = callback_params(&common::location(&resp));
    assert_eq!(param(&params, "error"), Some("invalid_target"));
    // At the token endpoint.
    let (status, body) = common::post_as_demo_client(
        &host,
        "/token",
        &[
            ("grant_type", "client_credentials"),
            ("resource", "https://unknown.example/"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_target"))
    );
}

#[tokio::test]
async fn the_resource_flag_adds_a_resource_whose_audience_is_its_uri() {
    let host = Host::start_with(|o| {
        o.resources = vec!["https://reports.example/api".into()];
    })
    .await;
    let (status, body) = common::post_as_demo_client(
        &host,
        "/token",
        &[
            ("grant_type", "client_credentials"),
            ("scope", "api:read"),
            ("resource", "https://reports.example/api"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        claims(body["access_token"].as_str().expect("at"))["aud"],
        json!(["https://reports.example/api"])
    );
}

#[test]
fn the_resource_flag_parses_repeatedly() {
    use clap::Parser;
    let o = idpkit_example::Options::try_parse_from([
        "idpkit-example",
        "--resource",
        "https://a.example/",
        "--resource",
        "urn:b",
    ])
    .expect("flags");
    assert_eq!(o.resources, ["https://a.example/", "urn:b"]);
}

#[tokio::test]
async fn pushed_at_one_instance_authorized_at_the_other_once_rfc9126_4() {
    let (a, _b, b_base, _shared) = two_instances().await;
    let (verifier, challenge) = pkce_pair();
    let (status, body) = push(
        &a,
        &[
            ("scope", "openid"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let request_uri = body["request_uri"].as_str().expect("request_uri");
    // The authorization request reaches B; the login page is served by either.
    let at_b = authorize_at(&b_base, request_uri);
    let cb = login(&browser(), &a, &at_b, "alice", "wonderland").await;
    let params = callback_params(&cb);
    let code = param(&params, "code").expect("code from B");
    let resp = exchange(&a, code, &verifier).await;
    assert_eq!(resp.status(), 200, "the code is redeemed at A");
    // Used at B: refused at A too.
    let again = browser()
        .get(authorize_by_reference(&a, request_uri))
        .send()
        .await
        .expect("authorize");
    assert_eq!(again.status(), 400);
}

#[tokio::test]
async fn the_consent_page_shows_authorization_details_and_the_token_carries_them_rfc9396() {
    let dir = tempfile::tempdir().expect("dir");
    let clients = dir.path().join("clients.json");
    std::fs::write(
        &clients,
        format!(
            r#"[{{"client_id": "payer", "redirect_uris": ["{}"], "grant_types": ["authorization_code"],
                "scopes": ["openid"], "first_party": false,
                "authorization_details_types": ["payment_initiation"]}}]"#,
            idpkit_example::DEMO_REDIRECT_URI
        ),
    )
    .expect("write");
    let host = Host::start_with(|o| o.clients = Some(clients.clone())).await;
    let doc: Value = http()
        .get(host.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    assert_eq!(
        doc["authorization_details_types_supported"],
        json!(["payment_initiation"])
    );
    let details = r#"[{"type":"payment_initiation","creditorName":"Merchant <A>","instructedAmount":{"currency":"EUR","amount":"12.00"}}]"#;
    let (verifier, challenge) = pkce_pair();
    let url = common::authorize_url(
        &host,
        "payer",
        &[
            ("response_type", "code"),
            ("scope", "openid"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("authorization_details", details),
        ],
    );
    let b = browser();
    let resp = b.get(&url).send().await.expect("authorize");
    let login_page = host.url(&common::location(&resp));
    let resp = b
        .post(&login_page)
        .form(&[("username", "alice"), ("password", "wonderland")])
        .send()
        .await
        .expect("login");
    let consent_page = host.url(&common::location(&resp));
    let html = b
        .get(&consent_page)
        .send()
        .await
        .expect("consent")
        .text()
        .await
        .expect("html");
    assert!(html.contains("payment_initiation"), "{html}");
    assert!(
        html.contains("Merchant &lt;A&gt;") && !html.contains("Merchant <A>"),
        "shown, escaped: {html}"
    );
    let resp = b
        .post(&consent_page)
        .form(&[("decision", "allow")])
        .send()
        .await
        .expect("allow");
    let params = callback_params(&common::location(&resp));
    let code = param(&params, "code").expect("code");
    let resp = http()
        .post(host.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", idpkit_example::DEMO_REDIRECT_URI),
            ("code_verifier", &verifier),
            ("client_id", "payer"),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(resp.status(), 200);
    let tokens: Value = resp.json().await.expect("json");
    assert_eq!(
        tokens["authorization_details"][0]["creditorName"],
        "Merchant <A>"
    );
}
