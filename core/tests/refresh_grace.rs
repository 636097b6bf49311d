//! Refresh-token rotation, reuse detection and the optional reuse grace window, driven
//! in-process with the memory store and a manual clock. Tokens come from the password
//! grant of a client that opted into it.

use std::sync::Arc;

use idpkit_core::testkit::flows::token_request;
use idpkit_core::testkit::users::TestUsers;
use idpkit_core::time::Duration;
use idpkit_core::{
    Algorithm, Client, GrantType, LocalKeys, ManualClock, MemoryGrantStore, Provider, Request,
    StaticClients,
};

fn provider(grace: Option<Duration>) -> (Provider, Arc<ManualClock>) {
    let client = Client::confidential("legacy", "legacy-secret")
        .grant_types([GrantType::RefreshToken])
        .dangerous_allow_password_grant()
        .scopes(["openid", "offline_access"])
        .build()
        .expect("client");
    let clock = Arc::new(ManualClock::starting_now());
    let mut b = Provider::builder("https://idp.example")
        .grant_store(MemoryGrantStore::new())
        .keys(LocalKeys::ephemeral_for_development().expect("keys"))
        .clients(StaticClients::new([client]).expect("clients"))
        .users(TestUsers::one("u1", "user", "pw"))
        .clock(clock.clone())
        // ES256: the ephemeral keys of the ring backend cannot include RSA.
        .signing_alg(Algorithm::ES256)
        .dangerous_allow_development_backends();
    if let Some(g) = grace {
        b = b.refresh_reuse_grace(g);
    }
    (b.build().expect("provider"), clock)
}

fn post(pairs: &[(&str, &str)]) -> Request {
    token_request(pairs, "legacy", Some("legacy-secret"))
}

async fn password_tokens(p: &Provider) -> serde_json::Value {
    let r = p
        .token(&post(&[
            ("grant_type", "password"),
            ("username", "user"),
            ("password", "pw"),
            ("scope", "openid offline_access"),
        ]))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.json_value());
    r.json_value()
}

async fn refresh(p: &Provider, rt: &str) -> (u16, serde_json::Value) {
    let r = p
        .token(&post(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
        ]))
        .await;
    (r.status, r.json_value())
}

#[tokio::test]
async fn password_grant_checks_the_password() {
    let (p, _) = provider(None);
    let r = p
        .token(&post(&[
            ("grant_type", "password"),
            ("username", "user"),
            ("password", "wrong"),
        ]))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json_value()["error"], "invalid_grant");
}

#[tokio::test]
async fn without_grace_any_replay_revokes_the_family() {
    let (p, _) = provider(None);
    let t = password_tokens(&p).await;
    let r1 = t["refresh_token"].as_str().expect("rt").to_owned();
    let (s, t2) = refresh(&p, &r1).await;
    assert_eq!(s, 200);
    let (s, b) = refresh(&p, &r1).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")));
    let (s, _) = refresh(&p, t2["refresh_token"].as_str().expect("rt")).await;
    assert_eq!(s, 400, "the family is revoked");
}

#[tokio::test]
async fn one_retry_inside_the_grace_window_replaces_the_successor() {
    let (p, clock) = provider(Some(Duration::seconds(10)));
    let t = password_tokens(&p).await;
    let r1 = t["refresh_token"].as_str().expect("rt").to_owned();
    let (s, lost) = refresh(&p, &r1).await;
    assert_eq!(s, 200);
    clock.advance(Duration::seconds(3));
    // The client never saw `lost` and retries with r1: allowed once.
    let (s, retry) = refresh(&p, &r1).await;
    assert_eq!(s, 200, "{retry}");
    let lost_rt = lost["refresh_token"].as_str().expect("rt");
    let (s, _) = refresh(&p, lost_rt).await;
    assert_eq!(
        s, 400,
        "the successor of the first rotation is revoked by the retry"
    );
    // A second replay is theft: the family goes, including the retry's token.
    let (s, _) = refresh(&p, &r1).await;
    assert_eq!(s, 400);
    let (s, _) = refresh(&p, retry["refresh_token"].as_str().expect("rt")).await;
    assert_eq!(s, 400, "reuse after the one retry revokes the family");
}

#[tokio::test]
async fn replay_after_the_grace_window_revokes_the_family() {
    let (p, clock) = provider(Some(Duration::seconds(10)));
    let t = password_tokens(&p).await;
    let r1 = t["refresh_token"].as_str().expect("rt").to_owned();
    let (_, t2) = refresh(&p, &r1).await;
    clock.advance(Duration::seconds(11));
    let (s, _) = refresh(&p, &r1).await;
    assert_eq!(s, 400);
    let (s, _) = refresh(&p, t2["refresh_token"].as_str().expect("rt")).await;
    assert_eq!(s, 400, "family revoked");
}

#[tokio::test]
async fn builder_refuses_unsafe_configurations_by_name() {
    let mk = |issuer: &str| {
        Provider::builder(issuer)
            .grant_store(MemoryGrantStore::new())
            .keys(LocalKeys::ephemeral_for_development().expect("keys"))
            .clients(StaticClients::default())
            .users(TestUsers::one("u1", "user", "pw"))
            .signing_alg(Algorithm::ES256)
    };
    let e = mk("http://idp.example")
        .dangerous_allow_development_backends()
        .build()
        .unwrap_err();
    assert!(
        e.to_string().contains("http is only allowed on loopback"),
        "{e}"
    );
    let e = mk("https://idp.example/?x=1")
        .dangerous_allow_development_backends()
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("query"), "{e}");
    let e = mk("https://idp.example").build().unwrap_err();
    assert!(
        e.to_string()
            .contains("dangerous_allow_development_backends"),
        "{e}"
    );
    let e = mk("https://idp.example")
        .dangerous_allow_development_backends()
        .code_ttl(Duration::minutes(11))
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("code_ttl"), "{e}");
    assert!(
        mk("http://127.0.0.1:8080")
            .dangerous_allow_development_backends()
            .build()
            .is_ok()
    );
}
