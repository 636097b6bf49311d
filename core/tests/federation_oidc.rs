//! The generic OIDC subprovider against an in-memory upstream (discovery, JWKS, token
//! endpoint; ID tokens minted here): what it refuses in an upstream ID token that the
//! validator alone accepts (`typ`, `azp`, `iat`: OIDC Core §3.1.3.7, RFC 9068 §2.1), and
//! that an upstream's `email_verified` reaches the local claims only from an upstream
//! trusted for it.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idpkit_core::federation::oidc::OidcSubprovider;
use idpkit_core::federation::{ExternalIdentity, FederationError, Subprovider, UpstreamRequest};
use idpkit_core::http::{HttpClient, HttpError, HttpRequest, HttpResponse};
use idpkit_core::{Algorithm, Jwks, Params, SigningKey};
use serde_json::{Value, json};

const UP: &str = "https://up.example";
const CALLBACK: &str = "https://gw.example/federation/callback/up";

/// The upstream: answers discovery and JWKS, and its token endpoint returns an ID token
/// built by `id_token` from the nonce of the pending login.
struct Upstream {
    key: SigningKey,
    header: Mutex<Value>,
    claims: Mutex<Value>,
    nonce: Mutex<String>,
}

fn ok(body: Value) -> HttpResponse {
    HttpResponse {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    }
}

#[async_trait]
impl HttpClient for Upstream {
    async fn send(&self, r: HttpRequest) -> Result<HttpResponse, HttpError> {
        Ok(match r.url.as_str() {
            "https://up.example/.well-known/openid-configuration" => ok(json!({
                "issuer": UP,
                "authorization_endpoint": format!("{UP}/authorize"),
                "token_endpoint": format!("{UP}/token"),
                "jwks_uri": format!("{UP}/jwks"),
            })),
            "https://up.example/jwks" => ok(serde_json::from_slice(
                &Jwks::new(vec![self.key.public_jwk().clone()]).to_json(),
            )
            .expect("jwks")),
            "https://up.example/token" => {
                let mut claims = self.claims.lock().expect("lock").clone();
                claims["nonce"] = json!(self.nonce.lock().expect("lock").clone());
                let header = self.header.lock().expect("lock").clone();
                let h = URL_SAFE_NO_PAD.encode(header.to_string());
                let p = URL_SAFE_NO_PAD.encode(claims.to_string());
                let sig = self.key.sign(format!("{h}.{p}").as_bytes()).expect("sign");
                let id_token = format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode(sig));
                ok(json!({"access_token": "at", "token_type": "Bearer", "id_token": id_token}))
            }
            other => {
                return Err(HttpError {
                    url: other.into(),
                    reason: "no such page".into(),
                });
            }
        })
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

fn setup() -> Arc<Upstream> {
    let key = SigningKey::generate(Algorithm::ES256).expect("key").0;
    let header = json!({"alg": "ES256", "kid": key.kid(), "typ": "JWT"});
    let now = now();
    Arc::new(Upstream {
        key,
        header: Mutex::new(header),
        claims: Mutex::new(json!({
            "iss": UP, "sub": "u-1", "aud": "gw", "iat": now, "exp": now + 300,
            "auth_time": now - 5, "email": "alice@example.com", "email_verified": true,
            "name": "Alice"
        })),
        nonce: Mutex::new(String::new()),
    })
}

fn subprovider(up: &Arc<Upstream>) -> OidcSubprovider {
    OidcSubprovider::new("up", UP, "gw", None, up.clone()).expect("subprovider")
}

/// One login through `sp`: start, the upstream's answer, finish.
async fn login(sp: &OidcSubprovider, up: &Upstream) -> Result<ExternalIdentity, FederationError> {
    let redirect = sp
        .start(&UpstreamRequest::new("i-1", CALLBACK))
        .await
        .expect("start");
    let url = url::Url::parse(&redirect.url).expect("url");
    let param = |k: &str| {
        url.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
            .expect(k)
    };
    *up.nonce.lock().expect("lock") = param("nonce");
    let state = param("state");
    let callback = Params::from_pairs([("code", "c-1"), ("state", state.as_str())]);
    sp.finish(&redirect.state, &callback, CALLBACK).await
}

fn refusal(r: Result<ExternalIdentity, FederationError>) -> String {
    match r {
        Err(e @ FederationError::Upstream(_)) => e.to_string(),
        other => panic!("expected an upstream refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_good_upstream_id_token_gives_the_identity() {
    let up = setup();
    let id = login(&subprovider(&up), &up).await.expect("identity");
    assert_eq!(id.subject, "u-1");
    assert_eq!(id.claims.get("name"), Some(&json!("Alice")));
}

#[tokio::test]
async fn an_access_token_is_refused_as_an_upstream_id_token_rfc9068_2_1() {
    let up = setup();
    up.header.lock().expect("lock")["typ"] = json!("at+jwt");
    let e = refusal(login(&subprovider(&up), &up).await);
    assert!(e.contains("not an ID token"), "{e}");
}

#[tokio::test]
async fn several_audiences_without_our_azp_are_refused_oidc_core_3_1_3_7() {
    let up = setup();
    up.claims.lock().expect("lock")["aud"] = json!(["gw", "another-client"]);
    let e = refusal(login(&subprovider(&up), &up).await);
    assert!(e.contains("2 audiences and no azp"), "{e}");
    up.claims.lock().expect("lock")["azp"] = json!("another-client");
    let e = refusal(login(&subprovider(&up), &up).await);
    assert!(e.contains("not this client"), "{e}");
    up.claims.lock().expect("lock")["azp"] = json!("gw");
    login(&subprovider(&up), &up).await.expect("azp is us");
}

#[tokio::test]
async fn an_upstream_id_token_without_a_recent_iat_is_refused_oidc_core_3_1_3_7() {
    let up = setup();
    up.claims
        .lock()
        .expect("lock")
        .as_object_mut()
        .expect("object")
        .remove("iat");
    let e = refusal(login(&subprovider(&up), &up).await);
    assert!(e.contains("no numeric iat"), "{e}");
    // Minted a day ago with a long lifetime: not an answer to this code exchange.
    up.claims.lock().expect("lock")["iat"] = json!(now() - 86_400);
    let e = refusal(login(&subprovider(&up), &up).await);
    assert!(e.contains("old"), "{e}");
}

#[tokio::test]
async fn email_verified_passes_only_from_an_upstream_trusted_for_it() {
    let up = setup();
    // By default an upstream is not trusted for it: the address stays, unverified.
    let id = login(&subprovider(&up), &up).await.expect("identity");
    assert!(id.claims.get("email_verified").is_none(), "{:?}", id.claims);
    assert_eq!(id.claims.get("email"), Some(&json!("alice@example.com")));
    let trusted = subprovider(&up).trust_email_verified(true);
    let id = login(&trusted, &up).await.expect("identity");
    assert_eq!(id.claims.get("email_verified"), Some(&json!(true)));
}
