//! The device authorization grant (RFC 8628) over HTTP against the example host: the
//! `demo-device` client asks at one instance, the user enters the code on the `/device`
//! page of the other instance and approves it through the real login and consent pages,
//! and the device polls at either (both instances share one SQLite store, one key
//! directory and one issuer, as behind a load balancer).

use idpkit_test_support::host as common;

use common::{Host, browser, http, location, two_instances};
use idpkit::time::Duration;
use serde_json::Value;

const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

async fn device_authorization(base: &str, scope: &str) -> (u16, Value) {
    let r = http()
        .post(format!("{base}/device_authorization"))
        .form(&[("client_id", "demo-device"), ("scope", scope)])
        .send()
        .await
        .expect("device authorization");
    (r.status().as_u16(), r.json().await.expect("json"))
}

async fn poll(base: &str, device_code: &str) -> (u16, Value) {
    let r = http()
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", GRANT),
            ("device_code", device_code),
            ("client_id", "demo-device"),
        ])
        .send()
        .await
        .expect("poll");
    (r.status().as_u16(), r.json().await.expect("json"))
}

/// The user opens `verification_uri_complete` on `base`, submits the pre-filled form, logs
/// in as alice and answers the consent page with `decision`. Returns where the browser lands.
async fn approve_in_browser(base: &str, complete: &str, decision: &str) -> String {
    let b = browser();
    let path = complete
        .split_once("/device")
        .map(|(_, rest)| format!("{base}/device{rest}"))
        .expect("a /device URL");
    let page = b.get(&path).send().await.expect("device page");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("name=\"user_code\""), "{html}");
    let user_code = complete.split("user_code=").nth(1).expect("code in URL");
    assert!(
        html.contains(&format!("value=\"{user_code}\"")),
        "pre-filled: {html}"
    );
    let resp = b
        .post(format!("{base}/device"))
        .form(&[("user_code", user_code)])
        .send()
        .await
        .expect("submit code");
    assert_eq!(resp.status(), 303);
    let login = format!("{base}{}", location(&resp));
    let html = b
        .get(&login)
        .send()
        .await
        .expect("login")
        .text()
        .await
        .expect("html");
    assert!(html.contains("name=\"password\""), "{html}");
    let resp = b
        .post(&login)
        .form(&[
            ("username", "alice"),
            ("password", "wonderland"),
            ("action", "login"),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status(), 303);
    let consent = format!("{base}{}", location(&resp));
    let html = b
        .get(&consent)
        .send()
        .await
        .expect("consent")
        .text()
        .await
        .expect("html");
    assert!(html.contains("name=\"decision\""), "{html}");
    assert!(
        html.contains("device"),
        "the page says a device is signed in: {html}"
    );
    let resp = b
        .post(&consent)
        .form(&[("decision", decision)])
        .send()
        .await
        .expect("decide");
    assert_eq!(resp.status(), 303);
    let done = location(&resp);
    let page = b
        .get(format!("{base}{done}"))
        .send()
        .await
        .expect("result page");
    assert_eq!(page.status(), 200);
    done
}

#[tokio::test]
async fn a_device_code_from_one_instance_is_approved_at_the_other_and_polled_at_either() {
    let (a, b, b_base, _shared) = two_instances().await;
    let (status, body) =
        device_authorization(&a.base, "openid profile offline_access api:read").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["verification_uri"], format!("{}/device", a.base));
    assert_eq!(body["interval"], 5);
    let device_code = body["device_code"].as_str().expect("device_code");

    let (status, pending) = poll(&b_base, device_code).await;
    assert_eq!(
        (status, pending["error"].as_str()),
        (400, Some("authorization_pending"))
    );
    // Right after, at the other instance: too fast.
    let (status, fast) = poll(&a.base, device_code).await;
    assert_eq!(
        (status, fast["error"].as_str()),
        (400, Some("slow_down")),
        "{fast}"
    );

    let done = approve_in_browser(
        &b_base,
        body["verification_uri_complete"]
            .as_str()
            .expect("complete"),
        "allow",
    )
    .await;
    assert_eq!(done, "/device?result=approved");

    for host in [&a, &b] {
        host.clock.advance(Duration::seconds(10));
    }
    let (status, tokens) = poll(&a.base, device_code).await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["refresh_token"].is_string());
    let userinfo: Value = http()
        .get(format!("{b_base}/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().expect("at"))
        .send()
        .await
        .expect("userinfo")
        .json()
        .await
        .expect("json");
    assert_eq!(userinfo["sub"], "alice");

    for host in [&a, &b] {
        host.clock.advance(Duration::seconds(20));
    }
    let (status, again) = poll(&b_base, device_code).await;
    assert_eq!(
        (status, again["error"].as_str()),
        (400, Some("invalid_grant")),
        "single use"
    );
}

#[tokio::test]
async fn a_denied_device_gets_access_denied_and_an_expired_one_expired_token() {
    let host = Host::start().await;
    let (_, body) = device_authorization(&host.base, "openid").await;
    let device_code = body["device_code"].as_str().expect("device_code");
    let done = approve_in_browser(
        &host.base,
        body["verification_uri_complete"]
            .as_str()
            .expect("complete"),
        "deny",
    )
    .await;
    assert_eq!(done, "/device?result=denied");
    let (status, denied) = poll(&host.base, device_code).await;
    assert_eq!(
        (status, denied["error"].as_str()),
        (400, Some("access_denied"))
    );

    let (_, body) = device_authorization(&host.base, "openid").await;
    let device_code = body["device_code"].as_str().expect("device_code");
    host.clock.advance(Duration::seconds(600));
    let (status, expired) = poll(&host.base, device_code).await;
    assert_eq!(
        (status, expired["error"].as_str()),
        (400, Some("expired_token")),
        "{expired}"
    );
}

#[tokio::test]
async fn the_device_page_refuses_wrong_codes_and_then_throttles_the_source() {
    let host = Host::start().await;
    let b = browser();
    for _ in 0..20 {
        let r = b
            .post(host.url("/device"))
            .form(&[("user_code", "BBBB-BBBB")])
            .send()
            .await
            .expect("submit");
        assert_eq!(r.status(), 400);
        assert!(r.text().await.expect("html").contains("not valid"));
    }
    let (_, body) = device_authorization(&host.base, "openid").await;
    let r = b
        .post(host.url("/device"))
        .form(&[("user_code", body["user_code"].as_str().expect("code"))])
        .send()
        .await
        .expect("submit");
    assert_eq!(r.status(), 429, "RFC 8628 §5.1: guessing is rate-limited");
    assert!(r.headers().get("retry-after").is_some());
}

#[tokio::test]
async fn discovery_lists_the_device_endpoint_and_grant() {
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
        doc["device_authorization_endpoint"],
        host.url("/device_authorization")
    );
    assert!(
        doc["grant_types_supported"]
            .as_array()
            .expect("list")
            .iter()
            .any(|g| g == GRANT)
    );
}
