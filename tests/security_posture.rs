//! End-to-end negative tests and one test per item of the security posture (DESIGN §5),
//! over HTTP against the example host.

use idpkit_test_support::host as common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use idpkit::time::Duration;
use idpkit_example::DEMO_REDIRECT_URI;
use serde_json::Value;

fn err(v: &Value) -> &str {
    v["error"].as_str().unwrap_or("<none>")
}

// --- authorization codes ---------------------------------------------------------------

#[tokio::test]
async fn code_reuse_fails_and_revokes_the_tokens_of_the_first_use() {
    let host = Host::start().await;
    let (code, verifier) = code_for_demo_client(&host, "openid offline_access api:read").await;
    let first = exchange(&host, &code, &verifier).await;
    assert_eq!(first.status(), 200);
    let tokens: Value = first.json().await.expect("json");
    let second = exchange(&host, &code, &verifier).await;
    assert_eq!(second.status(), 400);
    let body: Value = second.json().await.expect("json");
    assert_eq!(err(&body), "invalid_grant");

    let refresh = tokens["refresh_token"].as_str().expect("refresh token");
    let (status, body) = post_as_demo_client(
        &host,
        "/token",
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(
        (status, err(&body)),
        (400, "invalid_grant"),
        "refresh token of the first use revoked"
    );
    let at = tokens["access_token"].as_str().expect("access token");
    let (_, intro) = post_as_demo_client(&host, "/introspect", &[("token", at)]).await;
    assert_eq!(
        intro,
        serde_json::json!({"active": false}),
        "access token of the first use revoked"
    );
}

#[tokio::test]
async fn expired_code_is_invalid_grant() {
    let host = Host::start().await;
    let (code, verifier) = code_for_demo_client(&host, "openid").await;
    host.clock.advance(Duration::seconds(61));
    let resp = exchange(&host, &code, &verifier).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(err(&resp.json().await.expect("json")), "invalid_grant");
}

#[tokio::test]
async fn wrong_pkce_verifier_is_invalid_grant_and_the_code_stays_unspent() {
    let host = Host::start().await;
    let (code, verifier) = code_for_demo_client(&host, "openid").await;
    let (wrong, _) = pkce_pair();
    let resp = exchange(&host, &code, &wrong).await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(err(&body), "invalid_grant");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or("")
            .contains("code_verifier")
    );
    // A failed check consumes nothing: the right verifier still works.
    assert_eq!(exchange(&host, &code, &verifier).await.status(), 200);
}

#[tokio::test]
async fn code_verifier_for_a_code_issued_without_challenge_is_refused() {
    let host = Host::start().await;
    let url = authorize_url(
        &host,
        "demo-client",
        &[("response_type", "code"), ("scope", "openid")],
    );
    let cb = login(&browser(), &host, &url, "alice", "wonderland").await;
    let code = param(&callback_params(&cb), "code")
        .expect("code")
        .to_owned();
    let (verifier, _) = pkce_pair();
    let resp = exchange(&host, &code, &verifier).await;
    assert_eq!(resp.status(), 400, "PKCE downgrade must be refused");
    assert_eq!(err(&resp.json().await.expect("json")), "invalid_grant");
}

#[tokio::test]
async fn code_is_bound_to_client_and_redirect_uri() {
    let host = Host::start().await;
    let (code, verifier) = code_for_demo_client(&host, "openid").await;
    let resp = http()
        .post(host.url("/token"))
        .basic_auth("demo-client", Some("demo-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9999/other"),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 400);
    assert_eq!(err(&resp.json().await.expect("json")), "invalid_grant");
    let resp = http()
        .post(host.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", "demo-public"),
            ("code", &code),
            ("redirect_uri", DEMO_REDIRECT_URI),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 400, "another client cannot redeem the code");
    assert_eq!(err(&resp.json().await.expect("json")), "invalid_grant");
}

// --- authorization endpoint ------------------------------------------------------------

