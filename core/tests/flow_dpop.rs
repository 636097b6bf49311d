//! DPoP (RFC 9449) at the authorization server, in process on the memory store and a
//! manual clock: bound tokens (JWT and opaque, `cnf.jkt`, `token_type: DPoP`), refresh
//! tokens of public clients bound to the key, UserInfo with `Authorization: DPoP`, server
//! nonces, replay across instances, `dpop_jkt`, and every refusal.

mod support;

use idpkit_core::testkit::flows::token_request;
use idpkit_core::time::Duration;
use idpkit_core::{
    AccessTokenFormat, Algorithm, Client, GrantType, Method, Request, Response, SigningKey,
    StaticClients, dpop,
};
use serde_json::Value;
use support::*;

const TOKEN_URL: &str = "https://idp.example/token";
const USERINFO_URL: &str = "https://idp.example/userinfo";
const OFFLINE: &str = "openid email offline_access";

fn key(alg: Algorithm) -> SigningKey {
    SigningKey::generate(alg).expect("key").0
}

fn jkt(k: &SigningKey) -> String {
    let mut jwk = k.public_jwk().clone();
    jwk.kid = None;
    jwk.thumbprint()
}

fn proof(env: &Env, k: &SigningKey, method: &str, url: &str, at: Option<&str>) -> String {
    dpop::proof(k, method, url, env.now(), at, None).expect("proof")
}

/// A token request of `client_id` with a DPoP proof of `k` (when given).
async fn token_with(
    env: &Env,
    client_id: &str,
    pairs: &[(&str, &str)],
    proof: Option<String>,
) -> Response {
    let secret = (client_id == DEMO_CLIENT).then_some(DEMO_SECRET);
    let mut r = token_request(pairs, client_id, secret);
    r.dpop = proof;
    env.provider.token(&r).await
}

fn exchange_pairs<'a>(client_id: &str, code: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut pairs = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
    ];
    if client_id != DEMO_CLIENT {
        pairs.push(("code_verifier", VERIFIER));
    }
    pairs
}

/// A code flow of `client_id` whose token request carries a proof of `k`.
async fn dpop_tokens(env: &Env, client_id: &str, k: &SigningKey) -> Value {
    let code = env.code(&mut Browser::new(), client_id, OFFLINE).await;
    let p = proof(env, k, "POST", TOKEN_URL, None);
    let r = token_with(env, client_id, &exchange_pairs(client_id, &code), Some(p)).await;
    assert_eq!(r.status, 200, "{:?}", r.json_value());
    r.json_value()
}

async fn refresh_with(env: &Env, client_id: &str, rt: &str, proof: Option<String>) -> Response {
    token_with(
        env,
        client_id,
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
        proof,
    )
    .await
}

fn s(v: &Value, name: &str) -> String {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} in {v}"))
        .to_owned()
}

