//! The authorization-code flow through the interaction hand-off (login, then consent for a
//! third-party client), driven in process on the memory store and a manual clock: the
//! redirect with `code`, `state` and `iss`, the code exchange, and every way an interaction
//! ends early (deny, no scope approved, a second submission, another browser, expiry), SSO
//! continuation and remembered consent.

mod support;

use idpkit_core::time::Duration;
use idpkit_core::{Authorization, Cookie, ErrorCode, InteractionOutcome, Method, Needs};
use support::*;

fn login() -> InteractionOutcome {
    InteractionOutcome::Login {
        subject: "alice".into(),
    }
}

fn consent(scopes: &[&str]) -> InteractionOutcome {
    InteractionOutcome::Consent {
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
    }
}

#[tokio::test]
async fn login_then_consent_then_code_exchange_issues_all_tokens_oidc_core_3_1() {
    let env = env();
    let mut b = Browser::new();
    let params = authz(
        DEMO_PUBLIC,
        "openid profile email offline_access",
        &[
            ("state", "st-1"),
            ("nonce", "n-1"),
            ("redirect_uri", REDIRECT),
        ],
    );
    // 1. The authorization request needs a login: a 303 to the host's page, with the
    //    cookie that binds the interaction to this browser.
    let p = pending_for(env.authorize(&mut b, &params).await, Needs::Login);
    assert_eq!(p.response.status, 303);
    assert_eq!(location(&p.response), format!("/interaction/{}", p.id));
    let set_cookie = p
        .response
        .header_value("set-cookie")
        .expect("binding cookie");
    assert!(set_cookie.starts_with(&format!("{INTERACTION_COOKIE}=")));
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"));
    assert!(set_cookie.contains("Secure"), "https issuer: Secure cookie");
    assert_eq!(p.response.header_value("cache-control"), Some("no-store"));

    // 2. The host's page reads what to show.
    let details = env
        .provider
        .interaction(&p.id, &b.request(Method::Get, &[]))
        .await
        .expect("details");
    assert_eq!(details.needs, Needs::Login);
    assert_eq!(details.client_id, DEMO_PUBLIC);
    assert_eq!(
        details.scopes,
        ["openid", "profile", "email", "offline_access"]
    );
    assert_eq!(details.redirect_uri, REDIRECT);
    assert_eq!(details.subject, None);

    // 3. Login: a third-party client next needs consent, on the same interaction; the SSO
    //    session cookie is set now.
    let login_time = env.now();
    let c = pending_for(
        env.finish(&mut b, &p.id, login()).await.expect("login"),
        Needs::Consent,
    );
    assert_eq!(c.id, p.id);
    assert!(b.cookie(SESSION_COOKIE).is_some(), "SSO session cookie set");
    let details = env
        .provider
        .interaction(&c.id, &b.request(Method::Get, &[]))
        .await
        .expect("details");
    assert_eq!(details.needs, Needs::Consent);
    assert_eq!(details.subject.as_deref(), Some("alice"));

    // 4. Consent: the redirect back to the client with code, state and iss.
    env.advance(Duration::seconds(5));
    let r = respond(
        env.finish(
            &mut b,
            &c.id,
            consent(&["openid", "profile", "email", "offline_access"]),
        )
        .await
        .expect("consent"),
    );
    assert!(location(&r).starts_with(&format!("{REDIRECT}?code=")));
    assert_eq!(r.header_value("cache-control"), Some("no-store"));
    let q = redirect_params(&r);
    assert_eq!(param(&q, "state"), Some("st-1"));
    assert_eq!(param(&q, "iss"), Some(ISSUER), "RFC 9207 §2");
    let code = param(&q, "code").expect("code");

    // 5. The code exchange (RFC 6749 §4.1.3, §5.1).
    let resp = env
        .token_response(
            DEMO_PUBLIC,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header_value("cache-control"), Some("no-store"));
    assert_eq!(resp.header_value("pragma"), Some("no-cache"));
    let t = resp.json_value();
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 3600);
    assert_eq!(t["scope"], "openid profile email offline_access");
    assert!(
        t["refresh_token"].is_string(),
        "offline_access: a refresh token"
    );
    let id = jwt_claims(t["id_token"].as_str().expect("id_token"));
    assert_eq!(id["iss"], ISSUER);
    assert_eq!(id["sub"], "alice");
    assert_eq!(id["aud"], DEMO_PUBLIC);
    assert_eq!(id["nonce"], "n-1", "OIDC Core §3.1.3.7: nonce echoed");
    assert_eq!(
        id["auth_time"], login_time,
        "auth_time is the login, not the consent"
    );
    assert!(id["at_hash"].is_string());
    assert_eq!(id["email"], "alice@example.com");
    assert_eq!(id["name"], "Alice Liddell");
    let at = t["access_token"].as_str().expect("access_token");
    let ui = env.userinfo(at).await;
    assert_eq!(ui.status, 200);
    assert_eq!(ui.json_value()["sub"], "alice");
    assert_eq!(ui.json_value()["email_verified"], true);
    // demo-client is neither the token's client nor a resource server of its audience
    // (the issuer): it learns nothing (RFC 7662 §4; tests/introspection_entitlement.rs).
    assert_eq!(
        env.introspect(at).await,
        serde_json::json!({"active": false})
    );
}

