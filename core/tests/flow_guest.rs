//! Guest tokens and their upgrade at login (issue #15 item 3), in process: the guest grant,
//! the upgrade of an opaque token (same value, now the user's) and of a JWT one (revoked
//! and replaced), every refusal leaving the guest token and the code as they were,
//! concurrent upgrades (one wins), and the rate limit of the guest grant.

mod support;

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use idpkit_core::testkit::flows::token_request;
use idpkit_core::time::Duration;
use idpkit_core::{
    AccessTokenFormat, Client, ErrorCode, GrantType, GuestMerge, GuestUpgrade, GuestUpgradeHook,
    Limit, Provider, RateLimits, StaticClients, StoreError,
};
use serde_json::Value;
use support::{Browser, Env, REDIRECT, SCOPES, VERIFIER, WRONG_VERIFIER, error};

const SHOP: &str = "demo-shop";
const KIOSK: &str = "demo-kiosk";
/// demo-shop with JWT guest tokens.
const JWT_SHOP: &str = "jwt-shop";
const GUEST_GRANT: &str = "urn:idpkit:params:oauth:grant-type:guest";
const WEEK: i64 = 604_800;
/// The resource server of `demo-api` (RFC 7662 §4: it may introspect the shop's tokens).
const SHOP_API: &str = "shop-api";

fn shop(id: &str, format: AccessTokenFormat) -> Client {
    Client::public(id)
        .redirect_uri(REDIRECT)
        .grant_types([
            GrantType::Guest,
            GrantType::AuthorizationCode,
            GrantType::RefreshToken,
        ])
        .scopes(SCOPES)
        .audience(["demo-api"])
        .first_party(true)
        .guest_token_ttl(Duration::seconds(WEEK))
        .guest_token_format(format)
        .build()
        .expect("shop")
}

fn clients() -> Vec<Client> {
    let mut all = support::clients();
    all.push(shop(SHOP, AccessTokenFormat::Opaque));
    all.push(shop(JWT_SHOP, AccessTokenFormat::Jwt));
    all.push(
        Client::confidential(SHOP_API, "shop-api-secret")
            .grant_types([])
            .resource_server_for(["demo-api"])
            .build()
            .expect("resource server"),
    );
    all.push(
        Client::public(KIOSK)
            .grant_types([GrantType::Guest])
            .scopes(["api:read"])
            .audience(["demo-api"])
            .build()
            .expect("kiosk"),
    );
    all
}

/// What the hook was told, whether it should fail, and how long it takes (a slow merge
/// makes concurrent upgrades overlap between their checks and their commit).
#[derive(Default)]
struct Merges {
    seen: Mutex<Vec<GuestMerge>>,
    fail: Mutex<bool>,
    slow: Mutex<Option<std::time::Duration>>,
}

struct Hook(Arc<Merges>);

#[async_trait::async_trait]
impl GuestUpgradeHook for Hook {
    async fn merge(&self, m: &GuestMerge) -> Result<(), StoreError> {
        let slow = *self.0.slow.lock().expect("lock");
        if let Some(d) = slow {
            tokio::time::sleep(d).await;
        }
        if *self.0.fail.lock().expect("lock") {
            return Err(StoreError::backend("the cart database is down"));
        }
        self.0.seen.lock().expect("lock").push(m.clone());
        Ok(())
    }
}

fn env_with_limits(limits: RateLimits) -> (Env, Arc<Merges>) {
    let merges = Arc::new(Merges::default());
    let hook = Hook(merges.clone());
    let env = support::env_with(|b| {
        b.clients(StaticClients::new(clients()).expect("clients"))
            .guest_upgrade_hook(hook)
            .rate_limits(limits)
    });
    (env, merges)
}

fn env() -> (Env, Arc<Merges>) {
    env_with_limits(RateLimits::default())
}

async fn guest_response(env: &Env, client_id: &str, source: Option<IpAddr>) -> (u16, Value) {
    let mut r = token_request(&[("grant_type", GUEST_GRANT)], client_id, None);
    r.source = source;
    let resp = env.provider.token(&r).await;
    (resp.status, resp.json_value())
}

