//! Token exchange (RFC 8693) in process: impersonation and delegation, nested `act`,
//! narrowing of audience, scope and lifetime, every RFC 8693 §2.2.2 refusal, revocation
//! through the subject token's grant, opaque and JWT subject tokens, and the opt-in for
//! ID tokens of a trusted issuer.

mod support;

use idpkit_core::testkit::flows::token_request;
use idpkit_core::testkit::users::TestUsers;
use idpkit_core::time::Duration;
use idpkit_core::{
    AccessTokenFormat, ActorRule, Client, ExchangeRule, ExchangeRules, GrantType, Jwk, Jwks,
    StaticClients, TrustedIssuer, Validator,
};
use serde_json::{Value, json};
use std::sync::Arc;
use support::*;

const GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const AT: &str = "urn:ietf:params:oauth:token-type:access_token";
const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
const ID: &str = "urn:ietf:params:oauth:token-type:id_token";

const EXCHANGER: &str = "exchanger";
const EXCHANGER_2: &str = "exchanger-2";
const SVC_B: &str = "svc-b";
const NO_RULE: &str = "no-rule";
const OPAQUE_APP: &str = "opaque-app";

fn secret(client_id: &str) -> String {
    if client_id == DEMO_CLIENT {
        return DEMO_SECRET.to_owned();
    }
    format!("{client_id}-secret")
}

fn clients() -> Vec<Client> {
    let mut all = support::clients();
    let confidential = |id: &str, scopes: &[&str]| {
        Client::confidential(id, &secret(id))
            .grant_types([GrantType::TokenExchange, GrantType::ClientCredentials])
            .scopes(scopes.iter().copied())
            .build()
            .expect("client")
    };
    all.push(confidential(EXCHANGER, &["api:read", "profile"]));
    all.push(confidential(EXCHANGER_2, &["api:read"]));
    all.push(confidential(SVC_B, &["api:read"]));
    all.push(confidential(NO_RULE, &["api:read"]));
    all.push(
        Client::public(OPAQUE_APP)
            .redirect_uri(REDIRECT)
            .grant_types([GrantType::AuthorizationCode, GrantType::RefreshToken])
            .scopes(SCOPES)
            .audience(["demo-api"])
            .first_party(true)
            .access_token_format(AccessTokenFormat::Opaque)
            .build()
            .expect("opaque-app"),
    );
    all
}

fn rules() -> ExchangeRules {
    ExchangeRules::new([
        ExchangeRule::new(EXCHANGER)
            .subject_audience("demo-api")
            .audience("demo-backend")
            .audience("https://backend.example/api")
            .max_scopes(["api:read", "openid"])
            .actor(ActorRule::Optional),
        ExchangeRule::new(EXCHANGER)
            .subject_audience("demo-backend")
            .audience("deep-api")
            .max_scopes(["api:read"])
            .actor(ActorRule::Optional),
        ExchangeRule::new(EXCHANGER_2)
            .subject_audience("demo-backend")
            .audience("deep-api")
            .max_scopes(["api:read"])
            .actor(ActorRule::Required),
    ])
}

fn exchange_env() -> Env {
    env_with(|b| {
        b.clients(StaticClients::new(clients()).expect("clients"))
            .token_exchange_policy(rules())
    })
}

/// A token-endpoint POST by one of this file's confidential clients.
async fn post(env: &Env, client_id: &str, pairs: &[(&str, &str)]) -> (u16, Value) {
    let r = env
        .provider
        .token(&token_request(pairs, client_id, Some(&secret(client_id))))
        .await;
    (r.status, r.json_value())
}

/// An exchange of `subject` (an access token) by `client_id` with `extra` parameters.
async fn exchange(
    env: &Env,
    client_id: &str,
    subject: &str,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let mut pairs = vec![
        ("grant_type", GRANT),
        ("subject_token", subject),
        ("subject_token_type", AT),
    ];
    pairs.extend_from_slice(extra);
    post(env, client_id, &pairs).await
}