#[tokio::test]
async fn first_party_client_gets_the_code_right_after_login_oidc_core_3_1_2_4() {
    let env = env();
    let mut b = Browser::new();
    let p = pending_for(
        env.authorize(
            &mut b,
            &authz(DEMO_CLIENT, "openid email", &[("state", "s")]),
        )
        .await,
        Needs::Login,
    );
    let r = respond(env.finish(&mut b, &p.id, login()).await.expect("login"));
    let q = redirect_params(&r);
    assert!(param(&q, "code").is_some());
    assert_eq!(param(&q, "state"), Some("s"));
    assert_eq!(param(&q, "iss"), Some(ISSUER));
    let set_cookie = r.header_value("set-cookie").expect("session cookie");
    assert!(set_cookie.starts_with(&format!("{SESSION_COOKIE}=")));
    let (s, t) = env
        .exchange(DEMO_CLIENT, param(&q, "code").expect("code"))
        .await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(
        jwt_claims(t["access_token"].as_str().expect("at"))["aud"],
        serde_json::json!(["demo-api"])
    );
    assert!(
        t.get("refresh_token").is_none(),
        "no offline_access: no refresh token"
    );
}

#[tokio::test]
async fn deny_at_login_redirects_access_denied_with_state_and_iss_rfc6749_4_1_2_1() {
    let env = env();
    let mut b = Browser::new();
    let p = pending(
        env.authorize(&mut b, &authz(DEMO_PUBLIC, "openid", &[("state", "d1")]))
            .await,
    );
    let a = env
        .finish(&mut b, &p.id, InteractionOutcome::Deny)
        .await
        .expect("deny");
    let q = assert_error_redirect(a, "access_denied", Some("d1"));
    assert!(param(&q, "error_description").is_some());
    assert!(
        b.cookie(SESSION_COOKIE).is_none(),
        "no session after a denied login"
    );
    // The interaction is over: it cannot be completed afterwards.
    let e = env.finish(&mut b, &p.id, login()).await.expect_err("used");
    assert_eq!(e.code, ErrorCode::InvalidRequest);
}

#[tokio::test]
async fn deny_at_consent_redirects_access_denied_and_remembers_nothing_rfc6749_4_1_2_1() {
    let env = env();
    let mut b = Browser::new();
    let p = pending(
        env.authorize(&mut b, &authz(DEMO_PUBLIC, "openid", &[("state", "d2")]))
            .await,
    );
    let c = pending_for(
        env.finish(&mut b, &p.id, login()).await.expect("login"),
        Needs::Consent,
    );
    let a = env
        .finish(&mut b, &c.id, InteractionOutcome::Deny)
        .await
        .expect("deny");
    assert_error_redirect(a, "access_denied", Some("d2"));
    // The login stands (SSO), but no consent was remembered: asked again.
    pending_for(
        env.authorize(&mut b, &authz(DEMO_PUBLIC, "openid", &[]))
            .await,
        Needs::Consent,
    );
}

