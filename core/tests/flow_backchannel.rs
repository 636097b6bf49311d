//! Back-channel logout (#14 item 3): a session's clients with a `backchannel_logout_uri`
//! get a logout token by POST through the `HttpClient`, queued in the grant store and
//! retried while the RP is down, dropped when it refuses, delivered once when two
//! instances run the queue at the same time. The RP here is the `HttpClient` seam,
//! recording what it is sent; the end-to-end test over HTTP is `tests/logout.rs`.

mod support;

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idpkit_core::http::{HttpClient, HttpError, HttpRequest, HttpResponse};
use idpkit_core::time::Duration;
use idpkit_core::{Client, GrantType, Logout, Method, StaticClients};
use support::*;

const RP: &str = "rp-bc";

/// An RP's back-channel endpoint: answers `status`, records the tokens it was sent.
#[derive(Default)]
struct RpEndpoint {
    status: AtomicU16,
    tokens: Mutex<Vec<String>>,
}

#[async_trait]
impl HttpClient for RpEndpoint {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        assert_eq!(request.method, "POST");
        assert_eq!(request.url, "https://rp.example/backchannel");
        let body = String::from_utf8(request.body).expect("utf8");
        let token = body
            .strip_prefix("logout_token=")
            .expect("form body")
            .to_owned();
        self.tokens.lock().expect("lock").push(token);
        match self.status.load(Ordering::SeqCst) {
            0 => Err(HttpError {
                url: request.url,
                reason: "connection refused".into(),
            }),
            s => Ok(HttpResponse {
                status: s,
                headers: Vec::new(),
                body: Vec::new(),
            }),
        }
    }
}

fn clients() -> StaticClients {
    let rp = Client::public(RP)
        .redirect_uri(REDIRECT)
        .grant_types([GrantType::AuthorizationCode])
        .scopes(["openid"])
        .first_party(true)
        .backchannel_logout_uri("https://rp.example/backchannel", true)
        .build()
        .expect("rp");
    let mut all = support::clients();
    all.push(rp);
    StaticClients::new(all).expect("clients")
}

fn env_for(rp: &Arc<RpEndpoint>) -> Env {
    let http: Arc<dyn HttpClient> = rp.clone();
    env_with(|b| {
        b.clients(clients())
            .http_client(http)
            .logout_skip_confirmation_with_session_hint(true)
    })
}

/// Logs a browser in through the RP, then out with its ID token; returns the ID token.
async fn login_and_logout(env: &Env) -> String {
    let mut b = Browser::new();
    let code = env.code(&mut b, RP, "openid").await;
    let (s, t) = env.exchange(RP, &code).await;
    assert_eq!(s, 200, "{t}");
    let id_token = t["id_token"].as_str().expect("id token").to_owned();
    let l = env
        .provider
        .end_session(&b.request(Method::Get, &[("id_token_hint", id_token.as_str())]))
        .await;
    assert!(matches!(l, Logout::Respond(_)), "logged out at once");
    id_token
}

