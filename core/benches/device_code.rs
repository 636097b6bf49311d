//! The device authorization grant's redemption (RFC 8628 §3.4) in process: one poll that
//! gets the tokens of an approved device code, next to the raw signature of the same
//! crypto backend, so that the overhead reads as a ratio (an access token is one signature;
//! with `openid` the ID token is a second).
#![allow(missing_docs)] // criterion_group! generates an undocumented function
//!
//! Usage: `cargo bench -p idpkit-core --features testkit --bench device_code`

use std::hint::black_box;
use std::time::{Duration as StdDuration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use futures::executor::block_on;
use idpkit_core::testkit::flows::{approved_device_code, token_request};
use idpkit_core::testkit::users::TestUsers;
use idpkit_core::time::Duration;
use idpkit_core::{
    Algorithm, Client, GrantType, KeyState, Limit, LocalKeys, MemoryGrantStore, Provider,
    RateLimits, SigningKey, StaticClients,
};

const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

fn provider(alg: Algorithm) -> Provider {
    let (key, _) = SigningKey::generate(alg).expect("key");
    let client = Client::public("tv")
        .grant_types([GrantType::DeviceCode])
        .scopes(["openid", "api:read"])
        .audience(["api"])
        .build()
        .expect("client");
    // The bench starts thousands of device authorizations from one (unknown) source.
    let mut limits = RateLimits::default();
    let lots = Limit::new(u64::MAX, Duration::minutes(10));
    limits.device_authorizations_per_source = lots;
    limits.device_authorizations_per_client = lots;
    limits.interactions_per_source = lots;
    limits.interactions_per_client = lots;
    limits.interactions_total = lots;
    Provider::builder("https://idp.example")
        .grant_store(MemoryGrantStore::new())
        .keys(LocalKeys::new(vec![(key, KeyState::Active)]).expect("one active key"))
        .clients(StaticClients::new([client]).expect("clients"))
        .users(TestUsers::one("u", "u", "pw"))
        .signing_alg(alg)
        .rate_limits(limits)
        .dangerous_allow_development_backends()
        .build()
        .expect("provider")
}

fn benches(c: &mut Criterion) {
    eprintln!("crypto backend: {}", idpkit_core::crypto::BACKEND);
    let mut g = c.benchmark_group("device_code");
    g.measurement_time(StdDuration::from_secs(4));
    let algs: Vec<Algorithm> = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA]
        .into_iter()
        .filter(|a| SigningKey::generate(*a).is_ok())
        .collect();
    for alg in algs {
        let (key, _) = SigningKey::generate(alg).expect("key");
        let input = vec![b'a'; 420];
        g.bench_function(format!("raw_sign/{alg}"), |b| {
            b.iter(|| key.sign(black_box(&input)).expect("sign"))
        });
        let p = provider(alg);
        for (name, scope) in [
            ("access_token", "api:read"),
            ("with_id_token", "openid api:read"),
        ] {
            g.bench_function(format!("redeem_{name}/{alg}"), |b| {
                b.iter_custom(|iters| {
                    let mut total = StdDuration::ZERO;
                    for _ in 0..iters {
                        let device_code = block_on(approved_device_code(&p, "tv", scope, "u"));
                        let req = token_request(
                            &[("grant_type", GRANT), ("device_code", &device_code)],
                            "tv",
                            None,
                        );
                        let start = Instant::now();
                        let r = block_on(p.token(&req));
                        total += start.elapsed();
                        assert_eq!(r.status, 200);
                    }
                    total
                })
            });
        }
    }
    g.finish();
}

criterion_group!(device_code, benches);
criterion_main!(device_code);
