//! Storage failures and corrupt records become `server_error` answers: no panic, no
//! half-written grant, and nothing already stored is lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use idpkit_core::testkit::flows::token_request;
use idpkit_core::testkit::users::TestUsers;
use idpkit_core::time::OffsetDateTime;
use idpkit_core::{
    Algorithm, Authorization, Client, Consume, GrantStore, GrantType, LocalKeys, MemoryGrantStore,
    Method, Params, Provider, Record, RecordKind, Request, StaticClients, StoreError, Stored,
};

/// A store that can be switched to fail every call, like a database that went away.
struct Flaky {
    inner: Arc<MemoryGrantStore>,
    down: Arc<AtomicBool>,
}

impl Flaky {
    fn check(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::backend("connection refused"))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl GrantStore for Flaky {
    async fn put(&self, kind: RecordKind, id: &str, record: Record) -> Result<(), StoreError> {
        self.check()?;
        self.inner.put(kind, id, record).await
    }
    async fn get(
        &self,
        kind: RecordKind,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Stored>, StoreError> {
        self.check()?;
        self.inner.get(kind, id, now).await
    }
    async fn consume(
        &self,
        kind: RecordKind,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Consume, StoreError> {
        self.check()?;
        self.inner.consume(kind, id, now).await
    }
    async fn increment(
        &self,
        id: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.check()?;
        self.inner.increment(id, expires_at, now).await
    }
    async fn delete(&self, kind: RecordKind, id: &str) -> Result<(), StoreError> {
        self.check()?;
        self.inner.delete(kind, id).await
    }
    async fn revoke_grant(&self, grant_id: &str) -> Result<u64, StoreError> {
        self.check()?;
        self.inner.revoke_grant(grant_id).await
    }
    async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.check()?;
        self.inner.purge_expired(now).await
    }
    fn is_development(&self) -> bool {
        true
    }
}

fn setup() -> (Provider, Arc<MemoryGrantStore>, Arc<AtomicBool>) {
    let inner = Arc::new(MemoryGrantStore::new());
    let down = Arc::new(AtomicBool::new(false));
    let client = Client::confidential("c", "c-secret")
        .redirect_uri("https://app.example/cb")
        .grant_types([GrantType::AuthorizationCode, GrantType::RefreshToken])
        .dangerous_allow_password_grant()
        .scopes(["openid", "offline_access"])
        .first_party(true)
        .build()
        .expect("client");
    let p = Provider::builder("https://idp.example")
        .grant_store(Flaky {
            inner: inner.clone(),
            down: down.clone(),
        })
        .keys(LocalKeys::ephemeral_for_development().expect("keys"))
        .clients(StaticClients::new([client]).expect("clients"))
        .users(TestUsers::one("u1", "u", "pw"))
        .signing_alg(Algorithm::ES256)
        .dangerous_allow_development_backends()
        .build()
        .expect("provider");
    (p, inner, down)
}

fn req(pairs: &[(&str, &str)]) -> Request {
    token_request(pairs, "c", Some("c-secret"))
}

#[tokio::test]
async fn a_store_outage_is_server_error_and_the_refresh_token_survives_it() {
    let (p, inner, down) = setup();
    let t = p
        .token(&req(&[
            ("grant_type", "password"),
            ("username", "u"),
            ("password", "pw"),
            ("scope", "openid offline_access"),
        ]))
        .await
        .json_value();
    let rt = t["refresh_token"].as_str().expect("rt").to_owned();
    let records = inner.len();
    down.store(true, Ordering::SeqCst);
    let r = p
        .token(&req(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
        ]))
        .await;
    assert_eq!(r.status, 500);
    assert_eq!(r.json_value()["error"], "server_error");
    assert_eq!(r.header_value("cache-control"), Some("no-store"));
    let desc = r.json_value()["error_description"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(
        !desc.contains("connection refused"),
        "internal detail stays in the logs: {desc}"
    );
    // The authorization endpoint shows an error page, it does not panic or redirect.
    let mut authz = Request::new(Method::Get);
    authz.params = Params::from_pairs([
        ("client_id", "c"),
        ("redirect_uri", "https://app.example/cb"),
        ("response_type", "code"),
        ("scope", "openid"),
    ]);
    assert!(
        matches!(p.authorize(&authz).await, Authorization::Respond(ref r) if r.status == 303 && r.header_value("location").is_some_and(|l| l.contains("error=server_error")))
    );
    down.store(false, Ordering::SeqCst);
    assert_eq!(
        inner.len(),
        records,
        "nothing was written or lost during the outage"
    );
    let r = p
        .token(&req(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
        ]))
        .await;
    assert_eq!(
        r.status, 200,
        "the refresh token works once storage is back"
    );
}

#[tokio::test]
async fn a_corrupt_record_is_server_error_not_a_panic() {
    let (p, inner, _) = setup();
    let token = "a-refresh-token-whose-record-is-garbage";
    inner
        .put(
            RecordKind::RefreshToken,
            &idpkit_core::crypto::sha256_b64(token.as_bytes()),
            Record {
                grant_id: Some("g".into()),
                payload: b"\xff not json".to_vec(),
                expires_at: OffsetDateTime::now_utc() + idpkit_core::time::Duration::hours(1),
            },
        )
        .await
        .expect("put");
    let r = p
        .token(&req(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
        ]))
        .await;
    assert_eq!(r.status, 500);
    assert_eq!(r.json_value()["error"], "server_error");
    assert_eq!(
        inner.len(),
        1,
        "the corrupt record is left for inspection, nothing else written"
    );
}
