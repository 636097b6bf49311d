//! The device authorization grant (RFC 8628) in process: the device authorization
//! endpoint, the host's user-code page continuing into login and consent, and the device's
//! polls at the token endpoint, with every error of §3.5, across two instances sharing one
//! store, and the rate limits of §5.1.

mod support;

use std::sync::Arc;

use idpkit_core::testkit::flows::token_request;
use idpkit_core::time::Duration;
use idpkit_core::{
    Authorization, Client, GrantType, InteractionOutcome, Limit, Method, Needs, OAuthError,
    ProviderBuilder, RateLimits, Request, StaticClients,
};
use serde_json::Value;
use support::*;

const DEVICE: &str = "demo-device";
const FIRST_PARTY_DEVICE: &str = "first-party-device";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

fn device_clients() -> Vec<Client> {
    let mut all = clients();
    all.push(
        Client::public(DEVICE)
            .grant_types([GrantType::DeviceCode, GrantType::RefreshToken])
            .scopes(["openid", "profile", "offline_access", "api:read"])
            .build()
            .expect("demo-device"),
    );
    all.push(
        Client::public(FIRST_PARTY_DEVICE)
            .grant_types([GrantType::DeviceCode])
            .scopes(["openid", "api:read"])
            .first_party(true)
            .build()
            .expect("first-party-device"),
    );
    all
}

fn with_devices(b: ProviderBuilder) -> ProviderBuilder {
    b.clients(StaticClients::new(device_clients()).expect("clients"))
}

fn device_env() -> Env {
    env_with(with_devices)
}

/// A device authorization request of `client_id` (public) for `scope`.
async fn start(env: &Env, client_id: &str, scope: &str) -> (u16, Value) {
    let r = env
        .provider
        .device_authorization(&token_request(&[("scope", scope)], client_id, None))
        .await;
    (r.status, r.json_value())
}

/// A started device authorization: (device_code, user_code).
async fn started(env: &Env, scope: &str) -> (String, String) {
    let (status, body) = start(env, DEVICE, scope).await;
    assert_eq!(status, 200, "{body}");
    (
        body["device_code"]
            .as_str()
            .expect("device_code")
            .to_owned(),
        body["user_code"].as_str().expect("user_code").to_owned(),
    )
}

async fn poll(env: &Env, device_code: &str) -> (u16, Value) {
    env.token(
        DEVICE,
        &[("grant_type", DEVICE_GRANT), ("device_code", device_code)],
    )
    .await
}

/// The browser enters `user_code` at the host's page.
async fn enter(env: &Env, b: &mut Browser, user_code: &str) -> Result<Authorization, OAuthError> {
    let a = env
        .provider
        .verify_user_code(&b.request(Method::Post, &[]), user_code)
        .await?;
    b.absorb_outcome(&a);
    Ok(a)
}

/// Enters `user_code`, logs alice in and answers the consent step with `consent` (`None`:
/// deny). Returns the final redirect's `Location`.
async fn decide(env: &Env, b: &mut Browser, user_code: &str, approve: bool) -> String {
    let mut a = enter(env, b, user_code).await.expect("a valid code");
    loop {
        match a {
            Authorization::Respond(r) => return location(&r).to_owned(),
            Authorization::Interaction(p) => {
                let details = env
                    .provider
                    .interaction(&p.id, &b.request(Method::Get, &[]))
                    .await
                    .expect("details");
                assert!(details.device, "the page knows it is a device");
                assert_eq!(details.redirect_uri, "", "no redirect for a device");
                let outcome = match (p.needs, approve) {
                    (Needs::Login, _) => InteractionOutcome::Login {
                        subject: "alice".into(),
                    },
                    (Needs::Consent, true) => InteractionOutcome::Consent {
                        scopes: details.scopes,
                    },
                    (Needs::Consent, false) => InteractionOutcome::Deny,
                };
                a = env.finish(b, &p.id, outcome).await.expect("step");
            }
        }
    }
}

