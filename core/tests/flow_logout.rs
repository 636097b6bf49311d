//! RP-Initiated Logout (#14 items 1, 4, 5): the end-session endpoint, its checks (none of
//! the refusals redirects), the user's confirmation through the host, what logout ends,
//! front-channel iframes, and logout across instances sharing a store.

mod support;

use idpkit_core::{
    Algorithm, Client, GrantType, LocalKeys, Logout, LogoutRevokes, Method, Provider, StaticClients,
};
use support::*;

const RP: &str = "rp-web";
const RP2: &str = "rp-other";
const BYE: &str = "https://rp.example/bye?from=idp";

fn rp(id: &str, host: &str) -> Client {
    Client::public(id)
        .redirect_uri(REDIRECT)
        .grant_types([GrantType::AuthorizationCode, GrantType::RefreshToken])
        .scopes(["openid", "offline_access"])
        .audience(["demo-api"])
        .first_party(true)
        .post_logout_redirect_uri(format!("https://{host}/bye?from=idp"))
        .frontchannel_logout_uri(format!("https://{host}/fc"), true)
        .build()
        .expect("rp")
}

fn clients() -> StaticClients {
    let mut all = support::clients();
    all.push(rp(RP, "rp.example"));
    all.push(rp(RP2, "other.example"));
    StaticClients::new(all).expect("clients")
}

/// Logouts whose hint names the current session skip the confirmation here.
fn logout_env() -> Env {
    env_with(|b| {
        b.clients(clients())
            .logout_skip_confirmation_with_session_hint(true)
    })
}

/// Logs `b` in through `client` and returns its tokens.
async fn tokens(env: &Env, b: &mut Browser, client: &str, scope: &str) -> serde_json::Value {
    let code = env.code(b, client, scope).await;
    let (s, t) = env.exchange(client, &code).await;
    assert_eq!(s, 200, "{t}");
    t
}

async fn end_session(env: &Env, b: &mut Browser, params: &[(&str, &str)]) -> Logout {
    let l = env
        .provider
        .end_session(&b.request(Method::Get, params))
        .await;
    if let Logout::Respond(r) = &l {
        b.absorb(r);
    }
    if let Logout::Confirm(p) = &l {
        b.absorb(&p.response);
    }
    l
}

fn responded(l: Logout) -> idpkit_core::Response {
    match l {
        Logout::Respond(r) => r,
        Logout::Confirm(p) => panic!("a confirmation was asked: {}", p.id),
    }
}

async fn silent_login_fails(env: &Env, b: &mut Browser, client: &str) -> bool {
    let a = env
        .authorize(b, &authz(client, "openid", &[("prompt", "none")]))
        .await;
    param(&redirect_params(&respond(a)), "error") == Some("login_required")
}

#[tokio::test]
async fn a_hint_of_the_session_logs_out_at_once_and_returns_to_the_rp_with_state() {
    let env = logout_env();
    let mut b = Browser::new();
    let t = tokens(&env, &mut b, RP, "openid").await;
    let offline = tokens(&env, &mut b, RP2, "openid offline_access").await;
    let hint = t["id_token"].as_str().expect("id token");
    let r = responded(
        end_session(
            &env,
            &mut b,
            &[
                ("id_token_hint", hint),
                ("post_logout_redirect_uri", BYE),
                ("state", "xyz"),
            ],
        )
        .await,
    );
    // Two clients had front-channel URIs: a page renders them, then goes on to the RP.
    assert_eq!(r.status, 200);
    let html = match &r.body {
        idpkit_core::Body::Html(h) => h.clone(),
        other => panic!("{other:?}"),
    };
    let sid = jwt_claims(hint)["sid"].as_str().expect("sid").to_owned();
    assert!(
        html.contains("https://rp.example/fc?iss=https%3A%2F%2Fidp.example&amp;sid="),
        "{html}"
    );
    assert!(html.contains(&sid), "the iframe names the session");
    assert!(
        html.contains("https://other.example/fc"),
        "every client of the session"
    );
    assert!(
        html.contains("https://rp.example/bye?from=idp&amp;state=xyz"),
        "{html}"
    );
    let csp = r.header_value("content-security-policy").expect("csp");
    assert!(
        csp.contains("frame-src ")
            && csp.contains("https://rp.example")
            && csp.contains("https://other.example"),
        "the iframes' origins are allowed: {csp}"
    );
    assert!(
        r.headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("set-cookie") && v.contains("Max-Age=0")),
        "the session cookie is cleared"
    );
    // The session is gone: the next silent login fails, the password is needed again.
    assert!(silent_login_fails(&env, &mut b, RP).await);
    // Default policy: the session's grants are revoked, but offline_access survives.
    assert!(!env.active(t["access_token"].as_str().expect("at")).await);
    let rt = offline["refresh_token"]
        .as_str()
        .expect("offline refresh token");
    let (s, _) = env.refresh(RP2, rt).await;
    assert_eq!(
        s, 200,
        "offline_access outlives the session (OIDC Core §11)"
    );
}

