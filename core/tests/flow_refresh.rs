//! Refresh tokens from the authorization-code flow, in process on the memory store and a
//! manual clock: rotation on every use, reuse of a rotated token revoking the whole grant
//! family (RFC 9700 §4.14.2), scope narrowing only (RFC 6749 §6), client binding, expiry.

mod support;

use idpkit_core::time::Duration;
use serde_json::{Value, json};
use support::*;

const OFFLINE: &str = "openid email offline_access api:read";

fn rt(t: &Value) -> String {
    t["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_owned()
}

fn at(t: &Value) -> String {
    t["access_token"].as_str().expect("access_token").to_owned()
}

#[tokio::test]
async fn refresh_rotates_the_token_and_issues_fresh_tokens_rfc9700_4_14_2() {
    let env = env();
    let t1 = env.tokens(DEMO_CLIENT, OFFLINE).await;
    let login_time = jwt_claims(t1["id_token"].as_str().expect("id"))["auth_time"].clone();
    env.advance(Duration::minutes(30));
    let (s, t2) = env.refresh(DEMO_CLIENT, &rt(&t1)).await;
    assert_eq!(s, 200, "{t2}");
    assert_ne!(rt(&t2), rt(&t1), "a new refresh token on every use");
    assert_ne!(at(&t2), at(&t1));
    assert_eq!(t2["scope"], OFFLINE, "§6: the original scope by default");
    let id = jwt_claims(t2["id_token"].as_str().expect("id_token on refresh"));
    assert_eq!(id["sub"], "alice");
    assert_eq!(
        id["auth_time"], login_time,
        "OIDC Core §12.2: the original auth_time"
    );
    // RFC 7662: the rotated token is inactive, its successor active.
    assert!(
        !env.active(&rt(&t1)).await,
        "rotated refresh token inactive"
    );
    let intro = env.introspect(&rt(&t2)).await;
    assert_eq!(intro["active"], true);
    assert_eq!(intro["token_type"], "refresh_token");
    assert_eq!(intro["scope"], OFFLINE);
    // The first access token lives on until it expires (only reuse revokes the family).
    assert!(env.active(&at(&t1)).await);
    assert!(env.active(&at(&t2)).await);
}

#[tokio::test]
async fn replaying_a_rotated_refresh_token_revokes_the_whole_family_rfc9700_4_14_2() {
    let env = env();
    let t1 = env.tokens(DEMO_CLIENT, OFFLINE).await;
    let (s, t2) = env.refresh(DEMO_CLIENT, &rt(&t1)).await;
    assert_eq!(s, 200);
    let (s, t3) = env.refresh(DEMO_CLIENT, &rt(&t2)).await;
    assert_eq!(s, 200);
    assert_eq!(env.userinfo(&at(&t3)).await.status, 200);
    // An attacker (or a confused client) replays the first, long rotated token.
    let (s, b) = env.refresh(DEMO_CLIENT, &rt(&t1)).await;
    assert_eq!((s, error(&b)), (400, "invalid_grant"));
    // Every token of the family is dead: the live successor ...
    let (s, b) = env.refresh(DEMO_CLIENT, &rt(&t3)).await;
    assert_eq!((s, error(&b)), (400, "invalid_grant"), "successor revoked");
    assert!(!env.active(&rt(&t3)).await);
    // ... and every access token, at introspection and at userinfo.
    for t in [&t1, &t2, &t3] {
        assert!(!env.active(&at(t)).await, "access token revoked");
        let ui = env.userinfo(&at(t)).await;
        assert_eq!(ui.status, 401);
        assert_eq!(error(&ui.json_value()), "invalid_token");
        let challenge = ui.header_value("www-authenticate").expect("RFC 6750 §3");
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    }
}

#[tokio::test]
async fn reuse_revokes_only_its_own_family_rfc9700_4_14_2() {
    let env = env();
    let a1 = env.tokens(DEMO_CLIENT, OFFLINE).await;
    let other = env.tokens(DEMO_CLIENT, OFFLINE).await;
    let (_, a2) = env.refresh(DEMO_CLIENT, &rt(&a1)).await;
    let (s, _) = env.refresh(DEMO_CLIENT, &rt(&a1)).await;
    assert_eq!(s, 400);
    assert!(!env.active(&at(&a2)).await);
    // Another grant of the same user and client is untouched.
    assert!(env.active(&at(&other)).await);
    let (s, b) = env.refresh(DEMO_CLIENT, &rt(&other)).await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn refresh_may_narrow_the_scope_and_keeps_the_original_for_later_rfc6749_6() {
    let env = env();
    let t1 = env.tokens(DEMO_CLIENT, OFFLINE).await;
    let (s, narrow) = env
        .token(
            DEMO_CLIENT,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &rt(&t1)),
                ("scope", "api:read"),
            ],
        )
        .await;
    assert_eq!(s, 200, "{narrow}");
    assert_eq!(narrow["scope"], "api:read");
    assert!(narrow.get("id_token").is_none(), "no openid: no ID token");
    let claims = jwt_claims(&at(&narrow));
    assert_eq!(claims["scope"], "api:read");
    assert_eq!(
        env.userinfo(&at(&narrow)).await.status,
        403,
        "no openid scope"
    );
    // "the new refresh token scope MUST be identical to that of the refresh token included
    // by the client in the request": the next refresh gets the full scope back.
    let (s, full) = env.refresh(DEMO_CLIENT, &rt(&narrow)).await;
    assert_eq!(s, 200);
    assert_eq!(full["scope"], OFFLINE);
}