#[tokio::test]
async fn redirect_uri_mismatch_is_shown_never_redirected() {
    let host = Host::start().await;
    for bad in [
        "http://127.0.0.1:9999/callback/",
        "http://127.0.0.1:9999/Callback",
        "http://evil.example/callback",
        "http://127.0.0.1:9999/callback?x=1",
    ] {
        let url = format!(
            "{}?client_id=demo-client&response_type=code&scope=openid&redirect_uri={}",
            host.url("/authorize"),
            url::form_urlencoded::byte_serialize(bad.as_bytes()).collect::<String>()
        );
        let resp = browser().get(&url).send().await.expect("send");
        assert_eq!(resp.status(), 400, "{bad}");
        assert!(
            resp.headers().get("location").is_none(),
            "never redirect to {bad}"
        );
        assert!(resp.text().await.expect("html").contains("redirect_uri"));
    }
    // Unknown client: also shown, even with a valid-looking redirect URI.
    let url = authorize_url(
        &host,
        "nobody",
        &[("response_type", "code"), ("scope", "openid")],
    );
    let resp = browser().get(&url).send().await.expect("send");
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().get("location").is_none());
    // A duplicated redirect_uri cannot be trusted either.
    let url = format!(
        "{}&redirect_uri={}",
        authorize_url(
            &host,
            "demo-client",
            &[("response_type", "code"), ("scope", "openid")]
        ),
        "http%3A%2F%2Fevil.example%2F"
    );
    let resp = browser().get(&url).send().await.expect("send");
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().get("location").is_none());
}

async fn authorize_error(
    host: &Host,
    client_id: &str,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let resp = browser()
        .get(authorize_url(host, client_id, extra))
        .send()
        .await
        .expect("send");
    callback_params(&location(&resp))
}

#[tokio::test]
async fn missing_pkce_for_the_public_client_is_invalid_request_with_iss() {
    let host = Host::start().await;
    let p = authorize_error(
        &host,
        "demo-public",
        &[
            ("response_type", "code"),
            ("scope", "openid"),
            ("state", "xyz"),
        ],
    )
    .await;
    assert_eq!(param(&p, "error"), Some("invalid_request"));
    assert!(
        param(&p, "error_description")
            .unwrap_or("")
            .contains("PKCE")
    );
    assert_eq!(param(&p, "state"), Some("xyz"));
    assert_eq!(
        param(&p, "iss"),
        Some(host.base.as_str()),
        "RFC 9207 iss on errors too"
    );
}