async fn guest_token(env: &Env, client_id: &str) -> String {
    let (status, body) = guest_response(env, client_id, None).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().expect("token").to_owned()
}

/// A code for alice at demo-shop (PKCE S256 with [`VERIFIER`]).
async fn shop_code(env: &Env, client_id: &str, scope: &str) -> String {
    env.code(&mut Browser::new(), client_id, scope).await
}

fn upgrade<'a>(guest: &'a str, code: &'a str, verifier: &'a str) -> GuestUpgrade<'a> {
    GuestUpgrade {
        guest_token: guest,
        code,
        code_verifier: Some(verifier),
        redirect_uri: Some(REDIRECT),
    }
}

/// Introspection by the resource server of demo-api (RFC 7662).
async fn introspect(env: &Env, token: &str) -> Value {
    let r = env
        .provider
        .introspect(&token_request(
            &[("token", token)],
            SHOP_API,
            Some("shop-api-secret"),
        ))
        .await;
    assert_eq!(r.status, 200);
    r.json_value()
}

/// Whether introspection calls `token` active.
async fn active(env: &Env, token: &str) -> bool {
    introspect(env, token).await["active"] == true
}

/// Asserts that `token` is still the live guest token of `client_id` with subject `sub`.
async fn assert_still_guest(p: &Provider, token: &str, client_id: &str, sub: &str) {
    let info = p
        .access_token_info(token)
        .await
        .expect("lookup")
        .expect("still live");
    assert!(info.guest, "still a guest token");
    assert_eq!(info.client_id, client_id);
    assert_eq!(info.subject.as_deref(), Some(sub), "still the guest's");
}

async fn guest_subject(p: &Provider, token: &str) -> String {
    p.access_token_info(token)
        .await
        .expect("lookup")
        .expect("live")
        .subject
        .expect("subject")
}

#[tokio::test]
async fn the_guest_grant_gives_a_public_client_an_opaque_token_for_a_fresh_guest() {
    let (env, _) = env();
    let (status, body) = guest_response(&env, SHOP, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], WEEK, "the client's guest lifetime");
    assert!(body.get("refresh_token").is_none() && body.get("id_token").is_none());
    let token = body["access_token"].as_str().expect("token");
    assert!(!token.contains('.'), "opaque by default: {token}");
    let info = env
        .provider
        .access_token_info(token)
        .await
        .expect("lookup")
        .expect("live");
    assert!(info.guest);
    assert_eq!(info.client_id, SHOP);
    let sub = info.subject.expect("a subject");
    assert!(idpkit_core::guest::is_guest_subject(&sub), "{sub}");
    assert_eq!(
        (info.expires_at - info.issued_at).whole_seconds(),
        WEEK,
        "valid one week"
    );
    let other = guest_token(&env, SHOP).await;
    assert_ne!(
        guest_subject(&env.provider, &other).await,
        sub,
        "every guest is a fresh subject"
    );
    // The resource server of demo-api sees the guest; userinfo has no user to tell about.
    let v = introspect(&env, token).await;
    assert_eq!(
        (v["active"].as_bool(), v["sub"].as_str()),
        (Some(true), Some(sub.as_str()))
    );
    assert_eq!(env.userinfo(token).await.status, 403, "no openid scope");
}

