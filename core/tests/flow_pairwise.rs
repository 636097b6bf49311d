//! Pairwise subject identifiers (OIDC Core §8.1) and signed userinfo (OIDC Core §5.3.2),
//! in process (#17 items 5 and 6): `sub` per sector, stable across instances sharing the
//! secret, the same in every token and answer a client sees, `sector_identifier_uri`
//! fetched and enforced, a pairwise `id_token_hint` at end_session, and userinfo as a JWT
//! verified with the provider's JWKS.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use idpkit_core::http::{HttpClient, HttpError, HttpRequest, HttpResponse};
use idpkit_core::jose::{KeySet, verify_compact_signature};
use idpkit_core::{
    AccessTokenFormat, Algorithm, Body, Client, ConfigError, GrantType, Jwks, Logout, ManualClock,
    MemoryGrantStore, Method, ProviderBuilder, StaticClients, SubjectType,
};
use serde_json::{Value, json};
use support::*;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const OTHER_SECRET: &[u8] = b"fedcba9876543210fedcba9876543210";
const SECTOR_URI: &str = "https://sector.example/uris.json";

/// The RPs' side of the network: the sector document, and a back-channel logout endpoint.
#[derive(Default)]
struct Net {
    sector_fetches: AtomicUsize,
    logout_tokens: Mutex<Vec<String>>,
}

#[async_trait]
impl HttpClient for Net {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let ok = |body: &[u8]| HttpResponse {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_vec(),
        };
        match (request.method, request.url.as_str()) {
            ("GET", SECTOR_URI) => {
                self.sector_fetches.fetch_add(1, Ordering::SeqCst);
                Ok(ok(br#"["https://x.example/cb", "https://y.example/cb"]"#))
            }
            ("POST", "https://rp-a.example/bc") => {
                let body = String::from_utf8(request.body).expect("utf8");
                let token = body.strip_prefix("logout_token=").expect("form").to_owned();
                self.logout_tokens.lock().expect("lock").push(token);
                Ok(ok(b""))
            }
            _ => Err(HttpError {
                url: request.url,
                reason: "unreachable".into(),
            }),
        }
    }
}

fn rp(id: &str, redirects: &[&str]) -> idpkit_core::ClientBuilder {
    let mut b = Client::public(id)
        .grant_types([GrantType::AuthorizationCode, GrantType::RefreshToken])
        .scopes(["openid", "profile", "email", "offline_access"])
        .audience(["demo-api"])
        .first_party(true);
    for r in redirects {
        b = b.redirect_uri(*r);
    }
    b
}

fn pairwise(id: &str, redirects: &[&str]) -> idpkit_core::ClientBuilder {
    rp(id, redirects).subject_type(SubjectType::Pairwise)
}

fn extra_clients() -> Vec<Client> {
    vec![
        pairwise("pw-a", &["https://rp-a.example/cb"])
            .backchannel_logout_uri("https://rp-a.example/bc", true)
            .post_logout_redirect_uri("https://rp-a.example/bye")
            .build()
            .expect("pw-a"),
        pairwise("pw-a2", &["https://rp-a.example/other"])
            .build()
            .expect("pw-a2"),
        pairwise("pw-a-opaque", &["https://rp-a.example/opaque"])
            .access_token_format(AccessTokenFormat::Opaque)
            .build()
            .expect("pw-a-opaque"),
        pairwise("pw-b", &["https://rp-b.example/cb"])
            .build()
            .expect("pw-b"),
        pairwise(
            "pw-sector",
            &["https://x.example/cb", "https://y.example/cb"],
        )
        .sector_identifier_uri(SECTOR_URI)
        .build()
        .expect("pw-sector"),
        pairwise(
            "pw-bad-sector",
            &["https://x.example/cb", "https://z.example/cb"],
        )
        .sector_identifier_uri(SECTOR_URI)
        .build()
        .expect("pw-bad-sector"),
        rp("signed-ui", &["https://rp-s.example/cb"])
            .userinfo_signed_response_alg(Algorithm::ES256)
            .build()
            .expect("signed-ui"),
        pairwise("signed-pw", &["https://rp-s.example/pw"])
            .userinfo_signed_response_alg(Algorithm::ES256)
            .build()
            .expect("signed-pw"),
        Client::confidential("pw-conf", "pw-conf-secret")
            .redirect_uri("https://rp-c.example/cb")
            .grant_types([GrantType::AuthorizationCode, GrantType::RefreshToken])
            .scopes(["openid", "profile", "offline_access"])
            .first_party(true)
            .subject_type(SubjectType::Pairwise)
            .build()
            .expect("pw-conf"),
        Client::confidential("pw-exchanger", "pw-exchanger-secret")
            .grant_types([GrantType::TokenExchange])
            .scopes(["openid"])
            .build()
            .expect("pw-exchanger"),
        // A resource server of `demo-api`: it may introspect the RPs' tokens.
        Client::confidential("api-rs", "api-rs-secret")
            .grant_types([])
            .resource_server_for(["demo-api"])
            .build()
            .expect("api-rs"),
    ]
}

fn pairwise_env(secret: &[u8], net: Arc<Net>) -> Env {
    let secret = secret.to_vec();
    env_on_with(
        Arc::new(MemoryGrantStore::new()),
        Arc::new(ManualClock::starting_now()),
        extra_clients(),
        move |b| {
            b.pairwise_secret(secret)
                .http_client(net)
                .token_exchange_policy(idpkit_core::ExchangeRules::new([
                    idpkit_core::ExchangeRule::new("pw-exchanger")
                        .subject_audience("demo-api")
                        .audience("demo-backend")
                        .max_scopes(["openid"]),
                ]))
                .logout_skip_confirmation_with_session_hint(true)
        },
    )
}

/// Logs alice in through `client` (redirect `redirect`) in `b` and returns its tokens.
async fn login_in(env: &Env, b: &mut Browser, client: &str, redirect: &str) -> Value {
    let r = env
        .run_authorization(
            b,
            &authz(
                client,
                "openid profile offline_access",
                &[("redirect_uri", redirect)],
            ),
        )
        .await;
    let code = param(&redirect_params(&r), "code")
        .unwrap_or_else(|| panic!("a code for {client}: {:?}", redirect_params(&r)))
        .to_owned();
    let pairs = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect),
        ("code_verifier", VERIFIER),
    ];
    let r = env
        .provider
        .token(&idpkit_core::testkit::flows::token_request(
            &pairs,
            client,
            secret_of(client),
        ))
        .await;
    let body = r.json_value();
    assert_eq!(r.status, 200, "{body}");
    body
}

