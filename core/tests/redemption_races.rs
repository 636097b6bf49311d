//! Races on redemption: of two concurrent requests redeeming one refresh token (or code),
//! exactly one gets tokens, and the loser's reuse revocation also kills the winner's tokens
//! even when the store is slow to write them.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use idpkit_core::testkit::flows::token_request;
use idpkit_core::testkit::users::TestUsers;
use idpkit_core::time::{Duration, OffsetDateTime};
use idpkit_core::{
    Algorithm, Client, Consume, GrantStore, GrantType, LocalKeys, ManualClock, MemoryGrantStore,
    Provider, Record, RecordKind, Request, StaticClients, StoreError, Stored,
};

/// A store whose writes of refresh tokens take a while, as over a slow network.
struct SlowWrites(MemoryGrantStore);

#[async_trait]
impl GrantStore for SlowWrites {
    async fn put(&self, kind: RecordKind, id: &str, record: Record) -> Result<(), StoreError> {
        if kind == RecordKind::RefreshToken {
            tokio::time::sleep(StdDuration::from_millis(50)).await;
        }
        self.0.put(kind, id, record).await
    }
    async fn get(
        &self,
        kind: RecordKind,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Stored>, StoreError> {
        self.0.get(kind, id, now).await
    }
    async fn consume(
        &self,
        kind: RecordKind,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Consume, StoreError> {
        self.0.consume(kind, id, now).await
    }
    async fn increment(
        &self,
        id: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.0.increment(id, expires_at, now).await
    }
    async fn delete(&self, kind: RecordKind, id: &str) -> Result<(), StoreError> {
        self.0.delete(kind, id).await
    }
    async fn revoke_grant(&self, grant_id: &str) -> Result<u64, StoreError> {
        self.0.revoke_grant(grant_id).await
    }
    async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.0.purge_expired(now).await
    }
    fn is_development(&self) -> bool {
        true
    }
}

fn provider(grace: Option<Duration>) -> Provider {
    let client = Client::confidential("c", "c-secret")
        .grant_types([GrantType::RefreshToken])
        .dangerous_allow_password_grant()
        .scopes(["openid", "offline_access"])
        .build()
        .expect("client");
    let mut b = Provider::builder("https://idp.example")
        .grant_store(SlowWrites(MemoryGrantStore::new()))
        .keys(LocalKeys::ephemeral_for_development().expect("keys"))
        .clients(StaticClients::new([client]).expect("clients"))
        .users(TestUsers::one("u1", "u", "pw"))
        .clock(Arc::new(ManualClock::starting_now()))
        .signing_alg(Algorithm::ES256)
        .dangerous_allow_development_backends();
    if let Some(g) = grace {
        b = b.refresh_reuse_grace(g);
    }
    b.build().expect("provider")
}

fn req(pairs: &[(&str, &str)]) -> Request {
    token_request(pairs, "c", Some("c-secret"))
}

async fn refresh(p: &Provider, rt: &str) -> (u16, serde_json::Value) {
    let r = p
        .token(&req(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
        ]))
        .await;
    (r.status, r.json_value())
}

async fn first_refresh_token(p: &Provider) -> String {
    let r = p
        .token(&req(&[
            ("grant_type", "password"),
            ("username", "u"),
            ("password", "pw"),
            ("scope", "openid offline_access"),
        ]))
        .await;
    r.json_value()["refresh_token"]
        .as_str()
        .expect("rt")
        .to_owned()
}

#[tokio::test]
async fn concurrent_refresh_with_one_token_leaves_no_live_tokens() {
    let p = provider(None);
    let r1 = first_refresh_token(&p).await;
    let ((s1, b1), (s2, b2)) = tokio::join!(refresh(&p, &r1), refresh(&p, &r1));
    let mut statuses = [s1, s2];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 400], "one winner, one reuse");
    let winner = if s1 == 200 { b1 } else { b2 };
    let (s, _) = refresh(&p, winner["refresh_token"].as_str().expect("rt")).await;
    assert_eq!(
        s, 400,
        "the reuse revoked the winner's refresh token too, though it was written late"
    );
    let intro = p
        .introspect(&req(&[(
            "token",
            winner["access_token"].as_str().expect("at"),
        )]))
        .await;
    assert_eq!(intro.json_value(), serde_json::json!({"active": false}));
}

#[tokio::test]
async fn a_grace_retry_after_the_successor_was_used_is_reuse() {
    let p = provider(Some(Duration::seconds(30)));
    let r1 = first_refresh_token(&p).await;
    let (_, t2) = refresh(&p, &r1).await;
    let r2 = t2["refresh_token"].as_str().expect("rt").to_owned();
    let (s, t3) = refresh(&p, &r2).await;
    assert_eq!(s, 200);
    // r1 comes back inside its window, but its successor has already been used: theft.
    let (s, _) = refresh(&p, &r1).await;
    assert_eq!(s, 400);
    let (s, _) = refresh(&p, t3["refresh_token"].as_str().expect("rt")).await;
    assert_eq!(s, 400, "no second live chain: the family is revoked");
}
