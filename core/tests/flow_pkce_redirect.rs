//! PKCE (RFC 7636, S256 only), redirect URI and authorization-code rules, in process on the
//! memory store and a manual clock: the in-process counterparts of the HTTP checks in the
//! workspace's `tests/security_posture.rs`, asserting exact error codes and where (or
//! whether) the browser is sent.

mod support;

use idpkit_core::time::Duration;
use idpkit_core::{Body, Needs};
use support::*;

async fn code_with_challenge(env: &Env, client_id: &str) -> String {
    let r = env
        .run_authorization(
            &mut Browser::new(),
            &[
                ("client_id", client_id),
                ("response_type", "code"),
                ("scope", "openid offline_access"),
                ("redirect_uri", REDIRECT),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    param(&redirect_params(&r), "code")
        .expect("code")
        .to_owned()
}

async fn exchange_with(
    env: &Env,
    client_id: &str,
    code: &str,
    extra: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let mut pairs = vec![("grant_type", "authorization_code"), ("code", code)];
    pairs.extend_from_slice(extra);
    env.token(client_id, &pairs).await
}

// --- PKCE at the authorization endpoint -------------------------------------------------

#[tokio::test]
async fn a_public_client_without_code_challenge_is_refused_rfc9700_2_1_1() {
    let env = env();
    let a = env
        .authorize(
            &mut Browser::new(),
            &[
                ("client_id", DEMO_PUBLIC),
                ("response_type", "code"),
                ("scope", "openid"),
                ("state", "xyz"),
            ],
        )
        .await;
    let p = assert_error_redirect(a, "invalid_request", Some("xyz"));
    assert!(
        param(&p, "error_description")
            .unwrap_or("")
            .contains("PKCE")
    );
}

#[tokio::test]
async fn the_plain_method_and_a_missing_or_unknown_method_are_refused_rfc7636_4_3() {
    let env = env();
    // RFC 7636 §4.3: a missing method means plain.
    for method in [Some("plain"), None, Some("S512"), Some("s256")] {
        let mut params = vec![
            ("client_id", DEMO_PUBLIC),
            ("response_type", "code"),
            ("scope", "openid"),
            ("state", "m"),
            ("code_challenge", CHALLENGE),
        ];
        if let Some(m) = method {
            params.push(("code_challenge_method", m));
        }
        let a = env.authorize(&mut Browser::new(), &params).await;
        assert_error_redirect(a, "invalid_request", Some("m"));
    }
}

#[tokio::test]
async fn a_malformed_code_challenge_is_refused_rfc7636_4_2() {
    let env = env();
    let long = format!("{CHALLENGE}A");
    let short = &CHALLENGE[..42];
    let bad_char = format!("{}+", &CHALLENGE[..42]);
    let padded = format!("{}=", &CHALLENGE[..42]);
    for challenge in [long.as_str(), short, bad_char.as_str(), padded.as_str()] {
        let a = env
            .authorize(
                &mut Browser::new(),
                &[
                    ("client_id", DEMO_PUBLIC),
                    ("response_type", "code"),
                    ("scope", "openid"),
                    ("code_challenge", challenge),
                    ("code_challenge_method", "S256"),
                ],
            )
            .await;
        assert_error_redirect(a, "invalid_request", None);
    }
}

// --- PKCE at the token endpoint ---------------------------------------------------------

#[tokio::test]
async fn a_missing_code_verifier_is_invalid_grant_and_spends_nothing_rfc7636_4_6() {
    let env = env();
    let code = code_with_challenge(&env, DEMO_PUBLIC).await;
    let (s, b) = exchange_with(&env, DEMO_PUBLIC, &code, &[("redirect_uri", REDIRECT)]).await;
    assert_eq!((s, error(&b)), (400, "invalid_grant"));
    let (s, b) = env.exchange(DEMO_PUBLIC, &code).await;
    assert_eq!(s, 200, "the code is still redeemable: {b}");
}

#[tokio::test]
async fn a_wrong_or_malformed_code_verifier_is_invalid_grant_and_spends_nothing_rfc7636_4_6() {
    let env = env();
    let code = code_with_challenge(&env, DEMO_PUBLIC).await;
    let too_short = &VERIFIER[..42];
    let bad_char = format!("{VERIFIER}!");
    let too_long = "a".repeat(129);
    for verifier in [WRONG_VERIFIER, too_short, &bad_char, &too_long, CHALLENGE] {
        let (s, b) = exchange_with(
            &env,
            DEMO_PUBLIC,
            &code,
            &[("redirect_uri", REDIRECT), ("code_verifier", verifier)],
        )
        .await;
        assert_eq!((s, error(&b)), (400, "invalid_grant"), "{verifier}");
    }
    let (s, b) = env.exchange(DEMO_PUBLIC, &code).await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn a_code_verifier_for_a_code_issued_without_challenge_is_refused_rfc9700_2_1_1() {
    let env = env();
    // demo-client may skip PKCE; a verifier must then not be accepted (downgrade).
    let code = env.code(&mut Browser::new(), DEMO_CLIENT, "openid").await;
    let (s, b) = exchange_with(
        &env,
        DEMO_CLIENT,
        &code,
        &[("redirect_uri", REDIRECT), ("code_verifier", VERIFIER)],
    )
    .await;
    assert_eq!((s, error(&b)), (400, "invalid_grant"));
    let (s, _) = env.exchange(DEMO_CLIENT, &code).await;
    assert_eq!(s, 200, "the refused attempt spent nothing");
}

#[tokio::test]
async fn a_challenge_sent_by_a_confidential_client_is_enforced_rfc7636_4_6() {
    let env = env();
    let code = code_with_challenge(&env, DEMO_CLIENT).await;
    let (s, b) = exchange_with(&env, DEMO_CLIENT, &code, &[("redirect_uri", REDIRECT)]).await;
    assert_eq!(
        (s, error(&b)),
        (400, "invalid_grant"),
        "the secret does not replace PKCE"
    );
    let (s, b) = exchange_with(
        &env,
        DEMO_CLIENT,
        &code,
        &[("redirect_uri", REDIRECT), ("code_verifier", VERIFIER)],
    )
    .await;
    assert_eq!(s, 200, "{b}");
}

// --- redirect URIs and clients: shown, never redirected ----------------------------------

#[tokio::test]
async fn an_unregistered_redirect_uri_is_shown_never_redirected_rfc6749_4_1_2_1() {
    let env = env();
    for bad in [
        "http://127.0.0.1:9999/callback/",
        "http://127.0.0.1:9999/Callback",
        "http://127.0.0.1:9999/callback?x=1",
        "http://127.0.0.1:9998/callback",
        "http://localhost:9999/callback",
        "https://127.0.0.1:9999/callback",
        "http://evil.example/callback",
    ] {
        for client_id in [DEMO_CLIENT, DEMO_PUBLIC] {
            let before = env.store.len();
            let a = env
                .authorize(
                    &mut Browser::new(),
                    &authz(
                        client_id,
                        "openid",
                        &[("redirect_uri", bad), ("state", "s")],
                    ),
                )
                .await;
            assert_shown_error(a, "redirect_uri");
            assert_eq!(env.store.len(), before, "nothing stored for {bad}");
        }
    }
}

#[tokio::test]
async fn an_unknown_or_missing_client_is_shown_never_redirected_rfc6749_4_1_2_1() {
    let env = env();
    let a = env
        .authorize(
            &mut Browser::new(),
            &[
                ("client_id", "nobody"),
                ("response_type", "code"),
                ("scope", "openid"),
                ("redirect_uri", REDIRECT),
            ],
        )
        .await;
    assert_shown_error(a, "client_id");
    let a = env
        .authorize(
            &mut Browser::new(),
            &[
                ("response_type", "code"),
                ("scope", "openid"),
                ("redirect_uri", REDIRECT),
            ],
        )
        .await;
    assert_shown_error(a, "client_id");
    assert!(env.store.is_empty());
}

#[tokio::test]
async fn client_and_redirect_errors_come_before_every_redirectable_error_rfc6749_4_1_2_1() {
    let env = env();
    // Unknown client plus an unregistered redirect URI, a bad response_type, a repeated
    // parameter and no PKCE: the unknown client is what the user sees.
    let page = assert_shown_error(
        env.authorize(
            &mut Browser::new(),
            &[
                ("client_id", "nobody"),
                ("response_type", "token"),
                ("scope", "openid"),
                ("scope", "email"),
                ("redirect_uri", "http://evil.example/cb"),
                ("prompt", "bogus"),
            ],
        )
        .await,
        "unknown client_id",
    );
    assert!(!page.contains("evil.example"));
    // A known client with an unregistered redirect URI and every redirectable error: shown.
    assert_shown_error(
        env.authorize(
            &mut Browser::new(),
            &[
                ("client_id", DEMO_PUBLIC),
                ("response_type", "token"),
                ("scope", "openid admin"),
                ("redirect_uri", "http://evil.example/cb"),
                ("code_challenge_method", "plain"),
                ("prompt", "none login"),
                ("max_age", "-1"),
                ("response_mode", "bogus"),
            ],
        )
        .await,
        "redirect_uri",
    );
    // A repeated client_id or redirect_uri cannot be trusted either.
    let base = [
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "s"),
    ];
    let dup_client = [("client_id", DEMO_CLIENT), ("client_id", "nobody")];
    let dup_redirect = [
        ("client_id", DEMO_CLIENT),
        ("redirect_uri", REDIRECT),
        ("redirect_uri", "http://evil.example/"),
    ];
    for dup in [&dup_client[..], &dup_redirect[..]] {
        let params: Vec<(&str, &str)> = dup.iter().chain(&base).copied().collect();
        let a = env.authorize(&mut Browser::new(), &params).await;
        assert_shown_error(a, "more than once");
    }
    assert!(env.store.is_empty(), "nothing stored for a refused request");
}

#[tokio::test]
async fn loopback_redirects_may_use_any_port_for_native_clients_only_rfc8252_7_3() {
    let env = env();
    // native-app registered http://127.0.0.1/callback.
    let any_port = "http://127.0.0.1:51004/callback";
    let r = env
        .run_authorization(
            &mut Browser::new(),
            &authz(
                NATIVE_APP,
                "openid",
                &[("redirect_uri", any_port), ("state", "n")],
            ),
        )
        .await;
    assert!(
        location(&r).starts_with(&format!("{any_port}?code=")),
        "{}",
        location(&r)
    );
    let code = param(&redirect_params(&r), "code")
        .expect("code")
        .to_owned();
    // The token request repeats the exact URI the authorization request used.
    let (s, b) = exchange_with(
        &env,
        NATIVE_APP,
        &code,
        &[
            ("redirect_uri", "http://127.0.0.1:51005/callback"),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!((s, error(&b)), (400, "invalid_grant"));
    let (s, b) = exchange_with(
        &env,
        NATIVE_APP,
        &code,
        &[("redirect_uri", any_port), ("code_verifier", VERIFIER)],
    )
    .await;
    assert_eq!(s, 200, "{b}");
    // Only the port is relaxed: not the path, host, scheme, nor `localhost`.
    for bad in [
        "http://127.0.0.1:51004/other",
        "http://localhost:51004/callback",
        "http://[::1]:51004/callback",
        "https://127.0.0.1:51004/callback",
        "http://127.0.0.2:51004/callback",
        "http://127.0.0.1:51004/callback/../x",
    ] {
        let a = env
            .authorize(
                &mut Browser::new(),
                &authz(NATIVE_APP, "openid", &[("redirect_uri", bad)]),
            )
            .await;
        assert_shown_error(a, "redirect_uri");
    }
    // A client not marked native gets no exception, public or not.
    for client_id in [DEMO_PUBLIC, DEMO_CLIENT] {
        let a = env
            .authorize(
                &mut Browser::new(),
                &authz(
                    client_id,
                    "openid",
                    &[("redirect_uri", "http://127.0.0.1:51004/callback")],
                ),
            )
            .await;
        assert_shown_error(a, "redirect_uri");
    }
}

// --- redirect URI at the token endpoint -----------------------------------------------

#[tokio::test]
async fn a_redirect_uri_mismatch_at_the_token_endpoint_is_invalid_grant_rfc6749_4_1_3() {
    let env = env();
    let code = code_with_challenge(&env, DEMO_PUBLIC).await;
    for other in [
        "http://127.0.0.1:9999/other",
        "http://127.0.0.1:9999/callback/",
    ] {
        let (s, b) = exchange_with(
            &env,
            DEMO_PUBLIC,
            &code,
            &[("redirect_uri", other), ("code_verifier", VERIFIER)],
        )
        .await;
        assert_eq!((s, error(&b)), (400, "invalid_grant"), "{other}");
    }
    let (s, _) = env.exchange(DEMO_PUBLIC, &code).await;
    assert_eq!(s, 200, "the refused attempts spent nothing");
}

#[tokio::test]
async fn a_redirect_uri_sent_at_authorize_is_required_at_the_token_endpoint_rfc6749_4_1_3() {
    let env = env();
    let code = code_with_challenge(&env, DEMO_PUBLIC).await;
    let (s, b) = exchange_with(&env, DEMO_PUBLIC, &code, &[("code_verifier", VERIFIER)]).await;
    assert_eq!((s, error(&b)), (400, "invalid_request"));
    let (s, _) = env.exchange(DEMO_PUBLIC, &code).await;
    assert_eq!(s, 200);
    // Not sent at authorize (one registered URI): optional at the token endpoint.
    let code = env.code(&mut Browser::new(), DEMO_PUBLIC, "openid").await;
    let (s, b) = exchange_with(&env, DEMO_PUBLIC, &code, &[("code_verifier", VERIFIER)]).await;
    assert_eq!(s, 200, "{b}");
}

// --- authorization codes -----------------------------------------------------------------

#[tokio::test]
async fn code_reuse_is_invalid_grant_and_revokes_the_tokens_of_first_use_rfc6749_4_1_2() {
    let env = env();
    let code = env
        .code(&mut Browser::new(), DEMO_CLIENT, "openid offline_access")
        .await;
    let (s, first) = env.exchange(DEMO_CLIENT, &code).await;
    assert_eq!(s, 200);
    let at = first["access_token"].as_str().expect("at");
    let rt = first["refresh_token"].as_str().expect("rt");
    assert!(env.active(at).await);
    let (s, b) = env.exchange(DEMO_CLIENT, &code).await;
    assert_eq!((s, error(&b)), (400, "invalid_grant"));
    assert!(
        !env.active(at).await,
        "access token of the first use revoked"
    );
    assert_eq!(env.userinfo(at).await.status, 401);
    assert!(!env.active(rt).await);
    let (s, b) = env.refresh(DEMO_CLIENT, rt).await;
    assert_eq!(
        (s, error(&b)),
        (400, "invalid_grant"),
        "refresh token revoked"
    );
    // A third try is still refused.
    let (s, b) = env.exchange(DEMO_CLIENT, &code).await;
    assert_eq!((s, error(&b)), (400, "invalid_grant"));
}

#[tokio::test]
async fn a_code_is_bound_to_its_client_rfc6749_4_1_3() {
    let env = env();
    let code = code_with_challenge(&env, DEMO_CLIENT).await;
    let (s, b) = exchange_with(
        &env,
        DEMO_PUBLIC,
        &code,
        &[("redirect_uri", REDIRECT), ("code_verifier", VERIFIER)],
    )
    .await;
    assert_eq!((s, error(&b)), (400, "invalid_grant"));
    let (s, b) = exchange_with(
        &env,
        DEMO_CLIENT,
        &code,
        &[("redirect_uri", REDIRECT), ("code_verifier", VERIFIER)],
    )
    .await;
    assert_eq!(s, 200, "the other client's attempt spent nothing: {b}");
}

#[tokio::test]
async fn a_code_expires_after_sixty_seconds_by_default_rfc6749_4_1_2() {
    let env = env();
    let code = env.code(&mut Browser::new(), DEMO_CLIENT, "openid").await;
    env.advance(Duration::seconds(59));
    let (s, _) = env.exchange(DEMO_CLIENT, &code).await;
    assert_eq!(s, 200);
    let code = env.code(&mut Browser::new(), DEMO_CLIENT, "openid").await;
    env.advance(Duration::seconds(60));
    let (s, b) = env.exchange(DEMO_CLIENT, &code).await;
    assert_eq!((s, error(&b)), (400, "invalid_grant"));
}

#[tokio::test]
async fn a_configured_code_lifetime_is_honoured_rfc6749_4_1_2() {
    let env = env_with(|b| b.code_ttl(Duration::seconds(10)));
    let code = env.code(&mut Browser::new(), DEMO_CLIENT, "openid").await;
    env.advance(Duration::seconds(10));
    let (s, b) = env.exchange(DEMO_CLIENT, &code).await;
    assert_eq!((s, error(&b)), (400, "invalid_grant"));
}

// --- response modes, iss, duplicates ---------------------------------------------------

#[tokio::test]
async fn response_mode_fragment_puts_the_answer_in_the_fragment_oauth_multiple_response_types_2_1()
{
    let env = env();
    let mut b = Browser::new();
    let r = env
        .run_authorization(
            &mut b,
            &authz(
                DEMO_CLIENT,
                "openid",
                &[("response_mode", "fragment"), ("state", "f")],
            ),
        )
        .await;
    assert!(
        location(&r).starts_with(&format!("{REDIRECT}#code=")),
        "{}",
        location(&r)
    );
    let p = redirect_params(&r);
    assert_eq!(param(&p, "state"), Some("f"));
    assert_eq!(param(&p, "iss"), Some(ISSUER));
    // Errors travel in the fragment too.
    let r = respond(
        env.authorize(
            &mut Browser::new(),
            &authz(
                DEMO_CLIENT,
                "openid",
                &[("response_mode", "fragment"), ("prompt", "none")],
            ),
        )
        .await,
    );
    assert!(location(&r).starts_with(&format!("{REDIRECT}#error=login_required")));
    assert_eq!(param(&redirect_params(&r), "iss"), Some(ISSUER));
}

#[tokio::test]
async fn response_mode_form_post_answers_an_auto_submitting_form_oauth_form_post_2() {
    let env = env();
    let mut b = Browser::new();
    env.code(&mut b, DEMO_CLIENT, "openid").await;
    let r = respond(
        env.authorize(
            &mut b,
            &authz(
                DEMO_CLIENT,
                "openid",
                &[("response_mode", "form_post"), ("state", "<s>")],
            ),
        )
        .await,
    );
    assert_eq!(r.status, 200);
    assert!(r.header_value("location").is_none());
    assert_eq!(r.header_value("cache-control"), Some("no-store"));
    assert_eq!(r.header_value("x-frame-options"), Some("DENY"));
    let csp = r.header_value("content-security-policy").expect("CSP");
    assert!(csp.contains("form-action http://127.0.0.1:9999"), "{csp}");
    let Body::Html(html) = &r.body else {
        panic!("an HTML form")
    };
    assert!(
        html.contains(&format!("method=\"post\" action=\"{REDIRECT}\"")),
        "{html}"
    );
    assert!(html.contains("name=\"code\""));
    assert!(
        html.contains("name=\"state\" value=\"&lt;s&gt;\""),
        "state is escaped"
    );
    assert!(html.contains(&format!("name=\"iss\" value=\"{ISSUER}\"")));
    // Errors are posted too.
    let r = respond(
        env.authorize(
            &mut Browser::new(),
            &authz(
                DEMO_CLIENT,
                "openid",
                &[("response_mode", "form_post"), ("prompt", "none")],
            ),
        )
        .await,
    );
    let Body::Html(html) = &r.body else {
        panic!("an HTML form")
    };
    assert!(
        html.contains("name=\"error\" value=\"login_required\""),
        "{html}"
    );
    assert!(html.contains(&format!("name=\"iss\" value=\"{ISSUER}\"")));
}

#[tokio::test]
async fn an_unsupported_response_mode_is_invalid_request_in_the_query_oauth_multiple_response_types_2()
 {
    let env = env();
    let a = env
        .authorize(
            &mut Browser::new(),
            &authz(
                DEMO_CLIENT,
                "openid",
                &[("response_mode", "jwt"), ("state", "q")],
            ),
        )
        .await;
    assert_error_redirect(a, "invalid_request", Some("q"));
}

#[tokio::test]
async fn every_error_redirect_carries_iss_and_state_rfc9207_2() {
    let env = env();
    // A `request_uri` names a pushed request (RFC 9126 §4, `flow_par.rs`): one that is
    // not ours is shown to the user, there being no trusted redirect without it.
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("response_type", "token")], "unsupported_response_type"),
        (&[("scope", "openid admin")], "invalid_scope"),
        (&[("prompt", "none")], "login_required"),
        (&[("request", "eyJ...")], "invalid_request_object"),
        (&[("max_age", "x")], "invalid_request"),
    ];
    for (extra, code) in cases {
        let mut params = vec![("client_id", DEMO_CLIENT), ("state", "st")];
        for key in ["response_type", "scope"] {
            if !extra.iter().any(|(k, _)| *k == key) {
                params.push(match key {
                    "scope" => ("scope", "openid"),
                    _ => ("response_type", "code"),
                });
            }
        }
        params.extend_from_slice(extra);
        let a = env.authorize(&mut Browser::new(), &params).await;
        assert_error_redirect(a, code, Some("st"));
    }
    // A scope-less request is invalid_scope too.
    let a = env
        .authorize(
            &mut Browser::new(),
            &[("client_id", DEMO_CLIENT), ("response_type", "code")],
        )
        .await;
    assert_error_redirect(a, "invalid_scope", None);
}

#[tokio::test]
async fn duplicate_parameters_are_invalid_request_rfc6749_3_1() {
    let env = env();
    for dup in [
        "scope",
        "response_type",
        "code_challenge",
        "nonce",
        "prompt",
    ] {
        let mut params = authz(DEMO_PUBLIC, "openid", &[("state", "d"), ("nonce", "n")]);
        let value = params
            .iter()
            .find(|(k, _)| *k == dup)
            .map_or("x", |(_, v)| *v);
        params.push((dup, value));
        let a = env.authorize(&mut Browser::new(), &params).await;
        assert_error_redirect(a, "invalid_request", Some("d"));
    }
    // A repeated state cannot be echoed: the error goes back without one.
    let params = authz(DEMO_PUBLIC, "openid", &[("state", "a"), ("state", "b")]);
    let a = env.authorize(&mut Browser::new(), &params).await;
    assert_error_redirect(a, "invalid_request", None);
    // At the token endpoint, a repeated parameter spends nothing.
    let code = code_with_challenge(&env, DEMO_PUBLIC).await;
    let (s, b) = exchange_with(
        &env,
        DEMO_PUBLIC,
        &code,
        &[
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("code_verifier", WRONG_VERIFIER),
        ],
    )
    .await;
    assert_eq!((s, error(&b)), (400, "invalid_request"));
    let (s, _) = env.exchange(DEMO_PUBLIC, &code).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn a_valid_request_stores_exactly_one_interaction_rfc6749_4_1_1() {
    let env = env();
    // The refusals above store nothing; a valid request of the public client (PKCE
    // included) stores one interaction and the two counters that bound them (per client
    // and in all; no per-source one without a source), and nothing else.
    let p = pending(
        env.authorize(&mut Browser::new(), &authz(DEMO_PUBLIC, "openid", &[]))
            .await,
    );
    assert_eq!(p.needs, Needs::Login);
    assert_eq!(env.store.len(), 3);
    pending(
        env.authorize(&mut Browser::new(), &authz(DEMO_PUBLIC, "openid", &[]))
            .await,
    );
    assert_eq!(env.store.len(), 4, "the next one adds its interaction only");
}
