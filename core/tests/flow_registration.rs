//! Dynamic client registration (RFC 7591) and management (RFC 7592), in process: every
//! registration error, the read / update / delete cycle with wrong, missing and old
//! registration access tokens, the policies (open, initial access token, hook), the rate
//! limit, and a registered client running a real authorization code flow.

mod support;

use std::sync::Arc;

use idpkit_core::software_statement::SoftwareStatementIssuer;
use idpkit_core::time::Duration;
use idpkit_core::{
    Algorithm, ClientMetadata, ClientRegistry, ClientStore, ErrorCode, Jwks, Limit,
    MemoryClientRegistry, Method, OAuthError, RateLimits, RegistrationContext, RegistrationHook,
    RegistrationPolicy, Request, Response, Route, SigningKey,
};
use serde_json::{Value, json};
use support::*;

fn open_env() -> (Env, MemoryClientRegistry) {
    env_policy(RegistrationPolicy::Open)
}

fn env_policy(policy: RegistrationPolicy) -> (Env, MemoryClientRegistry) {
    let registry = MemoryClientRegistry::new();
    let r: Arc<dyn ClientRegistry> = Arc::new(registry.clone());
    let env = env_with(|b| b.dynamic_client_registration(r, policy));
    (env, registry)
}

fn post_json(body: &[u8], authorization: Option<&str>) -> Request {
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(a) = authorization {
        headers.push(("Authorization", a));
    }
    Request::from_http_json("POST", None, headers, body, 64 * 1024).expect("request")
}

fn management(method: &str, token: Option<&str>, body: Option<&Value>) -> Request {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    Request::from_http_json(method, None, headers, &bytes, 64 * 1024).expect("request")
}

async fn register(env: &Env, body: &Value) -> Response {
    env.provider
        .register_client(&post_json(body.to_string().as_bytes(), None))
        .await
}

fn public_metadata() -> Value {
    json!({
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "scope": "openid profile offline_access",
        "client_name": "Agent"
    })
}

fn assert_refused(r: &Response, code: ErrorCode) {
    let v = r.json_value();
    assert_eq!(r.status, 400, "{v}");
    assert_eq!(v["error"], code.as_str(), "{v}");
}

