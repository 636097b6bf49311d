//! End-to-end federation: two example servers, B federating to A. A stock relying party (the
//! `openidconnect` crate) logs in at B through A's real login page and receives B-signed
//! tokens with the transformed claims. Every upstream failure ends in a clear error to the
//! relying party, never in a token, and leaves no session at B.
//!
//! A listens as `http://127.0.0.1:PORT`, B as `http://localhost:PORT`: cookies do not
//! separate ports, so the two providers need two host names, as they would in production.

use idpkit_test_support::host as common;
use idpkit_test_support::rp;

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Host, browser, callback_params, location, param};
use idpkit::http::{HttpClient, HttpError, HttpRequest, HttpResponse};
use idpkit::http_client::ReqwestClient;
use idpkit_example::DEMO_REDIRECT_URI;
use openidconnect::core::{CoreClient, CoreProviderMetadata, CoreResponseType, CoreUserInfoClaims};
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use rp::rp_http;
use serde_json::json;

/// What the gateway's HTTP client does to A's answers (a network attacker, or an outage).
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Tamper {
    None = 0,
    /// Flip a bit of the ID token's signature in A's token response.
    BreakSignature = 1,
    /// A's token endpoint cannot be reached.
    TokenEndpointDown = 2,
}

struct TamperingClient {
    inner: ReqwestClient,
    mode: AtomicU8,
}

#[async_trait::async_trait]
impl HttpClient for TamperingClient {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let mode = self.mode.load(Ordering::SeqCst);
        let token_call = request.method == "POST" && request.url.ends_with("/token");
        if token_call && mode == Tamper::TokenEndpointDown as u8 {
            return Err(HttpError {
                url: request.url,
                reason: "connection refused".into(),
            });
        }
        let mut resp = self.inner.send(request).await?;
        if token_call && mode == Tamper::BreakSignature as u8 && resp.status == 200 {
            let mut body: serde_json::Value =
                serde_json::from_slice(&resp.body).expect("token JSON");
            let id_token = body["id_token"].as_str().expect("id_token").to_owned();
            let (signed, sig) = id_token.rsplit_once('.').expect("JWS");
            let mut raw = URL_SAFE_NO_PAD.decode(sig).expect("b64");
            raw[10] ^= 0x01;
            body["id_token"] = json!(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(raw)));
            resp.body = serde_json::to_vec(&body).expect("json");
        }
        Ok(resp)
    }
}

struct Gateway {
    upstream: Host,
    gateway: Host,
    tamper: Arc<TamperingClient>,
    _config: tempfile::TempDir,
}

impl Gateway {
    fn set(&self, t: Tamper) {
        self.tamper.mode.store(t as u8, Ordering::SeqCst);
    }
}

/// The mapping B applies to A's claims.
fn rules() -> serde_json::Value {
    json!([
        {"op": "rename", "from": "preferred_username", "to": "nickname"},
        {"op": "map_values", "claim": "given_name", "map": {"Alice": "Ally"}},
        {"op": "drop", "claim": "family_name"},
        {"op": "constant", "claim": "locale", "value": "en-GB"},
        {"op": "require", "claim": "email_verified", "equals": true}
    ])
}

/// A (the upstream, with a `gateway` client for B) and B (federating to A as `corp`).
/// `upstream_client` adjusts the client A knows B as; `upstream_conf` what B knows of A.
async fn start(
    upstream_client: impl FnOnce(&mut serde_json::Value),
    upstream_conf: impl FnOnce(&mut serde_json::Value, &str),
) -> Gateway {
    let config = tempfile::tempdir().expect("config dir");
    let b_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let b_issuer = format!(
        "http://localhost:{}",
        b_listener.local_addr().expect("addr").port()
    );
    let mut client = json!({
        "client_id": "gateway",
        "client_secret": "gateway-secret",
        "redirect_uris": [format!("{b_issuer}/federation/callback/corp")],
        "grant_types": ["authorization_code"],
        "scopes": ["openid", "profile", "email"]
    });
    upstream_client(&mut client);
    let clients = config.path().join("clients.json");
    std::fs::write(
        &clients,
        serde_json::to_vec(&json!([client])).expect("json"),
    )
    .expect("write");
    let upstream = Host::start_with(|o| o.clients = Some(clients)).await;

    let mut conf = json!({
        "name": "corp",
        "display_name": "Corp SSO",
        "issuer": upstream.base,
        "client_id": "gateway",
        "client_secret": "gateway-secret",
        "rules": rules(),
        "trust_email_verified": true
    });
    upstream_conf(&mut conf, &upstream.base);
    let conf_path = config.path().join("corp.json");
    std::fs::write(&conf_path, serde_json::to_vec(&conf).expect("json")).expect("write");
    let tamper = Arc::new(TamperingClient {
        inner: ReqwestClient::new().expect("http"),
        mode: AtomicU8::new(Tamper::None as u8),
    });
    let gateway = Host::start_on(
        b_listener,
        |o| {
            o.issuer = Some(b_issuer.clone());
            o.upstreams = vec![conf_path];
        },
        Some(tamper.clone()),
    )
    .await;
    Gateway {
        upstream,
        gateway,
        tamper,
        _config: config,
    }
}

