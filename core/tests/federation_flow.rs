//! Federated login in-process, with a scripted upstream: configuration checks, account
//! linking (custom linker, linker failure), how federated claims combine with the host's
//! own, and that a failed upstream login stores nothing but the ended interaction.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use idpkit_core::federation::{
    AccountLinker, ExternalIdentity, FederationError, Subprovider, UpstreamRedirect,
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
    async fn start(
        &self,
        id: &str,
        redirect_uri: &str,
    ) -> Result<UpstreamRedirect, FederationError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(FederationError::Unavailable("down for maintenance".into()));
        }
        Ok(UpstreamRedirect {
            url: format!("https://upstream.example/authorize?redirect_uri={redirect_uri}"),
            state: format!("state-for-{id}"),
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
        Ok(ExternalIdentity {
            provider: self.name.into(),
            subject: user.into(),
            claims,
        })
    }
}

/// The host knows `local-bob` (name only); everyone else is unknown to it.
struct HostUsers;

#[async_trait]
impl UserStore for HostUsers {
    async fn claims(&self, subject: &str, _: &[String]) -> Result<Option<Claims>, StoreError> {
        Ok((subject == "local-bob").then(|| {
            let mut c = Claims::new();
            c.insert("name".into(), json!("Bob (host record)"));
            c
        }))
    }
}

/// Links upstream `bob` to the host's `local-bob`; refuses `mallory` with a store error.
struct Linker;

#[async_trait]
impl AccountLinker for Linker {
    async fn link(&self, issuer: &str, id: &ExternalIdentity) -> Result<String, StoreError> {
        assert_eq!(issuer, "https://upstream.example");
        match id.subject.as_str() {
            "bob" => Ok("local-bob".into()),
            "mallory" => Err(StoreError::Backend("the account database is down".into())),
            other => Ok(format!("fed-{other}")),
        }
    }
}

fn builder() -> idpkit_core::ProviderBuilder {
    let client = Client::confidential("app", "app-secret")
        .redirect_uri(REDIRECT)
        .grant_types([GrantType::AuthorizationCode])
        .scopes(["openid", "profile", "email"])
        .first_party(true)
        .build()
        .expect("client");
    Provider::builder("https://idp.example")
        .grant_store(MemoryGrantStore::new())
        .keys(LocalKeys::ephemeral_for_development().expect("keys"))
        .clients(StaticClients::new([client]).expect("clients"))
        .users(HostUsers)
        .signing_alg(Algorithm::ES256)
        .dangerous_allow_development_backends()
}

