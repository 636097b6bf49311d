//! Signing through the file key provider next to the raw signature of the same crypto
//! backend, per algorithm: the provider's overhead reads as a ratio.
//!
//! Usage: `cargo bench -p idpkit-keys-file --bench sign`
#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use futures::executor::block_on;
use idpkit_core::SigningKey;
use idpkit_core::{Algorithm, KeyProvider};
use idpkit_keys_file::KeyDir;

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("dir");
    let algs = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];
    let keys = KeyDir::open_or_create(dir.path().join("keys"), &algs).expect("keys");
    let input = vec![b'a'; 420];
    let mut g = c.benchmark_group("sign");
    g.measurement_time(std::time::Duration::from_secs(4));
    for alg in algs {
        let (raw, _) = SigningKey::generate(alg).expect("key");
        g.bench_function(format!("raw/{alg}"), |b| {
            b.iter(|| raw.sign(black_box(&input)).expect("sign"))
        });
        let key = block_on(keys.signing_key(alg)).expect("active key");
        g.bench_function(format!("key_dir/{alg}"), |b| {
            b.iter(|| block_on(keys.sign(&key, black_box(&input))).expect("sign"))
        });
    }
    g.finish();
}

criterion_group!(sign, benches);
criterion_main!(sign);