fn absolute(host: &Host, location: &str) -> String {
    if location.starts_with('/') {
        host.url(location)
    } else {
        location.to_owned()
    }
}

/// GET `url` and return where it redirects.
async fn hop(browser: &reqwest::Client, url: &str) -> String {
    let resp = browser.get(url).send().await.expect("GET");
    location(&resp)
}

/// From a redirect to A's authorization endpoint: A's login page (and consent, answered
/// with `decision`), until A redirects back to B's callback.
async fn log_in_at_upstream(
    browser: &reqwest::Client,
    g: &Gateway,
    a_authorize: &str,
    decision: &str,
) -> String {
    assert!(
        a_authorize.starts_with(&format!("{}/authorize?", g.upstream.base)),
        "expected a redirect to the upstream, got {a_authorize}"
    );
    let mut next = absolute(&g.upstream, &hop(browser, a_authorize).await);
    for _ in 0..3 {
        if next.starts_with(&format!("{}/federation/callback/corp?", g.gateway.base)) {
            return next;
        }
        let html = browser
            .get(&next)
            .send()
            .await
            .expect("page")
            .text()
            .await
            .expect("html");
        let form: Vec<(&str, &str)> = if html.contains("name=\"password\"") {
            vec![("username", "alice"), ("password", "wonderland")]
        } else {
            assert!(html.contains("name=\"decision\""), "{html}");
            vec![("decision", decision)]
        };
        let resp = browser.post(&next).form(&form).send().await.expect("POST");
        next = absolute(&g.upstream, &location(&resp));
    }
    panic!("A did not send the browser back to B; last {next}");
}

/// `url` with query parameter `name` set to `value` (the rest kept, in order).
fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut url = url::Url::parse(url).expect("url");
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == name {
                (k, value.to_owned())
            } else {
                (k, v)
            }
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url.to_string()
}

fn b_authorize(g: &Gateway, extra: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&g.gateway.url("/authorize")).expect("url");
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", "demo-client")
            .append_pair("redirect_uri", DEMO_REDIRECT_URI)
            .append_pair("response_type", "code")
            .append_pair("scope", "openid profile email")
            .append_pair("state", "rp-state");
        for (k, v) in extra {
            q.append_pair(k, v);
        }
    }
    url.to_string()
}

/// B has no session in this browser: `prompt=none` answers `login_required`.
async fn assert_no_session_at_gateway(browser: &reqwest::Client, g: &Gateway) {
    let cb = hop(browser, &b_authorize(g, &[("prompt", "none")])).await;
    let p = callback_params(&cb);
    assert_eq!(
        param(&p, "error"),
        Some("login_required"),
        "no half-made session at the gateway: {cb}"
    );
}

/// The relying party's callback after a failed upstream login: an error, never a code.
fn assert_error_redirect(cb: &str, error: &str, mentions: &str) {
    let p = callback_params(cb);
    assert_eq!(param(&p, "error"), Some(error), "{cb}");
    assert!(param(&p, "code").is_none(), "no code: {cb}");
    assert_eq!(param(&p, "state"), Some("rp-state"), "state echoed: {cb}");
    let description = param(&p, "error_description").unwrap_or_default();
    assert!(
        description.contains(mentions),
        "error_description {description:?} should mention {mentions:?}"
    );
}

