//! KMS `Sign` latency through the provider against `moto_server` on loopback, for
//! information (a real KMS adds network distance). Bounded: 200 signatures per algorithm.
//!
//! Usage: `cargo bench -p idpkit-keys-kms --bench kms_sign` (needs `moto_server`, from
//! `pip install 'moto[server]'`, or `IDPKIT_TEST_KMS_ENDPOINT`).
#![allow(missing_docs)]

use idpkit_test_support::moto;

use std::time::Instant;

use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use idpkit_core::SigningKey;
use idpkit_core::{Algorithm, KeyProvider};
use idpkit_keys_kms::{KmsKey, KmsKeys};

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let Some(moto) = moto::moto().await else {
            return;
        };
        let client = aws_sdk_kms::Client::from_conf(
            aws_sdk_kms::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .endpoint_url(&moto.endpoint)
                .credentials_provider(Credentials::new("test", "test", None, None, "bench"))
                .build(),
        );
        println!(
            "\n| alg | KMS sign p50 | KMS sign p99 | raw local sign (same alg) |\n|---|---|---|---|"
        );
        for (spec, alg) in [
            (KeySpec::Rsa2048, Algorithm::RS256),
            (KeySpec::EccNistP256, Algorithm::ES256),
        ] {
            let id = client
                .create_key()
                .key_usage(KeyUsageType::SignVerify)
                .key_spec(spec)
                .send()
                .await
                .expect("create key")
                .key_metadata()
                .expect("metadata")
                .key_id()
                .to_owned();
            let keys = KmsKeys::load(client.clone(), &[KmsKey::active(id)])
                .await
                .expect("load");
            let key = keys.signing_key(alg).await.expect("key");
            let input = vec![b'a'; 420];
            let mut lat = Vec::new();
            for _ in 0..200 {
                let t = Instant::now();
                keys.sign(&key, &input).await.expect("sign");
                lat.push(t.elapsed());
            }
            lat.sort();
            let (local, _) = SigningKey::generate(alg).expect("local key");
            let t = Instant::now();
            for _ in 0..200 {
                local.sign(&input).expect("sign");
            }
            let raw = t.elapsed() / 200;
            println!(
                "| {alg} | {:.2} ms | {:.2} ms | {:.3} ms |",
                lat[100].as_secs_f64() * 1e3,
                lat[198].as_secs_f64() * 1e3,
                raw.as_secs_f64() * 1e3
            );
        }
    });
}