/// The secret of the confidential clients here.
fn secret_of(client: &str) -> Option<&'static str> {
    match client {
        "pw-conf" => Some("pw-conf-secret"),
        "pw-exchanger" => Some("pw-exchanger-secret"),
        _ => None,
    }
}

async fn login(env: &Env, client: &str, redirect: &str) -> Value {
    login_in(env, &mut Browser::new(), client, redirect).await
}

fn id_sub(tokens: &Value) -> String {
    jwt_claims(tokens["id_token"].as_str().expect("id token"))["sub"]
        .as_str()
        .expect("sub")
        .to_owned()
}

async fn introspect_as_rs(env: &Env, token: &str) -> Value {
    let r = env
        .provider
        .introspect(&idpkit_core::testkit::flows::token_request(
            &[("token", token)],
            "api-rs",
            Some("api-rs-secret"),
        ))
        .await;
    assert_eq!(r.status, 200);
    r.json_value()
}

#[tokio::test]
async fn pairwise_sub_differs_per_sector_and_agrees_within_one_oidc_core_8_1() {
    let env = pairwise_env(SECRET, Arc::default());
    let a = id_sub(&login(&env, "pw-a", "https://rp-a.example/cb").await);
    let a2 = id_sub(&login(&env, "pw-a2", "https://rp-a.example/other").await);
    let b = id_sub(&login(&env, "pw-b", "https://rp-b.example/cb").await);
    let public = id_sub(&login(&env, "signed-ui", "https://rp-s.example/cb").await);
    assert_eq!(public, "alice", "a public client sees the local subject");
    assert_ne!(a, "alice", "a pairwise client never does");
    assert_eq!(a, a2, "one sector (host rp-a.example), one sub");
    assert_ne!(a, b, "another sector, another sub");
    assert_eq!(
        a,
        idpkit_core::pairwise::subject(
            &idpkit_core::pairwise::PairwiseSecret::new(SECRET.to_vec()),
            "rp-a.example",
            "alice"
        ),
        "derived from the sector and the local subject only"
    );
}

