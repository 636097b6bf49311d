//! Federated login in-process, with a scripted upstream: configuration checks, account
//! linking (custom linker, collisions, linker failure), how federated claims combine with
//! the host's own and when they stop counting, mix-up and browser binding of the callback,
//! and that a failed upstream login ends the interaction with an error redirect.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use idpkit_core::federation::{
    AccountLinker, ExternalIdentity, FederationError, Link, Subprovider, UpstreamRedirect,
    UpstreamRequest,
};
use idpkit_core::testkit::flows::token_request;
use idpkit_core::{
    Algorithm, Authorization, Claims, Client, ConfigError, GrantType, LocalKeys, MemoryGrantStore,
    Method, Params, Provider, Request, Response, StaticClients, StoreError, UserStore,
    parse_cookies,
};
use serde_json::json;

const REDIRECT: &str = "https://app.example/cb";

/// An upstream that "logs in" whoever the callback's `user` parameter names, after checking
/// that `state` comes back; `fail` makes it answer unavailable.
struct Scripted {
    name: &'static str,
    fail: AtomicBool,
}

#[async_trait]
impl Subprovider for Scripted {
    fn name(&self) -> &str {
        self.name
    }
    fn issuer(&self) -> &str {
        "https://upstream.example"
    }
    async fn start(&self, r: &UpstreamRequest) -> Result<UpstreamRedirect, FederationError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(FederationError::Unavailable("down for maintenance".into()));
        }
        Ok(UpstreamRedirect {
            url: format!(
                "https://upstream.example/authorize?redirect_uri={}&force_login={}&max_age={:?}",
                r.redirect_uri, r.force_login, r.max_age
            ),
            state: format!("state-for-{}", r.interaction_id),
        })
    }
    async fn finish(
        &self,
        state: &str,
        callback: &Params,
        _redirect_uri: &str,
    ) -> Result<ExternalIdentity, FederationError> {
        if !state.starts_with("state-for-") {
            return Err(FederationError::Callback("bad state".into()));
        }
        let user = callback
            .get("user")
            .ok()
            .flatten()
            .ok_or_else(|| FederationError::Denied("no user".into()))?;
        let mut claims = Claims::new();
        claims.insert("email".into(), json!(format!("{user}@upstream.example")));
        claims.insert("name".into(), json!(format!("Upstream {user}")));
        claims.insert("email_verified".into(), json!(true));
        // `auth_time=none` or `auth_time=SECONDS` in the callback: what the upstream says.
        let auth_time = match callback.get("auth_time").ok().flatten() {
            Some("none") => None,
            Some(t) => Some(t.parse().expect("auth_time")),
            None => Some(1_700_000_000),
        };
        Ok(ExternalIdentity {
            provider: self.name.into(),
            subject: user.into(),
            claims,
            auth_time,
        })
    }
}

/// The host knows `local-bob` (name and an unverified email) until `forget_bob`.
struct HostUsers {
    forget_bob: Arc<AtomicBool>,
}

#[async_trait]
impl UserStore for HostUsers {
    async fn claims(&self, subject: &str, _: &[String]) -> Result<Option<Claims>, StoreError> {
        Ok(
            (subject == "local-bob" && !self.forget_bob.load(Ordering::SeqCst)).then(|| {
                let mut c = Claims::new();
                c.insert("name".into(), json!("Bob (host record)"));
                c.insert("email".into(), json!("bob@host.example"));
                c
            }),
        )
    }
}

/// Links upstream `bob` to the host's `local-bob`; `eve` to `local-bob` as if it were a
/// federated-only subject (a collision); `ghost` to a local account that does not exist;
/// refuses `mallory` with a store error; everyone else gets `fed-<name>`.
struct Linker;

#[async_trait]
impl AccountLinker for Linker {
    async fn link(&self, issuer: &str, id: &ExternalIdentity) -> Result<Link, StoreError> {
        assert_eq!(issuer, "https://upstream.example");
        Ok(match id.subject.as_str() {
            "bob" => Link::Existing("local-bob".into()),
            "eve" => Link::Federated("local-bob".into()),
            "ghost" => Link::Existing("local-ghost".into()),
            "mallory" => return Err(StoreError::backend("the account database is down")),
            other => Link::Federated(format!("fed-{other}")),
        })
    }
}

struct Setup {
    provider: Provider,
    upstream: Arc<Scripted>,
    forget_bob: Arc<AtomicBool>,
    store: Arc<MemoryGrantStore>,
}

