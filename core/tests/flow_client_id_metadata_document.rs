//! Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document-02), in
//! process on the memory store and a manual clock, the documents served by a fake
//! [`HttpClient`]: one lookup feeds every endpoint (authorization, token, refresh, PAR,
//! revocation, introspection), `private_key_jwt` with the document's keys (§8.2), the
//! SSRF guard on the document URL and on a document client's `jwks_uri` (§8.6), redirects
//! not followed (§5), the loopback knob, and the builder's refusal without an HTTP client.

mod support;

use std::sync::Arc;
use std::sync::Mutex;

use async_trait::async_trait;
use idpkit_core::http::{HttpClient, HttpError, HttpRequest, HttpResponse};
use idpkit_core::testkit::flows::token_request;
use idpkit_core::{Algorithm, ConfigError, Jwks, Method, Needs, Params, Request, SigningKey};
use serde_json::{Value, json};
use support::*;

const DOC: &str = "https://agent.example/oauth/client.json";
const KEYED: &str = "https://agent.example/oauth/keyed.json";
const PRIVATE_JWKS: &str = "https://agent.example/oauth/private-jwks.json";
const REDIRECTING: &str = "https://agent.example/oauth/moved.json";
const LOOPBACK: &str = "https://127.0.0.1:8443/client.json";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn document(client_id: &str, extra: Value) -> Vec<u8> {
    let mut d = json!({
        "client_id": client_id,
        "client_name": "Agent",
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "openid profile offline_access",
    });
    for (k, v) in extra.as_object().expect("object") {
        d[k] = v.clone();
    }
    d.to_string().into_bytes()
}

/// The agents' side of the network; records every URL requested.
struct Net {
    key: SigningKey,
    requested: Mutex<Vec<String>>,
}

impl Net {
    fn requested(&self, url: &str) -> usize {
        self.requested
            .lock()
            .expect("lock")
            .iter()
            .filter(|u| *u == url)
            .count()
    }
}

#[async_trait]
impl HttpClient for Net {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        self.requested
            .lock()
            .expect("lock")
            .push(request.url.clone());
        let ok = |body: Vec<u8>| HttpResponse {
            status: 200,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("cache-control".into(), "max-age=600".into()),
            ],
            body,
        };
        let jwks: Value =
            serde_json::from_slice(&Jwks::new(vec![self.key.public_jwk().clone()]).to_json())
                .expect("jwks");
        match request.url.as_str() {
            DOC | LOOPBACK => Ok(ok(document(
                &request.url,
                json!({
                "token_endpoint_auth_method": "none"}),
            ))),
            KEYED => Ok(ok(document(
                KEYED,
                json!({
                "token_endpoint_auth_method": "private_key_jwt", "jwks": jwks}),
            ))),
            PRIVATE_JWKS => Ok(ok(document(
                PRIVATE_JWKS,
                json!({
                "token_endpoint_auth_method": "private_key_jwt",
                "jwks_uri": "https://10.0.0.7/jwks.json"}),
            ))),
            REDIRECTING => Ok(HttpResponse {
                status: 302,
                headers: vec![("location".into(), DOC.into())],
                body: Vec::new(),
            }),
            _ => Err(HttpError {
                url: request.url,
                reason: "unreachable".into(),
            }),
        }
    }
}

fn net() -> Arc<Net> {
    Arc::new(Net {
        key: SigningKey::generate(Algorithm::ES256).expect("key").0,
        requested: Mutex::new(Vec::new()),
    })
}

fn env_for(net: &Arc<Net>, loopback: bool) -> Env {
    let http: Arc<dyn HttpClient> = net.clone();
    env_with(move |b| {
        b.untrusted_http_client(http)
            .client_id_metadata_documents(true)
            .dangerous_allow_loopback_fetch(loopback)
    })
}

fn pushed(client_id: &str, assertion: Option<&str>) -> Request {
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    if let Some(a) = assertion {
        pairs.push(("client_assertion_type", ASSERTION_TYPE));
        pairs.push(("client_assertion", a));
    }
    let mut r = Request::new(Method::Post);
    r.params = Params::from_pairs(pairs);
    r
}

