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

#[tokio::test]
async fn hosts_list_a_subjects_sessions_and_end_one_of_them() {
    let env = env();
    let (mut phone, mut laptop) = (Browser::new(), Browser::new());
    env.code(&mut phone, DEMO_CLIENT, "openid").await;
    env.advance(Duration::minutes(5));
    env.code(&mut laptop, DEMO_CLIENT, "openid").await;
    env.code(&mut laptop, DEMO_PUBLIC, "openid").await;
    let sessions = env.provider.sessions_of("alice").await.expect("list");
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0].clients, [DEMO_CLIENT]);
    assert_eq!(sessions[1].clients, [DEMO_CLIENT, DEMO_PUBLIC]);
    assert!(sessions[1].created_at > sessions[0].created_at);
    assert!(
        env.provider
            .sessions_of("bob")
            .await
            .expect("list")
            .is_empty()
    );
    // End the phone's session: the laptop's lives on.
    let phone_sid = sessions[0].sid.clone();
    assert!(
        !env.provider
            .end_session_of("bob", &phone_sid)
            .await
            .expect("end"),
        "only the subject's own sessions"
    );
    assert!(
        env.provider
            .end_session_of("alice", &phone_sid)
            .await
            .expect("end")
    );
    let silent = authz(DEMO_CLIENT, "openid", &[("prompt", "none")]);
    let r = respond(env.authorize(&mut phone, &silent).await);
    assert_eq!(param(&redirect_params(&r), "error"), Some("login_required"));
    let r = respond(env.authorize(&mut laptop, &silent).await);
    assert!(param(&redirect_params(&r), "code").is_some());
    assert_eq!(
        env.provider.sessions_of("alice").await.expect("list").len(),
        1
    );
}

#[tokio::test]
async fn log_out_everywhere_ends_every_session_at_every_instance() {
    let a = env();
    let b = env_with(|builder| {
        builder
            .grant_store_arc(a.store.clone())
            .clock(a.clock.clone())
    });
    let (mut one, mut two) = (Browser::new(), Browser::new());
    a.code(&mut one, DEMO_CLIENT, "openid").await;
    b.code(&mut two, DEMO_CLIENT, "openid").await;
    let t = a.tokens(DEMO_CLIENT, "openid").await;
    assert_eq!(a.provider.end_all_sessions("alice").await.expect("all"), 3);
    let silent = authz(DEMO_CLIENT, "openid", &[("prompt", "none")]);
    for (env, browser) in [(&b, &mut one), (&a, &mut two)] {
        let r = respond(env.authorize(browser, &silent).await);
        assert_eq!(param(&redirect_params(&r), "error"), Some("login_required"));
    }
    assert!(
        !a.active(t["access_token"].as_str().expect("at")).await,
        "grants revoked"
    );
    assert!(
        a.provider
            .sessions_of("alice")
            .await
            .expect("list")
            .is_empty()
    );
    // A new login afterwards works as usual.
    let mut three = Browser::new();
    a.code(&mut three, DEMO_CLIENT, "openid").await;
    let r = respond(a.authorize(&mut three, &silent).await);
    assert!(param(&redirect_params(&r), "code").is_some());
}

#[tokio::test]
async fn log_out_everywhere_also_ends_a_session_missing_from_the_list() {
    use idpkit_core::{GrantStore, RecordKind};
    let env = env();
    let mut b = Browser::new();
    env.code(&mut b, DEMO_CLIENT, "openid").await;
    // As if two instances had raced on the list and one entry were lost.
    let list = idpkit_core::crypto::sha256_b64(b"idpkit-subject-sessions:alice");
    env.store
        .delete(RecordKind::SubjectSessions, &list)
        .await
        .expect("delete");
    assert_eq!(
        env.provider.end_all_sessions("alice").await.expect("all"),
        0
    );
    let silent = authz(DEMO_CLIENT, "openid", &[("prompt", "none")]);
    let r = respond(env.authorize(&mut b, &silent).await);
    assert_eq!(
        param(&redirect_params(&r), "error"),
        Some("login_required"),
        "the session epoch ended it anyway"
    );
}

#[tokio::test]
async fn a_login_beyond_the_session_bound_ends_the_oldest_sso_but_not_its_tokens() {
    let env = env();
    let mut first = Browser::new();
    let code = env.code(&mut first, DEMO_CLIENT, "openid").await;
    let (_, t) = env.exchange(DEMO_CLIENT, &code).await;
    for _ in 0..32 {
        env.code(&mut Browser::new(), DEMO_CLIENT, "openid").await;
    }
    assert_eq!(
        env.provider.sessions_of("alice").await.expect("list").len(),
        32
    );
    let silent = authz(DEMO_CLIENT, "openid", &[("prompt", "none")]);
    let r = respond(env.authorize(&mut first, &silent).await);
    assert_eq!(param(&redirect_params(&r), "error"), Some("login_required"));
    assert!(
        env.active(t["access_token"].as_str().expect("at")).await,
        "the tokens of the evicted session live on"
    );
}