#[tokio::test]
async fn a_device_is_approved_in_a_browser_and_polls_its_tokens_rfc8628_3() {
    let env = device_env();
    let (status, body) = start(&env, DEVICE, "openid profile offline_access api:read").await;
    assert_eq!(status, 200, "{body}");
    let user_code = body["user_code"].as_str().expect("user_code");
    assert_eq!(user_code.len(), 9, "XXXX-XXXX");
    assert_eq!(body["verification_uri"], format!("{ISSUER}/device"));
    assert_eq!(
        body["verification_uri_complete"],
        format!("{ISSUER}/device?user_code={user_code}")
    );
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["interval"], 5);
    let device_code = body["device_code"].as_str().expect("device_code");

    let (status, pending) = poll(&env, device_code).await;
    assert_eq!(
        (status, error(&pending)),
        (400, "authorization_pending"),
        "{pending}"
    );

    let mut b = Browser::new();
    let done = decide(&env, &mut b, user_code, true).await;
    assert_eq!(done, "/device?result=approved");

    env.advance(Duration::seconds(5));
    let (status, tokens) = poll(&env, device_code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(tokens["refresh_token"].is_string(), "offline_access");
    let id_token = jwt_claims(tokens["id_token"].as_str().expect("id_token"));
    assert_eq!(id_token["sub"], "alice");
    assert_eq!(id_token["aud"], DEVICE);
    assert!(id_token["sid"].is_string(), "approved in a session");
    let access = tokens["access_token"].as_str().expect("access token");
    assert_eq!(env.userinfo(access).await.status, 200);

    // Single use: the code is spent, and presenting it again revokes what it gave.
    env.advance(Duration::seconds(5));
    let (status, again) = poll(&env, device_code).await;
    assert_eq!((status, error(&again)), (400, "invalid_grant"), "{again}");
    assert_eq!(
        env.userinfo(access).await.status,
        401,
        "the replay revoked the grant"
    );
    let (status, _) = env
        .refresh(DEVICE, tokens["refresh_token"].as_str().expect("rt"))
        .await;
    assert_eq!(status, 400, "and its refresh token");
}

#[tokio::test]
async fn the_user_code_is_case_insensitive_and_dashes_are_optional_rfc8628_6_1() {
    let env = device_env();
    let (_, user_code) = started(&env, "openid").await;
    let typed = user_code.replace('-', " ").to_lowercase();
    let mut b = Browser::new();
    let a = enter(&env, &mut b, &typed).await.expect("accepted");
    assert_eq!(pending(a).needs, Needs::Login);
}

#[tokio::test]
async fn polling_faster_than_the_interval_gets_slow_down_and_a_longer_interval_rfc8628_3_5() {
    let env = device_env();
    let (device_code, _) = started(&env, "openid").await;
    let (_, first) = poll(&env, &device_code).await;
    assert_eq!(error(&first), "authorization_pending");
    let (status, fast) = poll(&env, &device_code).await;
    assert_eq!((status, error(&fast)), (400, "slow_down"), "{fast}");
    // The interval is now 10 s: 5 s later is still too soon.
    env.advance(Duration::seconds(5));
    let (_, still) = poll(&env, &device_code).await;
    assert_eq!(error(&still), "slow_down", "interval grew by 5 s");
    // Each slow_down added 5 s: the interval is 15 s now.
    env.advance(Duration::seconds(15));
    let (_, paced) = poll(&env, &device_code).await;
    assert_eq!(error(&paced), "authorization_pending");
}

#[tokio::test]
async fn a_device_code_polled_after_expiry_gets_expired_token_rfc8628_3_5() {
    let env = device_env();
    let (device_code, user_code) = started(&env, "openid").await;
    env.advance(Duration::minutes(10));
    let (status, body) = poll(&env, &device_code).await;
    assert_eq!((status, error(&body)), (400, "expired_token"), "{body}");
    let e = enter(&env, &mut Browser::new(), &user_code)
        .await
        .expect_err("the user code expired with it");
    assert_eq!(e.code.as_str(), "invalid_request");
}