fn builder_with(
    store: Arc<MemoryGrantStore>,
    forget_bob: Arc<AtomicBool>,
) -> idpkit_core::ProviderBuilder {
    let client = Client::confidential("app", "app-secret")
        .redirect_uri(REDIRECT)
        .grant_types([GrantType::AuthorizationCode])
        .scopes(["openid", "profile", "email"])
        .first_party(true)
        .build()
        .expect("client");
    Provider::builder("https://idp.example")
        .grant_store_arc(store)
        .keys(LocalKeys::ephemeral_for_development().expect("keys"))
        .clients(StaticClients::new([client]).expect("clients"))
        .users(HostUsers { forget_bob })
        .signing_alg(Algorithm::ES256)
        .dangerous_allow_development_backends()
}

fn builder() -> idpkit_core::ProviderBuilder {
    builder_with(Arc::new(MemoryGrantStore::new()), Arc::default())
}

fn scripted(name: &'static str) -> Arc<Scripted> {
    Arc::new(Scripted {
        name,
        fail: AtomicBool::new(false),
    })
}

fn setup() -> Setup {
    let upstream = scripted("corp");
    let store = Arc::new(MemoryGrantStore::new());
    let forget_bob = Arc::new(AtomicBool::new(false));
    let provider = builder_with(store.clone(), forget_bob.clone())
        .upstream_arc(upstream.clone())
        .account_linker(Linker)
        .build()
        .expect("provider");
    Setup {
        provider,
        upstream,
        forget_bob,
        store,
    }
}

fn cookies_of(r: &Response) -> Vec<(String, String)> {
    r.headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .flat_map(|(_, v)| {
            parse_cookies(v.split(';').next().unwrap_or_default()).collect::<Vec<_>>()
        })
        .collect()
}

/// authorize with `idp_hint=corp` (plus `extra`): the redirect to the upstream.
async fn to_upstream(p: &Provider, extra: &[(&str, &str)]) -> Response {
    let mut req = Request::new(Method::Get);
    let mut pairs = vec![
        ("client_id", "app"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid profile email"),
        ("idp_hint", "corp"),
        ("state", "s"),
    ];
    pairs.extend_from_slice(extra);
    req.params = Params::from_pairs(pairs);
    let Authorization::Respond(r) = p.authorize(&req).await else {
        panic!("idp_hint goes straight to the upstream")
    };
    r
}

/// The callback for `user` at upstream `at`'s callback, with the browser's cookies.
async fn callback(p: &Provider, to_upstream: &Response, at: &str, user: &str) -> Response {
    let mut cb = Request::new(Method::Get);
    cb.cookies = cookies_of(to_upstream);
    cb.params = Params::from_pairs([("user", user)]);
    match p.federation_callback(at, &cb).await {
        Authorization::Respond(r) => r,
        Authorization::Interaction(i) => panic!("first-party client: no consent step, got {i:?}"),
    }
}

async fn federated(p: &Provider, user: &str) -> Response {
    let up = to_upstream(p, &[]).await;
    let loc = up.header_value("location").expect("location");
    assert!(
        loc.starts_with("https://upstream.example/authorize"),
        "{loc}"
    );
    assert!(
        loc.contains("redirect_uri=https://idp.example/federation/callback/corp&"),
        "each upstream has its own callback URL: {loc}"
    );
    callback(p, &up, "corp", user).await
}

fn redirect_params(r: &Response) -> Params {
    let loc = r.header_value("location").expect("a redirect");
    assert!(loc.starts_with(REDIRECT), "{loc}");
    Params::parse(loc.split_once('?').expect("query").1.as_bytes())
}

fn error_of(r: &Response) -> String {
    let p = redirect_params(r);
    assert!(
        p.get("code").expect("one").is_none(),
        "no code with an error"
    );
    p.get("error").expect("one").unwrap_or_default().to_owned()
}

async fn exchange(p: &Provider, r: &Response) -> Response {
    let params = redirect_params(r);
    let code = params.get("code").expect("one").expect("a code");
    p.token(&token_request(
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
        ],
        "app",
        Some("app-secret"),
    ))
    .await
}

async fn id_token_claims(p: &Provider, r: &Response) -> serde_json::Value {
    let resp = exchange(p, r).await;
    assert_eq!(resp.status, 200, "{:?}", resp.json_value());
    let token = resp.json_value()["id_token"]
        .as_str()
        .expect("id_token")
        .to_owned();
    use base64::Engine;
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.split('.').nth(1).expect("payload"))
        .expect("b64");
    serde_json::from_slice(&payload).expect("json")
}

