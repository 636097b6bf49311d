//! A token exchange (RFC 8693) at the token endpoint in-process, next to the raw signature
#![allow(missing_docs)] // criterion_group! generates an undocumented function
//! and verification of the same crypto backend, so the cost reads as signatures per
//! request: an impersonation verifies one JWT (the subject token) and signs one; a
//! delegation verifies two (subject and actor) and signs one.
//!
//! Usage: `cargo bench -p idpkit-core --features testkit --bench token_exchange`

use std::hint::black_box;
use std::time::Duration as StdDuration;

use criterion::{Criterion, criterion_group, criterion_main};
use futures::executor::block_on;
use idpkit_core::testkit::flows::code_after_login;
use idpkit_core::testkit::users::TestUsers;
use idpkit_core::time::Duration;
use idpkit_core::{
    ActorRule, Algorithm, Client, ExchangeRule, ExchangeRules, GrantType, KeyState, LocalKeys,
    MemoryGrantStore, Method, Params, Provider, Request, SigningKey, StaticClients, crypto,
};

const REDIRECT: &str = "https://app.example/cb";
const AT: &str = "urn:ietf:params:oauth:token-type:access_token";

fn provider(alg: Algorithm) -> Provider {
    let (key, _) = SigningKey::generate(alg).expect("key");
    let app = Client::confidential("app", "app-secret-0123456789")
        .redirect_uri(REDIRECT)
        .grant_types([GrantType::AuthorizationCode])
        .scopes(["openid", "api:read"])
        .first_party(true)
        .audience(["api"])
        .build()
        .expect("app");
    let exchanger = Client::confidential("bench", "bench-secret-0123456789")
        .grant_types([GrantType::TokenExchange, GrantType::ClientCredentials])
        .scopes(["api:read"])
        .build()
        .expect("exchanger");
    Provider::builder("https://idp.example")
        .grant_store(MemoryGrantStore::new())
        .keys(LocalKeys::new(vec![(key, KeyState::Active)]).expect("one active key"))
        .clients(StaticClients::new([app, exchanger]).expect("clients"))
        .users(TestUsers::one("u", "u", "pw"))
        .signing_alg(alg)
        // Long-lived subject tokens: the benchmark runs longer than the default hour.
        .access_token_ttl(Duration::days(1))
        .token_exchange_policy(ExchangeRules::new([ExchangeRule::new("bench")
            .subject_audience("api")
            .audience("backend")
            .max_scopes(["api:read"])
            .actor(ActorRule::Optional)]))
        .dangerous_allow_development_backends()
        .build()
        .expect("provider")
}

/// A token request by the exchanger (client_secret_basic).
fn post(pairs: &[(&str, &str)]) -> Request {
    let mut r = Request::new(Method::Post);
    r.params = Params::from_pairs(pairs.iter().map(|(k, v)| (*k, *v)));
    r.authorization = Some("Basic YmVuY2g6YmVuY2gtc2VjcmV0LTAxMjM0NTY3ODk=".into());
    r
}

/// A user's JWT access token (aud `api`, bound to its grant) from a code exchange.
fn subject_token(p: &Provider) -> String {
    let code = block_on(code_after_login(p, "app", REDIRECT, "api:read", "u"));
    let mut r = Request::new(Method::Post);
    r.params = Params::from_pairs([
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("client_id", "app"),
        ("client_secret", "app-secret-0123456789"),
    ]);
    let resp = block_on(p.token(&r));
    assert_eq!(resp.status, 200);
    resp.json_value()["access_token"]
        .as_str()
        .expect("token")
        .to_owned()
}

fn benches(c: &mut Criterion) {
    eprintln!("crypto backend: {}", crypto::BACKEND);
    let mut g = c.benchmark_group("token_exchange");
    g.measurement_time(StdDuration::from_secs(4));
    let algs: Vec<Algorithm> = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA]
        .into_iter()
        .filter(|a| SigningKey::generate(*a).is_ok())
        .collect();
    for alg in algs {
        let (key, _) = SigningKey::generate(alg).expect("key");
        // A typical JWS signing input size for an access token.
        let input = vec![b'a'; 420];
        let sig = key.sign(&input).expect("sign");
        g.bench_function(format!("raw_sign/{alg}"), |b| {
            b.iter(|| key.sign(black_box(&input)).expect("sign"))
        });
        let raw = crypto::VerifyingKey::from_jwk(key.public_jwk()).expect("key");
        g.bench_function(format!("raw_verify/{alg}"), |b| {
            b.iter(|| assert!(raw.verify(alg, black_box(&input), &sig)))
        });

        let p = provider(alg);
        let subject = subject_token(&p);
        let cc = block_on(p.token(&post(&[("grant_type", "client_credentials")])));
        assert_eq!(cc.status, 200);
        let actor = cc.json_value()["access_token"]
            .as_str()
            .expect("actor")
            .to_owned();
        let impersonation = post(&[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("subject_token", &subject),
            ("subject_token_type", AT),
            ("audience", "backend"),
            ("scope", "api:read"),
        ]);
        g.bench_function(format!("impersonation/{alg}"), |b| {
            b.iter(|| {
                let r = block_on(p.token(black_box(&impersonation)));
                assert_eq!(r.status, 200);
                r
            })
        });
        let delegation = post(&[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("subject_token", &subject),
            ("subject_token_type", AT),
            ("actor_token", &actor),
            ("actor_token_type", AT),
            ("audience", "backend"),
            ("scope", "api:read"),
        ]);
        g.bench_function(format!("delegation/{alg}"), |b| {
            b.iter(|| {
                let r = block_on(p.token(black_box(&delegation)));
                assert_eq!(r.status, 200);
                r
            })
        });
    }
    g.finish();
}

criterion_group!(token_exchange, benches);
criterion_main!(token_exchange);
