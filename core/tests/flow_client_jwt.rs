//! Client authentication with JWTs at the token endpoint (RFC 7523 §2.2 and §3, OIDC Core
//! §9): `private_key_jwt` with `jwks` by value and by `jwks_uri` (cached, one refetch on an
//! unknown `kid`, rate-limited), `client_secret_jwt`, and every refusal.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use idpkit_core::http::{HttpClient, HttpError, HttpRequest, HttpResponse};
use idpkit_core::time::Duration;
use idpkit_core::{
    Algorithm, Client, GrantType, Jwks, MacAlgorithm, ManualClock, MemoryGrantStore, Method,
    Params, Request, Response, SigningKey, TokenEndpointAuthMethod,
};
use serde_json::{Value, json};
use support::*;

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const TOKEN_ENDPOINT: &str = "https://idp.example/token";
const JWKS_URI: &str = "https://client.example/jwks.json";
const HMAC_SECRET: &str = "a-shared-secret-of-at-least-32-bytes!!";

/// A client's JWKS endpoint: serves whatever key set it holds, counts fetches.
#[derive(Default)]
struct JwksServer {
    jwks: Mutex<Vec<u8>>,
    fetches: AtomicUsize,
}

impl JwksServer {
    fn publish(&self, keys: &[&SigningKey]) {
        let jwks = Jwks::new(keys.iter().map(|k| k.public_jwk().clone()).collect());
        *self.jwks.lock().expect("lock") = jwks.to_json().to_vec();
    }
    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl HttpClient for JwksServer {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        assert_eq!(request.url, JWKS_URI);
        assert_eq!(request.method, "GET");
        self.fetches.fetch_add(1, Ordering::SeqCst);
        Ok(HttpResponse {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: self.jwks.lock().expect("lock").clone(),
        })
    }
}

fn key(alg: Algorithm) -> SigningKey {
    SigningKey::generate(alg).expect("key").0
}

fn jwks_of(keys: &[&SigningKey]) -> Jwks {
    Jwks::new(keys.iter().map(|k| k.public_jwk().clone()).collect())
}

fn cc_client(b: idpkit_core::ClientBuilder) -> Client {
    b.grant_types([GrantType::ClientCredentials])
        .scopes(["api:read"])
        .audience(["demo-api"])
        .build()
        .expect("client")
}

struct Fixture {
    env: Env,
    key: SigningKey,
    server: Arc<JwksServer>,
}

/// Clients: `pk` (private_key_jwt, jwks by value), `pk-uri` (jwks_uri), `pk-eddsa`
/// (token_endpoint_auth_signing_alg EdDSA, an EC and an Ed25519 key), `hs` (client_secret_jwt).
fn clients(key: &SigningKey, ed: &SigningKey) -> Vec<Client> {
    vec![
        cc_client(Client::private_key_jwt("pk").jwks(jwks_of(&[key]))),
        cc_client(Client::private_key_jwt("pk-uri").jwks_uri(JWKS_URI)),
        cc_client(
            Client::private_key_jwt("pk-eddsa")
                .jwks(jwks_of(&[key, ed]))
                .token_endpoint_auth_signing_alg("EdDSA"),
        ),
        cc_client(Client::client_secret_jwt("hs", HMAC_SECRET)),
    ]
}

fn fixture_with(
    f: impl FnOnce(idpkit_core::ProviderBuilder) -> idpkit_core::ProviderBuilder,
) -> Fixture {
    let key = key(Algorithm::ES256);
    let ed = key_ed();
    let server = Arc::new(JwksServer::default());
    server.publish(&[&key]);
    let http: Arc<dyn HttpClient> = server.clone();
    let env = env_on_with(
        Arc::new(MemoryGrantStore::new()),
        Arc::new(ManualClock::starting_now()),
        clients(&key, &ed),
        |b| f(b.http_client(http)),
    );
    Fixture { env, key, server }
}

fn key_ed() -> SigningKey {
    key(Algorithm::EdDSA)
}

