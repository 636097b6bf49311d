//! The `claims` request parameter (OIDC Core §5.5), in process: claims requested for the
//! ID token appear there (without the scope that would release them) and not at userinfo,
//! and the other way round; the request survives a refresh and a pushed request; the
//! consent page sees it; a malformed or oversized one is `invalid_request`, redirected.

mod support;

use idpkit_core::{Authorization, Method};
use serde_json::Value;
use support::*;

/// `name` for the ID token, `email` (essential) for userinfo, and an essential
/// `phone_number` alice does not have.
const CLAIMS: &str = r#"{"id_token":{"name":null,"phone_number":{"essential":true}},
                         "userinfo":{"email":{"essential":true,"value":"someone@else.example"}}}"#;

async fn tokens_with(env: &Env, scope: &str, extra: &[(&str, &str)]) -> Value {
    let r = env
        .run_authorization(&mut Browser::new(), &authz(DEMO_PUBLIC, scope, extra))
        .await;
    let code = param(&redirect_params(&r), "code")
        .expect("a code")
        .to_owned();
    let (status, tokens) = env.exchange(DEMO_PUBLIC, &code).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

async fn userinfo_json(env: &Env, tokens: &Value) -> Value {
    let r = env
        .userinfo(tokens["access_token"].as_str().expect("access token"))
        .await;
    assert_eq!(r.status, 200);
    r.json_value()
}

fn id_token(tokens: &Value) -> Value {
    jwt_claims(tokens["id_token"].as_str().expect("an ID token"))
}

#[tokio::test]
async fn requested_claims_go_where_they_are_asked_for_oidc_core_5_5() {
    let env = env();
    // Neither `profile` nor `email`: without the parameter, neither claim is released.
    let plain = tokens_with(&env, "openid offline_access", &[]).await;
    assert!(id_token(&plain).get("name").is_none());
    assert!(userinfo_json(&env, &plain).await.get("email").is_none());

    let tokens = tokens_with(&env, "openid offline_access", &[("claims", CLAIMS)]).await;
    let id = id_token(&tokens);
    assert_eq!(id["name"], "Alice Liddell", "requested for the ID token");
    assert!(id.get("email").is_none(), "requested for userinfo only");
    // §5.5.1: an essential claim the user lacks is left out, without an error.
    assert!(id.get("phone_number").is_none());
    let info = userinfo_json(&env, &tokens).await;
    // `value` is a hint, not a filter: the user's own value.
    assert_eq!(info["email"], "alice@example.com", "requested for userinfo");
    assert!(
        info.get("name").is_none(),
        "requested for the ID token only"
    );
    assert_eq!(info["sub"], "alice");

    // A refresh keeps the request: its ID token has the claim, its access token the
    // userinfo one.
    let (status, refreshed) = env
        .refresh(
            DEMO_PUBLIC,
            tokens["refresh_token"].as_str().expect("refresh token"),
        )
        .await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(id_token(&refreshed)["name"], "Alice Liddell");
    assert!(id_token(&refreshed).get("email").is_none());
    assert_eq!(
        userinfo_json(&env, &refreshed).await["email"],
        "alice@example.com"
    );
}

#[tokio::test]
async fn only_the_users_own_claims_never_the_tokens_oidc_core_5_5() {
    // A user record that happens to hold members named like the token's own claims.
    let mut record = idpkit_core::Claims::new();
    record.insert("name".into(), "Alice Liddell".into());
    for (k, v) in [
        ("sub", "mallory"),
        ("iss", "https://evil.example"),
        ("nonce", "forged"),
        ("aud", "other"),
        ("acr", "urn:forged:loa-4"),
        ("azp", "other"),
        ("cnf", "forged"),
    ] {
        record.insert(k.into(), v.into());
    }
    let env = env_with(|b| {
        b.users(idpkit_core::testkit::users::TestUsers::none().with(
            "alice",
            Some("wonderland"),
            record,
        ))
    });
    let claims = r#"{"id_token":{"sub":null,"iss":null,"nonce":null,"aud":null,"acr":null,"azp":null,"cnf":null,"name":null}}"#;
    // No `nonce` sent: a forged one must not appear either.
    let tokens = tokens_with(&env, "openid", &[("claims", claims)]).await;
    let id = id_token(&tokens);
    assert_eq!(id["sub"], "alice");
    assert_eq!(id["iss"], ISSUER);
    assert!(id.get("nonce").is_none(), "{id}");
    // idpkit asserts no `acr` (§5.5.1.1 asks the OP to, not the user record).
    assert!(id.get("acr").is_none(), "{id}");
    assert!(id.get("azp").is_none(), "{id}");
    assert!(id.get("cnf").is_none(), "{id}");
    assert_eq!(id["aud"], DEMO_PUBLIC);
    assert_eq!(id["name"], "Alice Liddell");
}

#[tokio::test]
async fn the_consent_page_sees_the_requested_claims() {
    let env = env();
    let mut b = Browser::new();
    let a = env
        .authorize(&mut b, &authz(DEMO_PUBLIC, "openid", &[("claims", CLAIMS)]))
        .await;
    let Authorization::Interaction(p) = a else {
        panic!("an interaction");
    };
    let details = env
        .provider
        .interaction(&p.id, &b.request(Method::Get, &[]))
        .await
        .expect("details");
    assert!(details.claims.id_token.contains_key("name"));
    assert!(details.claims.id_token["phone_number"].essential);
    assert!(details.claims.userinfo["email"].essential);
}

#[tokio::test]
async fn a_pushed_request_carries_the_claims_parameter() {
    let env = env();
    let (status, body) = env
        .push(
            DEMO_PUBLIC,
            &authz(DEMO_PUBLIC, "openid", &[("claims", CLAIMS)]),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let uri = body["request_uri"].as_str().expect("request_uri");
    let r = env
        .run_authorization(
            &mut Browser::new(),
            &[("client_id", DEMO_PUBLIC), ("request_uri", uri)],
        )
        .await;
    let code = param(&redirect_params(&r), "code")
        .expect("code")
        .to_owned();
    let (status, tokens) = env.exchange(DEMO_PUBLIC, &code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(id_token(&tokens)["name"], "Alice Liddell");

    // A malformed one is refused at the push.
    let (status, body) = env
        .push(
            DEMO_PUBLIC,
            &authz(DEMO_PUBLIC, "openid", &[("claims", "{\"id_token\":[]}")]),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(error(&body), "invalid_request");
}

#[tokio::test]
async fn a_malformed_claims_parameter_is_an_error_redirect_oidc_core_5_5() {
    let env = env();
    for bad in [
        "not json",
        r#"{"id_token":{"name":true}}"#,
        r#"{"userinfo":{"email":{"essential":"yes"}}}"#,
        r#"{"id_token":{"name":null,"name":null}}"#,
    ] {
        let a = env
            .authorize(
                &mut Browser::new(),
                &authz(DEMO_PUBLIC, "openid", &[("claims", bad), ("state", "s")]),
            )
            .await;
        let p = assert_error_redirect(a, "invalid_request", Some("s"));
        assert!(
            param(&p, "error_description")
                .unwrap_or("")
                .contains("claims"),
            "{bad}: {p:?}"
        );
    }
}

#[tokio::test]
async fn an_oversized_claims_parameter_is_refused_before_anything_is_stored() {
    let env = env();
    let names: Vec<String> = (0..300).map(|i| format!("\"c{i}\":null")).collect();
    let big = format!("{{\"id_token\":{{{}}}}}", names.join(","));
    let a = env
        .authorize(
            &mut Browser::new(),
            &authz(DEMO_PUBLIC, "openid", &[("claims", &big)]),
        )
        .await;
    let p = assert_error_redirect(a, "invalid_request", None);
    assert!(
        param(&p, "error_description")
            .unwrap_or("")
            .contains("longer than"),
        "{p:?}"
    );
}

#[tokio::test]
async fn discovery_says_the_claims_parameter_is_supported() {
    let env = env();
    let r = env.provider.discovery();
    assert_eq!(r.json_value()["claims_parameter_supported"], true);
}
