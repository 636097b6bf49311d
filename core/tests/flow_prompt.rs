//! Every `prompt` and `max_age` branch of the authorization endpoint (OIDC Core §3.1.2.1),
//! in process on the memory store and a manual clock, and `auth_time` in the ID token.

mod support;

use idpkit_core::time::Duration;
use idpkit_core::{InteractionOutcome, Needs};
use support::*;

fn login() -> InteractionOutcome {
    InteractionOutcome::Login {
        subject: "alice".into(),
    }
}

/// A browser with alice's SSO session (logged in through demo-client, first party).
async fn logged_in(env: &Env) -> Browser {
    let mut b = Browser::new();
    env.code(&mut b, DEMO_CLIENT, "openid").await;
    b
}

async fn auth_time_of(env: &Env, client_id: &str, r: &idpkit_core::Response) -> i64 {
    let code = param(&redirect_params(r), "code").expect("code").to_owned();
    let (s, t) = env.exchange(client_id, &code).await;
    assert_eq!(s, 200, "{t}");
    jwt_claims(t["id_token"].as_str().expect("id_token"))["auth_time"]
        .as_i64()
        .expect("auth_time")
}

#[tokio::test]
async fn prompt_none_without_a_session_is_login_required_oidc_core_3_1_2_6() {
    let env = env();
    let before = env.store.len();
    let a = env
        .authorize(
            &mut Browser::new(),
            &authz(
                DEMO_CLIENT,
                "openid",
                &[("prompt", "none"), ("state", "pn")],
            ),
        )
        .await;
    assert_error_redirect(a, "login_required", Some("pn"));
    assert_eq!(env.store.len(), before, "no interaction was stored");
}

#[tokio::test]
async fn prompt_none_with_a_session_answers_at_once_oidc_core_3_1_2_1() {
    let env = env();
    let mut b = logged_in(&env).await;
    let r = respond(
        env.authorize(&mut b, &authz(DEMO_CLIENT, "openid", &[("prompt", "none")]))
            .await,
    );
    assert!(param(&redirect_params(&r), "code").is_some());
}

#[tokio::test]
async fn prompt_none_needing_consent_is_consent_required_oidc_core_3_1_2_6() {
    let env = env();
    let mut b = logged_in(&env).await;
    let a = env
        .authorize(
            &mut b,
            &authz(
                DEMO_PUBLIC,
                "openid",
                &[("prompt", "none"), ("state", "pc")],
            ),
        )
        .await;
    assert_error_redirect(a, "consent_required", Some("pc"));
    // Once consent is remembered, prompt=none answers with a code.
    env.run_authorization(&mut b, &authz(DEMO_PUBLIC, "openid", &[]))
        .await;
    let r = respond(
        env.authorize(&mut b, &authz(DEMO_PUBLIC, "openid", &[("prompt", "none")]))
            .await,
    );
    assert!(param(&redirect_params(&r), "code").is_some());
    // A scope beyond the remembered consent needs consent again.
    let a = env
        .authorize(
            &mut b,
            &authz(DEMO_PUBLIC, "openid email", &[("prompt", "none")]),
        )
        .await;
    assert_error_redirect(a, "consent_required", None);
}

#[tokio::test]
async fn prompt_login_with_a_session_forces_a_new_login_oidc_core_3_1_2_1() {
    let env = env();
    let mut b = logged_in(&env).await;
    let first_login = env.now();
    env.advance(Duration::minutes(3));
    let p = pending_for(
        env.authorize(
            &mut b,
            &authz(DEMO_CLIENT, "openid", &[("prompt", "login")]),
        )
        .await,
        Needs::Login,
    );
    let details = env
        .provider
        .interaction(&p.id, &b.request(idpkit_core::Method::Get, &[]))
        .await
        .expect("details");
    assert_eq!(details.prompt, ["login"]);
    let r = respond(env.finish(&mut b, &p.id, login()).await.expect("login"));
    let auth_time = auth_time_of(&env, DEMO_CLIENT, &r).await;
    assert_eq!(auth_time, first_login + 180, "auth_time is the new login");
    // Without prompt the (new) session answers at once.
    respond(
        env.authorize(&mut b, &authz(DEMO_CLIENT, "openid", &[]))
            .await,
    );
}