#[tokio::test]
async fn only_clients_registered_for_the_guest_grant_get_guest_tokens() {
    let (env, _) = env();
    let (status, body) = guest_response(&env, support::DEMO_PUBLIC, None).await;
    assert_eq!(
        (status, error(&body)),
        (400, "unauthorized_client"),
        "{body}"
    );
    let (status, body) = guest_response(&env, KIOSK, None).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_guest_token_carries_no_user_scope_oidc_core_3_1_2_1_and_11() {
    let (env, _) = env();
    for scope in ["openid", "api:read offline_access"] {
        let r = token_request(&[("grant_type", GUEST_GRANT), ("scope", scope)], SHOP, None);
        let resp = env.provider.token(&r).await;
        assert_eq!(
            (resp.status, error(&resp.json_value())),
            (400, "invalid_scope"),
            "{scope}"
        );
    }
    let r = token_request(
        &[("grant_type", GUEST_GRANT), ("scope", "api:read")],
        SHOP,
        None,
    );
    let body = env.provider.token(&r).await.json_value();
    assert_eq!(body["scope"], "api:read");
}

#[tokio::test]
async fn discovery_lists_the_guest_grant_and_the_token_endpoint_serves_it_rfc8414_2() {
    let (env, _) = env();
    let d = env.provider.discovery().json_value();
    let grants: Vec<&str> = d["grant_types_supported"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(grants.contains(&GUEST_GRANT), "{grants:?}");
    // Every advertised grant is one the token endpoint knows (never unsupported_grant_type).
    for g in grants {
        let (_, body) = env.token(SHOP, &[("grant_type", g)]).await;
        assert_ne!(error(&body), "unsupported_grant_type", "{g}: {body}");
    }
}

#[tokio::test]
async fn an_opaque_guest_token_keeps_its_value_and_names_the_user_after_the_upgrade() {
    let (env, merges) = env();
    let guest = guest_token(&env, SHOP).await;
    let guest_sub = guest_subject(&env.provider, &guest).await;
    let code = shop_code(&env, SHOP, "openid profile email offline_access api:read").await;
    let up = env
        .provider
        .upgrade_guest(&upgrade(&guest, &code, VERIFIER))
        .await
        .expect("upgraded");
    assert_eq!(up.access_token, guest, "the same value");
    assert!(!up.replaced);
    assert_eq!(
        (up.guest_subject.as_str(), up.subject.as_str()),
        (guest_sub.as_str(), "alice")
    );
    let body = up.response.body();
    assert_eq!(body["access_token"], guest.as_str());
    assert!(body["id_token"].is_string() && body["refresh_token"].is_string());
    assert_eq!(
        body["expires_in"], 3600,
        "the user grant's lifetime, not the guest's week"
    );
    let id_token = support::jwt_claims(body["id_token"].as_str().expect("id token"));
    assert_eq!(id_token["sub"], "alice");
    // The hook was told who to merge into whom, once.
    let seen = merges.seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (
            seen[0].guest_subject.as_str(),
            seen[0].user_subject.as_str()
        ),
        (guest_sub.as_str(), "alice")
    );
    assert_eq!(seen[0].client_id, SHOP);
    // The same token: the host's API, introspection and userinfo all see alice.
    let info = env
        .provider
        .access_token_info(&guest)
        .await
        .expect("lookup")
        .expect("live");
    assert!(!info.guest);
    assert_eq!(info.subject.as_deref(), Some("alice"));
    assert!(info.scopes.iter().any(|s| s == "openid"));
    assert_eq!((info.expires_at - info.issued_at).whole_seconds(), 3600);
    let v = introspect(&env, &guest).await;
    assert_eq!(
        (v["active"].as_bool(), v["sub"].as_str()),
        (Some(true), Some("alice"))
    );
    let r = env.userinfo(&guest).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json_value()["email"], "alice@example.com");
    // A second upgrade finds no guest token any more.
    let again = shop_code(&env, SHOP, "openid").await;
    let e = env
        .provider
        .upgrade_guest(&upgrade(&guest, &again, VERIFIER))
        .await
        .expect_err("not a guest any more");
    assert_eq!(e.description, "the token is not a guest token");
}