fn provider() -> (Provider, Arc<Scripted>) {
    let up = Arc::new(Scripted {
        name: "corp",
        fail: AtomicBool::new(false),
    });
    let p = builder()
        .upstream_arc(up.clone())
        .account_linker(Linker)
        .build()
        .expect("provider");
    (p, up)
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

/// authorize with `idp_hint=corp` → the upstream redirect; then the callback for `user`.
async fn federated(p: &Provider, user: &str) -> Response {
    let mut req = Request::new(Method::Get);
    req.params = Params::from_pairs([
        ("client_id", "app"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid profile email"),
        ("idp_hint", "corp"),
        ("state", "s"),
    ]);
    let Authorization::Respond(to_upstream) = p.authorize(&req).await else {
        panic!("idp_hint goes straight to the upstream")
    };
    let loc = to_upstream.header_value("location").expect("location");
    assert!(
        loc.starts_with("https://upstream.example/authorize"),
        "{loc}"
    );
    assert!(
        loc.contains("https://idp.example/federation/callback"),
        "the callback URL is the provider's: {loc}"
    );
    let mut cb = Request::new(Method::Get);
    cb.cookies = cookies_of(&to_upstream);
    cb.params = Params::from_pairs([("user", user)]);
    match p.federation_callback(&cb).await {
        Authorization::Respond(r) => r,
        Authorization::Interaction(i) => panic!("first-party client: no consent step, got {i:?}"),
    }
}

fn redirect_params(r: &Response) -> Params {
    let loc = r.header_value("location").expect("a redirect");
    assert!(loc.starts_with(REDIRECT), "{loc}");
    Params::parse(loc.split_once('?').expect("query").1.as_bytes())
}

async fn id_token_claims(p: &Provider, r: &Response) -> serde_json::Value {
    let params = redirect_params(r);
    let code = params.get("code").expect("one").expect("a code");
    let resp = p
        .token(&token_request(
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
            ],
            "app",
            Some("app-secret"),
        ))
        .await;
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
async fn federated_claims_fill_in_what_the_host_does_not_know() {
    let (p, _) = provider();
    // An upstream user the host does not know: the mapped claims are the user's claims.
    let r = federated(&p, "carol").await;
    let c = id_token_claims(&p, &r).await;
    assert_eq!(c["sub"], json!("fed-carol"), "the linker's subject");
    assert_eq!(c["email"], json!("carol@upstream.example"));
    assert_eq!(c["name"], json!("Upstream carol"));

    // An upstream user linked to a host account: the host's claims win, the upstream's
    // fill in the rest.
    let r = federated(&p, "bob").await;
    let c = id_token_claims(&p, &r).await;
    assert_eq!(c["sub"], json!("local-bob"));
    assert_eq!(c["name"], json!("Bob (host record)"));
    assert_eq!(c["email"], json!("bob@upstream.example"));
}

#[tokio::test]
async fn failures_end_the_interaction_with_an_error_redirect() {
    let (p, up) = provider();
    // The linker fails: server_error to the client, no code.
    let r = federated(&p, "mallory").await;
    let params = redirect_params(&r);
    assert_eq!(params.get("error").expect("one"), Some("server_error"));
    assert_eq!(params.get("state").expect("one"), Some("s"));
    assert!(params.get("code").expect("one").is_none());
    // The federation cookie is cleared.
    assert!(
        r.headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("set-cookie")
                && v.starts_with("idpkit_federation=;")
                && v.contains("Max-Age=0")),
        "{:?}",
        r.headers
    );

    // The upstream denies: access_denied.
    let r = federated(&p, "").await;
    assert_eq!(
        redirect_params(&r).get("error").expect("one"),
        Some("access_denied")
    );

    // The upstream is down when the login starts: temporarily_unavailable at once.
    up.fail.store(true, Ordering::SeqCst);
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
    let params = redirect_params(&r);
    assert_eq!(
        params.get("error").expect("one"),
        Some("temporarily_unavailable")
    );
    assert!(
        params
            .get("error_description")
            .expect("one")
            .unwrap_or_default()
            .contains("down for maintenance")
    );
}

#[tokio::test]
async fn a_callback_without_the_browser_binding_is_an_error_page() {
    let (p, _) = provider();
    let mut cb = Request::new(Method::Get);
    cb.params = Params::from_pairs([("user", "carol")]);
    let Authorization::Respond(r) = p.federation_callback(&cb).await else {
        panic!("an error page")
    };
    assert_eq!(r.status, 400);
    assert!(r.header_value("location").is_none());
    // A forged federation cookie without the interaction's binding cookie.
    cb.cookies = vec![("idpkit_federation".into(), "made-up".into())];
    let Authorization::Respond(r) = p.federation_callback(&cb).await else {
        panic!("an error page")
    };
    assert_eq!(r.status, 400);
    assert!(r.header_value("location").is_none());
}

#[tokio::test]
async fn upstream_names_are_checked_at_build() {
    let named = |name: &'static str| Scripted {
        name,
        fail: AtomicBool::new(false),
    };
    let err = builder()
        .upstream(named("corp"))
        .upstream(named("corp"))
        .build()
        .expect_err("duplicate");
    assert!(
        matches!(err, ConfigError::Setting { knob: "upstream", ref reason } if reason.contains("two upstreams")),
        "{err}"
    );
    let err = builder()
        .upstream(named("corp sso"))
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
        .upstream(named("corp"))
        .upstream(named("partner.b-2"))
        .build()
        .expect("two upstreams");
    let names: Vec<String> = p.upstreams().into_iter().map(|u| u.name).collect();
    assert_eq!(names, ["corp", "partner.b-2"]);
}