#[tokio::test]
async fn relying_party_logs_in_at_the_gateway_through_the_upstream() {
    let g = start(|_| {}, |_, _| {}).await;
    let http = rp_http();
    let metadata = CoreProviderMetadata::discover_async(
        IssuerUrl::new(g.gateway.base.clone()).expect("issuer"),
        &http,
    )
    .await
    .expect("discovery at B");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new("demo-client".into()),
        Some(ClientSecret::new("demo-secret".into())),
    )
    .set_redirect_uri(RedirectUrl::new(DEMO_REDIRECT_URI.into()).expect("redirect"));
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf, nonce) = client
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .add_extra_param("idp_hint", "corp")
        .set_pkce_challenge(challenge)
        .url();

    // idp_hint sends the browser straight from B to A; A's login page; back to B; to the RP.
    let b = browser();
    let to_a = hop(&b, auth_url.as_str()).await;
    let a_request: Vec<(String, String)> = url::Url::parse(&to_a)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(param(&a_request, "client_id"), Some("gateway"));
    assert_eq!(param(&a_request, "code_challenge_method"), Some("S256"));
    assert!(param(&a_request, "nonce").is_some() && param(&a_request, "state").is_some());
    let b_callback = log_in_at_upstream(&b, &g, &to_a, "allow").await;
    let rp_callback = hop(&b, &b_callback).await;
    let params = callback_params(&rp_callback);
    assert_eq!(param(&params, "state"), Some(csrf.secret().as_str()));
    assert_eq!(param(&params, "iss"), Some(g.gateway.base.as_str()));
    let code = param(&params, "code").expect("a code from B").to_owned();

    // B's tokens, verified by the stock RP against B's discovery and JWKS.
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .expect("token endpoint")
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange at B");
    let id_token = tokens.id_token().expect("ID token");
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .expect("B's ID token verifies with B's keys");
    assert_eq!(claims.issuer().as_str(), g.gateway.base);
    let local_sub = idpkit::federation::hashed_subject(&g.upstream.base, "alice");
    assert_eq!(
        claims.subject().as_str(),
        local_sub,
        "stable linked subject"
    );
    assert_eq!(
        claims
            .nickname()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str()),
        Some("alice"),
        "renamed from preferred_username"
    );
    assert!(claims.preferred_username().is_none(), "renamed away");
    assert_eq!(
        claims
            .given_name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str()),
        Some("Ally"),
        "value mapped"
    );
    assert!(claims.family_name().is_none(), "dropped");
    assert_eq!(
        claims.locale().map(|l| l.as_str()),
        Some("en-GB"),
        "constant"
    );
    assert_eq!(
        claims.email().map(|e| e.as_str()),
        Some("alice@example.com")
    );
    assert_eq!(
        claims.email_verified(),
        Some(true),
        "A is trusted for email_verified"
    );
    let userinfo: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), None)
        .expect("userinfo endpoint")
        .request_async(&http)
        .await
        .expect("userinfo at B");
    assert_eq!(userinfo.subject().as_str(), local_sub);
    assert_eq!(
        userinfo
            .nickname()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str()),
        Some("alice")
    );

    // The upstream callback replayed in the same browser: an error page, no second code.
    let replay = b.get(&b_callback).send().await.expect("replay");
    assert_eq!(replay.status(), 400);
    assert!(replay.headers().get("location").is_none());
    let body = replay.text().await.expect("html");
    assert!(
        body.contains("no upstream login") || body.contains("already completed"),
        "{body}"
    );
    // ... and in another browser.
    let replay = browser().get(&b_callback).send().await.expect("replay");
    assert_eq!(replay.status(), 400);
    assert!(replay.headers().get("location").is_none());

    // B now has an SSO session for the linked subject: a second login needs no upstream.
    let again = hop(&b, &b_authorize(&g, &[("prompt", "none")])).await;
    assert!(param(&callback_params(&again), "code").is_some(), "{again}");

    // Without a hint, B's login page offers the upstream; following it logs in the same
    // local subject.
    let fresh = browser();
    let page = absolute(&g.gateway, &hop(&fresh, &b_authorize(&g, &[])).await);
    let html = fresh
        .get(&page)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(html.contains("Sign in with Corp SSO"), "{html}");
    assert!(
        html.contains("name=\"password\""),
        "local login is offered too"
    );
    let link = format!("{page}/upstream/corp");
    let to_a = absolute(&g.gateway, &hop(&fresh, &link).await);
    let b_callback = log_in_at_upstream(&fresh, &g, &to_a, "allow").await;
    let rp_callback = hop(&fresh, &b_callback).await;
    let code = param(&callback_params(&rp_callback), "code")
        .expect("code")
        .to_owned();
    let resp = common::http()
        .post(g.gateway.url("/token"))
        .basic_auth("demo-client", Some("demo-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", DEMO_REDIRECT_URI),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.expect("json");
    let payload = body["id_token"]
        .as_str()
        .and_then(|t| t.split('.').nth(1))
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|p| serde_json::from_slice::<serde_json::Value>(&p).ok())
        .expect("ID token payload");
    assert_eq!(payload["sub"], json!(local_sub));
}

