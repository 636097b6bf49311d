//! The key-provider conformance kit against a key directory.

use idpkit_core::Algorithm;
use idpkit_keys_file::KeyDir;

#[tokio::test]
async fn a_key_directory_passes_the_key_provider_kit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = KeyDir::open_or_create(dir.path(), &[Algorithm::ES256, Algorithm::EdDSA])
        .expect("key directory");
    idpkit_core::testkit::key_provider::run_all(&keys).await;
}