#[tokio::test]
async fn a_code_expiring_while_the_user_logs_in_is_not_approved_rfc8628_3_5() {
    let env = env_with(|b| with_devices(b).device_code_ttl(Duration::minutes(1)));
    let (device_code, user_code) = started(&env, "openid").await;
    let mut b = Browser::new();
    let p = pending(enter(&env, &mut b, &user_code).await.expect("valid"));
    let a = env
        .finish(
            &mut b,
            &p.id,
            InteractionOutcome::Login {
                subject: "alice".into(),
            },
        )
        .await
        .expect("login");
    let consent = pending_for(a, Needs::Consent);
    env.advance(Duration::minutes(1));
    let a = env
        .finish(
            &mut b,
            &consent.id,
            InteractionOutcome::Consent {
                scopes: vec!["openid".into()],
            },
        )
        .await
        .expect("the interaction outlives the device code");
    assert_eq!(location(&respond(a)), "/device?result=gone");
    let (_, body) = poll(&env, &device_code).await;
    assert_eq!(error(&body), "expired_token");
}

#[tokio::test]
async fn a_denied_device_gets_access_denied_rfc8628_3_5() {
    let env = device_env();
    let (device_code, user_code) = started(&env, "openid").await;
    let done = decide(&env, &mut Browser::new(), &user_code, false).await;
    assert_eq!(done, "/device?result=denied");
    let (status, body) = poll(&env, &device_code).await;
    assert_eq!((status, error(&body)), (400, "access_denied"), "{body}");
    env.advance(Duration::seconds(10));
    let (_, body) = poll(&env, &device_code).await;
    assert_eq!(error(&body), "access_denied", "and stays denied");
}

#[tokio::test]
async fn a_user_code_is_decided_once_even_from_two_browsers_rfc8628_5_4() {
    let env = device_env();
    let (device_code, user_code) = started(&env, "openid").await;
    // Two browsers reach the consent step for one code; the first decision wins.
    let mut first = Browser::new();
    let mut second = Browser::new();
    let mut consents = Vec::new();
    for b in [&mut first, &mut second] {
        let p = pending(enter(&env, b, &user_code).await.expect("valid"));
        let a = env
            .finish(
                b,
                &p.id,
                InteractionOutcome::Login {
                    subject: "alice".into(),
                },
            )
            .await
            .expect("login");
        consents.push(pending_for(a, Needs::Consent).id);
    }
    let approve = || InteractionOutcome::Consent {
        scopes: vec!["openid".into()],
    };
    let a = env.finish(&mut first, &consents[0], approve()).await;
    assert_eq!(
        location(&respond(a.expect("approved"))),
        "/device?result=approved"
    );
    let a = env.finish(&mut second, &consents[1], approve()).await;
    assert_eq!(
        location(&respond(a.expect("answered"))),
        "/device?result=gone"
    );
    // And the code cannot be entered again.
    assert!(enter(&env, &mut Browser::new(), &user_code).await.is_err());
    let (status, tokens) = poll(&env, &device_code).await;
    assert_eq!(status, 200, "{tokens}");
}

#[tokio::test]
async fn a_first_party_device_still_asks_the_user_to_approve_rfc8628_5_4() {
    let env = device_env();
    let (status, body) = start(&env, FIRST_PARTY_DEVICE, "openid").await;
    assert_eq!(status, 200, "{body}");
    let user_code = body["user_code"].as_str().expect("user_code");
    let mut b = Browser::new();
    let p = pending(enter(&env, &mut b, user_code).await.expect("valid"));
    let a = env
        .finish(
            &mut b,
            &p.id,
            InteractionOutcome::Login {
                subject: "alice".into(),
            },
        )
        .await
        .expect("login");
    pending_for(a, Needs::Consent);
    // With an SSO session, the next code goes straight to consent.
    let (_, body) = start(&env, FIRST_PARTY_DEVICE, "openid").await;
    let user_code = body["user_code"].as_str().expect("user_code");
    let a = enter(&env, &mut b, user_code).await.expect("valid");
    pending_for(a, Needs::Consent);
}

