//! Token minting and the token endpoint in-process, next to the raw signature of the same
#![allow(missing_docs)] // criterion_group! generates an undocumented function
//! crypto backend, so that the overhead reads as a ratio.
//!
//! Usage: `cargo bench -p idpkit-core --bench token_endpoint`

use std::hint::black_box;
use std::time::{Duration as StdDuration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use futures::executor::block_on;
use idpkit_core::SigningKey;
use idpkit_core::testkit::flows::code_after_login;
use idpkit_core::testkit::users::TestUsers;
use idpkit_core::{
    Algorithm, Client, GrantType, KeyState, LocalKeys, MemoryGrantStore, Method, Params, Provider,
    Request, StaticClients,
};

const REDIRECT: &str = "https://app.example/cb";

fn provider(alg: Algorithm) -> Provider {
    let (key, _) = SigningKey::generate(alg).expect("key");
    let client = Client::confidential("bench", "bench-secret-0123456789")
        .redirect_uri(REDIRECT)
        .grant_types([GrantType::AuthorizationCode, GrantType::ClientCredentials])
        .scopes(["openid", "api:read"])
        .first_party(true)
        .audience(["api"])
        .build()
        .expect("client");
    Provider::builder("https://idp.example")
        .grant_store(MemoryGrantStore::new())
        .keys(LocalKeys::new(vec![(key, KeyState::Active)]).expect("one active key"))
        .clients(StaticClients::new([client]).expect("clients"))
        .users(TestUsers::one("u", "u", "pw"))
        .signing_alg(alg)
        .dangerous_allow_development_backends()
        .build()
        .expect("provider")
}

fn post(pairs: &[(&str, &str)]) -> Request {
    let mut r = Request::new(Method::Post);
    r.params = Params::from_pairs(pairs.iter().map(|(k, v)| (*k, *v)));
    r.authorization = Some("Basic YmVuY2g6YmVuY2gtc2VjcmV0LTAxMjM0NTY3ODk=".into());
    r
}

/// Runs authorize + login through core's API and returns a fresh code.
async fn fresh_code(p: &Provider) -> String {
    code_after_login(p, "bench", REDIRECT, "openid api:read", "u").await
}

fn benches(c: &mut Criterion) {
    eprintln!("crypto backend: {}", idpkit_core::crypto::BACKEND);
    let mut g = c.benchmark_group("token");
    g.measurement_time(StdDuration::from_secs(4));
    let algs: Vec<Algorithm> = [
        Algorithm::RS256,
        Algorithm::PS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
    ]
    .into_iter()
    .filter(|a| SigningKey::generate(*a).is_ok())
    .collect();
    for alg in algs {
        let (key, _) = SigningKey::generate(alg).expect("key");
        // A typical JWS signing input size for an access token.
        let input = vec![b'a'; 420];
        g.bench_function(format!("raw_sign/{alg}"), |b| {
            b.iter(|| key.sign(black_box(&input)).expect("sign"))
        });

        let p = provider(alg);
        let cc = post(&[("grant_type", "client_credentials"), ("scope", "api:read")]);
        g.bench_function(format!("client_credentials/{alg}"), |b| {
            b.iter(|| {
                let r = block_on(p.token(black_box(&cc)));
                assert_eq!(r.status, 200);
                r
            })
        });

        g.bench_function(format!("code_exchange/{alg}"), |b| {
            b.iter_custom(|iters| {
                let mut total = StdDuration::ZERO;
                for _ in 0..iters {
                    let code = block_on(fresh_code(&p));
                    let req = post(&[
                        ("grant_type", "authorization_code"),
                        ("code", &code),
                        ("redirect_uri", REDIRECT),
                    ]);
                    let start = Instant::now();
                    let r = block_on(p.token(&req));
                    total += start.elapsed();
                    assert_eq!(r.status, 200);
                }
                total
            })
        });
    }
    g.finish();
}

criterion_group!(token, benches);
criterion_main!(token);