fn error(r: &Response) -> String {
    r.json_value()["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn userinfo_dpop(env: &Env, token: &str, proof: Option<String>) -> Response {
    let mut r = Request::new(Method::Get);
    r.authorization = Some(format!("DPoP {token}"));
    r.dpop = proof;
    env.provider.userinfo(&r).await
}

fn opaque_env() -> Env {
    env_with(|b| {
        let mut clients = clients();
        clients.push(
            Client::public("opaque-public")
                .redirect_uri(REDIRECT)
                .grant_types([GrantType::AuthorizationCode, GrantType::RefreshToken])
                .scopes(SCOPES)
                .access_token_format(AccessTokenFormat::Opaque)
                .audience(["opaque-api"])
                .build()
                .expect("client"),
        );
        clients.push(
            Client::confidential("opaque-api", "rs-secret")
                .grant_types([GrantType::ClientCredentials])
                .resource_server_for(["opaque-api"])
                .build()
                .expect("client"),
        );
        clients.push(
            Client::public("dpop-only")
                .redirect_uri(REDIRECT)
                .grant_types([GrantType::AuthorizationCode, GrantType::RefreshToken])
                .scopes(SCOPES)
                .dpop_bound_access_tokens(true)
                .build()
                .expect("client"),
        );
        b.clients(StaticClients::new(clients).expect("clients"))
    })
}

#[tokio::test]
async fn a_proof_binds_the_jwt_access_token_cnf_jkt_and_token_type_dpop_rfc9449_5_6() {
    let env = env();
    let k = key(Algorithm::ES256);
    let t = dpop_tokens(&env, DEMO_CLIENT, &k).await;
    assert_eq!(t["token_type"], "DPoP", "RFC 9449 §5");
    let claims = jwt_claims(&s(&t, "access_token"));
    assert_eq!(claims["cnf"]["jkt"], jkt(&k), "RFC 9449 §6.1");
    let intro = env.introspect(&s(&t, "access_token")).await;
    assert_eq!(intro["token_type"], "DPoP", "RFC 9449 §6.2");
    assert_eq!(intro["cnf"]["jkt"], jkt(&k));
    let info = env
        .provider
        .access_token_info(&s(&t, "access_token"))
        .await
        .expect("lookup")
        .expect("live");
    assert_eq!(
        info.dpop_jkt,
        Some(jkt(&k)),
        "the host's own API sees the binding"
    );
    // Without a proof: a Bearer token without cnf.
    let plain = env.tokens(DEMO_CLIENT, OFFLINE).await;
    assert_eq!(plain["token_type"], "Bearer");
    assert!(jwt_claims(&s(&plain, "access_token")).get("cnf").is_none());
    assert!(
        env.introspect(&s(&plain, "access_token"))
            .await
            .get("cnf")
            .is_none()
    );
}

#[tokio::test]
async fn an_opaque_token_is_bound_in_its_record_and_shown_by_introspection_rfc9449_6_2() {
    let env = opaque_env();
    let k = key(Algorithm::EdDSA);
    let t = dpop_tokens(&env, "opaque-public", &k).await;
    assert_eq!(t["token_type"], "DPoP");
    let at = s(&t, "access_token");
    assert!(!at.contains('.'), "opaque");
    let r = env
        .provider
        .introspect(&token_request(
            &[("token", &at)],
            "opaque-api",
            Some("rs-secret"),
        ))
        .await;
    let intro = r.json_value();
    assert_eq!(intro["active"], true, "{intro}");
    assert_eq!(intro["token_type"], "DPoP");
    assert_eq!(intro["cnf"]["jkt"], jkt(&k));
}

#[tokio::test]
async fn a_public_clients_refresh_token_is_bound_to_the_key_rfc9449_5() {
    let env = env();
    let k = key(Algorithm::ES256);
    let other = key(Algorithm::ES256);
    let t = dpop_tokens(&env, DEMO_PUBLIC, &k).await;
    let rt = s(&t, "refresh_token");
    let r = refresh_with(&env, DEMO_PUBLIC, &rt, None).await;
    assert_eq!(
        (r.status, error(&r).as_str()),
        (400, "invalid_dpop_proof"),
        "no proof"
    );
    let p = proof(&env, &other, "POST", TOKEN_URL, None);
    let r = refresh_with(&env, DEMO_PUBLIC, &rt, Some(p)).await;
    assert_eq!(
        (r.status, error(&r).as_str()),
        (400, "invalid_grant"),
        "another key"
    );
    // Neither refusal consumed it: the right key still refreshes.
    let p = proof(&env, &k, "POST", TOKEN_URL, None);
    let r = refresh_with(&env, DEMO_PUBLIC, &rt, Some(p)).await;
    assert_eq!(r.status, 200, "{:?}", r.json_value());
    let t2 = r.json_value();
    assert_eq!(t2["token_type"], "DPoP");
    assert_eq!(jwt_claims(&s(&t2, "access_token"))["cnf"]["jkt"], jkt(&k));
    // And the rotated refresh token is bound too.
    let r = refresh_with(&env, DEMO_PUBLIC, &s(&t2, "refresh_token"), None).await;
    assert_eq!(error(&r), "invalid_dpop_proof");
}

#[tokio::test]
async fn a_confidential_clients_refresh_token_is_not_key_bound_but_new_tokens_are_rfc9449_5() {
    let env = env();
    let k = key(Algorithm::ES256);
    let other = key(Algorithm::EdDSA);
    let t = dpop_tokens(&env, DEMO_CLIENT, &k).await;
    let p = proof(&env, &other, "POST", TOKEN_URL, None);
    let r = refresh_with(&env, DEMO_CLIENT, &s(&t, "refresh_token"), Some(p)).await;
    assert_eq!(r.status, 200, "{:?}", r.json_value());
    let t2 = r.json_value();
    assert_eq!(
        jwt_claims(&s(&t2, "access_token"))["cnf"]["jkt"],
        jkt(&other),
        "bound to the refresh request's proof key"
    );
}

#[tokio::test]
async fn userinfo_takes_a_dpop_token_with_a_proof_and_ath_rfc9449_7_1() {
    let env = env();
    let k = key(Algorithm::ES256);
    let t = dpop_tokens(&env, DEMO_PUBLIC, &k).await;
    let at = s(&t, "access_token");
    let ok = proof(&env, &k, "GET", USERINFO_URL, Some(&at));
    let r = userinfo_dpop(&env, &at, Some(ok)).await;
    assert_eq!(r.status, 200, "{:?}", r.json_value());
    assert_eq!(r.json_value()["sub"], "alice");
}

#[tokio::test]
async fn userinfo_refuses_wrong_htm_htu_ath_missing_proof_and_another_key_rfc9449_7_1() {
    let env = env();
    let k = key(Algorithm::ES256);
    let t = dpop_tokens(&env, DEMO_PUBLIC, &k).await;
    let at = s(&t, "access_token");
    let other = key(Algorithm::ES256);
    for (what, p, code) in [
        (
            "htm",
            proof(&env, &k, "POST", USERINFO_URL, Some(&at)),
            "invalid_dpop_proof",
        ),
        (
            "htu",
            proof(&env, &k, "GET", TOKEN_URL, Some(&at)),
            "invalid_dpop_proof",
        ),
        (
            "ath",
            proof(&env, &k, "GET", USERINFO_URL, Some("other")),
            "invalid_dpop_proof",
        ),
        (
            "no ath",
            proof(&env, &k, "GET", USERINFO_URL, None),
            "invalid_dpop_proof",
        ),
        (
            "another key",
            proof(&env, &other, "GET", USERINFO_URL, Some(&at)),
            "invalid_token",
        ),
    ] {
        let r = userinfo_dpop(&env, &at, Some(p)).await;
        assert_eq!((r.status, error(&r)), (401, code.to_owned()), "{what}");
        let challenge = r.header_value("WWW-Authenticate").expect("challenge");
        assert!(challenge.starts_with("DPoP "), "{what}: {challenge}");
        assert!(
            challenge.contains("algs=\"ES256 PS256 EdDSA RS256\""),
            "{challenge}"
        );
        assert!(
            challenge.contains(&format!("error=\"{code}\"")),
            "{challenge}"
        );
    }
    let r = userinfo_dpop(&env, &at, None).await;
    assert_eq!(
        (r.status, error(&r).as_str()),
        (401, "invalid_dpop_proof"),
        "no proof"
    );
}

#[tokio::test]
async fn a_dpop_bound_token_presented_as_bearer_is_refused_rfc9449_7_2() {
    let env = env();
    let k = key(Algorithm::ES256);
    let t = dpop_tokens(&env, DEMO_PUBLIC, &k).await;
    let r = env.userinfo(&s(&t, "access_token")).await;
    assert_eq!((r.status, error(&r).as_str()), (401, "invalid_token"));
    assert!(
        r.header_value("WWW-Authenticate")
            .is_some_and(|c| c.starts_with("DPoP ")),
        "a DPoP challenge"
    );
    // And a bearer token is not accepted under the DPoP scheme.
    let plain = env.tokens(DEMO_PUBLIC, OFFLINE).await;
    let at = s(&plain, "access_token");
    let p = proof(&env, &k, "GET", USERINFO_URL, Some(&at));
    let r = userinfo_dpop(&env, &at, Some(p)).await;
    assert_eq!((r.status, error(&r).as_str()), (401, "invalid_token"));
}

#[tokio::test]
async fn a_replayed_proof_is_refused_also_at_another_instance_rfc9449_11_1() {
    let a = env();
    let k = key(Algorithm::ES256);
    let code = a.code(&mut Browser::new(), DEMO_PUBLIC, OFFLINE).await;
    let p = proof(&a, &k, "POST", TOKEN_URL, None);
    let r = token_with(
        &a,
        DEMO_PUBLIC,
        &exchange_pairs(DEMO_PUBLIC, &code),
        Some(p.clone()),
    )
    .await;
    assert_eq!(r.status, 200);
    let code2 = a.code(&mut Browser::new(), DEMO_PUBLIC, OFFLINE).await;
    let r = token_with(
        &a,
        DEMO_PUBLIC,
        &exchange_pairs(DEMO_PUBLIC, &code2),
        Some(p.clone()),
    )
    .await;
    assert_eq!(
        (r.status, error(&r).as_str()),
        (400, "invalid_dpop_proof"),
        "same instance"
    );
    // Instance B shares only the store.
    let store = a.store.clone();
    let b = env_with(|builder| builder.grant_store_arc(store));
    let r = token_with(
        &b,
        DEMO_PUBLIC,
        &exchange_pairs(DEMO_PUBLIC, &code2),
        Some(p),
    )
    .await;
    assert_eq!(
        (r.status, error(&r).as_str()),
        (400, "invalid_dpop_proof"),
        "other instance"
    );
    // A fresh proof redeems the code the replays left alone.
    let fresh = proof(&b, &k, "POST", TOKEN_URL, None);
    let r = token_with(
        &b,
        DEMO_PUBLIC,
        &exchange_pairs(DEMO_PUBLIC, &code2),
        Some(fresh),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.json_value());
}

#[tokio::test]
async fn a_stale_or_future_proof_is_refused_rfc9449_11_1() {
    let env = env();
    let k = key(Algorithm::ES256);
    let code = env.code(&mut Browser::new(), DEMO_PUBLIC, OFFLINE).await;
    for iat in [env.now() - 301, env.now() + 61] {
        let p = dpop::proof(&k, "POST", TOKEN_URL, iat, None, None).expect("proof");
        let r = token_with(
            &env,
            DEMO_PUBLIC,
            &exchange_pairs(DEMO_PUBLIC, &code),
            Some(p),
        )
        .await;
        assert_eq!(
            (r.status, error(&r).as_str()),
            (400, "invalid_dpop_proof"),
            "iat {iat}"
        );
    }
    let p = dpop::proof(&k, "POST", TOKEN_URL, env.now() - 299, None, None).expect("proof");
    let r = token_with(
        &env,
        DEMO_PUBLIC,
        &exchange_pairs(DEMO_PUBLIC, &code),
        Some(p),
    )
    .await;
    assert_eq!(r.status, 200, "inside the window");
}

#[tokio::test]
async fn a_wrong_htm_or_htu_at_the_token_endpoint_is_refused_rfc9449_4_3() {
    let env = env();
    let k = key(Algorithm::ES256);
    let code = env.code(&mut Browser::new(), DEMO_PUBLIC, OFFLINE).await;
    for p in [
        proof(&env, &k, "GET", TOKEN_URL, None),
        proof(&env, &k, "POST", "https://idp.example/token2", None),
        proof(&env, &k, "POST", "https://other.example/token", None),
    ] {
        let r = token_with(
            &env,
            DEMO_PUBLIC,
            &exchange_pairs(DEMO_PUBLIC, &code),
            Some(p),
        )
        .await;
        assert_eq!((r.status, error(&r).as_str()), (400, "invalid_dpop_proof"));
    }
    // RFC 3986 normalisation: case and the default port do not matter.
    let p = proof(&env, &k, "POST", "HTTPS://IDP.example:443/token", None);
    let r = token_with(
        &env,
        DEMO_PUBLIC,
        &exchange_pairs(DEMO_PUBLIC, &code),
        Some(p),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.json_value());
}

#[tokio::test]
async fn a_missing_nonce_is_answered_with_use_dpop_nonce_then_the_nonce_works_rfc9449_8() {
    let a = env_with(|b| b.dpop_require_nonce(true));
    let k = key(Algorithm::ES256);
    let code = a.code(&mut Browser::new(), DEMO_PUBLIC, OFFLINE).await;
    let p = proof(&a, &k, "POST", TOKEN_URL, None);
    let r = token_with(
        &a,
        DEMO_PUBLIC,
        &exchange_pairs(DEMO_PUBLIC, &code),
        Some(p),
    )
    .await;
    assert_eq!((r.status, error(&r).as_str()), (400, "use_dpop_nonce"));
    let nonce = r.header_value("DPoP-Nonce").expect("DPoP-Nonce").to_owned();
    let bad = dpop::proof(&k, "POST", TOKEN_URL, a.now(), None, Some("made-up")).expect("p");
    let r = token_with(
        &a,
        DEMO_PUBLIC,
        &exchange_pairs(DEMO_PUBLIC, &code),
        Some(bad),
    )
    .await;
    assert_eq!(error(&r), "use_dpop_nonce", "an unknown nonce");
    // Another instance on the same store accepts the nonce A issued.
    let store = a.store.clone();
    let b = env_with(|builder| builder.grant_store_arc(store).dpop_require_nonce(true));
    let good = dpop::proof(&k, "POST", TOKEN_URL, b.now(), None, Some(&nonce)).expect("p");
    let r = token_with(
        &b,
        DEMO_PUBLIC,
        &exchange_pairs(DEMO_PUBLIC, &code),
        Some(good),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.json_value());
    // Nonces expire.
    a.advance(Duration::minutes(6));
    let code = a.code(&mut Browser::new(), DEMO_PUBLIC, OFFLINE).await;
    let old = dpop::proof(&k, "POST", TOKEN_URL, a.now(), None, Some(&nonce)).expect("p");
    let r = token_with(
        &a,
        DEMO_PUBLIC,
        &exchange_pairs(DEMO_PUBLIC, &code),
        Some(old),
    )
    .await;
    assert_eq!(error(&r), "use_dpop_nonce", "an expired nonce");
}

#[tokio::test]
async fn a_dpop_bound_access_tokens_client_needs_a_proof_rfc9449_5_2() {
    let env = opaque_env();
    let code = env.code(&mut Browser::new(), "dpop-only", OFFLINE).await;
    let r = token_with(&env, "dpop-only", &exchange_pairs("dpop-only", &code), None).await;
    assert_eq!((r.status, error(&r).as_str()), (400, "invalid_dpop_proof"));
    let k = key(Algorithm::ES256);
    let p = proof(&env, &k, "POST", TOKEN_URL, None);
    let r = token_with(
        &env,
        "dpop-only",
        &exchange_pairs("dpop-only", &code),
        Some(p),
    )
    .await;
    assert_eq!(r.status, 200, "the refused request did not use the code up");
    // Server-wide: every client.
    let strict = env_with(|b| b.require_dpop(true));
    let code = strict.code(&mut Browser::new(), DEMO_PUBLIC, OFFLINE).await;
    let r = token_with(
        &strict,
        DEMO_PUBLIC,
        &exchange_pairs(DEMO_PUBLIC, &code),
        None,
    )
    .await;
    assert_eq!(error(&r), "invalid_dpop_proof");
}

#[tokio::test]
async fn a_code_bound_with_dpop_jkt_needs_a_proof_of_that_key_rfc9449_10() {
    let env = env();
    let k = key(Algorithm::ES256);
    let other = key(Algorithm::ES256);
    let bound = jkt(&k);
    let r = env
        .run_authorization(
            &mut Browser::new(),
            &authz(DEMO_PUBLIC, OFFLINE, &[("dpop_jkt", bound.as_str())]),
        )
        .await;
    let code = param(&redirect_params(&r), "code")
        .expect("code")
        .to_owned();
    let r = token_with(&env, DEMO_PUBLIC, &exchange_pairs(DEMO_PUBLIC, &code), None).await;
    assert_eq!(error(&r), "invalid_dpop_proof", "no proof");
    let p = proof(&env, &other, "POST", TOKEN_URL, None);
    let r = token_with(
        &env,
        DEMO_PUBLIC,
        &exchange_pairs(DEMO_PUBLIC, &code),
        Some(p),
    )
    .await;
    assert_eq!(error(&r), "invalid_grant", "another key");
    let p = proof(&env, &k, "POST", TOKEN_URL, None);
    let r = token_with(
        &env,
        DEMO_PUBLIC,
        &exchange_pairs(DEMO_PUBLIC, &code),
        Some(p),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.json_value());
    // A malformed dpop_jkt is refused at the authorization endpoint.
    let r = env
        .run_authorization(
            &mut Browser::new(),
            &authz(DEMO_PUBLIC, OFFLINE, &[("dpop_jkt", "not-a-thumbprint")]),
        )
        .await;
    assert_eq!(
        param(&redirect_params(&r), "error"),
        Some("invalid_request")
    );
}

#[tokio::test]
async fn two_dpop_headers_are_refused_rfc9449_4_3() {
    let e = Request::from_http(
        "POST",
        None,
        [("DPoP", "a.b.c"), ("dpop", "d.e.f")],
        b"",
        1024,
    )
    .expect_err("two headers");
    assert_eq!(e.code.as_str(), "invalid_dpop_proof");
    let r = Request::from_http("POST", None, [("DPoP", "a.b.c")], b"", 1024).expect("one");
    assert_eq!(r.dpop.as_deref(), Some("a.b.c"));
}