#[tokio::test]
async fn approved_at_one_instance_and_polled_at_the_other_rfc8628_3() {
    let store = Arc::new(idpkit_core::MemoryGrantStore::new());
    let clock = Arc::new(idpkit_core::ManualClock::starting_now());
    let instance = || {
        env_with(|b| {
            with_devices(b)
                .grant_store_arc(store.clone())
                .clock(clock.clone())
        })
    };
    let (a, b) = (instance(), instance());
    let (device_code, user_code) = started(&a, "openid offline_access").await;
    let (_, body) = poll(&b, &device_code).await;
    assert_eq!(error(&body), "authorization_pending", "B knows A's code");
    // Polls count across instances: A right after B is too soon.
    let (_, body) = poll(&a, &device_code).await;
    assert_eq!(error(&body), "slow_down", "the pace is shared");
    let done = decide(&b, &mut Browser::new(), &user_code, true).await;
    assert_eq!(done, "/device?result=approved");
    clock.advance(Duration::seconds(10));
    let (status, tokens) = poll(&a, &device_code).await;
    assert_eq!(status, 200, "{tokens}");
    clock.advance(Duration::seconds(15));
    let (_, again) = poll(&b, &device_code).await;
    assert_eq!(
        error(&again),
        "invalid_grant",
        "single use at every instance"
    );
}

#[tokio::test]
async fn a_device_code_is_bound_to_its_client_rfc8628_3_4() {
    let env = device_env();
    let (device_code, user_code) = started(&env, "openid").await;
    decide(&env, &mut Browser::new(), &user_code, true).await;
    let (status, body) = env
        .token(
            FIRST_PARTY_DEVICE,
            &[("grant_type", DEVICE_GRANT), ("device_code", &device_code)],
        )
        .await;
    assert_eq!((status, error(&body)), (400, "invalid_grant"), "{body}");
    let (status, _) = poll(&env, &device_code).await;
    assert_eq!(status, 200, "the foreign poll changed nothing");
}

#[tokio::test]
async fn unknown_device_codes_and_unregistered_clients_are_refused_rfc8628_3_1() {
    let env = device_env();
    let (status, body) = poll(&env, "not-a-device-code").await;
    assert_eq!((status, error(&body)), (400, "invalid_grant"));
    // demo-public is not registered for the device grant.
    let (status, body) = start(&env, DEMO_PUBLIC, "openid").await;
    assert_eq!(
        (status, error(&body)),
        (400, "unauthorized_client"),
        "{body}"
    );
    let (status, body) = env
        .token(
            DEMO_PUBLIC,
            &[("grant_type", DEVICE_GRANT), ("device_code", "x")],
        )
        .await;
    assert_eq!((status, error(&body)), (400, "unauthorized_client"));
    let (status, body) = start(&env, DEVICE, "openid admin").await;
    assert_eq!((status, error(&body)), (400, "invalid_scope"), "{body}");
    let (status, body) = start(&env, DEVICE, "").await;
    assert_eq!((status, error(&body)), (400, "invalid_scope"), "{body}");
    let (status, body) = start(&env, "nobody", "openid").await;
    assert_eq!((status, error(&body)), (401, "invalid_client"), "{body}");
    let mut get = token_request(&[("scope", "openid")], DEVICE, None);
    get.method = Method::Get;
    assert_eq!(env.provider.device_authorization(&get).await.status, 400);
}

fn from(ip: &str) -> Request {
    let mut r = Request::new(Method::Post);
    r.source = Some(ip.parse().expect("ip"));
    r
}

