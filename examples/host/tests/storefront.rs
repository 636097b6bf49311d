//! The storefront flow of issue #15 over HTTP, exactly as Elastic Path Cortex's
//! documentation walks it: a guest token from the token endpoint, a cart item, the login
//! (authorization code + PKCE S256 through the real login page), the upgrade (201), the
//! same token showing the user and the item, `DELETE` on the tokens resource, 401. Then
//! every refusal: another client's guest token, a wrong verifier, a replayed code, an
//! expired guest token, each 4xx with the guest token unchanged.

use idpkit_test_support::host as common;

use common::{Host, authorize_url, browser, callback_params, http, login, param, pkce_pair};
use idpkit_example::DEMO_REDIRECT_URI;
use serde_json::{Value, json};

const GUEST_GRANT: &str = "urn:idpkit:params:oauth:grant-type:guest";

/// A guest token for `client_id` from the token endpoint (`client_id` in the body).
async fn guest_token(host: &Host, client_id: &str) -> Value {
    let resp = http()
        .post(host.url("/token"))
        .form(&[("grant_type", GUEST_GRANT), ("client_id", client_id)])
        .send()
        .await
        .expect("token request");
    assert_eq!(resp.status(), 200, "guest token");
    resp.json().await.expect("json")
}

async fn guest(host: &Host, client_id: &str) -> String {
    guest_token(host, client_id).await["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// A request with the bearer token, its status and JSON body (Null when empty).
async fn send(
    req: reqwest::RequestBuilder,
    token: Option<&str>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let req = match token {
        Some(t) => req.bearer_auth(t),
        None => req,
    };
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, body, headers)
}

async fn cart(host: &Host, token: &str) -> (u16, Value) {
    let (s, b, _) = send(http().get(host.url("/shop/cart")), Some(token)).await;
    (s, b)
}

/// Logs alice in for demo-shop with PKCE S256; returns (code, verifier).
async fn login_at_shop(host: &Host, scopes: &str) -> (String, String) {
    let (verifier, challenge) = pkce_pair();
    let url = authorize_url(
        host,
        "demo-shop",
        &[
            ("response_type", "code"),
            ("scope", scopes),
            ("state", "cart-1"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let cb = login(&browser(), host, &url, "alice", "wonderland").await;
    let params = callback_params(&cb);
    (param(&params, "code").expect("code").to_owned(), verifier)
}

async fn upgrade(host: &Host, token: &str, code: &str, verifier: &str) -> (u16, Value) {
    let (s, b, _) = send(
        http()
            .post(host.url("/shop/openidconnect/form"))
            .json(&json!({
                "authorization-code": code,
                "code-verifier": verifier,
                "original-redirect-uri": DEMO_REDIRECT_URI,
            })),
        Some(token),
    )
    .await;
    (s, b)
}

/// Asserts that `token` still is the guest `subject` with `items`.
async fn assert_guest_unchanged(host: &Host, token: &str, subject: &str, items: &Value) {
    let (status, body) = cart(host, token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["guest"], true, "still a guest: {body}");
    assert_eq!(body["subject"], subject);
    assert_eq!(&body["items"], items);
}

#[tokio::test]
async fn the_storefront_flow_guest_token_cart_login_upgrade_same_token_delete_401() {
    let host = Host::start().await;
    // 1. A public (guest) access token at once: opaque, one week.
    let t = guest_token(&host, "demo-shop").await;
    assert_eq!(t["expires_in"], 604_800);
    let token = t["access_token"].as_str().expect("token").to_owned();
    assert!(!token.contains('.'), "opaque");
    let (status, body) = cart(&host, &token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["guest"], true);
    let guest_subject = body["subject"].as_str().expect("subject").to_owned();
    assert!(guest_subject.starts_with("guest-"), "{guest_subject}");
    // A missing or invalid token is 401 with a Bearer challenge.
    for t in [None, Some("not-a-token")] {
        let (s, _, h) = send(http().get(host.url("/shop/cart")), t).await;
        assert_eq!(s, 401, "{t:?}");
        let challenge = h
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(challenge.starts_with("Bearer"), "{challenge}");
    }
    // 2. A cart item.
    let item = json!({"sku": "earl-grey", "quantity": 2});
    let (status, body, _) = send(
        http().post(host.url("/shop/cart")).json(&item),
        Some(&token),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["items"], json!([item]));
    // 3. The OpenID Connect configuration.
    let (status, config, _) = send(
        http().get(host.url("/shop/openid-configuration")),
        Some(&token),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(config["authorization-url"], host.url("/authorize"));
    assert_eq!(config["client-id"], "demo-shop");
    let scopes = config["scopes"].as_str().expect("scopes").to_owned();
    assert!(scopes.split(' ').any(|s| s == "openid"), "{scopes}");
    // 4. Log in (authorization code + PKCE S256) through the real login page.
    let (code, verifier) = login_at_shop(&host, &scopes).await;
    // 5. The upgrade: 201.
    let (status, body) = upgrade(&host, &token, &code, &verifier).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["access_token"], token.as_str(), "the same token");
    assert!(body["id_token"].is_string() && body["refresh_token"].is_string());
    // 6. The same token shows the user and the item.
    let (status, body) = cart(&host, &token).await;
    assert_eq!(status, 200);
    assert_eq!(body["subject"], "alice");
    assert_eq!(body["guest"], false, "a registered token now");
    assert_eq!(
        body["items"],
        json!([item]),
        "the guest's cart is the user's"
    );
    // The host's data (the demo keeps it under --data-dir): moved, not copied.
    assert_eq!(
        host_items(&host, &guest_subject),
        json!([]),
        "nothing left under the guest"
    );
    assert_eq!(host_items(&host, "alice"), json!([item]));
    // Introspection by demo-api's resource server (demo-client) and userinfo agree.
    let (status, v) = common::post_as_demo_client(&host, "/introspect", &[("token", &token)]).await;
    assert_eq!(status, 200);
    assert_eq!(
        (v["active"].as_bool(), v["sub"].as_str()),
        (Some(true), Some("alice"))
    );
    let (status, info, _) = send(http().get(host.url("/userinfo")), Some(&token)).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(
        (info["sub"].as_str(), info["email"].as_str()),
        (Some("alice"), Some("alice@example.com"))
    );
    // 7. DELETE on the tokens resource revokes the bearer token: 401 afterwards.
    let (status, _, _) = send(http().delete(host.url("/shop/oauth2/tokens")), Some(&token)).await;
    assert_eq!(status, 204);
    let (status, _) = cart(&host, &token).await;
    assert_eq!(status, 401);
    let (_, v) = common::post_as_demo_client(&host, "/introspect", &[("token", &token)]).await;
    assert_eq!(v, json!({"active": false}));
    let (status, _, _) = send(http().delete(host.url("/shop/oauth2/tokens")), Some(&token)).await;
    assert_eq!(status, 401, "a revoked token is invalid");
}

/// The cart of `subject` as the demo host persisted it (`--data-dir`/carts.json).
fn host_items(host: &Host, subject: &str) -> Value {
    let bytes = std::fs::read(host.data.path().join("carts.json")).unwrap_or_default();
    let carts: Value = serde_json::from_slice(&bytes).unwrap_or(json!({}));
    carts.get(subject).cloned().unwrap_or(json!([]))
}

#[tokio::test]
async fn a_client_upgrades_its_guest_token_at_the_token_endpoint() {
    let host = Host::start().await;
    let token = guest(&host, "demo-shop").await;
    let (code, verifier) = login_at_shop(&host, "openid api:read").await;
    let resp = http()
        .post(host.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", "demo-shop"),
            ("code", &code),
            ("code_verifier", &verifier),
            ("redirect_uri", DEMO_REDIRECT_URI),
            ("guest_token", &token),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["access_token"], token.as_str());
    let (_, cart) = cart(&host, &token).await;
    assert_eq!(cart["subject"], "alice");
}

#[tokio::test]
async fn refused_upgrades_are_4xx_and_leave_the_guest_token_unchanged() {
    let host = Host::start().await;
    let item = json!({"sku": "scone"});
    // A guest token of another client (demo-kiosk) with a demo-shop code.
    let kiosk = guest(&host, "demo-kiosk").await;
    send(
        http().post(host.url("/shop/cart")).json(&item),
        Some(&kiosk),
    )
    .await;
    let (_, before) = cart(&host, &kiosk).await;
    let kiosk_subject = before["subject"].as_str().expect("subject").to_owned();
    let (code, verifier) = login_at_shop(&host, "openid").await;
    let (status, body) = upgrade(&host, &kiosk, &code, &verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    assert_eq!(
        body["error_description"],
        "the guest token was issued to another client"
    );
    assert_guest_unchanged(&host, &kiosk, &kiosk_subject, &json!([item])).await;

    // A wrong verifier: refused, the guest token and the code unchanged.
    let shop = guest(&host, "demo-shop").await;
    send(http().post(host.url("/shop/cart")).json(&item), Some(&shop)).await;
    let (_, before) = cart(&host, &shop).await;
    let shop_subject = before["subject"].as_str().expect("subject").to_owned();
    let (wrong, _) = pkce_pair();
    let (status, body) = upgrade(&host, &shop, &code, &wrong).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    assert_guest_unchanged(&host, &shop, &shop_subject, &json!([item])).await;
    // ... the code still works with the right verifier.
    let (status, _) = upgrade(&host, &shop, &code, &verifier).await;
    assert_eq!(status, 201, "nothing was consumed by the refusals");

    // A replayed code: refused, and the other guest token stays a guest.
    let other = guest(&host, "demo-shop").await;
    let (_, before) = cart(&host, &other).await;
    let other_subject = before["subject"].as_str().expect("subject").to_owned();
    let (status, body) = upgrade(&host, &other, &code, &verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    assert_guest_unchanged(&host, &other, &other_subject, &json!([])).await;
    // RFC 6749 §4.1.2: what the code issued is revoked, the upgraded token with it.
    let (status, _) = cart(&host, &shop).await;
    assert_eq!(status, 401, "the replayed code's grant is revoked");

    // Not JSON, or no code: a clear 400.
    let (status, body, _) = send(
        http()
            .post(host.url("/shop/openidconnect/form"))
            .body("code=1"),
        Some(&other),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
}

#[tokio::test]
async fn an_expired_guest_token_is_refused_and_the_code_stays_usable() {
    let host = Host::start_with(|o| o.guest_token_ttl = 60).await;
    let t = guest_token(&host, "demo-shop").await;
    assert_eq!(t["expires_in"], 60, "--guest-token-ttl");
    let token = t["access_token"].as_str().expect("token").to_owned();
    host.clock.advance(idpkit::time::Duration::seconds(61));
    let (code, verifier) = login_at_shop(&host, "openid").await;
    let (status, body) = upgrade(&host, &token, &code, &verifier).await;
    assert_eq!(status, 401, "an expired token is invalid: {body}");
    let (status, _) = cart(&host, &token).await;
    assert_eq!(status, 401, "still expired, not upgraded");
    let fresh = guest(&host, "demo-shop").await;
    let (status, _) = upgrade(&host, &fresh, &code, &verifier).await;
    assert_eq!(status, 201, "the code was not consumed");
}
