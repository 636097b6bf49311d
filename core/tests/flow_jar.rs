//! Request objects at the authorization endpoint (RFC 9101, JAR): a signed `request` by
//! value replaces the outer parameters; unsigned, mis-addressed, expired and replayed
//! objects are refused with `invalid_request_object`, redirected once the redirect URI is
//! trusted.

mod support;

use std::sync::Arc;

use idpkit_core::time::Duration;
use idpkit_core::{
    Algorithm, Authorization, Client, GrantType, Jwks, ManualClock, MemoryGrantStore, Method,
    Needs, Params, Request, SigningKey,
};
use serde_json::{Value, json};
use support::*;

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

struct Fixture {
    env: Env,
    key: SigningKey,
    /// An Ed25519 key in jar's set: registered, but EdDSA is not its
    /// request_object_signing_alg.
    ed: SigningKey,
    /// The `jar` client, for direct calls.
    jar: Client,
}

fn key(alg: Algorithm) -> SigningKey {
    SigningKey::generate(alg).expect("key").0
}

/// `jar` (private_key_jwt, jwks by value, request objects ES256 only) and `jar-public`
/// (public, PKCE, jwks for its request objects).
fn fixture() -> Fixture {
    fixture_with(|b| b)
}

fn fixture_with(
    f: impl FnOnce(idpkit_core::ProviderBuilder) -> idpkit_core::ProviderBuilder,
) -> Fixture {
    let key = key(Algorithm::ES256);
    let ed = self::key(Algorithm::EdDSA);
    let jwks = Jwks::new(vec![key.public_jwk().clone()]);
    let jar = Client::private_key_jwt("jar")
        .jwks(Jwks::new(vec![
            key.public_jwk().clone(),
            ed.public_jwk().clone(),
        ]))
        .request_object_signing_alg(Algorithm::ES256)
        .redirect_uri(REDIRECT)
        .redirect_uri("https://rp.example/other")
        .scopes(["openid", "email"])
        .first_party(true)
        .grant_types([GrantType::AuthorizationCode])
        .build()
        .expect("jar");
    let public = Client::public("jar-public")
        .jwks(jwks)
        .redirect_uri(REDIRECT)
        .scopes(["openid"])
        .first_party(true)
        .build()
        .expect("jar-public");
    let env = env_on_with(
        Arc::new(MemoryGrantStore::new()),
        Arc::new(ManualClock::starting_now()),
        vec![jar.clone(), public],
        f,
    );
    Fixture { env, key, ed, jar }
}

/// A good request object of `jar`.
fn object(now: i64) -> Value {
    json!({"iss": "jar", "aud": ISSUER, "client_id": "jar", "exp": now + 300, "nbf": now,
        "iat": now, "response_type": "code", "scope": "openid", "redirect_uri": REDIRECT,
        "state": "inner-state", "nonce": "inner-nonce"})
}

fn with(mut c: Value, k: &str, v: Value) -> Value {
    c[k] = v;
    c
}

async fn authorize(f: &Fixture, b: &mut Browser, pairs: &[(&str, &str)]) -> Authorization {
    f.env.authorize(b, pairs).await
}

/// Logs alice in and returns the redirect to the client.
async fn through_login(f: &Fixture, b: &mut Browser, a: Authorization) -> Vec<(String, String)> {
    let p = pending_for(a, Needs::Login);
    let done = f
        .env
        .finish(
            b,
            &p.id,
            idpkit_core::InteractionOutcome::Login {
                subject: "alice".into(),
            },
        )
        .await
        .expect("login");
    redirect_params(&respond(done))
}