#[tokio::test]
async fn the_upgraded_token_joins_the_users_grant_and_is_revoked_with_it_rfc7009_2_1() {
    let (env, _) = env();
    let guest = guest_token(&env, SHOP).await;
    let code = shop_code(&env, SHOP, "openid offline_access").await;
    let up = env
        .provider
        .upgrade_guest(&upgrade(&guest, &code, VERIFIER))
        .await
        .expect("upgraded");
    let refresh = up.response.body()["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    assert!(active(&env, &guest).await);
    // Revoking the refresh token revokes its grant family (RFC 7009 §2.1), the token too.
    let r = env
        .provider
        .revoke(&token_request(&[("token", &refresh)], SHOP, None))
        .await;
    assert_eq!(r.status, 200);
    assert!(!active(&env, &guest).await, "revoked with the user's grant");
}

#[tokio::test]
async fn the_upgraded_token_is_revoked_by_the_users_logout_oidc_core_11() {
    let (env, _) = env();
    let guest = guest_token(&env, SHOP).await;
    let code = shop_code(&env, SHOP, "openid").await;
    env.provider
        .upgrade_guest(&upgrade(&guest, &code, VERIFIER))
        .await
        .expect("upgraded");
    assert!(active(&env, &guest).await);
    // "Log out everywhere": the session's grants end (no offline_access here), this one too.
    assert_eq!(
        env.provider
            .end_all_sessions("alice")
            .await
            .expect("logout"),
        1
    );
    assert!(
        !active(&env, &guest).await,
        "the session's grant is revoked"
    );
}

#[tokio::test]
async fn the_token_endpoint_upgrades_with_authorization_code_and_guest_token() {
    let (env, merges) = env();
    let guest = guest_token(&env, SHOP).await;
    let code = shop_code(&env, SHOP, "openid api:read").await;
    let (status, body) = env
        .token(
            SHOP,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
                ("guest_token", &guest),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["access_token"], guest.as_str(), "the same value");
    assert!(body["id_token"].is_string());
    assert_eq!(merges.seen.lock().expect("lock").len(), 1);
    let v = introspect(&env, &guest).await;
    assert_eq!(v["sub"], "alice");
}

#[tokio::test]
async fn a_jwt_guest_token_is_revoked_and_replaced_at_the_upgrade() {
    let (env, _) = env();
    let guest = guest_token(&env, JWT_SHOP).await;
    assert_eq!(guest.split('.').count(), 3, "a JWT guest token");
    let claims = support::jwt_claims(&guest);
    assert!(idpkit_core::guest::is_guest_subject(
        claims["sub"].as_str().expect("sub")
    ));
    assert!(active(&env, &guest).await);
    let code = shop_code(&env, JWT_SHOP, "openid api:read").await;
    let up = env
        .provider
        .upgrade_guest(&upgrade(&guest, &code, VERIFIER))
        .await
        .expect("upgraded");
    assert!(up.replaced);
    assert_ne!(up.access_token, guest);
    assert_eq!(support::jwt_claims(&up.access_token)["sub"], "alice");
    assert!(!active(&env, &guest).await, "the guest JWT is revoked");
    assert!(
        env.provider
            .access_token_info(&guest)
            .await
            .expect("lookup")
            .is_none()
    );
    let v = introspect(&env, &up.access_token).await;
    assert_eq!(
        (v["active"].as_bool(), v["sub"].as_str()),
        (Some(true), Some("alice"))
    );
    assert_eq!(env.userinfo(&up.access_token).await.status, 200);
}

#[tokio::test]
async fn a_guest_token_is_revocable_by_its_client_and_by_the_host() {
    let (env, _) = env();
    for format in [SHOP, JWT_SHOP] {
        let a = guest_token(&env, format).await;
        let r = env
            .provider
            .revoke(&token_request(&[("token", &a)], format, None))
            .await;
        assert_eq!(r.status, 200);
        assert!(!active(&env, &a).await, "{format}: RFC 7009 revocation");
        let b = guest_token(&env, format).await;
        assert!(env.provider.revoke_access_token(&b).await.expect("revoke"));
        assert!(
            env.provider
                .access_token_info(&b)
                .await
                .expect("lookup")
                .is_none(),
            "{format}"
        );
        assert!(!env.provider.revoke_access_token(&b).await.expect("again"));
    }
}

/// The code is still redeemable after a refusal: a good upgrade with a fresh guest token
/// succeeds.
async fn assert_code_unused(env: &Env, code: &str) {
    let fresh = guest_token(env, SHOP).await;
    env.provider
        .upgrade_guest(&upgrade(&fresh, code, VERIFIER))
        .await
        .expect("the code was not consumed by the refusal");
}

#[tokio::test]
async fn a_guest_token_of_another_client_is_refused_and_nothing_changes() {
    let (env, merges) = env();
    let kiosk = guest_token(&env, KIOSK).await;
    let kiosk_sub = guest_subject(&env.provider, &kiosk).await;
    let code = shop_code(&env, SHOP, "openid").await;
    let e = env
        .provider
        .upgrade_guest(&upgrade(&kiosk, &code, VERIFIER))
        .await
        .expect_err("another client's guest");
    assert_eq!(e.code, ErrorCode::InvalidGrant);
    assert_eq!(
        e.description,
        "the guest token was issued to another client"
    );
    // Over HTTP: demo-shop presenting demo-kiosk's guest token.
    let (status, body) = env
        .token(
            SHOP,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", VERIFIER),
                ("guest_token", &kiosk),
            ],
        )
        .await;
    assert_eq!((status, error(&body)), (400, "invalid_grant"));
    assert_eq!(
        body["error_description"],
        "the guest token was issued to another client"
    );
    assert_still_guest(&env.provider, &kiosk, KIOSK, &kiosk_sub).await;
    assert!(
        merges.seen.lock().expect("lock").is_empty(),
        "nothing merged"
    );
    assert_code_unused(&env, &code).await;
}