#[tokio::test]
async fn federated_claims_and_linked_accounts() {
    let s = setup();
    let p = &s.provider;
    // An upstream user the host does not know: the mapped claims are the user's claims, and
    // auth_time is the upstream's.
    let c = id_token_claims(p, &federated(p, "carol").await).await;
    assert_eq!(c["sub"], json!("fed-carol"), "the linker's subject");
    assert_eq!(c["email"], json!("carol@upstream.example"));
    assert_eq!(c["email_verified"], json!(true));
    assert_eq!(c["name"], json!("Upstream carol"));
    assert_eq!(c["auth_time"], json!(1_700_000_000));

    // Linked to a host account: the host's claims win; the upstream's `email_verified` is not
    // mixed into the host's (unverified) email.
    let c = id_token_claims(p, &federated(p, "bob").await).await;
    assert_eq!(c["sub"], json!("local-bob"));
    assert_eq!(c["name"], json!("Bob (host record)"));
    assert_eq!(c["email"], json!("bob@host.example"));
    assert!(c.get("email_verified").is_none(), "{c}");

    // The host deletes the account: its tokens are refused, whatever the upstream said.
    let r = federated(p, "bob").await;
    s.forget_bob.store(true, Ordering::SeqCst);
    let resp = exchange(p, &r).await;
    assert_eq!(resp.status, 400);
    assert_eq!(resp.json_value()["error"], json!("invalid_grant"));
}

#[tokio::test]
async fn a_removed_upstream_no_longer_vouches_for_its_users() {
    let s = setup();
    let r = federated(&s.provider, "carol").await;
    // The same store, with corp removed from the configuration.
    let without = builder_with(s.store.clone(), Arc::default())
        .upstream_arc(scripted("partner"))
        .build()
        .expect("provider");
    let resp = exchange(&without, &r).await;
    assert_eq!(resp.status, 400, "{:?}", resp.json_value());
    assert_eq!(resp.json_value()["error"], json!("invalid_grant"));
}

#[tokio::test]
async fn linking_errors_and_collisions_give_no_code() {
    let s = setup();
    let p = &s.provider;
    for user in ["mallory", "eve", "ghost"] {
        let r = federated(p, user).await;
        assert_eq!(error_of(&r), "server_error", "{user}");
        assert_eq!(redirect_params(&r).get("state").expect("one"), Some("s"));
    }
    // The federation cookie is cleared.
    let r = federated(p, "eve").await;
    assert!(
        r.headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("set-cookie")
                && v.starts_with("__Host-idpkit_federation=;")
                && v.contains("Max-Age=0")),
        "{:?}",
        r.headers
    );
}