#[tokio::test]
async fn a_signed_request_object_is_the_authorization_request_rfc9101_5_1() {
    let f = fixture();
    let mut b = Browser::new();
    let jwt = sign_jws(
        &f.key,
        json!({"typ": "oauth-authz-req+jwt"}),
        &object(f.env.now()),
    );
    let a = authorize(&f, &mut b, &[("client_id", "jar"), ("request", &jwt)]).await;
    let params = through_login(&f, &mut b, a).await;
    assert_eq!(param(&params, "state"), Some("inner-state"));
    let code = param(&params, "code").expect("code").to_owned();
    // The code is redeemed with a private_key_jwt assertion; the ID token has the nonce.
    let now = f.env.now();
    let assertion = sign_jws(
        &f.key,
        json!({}),
        &json!({"iss": "jar", "sub": "jar", "aud": ISSUER, "iat": now, "exp": now + 60,
            "jti": "a-1"}),
    );
    let mut r = Request::new(Method::Post);
    r.params = Params::from_pairs([
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion.as_str()),
    ]);
    let resp = f.env.provider.token(&r).await;
    let body = resp.json_value();
    assert_eq!(resp.status, 200, "{body}");
    let id_token = body["id_token"].as_str().expect("id token");
    let payload = id_token.split('.').nth(1).expect("payload");
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .expect("b64"),
    )
    .expect("json");
    assert_eq!(claims["nonce"], "inner-nonce");
}

#[tokio::test]
async fn outer_parameters_are_ignored_when_a_request_object_is_present_rfc9101_6_3() {
    let f = fixture();
    let mut b = Browser::new();
    let jwt = sign_jws(&f.key, json!({}), &object(f.env.now()));
    let a = authorize(
        &f,
        &mut b,
        &[
            ("client_id", "jar"),
            ("request", &jwt),
            ("state", "outer-state"),
            ("scope", "openid email"),
            ("redirect_uri", "https://rp.example/other"),
            ("prompt", "none"),
        ],
    )
    .await;
    // `prompt=none` outside is ignored (else: login_required), and so is everything else.
    let params = through_login(&f, &mut b, a).await;
    assert_eq!(param(&params, "state"), Some("inner-state"));
    assert!(param(&params, "code").is_some());
}