#[tokio::test]
async fn refresh_widening_the_scope_is_invalid_scope_and_consumes_nothing_rfc6749_6() {
    let env = env();
    let t1 = env.tokens(DEMO_CLIENT, "openid offline_access").await;
    // "profile" is allowed for the client but was never granted; "admin" is not even allowed.
    for widened in ["openid offline_access profile", "openid admin"] {
        let (s, b) = env
            .token(
                DEMO_CLIENT,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &rt(&t1)),
                    ("scope", widened),
                ],
            )
            .await;
        assert_eq!((s, error(&b)), (400, "invalid_scope"), "{widened}");
    }
    // The refused requests did not rotate or revoke anything.
    assert!(env.active(&rt(&t1)).await);
    assert!(env.active(&at(&t1)).await);
    let (s, b) = env.refresh(DEMO_CLIENT, &rt(&t1)).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["scope"], "openid offline_access");
}

#[tokio::test]
async fn another_clients_refresh_token_is_invalid_grant_and_left_alone_rfc6749_6() {
    let env = env();
    let mine = env.tokens(DEMO_CLIENT, OFFLINE).await;
    let theirs = env.tokens(DEMO_PUBLIC, OFFLINE).await;
    // demo-public presents demo-client's token, and the other way round.
    let (s, b) = env.refresh(DEMO_PUBLIC, &rt(&mine)).await;
    assert_eq!((s, error(&b)), (400, "invalid_grant"));
    let (s, b) = env.refresh(DEMO_CLIENT, &rt(&theirs)).await;
    assert_eq!((s, error(&b)), (400, "invalid_grant"));
    // Neither attempt spent or revoked the owner's token.
    // (demo-client may introspect only its own tokens: demo-public's goes to userinfo.)
    assert!(env.active(&at(&mine)).await);
    assert_eq!(env.userinfo(&at(&theirs)).await.status, 200);
    let (s, b) = env.refresh(DEMO_CLIENT, &rt(&mine)).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = env.refresh(DEMO_PUBLIC, &rt(&theirs)).await;
    assert_eq!(s, 200, "{b}");
    // demo-client cannot even see demo-public's refresh token at introspection.
    let (_, t) = env.refresh(DEMO_PUBLIC, &rt(&b)).await;
    assert_eq!(env.introspect(&rt(&t)).await, json!({"active": false}));
}

#[tokio::test]
async fn a_refresh_token_expires_with_its_lifetime_rfc6749_6() {
    let env = env();
    let t1 = env.tokens(DEMO_CLIENT, OFFLINE).await;
    // Default lifetime 14 days; each rotation starts a new one.
    env.advance(Duration::days(14) - Duration::seconds(1));
    let (s, t2) = env.refresh(DEMO_CLIENT, &rt(&t1)).await;
    assert_eq!(s, 200, "{t2}");
    env.advance(Duration::days(14));
    let (s, b) = env.refresh(DEMO_CLIENT, &rt(&t2)).await;
    assert_eq!((s, error(&b)), (400, "invalid_grant"), "expired");
    assert!(!env.active(&rt(&t2)).await);
}

#[tokio::test]
async fn a_configured_refresh_lifetime_is_honoured_rfc6749_6() {
    let env = env_with(|b| b.refresh_token_ttl(Duration::hours(2)));
    let t1 = env.tokens(DEMO_CLIENT, OFFLINE).await;
    env.advance(Duration::hours(2));
    let (s, b) = env.refresh(DEMO_CLIENT, &rt(&t1)).await;
    assert_eq!((s, error(&b)), (400, "invalid_grant"));
}