#[tokio::test]
async fn upstream_failures_end_the_interaction() {
    let s = setup();
    let p = &s.provider;
    // The upstream denies: access_denied, and the interaction is over.
    let up = to_upstream(p, &[]).await;
    let r = callback(p, &up, "corp", "").await;
    assert_eq!(error_of(&r), "access_denied");
    let id = cookies_of(&up)
        .into_iter()
        .find(|(k, _)| k == "__Host-idpkit_federation")
        .expect("federation cookie")
        .1;
    let mut browser = Request::new(Method::Get);
    browser.cookies = cookies_of(&up);
    assert!(
        p.interaction(&id, &browser).await.is_err(),
        "interaction ended"
    );

    // The upstream is down when the login starts: temporarily_unavailable at once.
    s.upstream.fail.store(true, Ordering::SeqCst);
    let mut req = Request::new(Method::Get);
    req.params = Params::from_pairs([
        ("client_id", "app"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid"),
        ("acr_values", "urn:mace:incommon:iap:silver idp:corp"),
    ]);
    let Authorization::Respond(r) = p.authorize(&req).await else {
        panic!("an error redirect")
    };
    assert_eq!(error_of(&r), "temporarily_unavailable");
}

#[tokio::test]
async fn prompt_login_and_max_age_are_passed_upstream() {
    let s = setup();
    let up = to_upstream(&s.provider, &[("prompt", "login"), ("max_age", "60")]).await;
    let loc = up.header_value("location").expect("location");
    assert!(loc.contains("force_login=true&max_age=Some(60)"), "{loc}");
    let up = to_upstream(&s.provider, &[]).await;
    let loc = up.header_value("location").expect("location");
    assert!(loc.contains("force_login=false&max_age=None"), "{loc}");
}

#[tokio::test]
async fn max_age_is_enforced_on_the_upstream_auth_time_oidc_core_3_1_2_1() {
    let s = setup();
    let p = &s.provider;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    let login = |auth_time: String| async move {
        let up = to_upstream(p, &[("max_age", "600")]).await;
        let mut cb = Request::new(Method::Get);
        cb.cookies = cookies_of(&up);
        cb.params = Params::from_pairs([("user", "carol"), ("auth_time", auth_time.as_str())]);
        match p.federation_callback("corp", &cb).await {
            Authorization::Respond(r) => r,
            Authorization::Interaction(i) => panic!("no consent step, got {i:?}"),
        }
    };
    // A recent upstream login: its auth_time becomes the local one.
    let fresh = login((now - 60).to_string()).await;
    assert_eq!(
        id_token_claims(p, &fresh).await["auth_time"],
        json!(now - 60)
    );
    // Older than max_age, or with no auth_time at all (which is not "now"): access_denied,
    // no code, no SSO session.
    for (auth_time, why) in [
        ((now - 3600).to_string(), "stale"),
        ("none".into(), "missing"),
    ] {
        let r = login(auth_time).await;
        assert_eq!(error_of(&r), "access_denied", "{why}");
        let d = redirect_params(&r)
            .get("error_description")
            .expect("one")
            .unwrap_or_default()
            .to_owned();
        assert!(d.contains("max_age"), "{why}: {d}");
        assert!(
            !cookies_of(&r)
                .iter()
                .any(|(k, v)| k.ends_with("idpkit_session") && !v.is_empty()),
            "{why}: no session"
        );
    }
    // An auth_time in the future is not credible either.
    let r = login((now + 3600).to_string()).await;
    assert_eq!(error_of(&r), "access_denied");
    // Without max_age a missing auth_time is the time of the upstream's answer.
    let up = to_upstream(p, &[]).await;
    let mut cb = Request::new(Method::Get);
    cb.cookies = cookies_of(&up);
    cb.params = Params::from_pairs([("user", "carol"), ("auth_time", "none")]);
    let Authorization::Respond(r) = p.federation_callback("corp", &cb).await else {
        panic!("no consent step")
    };
    let t = id_token_claims(p, &r).await["auth_time"]
        .as_i64()
        .expect("auth_time");
    assert!((now..now + 60).contains(&t), "{t} vs {now}");
}

#[tokio::test]
async fn an_answer_at_another_upstreams_callback_is_refused() {
    let up2 = scripted("partner");
    let s = setup();
    let p = builder_with(s.store.clone(), Arc::default())
        .upstream_arc(s.upstream.clone())
        .upstream_arc(up2)
        .account_linker(Linker)
        .build()
        .expect("provider");
    // The login went to corp; its answer is delivered at partner's callback (mix-up).
    let up = to_upstream(&p, &[]).await;
    let r = callback(&p, &up, "partner", "carol").await;
    assert_eq!(error_of(&r), "access_denied");
}

#[tokio::test]
async fn a_callback_without_the_browser_binding_is_an_error_page() {
    let s = setup();
    let p = &s.provider;
    let up = to_upstream(p, &[]).await;
    // The real interaction id, but without the interaction's binding cookie (another
    // browser that learned the id).
    let fed = cookies_of(&up)
        .into_iter()
        .find(|(k, _)| k == "__Host-idpkit_federation")
        .expect("federation cookie");
    let mut cb = Request::new(Method::Get);
    cb.cookies = vec![fed];
    cb.params = Params::from_pairs([("user", "carol")]);
    let Authorization::Respond(r) = p.federation_callback("corp", &cb).await else {
        panic!("an error page")
    };
    assert_eq!(r.status, 400);
    assert!(r.header_value("location").is_none());
    // No cookie at all.
    cb.cookies.clear();
    let Authorization::Respond(r) = p.federation_callback("corp", &cb).await else {
        panic!("an error page")
    };
    assert_eq!(r.status, 400);
    // The genuine browser can still finish: the failed attempts consumed nothing.
    let r = callback(p, &up, "corp", "carol").await;
    assert!(redirect_params(&r).get("code").expect("one").is_some());
}

#[tokio::test]
async fn upstream_names_are_checked_at_build() {
    let err = builder()
        .upstream_arc(scripted("corp"))
        .upstream_arc(scripted("corp"))
        .build()
        .expect_err("duplicate");
    assert!(
        matches!(err, ConfigError::Setting { knob: "upstream", ref reason } if reason.contains("two upstreams")),
        "{err}"
    );
    let err = builder()
        .upstream_arc(scripted("corp sso"))
        .build()
        .expect_err("space");
    assert!(
        matches!(
            err,
            ConfigError::Setting {
                knob: "upstream",
                ..
            }
        ),
        "{err}"
    );
    let p = builder()
        .upstream_arc(scripted("corp"))
        .upstream_arc(scripted("partner.b-2"))
        .build()
        .expect("two upstreams");
    let names: Vec<String> = p.upstreams().into_iter().map(|u| u.name).collect();
    assert_eq!(names, ["corp", "partner.b-2"]);
}
