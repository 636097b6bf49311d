//! Token exchange (RFC 8693) over HTTP against the example host (#15 item 2):
//! `demo-exchanger` trades a `demo-client` access token (aud `demo-api`) for a
//! `demo-backend` one, with and without an actor token, and every refusal the RFC names.

use idpkit_test_support::host as common;

use common::{Host, http, post_as_demo_client, tokens_for_demo_client};
use idpkit::time::Duration;
use serde_json::{Value, json};

const GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const AT: &str = "urn:ietf:params:oauth:token-type:access_token";
const EXCHANGER: &str = "demo-exchanger";
const EXCHANGER_SECRET: &str = "demo-exchanger-secret";

/// A POST to `path` as demo-exchanger: (status, JSON).
async fn post_as_exchanger(host: &Host, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let resp = http()
        .post(host.url(path))
        .basic_auth(EXCHANGER, Some(EXCHANGER_SECRET))
        .form(form)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// demo-exchanger exchanges `subject` with `extra` parameters.
async fn exchange(host: &Host, subject: &str, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", GRANT),
        ("subject_token", subject),
        ("subject_token_type", AT),
    ];
    form.extend_from_slice(extra);
    post_as_exchanger(host, "/token", &form).await
}

fn claims(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON")
}

fn assert_refused(r: &(u16, Value), code: &str) {
    assert_eq!(r.0, 400, "{}", r.1);
    assert_eq!(r.1["error"], code, "{}", r.1);
}

async fn alice(host: &Host) -> (String, String) {
    let t = tokens_for_demo_client(host, "openid offline_access api:read").await;
    (
        t["access_token"].as_str().expect("access token").to_owned(),
        t["refresh_token"]
            .as_str()
            .expect("refresh token")
            .to_owned(),
    )
}

#[tokio::test]
async fn discovery_lists_the_token_exchange_grant() {
    let host = Host::start().await;
    let doc: Value = http()
        .get(host.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    let grants = doc["grant_types_supported"].as_array().expect("grants");
    assert!(grants.contains(&json!(GRANT)), "{doc}");
}

#[tokio::test]
async fn demo_exchanger_gets_a_demo_backend_token_for_alice() {
    let host = Host::start().await;
    let (subject, _) = alice(&host).await;
    assert_eq!(claims(&subject)["aud"], json!(["demo-api"]));
    let (status, body) = exchange(
        &host,
        &subject,
        &[("audience", "demo-backend"), ("scope", "api:read")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["issued_token_type"], AT);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "api:read");
    assert!(body["expires_in"].as_i64().is_some_and(|s| s > 0));
    assert!(body.get("refresh_token").is_none());
    let c = claims(body["access_token"].as_str().expect("token"));
    assert_eq!(c["sub"], "alice");
    assert_eq!(c["aud"], json!(["demo-backend"]));
    assert_eq!(c["client_id"], EXCHANGER);
    assert!(c.get("act").is_none(), "impersonation: {c}");
}

#[tokio::test]
async fn with_an_actor_token_the_result_carries_act() {
    let host = Host::start().await;
    let (subject, _) = alice(&host).await;
    let (status, cc) =
        post_as_exchanger(&host, "/token", &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, 200, "{cc}");
    let actor = cc["access_token"].as_str().expect("actor token");
    let (status, body) = exchange(
        &host,
        &subject,
        &[
            ("audience", "demo-backend"),
            ("actor_token", actor),
            ("actor_token_type", AT),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().expect("token");
    let c = claims(token);
    assert_eq!(c["sub"], "alice");
    assert_eq!(c["act"], json!({"sub": EXCHANGER}));
    let (status, seen) = post_as_exchanger(&host, "/introspect", &[("token", token)]).await;
    assert_eq!(status, 200);
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["act"], json!({"sub": EXCHANGER}), "RFC 8693 §4.1");
}

#[tokio::test]
async fn another_audience_is_invalid_target() {
    let host = Host::start().await;
    let (subject, _) = alice(&host).await;
    let r = exchange(&host, &subject, &[("audience", "demo-payroll")]).await;
    assert_refused(&r, "invalid_target");
}

#[tokio::test]
async fn a_wider_scope_is_invalid_scope() {
    let host = Host::start().await;
    let (subject, _) = alice(&host).await;
    for scope in ["openid", "api:read email"] {
        let r = exchange(
            &host,
            &subject,
            &[("audience", "demo-backend"), ("scope", scope)],
        )
        .await;
        assert_refused(&r, "invalid_scope");
    }
}

#[tokio::test]
async fn an_expired_subject_token_is_invalid_request() {
    let host = Host::start().await;
    let (subject, _) = alice(&host).await;
    host.clock.advance(Duration::hours(2));
    let r = exchange(&host, &subject, &[("audience", "demo-backend")]).await;
    assert_refused(&r, "invalid_request");
}

#[tokio::test]
async fn a_revoked_subject_token_is_invalid_request_and_its_exchanges_die_with_it() {
    let host = Host::start().await;
    let (subject, refresh) = alice(&host).await;
    let (status, body) = exchange(&host, &subject, &[("audience", "demo-backend")]).await;
    assert_eq!(status, 200, "{body}");
    let exchanged = body["access_token"].as_str().expect("token").to_owned();
    let (status, _) = post_as_demo_client(&host, "/revoke", &[("token", &refresh)]).await;
    assert_eq!(status, 200);
    let r = exchange(&host, &subject, &[("audience", "demo-backend")]).await;
    assert_refused(&r, "invalid_request");
    let (_, seen) = post_as_exchanger(&host, "/introspect", &[("token", &exchanged)]).await;
    assert_eq!(seen, json!({"active": false}));
}

#[tokio::test]
async fn a_client_not_allowed_is_unauthorized_client() {
    let host = Host::start().await;
    let (subject, _) = alice(&host).await;
    let (status, body) = post_as_demo_client(
        &host,
        "/token",
        &[
            ("grant_type", GRANT),
            ("subject_token", &subject),
            ("subject_token_type", AT),
            ("audience", "demo-backend"),
        ],
    )
    .await;
    assert_refused(&(status, body), "unauthorized_client");
    // demo-exchanger's own token has not the demo-api audience: not its to exchange.
    let (_, cc) = post_as_exchanger(&host, "/token", &[("grant_type", "client_credentials")]).await;
    let own = cc["access_token"].as_str().expect("token");
    let r = exchange(&host, own, &[("audience", "demo-backend")]).await;
    assert_refused(&r, "unauthorized_client");
}

#[tokio::test]
async fn a_guest_token_cannot_be_exchanged_and_stays_a_guest_token() {
    let host = Host::start().await;
    let resp: Value = http()
        .post(host.url("/token"))
        .form(&[
            ("grant_type", "urn:idpkit:params:oauth:grant-type:guest"),
            ("client_id", "demo-shop"),
        ])
        .send()
        .await
        .expect("guest grant")
        .json()
        .await
        .expect("json");
    let guest = resp["access_token"].as_str().expect("guest token");
    let r = exchange(&host, guest, &[("audience", "demo-backend")]).await;
    assert_refused(&r, "invalid_request");
    assert!(
        r.1["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("guest")),
        "{}",
        r.1
    );
    let info = host
        .provider
        .access_token_info(guest)
        .await
        .expect("lookup")
        .expect("the guest token is untouched");
    assert!(info.guest);
}