fn assertion(net: &Net, client_id: &str, now: i64) -> String {
    let claims = json!({"iss": client_id, "sub": client_id, "aud": ISSUER, "iat": now,
        "exp": now + 60, "jti": idpkit_core::crypto::random_token()});
    sign_jws(&net.key, json!({}), &claims)
}

#[tokio::test]
async fn every_endpoint_sees_the_same_metadata_document_client_cimd_5() {
    let net = net();
    let env = env_for(&net, false);
    let mut b = Browser::new();
    // Authorization: login, then consent (never skipped), with the document's host.
    let a = env
        .authorize(&mut b, &authz(DOC, "openid offline_access", &[]))
        .await;
    let p = pending_for(a, Needs::Login);
    let a = env
        .finish(
            &mut b,
            &p.id,
            idpkit_core::InteractionOutcome::Login {
                subject: "alice".into(),
            },
        )
        .await
        .expect("login");
    let p = pending_for(a, Needs::Consent);
    let details = env
        .provider
        .interaction(&p.id, &b.request(Method::Get, &[]))
        .await
        .expect("details");
    assert_eq!(
        details.client_id_metadata_document_host.as_deref(),
        Some("agent.example")
    );
    let r = respond(
        env.finish(
            &mut b,
            &p.id,
            idpkit_core::InteractionOutcome::Consent {
                scopes: details.scopes,
            },
        )
        .await
        .expect("consent"),
    );
    let code = param(&redirect_params(&r), "code")
        .expect("code")
        .to_owned();
    // Token endpoint (public client, PKCE), then a refresh.
    let (status, tokens) = env.exchange(DOC, &code).await;
    assert_eq!(status, 200, "{tokens}");
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let (status, refreshed) = env.refresh(DOC, &refresh).await;
    assert_eq!(status, 200, "{refreshed}");
    // Introspection: the client is found (a public client may not introspect, RFC 7662
    // §2.1, which is not "unknown client").
    let access = refreshed["access_token"].as_str().expect("at");
    let r = env
        .provider
        .introspect(&token_request(&[("token", access)], DOC, None))
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.json_value()["error_description"],
        "introspection needs client authentication"
    );
    // PAR as the same public client.
    let r = env
        .provider
        .pushed_authorization_request(&pushed(DOC, None))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.json_value());
    // Revocation by the client itself.
    let new_refresh = refreshed["refresh_token"].as_str().expect("rt");
    let r = env
        .provider
        .revoke(&token_request(&[("token", new_refresh)], DOC, None))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(env.refresh(DOC, new_refresh).await.0, 400, "revoked");
    // A second authorization: consent again, though alice consented.
    let a = env.authorize(&mut b, &authz(DOC, "openid", &[])).await;
    pending_for(a, Needs::Consent);
    assert_eq!(
        net.requested(DOC),
        1,
        "max-age=600: one fetch for all of it"
    );
}

