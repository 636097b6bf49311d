//! Brute-force and flood limits (#12 items 1 and 5): client authentication failures,
//! interactions started before anyone logs in, and the login guard, counted in the grant
//! store so that instances sharing it share the limits. Each test fails without its rule.

mod support;

use std::net::IpAddr;
use std::sync::Arc;

use idpkit_core::testkit::flows::token_request;
use idpkit_core::testkit::users::TestUsers;
use idpkit_core::time::Duration;
use idpkit_core::{
    Authorization, Client, GrantType, Limit, ManualClock, MemoryGrantStore, Method, Provider,
    RateLimits, StaticClients,
};
use support::*;

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().expect("ip"))
}

/// Two providers ("instances") on one store and one clock, with `limits`.
fn two_instances(
    limits: RateLimits,
) -> (Provider, Provider, Arc<MemoryGrantStore>, Arc<ManualClock>) {
    let a = env_with(|b| b.rate_limits(limits));
    let b = env_with(|b| {
        b.rate_limits(limits)
            .grant_store_arc(a.store.clone())
            .clock(a.clock.clone())
    });
    (a.provider, b.provider, a.store, a.clock)
}

fn client_credentials(secret: &str, source: Option<IpAddr>) -> idpkit_core::Request {
    token_request(
        &[("grant_type", "client_credentials")],
        DEMO_CLIENT,
        Some(secret),
    )
    .with_source(source)
}