#[tokio::test]
async fn registration_answers_201_with_credentials_rfc7591_3_2_1() {
    let (env, registry) = open_env();
    let r = register(&env, &json!({"redirect_uris": ["https://rp.example/cb"]})).await;
    let v = r.json_value();
    assert_eq!(r.status, 201, "{v}");
    assert_eq!(r.header_value("Cache-Control"), Some("no-store"));
    let id = v["client_id"].as_str().expect("client_id");
    assert!(id.len() >= 32, "random client_id");
    assert!(v["client_secret"].as_str().is_some_and(|s| s.len() >= 32));
    assert_eq!(v["client_secret_expires_at"], 0);
    assert!(v["client_id_issued_at"].as_i64().is_some());
    assert_eq!(v["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(v["grant_types"], json!(["authorization_code"]));
    assert!(v["registration_access_token"].as_str().is_some());
    assert_eq!(
        v["registration_client_uri"],
        format!("{ISSUER}/register/{id}")
    );
    // Stored hashed: neither the secret nor the registration token is in the store.
    let stored = registry.find(id).await.expect("find").expect("stored");
    let json = String::from_utf8(idpkit_core::backend::client_to_json(&stored)).expect("utf8");
    assert!(!json.contains(v["client_secret"].as_str().unwrap()));
    assert!(!json.contains(v["registration_access_token"].as_str().unwrap()));
}

#[tokio::test]
async fn every_bad_request_is_refused_naming_the_member_rfc7591_3_2_2() {
    let (env, registry) = open_env();
    let cases = [
        (
            json!({"redirect_uris": ["http://rp.example/cb"]}),
            ErrorCode::InvalidRedirectUri,
        ),
        (
            json!({"redirect_uris": ["https://rp.example/cb#frag"]}),
            ErrorCode::InvalidRedirectUri,
        ),
        (json!({"redirect_uris": []}), ErrorCode::InvalidRedirectUri),
        (
            json!({"redirect_uris": ["https://rp.example/cb"], "grant_types": ["client_credentials"], "response_types": ["code"]}),
            ErrorCode::InvalidClientMetadata,
        ),
        (
            json!({"redirect_uris": ["https://rp.example/cb"], "grant_types": ["authorization_code"], "response_types": []}),
            ErrorCode::InvalidClientMetadata,
        ),
        (
            json!({"redirect_uris": ["https://rp.example/cb"], "token_endpoint_auth_method": "magic"}),
            ErrorCode::InvalidClientMetadata,
        ),
        (
            json!({"redirect_uris": ["https://rp.example/cb"], "token_endpoint_auth_method": "private_key_jwt",
                   "jwks_uri": "https://rp.example/jwks", "jwks": {"keys": []}}),
            ErrorCode::InvalidClientMetadata,
        ),
        (
            json!({"redirect_uris": ["https://rp.example/cb"], "software_statement": "a.b.c"}),
            ErrorCode::InvalidSoftwareStatement,
        ),
        (
            json!({"redirect_uris": ["https://rp.example/cb"],
                   "software_statement": statement_of(&SigningKey::generate(Algorithm::ES256).unwrap().0,
                       &json!({"iss": "https://software.example"}))}),
            ErrorCode::UnapprovedSoftwareStatement,
        ),
    ];
    for (body, code) in cases {
        let r = register(&env, &body).await;
        assert_refused(&r, code);
    }
    // The jwks-and-jwks_uri refusal names the members.
    let r = register(
        &env,
        &json!({"redirect_uris": ["https://rp.example/cb"], "token_endpoint_auth_method": "private_key_jwt",
                "jwks_uri": "https://rp.example/jwks", "jwks": {"keys": []}}),
    )
    .await;
    let d = r.json_value()["error_description"].to_string();
    assert!(d.contains("jwks"), "{d}");
    let r = register(
        &env,
        &json!({"redirect_uris": ["https://rp.example/cb"], "token_endpoint_auth_method": "magic"}),
    )
    .await;
    assert!(
        r.json_value()["error_description"]
            .to_string()
            .contains("token_endpoint_auth_method")
    );
    // Not JSON, not an object, oversized.
    for body in [&b"redirect_uris=x"[..], b"[]", b"{"] {
        let r = env.provider.register_client(&post_json(body, None)).await;
        assert_refused(&r, ErrorCode::InvalidClientMetadata);
    }
    let big =
        json!({"redirect_uris": ["https://rp.example/cb"], "client_name": "x".repeat(20 * 1024)});
    assert_refused(
        &register(&env, &big).await,
        ErrorCode::InvalidClientMetadata,
    );
    // Another content type.
    let e = Request::from_http_json(
        "POST",
        None,
        [("Content-Type", "application/x-www-form-urlencoded")],
        b"a=b",
        64 * 1024,
    )
    .expect_err("refused");
    assert_eq!(e.code, ErrorCode::InvalidClientMetadata);
    // Nothing was stored by any refusal.
    assert_eq!(registry.find("x").await.expect("find").map(|_| ()), None);
}

#[tokio::test]
async fn nothing_is_stored_by_a_refused_registration_rfc7591_3_2_2() {
    let registry = MemoryClientRegistry::new();
    let counting = Arc::new(registry.clone());
    let env = env_with(|b| b.dynamic_client_registration(counting, RegistrationPolicy::Open));
    let r = register(&env, &json!({"redirect_uris": ["http://rp.example/cb"]})).await;
    assert_eq!(r.status, 400);
    let ok = register(&env, &json!({"redirect_uris": ["https://rp.example/cb"]})).await;
    let id = ok.json_value()["client_id"].as_str().unwrap().to_owned();
    assert!(registry.find(&id).await.unwrap().is_some());
}

#[tokio::test]
async fn read_update_delete_with_the_registration_access_token_rfc7592_2() {
    let (env, registry) = open_env();
    let r = register(&env, &public_metadata()).await;
    let v = r.json_value();
    assert_eq!(r.status, 201, "{v}");
    let id = v["client_id"].as_str().unwrap().to_owned();
    let token = v["registration_access_token"].as_str().unwrap().to_owned();
    assert!(
        v.get("client_secret").is_none(),
        "a public client has no secret"
    );

    // Wrong and missing tokens, and an unknown client: one 401, alike.
    let mut refusals = Vec::new();
    for (client, t) in [
        (id.as_str(), Some("wrong")),
        (id.as_str(), None),
        ("no-such-client", Some(token.as_str())),
    ] {
        let r = env
            .provider
            .client_configuration(client, &management("GET", t, None))
            .await;
        assert_eq!(r.status, 401);
        assert!(
            r.header_value("WWW-Authenticate")
                .is_some_and(|h| h.starts_with("Bearer"))
        );
        refusals.push(r.json_value());
    }
    assert!(refusals.windows(2).all(|w| w[0] == w[1]), "{refusals:?}");

    // Read.
    let r = env
        .provider
        .client_configuration(&id, &management("GET", Some(&token), None))
        .await;
    let read = r.json_value();
    assert_eq!(r.status, 200, "{read}");
    assert_eq!(read["client_name"], "Agent");
    assert_eq!(read["client_id"], id);

    // Update: the client_id must match.
    let mut update = public_metadata();
    update["client_name"] = json!("Agent 2");
    let mut wrong_id = update.clone();
    wrong_id["client_id"] = json!("other");
    let r = env
        .provider
        .client_configuration(&id, &management("PUT", Some(&token), Some(&wrong_id)))
        .await;
    assert_refused(&r, ErrorCode::InvalidClientMetadata);
    update["client_id"] = json!(id);
    let r = env
        .provider
        .client_configuration(&id, &management("PUT", Some(&token), Some(&update)))
        .await;
    let updated = r.json_value();
    assert_eq!(r.status, 200, "{updated}");
    assert_eq!(updated["client_name"], "Agent 2");
    let new_token = updated["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_token, token, "rotated on update");

    // The old token no longer works; the new one does.
    let r = env
        .provider
        .client_configuration(&id, &management("GET", Some(&token), None))
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json_value()["error"], "invalid_token");
    let r = env
        .provider
        .client_configuration(&id, &management("DELETE", Some(&token), None))
        .await;
    assert_eq!(r.status, 401);
    assert!(
        registry.find(&id).await.unwrap().is_some(),
        "old token deletes nothing"
    );

    // Delete.
    let r = env
        .provider
        .client_configuration(&id, &management("DELETE", Some(&new_token), None))
        .await;
    assert_eq!(r.status, 204);
    assert!(registry.find(&id).await.unwrap().is_none());
    let r = env
        .provider
        .client_configuration(&id, &management("GET", Some(&new_token), None))
        .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn an_update_keeps_the_secret_unless_the_method_needs_a_new_one_rfc7592_2_2() {
    let (env, _) = open_env();
    let r = register(
        &env,
        &json!({"redirect_uris": [REDIRECT], "scope": "openid"}),
    )
    .await;
    let v = r.json_value();
    let id = v["client_id"].as_str().unwrap().to_owned();
    let secret = v["client_secret"].as_str().unwrap().to_owned();
    let token = v["registration_access_token"].as_str().unwrap().to_owned();
    let mut update = json!({"client_id": id, "redirect_uris": [REDIRECT], "scope": "openid",
                            "token_endpoint_auth_method": "client_secret_post", "client_secret": "wrong"});
    let r = env
        .provider
        .client_configuration(&id, &management("PUT", Some(&token), Some(&update)))
        .await;
    assert_refused(&r, ErrorCode::InvalidClientMetadata);
    update["client_secret"] = json!(secret);
    let r = env
        .provider
        .client_configuration(&id, &management("PUT", Some(&token), Some(&update)))
        .await;
    let u = r.json_value();
    assert_eq!(r.status, 200, "{u}");
    assert!(
        u.get("client_secret").is_none(),
        "the secret is kept, not re-sent"
    );
    // The kept secret still authenticates (client_secret_post, client_credentials is not
    // registered: the grant refusal proves authentication passed).
    let (status, body) = env
        .provider
        .token(&idpkit_core::testkit::flows::token_request(
            &[("grant_type", "client_credentials")],
            &id,
            Some(&secret),
        ))
        .await
        .pipe(|r| (r.status, r.json_value()));
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "unauthorized_client", "{body}");
}

trait Pipe: Sized {
    fn pipe<T>(self, f: impl FnOnce(Self) -> T) -> T {
        f(self)
    }
}
impl<T> Pipe for T {}

#[tokio::test]
async fn a_registered_client_runs_the_code_flow_rfc7591_3() {
    let (env, _) = open_env();
    let r = register(&env, &public_metadata()).await;
    let v = r.json_value();
    let id = v["client_id"].as_str().unwrap().to_owned();
    let code = env.code(&mut Browser::new(), &id, "openid profile").await;
    let (status, body) = env.exchange(&id, &code).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["id_token"].as_str().is_some());
    let claims = jwt_claims(body["id_token"].as_str().unwrap());
    assert_eq!(claims["aud"], id);
}

#[tokio::test]
async fn a_registered_client_is_found_by_another_instance_sharing_the_registry() {
    let registry = MemoryClientRegistry::new();
    let a = env_with(|b| {
        b.dynamic_client_registration(Arc::new(registry.clone()), RegistrationPolicy::Open)
    });
    let b = env_on(a.store.clone(), a.clock.clone(), |b| {
        b.dynamic_client_registration(Arc::new(registry.clone()), RegistrationPolicy::Open)
    });
    let v = register(&a, &public_metadata()).await.json_value();
    let id = v["client_id"].as_str().unwrap().to_owned();
    let code = a.code(&mut Browser::new(), &id, "openid").await;
    let (status, body) = b.exchange(&id, &code).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn the_initial_access_token_policy_refuses_without_it_rfc7591_3() {
    let (env, _) = env_policy(RegistrationPolicy::initial_access_token("s3cret-initial"));
    let body = public_metadata().to_string();
    for auth in [None, Some("Bearer wrong"), Some("Basic s3cret-initial")] {
        let r = env
            .provider
            .register_client(&post_json(body.as_bytes(), auth))
            .await;
        assert_eq!(r.status, 401, "{:?}", auth);
        assert_eq!(r.json_value()["error"], "invalid_token");
    }
    let r = env
        .provider
        .register_client(&post_json(body.as_bytes(), Some("Bearer s3cret-initial")))
        .await;
    assert_eq!(r.status, 201, "{}", r.json_value());
}

#[tokio::test]
async fn anonymous_registrations_are_rate_limited_per_source() {
    let registry = MemoryClientRegistry::new();
    let env = env_with(|b| {
        b.dynamic_client_registration(Arc::new(registry.clone()), RegistrationPolicy::Open)
            .rate_limits({
                let mut limits = RateLimits::default();
                limits.registrations_per_source = Limit::new(2, Duration::hours(1));
                limits
            })
    });
    let body = public_metadata().to_string();
    let from = |ip: &str| post_json(body.as_bytes(), None).with_source(Some(ip.parse().unwrap()));
    for _ in 0..2 {
        assert_eq!(
            env.provider
                .register_client(&from("192.0.2.1"))
                .await
                .status,
            201
        );
    }
    let r = env.provider.register_client(&from("192.0.2.1")).await;
    assert_eq!(r.status, 429);
    assert!(r.header_value("Retry-After").is_some());
    assert_eq!(
        env.provider
            .register_client(&from("192.0.2.2"))
            .await
            .status,
        201
    );
    env.advance(Duration::hours(1));
    assert_eq!(
        env.provider
            .register_client(&from("192.0.2.1"))
            .await
            .status,
        201
    );
}

struct NoLocalhost;

#[async_trait::async_trait]
impl RegistrationHook for NoLocalhost {
    async fn review(
        &self,
        metadata: &mut ClientMetadata,
        _: &RegistrationContext,
    ) -> Result<(), OAuthError> {
        if metadata.client_name.as_deref() == Some("evil") {
            return Err(OAuthError::new(ErrorCode::AccessDenied, "not this one"));
        }
        // Edits apply: every registered client gets a fixed name suffix.
        metadata.client_name = metadata
            .client_name
            .take()
            .map(|n| format!("{n} (dynamic)"));
        Ok(())
    }
}

#[tokio::test]
async fn the_host_hook_may_edit_or_refuse_rfc7591_3() {
    let registry = MemoryClientRegistry::new();
    let env = env_with(|b| {
        b.dynamic_client_registration(Arc::new(registry.clone()), RegistrationPolicy::Open)
            .registration_hook(NoLocalhost)
    });
    let mut evil = public_metadata();
    evil["client_name"] = json!("evil");
    let r = register(&env, &evil).await;
    assert_eq!(r.json_value()["error"], "access_denied");
    let r = register(&env, &public_metadata()).await;
    assert_eq!(r.json_value()["client_name"], "Agent (dynamic)");
}

#[tokio::test]
async fn registration_is_off_by_default_and_then_not_routed_or_advertised() {
    let env = env();
    assert_eq!(env.provider.route("/register"), None);
    assert_eq!(env.provider.route("/register/abc"), None);
    let doc = env.provider.discovery().json_value();
    assert!(doc.get("registration_endpoint").is_none());
    let (on, _) = open_env();
    assert_eq!(on.provider.route("/register"), Some(Route::Registration));
    assert_eq!(
        on.provider.route("/register/abc"),
        Some(Route::ClientConfiguration {
            client_id: "abc".into()
        })
    );
    let doc = on.provider.discovery().json_value();
    assert_eq!(doc["registration_endpoint"], format!("{ISSUER}/register"));
    let r = on
        .provider
        .handle(&Route::Registration, &Request::new(Method::Get))
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn unused_anonymous_registrations_expire_and_used_ones_stay() {
    let (env, registry) = open_env();
    let unused = register(&env, &public_metadata()).await.json_value();
    let unused_id = unused["client_id"].as_str().unwrap().to_owned();
    let used = register(&env, &public_metadata()).await.json_value();
    let used_id = used["client_id"].as_str().unwrap().to_owned();
    let tokens = env.tokens(&used_id, "openid offline_access").await;
    env.advance(Duration::hours(23));
    // Still there before the default 24 h.
    let a = env
        .authorize(
            &mut Browser::new(),
            &authz(&unused_id, "openid", &[("redirect_uri", REDIRECT)]),
        )
        .await;
    assert!(
        matches!(a, idpkit_core::Authorization::Interaction(_)),
        "{a:?}"
    );
    env.advance(Duration::hours(1));
    let a = env
        .authorize(
            &mut Browser::new(),
            &authz(&unused_id, "openid", &[("redirect_uri", REDIRECT)]),
        )
        .await;
    assert_shown_error(a, "client");
    assert!(
        registry.find(&unused_id).await.unwrap().is_none(),
        "deleted from the store"
    );
    // Its registration access token finds nothing either.
    let r = env
        .provider
        .client_configuration(
            &unused_id,
            &management("GET", unused["registration_access_token"].as_str(), None),
        )
        .await;
    assert_eq!(r.status, 401);
    // The used one is kept: it refreshes, and is in the store.
    let (status, body) = env
        .refresh(&used_id, tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(registry.find(&used_id).await.unwrap().is_some());
}

#[tokio::test]
async fn registrations_with_the_initial_access_token_do_not_expire_unused() {
    let (env, registry) = env_policy(RegistrationPolicy::initial_access_token("s3cret-initial"));
    let body = public_metadata().to_string();
    let r = env
        .provider
        .register_client(&post_json(body.as_bytes(), Some("Bearer s3cret-initial")))
        .await;
    let id = r.json_value()["client_id"].as_str().unwrap().to_owned();
    env.advance(Duration::days(30));
    let code = env.code(&mut Browser::new(), &id, "openid").await;
    assert_eq!(env.exchange(&id, &code).await.0, 200);
    assert!(registry.find(&id).await.unwrap().is_some());
}

/// A software statement: `claims` signed by `key` (ES256, with its kid).
fn statement_of(key: &SigningKey, claims: &Value) -> String {
    sign_jws(key, json!({}), claims)
}

fn statement_env(key: &SigningKey, required: bool) -> (Env, MemoryClientRegistry) {
    let registry = MemoryClientRegistry::new();
    let r: Arc<dyn ClientRegistry> = Arc::new(registry.clone());
    let trusted = SoftwareStatementIssuer::new(
        "https://software.example",
        &Jwks::new(vec![key.public_jwk().clone()]),
    );
    let env = env_with(|b| {
        b.dynamic_client_registration(r, RegistrationPolicy::Open)
            .software_statement_issuer(trusted)
            .require_software_statement(required)
    });
    (env, registry)
}

#[tokio::test]
async fn a_trusted_software_statement_takes_precedence_and_is_echoed_rfc7591_3_1_1() {
    let key = SigningKey::generate(Algorithm::ES256).unwrap().0;
    let (env, registry) = statement_env(&key, false);
    let statement = statement_of(
        &key,
        &json!({"iss": "https://software.example", "software_id": "agent-kit",
                "client_name": "Agent (signed)", "scope": "openid"}),
    );
    let mut body = public_metadata();
    body["software_statement"] = json!(statement);
    body["client_name"] = json!("Agent (claimed)");
    let r = register(&env, &body).await;
    let v = r.json_value();
    assert_eq!(r.status, 201, "{v}");
    assert_eq!(v["client_name"], "Agent (signed)");
    assert_eq!(v["software_id"], "agent-kit");
    assert_eq!(v["scope"], "openid");
    assert_eq!(v["software_statement"], statement.as_str());
    // Stored as the statement says, so every instance sees the signed values.
    let stored = registry
        .find(v["client_id"].as_str().unwrap())
        .await
        .unwrap()
        .expect("registered");
    assert_eq!(stored.scopes(), ["openid".to_owned()]);
    let id = v["client_id"].as_str().unwrap().to_owned();
    // An update that drops the statement's values for its own is overruled again.
    let token = v["registration_access_token"].as_str().unwrap();
    let mut update = v.clone();
    update["client_name"] = json!("Agent (renamed)");
    for m in [
        "registration_access_token",
        "registration_client_uri",
        "client_id_issued_at",
    ] {
        update.as_object_mut().unwrap().remove(m);
    }
    let r = env
        .provider
        .client_configuration(&id, &management("PUT", Some(token), Some(&update)))
        .await;
    let u = r.json_value();
    assert_eq!(r.status, 200, "{u}");
    assert_eq!(u["client_name"], "Agent (signed)");
}

#[tokio::test]
async fn untrusted_forged_and_expired_statements_are_refused_rfc7591_3_2_2() {
    let key = SigningKey::generate(Algorithm::ES256).unwrap().0;
    let other = SigningKey::generate(Algorithm::ES256).unwrap().0;
    let (env, _) = statement_env(&key, false);
    let forged = {
        // The trusted issuer and kid, another key's signature.
        let s = statement_of(&key, &json!({"iss": "https://software.example"}));
        let t = statement_of(&other, &json!({"iss": "https://software.example"}));
        let (head, _) = s.rsplit_once('.').unwrap();
        let (_, sig) = t.rsplit_once('.').unwrap();
        format!("{head}.{sig}")
    };
    let cases = [
        (
            statement_of(&other, &json!({"iss": "https://elsewhere.example"})),
            ErrorCode::UnapprovedSoftwareStatement,
        ),
        (forged, ErrorCode::InvalidSoftwareStatement),
        (
            statement_of(&key, &json!({"iss": "https://software.example", "exp": 1})),
            ErrorCode::InvalidSoftwareStatement,
        ),
    ];
    for (statement, code) in cases {
        let mut body = public_metadata();
        body["software_statement"] = json!(statement);
        assert_refused(&register(&env, &body).await, code);
    }
}

#[tokio::test]
async fn a_required_statement_refuses_registrations_without_one() {
    let key = SigningKey::generate(Algorithm::ES256).unwrap().0;
    let (env, _) = statement_env(&key, true);
    assert_refused(
        &register(&env, &public_metadata()).await,
        ErrorCode::InvalidSoftwareStatement,
    );
    let mut body = public_metadata();
    body["software_statement"] = json!(statement_of(
        &key,
        &json!({"iss": "https://software.example"})
    ));
    assert_eq!(register(&env, &body).await.status, 201);
}

#[tokio::test]
async fn deleting_a_client_invalidates_its_tokens_rfc7592_2_3() {
    let (env, _) = open_env();
    let v = register(&env, &public_metadata()).await.json_value();
    let id = v["client_id"].as_str().unwrap().to_owned();
    let reg_token = v["registration_access_token"].as_str().unwrap().to_owned();
    let code = env
        .code(&mut Browser::new(), &id, "openid profile offline_access")
        .await;
    let (status, tokens) = env.exchange(&id, &code).await;
    assert_eq!(status, 200, "{tokens}");
    let at = tokens["access_token"].as_str().unwrap().to_owned();
    let rt = tokens["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(env.userinfo(&at).await.status, 200);
    assert!(env.provider.access_token_info(&at).await.unwrap().is_some());

    let r = env
        .provider
        .client_configuration(&id, &management("DELETE", Some(&reg_token), None))
        .await;
    assert_eq!(r.status, 204);
    // At once: userinfo refuses the access token, the host's lookup finds none, and the
    // refresh token no longer works.
    let r = env.userinfo(&at).await;
    assert_eq!(r.status, 401, "{:?}", r.json_value());
    assert!(env.provider.access_token_info(&at).await.unwrap().is_none());
    let (status, body) = env.refresh(&id, &rt).await;
    assert_ne!(status, 200, "{body}");
}

#[tokio::test]
async fn introspection_calls_a_deleted_clients_token_inactive_rfc7592_2_3() {
    // A resource server that may see every token for this issuer, so only the client's
    // deletion can make the answer inactive.
    let registry = MemoryClientRegistry::new();
    let rs = idpkit_core::Client::confidential("userinfo-rs", "userinfo-rs-secret")
        .grant_types([])
        .resource_server_for([ISSUER])
        .build()
        .unwrap();
    let env = env_on_with(
        Arc::new(idpkit_core::MemoryGrantStore::new()),
        Arc::new(idpkit_core::ManualClock::starting_now()),
        vec![rs],
        |b| b.dynamic_client_registration(Arc::new(registry.clone()), RegistrationPolicy::Open),
    );
    let v = register(&env, &public_metadata()).await.json_value();
    let id = v["client_id"].as_str().unwrap().to_owned();
    let reg_token = v["registration_access_token"].as_str().unwrap().to_owned();
    let code = env.code(&mut Browser::new(), &id, "openid").await;
    let (status, tokens) = env.exchange(&id, &code).await;
    assert_eq!(status, 200, "{tokens}");
    let at = tokens["access_token"].as_str().unwrap().to_owned();
    let introspect = || {
        let req = idpkit_core::testkit::flows::token_request(
            &[("token", &at)],
            "userinfo-rs",
            Some("userinfo-rs-secret"),
        );
        let p = env.provider.clone();
        async move { p.introspect(&req).await.json_value() }
    };
    let before = introspect().await;
    assert_eq!(before["active"], true, "{before}");
    let r = env
        .provider
        .client_configuration(&id, &management("DELETE", Some(&reg_token), None))
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(introspect().await, json!({"active": false}));
}

#[tokio::test]
async fn the_purge_deletes_unused_anonymous_registrations_nobody_looks_up() {
    let (env, registry) = open_env();
    let unused = register(&env, &public_metadata()).await.json_value();
    let unused_id = unused["client_id"].as_str().unwrap().to_owned();
    let used = register(&env, &public_metadata()).await.json_value();
    let used_id = used["client_id"].as_str().unwrap().to_owned();
    env.tokens(&used_id, "openid offline_access").await;
    env.advance(Duration::hours(23));
    assert_eq!(env.provider.purge_unused_clients().await.unwrap(), 0);
    assert!(registry.find(&unused_id).await.unwrap().is_some());
    env.advance(Duration::hours(1));
    // Nobody looks the unused client up: the purge alone deletes it.
    assert_eq!(env.provider.purge_unused_clients().await.unwrap(), 1);
    assert!(registry.find(&unused_id).await.unwrap().is_none());
    // The used one is kept, and off the registry's list of candidates from now on.
    assert!(registry.find(&used_id).await.unwrap().is_some());
    let now = env.provider.clock().now();
    assert!(
        !registry
            .unused_registrations(now, 100)
            .await
            .unwrap()
            .contains(&used_id)
    );
    assert_eq!(env.provider.purge_unused_clients().await.unwrap(), 0);
}
