//! Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document, #17 items
//! 3 and 9) over HTTP against the example host, with the documents served over https by a
//! throwaway CA (`test_support::tls`) and the host started with
//! `--dangerous-allow-loopback-fetch --dangerous-extra-root-ca CA.pem`: a good document
//! runs the authorization code flow with PKCE and the consent page shows its host; every
//! refusal (unreachable, too large, a redirect, another `client_id`, not JSON, a private
//! address, loopback without the knob, http) is shown at the authorization endpoint,
//! never redirected, and is `invalid_client` at the token endpoint, naming the reason;
//! caching follows `Cache-Control`; discovery advertises support.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use idpkit_example::DEMO_REDIRECT_URI;
use idpkit_test_support::host::{self as common, Host, browser, callback_params, http, param};
use idpkit_test_support::tls::{TlsServer, https_server};
use serde_json::{Value, json};

/// Requests per document path, counted by the document server.
type Hits = Arc<Mutex<HashMap<String, usize>>>;

fn document(client_id: &str) -> Value {
    json!({
        "client_id": client_id,
        "client_name": "An MCP agent",
        "redirect_uris": [DEMO_REDIRECT_URI],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "scope": "openid profile offline_access"
    })
}

/// Serves `/docs/{name}`: `good` (max-age=600), `nostore`, `big` (6 KiB), `huge` (1 MiB),
/// `redirect` (302 to `good`), `other` (another document's `client_id`), `notjson`,
/// `missing` (404), `secret` (a `client_secret`).
async fn doc(State(hits): State<Hits>, Path(name): Path<String>, headers: HeaderMap) -> Response {
    *hits.lock().expect("hits").entry(name.clone()).or_default() += 1;
    let authority = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let me = format!("https://{authority}/docs/{name}");
    let json = |v: Value, cache: &'static str| {
        (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, cache),
            ],
            v.to_string(),
        )
            .into_response()
    };
    match name.as_str() {
        "good" => json(document(&me), "public, max-age=600"),
        "nostore" => json(document(&me), "no-store"),
        "big" => {
            let mut d = document(&me);
            d["padding"] = json!("x".repeat(6 * 1024));
            json(d, "max-age=600")
        }
        "huge" => {
            let mut d = document(&me);
            d["padding"] = json!("x".repeat(1024 * 1024));
            json(d, "max-age=600")
        }
        "redirect" => (
            StatusCode::FOUND,
            [(header::LOCATION, format!("https://{authority}/docs/good"))],
        )
            .into_response(),
        "other" => json(
            document(&format!("https://{authority}/docs/good")),
            "max-age=600",
        ),
        "notjson" => (
            [(header::CONTENT_TYPE, "application/json")],
            "this is not JSON",
        )
            .into_response(),
        "secret" => {
            let mut d = document(&me);
            d["client_secret"] = json!("s3cr3t");
            json(d, "max-age=600")
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn documents() -> (TlsServer, Hits) {
    let hits = Hits::default();
    let router = axum::Router::new()
        .route("/docs/{name}", axum::routing::get(doc))
        .with_state(hits.clone());
    (https_server(router).await, hits)
}

/// The example host trusting the document server's CA, loopback fetches allowed or not.
async fn host_for(server: &TlsServer, loopback: bool) -> Host {
    let ca = server.ca_pem_path.clone();
    Host::start_with(move |o| {
        o.dangerous_allow_loopback_fetch = loopback;
        o.dangerous_extra_root_ca = Some(ca);
    })
    .await
}

fn hits_of(hits: &Hits, name: &str) -> usize {
    hits.lock()
        .expect("hits")
        .get(name)
        .copied()
        .unwrap_or_default()
}

fn authorize_url(host: &Host, client_id: &str, challenge: &str) -> String {
    common::authorize_url(
        host,
        client_id,
        &[
            ("response_type", "code"),
            ("scope", "openid profile"),
            ("state", "st"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ],
    )
}

/// Walks the login and consent pages (allowing) and returns (callback URL, the consent
/// page's HTML, or empty when none was shown).
async fn walk(browser: &reqwest::Client, host: &Host, url: &str) -> (String, String) {
    let resp = browser.get(url).send().await.expect("authorize");
    let mut next = common::location(&resp);
    let mut consent = String::new();
    for _ in 0..4 {
        if next.starts_with(DEMO_REDIRECT_URI) {
            return (next, consent);
        }
        let page_url = host.url(&next);
        let html = browser
            .get(&page_url)
            .send()
            .await
            .expect("page")
            .text()
            .await
            .expect("html");
        let form: Vec<(&str, &str)> = if html.contains("name=\"password\"") {
            vec![("username", "alice"), ("password", "wonderland")]
        } else {
            assert!(html.contains("name=\"decision\""), "{html}");
            consent = html;
            vec![("decision", "allow")]
        };
        let resp = browser
            .post(&page_url)
            .form(&form)
            .send()
            .await
            .expect("submit");
        next = common::location(&resp);
    }
    panic!("no callback; last {next}");
}

async fn token(host: &Host, form: &[(&str, &str)]) -> (u16, Value) {
    let resp = http()
        .post(host.url("/token"))
        .form(form)
        .send()
        .await
        .expect("token");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// The authorization endpoint's answer for `client_id`: (status, Location, body).
async fn authorize(host: &Host, client_id: &str) -> (u16, Option<String>, String) {
    let (_, challenge) = common::pkce_pair();
    let resp = http()
        .get(authorize_url(host, client_id, &challenge))
        .send()
        .await
        .expect("authorize");
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get(header::LOCATION)
        .map(|l| l.to_str().expect("ascii").to_owned());
    (status, location, resp.text().await.expect("body"))
}

/// A refused `client_id`: an error page at the authorization endpoint (never a redirect)
/// and `invalid_client` at the token endpoint, both naming `reason`.
async fn assert_refused(host: &Host, client_id: &str, reason: &str) {
    let (status, location, body) = authorize(host, client_id).await;
    assert_eq!(status, 400, "{client_id}: {body}");
    assert_eq!(location, None, "{client_id}: never redirected");
    assert!(
        body.contains("metadata document was refused") && body.contains(reason),
        "{client_id}: the page names the reason {reason:?}: {body}"
    );
    let (status, err) = token(
        host,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", "nope"),
            ("redirect_uri", DEMO_REDIRECT_URI),
            ("code_verifier", &"v".repeat(43)),
        ],
    )
    .await;
    assert_eq!(status, 401, "{client_id}: {err}");
    assert_eq!(err["error"], "invalid_client", "{client_id}");
    let description = err["error_description"].as_str().unwrap_or_default();
    assert!(
        description.contains(reason),
        "{client_id}: error_description names {reason:?}: {description}"
    );
}

#[tokio::test]
async fn a_metadata_document_client_runs_the_code_flow_with_pkce_and_consent_shows_its_host() {
    let (server, hits) = documents().await;
    let host = host_for(&server, true).await;
    let client_id = server.url("/docs/good");
    let (verifier, challenge) = common::pkce_pair();
    let b = browser();
    let (cb, consent) = walk(&b, &host, &authorize_url(&host, &client_id, &challenge)).await;
    let expected_host = format!(
        "client from <strong>127.0.0.1:{}</strong>",
        server.addr.port()
    );
    assert!(
        consent.contains(&expected_host),
        "CIMD §8.5: the consent page shows the document's host: {consent}"
    );
    let params = callback_params(&cb);
    assert_eq!(param(&params, "state"), Some("st"));
    let code = param(&params, "code").expect("code").to_owned();
    let (status, tokens) = token(
        &host,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &client_id),
            ("code", &code),
            ("redirect_uri", DEMO_REDIRECT_URI),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["access_token"].is_string() && tokens["id_token"].is_string());
    // The same browser, already logged in and having consented: consent is asked again.
    let (_, challenge) = common::pkce_pair();
    let (_, consent) = walk(&b, &host, &authorize_url(&host, &client_id, &challenge)).await;
    assert!(
        consent.contains(&expected_host),
        "a metadata-document client is never auto-approved"
    );
    // PKCE is required: a public client without a challenge is refused.
    let resp = http()
        .get(common::authorize_url(
            &host,
            &client_id,
            &[("response_type", "code"), ("scope", "openid")],
        ))
        .send()
        .await
        .expect("authorize");
    let location = common::location(&resp);
    assert!(location.contains("error=invalid_request"), "{location}");
    assert_eq!(hits_of(&hits, "good"), 1, "max-age=600: fetched once");
}

#[tokio::test]
async fn refused_documents_are_shown_never_redirected_and_invalid_client_at_the_token_endpoint() {
    let (server, _) = documents().await;
    let host = host_for(&server, true).await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    for (client_id, reason) in [
        (
            format!("https://127.0.0.1:{closed}/docs/good"),
            "fetching the metadata document failed",
        ),
        (server.url("/docs/big"), "larger than 5120 bytes"),
        (server.url("/docs/huge"), "larger than 65536 bytes"),
        (server.url("/docs/redirect"), "redirect"),
        (server.url("/docs/other"), "client_id is"),
        (server.url("/docs/notjson"), "not a JSON object"),
        (server.url("/docs/missing"), "answered 404"),
        (server.url("/docs/secret"), "shared secret (client_secret)"),
        (server.url("/docs/a/../good"), "dot path segments"),
        (server.url("/docs/good#x"), "fragment"),
    ] {
        assert_refused(&host, &client_id, reason).await;
    }
}

#[tokio::test]
async fn private_addresses_and_http_urls_are_refused_cimd_8_6() {
    let (server, hits) = documents().await;
    let host = host_for(&server, true).await;
    for (client_id, reason) in [
        ("https://10.0.0.1/docs/good".to_owned(), "Private address"),
        (
            "https://169.254.169.254/latest/meta-data".to_owned(),
            "LinkLocal address",
        ),
        (
            "https://[::ffff:192.168.1.1]/docs/good".to_owned(),
            "Private address",
        ),
        (
            "https://100.64.0.1/docs/good".to_owned(),
            "SharedCgnat address",
        ),
        (
            "https://[fd00::1]/docs/good".to_owned(),
            "UniqueLocal address",
        ),
        (
            format!("http://127.0.0.1:{}/docs/good", server.addr.port()),
            "https scheme",
        ),
    ] {
        assert_refused(&host, &client_id, reason).await;
    }
    assert_eq!(hits_of(&hits, "good"), 0, "nothing reached the server");
}

#[tokio::test]
async fn without_the_loopback_knob_the_loopback_server_is_refused_cimd_8_6() {
    let (server, hits) = documents().await;
    let host = host_for(&server, false).await;
    assert_refused(&host, &server.url("/docs/good"), "Loopback address").await;
    assert_refused(
        &host,
        &server.localhost_url("/docs/good"),
        "Loopback address",
    )
    .await;
    assert_eq!(hits_of(&hits, "good"), 0, "nothing reached the server");
}

#[tokio::test]
async fn a_document_is_cached_as_its_headers_allow_cimd_5_2() {
    let (server, hits) = documents().await;
    let host = host_for(&server, true).await;
    for name in ["good", "nostore"] {
        let client_id = server.url(&format!("/docs/{name}"));
        for _ in 0..2 {
            let (status, location, body) = authorize(&host, &client_id).await;
            assert_eq!(status, 303, "{name}: {body}");
            assert!(location.is_some());
        }
    }
    assert_eq!(hits_of(&hits, "good"), 1, "max-age=600: not fetched again");
    assert_eq!(hits_of(&hits, "nostore"), 2, "no-store: fetched every time");
    host.clock.advance(idpkit::time::Duration::seconds(601));
    authorize(&host, &server.url("/docs/good")).await;
    assert_eq!(
        hits_of(&hits, "good"),
        2,
        "fetched again once max-age is over"
    );
}

#[tokio::test]
async fn a_failing_url_is_not_refetched_in_a_loop() {
    let (server, hits) = documents().await;
    let host = host_for(&server, true).await;
    let client_id = server.url("/docs/notjson");
    for _ in 0..5 {
        let (status, _, _) = authorize(&host, &client_id).await;
        assert_eq!(status, 400);
    }
    assert_eq!(hits_of(&hits, "notjson"), 1, "throttled after the failure");
    host.clock.advance(idpkit::time::Duration::seconds(11));
    authorize(&host, &client_id).await;
    assert_eq!(
        hits_of(&hits, "notjson"),
        2,
        "tried again after the interval"
    );
}

#[tokio::test]
async fn discovery_advertises_metadata_documents_only_when_on_cimd_6() {
    let discovery = |host: &Host| {
        let url = host.url("/.well-known/oauth-authorization-server");
        async move {
            http()
                .get(url)
                .send()
                .await
                .expect("discovery")
                .json::<Value>()
                .await
                .expect("json")
        }
    };
    let (server, hits) = documents().await;
    let on = host_for(&server, true).await;
    assert_eq!(
        discovery(&on).await["client_id_metadata_document_supported"],
        json!(true)
    );
    let ca = server.ca_pem_path.clone();
    let off = Host::start_with(move |o| {
        o.client_id_metadata_documents = "off".into();
        o.dangerous_allow_loopback_fetch = true;
        o.dangerous_extra_root_ca = Some(ca);
    })
    .await;
    assert!(
        discovery(&off)
            .await
            .get("client_id_metadata_document_supported")
            .is_none()
    );
    let (status, location, body) = authorize(&off, &server.url("/docs/good")).await;
    assert_eq!((status, location), (400, None), "{body}");
    assert!(body.contains("unknown client_id"), "{body}");
    assert_eq!(hits_of(&hits, "good"), 0, "off: nothing fetched");
}
