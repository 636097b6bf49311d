//! The [`ClientRegistry`] contract as executable checks, for backends that persist clients.

use crate::Algorithm;
use crate::client::{AccessTokenFormat, Client, ClientRegistry, GrantType};
use crate::crypto::random_token;

/// Runs every check.
pub async fn run_all(store: &dyn ClientRegistry) {
    round_trip_keeps_every_setting(store).await;
    register_replaces_and_remove_removes(store).await;
    cors_origins_come_from_registered_clients(store).await;
    dynamic_registration_state_round_trips(store).await;
}

/// A dynamically registered client (RFC 7591) comes back with its registration state: the
/// metadata as registered and the registration access token's hash (RFC 7592), so every
/// instance sharing the store can serve its configuration endpoint.
pub async fn dynamic_registration_state_round_trips(store: &dyn ClientRegistry) {
    let id = format!("dyn-{}", random_token());
    let metadata = crate::ClientMetadata {
        redirect_uris: vec!["https://rp.example/cb".into()],
        client_name: Some("Agent".into()),
        ..Default::default()
    }
    .normalized("openid");
    let mut reg = metadata
        .to_registration(&id, Some("s3cret-value"), &["openid".to_owned()])
        .expect("valid metadata");
    let dynamic = crate::registration::DynamicRegistration {
        metadata,
        issued_at: 1_700_000_000,
        registration_token_sha256: crate::crypto::sha256_b64(b"rat"),
        anonymous: true,
    };
    reg.dynamic = Some(dynamic.clone());
    let client = reg.into_client().expect("valid client");
    store.register(&client).await.expect("register");
    let found = store.find(&id).await.expect("find").expect("found");
    assert_eq!(found.dynamic.as_deref(), Some(&dynamic));
    assert!(
        found
            .dynamic
            .as_ref()
            .is_some_and(|d| d.token_matches("rat"))
    );
    assert!(
        found
            .secret
            .as_ref()
            .is_some_and(|h| h.verify("s3cret-value"))
    );
    store.remove(&id).await.expect("remove");
}

/// What is registered comes back the same, secret verifiable, never in clear.
pub async fn round_trip_keeps_every_setting(store: &dyn ClientRegistry) {
    let id = format!("conf-{}", random_token());
    let client = Client::confidential(id.clone(), "s3cret-value")
        .redirect_uri("https://app.example/cb")
        .redirect_uri("http://127.0.0.1/native")
        .grant_types([
            GrantType::AuthorizationCode,
            GrantType::RefreshToken,
            GrantType::ClientCredentials,
        ])
        .scopes(["openid", "api:read"])
        .audience(["api"])
        .first_party(true)
        .require_pkce(true)
        .access_token_format(AccessTokenFormat::Opaque)
        .signing_alg(Algorithm::ES256)
        .access_token_ttl(time::Duration::minutes(5))
        .refresh_token_ttl(time::Duration::days(3))
        .native(true)
        .build()
        .expect("valid client");
    store.register(&client).await.expect("register");
    let found = store
        .find(&id)
        .await
        .expect("find")
        .expect("registered client is found");
    assert_eq!(
        found.to_registration(),
        client.to_registration(),
        "every setting survives storage"
    );
    assert!(
        found
            .secret
            .as_ref()
            .is_some_and(|h| h.verify("s3cret-value")),
        "the secret still verifies"
    );
    assert!(
        found
            .secret
            .as_ref()
            .is_some_and(|h| !h.verify("s3cret-valuE"))
    );
    assert!(
        store
            .find(&format!("{id}-other"))
            .await
            .expect("find")
            .is_none(),
        "unknown id is None"
    );
    let public_id = format!("pub-{}", random_token());
    let public = Client::public(public_id.clone())
        .redirect_uri("https://spa.example/cb")
        .build()
        .expect("valid");
    store.register(&public).await.expect("register");
    let found = store.find(&public_id).await.expect("find").expect("found");
    assert!(found.secret.is_none() && found.require_pkce);
}

/// `register` replaces a client with the same id; `remove` removes it.
pub async fn register_replaces_and_remove_removes(store: &dyn ClientRegistry) {
    let id = format!("repl-{}", random_token());
    let v1 = Client::confidential(id.clone(), "one")
        .redirect_uri("https://a.example/cb")
        .build()
        .expect("valid");
    let v2 = Client::confidential(id.clone(), "two")
        .redirect_uri("https://b.example/cb")
        .build()
        .expect("valid");
    store.register(&v1).await.expect("register");
    store.register(&v2).await.expect("replace");
    let found = store.find(&id).await.expect("find").expect("found");
    assert_eq!(found.redirect_uris, vec!["https://b.example/cb".to_owned()]);
    assert!(
        found.secret.as_ref().is_some_and(|h| h.verify("two")),
        "the new secret replaced the old"
    );
    assert!(
        store.remove(&id).await.expect("remove"),
        "remove reports an existing client"
    );
    assert!(store.find(&id).await.expect("find").is_none());
    assert!(
        !store.remove(&id).await.expect("remove again"),
        "removing twice is not an error"
    );
}

/// `origin_allowed` answers from the registered clients' origins.
pub async fn cors_origins_come_from_registered_clients(store: &dyn ClientRegistry) {
    let id = format!("cors-{}", random_token());
    let origin = format!(
        "https://{}.example",
        random_token().to_ascii_lowercase().replace(['-', '_'], "")
    );
    assert!(!store.origin_allowed(&origin).await.expect("origin"));
    let c = Client::public(id.clone())
        .redirect_uri(format!("{origin}/cb"))
        .allowed_origin(origin.clone())
        .build()
        .expect("valid");
    store.register(&c).await.expect("register");
    assert!(store.origin_allowed(&origin).await.expect("origin"));
    store.remove(&id).await.expect("remove");
    assert!(
        !store.origin_allowed(&origin).await.expect("origin"),
        "a removed client's origin is gone"
    );
}
