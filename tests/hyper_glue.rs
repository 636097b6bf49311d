//! The plain-hyper glue (examples/hyper_glue.rs) on a loopback port: core's path table,
//! CORS and preflights reach a host that does not use axum (Fetch standard, CORS protocol).

#[allow(dead_code)]
#[path = "../examples/hyper_glue.rs"]
mod hyper_glue;

use std::sync::Arc;

use idpkit::ManualClock;
use idpkit_example::{DEMO_ORIGIN, DemoUsers, Options, build_provider};

const EVIL: &str = "https://evil.example";

/// The example's provider (demo clients; `demo-public` allows [`DEMO_ORIGIN`]) behind the
/// hyper glue on 127.0.0.1; returns the base URL and the data directory to keep alive.
async fn start() -> (String, tempfile::TempDir) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let data = tempfile::tempdir().expect("data dir");
    let mut opts = Options::for_bind(listener.local_addr().expect("addr"));
    opts.data_dir = data.path().to_path_buf();
    let users = Arc::new(DemoUsers::new().expect("hash demo password"));
    let provider = build_provider(&opts, Arc::new(ManualClock::starting_now()), users)
        .await
        .expect("provider builds");
    tokio::spawn(async move { hyper_glue::serve(listener, provider).await });
    (opts.issuer(), data)
}

fn header<'a>(resp: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn preflight(base: &str, origin: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, format!("{base}/token"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .expect("send")
}

async fn client_credentials(base: &str, origin: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/token"))
        .header("origin", origin)
        .basic_auth("demo-client", Some("demo-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("send")
}

#[tokio::test]
async fn hyper_glue_answers_token_preflights_for_allowed_origins_only() {
    let (base, _data) = start().await;
    let ok = preflight(&base, DEMO_ORIGIN).await;
    assert_eq!(ok.status(), 204);
    assert_eq!(
        header(&ok, "access-control-allow-origin"),
        Some(DEMO_ORIGIN)
    );
    assert_eq!(header(&ok, "vary"), Some("Origin"));
    assert_eq!(
        header(&ok, "access-control-allow-methods"),
        Some("GET, POST, OPTIONS")
    );
    assert_eq!(
        header(&ok, "access-control-allow-headers"),
        Some("Authorization, Content-Type")
    );
    assert_eq!(header(&ok, "access-control-max-age"), Some("600"));
    let evil = preflight(&base, EVIL).await;
    assert_eq!(evil.status(), 403);
    assert!(
        evil.headers()
            .keys()
            .all(|k| !k.as_str().starts_with("access-control-")),
        "no CORS header for an origin no client allows"
    );
}

#[tokio::test]
async fn hyper_glue_adds_cors_to_token_responses_for_allowed_origins_only() {
    let (base, _data) = start().await;
    let ok = client_credentials(&base, DEMO_ORIGIN).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(
        header(&ok, "access-control-allow-origin"),
        Some(DEMO_ORIGIN)
    );
    assert_eq!(header(&ok, "vary"), Some("Origin"));
    assert_eq!(header(&ok, "cache-control"), Some("no-store"));
    let body: serde_json::Value = ok.json().await.expect("json");
    assert!(body["access_token"].is_string());
    let evil = client_credentials(&base, EVIL).await;
    assert_eq!(evil.status(), 200, "CORS does not decide who gets tokens");
    assert!(header(&evil, "access-control-allow-origin").is_none());
    assert!(header(&evil, "vary").is_none());
}

#[tokio::test]
async fn hyper_glue_serves_both_discovery_paths_publicly_and_leaves_other_paths_to_the_host() {
    let (base, _data) = start().await;
    let http = reqwest::Client::new();
    let mut docs = Vec::new();
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let resp = http
            .get(format!("{base}{path}"))
            .header("origin", EVIL)
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(header(&resp, "access-control-allow-origin"), Some("*"));
        docs.push(resp.json::<serde_json::Value>().await.expect("json"));
    }
    assert_eq!(docs[0]["issuer"], base);
    assert_eq!(docs[0], docs[1]);
    let jwks = http.get(format!("{base}/jwks")).send().await.expect("send");
    assert_eq!(header(&jwks, "access-control-allow-origin"), Some("*"));
    let post = http
        .post(format!("{base}/jwks"))
        .send()
        .await
        .expect("send");
    assert_eq!(post.status(), 405);
    assert_eq!(header(&post, "allow"), Some("GET,HEAD"));
    for path in ["/interaction/abc", "/token/", "/federation/callback"] {
        let resp = http
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), 404, "{path}");
    }
}