#[tokio::test]
async fn guessing_user_codes_is_rate_limited_per_source_rfc8628_5_1() {
    let env = env_with(|b| {
        let mut limits = RateLimits::default();
        limits.user_code_failures_per_source = Limit::new(3, Duration::minutes(10));
        with_devices(b)
            .rate_limits(limits)
            .device_code_ttl(Duration::minutes(30))
    });
    let (_, user_code) = started(&env, "openid").await;
    for _ in 0..3 {
        let e = env
            .provider
            .verify_user_code(&from("192.0.2.1"), "BBBB-BBBB")
            .await
            .expect_err("wrong");
        assert_eq!(e.code.as_str(), "invalid_request");
    }
    let e = env
        .provider
        .verify_user_code(&from("192.0.2.1"), &user_code)
        .await
        .expect_err("throttled, even for the right code");
    assert_eq!(e.status(), 429);
    assert!(e.retry_after.is_some());
    // Malformed input is not looked up and not counted; another source is not affected.
    assert!(
        env.provider
            .verify_user_code(&from("192.0.2.2"), &user_code)
            .await
            .is_ok()
    );
    env.advance(Duration::minutes(10));
    assert!(
        env.provider
            .verify_user_code(&from("192.0.2.1"), &user_code)
            .await
            .is_ok(),
        "the window ended"
    );
}

#[tokio::test]
async fn guessing_from_many_sources_hits_the_total_limit_rfc8628_5_1() {
    let env = env_with(|b| {
        let mut limits = RateLimits::default();
        limits.user_code_failures_total = Limit::new(5, Duration::minutes(10));
        with_devices(b).rate_limits(limits)
    });
    for i in 0..5 {
        let ip = format!("198.51.100.{i}");
        assert!(
            env.provider
                .verify_user_code(&from(&ip), "BBBB-BBBB")
                .await
                .is_err()
        );
    }
    let e = env
        .provider
        .verify_user_code(&from("203.0.113.9"), "BBBB-BBBB")
        .await
        .expect_err("throttled");
    assert_eq!(e.status(), 429);
}

#[tokio::test]
async fn malformed_user_codes_cost_no_lookup_and_do_not_count_rfc8628_5_1() {
    let env = env_with(|b| {
        let mut limits = RateLimits::default();
        limits.user_code_failures_per_source = Limit::new(1, Duration::minutes(10));
        with_devices(b).rate_limits(limits)
    });
    for bad in ["", "AAAA-AAAA", "12345678", &"B".repeat(500)] {
        let e = env
            .provider
            .verify_user_code(&from("192.0.2.1"), bad)
            .await
            .expect_err("malformed");
        assert_eq!(e.code.as_str(), "invalid_request");
    }
    let (_, user_code) = started(&env, "openid").await;
    assert!(
        env.provider
            .verify_user_code(&from("192.0.2.1"), &user_code)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn device_authorizations_are_bounded_per_source_rfc8628_5_2() {
    let env = env_with(|b| {
        let mut limits = RateLimits::default();
        limits.device_authorizations_per_source = Limit::new(2, Duration::minutes(10));
        with_devices(b).rate_limits(limits)
    });
    let request = |ip: &str| {
        let mut r = token_request(&[("scope", "openid")], DEVICE, None);
        r.source = Some(ip.parse().expect("ip"));
        r
    };
    for _ in 0..2 {
        assert_eq!(
            env.provider
                .device_authorization(&request("192.0.2.1"))
                .await
                .status,
            200
        );
    }
    let r = env
        .provider
        .device_authorization(&request("192.0.2.1"))
        .await;
    assert_eq!(r.status, 429);
    assert!(r.header_value("retry-after").is_some());
    assert_eq!(
        env.provider
            .device_authorization(&request("192.0.2.2"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn discovery_lists_the_endpoint_and_the_grant_rfc8628_4() {
    let env = device_env();
    let doc = env.provider.discovery().json_value();
    assert_eq!(
        doc["device_authorization_endpoint"],
        format!("{ISSUER}/device_authorization")
    );
    let grants = doc["grant_types_supported"].as_array().expect("list");
    assert!(grants.iter().any(|g| g == DEVICE_GRANT), "{grants:?}");
    assert_eq!(
        env.provider.route("/device_authorization"),
        Some(idpkit_core::Route::DeviceAuthorization)
    );
}
