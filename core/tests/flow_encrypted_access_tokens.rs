//! Encrypted JWT access tokens (#17 item 6), in process: a [`Resource`] with
//! `encrypt_access_tokens` gets nested JWTs (signed, then encrypted to its key, RFC 7516,
//! RFC 7519 §5.2); a `Validator` with that key's `decryption_key` decrypts, then verifies;
//! without it, or with another key, or for an unsigned JWE, it refuses with
//! `Rejection::Undecryptable`.
#![cfg(not(feature = "ring"))]

mod support;

use idpkit_core::jose::jwe::{self, DecryptionKey, HeaderOptions, JweAlgorithm, JweEncryption};
use idpkit_core::{Body, Jwks, Rejection, Resource, TrustedIssuer, Validator};
use serde_json::Value;
use support::*;

const API: &str = "urn:demo-api";

async fn setup(alg: JweAlgorithm, enc: JweEncryption) -> (Env, DecryptionKey, Value) {
    let (rs_key, _) = DecryptionKey::generate(alg).expect("rs key");
    let public = rs_key.public_jwk().clone();
    let env = env_with(|b| {
        b.resource(Resource::new(API, "demo-api").encrypt_access_tokens(public, alg, enc))
    });
    let (status, body) = env
        .token(
            DEMO_CLIENT,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "api:read"),
                ("resource", API),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    (env, rs_key, body)
}

async fn provider_jwks(env: &Env) -> Jwks {
    let r = env.provider.jwks().await;
    let Body::Json(bytes) = r.body else {
        panic!("JWKS is JSON")
    };
    Jwks::from_document(&bytes).expect("jwks")
}

fn validator(jwks: Jwks, keys: Vec<DecryptionKey>, env: &Env) -> Validator {
    let mut b = Validator::builder()
        .trust(TrustedIssuer::new(ISSUER, "demo-api").with_jwks(jwks))
        .clock(env.clock.clone());
    for k in keys {
        b = b.decryption_key(k);
    }
    b.build().expect("validator")
}

#[tokio::test]
async fn access_tokens_for_the_resource_are_nested_jwes_the_validator_decrypts() {
    for (alg, enc) in [
        (JweAlgorithm::RsaOaep256, JweEncryption::A256GCM),
        (JweAlgorithm::EcdhEsA256kw, JweEncryption::A128GCM),
        (JweAlgorithm::EcdhEs, JweEncryption::A256GCM),
    ] {
        let (env, rs_key, body) = setup(alg, enc).await;
        let token = body["access_token"].as_str().expect("access token");
        assert_eq!(token.split('.').count(), 5, "a JWE");
        let header = jwe::parse_header(token).expect("header");
        assert_eq!((header.alg, header.enc), (alg, enc));
        assert!(header.is_nested_jwt(), "cty JWT: signed, then encrypted");
        let rs_kid = rs_key.kid().to_owned();
        let jwks = provider_jwks(&env).await;
        let v = validator(jwks, vec![rs_key], &env);
        let t = v.validate(token).await.expect("decrypted and verified");
        assert_eq!(t.client_id.as_deref(), Some(DEMO_CLIENT));
        assert!(t.has_scope("api:read"));
        assert!(t.kid.is_some(), "the inner JWS's signing key");
        assert_ne!(t.kid.as_deref(), Some(rs_kid.as_str()));
    }
}

#[tokio::test]
async fn a_validator_without_the_key_refuses_and_says_why() {
    let (env, _, body) = setup(JweAlgorithm::RsaOaep256, JweEncryption::A128GCM).await;
    let token = body["access_token"].as_str().expect("access token");
    let jwks = || async { provider_jwks(&env).await };
    let none = validator(jwks().await, vec![], &env);
    let r = none.validate(token).await.expect_err("no key");
    assert!(
        matches!(&r, Rejection::Undecryptable { keys, .. } if keys.is_empty()),
        "{r}"
    );
    assert!(r.to_string().contains("decryption_key"), "{r}");
    assert_eq!(r.status(), 401);
    let (other, _) = DecryptionKey::generate(JweAlgorithm::RsaOaep256).expect("other");
    let other_kid = other.kid().to_owned();
    let wrong = validator(jwks().await, vec![other], &env);
    match wrong.validate(token).await.expect_err("other key") {
        Rejection::Undecryptable { reason, keys } => {
            assert_eq!(keys, [other_kid]);
            assert!(reason.contains("no decryption key"), "{reason}");
        }
        r => panic!("{r}"),
    }
}

#[tokio::test]
async fn an_encrypted_but_unsigned_token_is_refused_rfc7519_5_2() {
    let (env, rs_key, body) = setup(JweAlgorithm::EcdhEs, JweEncryption::A128GCM).await;
    let signed = body["access_token"].as_str().expect("at").to_owned();
    let jwks = provider_jwks(&env).await;
    // The claims of a real token, encrypted without a signature: cty is not JWT.
    let (k2, der) = DecryptionKey::generate(JweAlgorithm::EcdhEs).expect("k2");
    let claims = br#"{"iss":"https://idp.example","aud":"demo-api","sub":"x","exp":9999999999,"client_id":"demo-client","scope":"api:read"}"#;
    let unsigned = jwe::encrypt(
        k2.public_jwk(),
        JweAlgorithm::EcdhEs,
        JweEncryption::A128GCM,
        HeaderOptions::default(),
        claims,
    )
    .expect("encrypt");
    let v = validator(
        jwks,
        vec![DecryptionKey::from_pkcs8(&der).expect("k2"), rs_key],
        &env,
    );
    match v.validate(&unsigned).await.expect_err("unsigned") {
        Rejection::Undecryptable { reason, .. } => assert!(reason.contains("cty"), "{reason}"),
        r => panic!("{r}"),
    }
    v.validate(&signed).await.expect("the nested one passes");
}
