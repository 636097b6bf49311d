//! Shared harness: the example host on an ephemeral loopback port, a manual clock, and a
//! browser-like HTTP client (cookies, no redirect following) that walks the login page.

use std::net::SocketAddr;
use std::sync::Arc;

use idpkit::ManualClock;
use idpkit_example::{DEMO_REDIRECT_URI, DemoUsers, Options, app, build_provider_with_http};
use reqwest::redirect::Policy;
use url::Url;

/// A running example host.
pub struct Host {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The host's clock: tests move it instead of sleeping.
    pub clock: Arc<ManualClock>,
    /// The provider, for direct inspection.
    pub provider: idpkit::Provider,
    /// The host's data directory (SQLite database and keys), removed when dropped.
    pub data: tempfile::TempDir,
}

impl Host {
    /// Starts the example host with the demo fixtures.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts it after adjusting the options.
    pub async fn start_with(adjust: impl FnOnce(&mut Options)) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        Self::start_on(listener, adjust, None).await
    }

    /// Starts it on `listener`, after adjusting the options, reaching upstream providers
    /// through `http` (default: reqwest).
    pub async fn start_on(
        listener: tokio::net::TcpListener,
        adjust: impl FnOnce(&mut Options),
        http: Option<Arc<dyn idpkit::http::HttpClient>>,
    ) -> Self {
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let data = tempfile::tempdir().expect("data dir");
        let mut opts = Options::for_bind(addr);
        opts.data_dir = data.path().to_path_buf();
        adjust(&mut opts);
        let clock = Arc::new(ManualClock::starting_now());
        let users = Arc::new(shared_users());
        let http = http.unwrap_or_else(|| {
            Arc::new(idpkit::http_client::ReqwestClient::new().expect("http client"))
        });
        let (provider, _) = build_provider_with_http(&opts, clock.clone(), users.clone(), http)
            .await
            .expect("provider builds");
        let router = app(provider.clone(), users);
        tokio::spawn(async move {
            axum::serve(listener, router).await.expect("serve");
        });
        Self {
            base: opts.issuer(),
            clock,
            provider,
            data,
        }
    }

    /// An absolute URL on the host.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}

fn shared_users() -> DemoUsers {
    DemoUsers::new().expect("hash demo password")
}

/// A browser: keeps cookies, does not follow redirects (each hop is asserted).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .expect("client")
}

/// A plain back-channel client.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

/// The parameters of a redirect to the demo callback (query or fragment).
pub fn callback_params(location: &str) -> Vec<(String, String)> {
    assert!(
        location.starts_with(DEMO_REDIRECT_URI),
        "expected a redirect to the client's callback, got {location}"
    );
    let url = Url::parse(location).expect("callback URL");
    let raw = url
        .query()
        .or(url.fragment())
        .unwrap_or_default()
        .to_owned();
    url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect()
}

/// One parameter of a list.
pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The `Location` header of a redirect response, asserting 303 (or 302).
pub fn location(resp: &reqwest::Response) -> String {
    assert!(
        resp.status() == 303 || resp.status() == 302,
        "expected a redirect, got {}",
        resp.status()
    );
    resp.headers()
        .get("location")
        .expect("Location header")
        .to_str()
        .expect("ascii")
        .to_owned()
}

/// Follows an authorization URL through the login page (and the consent page, allowing,
/// when shown) and returns the callback URL the browser lands on.
pub async fn login(
    browser: &reqwest::Client,
    host: &Host,
    authorize_url: &str,
    user: &str,
    password: &str,
) -> String {
    let resp = browser.get(authorize_url).send().await.expect("authorize");
    let mut next = location(&resp);
    for _ in 0..4 {
        if next.starts_with(DEMO_REDIRECT_URI) {
            return next;
        }
        let page_url = if next.starts_with('/') {
            host.url(&next)
        } else {
            next.clone()
        };
        let page = browser
            .get(&page_url)
            .send()
            .await
            .expect("interaction page");
        assert_eq!(page.status(), 200, "interaction page");
        let html = page.text().await.expect("html");
        let form: Vec<(&str, &str)> = if html.contains("name=\"password\"") {
            vec![("username", user), ("password", password)]
        } else if html.contains("name=\"decision\"") {
            vec![("decision", "allow")]
        } else {
            panic!("unexpected interaction page: {html}");
        };
        let resp = browser
            .post(&page_url)
            .form(&form)
            .send()
            .await
            .expect("submit");
        assert_eq!(resp.status(), 303, "a credential POST must answer 303");
        next = location(&resp);
    }
    panic!("did not reach the callback; last location {next}");
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce_pair() -> (String, String) {
    let verifier = idpkit::crypto::random_token();
    let challenge = idpkit::crypto::sha256_b64(verifier.as_bytes());
    (verifier, challenge)
}

/// An authorization URL for a demo client.
pub fn authorize_url(host: &Host, client_id: &str, extra: &[(&str, &str)]) -> String {
    let mut url = Url::parse(&host.url("/authorize")).expect("url");
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", client_id);
        q.append_pair("redirect_uri", DEMO_REDIRECT_URI);
        for (k, v) in extra {
            q.append_pair(k, v);
        }
    }
    url.to_string()
}