#[tokio::test]
async fn instances_with_one_secret_agree_and_another_secret_does_not_oidc_core_8_1() {
    // Separate stores: nothing about the pair is stored anywhere.
    let one = pairwise_env(SECRET, Arc::default());
    let two = pairwise_env(SECRET, Arc::default());
    let other = pairwise_env(OTHER_SECRET, Arc::default());
    let s1 = id_sub(&login(&one, "pw-a", "https://rp-a.example/cb").await);
    let s2 = id_sub(&login(&two, "pw-a", "https://rp-a.example/cb").await);
    let s3 = id_sub(&login(&other, "pw-a", "https://rp-a.example/cb").await);
    assert_eq!(s1, s2, "same secret, same sub on another instance");
    assert_ne!(s1, s3, "another secret, another sub");
}

#[tokio::test]
async fn userinfo_access_tokens_and_introspection_carry_the_id_token_sub_oidc_core_5_3_2() {
    let env = pairwise_env(SECRET, Arc::default());
    let t = login(&env, "pw-a", "https://rp-a.example/cb").await;
    let sub = id_sub(&t);
    let access = t["access_token"].as_str().expect("access token");
    let r = env.userinfo(access).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let info = r.json_value();
    assert_eq!(
        info["sub"],
        sub.as_str(),
        "§5.3.2: userinfo sub = ID token sub"
    );
    assert_eq!(info["name"], "Alice Liddell", "claims of the local user");
    assert_eq!(jwt_claims(access)["sub"], sub.as_str(), "JWT access token");
    let i = introspect_as_rs(&env, access).await;
    assert_eq!(i["active"], true, "{i}");
    assert_eq!(i["sub"], sub.as_str(), "introspection");
    // An opaque access token of the same sector: introspection maps it the same way.
    let o = login(&env, "pw-a-opaque", "https://rp-a.example/opaque").await;
    assert_eq!(id_sub(&o), sub);
    let opaque = o["access_token"].as_str().expect("opaque");
    assert!(!opaque.contains('.'));
    assert_eq!(introspect_as_rs(&env, opaque).await["sub"], sub.as_str());
    assert_eq!(env.userinfo(opaque).await.json_value()["sub"], sub.as_str());
    // A refreshed ID token keeps it.
    let (s, refreshed) = env
        .refresh("pw-a", t["refresh_token"].as_str().expect("refresh"))
        .await;
    assert_eq!(s, 200, "{refreshed}");
    assert_eq!(id_sub(&refreshed), sub);
}

#[tokio::test]
async fn the_sector_identifier_uri_is_fetched_once_and_its_host_is_the_sector_oidc_core_8_1() {
    let net = Arc::new(Net::default());
    let env = pairwise_env(SECRET, net.clone());
    let x = id_sub(&login(&env, "pw-sector", "https://x.example/cb").await);
    let y = id_sub(&login(&env, "pw-sector", "https://y.example/cb").await);
    assert_eq!(x, y);
    assert_eq!(
        x,
        idpkit_core::pairwise::subject(
            &idpkit_core::pairwise::PairwiseSecret::new(SECRET.to_vec()),
            "sector.example",
            "alice"
        )
    );
    assert_eq!(net.sector_fetches.load(Ordering::SeqCst), 1, "cached");
}

