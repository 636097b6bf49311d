//! Against a real KMS-compatible endpoint on loopback: `moto_server` (PyPI `moto[server]`),
//! started here, or an endpoint given in `IDPKIT_TEST_KMS_ENDPOINT`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use idpkit_core::testkit::flows::{code_after_login, token_request};
use idpkit_core::{
    Algorithm, Client, GrantType, KeyProvider, KeyState, MemoryGrantStore, Provider, StaticClients,
};
use idpkit_keys_kms::{KmsKey, KmsKeys};

use idpkit_test_support::moto;

use moto::moto;

fn client(endpoint: &str) -> aws_sdk_kms::Client {
    let config = aws_sdk_kms::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "idpkit-test"))
        .timeout_config(
            aws_sdk_kms::config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(1))
                .operation_timeout(Duration::from_secs(3))
                .build(),
        )
        .build();
    aws_sdk_kms::Client::from_conf(config)
}

async fn create_key(c: &aws_sdk_kms::Client, spec: KeySpec) -> String {
    c.create_key()
        .key_usage(KeyUsageType::SignVerify)
        .key_spec(spec)
        .send()
        .await
        .expect("create key")
        .key_metadata()
        .expect("metadata")
        .key_id()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsa_and_p256_keys_sign_jws_that_verify_with_the_published_jwks() {
    let Some(moto) = moto().await else { return };
    let c = client(&moto.endpoint);
    let rsa = create_key(&c, KeySpec::Rsa2048).await;
    let rsa_pss = create_key(&c, KeySpec::Rsa2048).await;
    let ec = create_key(&c, KeySpec::EccNistP256).await;
    let keys = KmsKeys::load(
        c.clone(),
        &[
            KmsKey::active(&rsa),
            KmsKey::active(&rsa_pss).with_alg(Algorithm::PS256),
            KmsKey::active(&ec),
        ],
    )
    .await
    .expect("load");
    assert_eq!(keys.jwks().await.expect("jwks").keys().len(), 3);
    for alg in [Algorithm::RS256, Algorithm::PS256, Algorithm::ES256] {
        let key = keys.signing_key(alg).await.expect("key");
        // Under 4096 bytes: sent as RAW. (moto hashes DIGEST messages a second time, unlike
        // KMS, so the DIGEST path for longer inputs cannot be checked against moto.)
        let input = format!("eyJhbGciOiJ{alg}.payload-{}", "x".repeat(1500));
        let sig = keys.sign(&key, input.as_bytes()).await.expect("sign");
        if alg == Algorithm::ES256 {
            assert_eq!(
                sig.len(),
                64,
                "ES256 signatures are converted from DER to 64-byte JOSE form"
            );
        }
        let jwks = keys.jwks().await.expect("jwks");
        let jwk = jwks.find(&key.kid).expect("published");
        assert_eq!(jwk.thumbprint(), key.kid, "kid is the RFC 7638 thumbprint");
        if alg == Algorithm::PS256 && moto.child.is_some() {
            // moto signs RSASSA_PSS with the maximal salt length; AWS KMS and JWS PS256
            // (RFC 7518 §3.5) use a salt as long as the hash, so moto's PSS signatures cannot
            // verify as JWS. Check the shape only.
            assert_eq!(sig.len(), 256);
            continue;
        }
        assert!(
            idpkit_core::jose::verify_with_jwk(jwk, alg, input.as_bytes(), &sig),
            "{alg} verifies"
        );
        assert!(!idpkit_core::jose::verify_with_jwk(
            jwk, alg, b"other", &sig
        ));
    }
    // A second instance on the same KMS keys publishes the same JWKS bytes.
    let again = KmsKeys::load(
        c.clone(),
        &[
            KmsKey::active(&rsa),
            KmsKey::active(&rsa_pss).with_alg(Algorithm::PS256),
            KmsKey::active(&ec),
        ],
    )
    .await
    .expect("load");
    assert_eq!(
        again.jwks().await.expect("jwks").to_json(),
        keys.jwks().await.expect("jwks").to_json()
    );
    // Rotation states: next keys are published and never sign.
    let next = create_key(&c, KeySpec::Rsa2048).await;
    keys.set_keys(&[
        KmsKey::active(&rsa),
        KmsKey::active(&next).with_state(KeyState::Next),
    ])
    .await
    .expect("rotate");
    assert_eq!(keys.jwks().await.expect("jwks").keys().len(), 2);
    let signing = keys.signing_key(Algorithm::RS256).await.expect("key");
    let next_kid = keys
        .jwks()
        .await
        .expect("jwks")
        .keys()
        .iter()
        .filter_map(|k| k.kid.clone())
        .find(|k| *k != signing.kid)
        .expect("next kid");
    assert!(
        keys.sign(
            &idpkit_core::KeyRef {
                kid: next_kid,
                alg: Algorithm::RS256
            },
            b"x"
        )
        .await
        .is_err()
    );
    // Keys KMS cannot use are refused clearly.
    let e = KmsKeys::load(c.clone(), &[KmsKey::active(&ec).with_alg(Algorithm::RS256)])
        .await
        .expect_err("mismatch");
    assert!(e.to_string().contains("does not fit"), "{e}");
    let e = KmsKeys::load(
        c.clone(),
        &[
            KmsKey::active(&rsa),
            KmsKey::active(&rsa).with_alg(Algorithm::PS256),
        ],
    )
    .await
    .expect_err("one key listed twice");
    assert!(e.to_string().contains("listed twice"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_keys_pass_the_key_provider_conformance_kit() {
    let Some(moto) = moto().await else { return };
    let c = client(&moto.endpoint);
    let rsa = create_key(&c, KeySpec::Rsa2048).await;
    let ec = create_key(&c, KeySpec::EccNistP256).await;
    let next = create_key(&c, KeySpec::EccNistP256).await;
    let keys = KmsKeys::load(
        c.clone(),
        &[
            KmsKey::active(&rsa),
            KmsKey::active(&ec),
            KmsKey::active(&next).with_state(KeyState::Next),
        ],
    )
    .await
    .expect("load");
    idpkit_core::testkit::key_provider::run_all(&keys).await;
}

const REDIRECT: &str = "https://app.example/cb";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kms_outage_is_temporarily_unavailable_and_the_code_survives() {
    let Some(moto) = moto().await else { return };
    if moto.child.is_none() {
        eprintln!(
            "outage test needs a moto_server started by the test; skipped with an external endpoint"
        );
        return;
    }
    let c = client(&moto.endpoint);
    let key = create_key(&c, KeySpec::Rsa2048).await;
    let keys = Arc::new(
        KmsKeys::load(c, &[KmsKey::active(&key)])
            .await
            .expect("load"),
    );
    let app = Client::confidential("app", "app-secret")
        .redirect_uri(REDIRECT)
        .grant_types([GrantType::AuthorizationCode])
        .scopes(["openid"])
        .first_party(true)
        .build()
        .expect("client");
    let p = Provider::builder("https://idp.example")
        .grant_store(MemoryGrantStore::new())
        .keys_arc(keys.clone())
        .clients(StaticClients::new([app]).expect("clients"))
        .users(idpkit_core::testkit::users::TestUsers::one("u", "u", "pw"))
        .dangerous_allow_development_backends()
        .build()
        .expect("provider");
    let code = code_after_login(&p, "app", REDIRECT, "openid", "u").await;
    let exchange = token_request(
        &[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
        ],
        "app",
        Some("app-secret"),
    );

    // KMS stops answering mid-test.
    moto.signal("-STOP");
    let started = Instant::now();
    let r = p.token(&exchange).await;
    let took = started.elapsed();
    assert_eq!(r.status, 503, "{:?}", r.json_value());
    assert_eq!(r.json_value()["error"], "temporarily_unavailable");
    assert!(
        took < Duration::from_secs(15),
        "bounded by the timeouts, took {took:?}"
    );
    // The JWKS is served from the cache without KMS.
    assert_eq!(p.jwks().await.status, 200);

    // KMS is back: the very same code is still redeemable, once.
    moto.signal("-CONT");
    let r = p.token(&exchange).await;
    assert_eq!(
        r.status,
        200,
        "the code survived the outage: {:?}",
        r.json_value()
    );
    let id_token = r.json_value()["id_token"]
        .as_str()
        .expect("id token")
        .to_owned();
    let (signing_input, sig) = id_token.rsplit_once('.').expect("jws");
    use base64::Engine;
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .expect("b64");
    let jwks = keys.jwks().await.expect("jwks");
    assert!(idpkit_core::jose::verify_with_jwk(
        &jwks.keys()[0],
        Algorithm::RS256,
        signing_input.as_bytes(),
        &sig
    ));
    assert_eq!(p.token(&exchange).await.status, 400, "single use");
}