#[tokio::test]
async fn consent_approving_no_asked_scope_is_access_denied_rfc6749_4_1_2_1() {
    for approved in [&[][..], &["admin"][..]] {
        let env = env();
        let mut b = Browser::new();
        let p = pending(
            env.authorize(
                &mut b,
                &authz(DEMO_PUBLIC, "openid email", &[("state", "z")]),
            )
            .await,
        );
        let c = pending_for(
            env.finish(&mut b, &p.id, login()).await.expect("login"),
            Needs::Consent,
        );
        let a = env
            .finish(&mut b, &c.id, consent(approved))
            .await
            .expect("consent step");
        assert_error_redirect(a, "access_denied", Some("z"));
    }
}

#[tokio::test]
async fn partial_consent_issues_only_the_approved_scopes_rfc6749_3_3() {
    let env = env();
    let mut b = Browser::new();
    let p = pending(
        env.authorize(&mut b, &authz(DEMO_PUBLIC, "openid email api:read", &[]))
            .await,
    );
    let c = pending_for(
        env.finish(&mut b, &p.id, login()).await.expect("login"),
        Needs::Consent,
    );
    // "admin" was never asked for: it is ignored, not granted.
    let r = respond(
        env.finish(&mut b, &c.id, consent(&["openid", "api:read", "admin"]))
            .await
            .expect("consent"),
    );
    let code = param(&redirect_params(&r), "code")
        .expect("code")
        .to_owned();
    let (s, t) = env.exchange(DEMO_PUBLIC, &code).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(
        t["scope"], "openid api:read",
        "§3.3: the issued scope differs, so it is sent"
    );
    assert!(
        jwt_claims(t["id_token"].as_str().expect("id"))
            .get("email")
            .is_none()
    );
}

#[tokio::test]
async fn an_interaction_submitted_twice_completes_once_rfc6749_10_12() {
    let env = env();
    let mut b = Browser::new();
    let p = pending(
        env.authorize(&mut b, &authz(DEMO_CLIENT, "openid", &[]))
            .await,
    );
    let first = respond(env.finish(&mut b, &p.id, login()).await.expect("login"));
    assert!(param(&redirect_params(&first), "code").is_some());
    let e = env
        .finish(&mut b, &p.id, login())
        .await
        .expect_err("second submission");
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    assert_eq!(e.status(), 400);
    let e = env
        .provider
        .interaction(&p.id, &b.request(Method::Get, &[]))
        .await
        .expect_err("details of a completed interaction");
    assert_eq!(e.code, ErrorCode::InvalidRequest);
}

#[tokio::test]
async fn interaction_steps_come_in_order_login_then_consent_oidc_core_3_1_2_3() {
    let env = env();
    let mut b = Browser::new();
    let p = pending(
        env.authorize(&mut b, &authz(DEMO_PUBLIC, "openid", &[]))
            .await,
    );
    let c = pending_for(
        env.finish(&mut b, &p.id, login()).await.expect("login"),
        Needs::Consent,
    );
    let e = env
        .finish(&mut b, &c.id, login())
        .await
        .expect_err("login again");
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    // A consent decision for a login step is refused too.
    let mut other = Browser::new();
    let p2 = pending_for(
        env.authorize(&mut other, &authz(DEMO_PUBLIC, "openid", &[]))
            .await,
        Needs::Login,
    );
    let e = env
        .finish(&mut other, &p2.id, consent(&["openid"]))
        .await
        .expect_err("consent before login");
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    // Nothing was lost: the consent step still completes.
    let r = respond(
        env.finish(&mut b, &c.id, consent(&["openid"]))
            .await
            .expect("consent"),
    );
    assert!(param(&redirect_params(&r), "code").is_some());
}

