//! Resource indicators (RFC 8707), in process: `resource` at the authorization request,
//! the code exchange, the refresh and client_credentials; the access token's `aud` is the
//! resources' audience; unknown resources are `invalid_target`, never ignored.

mod support;

use idpkit_core::Resource;
use serde_json::{Value, json};
use support::*;

const API: &str = "urn:demo-api";
const FILES: &str = "https://files.example/";

fn env() -> Env {
    env_with(|b| {
        b.resource(Resource::new(API, "demo-api").scopes(["api:read"]))
            .resource(Resource::new(FILES, "files"))
    })
}

/// A code for demo-public asking for `resources`.
async fn code_for(env: &Env, scope: &str, resources: &[&str]) -> String {
    let extra: Vec<(&str, &str)> = resources.iter().map(|r| ("resource", *r)).collect();
    let r = env
        .run_authorization(&mut Browser::new(), &authz(DEMO_PUBLIC, scope, &extra))
        .await;
    param(&redirect_params(&r), "code")
        .expect("a code")
        .to_owned()
}

async fn exchange_with(env: &Env, code: &str, resources: &[&str]) -> (u16, Value) {
    let mut pairs = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    pairs.extend(resources.iter().map(|r| ("resource", *r)));
    env.token(DEMO_PUBLIC, &pairs).await
}

fn aud(tokens: &Value) -> Value {
    jwt_claims(tokens["access_token"].as_str().expect("access token"))["aud"].clone()
}

#[tokio::test]
async fn the_access_token_is_for_the_requested_resource_rfc8707_2() {
    let env = env();
    let code = code_for(&env, "openid api:read offline_access", &[API]).await;
    let (status, tokens) = env.exchange(DEMO_PUBLIC, &code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(aud(&tokens), json!(["demo-api"]));
    assert_eq!(
        tokens["scope"], "api:read",
        "scopes the resource does not accept are dropped, and the response says so"
    );
    assert!(
        tokens["id_token"].is_string(),
        "openid still gives an ID token"
    );
    assert!(
        tokens["refresh_token"].is_string(),
        "offline_access still refreshes"
    );
}

#[tokio::test]
async fn without_a_resource_the_client_audience_stays() {
    let env = env();
    let code = code_for(&env, "openid api:read", &[]).await;
    let (_, tokens) = env.exchange(DEMO_PUBLIC, &code).await;
    assert_eq!(aud(&tokens), json!([ISSUER]));
    assert_eq!(tokens["scope"], "openid api:read");
}

#[tokio::test]
async fn the_token_request_narrows_to_authorized_resources_only_rfc8707_2_2() {
    let env = env();
    let code = code_for(&env, "openid api:read", &[API, FILES]).await;
    // Not authorized: refused, and the code is not spent.
    let (status, body) = exchange_with(&env, &code, &["https://other.example/"]).await;
    assert_eq!((status, error(&body)), (400, "invalid_target"), "{body}");
    let (status, tokens) = exchange_with(&env, &code, &[FILES]).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(aud(&tokens), json!(["files"]));
    assert_eq!(
        tokens["scope"], "openid api:read",
        "files accepts every scope"
    );
}

#[tokio::test]
async fn a_resource_registered_but_not_authorized_is_refused_at_the_token_endpoint_rfc8707_2_2() {
    let env = env();
    let code = code_for(&env, "openid", &[API]).await;
    let (status, body) = exchange_with(&env, &code, &[FILES]).await;
    assert_eq!((status, error(&body)), (400, "invalid_target"), "{body}");
}

#[tokio::test]
async fn both_resources_make_both_audiences() {
    let env = env();
    let code = code_for(&env, "openid api:read", &[API, FILES]).await;
    let (_, tokens) = env.exchange(DEMO_PUBLIC, &code).await;
    assert_eq!(aud(&tokens), json!(["demo-api", "files"]));
}

#[tokio::test]
async fn a_refresh_narrows_and_the_grant_keeps_every_resource_rfc8707_2_2() {
    let env = env();
    let code = code_for(&env, "openid api:read offline_access", &[API, FILES]).await;
    let (_, tokens) = env.exchange(DEMO_PUBLIC, &code).await;
    let rt = tokens["refresh_token"].as_str().expect("rt").to_owned();
    let refresh = |rt: String, resource: Option<&'static str>| {
        let env = &env;
        async move {
            let mut pairs = vec![("grant_type", "refresh_token"), ("refresh_token", &*rt)];
            pairs.extend(resource.map(|r| ("resource", r)));
            env.token(DEMO_PUBLIC, &pairs).await
        }
    };
    let (status, body) = refresh(rt.clone(), Some("https://other.example/")).await;
    assert_eq!((status, error(&body)), (400, "invalid_target"), "{body}");
    let (status, narrowed) = refresh(rt, Some(API)).await;
    assert_eq!(status, 200, "the refused refresh spent nothing: {narrowed}");
    assert_eq!(aud(&narrowed), json!(["demo-api"]));
    let rt = narrowed["refresh_token"].as_str().expect("rt").to_owned();
    let (status, again) = refresh(rt, None).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        aud(&again),
        json!(["demo-api", "files"]),
        "the rotated refresh token kept both"
    );
}

#[tokio::test]
async fn an_unknown_resource_at_authorize_is_an_invalid_target_redirect_rfc8707_2() {
    let env = env();
    for bad in [
        "https://unknown.example/",
        "relative/path",
        "urn:demo-api#frag",
    ] {
        let a = env
            .authorize(
                &mut Browser::new(),
                &authz(DEMO_PUBLIC, "openid", &[("resource", bad), ("state", "s")]),
            )
            .await;
        assert_error_redirect(a, "invalid_target", Some("s"));
    }
}

#[tokio::test]
async fn client_credentials_target_the_resource_rfc8707_2() {
    let env = env();
    let (status, body) = env
        .token(
            DEMO_CLIENT,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "api:read"),
                ("resource", FILES),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(aud(&body), json!(["files"]));
    let i = env
        .introspect(body["access_token"].as_str().expect("at"))
        .await;
    assert_eq!(i["aud"], json!(["files"]), "introspection says the same");
    let (status, body) = env
        .token(
            DEMO_CLIENT,
            &[
                ("grant_type", "client_credentials"),
                ("resource", "https://unknown.example/"),
            ],
        )
        .await;
    assert_eq!((status, error(&body)), (400, "invalid_target"), "{body}");
}

#[tokio::test]
async fn other_parameters_still_may_not_repeat_rfc6749_3_1() {
    let env = env();
    let a = env
        .authorize(
            &mut Browser::new(),
            &authz(
                DEMO_PUBLIC,
                "openid",
                &[
                    ("resource", API),
                    ("resource", FILES),
                    ("ui_locales", "en"),
                    ("ui_locales", "fr"),
                ],
            ),
        )
        .await;
    let p = assert_error_redirect(a, "invalid_request", None);
    assert!(param(&p, "error_description").is_some_and(|d| d.contains("ui_locales")));
}