#[tokio::test]
async fn a_private_key_jwt_document_client_authenticates_with_its_published_key_cimd_8_2() {
    let net = net();
    let env = env_for(&net, false);
    let now = env.now();
    let r = env
        .provider
        .pushed_authorization_request(&pushed(KEYED, Some(&assertion(&net, KEYED, now))))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.json_value());
    // Introspection and revocation authenticate it the same way.
    let mut intro = Request::new(Method::Post);
    let jwt = assertion(&net, KEYED, now);
    intro.params = Params::from_pairs([
        ("token", "not-a-token"),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", jwt.as_str()),
    ]);
    let r = env.provider.introspect(&intro).await;
    assert_eq!((r.status, r.json_value()), (200, json!({"active": false})));
    let mut revoke = Request::new(Method::Post);
    let jwt = assertion(&net, KEYED, now);
    revoke.params = Params::from_pairs([
        ("token", "not-a-token"),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", jwt.as_str()),
    ]);
    assert_eq!(env.provider.revoke(&revoke).await.status, 200);
    assert_eq!(net.requested(KEYED), 1, "one fetch for every endpoint");
    // Without the assertion: the document says private_key_jwt, so it is required.
    let r = env
        .provider
        .pushed_authorization_request(&pushed(KEYED, None))
        .await;
    assert_eq!(r.status, 401, "{:?}", r.json_value());
    // Signed by another key: refused.
    let other = SigningKey::generate(Algorithm::ES256).expect("key").0;
    let claims = json!({"iss": KEYED, "sub": KEYED, "aud": ISSUER, "iat": now,
        "exp": now + 60, "jti": "j2"});
    let forged = sign_jws(&other, json!({}), &claims);
    let r = env
        .provider
        .pushed_authorization_request(&pushed(KEYED, Some(&forged)))
        .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn a_document_clients_jwks_uri_is_fetched_through_the_ssrf_guard_cimd_8_6() {
    let net = net();
    let env = env_for(&net, false);
    let now = env.now();
    let r = env
        .provider
        .pushed_authorization_request(&pushed(
            PRIVATE_JWKS,
            Some(&assertion(&net, PRIVATE_JWKS, now)),
        ))
        .await;
    assert_eq!(r.status, 401, "{:?}", r.json_value());
    let v = r.json_value();
    assert_eq!(v["error"], "invalid_client");
    assert!(
        v["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("Private address"),
        "{v}"
    );
    assert_eq!(
        net.requested("https://10.0.0.7/jwks.json"),
        0,
        "never requested"
    );
}

#[tokio::test]
async fn redirects_are_failures_and_are_not_followed_cimd_5() {
    let net = net();
    let env = env_for(&net, false);
    let mut b = Browser::new();
    let a = env
        .authorize(&mut b, &authz(REDIRECTING, "openid", &[]))
        .await;
    let page = assert_shown_error(a, "redirect");
    assert!(page.contains("metadata document was refused"), "{page}");
    assert_eq!(net.requested(REDIRECTING), 1);
    assert_eq!(net.requested(DOC), 0, "the Location is not followed");
}

#[tokio::test]
async fn loopback_documents_need_the_dangerous_knob_cimd_8_6() {
    let net = net();
    let env = env_for(&net, false);
    let a = env
        .authorize(&mut Browser::new(), &authz(LOOPBACK, "openid", &[]))
        .await;
    assert_shown_error(a, "Loopback address");
    assert_eq!(net.requested(LOOPBACK), 0, "refused before any request");
    let env = env_for(&net, true);
    let a = env
        .authorize(&mut Browser::new(), &authz(LOOPBACK, "openid", &[]))
        .await;
    pending_for(a, Needs::Login);
    assert_eq!(net.requested(LOOPBACK), 1);
}

#[tokio::test]
async fn metadata_documents_are_off_by_default_and_need_an_http_client() {
    let net = net();
    let http: Arc<dyn HttpClient> = net.clone();
    let env = env_with(move |b| b.http_client(http));
    let a = env
        .authorize(&mut Browser::new(), &authz(DOC, "openid", &[]))
        .await;
    assert_shown_error(a, "unknown client_id");
    assert_eq!(net.requested(DOC), 0);
    let e = idpkit_core::Provider::builder(ISSUER)
        .grant_store(idpkit_core::MemoryGrantStore::new())
        .keys(idpkit_core::LocalKeys::ephemeral_for_development().expect("keys"))
        .clients(idpkit_core::StaticClients::new([]).expect("clients"))
        .users(idpkit_core::testkit::users::TestUsers::demo())
        .signing_alg(Algorithm::ES256)
        .dangerous_allow_development_backends()
        .client_id_metadata_documents(true)
        .build()
        .expect_err("no HTTP client");
    assert!(
        matches!(
            e,
            ConfigError::Setting {
                knob: "client_id_metadata_documents",
                ..
            }
        ),
        "{e}"
    );
}
