//! Validation of an access token (cached JWKS) next to the raw verification of the same
//! signature with the same crypto backend.
//!
//! Usage: `cargo bench -p idpkit-core --bench validate`
#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::hint::black_box;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use futures::executor::block_on;
use idpkit_core::SigningKey;
use idpkit_core::crypto;
use idpkit_core::{Algorithm, Jwks, TrustedIssuer, Validator};

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("validate");
    g.measurement_time(std::time::Duration::from_secs(4));
    for alg in [Algorithm::RS256, Algorithm::ES256] {
        let (key, _) = SigningKey::generate(alg).expect("key");
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let header = serde_json::json!({"alg": alg.as_str(), "kid": key.kid(), "typ": "at+jwt"});
        let claims = serde_json::json!({"iss": "https://idp.example", "sub": "alice", "aud": ["api"], "exp": now + 3600,
            "iat": now, "jti": "j", "client_id": "app", "scope": "read write"});
        let h = URL_SAFE_NO_PAD.encode(header.to_string());
        let p = URL_SAFE_NO_PAD.encode(claims.to_string());
        let input = format!("{h}.{p}");
        let sig = key.sign(input.as_bytes()).expect("sign");
        let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(&sig));
        let jwk = key.public_jwk().clone();
        // The backend's own verification with the key already decoded and parsed: the cost
        // of the signature check alone.
        let raw = crypto::VerifyingKey::from_jwk(&jwk).expect("key");
        g.bench_function(format!("raw_verify/{alg}"), |b| {
            b.iter(|| assert!(raw.verify(alg, black_box(input.as_bytes()), &sig)))
        });
        let validator = Validator::builder()
            .trust(
                TrustedIssuer::new("https://idp.example", "api")
                    .with_jwks(Jwks::new(vec![jwk.clone()])),
            )
            .build()
            .expect("validator");
        g.bench_function(format!("validator/{alg}"), |b| {
            b.iter(|| block_on(validator.validate(black_box(&token))).expect("valid"))
        });
    }
    g.finish();
}

criterion_group!(validate, benches);
criterion_main!(validate);