#[tokio::test]
async fn a_token_that_is_not_a_guests_is_refused_and_nothing_changes() {
    let (env, _) = env();
    let user = env.tokens(SHOP, "openid").await;
    let user_token = user["access_token"].as_str().expect("token");
    let code = shop_code(&env, SHOP, "openid").await;
    let e = env
        .provider
        .upgrade_guest(&upgrade(user_token, &code, VERIFIER))
        .await
        .expect_err("a user's token");
    assert_eq!(e.description, "the token is not a guest token");
    let (_, body) = env
        .token(
            SHOP,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", VERIFIER),
                ("guest_token", user_token),
            ],
        )
        .await;
    assert_eq!(body["error_description"], "the token is not a guest token");
    assert!(
        active(&env, user_token).await,
        "the user's token is untouched"
    );
    assert_code_unused(&env, &code).await;
}

#[tokio::test]
async fn an_expired_or_unknown_guest_token_is_refused_and_the_code_stays_unused() {
    let (env, _) = env();
    let short = Client::public("short-shop")
        .redirect_uri(REDIRECT)
        .grant_types([GrantType::Guest, GrantType::AuthorizationCode])
        .scopes(SCOPES)
        .guest_token_ttl(Duration::seconds(30))
        .build()
        .expect("client");
    let mut all = clients();
    all.push(short);
    let env2 = support::env_with(|b| b.clients(StaticClients::new(all).expect("clients")));
    let guest = guest_token(&env2, "short-shop").await;
    env2.advance(Duration::seconds(31));
    let code = shop_code(&env2, "short-shop", "openid").await;
    let e = env2
        .provider
        .upgrade_guest(&upgrade(&guest, &code, VERIFIER))
        .await
        .expect_err("expired");
    assert_eq!(
        e.description,
        "the guest token is invalid, expired or revoked"
    );
    let fresh = guest_token(&env2, "short-shop").await;
    env2.provider
        .upgrade_guest(&upgrade(&fresh, &code, VERIFIER))
        .await
        .expect("the code was not consumed");
    // Unknown.
    let code = shop_code(&env, SHOP, "openid").await;
    let e = env
        .provider
        .upgrade_guest(&upgrade("no-such-token", &code, VERIFIER))
        .await
        .expect_err("unknown");
    assert_eq!(e.code, ErrorCode::InvalidGrant);
    assert_code_unused(&env, &code).await;
}