#[tokio::test]
async fn a_grant_refreshed_often_ends_at_its_absolute_lifetime_rfc9700_4_14_2() {
    // Default: 14 days sliding, 30 days absolute from the login.
    let env = env();
    let mut t = env.tokens(DEMO_CLIENT, OFFLINE).await;
    for _ in 0..2 {
        env.advance(Duration::days(10));
        let (s, next) = env.refresh(DEMO_CLIENT, &rt(&t)).await;
        assert_eq!(s, 200, "{next}");
        t = next;
    }
    // Day 20: the new token's sliding lifetime would reach day 34; it is cut at day 30.
    env.advance(Duration::days(10) - Duration::seconds(1));
    let (s, next) = env.refresh(DEMO_CLIENT, &rt(&t)).await;
    assert_eq!(s, 200, "day 30 minus a second: {next}");
    env.advance(Duration::seconds(1));
    assert!(!env.active(&rt(&next)).await, "expired at the absolute end");
    let (s, b) = env.refresh(DEMO_CLIENT, &rt(&next)).await;
    assert_eq!((s, error(&b)), (400, "invalid_grant"), "{b}");
}

#[tokio::test]
async fn the_absolute_refresh_lifetime_is_configurable_per_provider_and_per_client() {
    let env = env_with(|b| b.refresh_token_absolute_ttl(Duration::hours(3)));
    let t = env.tokens(DEMO_CLIENT, OFFLINE).await;
    env.advance(Duration::hours(2));
    let (s, t2) = env.refresh(DEMO_CLIENT, &rt(&t)).await;
    assert_eq!(s, 200, "{t2}");
    env.advance(Duration::hours(1));
    let (s, b) = env.refresh(DEMO_CLIENT, &rt(&t2)).await;
    assert_eq!((s, error(&b)), (400, "invalid_grant"), "provider knob: {b}");

    let mut list = clients();
    list[0] = idpkit_core::Client::confidential(DEMO_CLIENT, DEMO_SECRET)
        .redirect_uri(REDIRECT)
        .scopes(SCOPES)
        .first_party(true)
        .refresh_token_absolute_ttl(Duration::hours(1))
        .build()
        .expect("client");
    let env = env_with(|b| b.clients(idpkit_core::StaticClients::new(list).expect("clients")));
    let t = env.tokens(DEMO_CLIENT, OFFLINE).await;
    env.advance(Duration::hours(1));
    let (s, b) = env.refresh(DEMO_CLIENT, &rt(&t)).await;
    assert_eq!((s, error(&b)), (400, "invalid_grant"), "client knob: {b}");
}

#[tokio::test]
async fn access_tokens_expire_after_an_hour_at_introspection_and_userinfo_rfc6749_5_1() {
    let env = env();
    let t = env.tokens(DEMO_CLIENT, OFFLINE).await;
    assert_eq!(t["expires_in"], 3600);
    env.advance(Duration::minutes(59));
    assert!(env.active(&at(&t)).await);
    assert_eq!(env.userinfo(&at(&t)).await.status, 200);
    env.advance(Duration::minutes(1));
    assert!(!env.active(&at(&t)).await);
    assert_eq!(env.userinfo(&at(&t)).await.status, 401);
    // The refresh token outlives it and gets a new one.
    let (s, t2) = env.refresh(DEMO_CLIENT, &rt(&t)).await;
    assert_eq!(s, 200);
    assert!(env.active(&at(&t2)).await);
}

#[tokio::test]
async fn no_refresh_token_without_offline_access_oidc_core_11() {
    let env = env();
    let t = env.tokens(DEMO_PUBLIC, "openid email").await;
    assert!(t.get("refresh_token").is_none(), "{t}");
}

#[tokio::test]
async fn unknown_and_missing_refresh_tokens_are_refused_rfc6749_5_2() {
    let env = env();
    let (s, b) = env.refresh(DEMO_CLIENT, "not-a-token").await;
    assert_eq!((s, error(&b)), (400, "invalid_grant"));
    let (s, b) = env
        .token(DEMO_CLIENT, &[("grant_type", "refresh_token")])
        .await;
    assert_eq!((s, error(&b)), (400, "invalid_request"));
    // A wrong secret is invalid_client, 401, and spends nothing.
    let t = env.tokens(DEMO_CLIENT, OFFLINE).await;
    let r = env
        .provider
        .token(&idpkit_core::testkit::flows::token_request(
            &[("grant_type", "refresh_token"), ("refresh_token", &rt(&t))],
            DEMO_CLIENT,
            Some("wrong"),
        ))
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(error(&r.json_value()), "invalid_client");
    let (s, _) = env.refresh(DEMO_CLIENT, &rt(&t)).await;
    assert_eq!(s, 200);
}
