//! SSO sessions (#14 items 2 and 6): every ID token carries the `sid` of the session it
//! came from (refreshed ones too), a new login in the same browser replaces the old
//! session, and a session ends after its idle lifetime as well as its absolute one.

mod support;

use idpkit_core::time::Duration;
use support::*;

fn sid_of(tokens: &serde_json::Value) -> String {
    let id_token = tokens["id_token"].as_str().expect("an ID token");
    jwt_claims(id_token)["sid"]
        .as_str()
        .expect("sid in the ID token (Back-Channel Logout §2.1)")
        .to_owned()
}

#[tokio::test]
async fn id_tokens_carry_the_sid_of_their_session_and_keep_it_through_refresh() {
    let env = env();
    let mut b = Browser::new();
    let code = env.code(&mut b, DEMO_CLIENT, "openid offline_access").await;
    let (s, first) = env.exchange(DEMO_CLIENT, &code).await;
    assert_eq!(s, 200, "{first}");
    let sid = sid_of(&first);
    assert!(
        b.cookies.iter().all(|(_, v)| *v != sid),
        "the sid is not the session cookie's secret"
    );
    // The same browser, through SSO (no login): the same session.
    let code = env.code(&mut b, DEMO_CLIENT, "openid").await;
    let (_, again) = env.exchange(DEMO_CLIENT, &code).await;
    assert_eq!(sid_of(&again), sid);
    // A refreshed ID token names the same session (OIDC Core §12.2).
    let rt = first["refresh_token"].as_str().expect("refresh token");
    let (s, refreshed) = env.refresh(DEMO_CLIENT, rt).await;
    assert_eq!(s, 200, "{refreshed}");
    assert_eq!(sid_of(&refreshed), sid);
    // Another browser: another session.
    let other = env.tokens(DEMO_CLIENT, "openid").await;
    assert_ne!(sid_of(&other), sid);
}

#[tokio::test]
async fn a_new_login_replaces_the_session_the_browser_had() {
    let env = env();
    let mut b = Browser::new();
    env.code(&mut b, DEMO_CLIENT, "openid").await;
    let old = b.clone();
    // prompt=login in the same browser: a fresh login, a new session.
    let r = env
        .run_authorization(
            &mut b,
            &authz(DEMO_CLIENT, "openid", &[("prompt", "login")]),
        )
        .await;
    assert!(param(&redirect_params(&r), "code").is_some());
    // The old cookie (kept by an attacker, or a second tab) no longer answers silently.
    let mut stale = old;
    let a = env
        .authorize(
            &mut stale,
            &authz(DEMO_CLIENT, "openid", &[("prompt", "none")]),
        )
        .await;
    let r = respond(a);
    assert_eq!(
        param(&redirect_params(&r), "error"),
        Some("login_required"),
        "the replaced session must not issue codes"
    );
    // The new one does.
    let a = env
        .authorize(&mut b, &authz(DEMO_CLIENT, "openid", &[("prompt", "none")]))
        .await;
    assert!(param(&redirect_params(&respond(a)), "code").is_some());
}

#[tokio::test]
async fn a_session_ends_after_its_idle_lifetime_and_at_its_absolute_one() {
    let env = env_with(|b| {
        b.session_ttl(Duration::hours(10))
            .session_idle_ttl(Duration::hours(2))
    });
    let mut b = Browser::new();
    env.code(&mut b, DEMO_CLIENT, "openid").await;
    let silent = authz(DEMO_CLIENT, "openid", &[("prompt", "none")]);
    // Used every 90 minutes, it lives on...
    for _ in 0..5 {
        env.advance(Duration::minutes(90));
        let r = respond(env.authorize(&mut b, &silent).await);
        assert!(
            param(&redirect_params(&r), "code").is_some(),
            "used within its idle lifetime"
        );
    }
    // ... up to its absolute lifetime (10 h after the login; 7.5 h have passed).
    env.advance(Duration::minutes(90));
    let r = respond(env.authorize(&mut b, &silent).await);
    assert!(
        param(&redirect_params(&r), "code").is_some(),
        "9 h: still within"
    );
    env.advance(Duration::minutes(90));
    let r = respond(env.authorize(&mut b, &silent).await);
    assert_eq!(
        param(&redirect_params(&r), "error"),
        Some("login_required"),
        "10.5 h"
    );
    // Idle: a new session left alone for more than 2 h ends.
    let mut b = Browser::new();
    env.code(&mut b, DEMO_CLIENT, "openid").await;
    env.advance(Duration::minutes(121));
    let r = respond(env.authorize(&mut b, &silent).await);
    assert_eq!(
        param(&redirect_params(&r), "error"),
        Some("login_required"),
        "idle"
    );
}