#[tokio::test]
async fn failed_client_authentications_are_limited_per_client_and_source_across_instances() {
    // RFC 6749 §2.3.1: the server MUST protect client-secret checks against brute force.
    let mut limits = RateLimits::default();
    limits.client_auth_failures = Limit::new(3, Duration::minutes(1));
    let (a, b, _, clock) = two_instances(limits);
    let attacker = ip("203.0.113.9");
    for (i, p) in [&a, &b, &a].iter().enumerate() {
        let r = p.token(&client_credentials("guess", attacker)).await;
        assert_eq!(r.status, 401, "failure {i} is a plain invalid_client");
    }
    // The fourth try from that source, at the other instance, with the RIGHT secret: the
    // secret is not even checked.
    let r = b.token(&client_credentials(DEMO_SECRET, attacker)).await;
    assert_eq!(
        r.status, 429,
        "past the limit the client is not authenticated"
    );
    let retry: u64 = r
        .header_value("retry-after")
        .expect("Retry-After (RFC 6585 §4)")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    let body: serde_json::Value = match &r.body {
        idpkit_core::Body::Json(b) => serde_json::from_slice(b).expect("json"),
        other => panic!("{other:?}"),
    };
    assert_eq!(body["error"], "temporarily_unavailable");
    // Another source is not affected, nor are introspection and revocation of others.
    let r = a
        .token(&client_credentials(DEMO_SECRET, ip("198.51.100.1")))
        .await;
    assert_eq!(r.status, 200, "the client itself is not locked out");
    // The window ends: the source may try again.
    clock.advance(Duration::seconds(61));
    let r = b.token(&client_credentials(DEMO_SECRET, attacker)).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn revocation_and_introspection_share_the_client_authentication_limit() {
    let mut limits = RateLimits::default();
    limits.client_auth_failures = Limit::new(2, Duration::minutes(1));
    let e = env_with(|b| b.rate_limits(limits));
    let src = ip("203.0.113.10");
    let mut revoke = token_request(&[("token", "x")], DEMO_CLIENT, Some("guess")).with_source(src);
    revoke.method = Method::Post;
    assert_eq!(e.provider.revoke(&revoke).await.status, 401);
    assert_eq!(e.provider.introspect(&revoke).await.status, 401);
    let ok = token_request(&[("token", "x")], DEMO_CLIENT, Some(DEMO_SECRET)).with_source(src);
    assert_eq!(e.provider.introspect(&ok).await.status, 429);
    assert_eq!(e.provider.revoke(&ok).await.status, 429);
}

#[tokio::test]
async fn unknown_and_public_clients_cost_no_counter() {
    let e = env();
    let before = e.store.len();
    for n in 0..50 {
        let id = format!("nobody-{n}");
        let r = e
            .provider
            .token(&token_request(
                &[("grant_type", "client_credentials")],
                &id,
                Some("x"),
            ))
            .await;
        assert_eq!(r.status, 401);
    }
    assert_eq!(
        e.store.len(),
        before,
        "unknown clients leave nothing in the store"
    );
}

#[tokio::test]
async fn interactions_are_bounded_per_source_per_client_and_in_total() {
    // #12 item 1: each authorization request that needs a login stores an interaction
    // before anyone has logged in; their number must be bounded.
    let mut limits = RateLimits::default();
    limits.interactions_per_source = Limit::new(5, Duration::minutes(10));
    limits.interactions_per_client = Limit::new(8, Duration::minutes(10));
    limits.interactions_total = Limit::new(10, Duration::minutes(10));
    let e = env_with(|b| b.rate_limits(limits));
    let params = authz(DEMO_PUBLIC, "openid", &[("redirect_uri", REDIRECT)]);
    let start = |source: &str| {
        let mut req = Browser::new().request(Method::Get, &params);
        req.source = ip(source);
        let p = &e.provider;
        async move { p.authorize(&req).await }
    };
    for _ in 0..5 {
        assert!(matches!(
            start("203.0.113.1").await,
            Authorization::Interaction(_)
        ));
    }
    let refused = match start("203.0.113.1").await {
        Authorization::Respond(r) => r,
        Authorization::Interaction(_) => panic!("a sixth interaction from one source"),
    };
    assert_eq!(
        refused.status, 429,
        "an error page, not a redirect to the client"
    );
    assert!(refused.header_value("location").is_none());
    assert!(refused.header_value("retry-after").is_some());
    // Other sources go on, up to the per-client bound (8).
    for _ in 0..3 {
        assert!(matches!(
            start("198.51.100.2").await,
            Authorization::Interaction(_)
        ));
    }
    assert!(
        matches!(start("198.51.100.3").await, Authorization::Respond(ref r) if r.status == 429),
        "the client's bound"
    );
    // Another client, up to the total (10).
    let other = authz(DEMO_CLIENT, "openid", &[("redirect_uri", REDIRECT)]);
    let mut req = Browser::new().request(Method::Get, &other);
    req.source = ip("192.0.2.50");
    // Refused requests used up nothing beyond their own count: 8 of 10 are taken.
    for _ in 0..2 {
        assert!(matches!(
            e.provider.authorize(&req).await,
            Authorization::Interaction(_)
        ));
    }
    assert!(
        matches!(e.provider.authorize(&req).await, Authorization::Respond(ref r) if r.status == 429),
        "the total bound"
    );
    // The window passes: interactions may be started again.
    e.clock.advance(Duration::minutes(11));
    assert!(matches!(
        start("203.0.113.1").await,
        Authorization::Interaction(_)
    ));
}

#[tokio::test]
async fn a_flood_of_authorization_requests_leaves_the_store_bounded() {
    // 2,000 login pages from one source with the default limits: at most 200 are stored.
    let e = env();
    let params = authz(
        DEMO_PUBLIC,
        "openid",
        &[("redirect_uri", REDIRECT), ("state", "s")],
    );
    let mut refused = 0;
    for _ in 0..2_000 {
        let mut req = Browser::new().request(Method::Get, &params);
        req.source = ip("203.0.113.77");
        if let Authorization::Respond(r) = e.provider.authorize(&req).await {
            assert_eq!(r.status, 429);
            refused += 1;
        }
    }
    assert_eq!(refused, 2_000 - 200);
    assert!(
        e.store.len() <= 200 + 10,
        "{} records for 2,000 requests from one source",
        e.store.len()
    );
}

#[tokio::test]
async fn the_login_guard_backs_off_exponentially_and_forgets() {
    let e = env();
    let g = || e.provider.login_guard();
    let src = ip("203.0.113.5");
    for i in 0..5 {
        g().check("alice", src)
            .await
            .unwrap_or_else(|e| panic!("free attempt {i}: {e}"));
        g().failed("alice", src).await.expect("count");
    }
    // Five free failures; now 1 s, then 2 s, 4 s ...
    let wait = g().check("alice", src).await.expect_err("backing off");
    assert_eq!(wait.status(), 429);
    assert_eq!(wait.retry_after, Some(1));
    assert!(
        g().check("ALICE ", ip("198.51.100.8")).await.is_err(),
        "the account is counted whatever the source and the case"
    );
    e.clock.advance(Duration::seconds(1));
    g().check("alice", src)
        .await
        .expect("one attempt after the wait");
    assert!(
        g().check("alice", src).await.is_err(),
        "one attempt per back-off step, however many are sent at once"
    );
    g().failed("alice", src).await.expect("count");
    e.clock.advance(Duration::seconds(1));
    let wait = g().check("alice", src).await.expect_err("now 2 s");
    assert_eq!(wait.retry_after, Some(1));
    e.clock.advance(Duration::seconds(1));
    g().check("alice", src).await.expect("after 2 s");
    // A success forgets the account's failures.
    g().succeeded("alice").await.expect("reset");
    g().check("alice", src).await.expect("fresh");
    // Never permanent: an hour after the last failure, all is forgotten.
    for _ in 0..30 {
        g().failed("bob", src).await.expect("count");
    }
    assert!(g().check("bob", None).await.is_err());
    e.clock.advance(Duration::minutes(61));
    g().check("bob", None).await.expect("forgotten");
}

#[tokio::test]
async fn the_login_guard_counts_per_source_across_accounts_and_instances() {
    let (a, b, _, _) = two_instances(RateLimits::default());
    let src = ip("2001:db8:7:7::1");
    for n in 0..20 {
        let p = if n % 2 == 0 { &a } else { &b };
        let account = format!("user{n}");
        p.login_guard().check(&account, src).await.expect("free");
        p.login_guard().failed(&account, src).await.expect("count");
    }
    // Twenty accounts tried from one /64: the next attempt from it waits, on either instance.
    let other_host_same_64 = ip("2001:db8:7:7::ffff");
    assert!(
        a.login_guard()
            .check("user99", other_host_same_64)
            .await
            .is_err()
    );
    assert!(b.login_guard().check("user99", src).await.is_err());
    assert!(
        b.login_guard()
            .check("user99", ip("192.0.2.1"))
            .await
            .is_ok(),
        "another source is not affected"
    );
}

#[tokio::test]
async fn the_password_grant_is_guarded() {
    // RFC 6749 §4.3.2: "MUST protect the endpoint against brute force attacks".
    let client = Client::confidential("legacy", "legacy-secret")
        .grant_types([GrantType::ClientCredentials])
        .dangerous_allow_password_grant()
        .scopes(["openid"])
        .build()
        .expect("client");
    let e = env_with(|b| {
        b.clients(StaticClients::new([client]).expect("clients"))
            .users(TestUsers::demo())
    });
    let grant = |pw: &str| {
        token_request(
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", pw),
                ("scope", "openid"),
            ],
            "legacy",
            Some("legacy-secret"),
        )
        .with_source(ip("203.0.113.60"))
    };
    for _ in 0..5 {
        assert_eq!(e.provider.token(&grant("nope")).await.status, 400);
    }
    let r = e.provider.token(&grant("wonderland")).await;
    assert_eq!(
        r.status, 429,
        "the right password waits for the back-off too"
    );
    assert!(r.header_value("retry-after").is_some());
    e.clock.advance(Duration::seconds(1));
    assert_eq!(e.provider.token(&grant("wonderland")).await.status, 200);
}