/// The gateway's ID token claims after a login through A with `idp_hint=corp`.
async fn gateway_id_token_claims(g: &Gateway) -> serde_json::Value {
    let b = browser();
    let to_a = hop(&b, &b_authorize(g, &[("idp_hint", "corp")])).await;
    let b_callback = log_in_at_upstream(&b, g, &to_a, "allow").await;
    let rp_callback = hop(&b, &b_callback).await;
    let code = param(&callback_params(&rp_callback), "code")
        .expect("code")
        .to_owned();
    let resp = common::http()
        .post(g.gateway.url("/token"))
        .basic_auth("demo-client", Some("demo-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", DEMO_REDIRECT_URI),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.expect("json");
    body["id_token"]
        .as_str()
        .and_then(|t| t.split('.').nth(1))
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|p| serde_json::from_slice::<serde_json::Value>(&p).ok())
        .expect("ID token payload")
}

#[tokio::test]
async fn an_upstream_not_trusted_for_email_verified_passes_the_address_unverified() {
    let untrusted = |c: &mut serde_json::Value| {
        c.as_object_mut()
            .expect("object")
            .remove("trust_email_verified");
    };
    // By default an upstream is not trusted for it ("nOAuth"): a rule requiring
    // email_verified refuses every login from it...
    let g = start(|_| {}, |c, _| untrusted(c)).await;
    let b = browser();
    let to_a = hop(&b, &b_authorize(&g, &[("idp_hint", "corp")])).await;
    let b_callback = log_in_at_upstream(&b, &g, &to_a, "allow").await;
    let rp = hop(&b, &b_callback).await;
    assert_error_redirect(&rp, "access_denied", "email_verified");
    assert_no_session_at_gateway(&b, &g).await;
    // ... and without such a rule the address arrives without email_verified.
    let g = start(
        |_| {},
        |c, _| {
            untrusted(c);
            c["rules"] = json!([]);
        },
    )
    .await;
    let claims = gateway_id_token_claims(&g).await;
    assert_eq!(claims["email"], json!("alice@example.com"), "{claims}");
    assert!(claims.get("email_verified").is_none(), "{claims}");
    // Trusted, A's email_verified passes.
    let g = start(|_| {}, |c, _| c["rules"] = json!([])).await;
    assert_eq!(
        gateway_id_token_claims(&g).await["email_verified"],
        json!(true)
    );
}

#[tokio::test]
async fn upstream_access_denied_reaches_the_client_as_access_denied() {
    // A asks for consent for the gateway, and the user denies it.
    let g = start(|c| c["first_party"] = json!(false), |_, _| {}).await;
    let b = browser();
    let to_a = hop(&b, &b_authorize(&g, &[("idp_hint", "corp")])).await;
    let b_callback = log_in_at_upstream(&b, &g, &to_a, "deny").await;
    assert!(b_callback.contains("error=access_denied"), "{b_callback}");
    let rp = hop(&b, &b_callback).await;
    assert_error_redirect(&rp, "access_denied", "Corp SSO");
    assert_no_session_at_gateway(&b, &g).await;
}