#[tokio::test]
async fn prompt_consent_forces_consent_for_a_first_party_client_oidc_core_3_1_2_1() {
    let env = env();
    let mut b = logged_in(&env).await;
    let c = pending_for(
        env.authorize(
            &mut b,
            &authz(DEMO_CLIENT, "openid", &[("prompt", "consent")]),
        )
        .await,
        Needs::Consent,
    );
    let r = respond(
        env.finish(
            &mut b,
            &c.id,
            InteractionOutcome::Consent {
                scopes: vec!["openid".into()],
            },
        )
        .await
        .expect("consent"),
    );
    assert!(param(&redirect_params(&r), "code").is_some());
}

#[tokio::test]
async fn prompt_consent_forces_consent_even_when_remembered_oidc_core_3_1_2_1() {
    let env = env();
    let mut b = Browser::new();
    env.run_authorization(&mut b, &authz(DEMO_PUBLIC, "openid", &[]))
        .await;
    respond(
        env.authorize(&mut b, &authz(DEMO_PUBLIC, "openid", &[]))
            .await,
    );
    pending_for(
        env.authorize(
            &mut b,
            &authz(DEMO_PUBLIC, "openid", &[("prompt", "consent")]),
        )
        .await,
        Needs::Consent,
    );
}

#[tokio::test]
async fn prompt_login_consent_asks_for_both_even_for_a_first_party_client_oidc_core_3_1_2_1() {
    let env = env();
    let mut b = logged_in(&env).await;
    let p = pending_for(
        env.authorize(
            &mut b,
            &authz(DEMO_CLIENT, "openid", &[("prompt", "login consent")]),
        )
        .await,
        Needs::Login,
    );
    let c = pending_for(
        env.finish(&mut b, &p.id, login()).await.expect("login"),
        Needs::Consent,
    );
    assert_eq!(c.id, p.id);
}

#[tokio::test]
async fn prompt_none_combined_with_another_value_is_invalid_request_oidc_core_3_1_2_1() {
    let env = env();
    let mut b = logged_in(&env).await;
    for prompt in ["none login", "consent none", "none select_account"] {
        let a = env
            .authorize(
                &mut b,
                &authz(DEMO_CLIENT, "openid", &[("prompt", prompt), ("state", "x")]),
            )
            .await;
        assert_error_redirect(a, "invalid_request", Some("x"));
    }
}

#[tokio::test]
async fn an_unknown_prompt_value_is_invalid_request_oidc_core_3_1_2_1() {
    let env = env();
    let mut b = logged_in(&env).await;
    for prompt in ["bogus", "login bogus", "NONE"] {
        let a = env
            .authorize(&mut b, &authz(DEMO_CLIENT, "openid", &[("prompt", prompt)]))
            .await;
        let p = assert_error_redirect(a, "invalid_request", None);
        assert!(
            param(&p, "error_description")
                .unwrap_or("")
                .contains("prompt"),
            "{p:?}"
        );
    }
    // select_account is understood; with one account there is nothing to select.
    respond(
        env.authorize(
            &mut b,
            &authz(DEMO_CLIENT, "openid", &[("prompt", "select_account")]),
        )
        .await,
    );
}

