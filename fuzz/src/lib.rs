//! Fixtures shared by the fuzz targets: fixed keys, a fixed clock, the demo clients and a
//! provider on the memory store. Public API of `idpkit-core` only.

use std::sync::{Arc, OnceLock};

use idpkit_core::crypto::der;
use idpkit_core::time::OffsetDateTime;
use idpkit_core::{
    Algorithm, Client, GrantType, KeyProvider, KeyState, LocalKeys, ManualClock, MemoryGrantStore,
    Provider, SigningKey, StaticClients,
};

/// The issuer of the provider and of the tokens the validator trusts.
pub const ISSUER: &str = "https://idp.example";
/// The audience the validator expects.
pub const AUDIENCE: &str = "api";
/// A fixed "now" (2027-01-15T08:00:00Z): the targets are deterministic.
pub const NOW: i64 = 1_800_000_000;
/// The redirect URI of the web clients.
pub const REDIRECT: &str = "http://127.0.0.1:9999/callback";
/// The redirect URI of the native client (any port, RFC 8252 §7.3).
pub const NATIVE_REDIRECT: &str = "http://127.0.0.1/callback";

/// The fixed clock.
pub fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        OffsetDateTime::from_unix_timestamp(NOW).expect("fixed time"),
    ))
}

/// An Ed25519 key from a fixed seed (signing is deterministic, RFC 8032).
pub fn ed_key(seed: u8, kid: &str) -> SigningKey {
    let mut k =
        SigningKey::from_pkcs8(Algorithm::EdDSA, &der::pkcs8_from_ed25519_seed(&[seed; 32]))
            .expect("Ed25519 from seed");
    k.set_kid(kid);
    k
}

/// A P-256 key from a fixed scalar.
pub fn ec_key(kid: &str) -> SigningKey {
    static PKCS8: OnceLock<Vec<u8>> = OnceLock::new();
    // A fixed P-256 private key, PKCS#8 (test only, used nowhere else).
    let pkcs8 = PKCS8.get_or_init(|| {
        base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            include_str!("test-only-p256.pkcs8.b64").trim(),
        )
        .expect("fixture base64")
    });
    let mut k = SigningKey::from_pkcs8(Algorithm::ES256, pkcs8).expect("P-256 fixture");
    k.set_kid(kid);
    k
}

/// The demo clients: confidential web, public web (PKCE), public native.
pub fn clients() -> Vec<Client> {
    let scopes = ["openid", "profile", "email", "offline_access", "api:read"];
    vec![
        Client::confidential("demo-client", "demo-secret")
            .redirect_uri(REDIRECT)
            .grant_types([GrantType::AuthorizationCode, GrantType::RefreshToken])
            .scopes(scopes)
            .first_party(true)
            .build()
            .expect("demo-client"),
        Client::public("demo-public")
            .redirect_uri(REDIRECT)
            .grant_types([GrantType::AuthorizationCode, GrantType::RefreshToken])
            .scopes(scopes)
            .build()
            .expect("demo-public"),
        Client::public("native-app")
            .redirect_uri(NATIVE_REDIRECT)
            .grant_types([GrantType::AuthorizationCode])
            .scopes(scopes)
            .native(true)
            .build()
            .expect("native-app"),
    ]
}

/// A fresh provider (its own memory store, so interactions do not pile up across runs)
/// sharing the fixed keys and clients.
pub fn provider() -> Provider {
    static KEYS: OnceLock<Arc<dyn KeyProvider>> = OnceLock::new();
    let keys = KEYS
        .get_or_init(|| {
            Arc::new(LocalKeys::new(vec![(ec_key("ec-1"), KeyState::Active)]).expect("keys"))
        })
        .clone();
    Provider::builder(ISSUER)
        .grant_store_arc(Arc::new(MemoryGrantStore::new()))
        .keys_arc(keys)
        .clients(StaticClients::new(clients()).expect("clients"))
        .users(idpkit_core::testkit::users::TestUsers::demo())
        .clock(clock())
        .signing_alg(Algorithm::ES256)
        .dangerous_allow_development_backends()
        .build()
        .expect("provider")
}