#[tokio::test]
async fn an_upstream_error_page_leaves_no_session() {
    // B is registered at A under another id: A shows its error page and never redirects.
    let g = start(|_| {}, |c, _| c["client_id"] = json!("not-registered")).await;
    let b = browser();
    let to_a = hop(&b, &b_authorize(&g, &[("acr_values", "idp:corp")])).await;
    assert!(
        to_a.starts_with(&g.upstream.base),
        "acr_values=idp:corp picks A: {to_a}"
    );
    let page = b.get(&to_a).send().await.expect("A");
    assert_eq!(page.status(), 400, "A's error page");
    assert!(page.headers().get("location").is_none());
    assert_no_session_at_gateway(&b, &g).await;
}

#[tokio::test]
async fn a_bad_upstream_signature_is_refused() {
    let g = start(|_| {}, |_, _| {}).await;
    g.set(Tamper::BreakSignature);
    let b = browser();
    let to_a = hop(&b, &b_authorize(&g, &[("idp_hint", "corp")])).await;
    let b_callback = log_in_at_upstream(&b, &g, &to_a, "allow").await;
    let rp = hop(&b, &b_callback).await;
    assert_error_redirect(&rp, "access_denied", "could not be verified");
    assert_no_session_at_gateway(&b, &g).await;
}

#[tokio::test]
async fn a_wrong_upstream_nonce_is_refused() {
    let g = start(|_| {}, |_, _| {}).await;
    let b = browser();
    let to_a = hop(&b, &b_authorize(&g, &[("idp_hint", "corp")])).await;
    // The ID token A issues carries another nonce (a substituted authorization request).
    let url = with_param(&to_a, "nonce", "someone-else");
    let b_callback = log_in_at_upstream(&b, &g, &url, "allow").await;
    let rp = hop(&b, &b_callback).await;
    assert_error_redirect(&rp, "access_denied", "could not be verified");
    assert_no_session_at_gateway(&b, &g).await;
}

#[tokio::test]
async fn a_callback_for_another_login_is_refused() {
    let g = start(|_| {}, |_, _| {}).await;
    let b = browser();
    let to_a = hop(&b, &b_authorize(&g, &[("idp_hint", "corp")])).await;
    let b_callback = log_in_at_upstream(&b, &g, &to_a, "allow").await;
    let url = with_param(&b_callback, "state", "forged");
    let rp = hop(&b, &url).await;
    assert_error_redirect(&rp, "access_denied", "could not be verified");
    // The genuine callback arrives afterwards: the login is over, no code.
    let late = b.get(&b_callback).send().await.expect("late");
    assert_eq!(late.status(), 400);
    assert_no_session_at_gateway(&b, &g).await;
}

#[tokio::test]
async fn an_unreachable_upstream_is_temporarily_unavailable() {
    // Unreachable from the start: discovery fails, the client hears at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let g = start(
        |_| {},
        |c, _| c["issuer"] = json!(format!("http://127.0.0.1:{port}")),
    )
    .await;
    let b = browser();
    let rp = hop(&b, &b_authorize(&g, &[("idp_hint", "corp")])).await;
    assert_error_redirect(&rp, "temporarily_unavailable", "Corp SSO is unavailable");
    assert_no_session_at_gateway(&b, &g).await;

    // Unreachable at the code exchange, after the user logged in at the upstream.
    let g = start(|_| {}, |_, _| {}).await;
    let b = browser();
    let to_a = hop(&b, &b_authorize(&g, &[("idp_hint", "corp")])).await;
    let b_callback = log_in_at_upstream(&b, &g, &to_a, "allow").await;
    g.set(Tamper::TokenEndpointDown);
    let rp = hop(&b, &b_callback).await;
    assert_error_redirect(&rp, "temporarily_unavailable", "Corp SSO is unavailable");
    assert_no_session_at_gateway(&b, &g).await;
}

#[tokio::test]
async fn an_unknown_hint_falls_back_to_the_login_page() {
    let g = start(|_| {}, |_, _| {}).await;
    let b = browser();
    let next = hop(&b, &b_authorize(&g, &[("idp_hint", "nope")])).await;
    assert!(
        next.starts_with("/interaction/"),
        "the gateway's own login page: {next}"
    );
    // A made-up upstream name on the login page's route is an error page, not a redirect.
    let resp = b
        .get(g.gateway.url(&format!("{next}/upstream/nope")))
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), 400);
}
