//! RP-Initiated Logout end to end over HTTP against the example host (#14): a relying
//! party logs the user in, sends the browser to `end_session_endpoint` with
//! `id_token_hint`, `post_logout_redirect_uri` and `state`; the user confirms on the host's
//! page and lands back at the RP with `state`; the next authorization needs the password.

use idpkit_test_support::host as common;

use std::sync::{Arc, Mutex};

use common::*;
use idpkit::{TrustedIssuer, Validator};
use idpkit_example::{DEMO_POST_LOGOUT_URI, DEMO_REDIRECT_URI};
use serde_json::Value;

/// A relying party's back-channel logout endpoint on loopback: records the logout tokens
/// it is POSTed; answers 503 to the first (it is "down"), then 200.
async fn start_rp_backchannel() -> (String, Arc<Mutex<Vec<String>>>) {
    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/backchannel",
        axum::routing::post(move |body: String| {
            let sink = sink.clone();
            async move {
                let token = url::form_urlencoded::parse(body.as_bytes())
                    .find(|(k, _)| k == "logout_token")
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default();
                let mut seen = sink.lock().expect("lock");
                seen.push(token);
                if seen.len() == 1 {
                    axum::http::StatusCode::SERVICE_UNAVAILABLE
                } else {
                    axum::http::StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (format!("http://{addr}/backchannel"), received)
}

/// Signs in through `client` in browser `b` (a public client, PKCE); its tokens.
async fn sign_in(host: &Host, b: &reqwest::Client, client: &str) -> Value {
    let (verifier, challenge) = pkce_pair();
    let url = authorize_url(
        host,
        client,
        &[
            ("response_type", "code"),
            ("scope", "openid"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let cb = login(b, host, &url, "alice", "wonderland").await;
    let code = param(&callback_params(&cb), "code")
        .expect("code")
        .to_owned();
    let r = http()
        .post(host.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", DEMO_REDIRECT_URI),
            ("client_id", client),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), 200);
    r.json().await.expect("json")
}

#[tokio::test]
async fn a_second_rp_of_the_session_gets_a_back_channel_logout_token_and_a_front_channel_url() {
    let (bc_uri, received) = start_rp_backchannel().await;
    let dir = tempfile::tempdir().expect("dir");
    let clients = dir.path().join("clients.json");
    std::fs::write(
        &clients,
        serde_json::json!([{
            "client_id": "rp2",
            "client_name": "Second RP",
            "token_endpoint_auth_method": "none",
            "redirect_uris": [DEMO_REDIRECT_URI],
            "grant_types": ["authorization_code"],
            "scope": "openid",
            "backchannel_logout_uri": bc_uri,
            "backchannel_logout_session_required": true,
            "frontchannel_logout_uri": "http://127.0.0.1:9999/frontchannel",
            "frontchannel_logout_session_required": true
        }])
        .to_string(),
    )
    .expect("write clients");
    let host = Host::start_with(|o| o.clients = Some(clients.clone())).await;
    let b = browser();
    let first = sign_in(&host, &b, "demo-public").await;
    let second = sign_in(&host, &b, "rp2").await;
    let sid = common_sid(&second);
    assert_eq!(common_sid(&first), sid, "one session, two clients");
    // The first RP logs the user out (the user confirms).
    let mut logout = url::Url::parse(&host.url("/logout")).expect("url");
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", first["id_token"].as_str().expect("it"))
        .append_pair("post_logout_redirect_uri", DEMO_POST_LOGOUT_URI);
    let r = b.get(logout.as_str()).send().await.expect("end session");
    let confirm = host.url(&location(&r));
    let done = b
        .post(&confirm)
        .form(&[("action", "logout")])
        .send()
        .await
        .expect("confirm");
    // A front-channel iframe is due: the logged-out page renders it, then goes on.
    assert_eq!(done.status(), 200);
    let html = done.text().await.expect("html");
    assert!(
        html.contains("http://127.0.0.1:9999/frontchannel?iss=") && html.contains(&sid),
        "{html}"
    );
    assert!(html.contains(DEMO_POST_LOGOUT_URI), "{html}");
    // The back-channel token, delivered through the example's HTTP client: the RP is down
    // at the first attempt, the retry (after its back-off) gets through.
    let report = host
        .provider
        .deliver_logout_tokens()
        .await
        .expect("deliver");
    assert_eq!(report.retrying, 1, "{report:?}");
    host.clock.advance(idpkit::time::Duration::seconds(2));
    let report = host
        .provider
        .deliver_logout_tokens()
        .await
        .expect("deliver");
    assert_eq!(report.delivered, 1, "{report:?}");
    let tokens = received.lock().expect("lock").clone();
    assert_eq!(tokens.len(), 2);
    assert_eq!(
        tokens[0], tokens[1],
        "the same token again: the RP can dedupe by jti"
    );
    let token = tokens[1].clone();
    // Validated as Back-Channel Logout §2.6 tells an RP: signature with the OP's keys,
    // iss, aud, iat/exp, typ, events, sid, no nonce.
    let validator = Validator::builder()
        .trust(TrustedIssuer::new(&host.base, "rp2"))
        .required_type(Some("logout+jwt"))
        .http_client(Arc::new(
            idpkit::http_client::ReqwestClient::new().expect("http"),
        ))
        .build()
        .expect("validator");
    let v = validator
        .validate(&token)
        .await
        .expect("a valid logout token");
    assert!(
        v.claim("events")
            .and_then(|e| e.get("http://schemas.openid.net/event/backchannel-logout"))
            .is_some_and(Value::is_object)
    );
    assert_eq!(v.claim("sid").and_then(Value::as_str), Some(sid.as_str()));
    assert!(v.claim("nonce").is_none());
    assert!(v.claim("jti").is_some());
}

fn common_sid(tokens: &Value) -> String {
    let id_token = tokens["id_token"].as_str().expect("id token");
    let payload = id_token.split('.').nth(1).expect("payload");
    use base64::Engine;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("b64"),
    )
    .expect("json");
    claims["sid"].as_str().expect("sid").to_owned()
}

#[tokio::test]
async fn an_rp_logs_the_user_out_through_the_end_session_endpoint() {
    let host = Host::start().await;
    let b = browser();
    let (verifier, challenge) = pkce_pair();
    let url = authorize_url(
        &host,
        "demo-client",
        &[
            ("response_type", "code"),
            ("scope", "openid"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let cb = login(&b, &host, &url, "alice", "wonderland").await;
    let code = param(&callback_params(&cb), "code")
        .expect("code")
        .to_owned();
    let tokens: Value = exchange(&host, &code, &verifier)
        .await
        .json()
        .await
        .expect("json");
    let id_token = tokens["id_token"].as_str().expect("id token");
    let discovery: Value = http()
        .get(host.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    let end_session = discovery["end_session_endpoint"]
        .as_str()
        .expect("end_session_endpoint advertised");
    assert_eq!(discovery["frontchannel_logout_supported"], true);
    let mut logout = url::Url::parse(end_session).expect("url");
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", id_token)
        .append_pair("post_logout_redirect_uri", DEMO_POST_LOGOUT_URI)
        .append_pair("state", "bye-123");
    let r = b.get(logout.as_str()).send().await.expect("end session");
    assert_eq!(r.status(), 303);
    let confirm = host.url(&location(&r));
    let page = b.get(&confirm).send().await.expect("confirm page");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("value=\"logout\""), "{html}");
    let done = b
        .post(&confirm)
        .form(&[("action", "logout")])
        .send()
        .await
        .expect("confirm");
    assert_eq!(done.status(), 303);
    assert_eq!(
        location(&done),
        format!("{DEMO_POST_LOGOUT_URI}?state=bye-123")
    );
    // The session is gone: the next authorization asks for the password again.
    let again = b.get(&url).send().await.expect("authorize");
    let next = location(&again);
    assert!(
        !next.starts_with(DEMO_REDIRECT_URI) && next.contains("/interaction/"),
        "a login page, not a code: {next}"
    );
    // A refused logout is an error page, never a redirect.
    let mut bad = url::Url::parse(end_session).expect("url");
    bad.query_pairs_mut()
        .append_pair("client_id", "demo-client")
        .append_pair("post_logout_redirect_uri", "https://evil.example/");
    let r = b.get(bad.as_str()).send().await.expect("bad logout");
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
}