#[tokio::test]
async fn an_interaction_from_another_browser_is_refused_rfc6749_10_12() {
    let env = env();
    let mut b = Browser::new();
    let p = pending(
        env.authorize(&mut b, &authz(DEMO_CLIENT, "openid", &[]))
            .await,
    );
    // No binding cookie at all.
    let mut stranger = Browser::new();
    let e = env
        .finish(&mut stranger, &p.id, login())
        .await
        .expect_err("no cookie");
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    assert!(e.description.contains("another browser"), "{e}");
    let e = env
        .provider
        .interaction(&p.id, &stranger.request(Method::Get, &[]))
        .await
        .expect_err("details without the cookie");
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    // The binding cookie of another interaction.
    let mut attacker = Browser::new();
    let _own = pending(
        env.authorize(&mut attacker, &authz(DEMO_CLIENT, "openid", &[]))
            .await,
    );
    assert!(attacker.cookie(INTERACTION_COOKIE).is_some());
    let e = env
        .finish(&mut attacker, &p.id, login())
        .await
        .expect_err("wrong cookie");
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    assert!(stranger.cookie(SESSION_COOKIE).is_none() && attacker.cookie(SESSION_COOKIE).is_none());
    // The refusals consumed nothing: the right browser completes it.
    let r = respond(env.finish(&mut b, &p.id, login()).await.expect("login"));
    assert!(param(&redirect_params(&r), "code").is_some());
}

#[tokio::test]
async fn an_interaction_expires_after_ten_minutes_oidc_core_3_1_2_3() {
    let env = env();
    let mut b = Browser::new();
    let p = pending(
        env.authorize(&mut b, &authz(DEMO_CLIENT, "openid", &[]))
            .await,
    );
    env.advance(Duration::minutes(10) - Duration::seconds(1));
    let r = respond(env.finish(&mut b, &p.id, login()).await.expect("in time"));
    assert!(param(&redirect_params(&r), "code").is_some());
    let mut late = Browser::new();
    let p = pending(
        env.authorize(&mut late, &authz(DEMO_CLIENT, "openid", &[]))
            .await,
    );
    env.advance(Duration::minutes(10));
    let e = env
        .finish(&mut late, &p.id, login())
        .await
        .expect_err("expired");
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    assert!(e.description.contains("expired"), "{e}");
    assert!(late.cookie(SESSION_COOKIE).is_none());
}

#[tokio::test]
async fn the_sso_session_cookie_skips_the_login_the_second_time_oidc_core_3_1_2_3() {
    let env = env();
    let mut b = Browser::new();
    let first = env.code(&mut b, DEMO_CLIENT, "openid").await;
    let login_time = env.now();
    assert!(b.cookie(SESSION_COOKIE).is_some());
    env.advance(Duration::minutes(5));
    // Same browser: the code comes at once, no interaction.
    let r = respond(
        env.authorize(&mut b, &authz(DEMO_CLIENT, "openid", &[("state", "again")]))
            .await,
    );
    let q = redirect_params(&r);
    assert_eq!(param(&q, "state"), Some("again"));
    let second = param(&q, "code").expect("code").to_owned();
    assert_ne!(first, second);
    let (s, t) = env.exchange(DEMO_CLIENT, &second).await;
    assert_eq!(s, 200);
    assert_eq!(
        jwt_claims(t["id_token"].as_str().expect("id"))["auth_time"],
        login_time,
        "auth_time stays the time of the login, not of the SSO answer"
    );
    // A third-party client in the same browser needs consent, but no login.
    let c = pending_for(
        env.authorize(&mut b, &authz(DEMO_PUBLIC, "openid", &[]))
            .await,
        Needs::Consent,
    );
    let details = env
        .provider
        .interaction(&c.id, &b.request(Method::Get, &[]))
        .await
        .expect("details");
    assert_eq!(details.subject.as_deref(), Some("alice"));
    // Another browser has no session.
    pending_for(
        env.authorize(&mut Browser::new(), &authz(DEMO_CLIENT, "openid", &[]))
            .await,
        Needs::Login,
    );
    // A session cookie the store does not know is no session.
    let mut forged = Browser::new();
    forged
        .cookies
        .push((SESSION_COOKIE.into(), "made-up".into()));
    pending_for(
        env.authorize(&mut forged, &authz(DEMO_CLIENT, "openid", &[]))
            .await,
        Needs::Login,
    );
}

