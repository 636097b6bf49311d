//! An account the host no longer knows gets nothing (the `UserStore` contract): the user is
//! checked on every issuance, not only when an ID token is minted: refresh and code
//! exchange without `openid`, and SSO continuations, in process on the memory store.

mod support;

use std::sync::Arc;

use idpkit_core::testkit::users::TestUsers;
use idpkit_core::{Authorization, Needs};
use serde_json::Value;
use support::*;

/// Scopes without `openid`: no ID token is due, so nothing but the new rule asks the host.
const NO_OPENID: &str = "offline_access api:read";

fn with_users() -> (Env, Arc<TestUsers>) {
    let users = Arc::new(TestUsers::demo());
    let shared = users.clone();
    (env_with(move |b| b.users_arc(shared)), users)
}

fn rt(t: &Value) -> String {
    t["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_owned()
}

#[tokio::test]
async fn a_refresh_for_a_removed_user_is_refused_and_revokes_the_grant_without_openid() {
    let (env, users) = with_users();
    let t = env.tokens(DEMO_CLIENT, NO_OPENID).await;
    assert!(t.get("id_token").is_none(), "no openid, no ID token");
    let (s, t2) = env.refresh(DEMO_CLIENT, &rt(&t)).await;
    assert_eq!(s, 200, "{t2}");
    users.remove("alice");
    let (s, b) = env.refresh(DEMO_CLIENT, &rt(&t2)).await;
    assert_eq!((s, error(&b)), (400, "invalid_grant"), "{b}");
    assert_eq!(b["error_description"], "the user no longer exists");
    // The grant is revoked: its access tokens are dead, and the user's return does not
    // bring the refresh token back.
    assert!(!env.active(t2["access_token"].as_str().expect("at")).await);
    users.insert("alice", Some("wonderland"), Default::default());
    let (s, b) = env.refresh(DEMO_CLIENT, &rt(&t2)).await;
    assert_eq!((s, error(&b)), (400, "invalid_grant"), "revoked for good");
}

#[tokio::test]
async fn a_code_for_a_removed_user_is_refused_without_openid() {
    let (env, users) = with_users();
    let code = env.code(&mut Browser::new(), DEMO_CLIENT, NO_OPENID).await;
    users.remove("alice");
    let (s, b) = env.exchange(DEMO_CLIENT, &code).await;
    assert_eq!((s, error(&b)), (400, "invalid_grant"), "{b}");
}

#[tokio::test]
async fn an_sso_session_of_a_removed_user_ends_and_asks_for_a_login() {
    let (env, users) = with_users();
    let mut b = Browser::new();
    env.code(&mut b, DEMO_CLIENT, NO_OPENID).await;
    // The session answers at once while alice exists ...
    let a = env
        .authorize(&mut b, &authz(DEMO_CLIENT, NO_OPENID, &[]))
        .await;
    assert!(
        matches!(a, Authorization::Respond(_)),
        "SSO: a code at once"
    );
    users.remove("alice");
    // ... and once she is gone, `prompt=none` finds no session, and a plain request asks
    // for a login again (no code for the removed account).
    let a = env
        .authorize(
            &mut b,
            &authz(DEMO_CLIENT, NO_OPENID, &[("prompt", "none")]),
        )
        .await;
    assert_error_redirect(a, "login_required", None);
    let a = env
        .authorize(&mut b, &authz(DEMO_CLIENT, NO_OPENID, &[]))
        .await;
    pending_for(a, Needs::Login);
}