/// A client_credentials access token of `client_id`: the actor token.
async fn client_token(env: &Env, client_id: &str) -> String {
    let (status, body) = post(env, client_id, &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().expect("token").to_owned()
}

/// Introspection by `client_id` (the exchanged token's own client).
async fn introspect_as(env: &Env, client_id: &str, token: &str) -> Value {
    let r = env
        .provider
        .introspect(&token_request(
            &[("token", token)],
            client_id,
            Some(&secret(client_id)),
        ))
        .await;
    assert_eq!(r.status, 200);
    r.json_value()
}

/// A demo-client access token (JWT, aud demo-api) for alice, with its refresh token.
async fn alice_token(env: &Env, scope: &str) -> (String, String) {
    let t = env.tokens(DEMO_CLIENT, scope).await;
    (
        t["access_token"].as_str().expect("at").to_owned(),
        t["refresh_token"].as_str().unwrap_or_default().to_owned(),
    )
}

fn assert_refused(r: &(u16, Value), code: &str) {
    assert_eq!(r.0, 400, "{}", r.1);
    assert_eq!(error(&r.1), code, "{}", r.1);
    assert!(
        r.1["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{}",
        r.1
    );
}

#[tokio::test]
async fn discovery_lists_token_exchange_and_the_token_endpoint_agrees_rfc8414_2() {
    let env = exchange_env();
    let doc = env.provider.discovery().json_value();
    let grants = doc["grant_types_supported"].as_array().expect("grants");
    assert!(grants.contains(&json!(GRANT)), "{doc}");
    let (alice, _) = alice_token(&env, "openid api:read").await;
    let r = exchange(&env, EXCHANGER, &alice, &[("audience", "demo-backend")]).await;
    assert_eq!(r.0, 200, "{}", r.1);
}

#[tokio::test]
async fn impersonation_issues_a_narrowed_token_for_the_user_without_act_rfc8693_2_2_1() {
    let env = exchange_env();
    let (alice, _) = alice_token(&env, "openid api:read").await;
    let (status, body) = exchange(
        &env,
        EXCHANGER,
        &alice,
        &[("audience", "demo-backend"), ("scope", "api:read")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["issued_token_type"], AT);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "api:read");
    assert!(body["expires_in"].as_i64().is_some_and(|s| s > 0));
    assert!(
        body.get("refresh_token").is_none(),
        "no refresh token (§2.2.1)"
    );
    let token = body["access_token"].as_str().expect("token");
    let claims = jwt_claims(token);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["aud"], json!(["demo-backend"]));
    assert_eq!(claims["client_id"], EXCHANGER);
    assert_eq!(claims["scope"], "api:read");
    assert!(
        claims.get("act").is_none(),
        "impersonation has no act: {claims}"
    );
    let seen = introspect_as(&env, EXCHANGER, token).await;
    assert_eq!(seen["active"], true);
    assert_eq!(seen["sub"], "alice");
    assert!(seen.get("act").is_none());
}

#[tokio::test]
async fn without_a_scope_the_token_gets_every_scope_within_subject_client_and_policy() {
    let env = exchange_env();
    let (alice, _) = alice_token(&env, "openid profile api:read").await;
    let (status, body) = exchange(&env, EXCHANGER, &alice, &[("audience", "demo-backend")]).await;
    assert_eq!(status, 200, "{body}");
    // openid: the policy allows it but the client does not; profile: the client does,
    // the policy does not.
    assert_eq!(body["scope"], "api:read");
}

#[tokio::test]
async fn resource_and_audience_both_name_targets_and_no_target_takes_the_policys() {
    let env = exchange_env();
    let (alice, _) = alice_token(&env, "api:read").await;
    let (status, body) = exchange(
        &env,
        EXCHANGER,
        &alice,
        &[
            ("resource", "https://backend.example/api"),
            ("audience", "demo-backend"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let claims = jwt_claims(body["access_token"].as_str().expect("token"));
    assert_eq!(
        claims["aud"],
        json!(["https://backend.example/api", "demo-backend"])
    );
    let (status, body) = exchange(&env, EXCHANGER, &alice, &[]).await;
    assert_eq!(status, 200, "{body}");
    let claims = jwt_claims(body["access_token"].as_str().expect("token"));
    assert_eq!(
        claims["aud"],
        json!(["demo-backend", "https://backend.example/api"])
    );
}

#[tokio::test]
async fn an_opaque_subject_token_is_exchanged_and_introspection_shows_the_user_rfc8693_2_1() {
    let env = exchange_env();
    let t = env.tokens(OPAQUE_APP, "openid api:read").await;
    let opaque = t["access_token"].as_str().expect("token");
    assert!(!opaque.contains('.'), "opaque");
    let (status, body) = exchange(&env, EXCHANGER, opaque, &[("audience", "demo-backend")]).await;
    assert_eq!(status, 200, "{body}");
    let claims = jwt_claims(body["access_token"].as_str().expect("token"));
    assert_eq!(claims["sub"], "alice");
    assert!(
        claims["auth_time"].as_i64().is_some(),
        "a user token: {claims}"
    );
}

#[tokio::test]
async fn delegation_carries_the_actor_in_act_and_introspection_shows_it_rfc8693_4_1() {
    let env = exchange_env();
    let (alice, _) = alice_token(&env, "api:read").await;
    let actor = client_token(&env, EXCHANGER).await;
    let (status, body) = exchange(
        &env,
        EXCHANGER,
        &alice,
        &[
            ("audience", "demo-backend"),
            ("actor_token", &actor),
            ("actor_token_type", AT),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().expect("token");
    let claims = jwt_claims(token);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["act"], json!({"sub": EXCHANGER}));
    let seen = introspect_as(&env, EXCHANGER, token).await;
    assert_eq!(seen["act"], json!({"sub": EXCHANGER}), "{seen}");
}

#[tokio::test]
async fn a_second_delegation_nests_the_previous_actor_rfc8693_4_1() {
    let env = exchange_env();
    let (alice, _) = alice_token(&env, "api:read").await;
    let actor_a = client_token(&env, EXCHANGER).await;
    let (_, first) = exchange(
        &env,
        EXCHANGER,
        &alice,
        &[
            ("audience", "demo-backend"),
            ("actor_token", &actor_a),
            ("actor_token_type", AT),
        ],
    )
    .await;
    let delegated = first["access_token"].as_str().expect("first");
    let actor_b = client_token(&env, SVC_B).await;
    let (status, body) = exchange(
        &env,
        EXCHANGER_2,
        delegated,
        &[
            ("audience", "deep-api"),
            ("actor_token", &actor_b),
            ("actor_token_type", AT),
            ("requested_token_type", JWT),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["issued_token_type"], JWT);
    let claims = jwt_claims(body["access_token"].as_str().expect("second"));
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["aud"], json!(["deep-api"]));
    assert_eq!(
        claims["act"],
        json!({"sub": SVC_B, "act": {"sub": EXCHANGER}}),
        "the outermost is the current actor"
    );
}

#[tokio::test]
async fn impersonating_a_delegated_token_keeps_its_act() {
    let env = exchange_env();
    let (alice, _) = alice_token(&env, "api:read").await;
    let actor = client_token(&env, EXCHANGER).await;
    let (_, first) = exchange(
        &env,
        EXCHANGER,
        &alice,
        &[
            ("audience", "demo-backend"),
            ("actor_token", &actor),
            ("actor_token_type", AT),
        ],
    )
    .await;
    let delegated = first["access_token"].as_str().expect("first");
    let (status, body) = exchange(&env, EXCHANGER, delegated, &[("audience", "deep-api")]).await;
    assert_eq!(status, 200, "{body}");
    let claims = jwt_claims(body["access_token"].as_str().expect("second"));
    assert_eq!(claims["act"], json!({"sub": EXCHANGER}), "{claims}");
}

#[tokio::test]
async fn a_client_token_is_exchanged_with_its_client_as_subject() {
    let env = exchange_env();
    let svc = client_token(&env, DEMO_CLIENT).await;
    let (status, body) = exchange(&env, EXCHANGER, &svc, &[("audience", "demo-backend")]).await;
    // demo-client's client_credentials token has aud demo-api too.
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().expect("token");
    let claims = jwt_claims(token);
    assert_eq!(claims["sub"], DEMO_CLIENT);
    assert_eq!(claims["client_id"], EXCHANGER);
    assert!(claims.get("auth_time").is_none(), "no user");
    let seen = introspect_as(&env, EXCHANGER, token).await;
    assert_eq!(seen["sub"], DEMO_CLIENT, "{seen}");
}

#[tokio::test]
async fn scope_wider_than_subject_client_or_policy_is_invalid_scope_rfc8693_2_2_2() {
    let env = exchange_env();
    let (alice, _) = alice_token(&env, "openid profile api:read").await;
    for scope in ["email", "openid", "profile", "api:read api:write"] {
        let r = exchange(
            &env,
            EXCHANGER,
            &alice,
            &[("audience", "demo-backend"), ("scope", scope)],
        )
        .await;
        assert_refused(&r, "invalid_scope");
    }
}

#[tokio::test]
async fn another_audience_is_invalid_target_rfc8693_2_2_2() {
    let env = exchange_env();
    let (alice, _) = alice_token(&env, "api:read").await;
    for target in [
        ("audience", "payroll"),
        ("resource", "https://payroll.example/"),
        ("resource", "not-a-uri"),
    ] {
        let r = exchange(&env, EXCHANGER, &alice, &[target]).await;
        assert_refused(&r, "invalid_target");
    }
    let r = exchange(
        &env,
        EXCHANGER,
        &alice,
        &[("audience", "demo-backend"), ("audience", "payroll")],
    )
    .await;
    assert_refused(&r, "invalid_target");
}

#[tokio::test]
async fn clients_the_policy_does_not_name_are_unauthorized_rfc8693_2_2_2() {
    let env = exchange_env();
    let (alice, _) = alice_token(&env, "api:read").await;
    let r = exchange(&env, NO_RULE, &alice, &[("audience", "demo-backend")]).await;
    assert_refused(&r, "unauthorized_client");
    // A client not registered for the grant type at all.
    let (status, body) = env
        .token(
            DEMO_CLIENT,
            &[
                ("grant_type", GRANT),
                ("subject_token", &alice),
                ("subject_token_type", AT),
            ],
        )
        .await;
    assert_refused(&(status, body), "unauthorized_client");
    // A subject token of another audience, and an actor where the rule needs none/one.
    let cc = client_token(&env, EXCHANGER).await;
    let r = exchange(&env, EXCHANGER, &cc, &[("audience", "demo-backend")]).await;
    assert_refused(&r, "unauthorized_client");
    let r = exchange(&env, EXCHANGER_2, &alice, &[("audience", "deep-api")]).await;
    assert_refused(&r, "unauthorized_client");
}

#[tokio::test]
async fn the_default_policy_refuses_every_exchange_with_unauthorized_client() {
    let env = env_with(|b| b.clients(StaticClients::new(clients()).expect("clients")));
    let (alice, _) = alice_token(&env, "api:read").await;
    let r = exchange(&env, EXCHANGER, &alice, &[("audience", "demo-backend")]).await;
    assert_refused(&r, "unauthorized_client");
    assert!(
        r.1["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("not enabled")),
        "{}",
        r.1
    );
}

#[tokio::test]
async fn malformed_requests_are_invalid_request_rfc8693_2_1() {
    let env = exchange_env();
    let (alice, _) = alice_token(&env, "api:read").await;
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![("grant_type", GRANT), ("subject_token", &alice)],
        vec![("grant_type", GRANT), ("subject_token_type", AT)],
        vec![
            ("grant_type", GRANT),
            ("subject_token", &alice),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:saml2",
            ),
        ],
        vec![
            ("grant_type", GRANT),
            ("subject_token", &alice),
            ("subject_token_type", AT),
            ("actor_token", &alice),
        ],
        vec![
            ("grant_type", GRANT),
            ("subject_token", &alice),
            ("subject_token_type", AT),
            (
                "requested_token_type",
                "urn:ietf:params:oauth:token-type:refresh_token",
            ),
        ],
        vec![
            ("grant_type", GRANT),
            ("subject_token", &alice),
            ("subject_token_type", AT),
            ("scope", "api:read"),
            ("scope", "api:read"),
        ],
    ];
    for pairs in cases {
        let r = post(&env, EXCHANGER, &pairs).await;
        assert_refused(&r, "invalid_request");
    }
}

#[tokio::test]
async fn invalid_subject_or_actor_tokens_are_invalid_request_rfc8693_2_2_2() {
    let env = exchange_env();
    let (alice, refresh) = alice_token(&env, "openid offline_access api:read").await;
    for bad in ["garbage", "a.b.c", refresh.as_str()] {
        let r = exchange(&env, EXCHANGER, bad, &[("audience", "demo-backend")]).await;
        assert_refused(&r, "invalid_request");
        let r = exchange(
            &env,
            EXCHANGER,
            &alice,
            &[
                ("audience", "demo-backend"),
                ("actor_token", bad),
                ("actor_token_type", AT),
            ],
        )
        .await;
        assert_refused(&r, "invalid_request");
        assert!(
            r.1["error_description"]
                .as_str()
                .is_some_and(|d| d.contains("actor_token"))
        );
    }
    // An ID token is not an access token, and JWT types are not accepted without trust.
    let t = env.tokens(DEMO_CLIENT, "openid api:read").await;
    let id_token = t["id_token"].as_str().expect("id token");
    let r = exchange(&env, EXCHANGER, id_token, &[("audience", "demo-backend")]).await;
    assert_refused(&r, "invalid_request");
    let r = post(
        &env,
        EXCHANGER,
        &[
            ("grant_type", GRANT),
            ("subject_token", id_token),
            ("subject_token_type", ID),
        ],
    )
    .await;
    assert_refused(&r, "invalid_request");
}

#[tokio::test]
async fn an_expired_subject_token_is_invalid_request_rfc8693_2_2_2() {
    let env = exchange_env();
    let (alice, _) = alice_token(&env, "api:read").await;
    env.advance(Duration::hours(1) + Duration::seconds(1));
    let r = exchange(&env, EXCHANGER, &alice, &[("audience", "demo-backend")]).await;
    assert_refused(&r, "invalid_request");
}

#[tokio::test]
async fn a_revoked_subject_token_is_refused_and_revocation_reaches_exchanged_tokens() {
    let env = exchange_env();
    let (alice, refresh) = alice_token(&env, "openid offline_access api:read").await;
    let (status, body) = exchange(&env, EXCHANGER, &alice, &[("audience", "demo-backend")]).await;
    assert_eq!(status, 200, "{body}");
    let exchanged = body["access_token"].as_str().expect("token").to_owned();
    assert_eq!(
        introspect_as(&env, EXCHANGER, &exchanged).await["active"],
        true
    );
    // Revoking the user's grant (RFC 7009, through its refresh token) ...
    let r = env
        .provider
        .revoke(&token_request(
            &[("token", &refresh)],
            DEMO_CLIENT,
            Some(DEMO_SECRET),
        ))
        .await;
    assert_eq!(r.status, 200);
    // ... revokes the exchanged token with it, and the subject token is refused.
    assert_eq!(
        introspect_as(&env, EXCHANGER, &exchanged).await,
        json!({"active": false})
    );
    let r = exchange(&env, EXCHANGER, &alice, &[("audience", "demo-backend")]).await;
    assert_refused(&r, "invalid_request");
}

#[tokio::test]
async fn the_issued_token_never_outlives_the_subject_token_rfc8693_2_2_1() {
    let env = exchange_env();
    let (alice, _) = alice_token(&env, "api:read").await;
    let exp = jwt_claims(&alice)["exp"].as_i64().expect("exp");
    env.advance(Duration::seconds(3_500));
    let left = exp - env.now();
    let (status, body) = exchange(&env, EXCHANGER, &alice, &[("audience", "demo-backend")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], left);
    let claims = jwt_claims(body["access_token"].as_str().expect("token"));
    assert_eq!(claims["exp"], exp, "capped at the subject token's exp");
    // The token is dead when the subject token is.
    env.advance(Duration::seconds(left));
    let token = body["access_token"].as_str().expect("token");
    assert_eq!(
        introspect_as(&env, EXCHANGER, token).await,
        json!({"active": false})
    );
}

#[tokio::test]
async fn a_delegated_token_never_outlives_the_actor_token() {
    let env = exchange_env();
    let actor = client_token(&env, EXCHANGER).await;
    let actor_exp = jwt_claims(&actor)["exp"].as_i64().expect("exp");
    env.advance(Duration::seconds(3_000));
    let (alice, _) = alice_token(&env, "api:read").await;
    let (status, body) = exchange(
        &env,
        EXCHANGER,
        &alice,
        &[
            ("audience", "demo-backend"),
            ("actor_token", &actor),
            ("actor_token_type", AT),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], actor_exp - env.now());
}

#[tokio::test]
async fn id_tokens_of_a_trusted_issuer_are_an_opt_in_rfc8693_3() {
    // Trust this provider's own ID tokens (audience demo-client, any typ).
    let probe = exchange_env();
    let keys: Vec<Jwk> =
        serde_json::from_value(probe.provider.jwks().await.json_value()["keys"].clone())
            .expect("jwks");
    let env = env_with(|b| {
        b.clients(StaticClients::new(clients()).expect("clients"))
            .token_exchange_policy(ExchangeRules::new([ExchangeRule::new(EXCHANGER)
                .subject_audience(DEMO_CLIENT)
                .audience("demo-backend")
                .max_scopes(["api:read"])]))
    });
    let validator = Validator::builder()
        .trust(TrustedIssuer::new(ISSUER, DEMO_CLIENT).with_jwks(Jwks::new(keys)))
        .required_type(None)
        .clock(env.clock.clone())
        .build()
        .expect("validator");
    let trusting = env_with(|b| {
        b.clients(StaticClients::new(clients()).expect("clients"))
            .token_exchange_policy(ExchangeRules::new([ExchangeRule::new(EXCHANGER)
                .subject_audience(DEMO_CLIENT)
                .audience("demo-backend")
                .max_scopes(["api:read"])]))
            .token_exchange_trust(validator)
    });
    // The same keys sign for every env of this binary (support's shared dev keys).
    for (e, trusted) in [(&env, false), (&trusting, true)] {
        let t = e.tokens(DEMO_CLIENT, "openid api:read").await;
        let id_token = t["id_token"].as_str().expect("id token");
        let r = post(
            e,
            EXCHANGER,
            &[
                ("grant_type", GRANT),
                ("subject_token", id_token),
                ("subject_token_type", ID),
                ("audience", "demo-backend"),
                ("scope", "api:read"),
            ],
        )
        .await;
        if trusted {
            assert_eq!(r.0, 200, "{}", r.1);
            let claims = jwt_claims(r.1["access_token"].as_str().expect("token"));
            assert_eq!(claims["sub"], "alice");
            assert_eq!(
                claims["scope"], "api:read",
                "an ID token caps nothing itself"
            );
        } else {
            assert_refused(&r, "invalid_request");
        }
    }
}

#[tokio::test]
async fn a_removed_user_gets_no_exchanged_token_and_the_grant_is_revoked() {
    let users = Arc::new(TestUsers::demo());
    let env = env_with(|b| {
        b.clients(StaticClients::new(clients()).expect("clients"))
            .users_arc(users.clone())
            .token_exchange_policy(rules())
    });
    let (alice, _) = alice_token(&env, "api:read").await;
    users.remove("alice");
    let (status, body) = exchange(&env, EXCHANGER, &alice, &[("audience", "demo-backend")]).await;
    assert_eq!((status, error(&body)), (400, "invalid_grant"), "{body}");
    assert!(
        !env.active(&alice).await,
        "the user's grant is revoked with it"
    );
}