#[tokio::test]
async fn plain_pkce_is_refused() {
    let host = Host::start().await;
    let p = authorize_error(
        &host,
        "demo-public",
        &[
            ("response_type", "code"),
            ("scope", "openid"),
            (
                "code_challenge",
                "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            ),
            ("code_challenge_method", "plain"),
        ],
    )
    .await;
    assert_eq!(param(&p, "error"), Some("invalid_request"));
}

#[tokio::test]
async fn unsupported_response_type_and_disallowed_scope_are_redirected_errors() {
    let host = Host::start().await;
    let (_, challenge) = pkce_pair();
    let pk = [
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let p = authorize_error(
        &host,
        "demo-client",
        &[
            ("response_type", "token"),
            ("scope", "openid"),
            pk[0],
            pk[1],
        ],
    )
    .await;
    assert_eq!(param(&p, "error"), Some("unsupported_response_type"));
    let p = authorize_error(
        &host,
        "demo-client",
        &[
            ("response_type", "code"),
            ("scope", "openid admin"),
            pk[0],
            pk[1],
        ],
    )
    .await;
    assert_eq!(param(&p, "error"), Some("invalid_scope"));
    let p = authorize_error(
        &host,
        "demo-client",
        &[
            ("response_type", "code"),
            ("scope", "openid"),
            ("scope", "email"),
            pk[0],
            pk[1],
        ],
    )
    .await;
    assert_eq!(
        param(&p, "error"),
        Some("invalid_request"),
        "duplicate parameters are refused"
    );
    let p = authorize_error(
        &host,
        "demo-client",
        &[
            ("response_type", "code"),
            ("scope", "openid"),
            ("prompt", "none"),
        ],
    )
    .await;
    assert_eq!(
        param(&p, "error"),
        Some("login_required"),
        "prompt=none without a session"
    );
}

#[tokio::test]
async fn response_modes_fragment_and_form_post() {
    let host = Host::start().await;
    let b = browser();
    let url = authorize_url(
        &host,
        "demo-client",
        &[
            ("response_type", "code"),
            ("scope", "openid"),
            ("response_mode", "fragment"),
        ],
    );
    let cb = login(&b, &host, &url, "alice", "wonderland").await;
    assert!(
        cb.starts_with(&format!("{DEMO_REDIRECT_URI}#code=")),
        "{cb}"
    );
    // Same browser, SSO: form_post answers an auto-submitting form to the redirect URI.
    let url = authorize_url(
        &host,
        "demo-client",
        &[
            ("response_type", "code"),
            ("scope", "openid"),
            ("response_mode", "form_post"),
            ("state", "<s>"),
        ],
    );
    let resp = b.get(&url).send().await.expect("send");
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.expect("html");
    assert!(
        html.contains(&format!("action=\"{DEMO_REDIRECT_URI}\"")),
        "{html}"
    );
    assert!(html.contains("name=\"code\""));
    assert!(
        html.contains("value=\"&lt;s&gt;\""),
        "state is HTML-escaped"
    );
}

#[tokio::test]
async fn login_page_refuses_wrong_password_and_another_browser() {
    let host = Host::start().await;
    let (_, challenge) = pkce_pair();
    let url = authorize_url(
        &host,
        "demo-client",
        &[
            ("response_type", "code"),
            ("scope", "openid"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let b = browser();
    let loc = location(&b.get(&url).send().await.expect("send"));
    let resp = b
        .post(host.url(&loc))
        .form(&[("username", "alice"), ("password", "nope")])
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 401);
    assert!(
        resp.text()
            .await
            .expect("html")
            .contains("Wrong username or password")
    );
    // A browser without the interaction cookie cannot complete it (CSRF / fixation).
    let resp = browser()
        .post(host.url(&loc))
        .form(&[("username", "alice"), ("password", "wonderland")])
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().get("location").is_none());
}

// --- token endpoint --------------------------------------------------------------------

#[tokio::test]
async fn refresh_reuse_revokes_the_family() {
    let host = Host::start().await;
    let tokens = tokens_for_demo_client(&host, "openid offline_access").await;
    let r1 = tokens["refresh_token"].as_str().expect("rt").to_owned();
    let (s, t2) = post_as_demo_client(
        &host,
        "/token",
        &[("grant_type", "refresh_token"), ("refresh_token", &r1)],
    )
    .await;
    assert_eq!(s, 200);
    let r2 = t2["refresh_token"].as_str().expect("rotated").to_owned();
    // Replay of the rotated token: refused, and the whole family dies.
    let (s, body) = post_as_demo_client(
        &host,
        "/token",
        &[("grant_type", "refresh_token"), ("refresh_token", &r1)],
    )
    .await;
    assert_eq!((s, err(&body)), (400, "invalid_grant"));
    let (s, body) = post_as_demo_client(
        &host,
        "/token",
        &[("grant_type", "refresh_token"), ("refresh_token", &r2)],
    )
    .await;
    assert_eq!(
        (s, err(&body)),
        (400, "invalid_grant"),
        "the successor is revoked too"
    );
    let (_, intro) = post_as_demo_client(
        &host,
        "/introspect",
        &[("token", t2["access_token"].as_str().expect("at"))],
    )
    .await;
    assert_eq!(intro, serde_json::json!({"active": false}));
}

#[tokio::test]
async fn refresh_can_narrow_but_not_widen_scope() {
    let host = Host::start().await;
    let tokens = tokens_for_demo_client(&host, "openid email offline_access").await;
    let rt = tokens["refresh_token"].as_str().expect("rt").to_owned();
    let (s, body) = post_as_demo_client(
        &host,
        "/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("scope", "openid profile"),
        ],
    )
    .await;
    assert_eq!((s, err(&body)), (400, "invalid_scope"));
    let (s, body) = post_as_demo_client(
        &host,
        "/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("scope", "openid offline_access"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["scope"], "openid offline_access");
}

#[tokio::test]
async fn bad_client_secret_is_401_with_basic_challenge() {
    let host = Host::start().await;
    let resp = http()
        .post(host.url("/token"))
        .basic_auth("demo-client", Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 401);
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .expect("WWW-Authenticate")
        .to_str()
        .expect("ascii");
    assert!(challenge.starts_with("Basic"), "{challenge}");
    assert_eq!(err(&resp.json().await.expect("json")), "invalid_client");
    // Two authentication methods at once.
    let resp = http()
        .post(host.url("/token"))
        .basic_auth("demo-client", Some("demo-secret"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_secret", "demo-secret"),
        ])
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 400);
    assert_eq!(err(&resp.json().await.expect("json")), "invalid_request");
    // client_secret_post works.
    let resp = http()
        .post(host.url("/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "demo-client"),
            ("client_secret", "demo-secret"),
        ])
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn token_responses_are_no_store_and_grants_are_checked() {
    let host = Host::start().await;
    let resp = http()
        .post(host.url("/token"))
        .basic_auth("demo-client", Some("demo-secret"))
        .form(&[("grant_type", "client_credentials"), ("scope", "api:read")])
        .send()
        .await
        .expect("send");
    assert_eq!(
        resp.headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap_or("")),
        Some("no-store")
    );
    assert_eq!(
        resp.headers()
            .get("pragma")
            .map(|v| v.to_str().unwrap_or("")),
        Some("no-cache")
    );
    let body: Value = resp.json().await.expect("json");
    let at = body["access_token"].as_str().expect("at");
    // RFC 9068 shape; the subject of a client_credentials token is the client, not a user.
    let mut parts = at.split('.');
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(parts.next().expect("h"))
            .expect("b64"),
    )
    .expect("json");
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(parts.next().expect("p"))
            .expect("b64"),
    )
    .expect("json");
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "RS256");
    assert_eq!(claims["sub"], "demo-client");
    assert_eq!(claims["client_id"], "demo-client");
    assert_eq!(claims["aud"], serde_json::json!(["demo-api"]));
    for c in ["iss", "exp", "iat", "jti", "scope"] {
        assert!(claims.get(c).is_some(), "RFC 9068 claim {c} missing");
    }
    let (s, b) = post_as_demo_client(&host, "/token", &[("grant_type", "urn:example:magic")]).await;
    assert_eq!((s, err(&b)), (400, "unsupported_grant_type"));
    let (s, b) = post_as_demo_client(
        &host,
        "/token",
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "wonderland"),
        ],
    )
    .await;
    assert_eq!(
        (s, err(&b)),
        (400, "unauthorized_client"),
        "the password grant is off unless a client opts in"
    );
    let (s, b) = post_as_demo_client(
        &host,
        "/token",
        &[("grant_type", "client_credentials"), ("scope", "openid")],
    )
    .await;
    assert_eq!(
        (s, err(&b)),
        (400, "invalid_scope"),
        "no user scopes without a user"
    );
    let (s, b) = post_as_demo_client(
        &host,
        "/token",
        &[
            ("grant_type", "client_credentials"),
            ("grant_type", "client_credentials"),
        ],
    )
    .await;
    assert_eq!(
        (s, err(&b)),
        (400, "invalid_request"),
        "duplicate parameters"
    );
    let resp = http()
        .post(host.url("/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "demo-public"),
        ])
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 400);
    assert_eq!(
        err(&resp.json().await.expect("json")),
        "unauthorized_client"
    );
}