#[tokio::test]
async fn a_wrong_verifier_is_refused_and_nothing_changes_rfc7636_4_6() {
    let (env, merges) = env();
    let guest = guest_token(&env, SHOP).await;
    let sub = guest_subject(&env.provider, &guest).await;
    let code = shop_code(&env, SHOP, "openid").await;
    let e = env
        .provider
        .upgrade_guest(&upgrade(&guest, &code, WRONG_VERIFIER))
        .await
        .expect_err("wrong verifier");
    assert_eq!(e.code, ErrorCode::InvalidGrant);
    let missing = GuestUpgrade {
        code_verifier: None,
        ..upgrade(&guest, &code, VERIFIER)
    };
    let e = env
        .provider
        .upgrade_guest(&missing)
        .await
        .expect_err("no verifier");
    assert_eq!(e.description, "code_verifier is required (PKCE)");
    let wrong_uri = GuestUpgrade {
        redirect_uri: Some("http://127.0.0.1:9999/elsewhere"),
        ..upgrade(&guest, &code, VERIFIER)
    };
    env.provider
        .upgrade_guest(&wrong_uri)
        .await
        .expect_err("another redirect URI");
    assert_still_guest(&env.provider, &guest, SHOP, &sub).await;
    assert!(merges.seen.lock().expect("lock").is_empty());
    env.provider
        .upgrade_guest(&upgrade(&guest, &code, VERIFIER))
        .await
        .expect("the right verifier still works: nothing was consumed");
}

#[tokio::test]
async fn a_replayed_code_is_refused_revokes_its_grant_and_the_guest_stays_a_guest_rfc6749_4_1_2() {
    let (env, _) = env();
    let code = shop_code(&env, SHOP, "openid offline_access").await;
    let (status, first) = env.exchange(SHOP, &code).await;
    assert_eq!(status, 200, "{first}");
    let guest = guest_token(&env, SHOP).await;
    let sub = guest_subject(&env.provider, &guest).await;
    let e = env
        .provider
        .upgrade_guest(&upgrade(&guest, &code, VERIFIER))
        .await
        .expect_err("replayed");
    assert_eq!(e.code, ErrorCode::InvalidGrant);
    assert_still_guest(&env.provider, &guest, SHOP, &sub).await;
    let first_access = first["access_token"].as_str().expect("access");
    assert!(
        !active(&env, first_access).await,
        "the code's grant is revoked"
    );
    // A code already used for an upgrade: replaying it revokes the upgraded token too.
    let guest2 = guest_token(&env, SHOP).await;
    let code2 = shop_code(&env, SHOP, "openid").await;
    env.provider
        .upgrade_guest(&upgrade(&guest2, &code2, VERIFIER))
        .await
        .expect("upgraded");
    let guest3 = guest_token(&env, SHOP).await;
    let sub3 = guest_subject(&env.provider, &guest3).await;
    env.provider
        .upgrade_guest(&upgrade(&guest3, &code2, VERIFIER))
        .await
        .expect_err("replayed");
    assert!(
        !active(&env, &guest2).await,
        "what the code issued is revoked"
    );
    assert_still_guest(&env.provider, &guest3, SHOP, &sub3).await;
}

