//! Shared fixtures of the in-process flow tests (`flow_*.rs`): the demo clients and user of
//! DESIGN §6, a provider on the memory store and a [`ManualClock`], a cookie-keeping
//! "browser", and readers for redirects and tokens. Public API only.
//!
//! Each flow test file includes this module; not every file uses every helper.
#![allow(dead_code)]

use std::sync::{Arc, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idpkit_core::testkit::flows::token_request;
use idpkit_core::time::Duration;
use idpkit_core::{
    Algorithm, Authorization, Body, Client, GrantType, InteractionOutcome, KeyProvider, LocalKeys,
    ManualClock, MemoryGrantStore, Method, Needs, OAuthError, Params, PendingInteraction, Provider,
    ProviderBuilder, Request, Response, StaticClients,
};
use serde_json::{Value, json};

/// The issuer (https, so cookies are `Secure` and `__Host-` prefixed).
pub const ISSUER: &str = "https://idp.example";
/// The SSO session cookie's name on the https [`ISSUER`] (RFC 6265bis §4.1.3.2).
pub const SESSION_COOKIE: &str = "__Host-idpkit_session";
/// The interaction binding cookie's name on the https [`ISSUER`].
pub const INTERACTION_COOKIE: &str = "__Host-idpkit_interaction";
/// The one redirect URI of the demo clients.
pub const REDIRECT: &str = "http://127.0.0.1:9999/callback";
/// Every scope the demo clients may ask for.
pub const SCOPES: [&str; 5] = ["openid", "profile", "email", "offline_access", "api:read"];
/// RFC 7636 Appendix B: a verifier and its S256 challenge.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// The S256 challenge of [`VERIFIER`].
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
/// A well-formed verifier that does not match [`CHALLENGE`].
pub const WRONG_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK";
/// Confidential, first-party.
pub const DEMO_CLIENT: &str = "demo-client";
/// The secret of [`DEMO_CLIENT`].
pub const DEMO_SECRET: &str = "demo-secret";
/// Public, third-party, PKCE required.
pub const DEMO_PUBLIC: &str = "demo-public";
/// Public native application (RFC 8252): loopback redirects may use any port.
pub const NATIVE_APP: &str = "native-app";

/// The demo clients of DESIGN §6, plus a native app.
pub fn clients() -> Vec<Client> {
    let demo_client = Client::confidential(DEMO_CLIENT, DEMO_SECRET)
        .redirect_uri(REDIRECT)
        .grant_types([
            GrantType::AuthorizationCode,
            GrantType::RefreshToken,
            GrantType::ClientCredentials,
        ])
        .scopes(SCOPES)
        .audience(["demo-api"])
        .first_party(true)
        .build()
        .expect("demo-client");
    let demo_public = Client::public(DEMO_PUBLIC)
        .redirect_uri(REDIRECT)
        .grant_types([GrantType::AuthorizationCode, GrantType::RefreshToken])
        .scopes(SCOPES)
        .build()
        .expect("demo-public");
    let native = Client::public(NATIVE_APP)
        .redirect_uri("http://127.0.0.1/callback")
        .grant_types([GrantType::AuthorizationCode, GrantType::RefreshToken])
        .scopes(SCOPES)
        .native(true)
        .build()
        .expect("native-app");
    vec![demo_client, demo_public, native]
}

/// Development keys, generated once per test binary (RSA generation is slow).
fn keys() -> Arc<dyn KeyProvider> {
    static KEYS: OnceLock<Arc<dyn KeyProvider>> = OnceLock::new();
    KEYS.get_or_init(|| Arc::new(LocalKeys::ephemeral_for_development().expect("keys")))
        .clone()
}

/// A provider with its clock and store.
pub struct Env {
    /// The provider under test.
    pub provider: Provider,
    /// Its clock: tests move it instead of sleeping.
    pub clock: Arc<ManualClock>,
    /// Its store, to check what is (not) written.
    pub store: Arc<MemoryGrantStore>,
}

/// The default provider.
pub fn env() -> Env {
    env_with(|b| b)
}

/// A provider whose builder `f` may adjust.
pub fn env_with(f: impl FnOnce(ProviderBuilder) -> ProviderBuilder) -> Env {
    env_on(
        Arc::new(MemoryGrantStore::new()),
        Arc::new(ManualClock::starting_now()),
        f,
    )
}

/// A provider on `store` and `clock` (another instance of a multi-instance deployment,
/// when they are another [`Env`]'s), whose builder `f` may adjust.
pub fn env_on(
    store: Arc<MemoryGrantStore>,
    clock: Arc<ManualClock>,
    f: impl FnOnce(ProviderBuilder) -> ProviderBuilder,
) -> Env {
    let b = Provider::builder(ISSUER)
        .grant_store_arc(store.clone())
        .keys_arc(keys())
        .clients(StaticClients::new(clients()).expect("clients"))
        .users(idpkit_core::testkit::users::TestUsers::demo())
        .clock(clock.clone())
        // ES256: the ephemeral keys of the ring backend cannot include RSA.
        .signing_alg(Algorithm::ES256)
        .dangerous_allow_development_backends();
    Env {
        provider: f(b).build().expect("provider"),
        clock,
        store,
    }
}

/// A user agent: keeps the cookies the provider sets.
#[derive(Debug, Clone, Default)]
pub struct Browser {
    /// Cookies (name, value).
    pub cookies: Vec<(String, String)>,
}

impl Browser {
    /// A browser with no cookie.
    pub fn new() -> Self {
        Self::default()
    }

    /// A request from this browser, with its cookies.
    pub fn request(&self, method: Method, params: &[(&str, &str)]) -> Request {
        let mut r = Request::new(method);
        r.params = Params::from_pairs(params.iter().copied());
        r.cookies = self.cookies.clone();
        r
    }

    /// Stores (or, for `Max-Age=0`, removes) the cookies a response sets.
    pub fn absorb(&mut self, r: &Response) {
        for (k, v) in &r.headers {
            if !k.eq_ignore_ascii_case("set-cookie") {
                continue;
            }
            let mut parts = v.split(';');
            let Some((name, value)) = parts.next().and_then(|p| p.trim().split_once('=')) else {
                continue;
            };
            self.cookies.retain(|(n, _)| n != name);
            let cleared = parts.any(|a| a.trim().eq_ignore_ascii_case("max-age=0"));
            if !cleared {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    /// Absorbs the cookies of an authorization outcome.
    pub fn absorb_outcome(&mut self, a: &Authorization) {
        match a {
            Authorization::Respond(r) => self.absorb(r),
            Authorization::Interaction(p) => self.absorb(&p.response),
        }
    }

    /// The value of cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Authorization request parameters for `client_id`: `response_type=code`, `scope`, and,
/// for the public clients, the PKCE challenge of [`VERIFIER`]; `extra` is appended.
pub fn authz<'a>(
    client_id: &'a str,
    scope: &'a str,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut p = vec![
        ("client_id", client_id),
        ("response_type", "code"),
        ("scope", scope),
    ];
    if client_id != DEMO_CLIENT {
        p.push(("code_challenge", CHALLENGE));
        p.push(("code_challenge_method", "S256"));
    }
    p.extend_from_slice(extra);
    p
}

impl Env {
    /// A GET to the authorization endpoint from `b`, which keeps the cookies set.
    pub async fn authorize(&self, b: &mut Browser, params: &[(&str, &str)]) -> Authorization {
        let a = self
            .provider
            .authorize(&b.request(Method::Get, params))
            .await;
        b.absorb_outcome(&a);
        a
    }

    /// The host's page submits `outcome` for interaction `id` from `b`.
    pub async fn finish(
        &self,
        b: &mut Browser,
        id: &str,
        outcome: InteractionOutcome,
    ) -> Result<Authorization, OAuthError> {
        let a = self
            .provider
            .finish_interaction(id, &b.request(Method::Post, &[]), outcome)
            .await?;
        b.absorb_outcome(&a);
        Ok(a)
    }

    /// Runs the authorization request to its answer: logs alice in and approves every asked
    /// scope when the provider asks. Returns the response to the client.
    pub async fn run_authorization(&self, b: &mut Browser, params: &[(&str, &str)]) -> Response {
        let mut a = self.authorize(b, params).await;
        loop {
            match a {
                Authorization::Respond(r) => return r,
                Authorization::Interaction(p) => {
                    let outcome = match p.needs {
                        Needs::Login => InteractionOutcome::Login {
                            subject: "alice".into(),
                        },
                        Needs::Consent => InteractionOutcome::Consent {
                            scopes: self
                                .provider
                                .interaction(&p.id, &b.request(Method::Get, &[]))
                                .await
                                .expect("interaction details")
                                .scopes,
                        },
                    };
                    a = self
                        .finish(b, &p.id, outcome)
                        .await
                        .expect("interaction step");
                }
            }
        }
    }

    /// A code for `client_id` with `scope`, after whatever login and consent is needed.
    pub async fn code(&self, b: &mut Browser, client_id: &str, scope: &str) -> String {
        let r = self
            .run_authorization(b, &authz(client_id, scope, &[]))
            .await;
        param(&redirect_params(&r), "code")
            .expect("a code in the redirect")
            .to_owned()
    }

    /// A token-endpoint POST: `client_secret_post` for demo-client, `client_id` alone for the
    /// public clients. Returns the status and the JSON body.
    pub async fn token(&self, client_id: &str, pairs: &[(&str, &str)]) -> (u16, Value) {
        let r = self.token_response(client_id, pairs).await;
        (r.status, r.json_value())
    }

    /// Like [`token`](Self::token), the whole response.
    pub async fn token_response(&self, client_id: &str, pairs: &[(&str, &str)]) -> Response {
        let secret = (client_id == DEMO_CLIENT).then_some(DEMO_SECRET);
        self.provider
            .token(&token_request(pairs, client_id, secret))
            .await
    }

    /// A pushed authorization request (RFC 9126 §2.1) of `pairs` by `client_id`,
    /// authenticated as at the token endpoint (a `client_id` in `pairs` is dropped: the
    /// credentials carry it). Returns the status and the JSON body.
    pub async fn push(&self, client_id: &str, pairs: &[(&str, &str)]) -> (u16, Value) {
        let pairs: Vec<(&str, &str)> = pairs
            .iter()
            .copied()
            .filter(|(k, _)| *k != "client_id")
            .collect();
        let secret = (client_id == DEMO_CLIENT).then_some(DEMO_SECRET);
        let r = self
            .provider
            .pushed_authorization_request(&token_request(&pairs, client_id, secret))
            .await;
        (r.status, r.json_value())
    }

    /// Exchanges `code` for `client_id` with the redirect URI and, for public clients, the
    /// verifier of [`CHALLENGE`].
    pub async fn exchange(&self, client_id: &str, code: &str) -> (u16, Value) {
        let mut pairs = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
        ];
        if client_id != DEMO_CLIENT {
            pairs.push(("code_verifier", VERIFIER));
        }
        self.token(client_id, &pairs).await
    }

    /// Tokens for `client_id` and `scope` through a fresh browser.
    pub async fn tokens(&self, client_id: &str, scope: &str) -> Value {
        let code = self.code(&mut Browser::new(), client_id, scope).await;
        let (status, body) = self.exchange(client_id, &code).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// A refresh by `client_id`.
    pub async fn refresh(&self, client_id: &str, refresh_token: &str) -> (u16, Value) {
        self.token(
            client_id,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
        .await
    }

    /// Introspection by demo-client (RFC 7662).
    pub async fn introspect(&self, token: &str) -> Value {
        let r = self
            .provider
            .introspect(&token_request(
                &[("token", token)],
                DEMO_CLIENT,
                Some(DEMO_SECRET),
            ))
            .await;
        assert_eq!(r.status, 200);
        r.json_value()
    }

    /// Whether introspection calls `token` active.
    pub async fn active(&self, token: &str) -> bool {
        let v = self.introspect(token).await;
        match v["active"].as_bool() {
            Some(true) => true,
            _ => {
                assert_eq!(v, json!({"active": false}), "inactive is exactly this");
                false
            }
        }
    }

    /// A UserInfo GET with the Bearer `access_token`.
    pub async fn userinfo(&self, access_token: &str) -> Response {
        let mut r = Request::new(Method::Get);
        r.authorization = Some(format!("Bearer {access_token}"));
        self.provider.userinfo(&r).await
    }

    /// Moves the clock.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// The clock's time, as a Unix timestamp.
    pub fn now(&self) -> i64 {
        use idpkit_core::Clock;
        self.clock.now().unix_timestamp()
    }
}

/// The response of an outcome that must answer at once (no interaction).
pub fn respond(a: Authorization) -> Response {
    match a {
        Authorization::Respond(r) => r,
        Authorization::Interaction(p) => {
            panic!("expected a response, got interaction {:?}", p.needs)
        }
    }
}

/// The pending interaction of an outcome that must need one.
pub fn pending(a: Authorization) -> PendingInteraction {
    match a {
        Authorization::Interaction(p) => p,
        Authorization::Respond(r) => panic!(
            "expected an interaction, got {} {:?}",
            r.status,
            r.header_value("location")
        ),
    }
}

/// The pending interaction, which must need `needs`.
pub fn pending_for(a: Authorization, needs: Needs) -> PendingInteraction {
    let p = pending(a);
    assert_eq!(p.needs, needs);
    p
}

/// The `Location` header.
pub fn location(r: &Response) -> &str {
    r.header_value("location").expect("a Location header")
}

/// The parameters of a redirect to [`REDIRECT`] (or any client URI): its query or its
/// fragment. Checks the 303 status.
pub fn redirect_params(r: &Response) -> Vec<(String, String)> {
    assert_eq!(r.status, 303, "a redirect");
    let loc = location(r);
    let (_, rest) = loc
        .split_once('#')
        .or_else(|| loc.split_once('?'))
        .unwrap_or_else(|| panic!("no parameters in {loc}"));
    Params::parse(rest.as_bytes()).pairs().to_vec()
}

/// The value of `name` in `pairs`.
pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Checks an error redirect to [`REDIRECT`] in the query: `error`, RFC 9207 `iss`, and
/// `state` echoed when given. Returns the parameters.
pub fn assert_error_redirect(
    a: Authorization,
    error: &str,
    state: Option<&str>,
) -> Vec<(String, String)> {
    let r = respond(a);
    assert!(
        location(&r).starts_with(&format!("{REDIRECT}?")),
        "{}",
        location(&r)
    );
    let p = redirect_params(&r);
    assert_eq!(param(&p, "error"), Some(error), "{p:?}");
    assert!(param(&p, "code").is_none());
    assert_eq!(
        param(&p, "state"),
        state,
        "state echoed (RFC 6749 §4.1.2.1)"
    );
    assert_eq!(
        param(&p, "iss"),
        Some(ISSUER),
        "RFC 9207 §2: iss on errors too"
    );
    p
}

/// Checks an error shown to the user (RFC 6749 §4.1.2.1: never redirected): status 400, no
/// `Location`, an HTML page naming the `needle`. Returns the page.
pub fn assert_shown_error(a: Authorization, needle: &str) -> String {
    let r = respond(a);
    assert_eq!(r.status, 400);
    assert!(
        r.header_value("location").is_none(),
        "must not redirect: {:?}",
        r.header_value("location")
    );
    assert_eq!(r.header_value("x-frame-options"), Some("DENY"));
    let Body::Html(html) = &r.body else {
        panic!("an HTML page for the user")
    };
    assert!(html.contains(needle), "{html}");
    html.clone()
}

/// The JSON payload of a JWT (not verified: the tests read what the provider wrote).
pub fn jwt_claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

/// The `error` member of a JSON error body.
pub fn error(v: &Value) -> &str {
    v["error"].as_str().unwrap_or("<none>")
}

/// A provider on `store` (shared with other providers: instances share only the store)
/// knowing the demo clients and `extra`; `f` may adjust the builder.
pub fn env_on_with(
    store: Arc<MemoryGrantStore>,
    clock: Arc<ManualClock>,
    extra: Vec<Client>,
    f: impl FnOnce(ProviderBuilder) -> ProviderBuilder,
) -> Env {
    let mut all = clients();
    all.extend(extra);
    let b = Provider::builder(ISSUER)
        .grant_store_arc(store.clone())
        .keys_arc(keys())
        .clients(StaticClients::new(all).expect("clients"))
        .users(idpkit_core::testkit::users::TestUsers::demo())
        .clock(clock.clone())
        .signing_alg(Algorithm::ES256)
        .dangerous_allow_development_backends();
    Env {
        provider: f(b).build().expect("provider"),
        clock,
        store,
    }
}

/// A compact JWS of `claims` signed by `key`, with `header` members added to `alg` (and
/// `kid` unless `header` sets `"kid": null`).
pub fn sign_jws(key: &idpkit_core::SigningKey, header: Value, claims: &Value) -> String {
    let mut h = json!({"alg": key.alg().as_str(), "kid": key.kid()});
    for (k, v) in header.as_object().expect("a header object") {
        if v.is_null() {
            h.as_object_mut().expect("object").remove(k);
        } else {
            h[k] = v.clone();
        }
    }
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(h.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = key.sign(input.as_bytes()).expect("sign");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// A compact JWS of `claims` with HMAC `alg` under `secret` (`client_secret_jwt`).
pub fn mac_jws(alg: idpkit_core::MacAlgorithm, secret: &[u8], claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(json!({"alg": alg.as_str()}).to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mac = idpkit_core::crypto::hmac_sign(alg, secret, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac))
}

/// An unsigned JWS (`alg: none`, RFC 7519 §6): must be refused everywhere.
pub fn unsigned_jws(claims: &Value) -> String {
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none"}).to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}
