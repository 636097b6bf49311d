//! A FAPI 2.0-style token request in process: `private_key_jwt` client authentication and a
//! DPoP proof (two signature verifications) plus the access token's signature, against the
//! same request with `client_secret_basic` and no proof (one signature), so the cost of the
//! sender constraint and the asymmetric client authentication reads as a ratio.
#![allow(missing_docs)] // criterion_group! generates an undocumented function
//!
//! Usage: `cargo bench -p idpkit-core --features testkit --bench fapi`

use std::time::{Duration as StdDuration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use futures::executor::block_on;
use idpkit_core::testkit::flows::token_request;
use idpkit_core::testkit::users::TestUsers;
use idpkit_core::{
    Algorithm, Client, GrantType, Jwks, KeyState, LocalKeys, MemoryGrantStore, Method, Params,
    Provider, Request, SigningKey, StaticClients, dpop,
};
use serde_json::json;

const ISSUER: &str = "https://idp.example";

fn sign(key: &SigningKey, claims: &serde_json::Value) -> String {
    let header = json!({"alg": key.alg().as_str(), "kid": key.kid()});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = key.sign(input.as_bytes()).expect("sign");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn provider(alg: Algorithm, client_key: &SigningKey) -> Provider {
    let (key, _) = SigningKey::generate(alg).expect("key");
    let basic = Client::confidential("basic", "bench-secret-0123456789")
        .grant_types([GrantType::ClientCredentials])
        .scopes(["api:read"])
        .audience(["api"])
        .build()
        .expect("client");
    let fapi = Client::private_key_jwt("fapi")
        .jwks(Jwks::new(vec![client_key.public_jwk().clone()]))
        .grant_types([GrantType::ClientCredentials])
        .scopes(["api:read"])
        .audience(["api"])
        .build()
        .expect("client");
    Provider::builder(ISSUER)
        .grant_store(MemoryGrantStore::new())
        .keys(LocalKeys::new(vec![(key, KeyState::Active)]).expect("one active key"))
        .clients(StaticClients::new([basic, fapi]).expect("clients"))
        .users(TestUsers::one("u", "u", "pw"))
        .signing_alg(alg)
        .dangerous_allow_development_backends()
        .build()
        .expect("provider")
}

fn benches(c: &mut Criterion) {
    eprintln!("crypto backend: {}", idpkit_core::crypto::BACKEND);
    let mut g = c.benchmark_group("fapi");
    g.measurement_time(StdDuration::from_secs(4));
    for alg in [Algorithm::ES256, Algorithm::PS256, Algorithm::EdDSA] {
        let Ok((client_key, _)) = SigningKey::generate(alg) else {
            continue;
        };
        let dpop_key = SigningKey::generate(alg).expect("key").0;
        let p = provider(alg, &client_key);
        let basic = {
            let mut r = Request::new(Method::Post);
            r.params =
                Params::from_pairs([("grant_type", "client_credentials"), ("scope", "api:read")]);
            r.authorization = Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("basic:bench-secret-0123456789")
            ));
            r
        };
        g.bench_function(format!("client_secret_basic/{alg}"), |b| {
            b.iter(|| {
                let r = block_on(p.token(&basic));
                assert_eq!(r.status, 200);
            })
        });
        g.bench_function(format!("private_key_jwt_dpop/{alg}"), |b| {
            b.iter_custom(|iters| {
                let mut total = StdDuration::ZERO;
                for _ in 0..iters {
                    let now = time_now();
                    let assertion = sign(
                        &client_key,
                        &json!({"iss": "fapi", "sub": "fapi", "aud": ISSUER, "iat": now,
                            "exp": now + 60, "jti": idpkit_core::crypto::random_token()}),
                    );
                    let mut req = token_request(
                        &[
                            ("grant_type", "client_credentials"),
                            ("scope", "api:read"),
                            (
                                "client_assertion_type",
                                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                            ),
                            ("client_assertion", &assertion),
                        ],
                        "fapi",
                        None,
                    );
                    req.dpop = Some(
                        dpop::proof(
                            &dpop_key,
                            "POST",
                            &format!("{ISSUER}/token"),
                            now,
                            None,
                            None,
                        )
                        .expect("proof"),
                    );
                    let start = Instant::now();
                    let r = block_on(p.token(&req));
                    total += start.elapsed();
                    assert_eq!(r.status, 200, "{:?}", r.json_value());
                }
                total
            })
        });
    }
    g.finish();
}

fn time_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

criterion_group!(fapi, benches);
criterion_main!(fapi);