fn fixture() -> Fixture {
    fixture_with(|b| b)
}

/// Good assertion claims of `client` at `now`.
fn claims(client: &str, now: i64) -> Value {
    json!({"iss": client, "sub": client, "aud": ISSUER, "iat": now, "exp": now + 60,
        "jti": idpkit_core::crypto::random_token()})
}

fn with(mut c: Value, k: &str, v: Value) -> Value {
    c[k] = v;
    c
}

fn assertion_request(jwt: &str, extra: &[(&str, &str)]) -> Request {
    let mut r = Request::new(Method::Post);
    let mut pairs = vec![
        ("grant_type", "client_credentials"),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", jwt),
    ];
    pairs.extend_from_slice(extra);
    r.params = Params::from_pairs(pairs);
    r
}

async fn token_with(env: &Env, jwt: &str) -> Response {
    env.provider.token(&assertion_request(jwt, &[])).await
}

/// Asserts a refusal: 401 `invalid_client` whose description contains `why`.
fn assert_refused(r: &Response, why: &str) {
    let body = r.json_value();
    assert_eq!(r.status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client", "{body}");
    let d = body["error_description"].as_str().unwrap_or_default();
    assert!(d.contains(why), "{d:?} should say {why:?}");
}

#[tokio::test]
async fn private_key_jwt_with_jwks_by_value_authenticates_rfc7523_2_2() {
    let f = fixture();
    let jwt = sign_jws(&f.key, json!({}), &claims("pk", f.env.now()));
    let r = token_with(&f.env, &jwt).await;
    let body = r.json_value();
    assert_eq!(r.status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(f.server.fetches(), 0, "keys by value are never fetched");
}

#[tokio::test]
async fn the_token_endpoint_url_is_an_accepted_audience_outside_the_strict_profile_rfc7523_3_3() {
    let f = fixture();
    let c = with(claims("pk", f.env.now()), "aud", TOKEN_ENDPOINT.into());
    assert_eq!(
        token_with(&f.env, &sign_jws(&f.key, json!({}), &c))
            .await
            .status,
        200
    );
    let c = with(
        claims("pk", f.env.now()),
        "aud",
        json!(["https://x.example", ISSUER]),
    );
    assert_eq!(
        token_with(&f.env, &sign_jws(&f.key, json!({}), &c))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn with_the_strict_flag_only_the_issuer_is_the_audience_fapi2_5_3_2_1() {
    let f = fixture_with(|b| b.client_assertion_audience_issuer_only(true));
    let c = with(claims("pk", f.env.now()), "aud", TOKEN_ENDPOINT.into());
    assert_refused(
        &token_with(&f.env, &sign_jws(&f.key, json!({}), &c)).await,
        "aud",
    );
    let c = with(claims("pk", f.env.now()), "aud", json!([ISSUER]));
    assert_refused(
        &token_with(&f.env, &sign_jws(&f.key, json!({}), &c)).await,
        "aud",
    );
    let c = claims("pk", f.env.now());
    assert_eq!(
        token_with(&f.env, &sign_jws(&f.key, json!({}), &c))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_wrong_audience_is_refused_rfc7523_3_3() {
    let f = fixture();
    let c = with(
        claims("pk", f.env.now()),
        "aud",
        "https://other.example".into(),
    );
    assert_refused(
        &token_with(&f.env, &sign_jws(&f.key, json!({}), &c)).await,
        "aud",
    );
}

#[tokio::test]
async fn a_replayed_assertion_is_refused_rfc7523_3_7() {
    let f = fixture();
    let jwt = sign_jws(&f.key, json!({}), &claims("pk", f.env.now()));
    assert_eq!(token_with(&f.env, &jwt).await.status, 200);
    assert_refused(&token_with(&f.env, &jwt).await, "used before");
}

#[tokio::test]
async fn a_replay_at_another_instance_sharing_the_store_is_refused() {
    let key = key(Algorithm::ES256);
    let ed = key_ed();
    let store = Arc::new(MemoryGrantStore::new());
    let clock = Arc::new(ManualClock::starting_now());
    let a = env_on_with(store.clone(), clock.clone(), clients(&key, &ed), |b| b);
    let b = env_on_with(store, clock, clients(&key, &ed), |b| b);
    let jwt = sign_jws(&key, json!({}), &claims("pk", a.now()));
    assert_eq!(token_with(&a, &jwt).await.status, 200);
    assert_refused(&token_with(&b, &jwt).await, "used before");
}

#[tokio::test]
async fn expired_long_lived_and_future_assertions_are_refused() {
    let f = fixture();
    let now = f.env.now();
    let sign = |c: &Value| sign_jws(&f.key, json!({}), c);
    // RFC 7523 §3 item 4: exp required, and not in the past.
    let mut no_exp = claims("pk", now);
    no_exp.as_object_mut().expect("object").remove("exp");
    assert_refused(&token_with(&f.env, &sign(&no_exp)).await, "exp is required");
    let expired = with(
        with(claims("pk", now), "iat", (now - 120).into()),
        "exp",
        (now - 1).into(),
    );
    assert_refused(&token_with(&f.env, &sign(&expired)).await, "expired");
    // Short: at most 5 minutes from iat.
    let long = with(claims("pk", now), "exp", (now + 301).into());
    assert_refused(&token_with(&f.env, &sign(&long)).await, "longer than");
    // Skew: 10 s ahead is fine, 11 s is not (FAPI 2.0 §5.3.2.1).
    let ahead = with(claims("pk", now), "iat", (now + 10).into());
    assert_eq!(token_with(&f.env, &sign(&ahead)).await.status, 200);
    let future = with(claims("pk", now), "iat", (now + 11).into());
    assert_refused(&token_with(&f.env, &sign(&future)).await, "in the future");
    let nbf = with(claims("pk", now), "nbf", (now + 61).into());
    assert_refused(&token_with(&f.env, &sign(&nbf)).await, "in the future");
    // No jti: refused (single use needs one).
    let mut no_jti = claims("pk", now);
    no_jti.as_object_mut().expect("object").remove("jti");
    assert_refused(&token_with(&f.env, &sign(&no_jti)).await, "jti");
}

#[tokio::test]
async fn iss_and_sub_must_both_be_the_client_rfc7523_3_1() {
    let f = fixture();
    let c = with(claims("pk", f.env.now()), "iss", "pk-uri".into());
    assert_refused(
        &token_with(&f.env, &sign_jws(&f.key, json!({}), &c)).await,
        "iss",
    );
}

#[tokio::test]
async fn an_algorithm_other_than_the_registered_one_is_refused() {
    let f = fixture();
    // pk-eddsa registered EdDSA; the ES256 key is in its set, but ES256 is not its alg.
    let c = claims("pk-eddsa", f.env.now());
    assert_refused(
        &token_with(&f.env, &sign_jws(&f.key, json!({}), &c)).await,
        "not allowed",
    );
}

#[tokio::test]
async fn alg_none_is_refused_rfc8725_3_1() {
    let f = fixture();
    let jwt = unsigned_jws(&claims("pk", f.env.now()));
    assert_refused(&token_with(&f.env, &jwt).await, "not supported");
    let jwt = unsigned_jws(&claims("hs", f.env.now()));
    assert_refused(&token_with(&f.env, &jwt).await, "not supported");
}

#[tokio::test]
async fn hs256_keyed_with_the_clients_public_key_is_refused_rfc8725_2_1() {
    let f = fixture();
    // The classic key confusion: an HMAC whose key is the client's public key, which
    // anybody knows.
    let public = serde_json::to_vec(f.key.public_jwk()).expect("jwk");
    let jwt = mac_jws(MacAlgorithm::HS256, &public, &claims("pk", f.env.now()));
    assert_refused(&token_with(&f.env, &jwt).await, "not supported");
}

#[tokio::test]
async fn a_signature_by_another_key_is_refused() {
    let f = fixture();
    let other = key(Algorithm::ES256);
    // Claims the registered key's kid, signed by another key.
    let jwt = sign_jws(
        &other,
        json!({"kid": f.key.kid()}),
        &claims("pk", f.env.now()),
    );
    assert_refused(&token_with(&f.env, &jwt).await, "does not verify");
}

#[tokio::test]
async fn a_private_key_jwt_client_cannot_fall_back_to_a_secret_rfc7591_2() {
    let f = fixture();
    let post = idpkit_core::testkit::flows::token_request(
        &[("grant_type", "client_credentials")],
        "pk",
        Some("guess"),
    );
    assert_refused(
        &f.env.provider.token(&post).await,
        "another token_endpoint_auth_method",
    );
    let mut basic = Request::new(Method::Post);
    basic.params = Params::from_pairs([("grant_type", "client_credentials")]);
    basic.authorization = Some(format!(
        "Basic {}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "pk:guess")
    ));
    assert_refused(
        &f.env.provider.token(&basic).await,
        "another token_endpoint_auth_method",
    );
    let none = idpkit_core::testkit::flows::token_request(
        &[("grant_type", "client_credentials")],
        "pk",
        None,
    );
    assert_refused(
        &f.env.provider.token(&none).await,
        "another token_endpoint_auth_method",
    );
}

#[tokio::test]
async fn a_secret_client_cannot_send_an_assertion() {
    let f = fixture();
    let jwt = mac_jws(
        MacAlgorithm::HS256,
        DEMO_SECRET.as_bytes(),
        &claims(DEMO_CLIENT, f.env.now()),
    );
    assert_refused(
        &token_with(&f.env, &jwt).await,
        "another token_endpoint_auth_method",
    );
}

#[tokio::test]
async fn client_secret_jwt_authenticates_with_the_shared_secret_oidc_core_9() {
    let f = fixture();
    for alg in MacAlgorithm::ALL {
        let secret = HMAC_SECRET.as_bytes();
        let jwt = mac_jws(alg, secret, &claims("hs", f.env.now()));
        let r = token_with(&f.env, &jwt).await;
        // HS384/HS512 need keys as long as their hash (RFC 7518 §3.2): 38 bytes is short.
        if secret.len() >= alg.min_key_len() {
            assert_eq!(r.status, 200, "{alg}: {}", r.json_value());
        } else {
            assert_refused(&r, "HMAC");
        }
    }
    let jwt = mac_jws(
        MacAlgorithm::HS256,
        b"not-the-secret-but-32-bytes-long!!",
        &claims("hs", f.env.now()),
    );
    assert_refused(&token_with(&f.env, &jwt).await, "HMAC");
    // An asymmetric signature is not an HMAC client's method.
    let jwt = sign_jws(&f.key, json!({}), &claims("hs", f.env.now()));
    assert_refused(&token_with(&f.env, &jwt).await, "not supported");
}

#[tokio::test]
async fn jwks_uri_is_fetched_once_cached_and_refetched_once_on_an_unknown_kid() {
    let f = fixture();
    let sign = |k: &SigningKey| sign_jws(k, json!({}), &claims("pk-uri", f.env.now()));
    assert_eq!(token_with(&f.env, &sign(&f.key)).await.status, 200);
    assert_eq!(token_with(&f.env, &sign(&f.key)).await.status, 200);
    assert_eq!(f.server.fetches(), 1, "cached");
    // The client rotates to a new key: the unknown kid makes one refetch.
    let next = key(Algorithm::ES256);
    f.server.publish(&[&f.key, &next]);
    f.env.advance(Duration::seconds(10));
    assert_eq!(token_with(&f.env, &sign(&next)).await.status, 200);
    assert_eq!(f.server.fetches(), 2);
    assert_eq!(token_with(&f.env, &sign(&next)).await.status, 200);
    assert_eq!(f.server.fetches(), 2, "the new set is cached");
    // Unknown kids cannot make us hammer the client's server: one fetch per 10 s.
    let stranger = key(Algorithm::ES256);
    let r = token_with(&f.env, &sign(&stranger)).await;
    assert_refused(&r, "key id");
    assert_eq!(
        f.server.fetches(),
        2,
        "refetched less than 10 s ago: no fetch"
    );
    for _ in 0..5 {
        token_with(&f.env, &sign(&stranger)).await;
    }
    assert_eq!(f.server.fetches(), 2);
    f.env.advance(Duration::seconds(10));
    token_with(&f.env, &sign(&stranger)).await;
    assert_eq!(f.server.fetches(), 3, "after 10 s one more fetch");
    // Past the max age (10 minutes) the set is fetched again.
    f.env.advance(Duration::minutes(11));
    assert_eq!(token_with(&f.env, &sign(&next)).await.status, 200);
    assert_eq!(f.server.fetches(), 4);
}

#[tokio::test]
async fn a_jwks_uri_client_without_an_http_client_is_refused_not_a_500() {
    let key = key(Algorithm::ES256);
    let ed = key_ed();
    let env = env_on_with(
        Arc::new(MemoryGrantStore::new()),
        Arc::new(ManualClock::starting_now()),
        clients(&key, &ed),
        |b| b,
    );
    let jwt = sign_jws(&key, json!({}), &claims("pk-uri", env.now()));
    assert_refused(&token_with(&env, &jwt).await, "no HTTP client");
}

#[tokio::test]
async fn failed_assertions_count_against_the_client_auth_failure_limit() {
    let f = fixture_with(|b| {
        let mut limits = idpkit_core::RateLimits::default();
        limits.client_auth_failures = idpkit_core::Limit::new(2, Duration::minutes(1));
        b.rate_limits(limits)
    });
    let bad = sign_jws(
        &key(Algorithm::ES256),
        json!({"kid": f.key.kid()}),
        &claims("pk", f.env.now()),
    );
    assert_eq!(token_with(&f.env, &bad).await.status, 401);
    assert_eq!(token_with(&f.env, &bad).await.status, 401);
    let good = sign_jws(&f.key, json!({}), &claims("pk", f.env.now()));
    assert_eq!(
        token_with(&f.env, &good).await.status,
        429,
        "past the limit the assertion is not even checked"
    );
}

#[tokio::test]
async fn jwt_clients_authenticate_at_introspection_and_revocation_too() {
    let f = fixture();
    let jwt = sign_jws(&f.key, json!({}), &claims("pk", f.env.now()));
    let token = token_with(&f.env, &jwt).await.json_value()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let jwt = sign_jws(&f.key, json!({}), &claims("pk", f.env.now()));
    let mut r = assertion_request(&jwt, &[("token", &token)]);
    r.params = Params::from_pairs(
        r.params
            .pairs()
            .iter()
            .filter(|(k, _)| k != "grant_type")
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    let intro = f.env.provider.introspect(&r).await;
    assert_eq!(intro.status, 200);
    assert_eq!(intro.json_value()["active"], true);
    // The same assertion again: replay.
    let again = f.env.provider.revoke(&r).await;
    assert_refused(&again, "used before");
}

#[test]
fn the_builder_refuses_incoherent_jwt_registrations() {
    let k = key(Algorithm::ES256);
    let cc = |b: idpkit_core::ClientBuilder| b.grant_types([GrantType::ClientCredentials]).build();
    let e = cc(Client::private_key_jwt("x")).expect_err("no keys");
    assert!(e.to_string().contains("jwks"), "{e}");
    let e = cc(Client::private_key_jwt("x")
        .jwks(jwks_of(&[&k]))
        .jwks_uri(JWKS_URI))
    .expect_err("both");
    assert!(e.to_string().contains("exclusive"), "{e}");
    let e =
        cc(Client::private_key_jwt("x").jwks_uri("http://client.example/jwks")).expect_err("http");
    assert!(e.to_string().contains("https"), "{e}");
    assert!(cc(Client::private_key_jwt("x").jwks_uri("http://127.0.0.1:8080/jwks")).is_ok());
    let e = cc(Client::private_key_jwt("x")
        .jwks(jwks_of(&[&k]))
        .token_endpoint_auth_signing_alg("HS256"))
    .expect_err("HS256 for private_key_jwt");
    assert!(
        e.to_string().contains("token_endpoint_auth_signing_alg"),
        "{e}"
    );
    let e = cc(Client::private_key_jwt("x")
        .jwks(jwks_of(&[&k]))
        .token_endpoint_auth_signing_alg("none"))
    .expect_err("none");
    assert!(
        e.to_string().contains("token_endpoint_auth_signing_alg"),
        "{e}"
    );
    let e = cc(Client::client_secret_jwt("x", "short")).expect_err("short secret");
    assert!(e.to_string().contains("32 bytes"), "{e}");
    let e = cc(Client::confidential("x", "s")
        .token_endpoint_auth_method(TokenEndpointAuthMethod::PrivateKeyJwt))
    .expect_err("a secret and private_key_jwt");
    assert!(e.to_string().contains("private_key_jwt"), "{e}");
    // A private_key_jwt client is confidential: client_credentials is allowed.
    assert!(
        cc(Client::private_key_jwt("x").jwks(jwks_of(&[&k])))
            .expect("ok")
            .is_confidential()
    );
}

#[test]
fn registrations_round_trip_the_rfc7591_jwt_members() {
    let k = key(Algorithm::ES256);
    let c = Client::private_key_jwt("x")
        .jwks(jwks_of(&[&k]))
        .token_endpoint_auth_signing_alg("ES256")
        .request_object_signing_alg(Algorithm::ES256)
        .redirect_uri("https://rp.example/cb")
        .build()
        .expect("client");
    let reg = c.to_registration();
    assert_eq!(
        reg.token_endpoint_auth_method.as_deref(),
        Some("private_key_jwt")
    );
    assert_eq!(reg.jwks.as_ref().expect("jwks")["keys"][0]["kid"], k.kid());
    let back = reg.clone().into_client().expect("valid");
    assert_eq!(back.to_registration(), reg);
    assert_eq!(
        back.jwks().expect("jwks").keys()[0].kid.as_deref(),
        Some(k.kid())
    );
    let hs = Client::client_secret_jwt("h", HMAC_SECRET)
        .grant_types([GrantType::ClientCredentials])
        .build()
        .expect("hs");
    let reg = hs.to_registration();
    assert_eq!(
        reg.client_secret.as_deref(),
        Some(HMAC_SECRET),
        "kept in clear, documented"
    );
    assert_eq!(reg.secret_sha256, None);
    assert_eq!(
        reg.clone().into_client().expect("valid").to_registration(),
        reg
    );
}

#[tokio::test]
async fn the_server_wide_algorithm_list_and_hmac_switch_refuse_assertions_fapi2_5_4_1() {
    // A profile allowing EdDSA only: pk's ES256 assertion is refused, pk-eddsa's passes.
    let f = fixture_with(|b| {
        b.client_jwt_algorithms([Algorithm::EdDSA])
            .client_secret_jwt_allowed(false)
    });
    let c = claims("pk", f.env.now());
    assert_refused(
        &token_with(&f.env, &sign_jws(&f.key, json!({}), &c)).await,
        "not allowed",
    );
    let jwt = mac_jws(
        MacAlgorithm::HS256,
        HMAC_SECRET.as_bytes(),
        &claims("hs", f.env.now()),
    );
    assert_refused(
        &token_with(&f.env, &jwt).await,
        "client_secret_jwt is not accepted",
    );
    let d = f.env.provider.discovery().json_value();
    assert_eq!(
        d["token_endpoint_auth_signing_alg_values_supported"],
        json!(["EdDSA"])
    );
}