/// Logs alice in for `demo-client` (PKCE) and returns (code, verifier).
pub async fn code_for_demo_client(host: &Host, scope: &str) -> (String, String) {
    let (verifier, challenge) = pkce_pair();
    let url = authorize_url(
        host,
        "demo-client",
        &[
            ("response_type", "code"),
            ("scope", scope),
            ("state", "s1"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let cb = login(&browser(), host, &url, "alice", "wonderland").await;
    let params = callback_params(&cb);
    (param(&params, "code").expect("code").to_owned(), verifier)
}

/// Exchanges a code at the token endpoint as `demo-client`.
pub async fn exchange(host: &Host, code: &str, verifier: &str) -> reqwest::Response {
    http()
        .post(host.url("/token"))
        .basic_auth("demo-client", Some("demo-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", DEMO_REDIRECT_URI),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .expect("token request")
}

/// Logs alice in for `demo-client` and exchanges the code: the token response.
pub async fn tokens_for_demo_client(host: &Host, scope: &str) -> serde_json::Value {
    let (code, verifier) = code_for_demo_client(host, scope).await;
    let resp = exchange(host, &code, &verifier).await;
    assert_eq!(resp.status(), 200, "code exchange");
    resp.json().await.expect("json")
}

/// POSTs a form to an endpoint with demo-client's credentials and returns (status, JSON).
pub async fn post_as_demo_client(
    host: &Host,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let resp = http()
        .post(host.url(path))
        .basic_auth("demo-client", Some("demo-secret"))
        .form(form)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}

/// Two example hosts sharing one SQLite store, one key directory and one issuer (`a`'s
/// address), as behind a load balancer: `(a, b, b's base URL, the shared directory)`.
pub async fn two_instances() -> (Host, Host, String, tempfile::TempDir) {
    let shared = tempfile::tempdir().expect("shared dir");
    let storage = format!("sqlite:{}", shared.path().join("shared.db").display());
    let keys = shared.path().join("keys");
    let la = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let lb = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let issuer = format!("http://{}", la.local_addr().expect("addr"));
    let b_base = format!("http://{}", lb.local_addr().expect("addr"));
    let adjust = |o: &mut Options| {
        o.storage = Some(storage.clone());
        o.keys = Some(keys.clone());
        o.issuer = Some(issuer.clone());
    };
    let a = Host::start_on(la, adjust, None).await;
    let b = Host::start_on(lb, adjust, None).await;
    (a, b, b_base, shared)
}

/// A compact JWS of `claims` signed by `key` (header `alg` and `kid`): a client assertion
/// or request object written as the RFCs say, without idpkit's own signing code.
pub fn sign_jws(key: &idpkit::SigningKey, claims: &serde_json::Value) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = serde_json::json!({"alg": key.alg().as_str(), "kid": key.kid()});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = key.sign(input.as_bytes()).expect("sign");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// The example API (`GET /api/me` behind `BearerAuth`) on an ephemeral loopback port,
/// trusting `host` for audience `demo-api`, DPoP nonces required when `nonce`: its base URL.
pub async fn start_api(host: &Host, nonce: bool) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let validator = idpkit::Validator::builder()
        .trust(idpkit::TrustedIssuer::new(&host.base, "demo-api"))
        .http_client(Arc::new(
            idpkit::http_client::ReqwestClient::new().expect("http client"),
        ))
        .external_url(&base)
        .dpop_require_nonce(nonce)
        .build()
        .expect("validator");
    tokio::spawn(async move {
        axum::serve(listener, idpkit_example::api::app(validator))
            .await
            .expect("serve");
    });
    base
}