#[tokio::test]
async fn a_client_whose_redirect_uri_is_missing_from_its_sector_document_is_refused_oidc_core_8_1()
{
    let net = Arc::new(Net::default());
    let env = pairwise_env(SECRET, net.clone());
    let a = env
        .authorize(
            &mut Browser::new(),
            &authz(
                "pw-bad-sector",
                "openid",
                &[("redirect_uri", "https://x.example/cb")],
            ),
        )
        .await;
    assert_shown_error(a, "unauthorized_client");
    assert_eq!(net.sector_fetches.load(Ordering::SeqCst), 1);
    let (status, body) = env
        .token(
            "pw-bad-sector",
            &[
                ("grant_type", "authorization_code"),
                ("code", "whatever"),
                ("redirect_uri", "https://x.example/cb"),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(
        (status, error(&body)),
        (400, "unauthorized_client"),
        "{body}"
    );
    // Without an HTTP client the document cannot be checked: refused too.
    let offline = env_on_with(
        Arc::new(MemoryGrantStore::new()),
        Arc::new(ManualClock::starting_now()),
        extra_clients(),
        |b| b.pairwise_secret(SECRET.to_vec()),
    );
    let a = offline
        .authorize(
            &mut Browser::new(),
            &authz(
                "pw-sector",
                "openid",
                &[("redirect_uri", "https://x.example/cb")],
            ),
        )
        .await;
    assert_shown_error(a, "unauthorized_client");
}

fn build(f: impl FnOnce(ProviderBuilder) -> ProviderBuilder, client: Client) -> ConfigError {
    let b = idpkit_core::Provider::builder(ISSUER)
        .grant_store(MemoryGrantStore::new())
        .keys(idpkit_core::LocalKeys::ephemeral_for_development().expect("keys"))
        .clients(StaticClients::new([client]).expect("clients"))
        .users(idpkit_core::testkit::users::TestUsers::demo())
        .signing_alg(Algorithm::ES256)
        .dangerous_allow_development_backends();
    match f(b).build() {
        Ok(_) => panic!("built"),
        Err(e) => e,
    }
}

#[test]
fn the_builder_refuses_what_the_provider_cannot_serve() {
    let pw = pairwise("pw", &["https://rp.example/cb"])
        .build()
        .expect("pw");
    let e = build(|b| b, pw.clone());
    assert!(e.to_string().contains("pairwise_secret"), "{e}");
    let e = build(|b| b.pairwise_secret(b"short".to_vec()), pw);
    assert!(e.to_string().contains("32 bytes"), "{e}");
    let eddsa = rp("ed", &["https://rp.example/cb"])
        .userinfo_signed_response_alg(Algorithm::EdDSA)
        .build()
        .expect("ed");
    let e = build(|b| b, eddsa);
    assert!(
        e.to_string().contains("userinfo_signed_response_alg"),
        "{e}"
    );
    // A pairwise client whose redirect URIs have two hosts needs a sector_identifier_uri.
    let e = pairwise("two", &["https://a.example/cb", "https://b.example/cb"])
        .build()
        .expect_err("two hosts");
    assert!(e.to_string().contains("sector_identifier_uri"), "{e}");
}

/// The signed userinfo of `access`, verified with the provider's published JWKS.
async fn verified_userinfo(env: &Env, access: &str) -> Value {
    let r = env.userinfo(access).await;
    assert_eq!(r.status, 200);
    let Body::Jwt(jws) = &r.body else {
        panic!("not a JWT: {:?}", r.body)
    };
    assert_eq!(r.header_value("cache-control"), Some("no-store"));
    let jwks = Jwks::from_document(env.provider.jwks().await.body_bytes()).expect("jwks");
    let keys = KeySet::new(&jwks);
    // §5.3.2 asks for no `exp`: the signature, alg and key checks only.
    let verified = verify_compact_signature(jws, &keys, &[Algorithm::ES256]).expect("verifies");
    assert_eq!(verified.header().alg, Algorithm::ES256);
    serde_json::from_slice(verified.payload()).expect("claims")
}

#[tokio::test]
async fn signed_userinfo_is_a_jws_with_iss_and_aud_oidc_core_5_3_2() {
    let env = pairwise_env(SECRET, Arc::default());
    let t = login(&env, "signed-ui", "https://rp-s.example/cb").await;
    let claims = verified_userinfo(&env, t["access_token"].as_str().expect("at")).await;
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], "signed-ui");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["name"], "Alice Liddell");
    // Pairwise and signed: the signed sub is the ID token's.
    let t = login(&env, "signed-pw", "https://rp-s.example/pw").await;
    let claims = verified_userinfo(&env, t["access_token"].as_str().expect("at")).await;
    assert_eq!(claims["sub"], id_sub(&t).as_str());
    assert_eq!(claims["aud"], "signed-pw");
    // A client without it still gets JSON.
    let t = login(&env, "pw-a", "https://rp-a.example/cb").await;
    let r = env.userinfo(t["access_token"].as_str().expect("at")).await;
    assert!(matches!(r.body, Body::Json(_)));
}