#[tokio::test]
async fn the_revoke_everything_policy_ends_offline_grants_too() {
    let env = env_with(|b| {
        b.clients(clients())
            .logout_skip_confirmation_with_session_hint(true)
            .logout_revokes(LogoutRevokes::AllSessionGrants)
    });
    let mut b = Browser::new();
    let t = tokens(&env, &mut b, RP, "openid offline_access").await;
    let hint = t["id_token"].as_str().expect("id token");
    responded(end_session(&env, &mut b, &[("id_token_hint", hint)]).await);
    let (s, _) = env
        .refresh(RP, t["refresh_token"].as_str().expect("rt"))
        .await;
    assert_eq!(s, 400, "every grant of the session is revoked");
}

#[tokio::test]
async fn without_a_session_hint_the_user_confirms_through_the_host() {
    let env = logout_env();
    let mut b = Browser::new();
    tokens(&env, &mut b, RP, "openid").await;
    let l = end_session(
        &env,
        &mut b,
        &[
            ("client_id", RP),
            ("post_logout_redirect_uri", BYE),
            ("state", "s1"),
            ("logout_hint", "alice@example.com"),
            ("ui_locales", "fr"),
        ],
    )
    .await;
    let Logout::Confirm(pending) = l else {
        panic!("no hint: the user must confirm");
    };
    assert_eq!(pending.response.status, 303);
    assert_eq!(
        location(&pending.response),
        format!("/logout/{}", pending.id)
    );
    // Still logged in until the user confirms.
    let a = env
        .authorize(&mut b, &authz(RP, "openid", &[("prompt", "none")]))
        .await;
    assert!(param(&redirect_params(&respond(a)), "code").is_some());
    // Another browser cannot confirm it (CSRF-bound like login and consent).
    let stranger = Browser::new();
    assert!(
        env.provider
            .finish_logout(&pending.id, &stranger.request(Method::Post, &[]))
            .await
            .is_err()
    );
    let details = env
        .provider
        .logout_details(&pending.id, &b.request(Method::Get, &[]))
        .await
        .expect("details");
    assert_eq!(details.client_id.as_deref(), Some(RP));
    assert_eq!(details.subject.as_deref(), Some("alice"));
    assert_eq!(details.logout_hint.as_deref(), Some("alice@example.com"));
    assert_eq!(details.ui_locales.as_deref(), Some("fr"));
    let done = env
        .provider
        .finish_logout(&pending.id, &b.request(Method::Post, &[]))
        .await
        .expect("confirmed");
    assert_eq!(
        done.redirect.as_deref(),
        Some("https://rp.example/bye?from=idp&state=s1")
    );
    assert_eq!(done.frontchannel_logout_uris.len(), 1);
    b.absorb(&done.response);
    assert!(silent_login_fails(&env, &mut b, RP).await);
    assert!(
        env.provider
            .finish_logout(&pending.id, &b.request(Method::Post, &[]))
            .await
            .is_err(),
        "single use"
    );
}

/// An error page: 400, no `Location`.
fn assert_error_page(l: Logout, what: &str) {
    let r = responded(l);
    assert_eq!(r.status, 400, "{what}");
    assert!(
        r.header_value("location").is_none(),
        "{what}: never redirected"
    );
}