#[tokio::test]
async fn max_age_exceeded_forces_a_login_and_auth_time_is_in_the_id_token_oidc_core_3_1_2_1() {
    let env = env();
    let mut b = logged_in(&env).await;
    let login_time = env.now();
    env.advance(Duration::seconds(60));
    // Exactly max_age seconds old: still fresh enough.
    let r = respond(
        env.authorize(&mut b, &authz(DEMO_CLIENT, "openid", &[("max_age", "60")]))
            .await,
    );
    assert_eq!(
        auth_time_of(&env, DEMO_CLIENT, &r).await,
        login_time,
        "§3.1.2.1: with max_age the ID token carries auth_time"
    );
    env.advance(Duration::seconds(1));
    let p = pending_for(
        env.authorize(&mut b, &authz(DEMO_CLIENT, "openid", &[("max_age", "60")]))
            .await,
        Needs::Login,
    );
    let r = respond(env.finish(&mut b, &p.id, login()).await.expect("login"));
    assert_eq!(auth_time_of(&env, DEMO_CLIENT, &r).await, login_time + 61);
    // The new login satisfies the same max_age at once.
    respond(
        env.authorize(&mut b, &authz(DEMO_CLIENT, "openid", &[("max_age", "60")]))
            .await,
    );
}

#[tokio::test]
async fn max_age_exceeded_with_prompt_none_is_login_required_oidc_core_3_1_2_6() {
    let env = env();
    let mut b = logged_in(&env).await;
    env.advance(Duration::seconds(11));
    let a = env
        .authorize(
            &mut b,
            &authz(
                DEMO_CLIENT,
                "openid",
                &[("max_age", "10"), ("prompt", "none")],
            ),
        )
        .await;
    assert_error_redirect(a, "login_required", None);
}

#[tokio::test]
async fn max_age_zero_forces_a_login_once_time_has_passed_oidc_core_3_1_2_1() {
    let env = env();
    let mut b = logged_in(&env).await;
    env.advance(Duration::seconds(1));
    let p = pending_for(
        env.authorize(&mut b, &authz(DEMO_CLIENT, "openid", &[("max_age", "0")]))
            .await,
        Needs::Login,
    );
    let r = respond(env.finish(&mut b, &p.id, login()).await.expect("login"));
    let login_time = env.now();
    assert_eq!(auth_time_of(&env, DEMO_CLIENT, &r).await, login_time);
}

#[tokio::test]
async fn a_malformed_max_age_is_invalid_request_oidc_core_3_1_2_1() {
    let env = env();
    let mut b = logged_in(&env).await;
    for bad in ["-1", "abc", "1.5", "9999999999999999999999", " 10"] {
        let a = env
            .authorize(
                &mut b,
                &authz(DEMO_CLIENT, "openid", &[("max_age", bad), ("state", "m")]),
            )
            .await;
        let p = assert_error_redirect(a, "invalid_request", Some("m"));
        assert!(
            param(&p, "error_description")
                .unwrap_or("")
                .contains("max_age"),
            "{bad}: {p:?}"
        );
    }
}

#[tokio::test]
async fn auth_time_is_in_the_id_token_without_max_age_too_oidc_core_2() {
    let env = env();
    let mut b = Browser::new();
    let login_time = env.now();
    let r = env
        .run_authorization(&mut b, &authz(DEMO_CLIENT, "openid", &[]))
        .await;
    assert_eq!(auth_time_of(&env, DEMO_CLIENT, &r).await, login_time);
}

#[tokio::test]
async fn max_age_zero_forces_a_login_even_within_the_logins_second_oidc_core_3_1_2_1() {
    // max_age=0 is prompt=login: auth_time has whole seconds, so a login made this very
    // second must not pass for "0 seconds old".
    let env = env();
    let mut b = logged_in(&env).await;
    let p = pending_for(
        env.authorize(&mut b, &authz(DEMO_CLIENT, "openid", &[("max_age", "0")]))
            .await,
        Needs::Login,
    );
    // The new login answers at once: no loop back to the login page.
    let r = respond(env.finish(&mut b, &p.id, login()).await.expect("login"));
    assert!(param(&redirect_params(&r), "code").is_some());
}