#[tokio::test]
async fn a_failing_hook_aborts_the_upgrade_with_nothing_changed() {
    let (env, merges) = env();
    let guest = guest_token(&env, SHOP).await;
    let sub = guest_subject(&env.provider, &guest).await;
    let code = shop_code(&env, SHOP, "openid").await;
    *merges.fail.lock().expect("lock") = true;
    let e = env
        .provider
        .upgrade_guest(&upgrade(&guest, &code, VERIFIER))
        .await
        .expect_err("the hook failed");
    assert_eq!(e.code, ErrorCode::ServerError);
    assert_still_guest(&env.provider, &guest, SHOP, &sub).await;
    *merges.fail.lock().expect("lock") = false;
    env.provider
        .upgrade_guest(&upgrade(&guest, &code, VERIFIER))
        .await
        .expect("the retry works: the code and the claim were left alone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_upgrades_of_one_guest_token_have_one_winner() {
    let (env, merges) = env();
    *merges.slow.lock().expect("lock") = Some(std::time::Duration::from_millis(50));
    let env = Arc::new(env);
    for round in 0..5 {
        merges.seen.lock().expect("lock").clear();
        let guest = guest_token(&env, SHOP).await;
        // Eight different codes (eight logins), one guest token.
        let mut codes = Vec::new();
        for _ in 0..8 {
            codes.push(shop_code(&env, SHOP, "openid").await);
        }
        let barrier = Arc::new(tokio::sync::Barrier::new(codes.len()));
        let tasks: Vec<_> = codes
            .into_iter()
            .map(|code| {
                let (env, guest, barrier) = (env.clone(), guest.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    env.provider
                        .upgrade_guest(&upgrade(&guest, &code, VERIFIER))
                        .await
                })
            })
            .collect();
        let mut wins = 0;
        for t in tasks {
            if t.await.expect("task").is_ok() {
                wins += 1;
            }
        }
        assert_eq!(wins, 1, "round {round}: exactly one upgrade wins");
        assert_eq!(merges.seen.lock().expect("lock").len(), 1, "one merge");
        let info = env
            .provider
            .access_token_info(&guest)
            .await
            .expect("lookup")
            .expect("live");
        assert_eq!(info.subject.as_deref(), Some("alice"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_upgrades_with_one_code_have_one_winner_the_code_consume() {
    let (env, merges) = env();
    // Every upgrade passes its checks before any consumes the code.
    *merges.slow.lock().expect("lock") = Some(std::time::Duration::from_millis(50));
    let env = Arc::new(env);
    let code = shop_code(&env, SHOP, "openid").await;
    let mut guests = Vec::new();
    for _ in 0..8 {
        let g = guest_token(&env, SHOP).await;
        let sub = guest_subject(&env.provider, &g).await;
        guests.push((g, sub));
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(guests.len()));
    let tasks: Vec<_> = guests
        .iter()
        .map(|(g, _)| {
            let (env, g, code, barrier) = (env.clone(), g.clone(), code.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                env.provider
                    .upgrade_guest(&upgrade(&g, &code, VERIFIER))
                    .await
            })
        })
        .collect();
    let mut wins = Vec::new();
    for (t, (g, sub)) in tasks.into_iter().zip(&guests) {
        match t.await.expect("task") {
            Ok(_) => wins.push(g.clone()),
            Err(e) => {
                assert_eq!(e.code, ErrorCode::InvalidGrant, "{e}");
                assert_still_guest(&env.provider, g, SHOP, sub).await;
            }
        }
    }
    assert_eq!(wins.len(), 1, "one code, one winner");
}

#[tokio::test]
async fn guest_tokens_are_rate_limited_per_source_then_per_client_rfc6585_4() {
    let mut limits = RateLimits::default();
    limits.guest_tokens_per_source = Limit::new(3, Duration::minutes(10));
    limits.guest_tokens_per_client = Limit::new(5, Duration::minutes(10));
    let (env, _) = env_with_limits(limits);
    let a: IpAddr = "192.0.2.1".parse().expect("ip");
    let b: IpAddr = "192.0.2.2".parse().expect("ip");
    for i in 0..3 {
        let (status, body) = guest_response(&env, SHOP, Some(a)).await;
        assert_eq!(status, 200, "guest token {i}: {body}");
    }
    let mut r = token_request(&[("grant_type", GUEST_GRANT)], SHOP, None);
    r.source = Some(a);
    let refused = env.provider.token(&r).await;
    assert_eq!(refused.status, 429);
    assert!(refused.header_value("retry-after").is_some());
    assert_eq!(error(&refused.json_value()), "temporarily_unavailable");
    // The refusal at its source used up none of the client's allowance: 2 more from b.
    for i in 0..2 {
        let (status, body) = guest_response(&env, SHOP, Some(b)).await;
        assert_eq!(status, 200, "from b, {i}: {body}");
    }
    let (status, _) = guest_response(&env, SHOP, Some(b)).await;
    assert_eq!(status, 429, "the client's bound");
    let c: IpAddr = "192.0.2.3".parse().expect("ip");
    let (status, _) = guest_response(&env, KIOSK, Some(c)).await;
    assert_eq!(status, 200, "another client has its own bound");
    // The next window allows again.
    env.advance(Duration::minutes(10));
    let (status, _) = guest_response(&env, SHOP, Some(a)).await;
    assert_eq!(status, 200);
}