#[tokio::test]
async fn a_pairwise_id_token_hint_maps_back_to_the_session_user_at_end_session() {
    let net = Arc::new(Net::default());
    let env = pairwise_env(SECRET, net.clone());
    let mut b = Browser::new();
    let t = login_in(&env, &mut b, "pw-a", "https://rp-a.example/cb").await;
    let sub = id_sub(&t);
    let l = env
        .provider
        .end_session(&b.request(
            Method::Get,
            &[
                ("id_token_hint", t["id_token"].as_str().expect("id token")),
                ("post_logout_redirect_uri", "https://rp-a.example/bye"),
            ],
        ))
        .await;
    match l {
        Logout::Respond(r) => assert_eq!(r.status, 303, "logged out at once: {r:?}"),
        Logout::Confirm(p) => panic!("the pairwise hint was not recognised: {}", p.id),
    }
    // The back-channel logout token names the user by the same pairwise sub.
    env.provider.deliver_logout_tokens().await.expect("deliver");
    let tokens = net.logout_tokens.lock().expect("lock").clone();
    assert_eq!(tokens.len(), 1, "one logout token");
    assert_eq!(jwt_claims(&tokens[0])["sub"], sub.as_str());
}

#[tokio::test]
async fn a_refresh_token_introspects_with_the_pairwise_sub_rfc7662_2_2() {
    let env = pairwise_env(SECRET, Arc::default());
    let t = login(&env, "pw-conf", "https://rp-c.example/cb").await;
    let r = env
        .provider
        .introspect(&idpkit_core::testkit::flows::token_request(
            &[("token", t["refresh_token"].as_str().expect("refresh"))],
            "pw-conf",
            secret_of("pw-conf"),
        ))
        .await;
    let v = r.json_value();
    assert_eq!(v["active"], true, "{v}");
    assert_eq!(v["token_type"], "refresh_token");
    assert_eq!(v["sub"], id_sub(&t).as_str());
    assert_ne!(v["sub"], "alice");
}

#[tokio::test]
async fn a_pairwise_clients_token_is_exchanged_for_the_local_user_rfc8693_2_1() {
    let env = pairwise_env(SECRET, Arc::default());
    let t = login(&env, "pw-a", "https://rp-a.example/cb").await;
    let r = env
        .provider
        .token(&idpkit_core::testkit::flows::token_request(
            &[
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:token-exchange",
                ),
                ("subject_token", t["access_token"].as_str().expect("at")),
                (
                    "subject_token_type",
                    "urn:ietf:params:oauth:token-type:access_token",
                ),
                ("audience", "demo-backend"),
            ],
            "pw-exchanger",
            secret_of("pw-exchanger"),
        ))
        .await;
    let v = r.json_value();
    assert_eq!(r.status, 200, "{v}");
    // The exchanger is a public-subject client: it sees alice, not pw-a's pairwise sub.
    let exchanged = v["access_token"].as_str().expect("exchanged");
    assert_eq!(jwt_claims(exchanged)["sub"], "alice");
    let info = env.userinfo(exchanged).await;
    assert_eq!(info.status, 200);
    assert_eq!(info.json_value()["sub"], "alice", "the local user's claims");
}

/// A registration request at a provider with registration open and `net` as its network.
async fn register_pairwise(env: &Env, redirects: &[&str]) -> idpkit_core::Response {
    let body = json!({
        "redirect_uris": redirects,
        "token_endpoint_auth_method": "none",
        "subject_type": "pairwise",
        "sector_identifier_uri": SECTOR_URI,
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
    env.provider.register_client(&req).await
}

#[tokio::test]
async fn a_registered_pairwise_clients_sector_document_is_checked_at_registration_oidc_reg_5() {
    let net = Arc::new(Net::default());
    let registry = idpkit_core::MemoryClientRegistry::new();
    let secret = SECRET.to_vec();
    let env = env_on_with(
        Arc::new(MemoryGrantStore::new()),
        Arc::new(ManualClock::starting_now()),
        Vec::new(),
        {
            let (net, registry) = (net.clone(), registry.clone());
            move |b| {
                b.pairwise_secret(secret)
                    .http_client(net)
                    .dynamic_client_registration(
                        Arc::new(registry),
                        idpkit_core::RegistrationPolicy::Open,
                    )
            }
        },
    );
    // A redirect URI the sector document does not list: refused, nothing stored.
    let r = register_pairwise(&env, &["https://x.example/cb", "https://z.example/cb"]).await;
    let v = r.json_value();
    assert_eq!(
        (r.status, error(&v)),
        (400, "invalid_client_metadata"),
        "{v}"
    );
    assert_eq!(net.sector_fetches.load(Ordering::SeqCst), 1);
    // Listed: registered.
    let r = register_pairwise(&env, &["https://x.example/cb"]).await;
    let v = r.json_value();
    assert_eq!(r.status, 201, "{v}");
    assert_eq!(v["subject_type"], "pairwise");
}