#[tokio::test]
async fn bad_logout_requests_get_an_error_page_never_a_redirect() {
    let env = logout_env();
    let mut b = Browser::new();
    let t = tokens(&env, &mut b, RP, "openid").await;
    let hint = t["id_token"].as_str().expect("id token").to_owned();
    for (what, params) in [
        (
            "unregistered",
            vec![
                ("client_id", RP),
                ("post_logout_redirect_uri", "https://evil.example/"),
            ],
        ),
        (
            "query altered",
            vec![
                ("client_id", RP),
                (
                    "post_logout_redirect_uri",
                    "https://rp.example/bye?from=idp&x=1",
                ),
            ],
        ),
        (
            "no hint, no client_id",
            vec![("post_logout_redirect_uri", BYE)],
        ),
        (
            "hint for another client than client_id",
            vec![
                ("id_token_hint", hint.as_str()),
                ("client_id", RP2),
                ("post_logout_redirect_uri", BYE),
            ],
        ),
        (
            "unknown client",
            vec![("client_id", "nobody"), ("post_logout_redirect_uri", BYE)],
        ),
    ] {
        assert_error_page(end_session(&env, &mut b, &params).await, what);
    }
    // A tampered hint: one character of the signature changed.
    let mut tampered = hint.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    assert_error_page(
        end_session(
            &env,
            &mut b,
            &[
                ("id_token_hint", &tampered),
                ("post_logout_redirect_uri", BYE),
            ],
        )
        .await,
        "tampered hint",
    );
    // A hint from another provider (its own keys): refused.
    let foreign = env_with(|b| {
        b.clients(clients())
            .keys(LocalKeys::ephemeral_for_development().expect("keys"))
            .signing_alg(Algorithm::ES256)
    });
    let mut fb = Browser::new();
    let ft = tokens(&foreign, &mut fb, RP, "openid").await;
    assert_error_page(
        end_session(
            &env,
            &mut b,
            &[("id_token_hint", ft["id_token"].as_str().expect("it"))],
        )
        .await,
        "foreign hint",
    );
    // An access token is not an ID token.
    assert_error_page(
        end_session(
            &env,
            &mut b,
            &[("id_token_hint", t["access_token"].as_str().expect("at"))],
        )
        .await,
        "access token as hint",
    );
    // None of it logged anyone out.
    let a = env
        .authorize(&mut b, &authz(RP, "openid", &[("prompt", "none")]))
        .await;
    assert!(param(&redirect_params(&respond(a)), "code").is_some());
}

#[tokio::test]
async fn by_default_even_a_hint_of_the_session_is_confirmed_by_the_user() {
    let env = env_with(|b| b.clients(clients()));
    let mut b = Browser::new();
    let t = tokens(&env, &mut b, RP, "openid").await;
    let l = end_session(
        &env,
        &mut b,
        &[("id_token_hint", t["id_token"].as_str().expect("it"))],
    )
    .await;
    assert!(
        matches!(l, Logout::Confirm(_)),
        "RP-Initiated Logout §2: the OP SHOULD ask"
    );
}

#[tokio::test]
async fn an_expired_hint_is_still_a_hint() {
    let env = logout_env();
    let mut b = Browser::new();
    let t = tokens(&env, &mut b, RP, "openid").await;
    env.advance(idpkit_core::time::Duration::hours(5));
    // Keep the session alive past the ID token's hour.
    let a = env
        .authorize(&mut b, &authz(RP, "openid", &[("prompt", "none")]))
        .await;
    assert!(param(&redirect_params(&respond(a)), "code").is_some());
    let r = responded(
        end_session(
            &env,
            &mut b,
            &[
                ("id_token_hint", t["id_token"].as_str().expect("it")),
                ("post_logout_redirect_uri", BYE),
            ],
        )
        .await,
    );
    assert_eq!(r.status, 200, "logged out with the expired hint");
}

#[tokio::test]
async fn logout_at_one_instance_is_seen_at_every_instance_sharing_the_store() {
    let a = logout_env();
    let b_provider: Provider = env_with(|b| {
        b.clients(clients())
            .logout_skip_confirmation_with_session_hint(true)
            .grant_store_arc(a.store.clone())
            .clock(a.clock.clone())
    })
    .provider;
    let mut browser = Browser::new();
    let t = tokens(&a, &mut browser, RP, "openid").await;
    responded(
        end_session(
            &a,
            &mut browser,
            &[("id_token_hint", t["id_token"].as_str().expect("it"))],
        )
        .await,
    );
    let r = b_provider
        .authorize(&browser.request(Method::Get, &authz(RP, "openid", &[("prompt", "none")])))
        .await;
    assert_eq!(
        param(&redirect_params(&respond(r)), "error"),
        Some("login_required"),
        "instance B sees the session gone"
    );
}