#[tokio::test]
async fn oversized_and_malformed_requests_are_clear_errors() {
    let host = Host::start().await;
    let big = "x".repeat(70 * 1024);
    let resp = http()
        .post(host.url("/token"))
        .basic_auth("demo-client", Some("demo-secret"))
        .form(&[("grant_type", "client_credentials"), ("pad", &big)])
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 413);
    let resp = http()
        .post(host.url("/token"))
        .header("content-type", "text/plain")
        .body("grant_type=client_credentials")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 400);
    assert_eq!(err(&resp.json().await.expect("json")), "invalid_request");
}

// --- userinfo, revocation, introspection -----------------------------------------------

#[tokio::test]
async fn userinfo_refuses_forged_and_missing_tokens() {
    let host = Host::start().await;
    let resp = http()
        .get(host.url("/userinfo"))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().get("www-authenticate").is_some());
    // alg none, claiming alice.
    let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"at+jwt"}"#);
    let p = URL_SAFE_NO_PAD.encode(
        serde_json::json!({"iss": host.base, "sub": "alice", "aud": ["demo-api"], "exp": 4102444800i64,
            "iat": 1, "jti": "x", "client_id": "demo-client", "scope": "openid", "auth_time": 1})
        .to_string(),
    );
    for forged in [format!("{h}.{p}."), format!("{h}.{p}.AAAA")] {
        let resp = http()
            .get(host.url("/userinfo"))
            .bearer_auth(&forged)
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), 401, "alg none must be refused");
        let challenge = resp
            .headers()
            .get("www-authenticate")
            .expect("challenge")
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    }
    // A client_credentials token has no user.
    let (_, cc) =
        post_as_demo_client(&host, "/token", &[("grant_type", "client_credentials")]).await;
    let resp = http()
        .get(host.url("/userinfo"))
        .bearer_auth(cc["access_token"].as_str().expect("at"))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 403);
}