fn header_typ(jwt: &str) -> String {
    let h = jwt.split('.').next().expect("header");
    let v: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).expect("b64")).expect("json");
    v["typ"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_logout_token_is_retried_while_the_rp_is_down_and_delivered_once_it_is_back() {
    let rp = Arc::new(RpEndpoint::default());
    let env = env_for(&rp);
    let id_token = login_and_logout(&env).await;
    // Down: connection refused, then 503.
    let r = env.provider.deliver_logout_tokens().await.expect("run");
    assert_eq!(r.retrying, 1);
    let r = env.provider.deliver_logout_tokens().await.expect("run");
    assert_eq!(r.retrying + r.delivered, 0, "not due before its back-off");
    env.advance(Duration::seconds(1));
    rp.status.store(503, Ordering::SeqCst);
    assert_eq!(
        env.provider
            .deliver_logout_tokens()
            .await
            .expect("run")
            .retrying,
        1
    );
    // Back.
    env.advance(Duration::seconds(2));
    rp.status.store(200, Ordering::SeqCst);
    assert_eq!(
        env.provider
            .deliver_logout_tokens()
            .await
            .expect("run")
            .delivered,
        1
    );
    assert_eq!(
        env.provider.deliver_logout_tokens().await.expect("run"),
        idpkit_core::Deliveries::default(),
        "delivered once"
    );
    let tokens = rp.tokens.lock().expect("lock").clone();
    assert_eq!(tokens.len(), 3, "three attempts");
    assert!(
        tokens.iter().all(|t| *t == tokens[0]),
        "the same token (one jti) each time"
    );
    // The token, as Back-Channel Logout §2.4 has it.
    let c = jwt_claims(&tokens[0]);
    assert_eq!(header_typ(&tokens[0]), "logout+jwt");
    assert_eq!(c["iss"], ISSUER);
    assert_eq!(c["aud"], RP);
    assert_eq!(c["sub"], jwt_claims(&id_token)["sub"]);
    assert_eq!(c["sid"], jwt_claims(&id_token)["sid"], "the session's sid");
    assert!(c["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(c.get("nonce").is_none());
    assert!(c["jti"].is_string() && c["iat"].is_i64() && c["exp"].is_i64());
}

#[tokio::test]
async fn a_refusal_is_logged_and_not_retried() {
    let rp = Arc::new(RpEndpoint::default());
    rp.status.store(400, Ordering::SeqCst);
    let env = env_for(&rp);
    login_and_logout(&env).await;
    assert_eq!(
        env.provider
            .deliver_logout_tokens()
            .await
            .expect("run")
            .refused,
        1
    );
    env.advance(Duration::minutes(2));
    assert_eq!(
        env.provider.deliver_logout_tokens().await.expect("run"),
        idpkit_core::Deliveries::default()
    );
    assert_eq!(rp.tokens.lock().expect("lock").len(), 1);
}

#[tokio::test]
async fn an_rp_down_for_longer_than_the_token_lives_is_given_up_on() {
    let rp = Arc::new(RpEndpoint::default());
    let env = env_for(&rp);
    login_and_logout(&env).await;
    for _ in 0..20 {
        env.provider.deliver_logout_tokens().await.expect("run");
        env.advance(Duration::minutes(1));
    }
    let sent = rp.tokens.lock().expect("lock").len();
    assert!((5..=12).contains(&sent), "bounded retries: {sent}");
    env.advance(Duration::minutes(1));
    assert_eq!(
        env.provider.deliver_logout_tokens().await.expect("run"),
        idpkit_core::Deliveries::default(),
        "nothing left after the token's lifetime"
    );
}

#[tokio::test]
async fn two_instances_running_the_queue_at_once_deliver_each_token_once() {
    let rp = Arc::new(RpEndpoint::default());
    rp.status.store(204, Ordering::SeqCst);
    let a = env_for(&rp);
    let http: Arc<dyn HttpClient> = rp.clone();
    let b = env_with(|b| {
        b.clients(clients())
            .http_client(http)
            .grant_store_arc(a.store.clone())
            .clock(a.clock.clone())
    });
    for _ in 0..5 {
        login_and_logout(&a).await;
    }
    let (ra, rb) = tokio::join!(
        a.provider.deliver_logout_tokens(),
        b.provider.deliver_logout_tokens()
    );
    let delivered = ra.expect("a").delivered + rb.expect("b").delivered;
    assert_eq!(delivered, 5);
    let tokens = rp.tokens.lock().expect("lock").clone();
    assert_eq!(tokens.len(), 5, "each token sent once");
    let mut jtis: Vec<String> = tokens
        .iter()
        .map(|t| jwt_claims(t)["jti"].as_str().expect("jti").to_owned())
        .collect();
    jtis.sort();
    jtis.dedup();
    assert_eq!(jtis.len(), 5);
}

/// A provider with open registration whose network is `rp`.
fn env_with_registration(rp: &Arc<RpEndpoint>) -> Env {
    let http: Arc<dyn HttpClient> = rp.clone();
    let registry: Arc<dyn idpkit_core::ClientRegistry> =
        Arc::new(idpkit_core::MemoryClientRegistry::new());
    env_with(|b| {
        b.clients(clients())
            .http_client(http)
            .logout_skip_confirmation_with_session_hint(true)
            .dynamic_client_registration(registry, idpkit_core::RegistrationPolicy::Open)
    })
}

/// Registers a public client with `backchannel_logout_uri`, logs a browser in through it
/// and out again (which queues its logout token).
async fn registered_login_and_logout(env: &Env, backchannel: &str) {
    let body = serde_json::json!({
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "none",
        "backchannel_logout_uri": backchannel,
        "scope": "openid",
    })
    .to_string();
    let req = idpkit_core::Request::from_http_json(
        "POST",
        None,
        vec![("Content-Type", "application/json")],
        body.as_bytes(),
        64 * 1024,
    )
    .expect("request");
    let r = env.provider.register_client(&req).await;
    let v = r.json_value();
    assert_eq!(r.status, 201, "{v}");
    let id = v["client_id"].as_str().expect("client_id").to_owned();
    let mut b = Browser::new();
    let code = env.code(&mut b, &id, "openid").await;
    let (s, t) = env.exchange(&id, &code).await;
    assert_eq!(s, 200, "{t}");
    let id_token = t["id_token"].as_str().expect("id token").to_owned();
    let l = env
        .provider
        .end_session(&b.request(Method::Get, &[("id_token_hint", id_token.as_str())]))
        .await;
    assert!(matches!(l, Logout::Respond(_)), "logged out at once");
}

#[tokio::test]
async fn a_self_registered_clients_logout_uri_is_reached_only_through_the_ssrf_guard() {
    // A private address: refused before any request leaves (the RP endpoint, which
    // accepts only https://rp.example/backchannel, is never called).
    let rp = Arc::new(RpEndpoint::default());
    rp.status.store(200, Ordering::SeqCst);
    let env = env_with_registration(&rp);
    registered_login_and_logout(&env, "https://10.0.0.7/backchannel").await;
    let r = env.provider.deliver_logout_tokens().await.expect("run");
    assert_eq!((r.delivered, r.retrying), (0, 1), "{r:?}");
    assert!(rp.tokens.lock().expect("lock").is_empty());

    // A public https URI: delivered through the same guard.
    let rp = Arc::new(RpEndpoint::default());
    rp.status.store(200, Ordering::SeqCst);
    let env = env_with_registration(&rp);
    registered_login_and_logout(&env, "https://rp.example/backchannel").await;
    let r = env.provider.deliver_logout_tokens().await.expect("run");
    assert_eq!(r.delivered, 1, "{r:?}");
    assert_eq!(rp.tokens.lock().expect("lock").len(), 1);
}
