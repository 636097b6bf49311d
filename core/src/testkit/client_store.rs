//! The [`ClientRegistry`] contract as executable checks, for backends that persist clients.

use crate::Algorithm;
use crate::client::{AccessTokenFormat, Client, ClientRegistry, GrantType};
use crate::crypto::random_token;

/// Runs every check.
pub async fn run_all(store: &dyn ClientRegistry) {
    round_trip_keeps_every_setting(store).await;
    register_replaces_and_remove_removes(store).await;
    cors_origins_come_from_registered_clients(store).await;
    origin_index_follows_register_update_and_remove(store).await;
    dynamic_registration_state_round_trips(store).await;
    unused_registrations_are_listed_by_issue_time_until_kept(store).await;
    purge_deletes_unused_anonymous_clients_and_keeps_used_ones(store).await;
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

fn fresh_origin() -> String {
    format!(
        "https://{}.example",
        random_token().to_ascii_lowercase().replace(['-', '_'], "")
    )
}

/// The origin index changes with the client: an update that drops an origin drops it from
/// the index, one that adds an origin adds it, and an origin two clients allow stays
/// allowed until both are gone.
pub async fn origin_index_follows_register_update_and_remove(store: &dyn ClientRegistry) {
    let (o1, o2, o3) = (fresh_origin(), fresh_origin(), fresh_origin());
    let allowed = |o: String| async move { store.origin_allowed(&o).await.expect("origin") };
    let with_origins = |id: &str, origins: &[&String]| {
        let mut b = Client::public(id.to_owned()).redirect_uri(format!("{o1}/cb"));
        for o in origins {
            b = b.allowed_origin((*o).clone());
        }
        b.build().expect("valid")
    };
    let a = format!("cors-a-{}", random_token());
    let b = format!("cors-b-{}", random_token());
    store
        .register(&with_origins(&a, &[&o1, &o2]))
        .await
        .expect("register");
    assert!(allowed(o1.clone()).await && allowed(o2.clone()).await);
    assert!(!allowed(o3.clone()).await);
    store
        .register(&with_origins(&a, &[&o2, &o3]))
        .await
        .expect("update");
    assert!(
        !allowed(o1.clone()).await,
        "an origin the update dropped is no longer allowed"
    );
    assert!(allowed(o2.clone()).await && allowed(o3.clone()).await);
    store
        .register(&with_origins(&b, &[&o3]))
        .await
        .expect("register");
    store.remove(&a).await.expect("remove");
    assert!(
        !allowed(o2.clone()).await,
        "the removed client's origin is gone"
    );
    assert!(
        allowed(o3.clone()).await,
        "an origin another client allows stays allowed"
    );
    store
        .register(&with_origins(&b, &[]))
        .await
        .expect("update");
    assert!(!allowed(o3.clone()).await);
    store.remove(&b).await.expect("remove");
    assert!(
        !allowed(format!("{o3}/")).await && !allowed(o3.to_uppercase()).await,
        "exact string equality"
    );
}

/// Far in the past, so that no other check's clients (issued at the real time) interfere.
const OLD: i64 = 1_000_000_000;

/// A dynamically registered client issued at `issued_at`, anonymous or not.
fn dynamic_client(id: &str, issued_at: i64, anonymous: bool) -> Client {
    let metadata = crate::ClientMetadata {
        redirect_uris: vec!["https://agent.example/cb".into()],
        token_endpoint_auth_method: Some("none".into()),
        ..Default::default()
    }
    .normalized("openid");
    let mut reg = metadata
        .to_registration(id, None, &["openid".to_owned()])
        .expect("valid metadata");
    reg.dynamic = Some(crate::registration::DynamicRegistration {
        metadata,
        issued_at,
        registration_token_sha256: crate::crypto::sha256_b64(b"rat"),
        anonymous,
    });
    reg.into_client().expect("valid client")
}

fn at(unix: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(unix).expect("time")
}

/// `unused_registrations` lists anonymous registrations issued at or before a time, oldest
/// first, at most `limit`; never one registered with an initial access token or a client
/// configured by the host; `keep_registration` takes one off the list and registering it
/// again puts it back.
pub async fn unused_registrations_are_listed_by_issue_time_until_kept(store: &dyn ClientRegistry) {
    let tag = random_token();
    let (a1, a2) = (format!("anon1-{tag}"), format!("anon2-{tag}"));
    let (named, host) = (format!("named-{tag}"), format!("host-{tag}"));
    let first = dynamic_client(&a1, OLD, true);
    store.register(&first).await.expect("register");
    store
        .register(&dynamic_client(&a2, OLD + 10, true))
        .await
        .expect("register");
    store
        .register(&dynamic_client(&named, OLD, false))
        .await
        .expect("register");
    store
        .register(
            &Client::public(host.clone())
                .redirect_uri("https://host.example/cb")
                .build()
                .expect("valid"),
        )
        .await
        .expect("register");
    let mine = |ids: Vec<String>| -> Vec<String> {
        ids.into_iter().filter(|i| i.ends_with(&tag)).collect()
    };
    let list = |until: i64, limit: usize| async move {
        store
            .unused_registrations(at(until), limit)
            .await
            .expect("unused registrations")
    };
    assert_eq!(mine(list(OLD - 1, 100).await), Vec::<String>::new());
    assert_eq!(
        mine(list(OLD + 9, 100).await),
        vec![a1.clone()],
        "issued at or before the time only"
    );
    assert_eq!(
        mine(list(OLD + 10, 100).await),
        vec![a1.clone(), a2.clone()],
        "anonymous registrations only, oldest first"
    );
    assert_eq!(list(OLD + 10, 1).await.len(), 1, "at most limit");
    store.keep_registration(&a1).await.expect("keep");
    store
        .keep_registration(&format!("unknown-{tag}"))
        .await
        .expect("keeping an unknown client is not an error");
    assert_eq!(mine(list(OLD + 10, 100).await), vec![a2.clone()], "kept");
    assert!(
        store.find(&a1).await.expect("find").is_some(),
        "a kept client is still there"
    );
    store.register(&first).await.expect("register again");
    assert_eq!(
        mine(list(OLD + 10, 100).await),
        vec![a1.clone(), a2.clone()],
        "registering again lists it again"
    );
    store.remove(&a1).await.expect("remove");
    assert_eq!(mine(list(OLD + 10, 100).await), vec![a2.clone()], "removed");
    for id in [&a2, &named, &host] {
        store.remove(id).await.expect("remove");
    }
    assert_eq!(mine(list(OLD + 10, 100).await), Vec::<String>::new());
}

/// The provider's purge ([`Provider::purge_unused_clients`](crate::Provider::purge_unused_clients))
/// on this registry, in batches smaller than the number of candidates: anonymous clients
/// past their unused lifetime that never completed a token request are deleted; used ones
/// are kept and no longer listed; young ones, ones registered with an initial access token
/// and host clients stay.
pub async fn purge_deletes_unused_anonymous_clients_and_keeps_used_ones(
    store: &dyn ClientRegistry,
) {
    let grants = crate::MemoryGrantStore::new();
    let tag = random_token();
    let ttl = time::Duration::hours(1);
    let now = at(OLD + 7_200);
    let unused: Vec<String> = (0..5).map(|i| format!("unused{i}-{tag}")).collect();
    let (used, young, named) = (
        format!("used-{tag}"),
        format!("young-{tag}"),
        format!("named-{tag}"),
    );
    for id in &unused {
        store
            .register(&dynamic_client(id, OLD, true))
            .await
            .expect("register");
    }
    store
        .register(&dynamic_client(&used, OLD, true))
        .await
        .expect("register");
    crate::registration::mark_used(&grants, &used, now)
        .await
        .expect("mark used");
    store
        .register(&dynamic_client(&young, OLD + 7_200 - 60, true))
        .await
        .expect("register");
    store
        .register(&dynamic_client(&named, OLD, false))
        .await
        .expect("register");
    let deleted = crate::registration::purge_unused(store, &grants, ttl, now, 2)
        .await
        .expect("purge");
    assert!(deleted >= 5, "every unused client purged ({deleted})");
    for id in &unused {
        assert!(store.find(id).await.expect("find").is_none(), "{id} purged");
    }
    for id in [&used, &young, &named] {
        assert!(store.find(id).await.expect("find").is_some(), "{id} kept");
    }
    let listed = store
        .unused_registrations(now, 1_000)
        .await
        .expect("unused registrations");
    assert!(
        !listed.contains(&used),
        "a used client is kept off the list"
    );
    assert!(
        listed.contains(&young),
        "a young client is still a candidate"
    );
    assert_eq!(
        crate::registration::purge_unused(store, &grants, ttl, now, 2)
            .await
            .expect("purge again"),
        0
    );
    for id in [&used, &young, &named] {
        store.remove(id).await.expect("remove");
    }
}