#[tokio::test]
async fn revocation_of_another_clients_token_is_refused_and_leaves_it_alone() {
    let host = Host::start().await;
    // demo-public gets a refresh token (consent included).
    let (verifier, challenge) = pkce_pair();
    let url = authorize_url(
        &host,
        "demo-public",
        &[
            ("response_type", "code"),
            ("scope", "openid offline_access"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let cb = login(&browser(), &host, &url, "alice", "wonderland").await;
    let code = param(&callback_params(&cb), "code")
        .expect("code")
        .to_owned();
    let tokens: Value = http()
        .post(host.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", "demo-public"),
            ("code", &code),
            ("redirect_uri", DEMO_REDIRECT_URI),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let rt = tokens["refresh_token"].as_str().expect("rt");
    let (s, b) = post_as_demo_client(&host, "/revoke", &[("token", rt)]).await;
    assert_eq!((s, err(&b)), (400, "unauthorized_client"));
    let resp = http()
        .post(host.url("/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "demo-public"),
            ("refresh_token", rt),
        ])
        .send()
        .await
        .expect("send");
    assert_eq!(
        resp.status(),
        200,
        "the token survives another client's revocation attempt"
    );
    // Unknown tokens: 200.
    let (s, _) = post_as_demo_client(&host, "/revoke", &[("token", "not-a-token")]).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn introspection_requires_client_auth_and_answers_inactive_exactly() {
    let host = Host::start().await;
    let resp = http()
        .post(host.url("/introspect"))
        .form(&[("token", "x")])
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 401);
    let resp = http()
        .post(host.url("/introspect"))
        .form(&[("token", "x"), ("client_id", "demo-public")])
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 401, "public clients cannot introspect");
    let (s, b) = post_as_demo_client(&host, "/introspect", &[("token", "garbage.in.here")]).await;
    assert_eq!((s, b), (200, serde_json::json!({"active": false})));
    // An expired token is inactive.
    let (_, cc) =
        post_as_demo_client(&host, "/token", &[("grant_type", "client_credentials")]).await;
    let at = cc["access_token"].as_str().expect("at").to_owned();
    let (_, b) = post_as_demo_client(&host, "/introspect", &[("token", &at)]).await;
    assert_eq!(b["active"], true);
    assert_eq!(b["client_id"], "demo-client");
    host.clock.advance(Duration::hours(2));
    let (_, b) = post_as_demo_client(&host, "/introspect", &[("token", &at)]).await;
    assert_eq!(b, serde_json::json!({"active": false}));
}

#[tokio::test]
async fn discovery_and_jwks_are_public_documents() {
    let host = Host::start().await;
    let resp = http()
        .get(host.url("/.well-known/openid-configuration"))
        .header("origin", "https://spa.example")
        .send()
        .await
        .expect("send");
    assert_eq!(
        resp.headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap_or("")),
        Some("*")
    );
    let doc: Value = resp.json().await.expect("json");
    assert_eq!(doc["issuer"], host.base);
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    let jwks: Value = http()
        .get(host.url("/jwks"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let keys = jwks["keys"].as_array().expect("keys");
    assert!(keys.iter().any(|k| k["alg"] == "RS256"));
    for k in keys {
        assert!(
            k.get("d").is_none() && k.get("p").is_none(),
            "no private members in the JWKS"
        );
    }
    let rfc8414: Value = http()
        .get(host.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(rfc8414, doc);
    // The authorization endpoint has no CORS.
    let resp = http()
        .get(authorize_url(
            &host,
            "demo-client",
            &[("response_type", "code"), ("scope", "openid")],
        ))
        .header("origin", "https://spa.example")
        .send()
        .await
        .expect("send");
    assert!(resp.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn cors_only_for_origins_a_client_allows() {
    let host = Host::start().await;
    let preflight = |origin: &'static str| {
        let url = host.url("/token");
        async move {
            http()
                .request(reqwest::Method::OPTIONS, url)
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .send()
                .await
                .expect("send")
        }
    };
    let ok = preflight(idpkit_example::DEMO_ORIGIN).await;
    assert_eq!(ok.status(), 204);
    assert_eq!(
        ok.headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap_or("")),
        Some(idpkit_example::DEMO_ORIGIN)
    );
    let evil = preflight("https://evil.example").await;
    assert_eq!(evil.status(), 403);
    assert!(evil.headers().get("access-control-allow-origin").is_none());
    let resp = http()
        .post(host.url("/token"))
        .header("origin", "https://evil.example")
        .basic_auth("demo-client", Some("demo-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("send");
    assert!(resp.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn prompt_login_max_age_login_hint_and_deny() {
    let host = Host::start().await;
    let b = browser();
    let base = [("response_type", "code"), ("scope", "openid")];
    // Establish a session.
    login(
        &b,
        &host,
        &authorize_url(&host, "demo-client", &base),
        "alice",
        "wonderland",
    )
    .await;
    // SSO answers at once ...
    let resp = b
        .get(authorize_url(&host, "demo-client", &base))
        .send()
        .await
        .expect("send");
    assert!(location(&resp).starts_with(DEMO_REDIRECT_URI));
    // ... but prompt=login asks again, and so does max_age once it has passed.
    let resp = b
        .get(authorize_url(
            &host,
            "demo-client",
            &[base[0], base[1], ("prompt", "login")],
        ))
        .send()
        .await
        .expect("send");
    assert!(
        location(&resp).starts_with("/interaction/"),
        "prompt=login forces a login"
    );
    host.clock.advance(Duration::seconds(30));
    let resp = b
        .get(authorize_url(
            &host,
            "demo-client",
            &[base[0], base[1], ("max_age", "3600")],
        ))
        .send()
        .await
        .expect("send");
    assert!(
        location(&resp).starts_with(DEMO_REDIRECT_URI),
        "a fresh enough session passes max_age"
    );
    let resp = b
        .get(authorize_url(
            &host,
            "demo-client",
            &[base[0], base[1], ("max_age", "10")],
        ))
        .send()
        .await
        .expect("send");
    let loc = location(&resp);
    assert!(
        loc.starts_with("/interaction/"),
        "an older login than max_age asks again"
    );
    // login_hint pre-fills the username.
    let resp = b
        .get(authorize_url(
            &host,
            "demo-client",
            &[
                base[0],
                base[1],
                ("prompt", "login"),
                ("login_hint", "alice"),
            ],
        ))
        .send()
        .await
        .expect("send");
    let html = b
        .get(host.url(&location(&resp)))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("html");
    assert!(html.contains("value=\"alice\""), "{html}");
    // Denying consent sends access_denied to the client.
    let (_, challenge) = pkce_pair();
    let url = authorize_url(
        &host,
        "demo-public",
        &[
            base[0],
            base[1],
            ("state", "d"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let consent = location(&b.get(&url).send().await.expect("send"));
    assert!(consent.starts_with("/interaction/"));
    let resp = b
        .post(host.url(&consent))
        .form(&[("decision", "deny")])
        .send()
        .await
        .expect("send");
    let p = callback_params(&location(&resp));
    assert_eq!(param(&p, "error"), Some("access_denied"));
    assert_eq!(param(&p, "state"), Some("d"));
    assert_eq!(param(&p, "iss"), Some(host.base.as_str()));
}

#[tokio::test]
async fn userinfo_accepts_the_token_in_a_post_body_but_not_twice() {
    let host = Host::start().await;
    let tokens = tokens_for_demo_client(&host, "openid email").await;
    let at = tokens["access_token"].as_str().expect("at");
    let resp = http()
        .post(host.url("/userinfo"))
        .form(&[("access_token", at)])
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap_or("")),
        Some("no-store")
    );
    let claims: Value = resp.json().await.expect("json");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["email"], "alice@example.com");
    assert!(
        claims.get("name").is_none(),
        "profile claims need the profile scope"
    );
    let resp = http()
        .post(host.url("/userinfo"))
        .bearer_auth(at)
        .form(&[("access_token", at)])
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 400, "two methods of sending the token");
}

#[tokio::test]
async fn refresh_tokens_are_bound_to_their_client() {
    let host = Host::start().await;
    let tokens = tokens_for_demo_client(&host, "openid offline_access").await;
    let rt = tokens["refresh_token"].as_str().expect("rt");
    let resp = http()
        .post(host.url("/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "demo-public"),
            ("refresh_token", rt),
        ])
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 400);
    assert_eq!(err(&resp.json().await.expect("json")), "invalid_grant");
    let (s, _) = post_as_demo_client(
        &host,
        "/token",
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
    )
    .await;
    assert_eq!(
        s, 200,
        "the owner's token is untouched by another client's attempt"
    );
}

#[tokio::test]
async fn hmac_tokens_made_with_the_public_key_are_refused() {
    let host = Host::start().await;
    // Key confusion: an HS256 token whose "secret" is the published RSA modulus.
    let jwks: Value = http()
        .get(host.url("/jwks"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let rsa = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kty"] == "RSA")
        .expect("rsa")
        .clone();
    let h = URL_SAFE_NO_PAD.encode(
        serde_json::json!({"alg": "HS256", "typ": "at+jwt", "kid": rsa["kid"]}).to_string(),
    );
    let p = URL_SAFE_NO_PAD.encode(
        serde_json::json!({"iss": host.base, "sub": "alice", "aud": ["demo-api"], "exp": 4102444800i64,
            "iat": 1, "jti": "x", "client_id": "demo-client", "scope": "openid", "auth_time": 1})
        .to_string(),
    );
    let forged = format!(
        "{h}.{p}.{}",
        URL_SAFE_NO_PAD.encode(rsa["n"].as_str().expect("n"))
    );
    let resp = http()
        .get(host.url("/userinfo"))
        .bearer_auth(&forged)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 401);
    let (_, intro) = post_as_demo_client(&host, "/introspect", &[("token", &forged)]).await;
    assert_eq!(intro, serde_json::json!({"active": false}));
}

#[tokio::test]
async fn a_jwt_jti_is_not_a_bearer_token() {
    let host = Host::start().await;
    let tokens = tokens_for_demo_client(&host, "openid email").await;
    let at = tokens["access_token"].as_str().expect("at");
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(at.split('.').nth(1).expect("payload"))
            .expect("b64"),
    )
    .expect("json");
    let jti = claims["jti"].as_str().expect("jti");
    assert_eq!(claims["aud"], serde_json::json!(["demo-api"]));
    let resp = http()
        .get(host.url("/userinfo"))
        .bearer_auth(jti)
        .send()
        .await
        .expect("send");
    assert_eq!(
        resp.status(),
        401,
        "the public jti must not work as a token"
    );
    let (_, intro) = post_as_demo_client(&host, "/introspect", &[("token", jti)]).await;
    assert_eq!(intro, serde_json::json!({"active": false}));
    let resp = http()
        .get(host.url("/userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 200, "the token itself works");
}

#[tokio::test]
async fn back_channel_parameters_in_the_url_are_refused() {
    let host = Host::start().await;
    let resp = http()
        .post(host.url("/token?client_id=demo-client&client_secret=demo-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(err(&body), "invalid_request");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or("")
            .contains("body")
    );
}

#[tokio::test]
async fn redirect_uri_sent_at_authorize_is_required_at_the_token_endpoint() {
    let host = Host::start().await;
    let (code, verifier) = code_for_demo_client(&host, "openid").await;
    let (s, b) = post_as_demo_client(
        &host,
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!((s, err(&b)), (400, "invalid_request"));
    assert_eq!(
        exchange(&host, &code, &verifier).await.status(),
        200,
        "the failed attempt consumed nothing"
    );
}

#[tokio::test]
async fn refresh_tokens_keep_the_original_scope_when_a_refresh_narrows() {
    let host = Host::start().await;
    let tokens = tokens_for_demo_client(&host, "openid email offline_access").await;
    let rt = tokens["refresh_token"].as_str().expect("rt").to_owned();
    let (s, narrowed) = post_as_demo_client(
        &host,
        "/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("scope", "openid"),
        ],
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(narrowed["scope"], "openid");
    let rt2 = narrowed["refresh_token"].as_str().expect("rt").to_owned();
    let (s, full) = post_as_demo_client(
        &host,
        "/token",
        &[("grant_type", "refresh_token"), ("refresh_token", &rt2)],
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        full["scope"], "openid email offline_access",
        "RFC 6749 §6: the refresh token's scope is unchanged"
    );
}

// --- exact parameters and headers (#12 item 9) -------------------------------------------

#[tokio::test]
async fn parameters_and_headers_are_taken_exactly_or_refused() {
    let host = Host::start().await;
    // RFC 6749 §3.2: the token endpoint takes a form body; JSON issues nothing.
    let resp = http()
        .post(host.url("/token"))
        .basic_auth("demo-client", Some("demo-secret"))
        .header("content-type", "application/json")
        .body(r#"{"grant_type":"client_credentials"}"#)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 400);
    let b: Value = resp.json().await.expect("json");
    assert_eq!(err(&b), "invalid_request", "{b}");
    assert!(b.get("access_token").is_none());
    // `state` that is not UTF-8 is refused, never echoed altered (no redirect at all).
    let url = format!(
        "{}&response_type=code&scope=openid&state=%FF%FE",
        authorize_url(&host, "demo-client", &[])
    );
    let resp = browser().get(&url).send().await.expect("send");
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().get("location").is_none());
    // RFC 6750 §2: one method of sending the access token; header + query is refused.
    let cc = post_as_demo_client(&host, "/token", &[("grant_type", "client_credentials")]).await;
    let at = cc.1["access_token"].as_str().expect("at").to_owned();
    let resp = http()
        .get(format!("{}?access_token={at}", host.url("/userinfo")))
        .bearer_auth(&at)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 400);
    let b: Value = resp.json().await.expect("json");
    assert_eq!(err(&b), "invalid_request", "{b}");
    // A non-ASCII Authorization header is refused, not taken as "no credentials".
    let raw = reqwest::header::HeaderValue::from_bytes(b"Bearer t\xe9st").expect("obs-text");
    let resp = http()
        .get(host.url("/userinfo"))
        .header("authorization", raw)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 400);
    // A repeated idpkit cookie is refused rather than resolved to either value.
    let resp = http()
        .get(authorize_url(
            &host,
            "demo-client",
            &[("response_type", "code"), ("scope", "openid")],
        ))
        .header("cookie", "idpkit_session=a; idpkit_session=b")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().get("location").is_none());
}
