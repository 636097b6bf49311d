//! Key loading: DER (SPKI, PKCS#8, PKCS#1, SEC1), JWK / JWKS JSON, and the PEM / X.509 /
//! JWK files of `idpkit-keys-file` (written to a private temporary directory).
//!
//! Input: the first byte picks the format:
//! - 0: DER, through `crypto::der`, `PublicKey::from_spki`, `jwk_from_spki` and
//!   `SigningKey::from_pkcs8` (directly, and after the PKCS#1 / SEC1 wrappers);
//! - 1: JWK / JWKS JSON (`Jwk`, `public_key`, `thumbprint`, `VerifyingKey::from_jwk`);
//! - 2: a PEM or JWK key file loaded by `idpkit_keys_file::load_dir`;
//! - 3: a certificate PEM and its key file (split at the first NUL byte), with a manifest.
//!
//! Invariants: no panic; a key that loads signs, and its public half verifies that
//! signature; a JWK derived from an SPKI decodes back to the same public key.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use futures::executor::block_on;
use idpkit_core::crypto::{PublicKey, VerifyingKey, der};
use idpkit_core::jose::jwk_from_spki;
use idpkit_core::time::OffsetDateTime;
use idpkit_core::{Algorithm, Jwk, Jwks, KeyProvider, SigningKey};
use idpkit_fuzz::NOW;
use libfuzzer_sys::fuzz_target;

const ALGS: [Algorithm; 4] = [
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::EdDSA,
];

/// A loaded key signs, and its published JWK verifies the signature.
fn check_signs(key: &SigningKey) {
    let msg = b"header.payload";
    let sig = key.sign(msg).expect("a loaded key signs");
    let vk = VerifyingKey::from_jwk(key.public_jwk()).expect("its JWK decodes");
    assert!(
        vk.verify(key.alg(), msg, &sig),
        "its own signature does not verify"
    );
}

fn der_formats(data: &[u8]) {
    let _ = der::read(data);
    let _ = der::pkcs8_algorithm(data);
    let _ = der::sec1_curve(data);
    let _ = der::rsa_public_key(data);
    let _ = idpkit_core::crypto::ecdsa_der_to_jose(data);
    if let Some(s) = der::spki(data) {
        let _ = der::curve_name(s.algorithm);
    }
    let spki = PublicKey::from_spki(data);
    let jwk = jwk_from_spki(data);
    assert_eq!(spki.is_some(), jwk.is_some());
    if let (Some(k), Some(jwk)) = (spki, jwk) {
        assert_eq!(
            jwk.public_key(),
            Some(k),
            "SPKI -> JWK -> key changed the key"
        );
    }
    let candidates = [
        data.to_vec(),
        der::pkcs8_from_pkcs1(data),
        der::pkcs8_from_sec1_p256(data),
    ];
    for pkcs8 in &candidates {
        for alg in ALGS {
            if let Ok(key) = SigningKey::from_pkcs8(alg, pkcs8) {
                assert_eq!(key.alg(), alg);
                check_signs(&key);
            }
        }
    }
}

fn jwk_json(data: &[u8]) {
    if let Ok(jwk) = serde_json::from_slice::<Jwk>(data) {
        let _ = jwk.thumbprint();
        let key = jwk.public_key();
        assert_eq!(key.is_some(), VerifyingKey::from_jwk(&jwk).is_some());
        if let Some(k) = key {
            assert_eq!(Jwk::from_public_key(&k).public_key(), Some(k));
        }
        let jwks = Jwks::new(vec![jwk]);
        let _ = serde_json::from_slice::<serde_json::Value>(&jwks.to_json()).expect("JWKS JSON");
    }
    #[derive(serde::Deserialize)]
    struct Set {
        keys: Vec<Jwk>,
    }
    if let Ok(set) = serde_json::from_slice::<Set>(data) {
        let jwks = Jwks::new(set.keys);
        let _ = jwks.to_json();
        let ks = idpkit_core::jose::KeySet::new(&jwks);
        for j in jwks.keys() {
            if let Some(kid) = &j.kid {
                assert!(
                    ks.contains(kid),
                    "a kid of the set is unknown to its KeySet"
                );
            }
        }
    }
}

/// A directory of this process's own, emptied before each input.
fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let d = base.join(format!("idpkit-fuzz-keys-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("temp dir");
        d
    })
}

fn load(files: &[(&str, &[u8])]) {
    let d = dir();
    for e in std::fs::read_dir(d).expect("read temp dir").flatten() {
        std::fs::remove_file(e.path()).expect("clean temp dir");
    }
    for (name, bytes) in files {
        std::fs::write(d.join(name), bytes).expect("write key file");
    }
    let now = OffsetDateTime::from_unix_timestamp(NOW).expect("fixed time");
    if let Ok(keys) = idpkit_keys_file::load_dir(d, now) {
        let jwks = block_on(keys.jwks()).expect("jwks of loaded keys");
        assert!(!jwks.keys().is_empty(), "loaded a key set with no key");
        for alg in keys.algorithms() {
            let key = block_on(keys.signing_key(alg)).expect("an advertised algorithm has a key");
            let msg = b"header.payload";
            let sig = block_on(keys.sign(&key, msg)).expect("a loaded key signs");
            assert!(
                jwks.keys()
                    .iter()
                    .any(|j| idpkit_core::jose::verify_with_jwk(j, alg, msg, &sig)),
                "no published key verifies the signature"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => der_formats(rest),
        1 => jwk_json(rest),
        2 => {
            let name = if rest.trim_ascii_start().starts_with(b"{") {
                "key.json"
            } else {
                "key.pem"
            };
            load(&[(name, rest)]);
        }
        _ => {
            let cut = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
            let (cert, key) = (&rest[..cut], rest.get(cut + 1..).unwrap_or_default());
            let manifest = br#"{"keys":[{"file":"cert.crt","key":"key.key","state":"active"}]}"#;
            load(&[
                ("keys.json", manifest),
                ("cert.crt", cert),
                ("key.key", key),
            ]);
        }
    }
});