#[tokio::test]
async fn the_sso_session_ends_with_its_lifetime_oidc_core_3_1_2_3() {
    let env = env_with(|b| b.session_ttl(Duration::hours(1)));
    let mut b = Browser::new();
    env.code(&mut b, DEMO_CLIENT, "openid").await;
    env.advance(Duration::minutes(59));
    respond(
        env.authorize(&mut b, &authz(DEMO_CLIENT, "openid", &[]))
            .await,
    );
    env.advance(Duration::minutes(1));
    pending_for(
        env.authorize(&mut b, &authz(DEMO_CLIENT, "openid", &[]))
            .await,
        Needs::Login,
    );
}

#[tokio::test]
async fn remembered_consent_skips_the_consent_step_until_a_new_scope_is_asked_oidc_core_3_1_2_4() {
    let env = env();
    let mut b = Browser::new();
    let p = pending(
        env.authorize(&mut b, &authz(DEMO_PUBLIC, "openid email", &[]))
            .await,
    );
    let c = pending_for(
        env.finish(&mut b, &p.id, login()).await.expect("login"),
        Needs::Consent,
    );
    respond(
        env.finish(&mut b, &c.id, consent(&["openid", "email"]))
            .await
            .expect("consent"),
    );
    // The same scopes (or fewer): answered at once.
    for scope in ["openid email", "openid"] {
        let r = respond(env.authorize(&mut b, &authz(DEMO_PUBLIC, scope, &[])).await);
        assert!(param(&redirect_params(&r), "code").is_some(), "{scope}");
    }
    // A scope not yet approved: consent again, for the whole request.
    let c = pending_for(
        env.authorize(&mut b, &authz(DEMO_PUBLIC, "openid email profile", &[]))
            .await,
        Needs::Consent,
    );
    respond(
        env.finish(&mut b, &c.id, consent(&["openid", "email", "profile"]))
            .await
            .expect("consent"),
    );
    let r = respond(
        env.authorize(&mut b, &authz(DEMO_PUBLIC, "openid email profile", &[]))
            .await,
    );
    assert!(param(&redirect_params(&r), "code").is_some());
    // Consent is per user and client: in a fresh browser alice logs in, and is not asked.
    let mut other = Browser::new();
    let p = pending(
        env.authorize(&mut other, &authz(DEMO_PUBLIC, "openid", &[]))
            .await,
    );
    let a = env.finish(&mut other, &p.id, login()).await.expect("login");
    assert!(
        matches!(a, Authorization::Respond(_)),
        "consent remembered for alice"
    );
}

#[tokio::test]
async fn on_an_https_issuer_only_host_prefixed_cookies_count_rfc6265bis_4_1_3_2() {
    let env = env();
    assert_eq!(
        env.provider.config().cookie_name(Cookie::Session),
        SESSION_COOKIE
    );
    let mut b = Browser::new();
    env.code(&mut b, DEMO_CLIENT, "openid").await;
    let session = b
        .cookie(SESSION_COOKIE)
        .expect("__Host- session")
        .to_owned();
    assert!(
        b.cookies.iter().all(|(n, _)| n.starts_with("__Host-")),
        "{:?}",
        b.cookies
    );
    // The same value under the plain name (what a sibling subdomain can set for the
    // parent domain, to pin a victim to the attacker's session) is no session.
    let mut tossed = Browser::new();
    tossed
        .cookies
        .push((Cookie::Session.base_name().into(), session.clone()));
    pending_for(
        env.authorize(&mut tossed, &authz(DEMO_CLIENT, "openid", &[]))
            .await,
        Needs::Login,
    );
    // The __Host- one still is.
    let mut own = Browser::new();
    own.cookies.push((SESSION_COOKIE.into(), session));
    let r = respond(
        env.authorize(&mut own, &authz(DEMO_CLIENT, "openid", &[]))
            .await,
    );
    assert!(param(&redirect_params(&r), "code").is_some());
}
