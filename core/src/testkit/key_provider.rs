//! The [`KeyProvider`] contract as executable checks, for every key backend (in-process
//! keys, key files, KMS). A failed check panics with the contract point that failed.
//!
//! A backend's `tests/conformance.rs`:
//! ```
//! # async fn key_provider_conformance() {
//! let keys = idpkit_core::LocalKeys::ephemeral_for_development().expect("keys");
//! idpkit_core::testkit::key_provider::run_all(&keys).await;
//! # }
//! ```

use std::collections::HashSet;

use crate::jose::{Algorithm, verify_with_jwk};
use crate::keys::{KeyError, KeyProvider, KeyRef};

/// Runs every check, including that each `kid` is the RFC 7638 thumbprint of its key.
pub async fn run_all(keys: &dyn KeyProvider) {
    run_all_except_thumbprints(keys).await;
    kids_are_rfc7638_thumbprints(keys).await;
}

/// Runs every check but the thumbprint one, for providers configured with their own `kid`s.
pub async fn run_all_except_thumbprints(keys: &dyn KeyProvider) {
    algorithms_match_the_active_keys(keys).await;
    the_jwks_publishes_every_signing_key(keys).await;
    kids_are_unique(keys).await;
    signatures_verify_against_the_published_jwk(keys).await;
    unknown_keys_do_not_sign(keys).await;
}

/// `algorithms()` lists each algorithm once, is not empty, and names exactly the
/// algorithms `signing_key` answers for.
pub async fn algorithms_match_the_active_keys(keys: &dyn KeyProvider) {
    let algs = keys.algorithms();
    assert!(!algs.is_empty(), "a key provider must sign with something");
    let unique: HashSet<Algorithm> = algs.iter().copied().collect();
    assert_eq!(
        unique.len(),
        algs.len(),
        "algorithms() repeats one: {algs:?}"
    );
    for alg in Algorithm::ALL {
        let answer = keys.signing_key(alg).await;
        if algs.contains(&alg) {
            let key = answer.unwrap_or_else(|e| {
                panic!("algorithms() lists {alg} but signing_key({alg}) fails: {e}")
            });
            assert_eq!(key.alg, alg, "signing_key({alg}) names another algorithm");
        } else {
            assert!(
                matches!(answer, Err(KeyError::NoKeyFor(a)) if a == alg),
                "signing_key({alg}) must be NoKeyFor({alg}) when algorithms() omits it, got {answer:?}"
            );
        }
    }
}

/// The key `signing_key(alg)` names is published, as a key of the right type for `alg`.
pub async fn the_jwks_publishes_every_signing_key(keys: &dyn KeyProvider) {
    let jwks = keys.jwks().await.expect("jwks");
    for alg in keys.algorithms() {
        let key = keys.signing_key(alg).await.expect("signing key");
        let jwk = jwks.find(&key.kid).unwrap_or_else(|| {
            panic!(
                "the active {alg} key {} is not in the JWKS: verifiers would refuse its tokens",
                key.kid
            )
        });
        assert_eq!(
            jwk.kty,
            alg.key_type(),
            "{}: kty does not fit {alg}",
            key.kid
        );
        assert!(
            jwk.alg.is_none_or(|a| a == alg),
            "{}: the JWK declares {:?}, the provider signs {alg}",
            key.kid,
            jwk.alg
        );
        assert!(
            jwk.key_use.as_deref().is_none_or(|u| u == "sig"),
            "{}: a signing key is published with use {:?}",
            key.kid,
            jwk.key_use
        );
    }
}

/// Every published key has a `kid`, and no two share one (RFC 7517 §4.5).
pub async fn kids_are_unique(keys: &dyn KeyProvider) {
    let jwks = keys.jwks().await.expect("jwks");
    let mut seen = HashSet::new();
    for jwk in jwks.keys() {
        let kid = jwk.kid.as_deref().expect("every published key has a kid");
        assert!(seen.insert(kid), "kid {kid} is published twice");
    }
}

/// A signature made through `sign` over a JWS signing input verifies against the published
/// JWK (RFC 7515 §5.2), for every algorithm.
pub async fn signatures_verify_against_the_published_jwk(keys: &dyn KeyProvider) {
    let jwks = keys.jwks().await.expect("jwks");
    for alg in keys.algorithms() {
        let key = keys.signing_key(alg).await.expect("signing key");
        let input = format!("eyJhbGciOiJ{alg}In0.eyJzdWIiOiJjb25mb3JtYW5jZSJ9");
        let sig = keys.sign(&key, input.as_bytes()).await.expect("sign");
        let jwk = jwks.find(&key.kid).expect("published");
        assert!(
            verify_with_jwk(jwk, alg, input.as_bytes(), &sig),
            "the {alg} signature of {} does not verify against its published JWK",
            key.kid
        );
        assert!(
            !verify_with_jwk(jwk, alg, b"another input", &sig),
            "the {alg} signature of {} verifies over other bytes",
            key.kid
        );
    }
}

/// `sign` refuses a key that is not active (an unknown `kid`, or a known `kid` with
/// another algorithm).
pub async fn unknown_keys_do_not_sign(keys: &dyn KeyProvider) {
    let alg = keys.algorithms()[0];
    let unknown = KeyRef {
        kid: "no-such-key-idpkit-testkit".into(),
        alg,
    };
    assert!(
        keys.sign(&unknown, b"x").await.is_err(),
        "sign() with an unknown kid must fail"
    );
    let active = keys.signing_key(alg).await.expect("signing key");
    if let Some(other) = Algorithm::ALL
        .into_iter()
        .find(|a| a.key_type() != alg.key_type())
    {
        let wrong = KeyRef {
            kid: active.kid,
            alg: other,
        };
        assert!(
            keys.sign(&wrong, b"x").await.is_err(),
            "sign() must refuse {other} with the {alg} key"
        );
    }
}

/// Every published `kid` is the RFC 7638 thumbprint of its key (§3), so every instance
/// loading the same key material publishes the same `kid`.
pub async fn kids_are_rfc7638_thumbprints(keys: &dyn KeyProvider) {
    let jwks = keys.jwks().await.expect("jwks");
    for jwk in jwks.keys() {
        assert_eq!(
            jwk.kid.as_deref(),
            Some(jwk.thumbprint().as_str()),
            "the kid is not the RFC 7638 thumbprint of its key"
        );
    }
}