#[tokio::test]
async fn the_outer_client_id_must_be_the_objects_rfc9101_5() {
    let f = fixture();
    let mut b = Browser::new();
    let jwt = sign_jws(
        &f.key,
        json!({}),
        &with(object(f.env.now()), "client_id", "jar-public".into()),
    );
    let a = authorize(
        &f,
        &mut b,
        &[
            ("client_id", "jar"),
            ("request", &jwt),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    let p = assert_error_redirect(a, "invalid_request_object", None);
    assert!(
        param(&p, "error_description")
            .unwrap_or_default()
            .contains("client_id")
    );
}

#[tokio::test]
async fn an_unsigned_request_object_is_refused_rfc9101_6_1() {
    let f = fixture();
    let mut b = Browser::new();
    let jwt = unsigned_jws(&object(f.env.now()));
    let a = authorize(
        &f,
        &mut b,
        &[("client_id", "jar"), ("request", &jwt), ("state", "s")],
    )
    .await;
    // The client registered two redirect URIs and named none outside the (untrusted)
    // object: no redirect URI is trusted, so the user sees the error.
    let r = respond(a);
    assert_eq!(r.status, 400);
    // With a registered outer redirect_uri the error goes back to the client, with state.
    let a = authorize(
        &f,
        &mut b,
        &[
            ("client_id", "jar"),
            ("request", &jwt),
            ("redirect_uri", REDIRECT),
            ("state", "s"),
        ],
    )
    .await;
    assert_error_redirect(a, "invalid_request_object", Some("s"));
}

#[tokio::test]
async fn a_request_object_to_an_unregistered_redirect_uri_is_shown_not_redirected() {
    let f = fixture();
    let mut b = Browser::new();
    let jwt = unsigned_jws(&object(f.env.now()));
    let a = authorize(
        &f,
        &mut b,
        &[
            ("client_id", "jar"),
            ("request", &jwt),
            ("redirect_uri", "https://evil.example/cb"),
        ],
    )
    .await;
    assert_eq!(respond(a).status, 400);
}

async fn refused(f: &Fixture, claims: &Value, why: &str) {
    let mut b = Browser::new();
    let jwt = sign_jws(&f.key, json!({}), claims);
    let a = authorize(
        f,
        &mut b,
        &[
            ("client_id", "jar"),
            ("request", &jwt),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    let p = assert_error_redirect(a, "invalid_request_object", None);
    let d = param(&p, "error_description").unwrap_or_default();
    assert!(d.contains(why), "{d:?} should say {why:?}");
}

#[tokio::test]
async fn wrong_aud_iss_and_times_are_refused_rfc9101_6_2() {
    let f = fixture();
    let now = f.env.now();
    refused(
        &f,
        &with(object(now), "aud", "https://idp.example/token".into()),
        "aud",
    )
    .await;
    refused(&f, &with(object(now), "iss", "jar-public".into()), "iss").await;
    let mut no_exp = object(now);
    no_exp.as_object_mut().expect("object").remove("exp");
    refused(&f, &no_exp, "exp is required").await;
    refused(&f, &with(object(now), "exp", (now - 1).into()), "expired").await;
    refused(
        &f,
        &with(object(now), "exp", (now + 3601).into()),
        "longer than",
    )
    .await;
    refused(
        &f,
        &with(object(now), "nbf", (now + 11).into()),
        "in the future",
    )
    .await;
    refused(
        &f,
        &with(object(now), "request_uri", "https://x".into()),
        "request_uri",
    )
    .await;
}

#[tokio::test]
async fn only_the_registered_algorithm_and_the_clients_keys_verify() {
    let f = fixture();
    let mut b = Browser::new();
    // EdDSA is not jar's request_object_signing_alg, though the key is registered.
    let jwt = sign_jws(&f.ed, json!({}), &object(f.env.now()));
    let a = authorize(
        &f,
        &mut b,
        &[
            ("client_id", "jar"),
            ("request", &jwt),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    let p = assert_error_redirect(a, "invalid_request_object", None);
    assert!(
        param(&p, "error_description")
            .unwrap_or_default()
            .contains("not allowed")
    );
    // Another ES256 key claiming jar's kid.
    let other = key(Algorithm::ES256);
    let jwt = sign_jws(&other, json!({"kid": f.key.kid()}), &object(f.env.now()));
    let a = authorize(
        &f,
        &mut b,
        &[
            ("client_id", "jar"),
            ("request", &jwt),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    let p = assert_error_redirect(a, "invalid_request_object", None);
    assert!(
        param(&p, "error_description")
            .unwrap_or_default()
            .contains("does not verify")
    );
}

#[tokio::test]
async fn a_request_object_with_a_jti_is_single_use() {
    let f = fixture();
    let mut b = Browser::new();
    let jwt = sign_jws(
        &f.key,
        json!({}),
        &with(object(f.env.now()), "jti", "once".into()),
    );
    let a = authorize(&f, &mut b, &[("client_id", "jar"), ("request", &jwt)]).await;
    assert!(matches!(a, Authorization::Interaction(_)));
    let a = authorize(
        &f,
        &mut b,
        &[
            ("client_id", "jar"),
            ("request", &jwt),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    let p = assert_error_redirect(a, "invalid_request_object", None);
    assert!(
        param(&p, "error_description")
            .unwrap_or_default()
            .contains("used before")
    );
}

#[tokio::test]
async fn a_client_without_keys_cannot_send_request_objects() {
    let f = fixture();
    let mut b = Browser::new();
    let jwt = sign_jws(
        &f.key,
        json!({}),
        &with(
            with(object(f.env.now()), "iss", DEMO_PUBLIC.into()),
            "client_id",
            DEMO_PUBLIC.into(),
        ),
    );
    let a = authorize(&f, &mut b, &[("client_id", DEMO_PUBLIC), ("request", &jwt)]).await;
    let p = assert_error_redirect(a, "invalid_request_object", None);
    assert!(
        param(&p, "error_description")
            .unwrap_or_default()
            .contains("no keys")
    );
}

#[tokio::test]
async fn a_public_client_with_keys_signs_its_request_with_pkce_inside() {
    let f = fixture();
    let mut b = Browser::new();
    let now = f.env.now();
    let obj = json!({"iss": "jar-public", "aud": ISSUER, "exp": now + 60, "response_type": "code",
        "scope": "openid", "code_challenge": CHALLENGE, "code_challenge_method": "S256"});
    let jwt = sign_jws(&f.key, json!({}), &obj);
    // PKCE outside only is ignored: without it inside, a public client is refused.
    let a = authorize(
        &f,
        &mut b,
        &[
            ("client_id", "jar-public"),
            ("request", &jwt),
            ("code_challenge", "x"),
        ],
    )
    .await;
    let params = through_login(&f, &mut b, a).await;
    assert!(param(&params, "code").is_some());
    let mut obj2 = obj.clone();
    obj2.as_object_mut()
        .expect("object")
        .remove("code_challenge");
    let jwt = sign_jws(&f.key, json!({}), &obj2);
    let a = authorize(
        &f,
        &mut b,
        &[
            ("client_id", "jar-public"),
            ("request", &jwt),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert_error_redirect(a, "invalid_request", None);
    f.env.advance(Duration::seconds(61));
    let a = authorize(
        &f,
        &mut b,
        &[
            ("client_id", "jar-public"),
            ("request", &sign_jws(&f.key, json!({}), &obj)),
        ],
    )
    .await;
    assert_error_redirect(a, "invalid_request_object", None);
}

#[tokio::test]
async fn resolve_request_object_needs_the_outer_client_id_of_the_client_rfc9101_5() {
    let f = fixture();
    let jwt = sign_jws(&f.key, json!({}), &object(f.env.now()));
    // What a PAR endpoint would call with the pushed parameters.
    let ok = f
        .env
        .provider
        .resolve_request_object(
            &Params::from_pairs([("client_id", "jar"), ("request", jwt.as_str())]),
            &f.jar,
        )
        .await
        .expect("resolves");
    assert_eq!(ok.get("state").expect("one"), Some("inner-state"));
    for outer in [
        vec![("request", jwt.as_str())],
        vec![("client_id", "jar-public"), ("request", jwt.as_str())],
    ] {
        let e = f
            .env
            .provider
            .resolve_request_object(&Params::from_pairs(outer), &f.jar)
            .await
            .expect_err("no or another outer client_id");
        assert_eq!(e.code, idpkit_core::ErrorCode::InvalidRequest);
    }
    let e = f
        .env
        .provider
        .resolve_request_object(
            &Params::from_pairs([
                ("client_id", "jar"),
                ("request", jwt.as_str()),
                ("request_uri", "urn:x"),
            ]),
            &f.jar,
        )
        .await
        .expect_err("both");
    assert_eq!(e.code, idpkit_core::ErrorCode::InvalidRequest);
    // Without `request`, the parameters come back as they are.
    let plain = Params::from_pairs([("client_id", "jar"), ("scope", "openid")]);
    assert_eq!(
        f.env
            .provider
            .resolve_request_object(&plain, &f.jar)
            .await
            .expect("plain")
            .pairs(),
        plain.pairs()
    );
}

#[tokio::test]
async fn the_server_wide_algorithm_list_applies_to_request_objects_fapi2_5_4_1() {
    let f = fixture_with(|b| b.client_jwt_algorithms([Algorithm::PS256, Algorithm::EdDSA]));
    let mut b = Browser::new();
    // jar registered ES256, which the server no longer allows.
    let jwt = sign_jws(&f.key, json!({}), &object(f.env.now()));
    let a = authorize(
        &f,
        &mut b,
        &[
            ("client_id", "jar"),
            ("request", &jwt),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    let p = assert_error_redirect(a, "invalid_request_object", None);
    assert!(
        param(&p, "error_description")
            .unwrap_or_default()
            .contains("not allowed")
    );
}

#[tokio::test]
async fn a_request_objects_claims_member_is_the_claims_parameter_oidc_core_5_5() {
    // In a request object `claims` is a JSON object, not a string (OIDC Core §6.1).
    let f = fixture();
    let mut b = Browser::new();
    let claims = json!({"id_token": {"name": null}, "userinfo": {"email": {"essential": true}}});
    let jwt = sign_jws(
        &f.key,
        json!({}),
        &with(object(f.env.now()), "claims", claims),
    );
    let a = authorize(&f, &mut b, &[("client_id", "jar"), ("request", &jwt)]).await;
    let p = pending_for(a, Needs::Login);
    let details = f
        .env
        .provider
        .interaction(&p.id, &b.request(Method::Get, &[]))
        .await
        .expect("details");
    assert!(details.claims.id_token.contains_key("name"), "{details:?}");
    assert!(details.claims.userinfo["email"].essential);
    // A malformed one is refused like an outer parameter.
    let jwt = sign_jws(
        &f.key,
        json!({}),
        &with(object(f.env.now()), "claims", json!({"id_token": []})),
    );
    let a = authorize(
        &f,
        &mut Browser::new(),
        &[("client_id", "jar"), ("request", &jwt)],
    )
    .await;
    assert_error_redirect(a, "invalid_request", Some("inner-state"));
}

/// The provider's keys: an ES256 signing key and `enc` encryption keys.
#[cfg(not(feature = "ring"))]
fn keys_with_encryption(enc: Vec<idpkit_core::DecryptionKey>) -> idpkit_core::LocalKeys {
    use idpkit_core::KeyState;
    let until = idpkit_core::time::OffsetDateTime::now_utc() + Duration::days(1);
    let mut states = [KeyState::Active, KeyState::Next, KeyState::Retiring].into_iter();
    idpkit_core::LocalKeys::new(vec![(key(Algorithm::ES256), KeyState::Active)])
        .expect("keys")
        .with_decryption_keys(
            enc.into_iter()
                .map(|k| {
                    let s = states.next().unwrap_or(KeyState::Active);
                    (k, s, (s == KeyState::Retiring).then_some(until))
                })
                .collect(),
        )
        .expect("decryption keys")
}

#[cfg(not(feature = "ring"))]
#[tokio::test]
async fn a_signed_then_encrypted_request_object_is_decrypted_with_the_providers_key_rfc9101_6_1() {
    use idpkit_core::jose::jwe::{self, HeaderOptions, JweAlgorithm, JweEncryption};
    let new_key = |alg| {
        idpkit_core::DecryptionKey::generate(alg)
            .expect("enc key")
            .0
    };
    let (rsa, ec, old) = (
        new_key(JweAlgorithm::RsaOaep256),
        new_key(JweAlgorithm::EcdhEsA256kw),
        new_key(JweAlgorithm::EcdhEs),
    );
    let published: Vec<_> = [&rsa, &ec, &old]
        .iter()
        .map(|k| k.public_jwk().clone())
        .collect();
    let f = fixture_with(|b| b.keys(keys_with_encryption(vec![rsa, ec, old])));
    // Published with `use: enc` next to the signing key (`use: sig`), in every state.
    let jwks = match f.env.provider.jwks().await.body {
        idpkit_core::Body::Json(b) => serde_json::from_slice::<Value>(&b).expect("json"),
        other => panic!("{other:?}"),
    };
    let uses: Vec<&str> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["use"].as_str())
        .collect();
    assert_eq!(uses, ["sig", "enc", "enc", "enc"]);
    let doc = match f.env.provider.discovery().body {
        idpkit_core::Body::Json(b) => serde_json::from_slice::<Value>(&b).expect("json"),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        doc["request_object_encryption_alg_values_supported"],
        json!(["RSA-OAEP-256", "ECDH-ES", "ECDH-ES+A256KW"])
    );

    let signed = sign_jws(
        &f.key,
        json!({"typ": "oauth-authz-req+jwt"}),
        &object(f.env.now()),
    );
    for (to, alg) in [
        (&published[0], JweAlgorithm::RsaOaep256),
        (&published[1], JweAlgorithm::EcdhEsA256kw),
        (&published[2], JweAlgorithm::EcdhEs),
    ] {
        let jwe = jwe::encrypt(
            to,
            alg,
            JweEncryption::A256GCM,
            HeaderOptions {
                typ: None,
                cty: Some("JWT"),
            },
            signed.as_bytes(),
        )
        .expect("encrypt");
        let mut b = Browser::new();
        let a = authorize(&f, &mut b, &[("client_id", "jar"), ("request", &jwe)]).await;
        let params = through_login(&f, &mut b, a).await;
        assert_eq!(param(&params, "state"), Some("inner-state"), "{alg}");
    }

    // Encrypted but unsigned inside: refused (nested only).
    let unsigned = jwe::encrypt(
        &published[0],
        JweAlgorithm::RsaOaep256,
        JweEncryption::A128GCM,
        HeaderOptions::default(),
        object(f.env.now()).to_string().as_bytes(),
    )
    .expect("encrypt");
    let outer = [
        ("client_id", "jar"),
        ("request", unsigned.as_str()),
        ("redirect_uri", REDIRECT),
        ("state", "s"),
    ];
    let a = authorize(&f, &mut Browser::new(), &outer).await;
    assert_error_redirect(a, "invalid_request_object", Some("s"));
    let none_inside = jwe::encrypt(
        &published[0],
        JweAlgorithm::RsaOaep256,
        JweEncryption::A128GCM,
        HeaderOptions {
            typ: None,
            cty: Some("JWT"),
        },
        unsigned_jws(&object(f.env.now())).as_bytes(),
    )
    .expect("encrypt");
    let outer = [
        ("client_id", "jar"),
        ("request", none_inside.as_str()),
        ("redirect_uri", REDIRECT),
        ("state", "s"),
    ];
    let a = authorize(&f, &mut Browser::new(), &outer).await;
    assert_error_redirect(a, "invalid_request_object", Some("s"));
    // Encrypted to a key the provider does not have.
    let stranger = new_key(JweAlgorithm::RsaOaep256);
    let foreign = jwe::encrypt(
        stranger.public_jwk(),
        JweAlgorithm::RsaOaep256,
        JweEncryption::A128GCM,
        HeaderOptions {
            typ: None,
            cty: Some("JWT"),
        },
        signed.as_bytes(),
    )
    .expect("encrypt");
    let outer = [
        ("client_id", "jar"),
        ("request", foreign.as_str()),
        ("redirect_uri", REDIRECT),
        ("state", "s"),
    ];
    let a = authorize(&f, &mut Browser::new(), &outer).await;
    assert_error_redirect(a, "invalid_request_object", Some("s"));
}

#[cfg(not(feature = "ring"))]
#[tokio::test]
async fn without_encryption_keys_an_encrypted_request_object_is_refused_rfc9101_6_1() {
    use idpkit_core::jose::jwe::{self, HeaderOptions, JweAlgorithm, JweEncryption};
    let f = fixture();
    let k = idpkit_core::DecryptionKey::generate(JweAlgorithm::EcdhEs)
        .expect("k")
        .0;
    let signed = sign_jws(&f.key, json!({}), &object(f.env.now()));
    let jwe = jwe::encrypt(
        k.public_jwk(),
        JweAlgorithm::EcdhEs,
        JweEncryption::A128GCM,
        HeaderOptions::default(),
        signed.as_bytes(),
    )
    .expect("encrypt");
    let outer = [
        ("client_id", "jar"),
        ("request", jwe.as_str()),
        ("redirect_uri", REDIRECT),
        ("state", "s"),
    ];
    let a = authorize(&f, &mut Browser::new(), &outer).await;
    assert_error_redirect(a, "invalid_request_object", Some("s"));
    let doc = match f.env.provider.discovery().body {
        idpkit_core::Body::Json(b) => serde_json::from_slice::<Value>(&b).expect("json"),
        other => panic!("{other:?}"),
    };
    assert!(doc["request_object_encryption_alg_values_supported"].is_null());
}
