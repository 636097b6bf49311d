//! A signing outage (a KMS down) answers `temporarily_unavailable` and consumes nothing:
//! the authorization code is still redeemable once signing is back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use idpkit_core::testkit::flows::{code_after_login, token_request};
use idpkit_core::testkit::users::TestUsers;
use idpkit_core::{
    Algorithm, Client, GrantType, Jwks, KeyError, KeyProvider, KeyRef, LocalKeys, MemoryGrantStore,
    Provider, Request, StaticClients,
};

/// Development keys behind a switch that makes signing fail like an unreachable KMS.
struct FlakyKeys {
    inner: LocalKeys,
    down: Arc<AtomicBool>,
}

#[async_trait]
impl KeyProvider for FlakyKeys {
    async fn jwks(&self) -> Result<Arc<Jwks>, KeyError> {
        self.inner.jwks().await
    }
    async fn signing_key(&self, alg: Algorithm) -> Result<KeyRef, KeyError> {
        self.inner.signing_key(alg).await
    }
    async fn sign(&self, key: &KeyRef, input: &[u8]) -> Result<Vec<u8>, KeyError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(KeyError::Unavailable("connection refused".into()));
        }
        self.inner.sign(key, input).await
    }
    fn algorithms(&self) -> Vec<Algorithm> {
        self.inner.algorithms()
    }
}

const REDIRECT: &str = "https://app.example/cb";

fn setup() -> (Provider, Arc<AtomicBool>) {
    let down = Arc::new(AtomicBool::new(false));
    let client = Client::confidential("app", "app-secret")
        .redirect_uri(REDIRECT)
        .grant_types([GrantType::AuthorizationCode, GrantType::ClientCredentials])
        .scopes(["openid", "api"])
        .first_party(true)
        .build()
        .expect("client");
    let provider = Provider::builder("https://idp.example")
        .grant_store(MemoryGrantStore::new())
        .keys(FlakyKeys {
            inner: LocalKeys::ephemeral_for_development().expect("keys"),
            down: down.clone(),
        })
        .clients(StaticClients::new([client]).expect("clients"))
        .users(TestUsers::one("u", "u", "pw"))
        .signing_alg(Algorithm::ES256)
        .dangerous_allow_development_backends()
        .build()
        .expect("provider");
    (provider, down)
}

async fn code(p: &Provider) -> String {
    code_after_login(p, "app", REDIRECT, "openid", "u").await
}

fn token_req(pairs: &[(&str, &str)]) -> Request {
    token_request(pairs, "app", Some("app-secret"))
}

#[tokio::test]
async fn signing_outage_is_temporarily_unavailable_and_the_code_survives() {
    let (p, down) = setup();
    let code = code(&p).await;
    let exchange = token_req(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", REDIRECT),
    ]);
    down.store(true, Ordering::SeqCst);
    let r = p.token(&exchange).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.json_value()["error"], "temporarily_unavailable");
    let r = p
        .token(&token_req(&[("grant_type", "client_credentials")]))
        .await;
    assert_eq!(r.status, 503);
    down.store(false, Ordering::SeqCst);
    let r = p.token(&exchange).await;
    assert_eq!(
        r.status,
        200,
        "the code was not consumed by the failed attempt: {:?}",
        r.json_value()
    );
    let r = p.token(&exchange).await;
    assert_eq!(r.status, 400, "and it is single-use afterwards");
}
