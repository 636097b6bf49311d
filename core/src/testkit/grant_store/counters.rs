//! Counters: what rate limits count with. `increment` must be atomic across instances,
//! restart at 1 once expired, and read back through `get` as decimal digits.

use std::sync::Arc;

use time::Duration;

use super::base;
use crate::crypto::random_token;
use crate::store::{GrantStore, RecordKind, counter_value};

async fn read(store: &dyn GrantStore, id: &str, now: time::OffsetDateTime) -> Option<u64> {
    store
        .get(RecordKind::Counter, id, now)
        .await
        .expect("get counter")
        .map(|s| counter_value(&s.record.payload).expect("a counter reads back as digits"))
}

/// A counter starts at 1, counts up, is readable, restarts once expired, and `delete`
/// resets it.
pub async fn increment_counts_and_expires(store: &dyn GrantStore) {
    let now = base();
    let id = random_token();
    let exp = now + Duration::minutes(1);
    for want in 1..=3u64 {
        let got = store.increment(&id, exp, now).await.expect("increment");
        assert_eq!(got, want, "increment must return the new count");
    }
    assert_eq!(read(store, &id, now).await, Some(3), "get reads a counter");
    assert_eq!(
        read(store, &id, exp).await,
        None,
        "a counter is invisible at its expiry"
    );
    assert_eq!(
        store
            .increment(&id, exp + Duration::minutes(1), exp)
            .await
            .expect("increment"),
        1,
        "an expired counter starts again at 1"
    );
    assert_eq!(
        store
            .increment(&id, exp + Duration::minutes(5), exp)
            .await
            .expect("increment"),
        2
    );
    assert_eq!(
        read(store, &id, exp + Duration::minutes(2)).await,
        Some(2),
        "each increment sets the expiry it is given"
    );
    store
        .delete(RecordKind::Counter, &id)
        .await
        .expect("delete");
    assert_eq!(read(store, &id, exp).await, None, "delete resets a counter");
    let other = random_token();
    assert_eq!(
        store.increment(&other, exp, now).await.expect("increment"),
        1,
        "counters are separate"
    );
    assert!(
        store
            .get(RecordKind::Session, &other, now)
            .await
            .expect("get")
            .is_none(),
        "a counter lives in its own kind"
    );
    assert!(
        store
            .purge_expired(exp + Duration::hours(1))
            .await
            .expect("purge")
            >= 1,
        "expired counters are purged"
    );
    assert_eq!(read(store, &other, now).await, None, "purged");
}

/// `tasks` concurrent increments of one counter: every call gets its own value and none
/// is lost.
pub async fn concurrent_increments_lose_nothing(store: Arc<dyn GrantStore>, tasks: usize) {
    let now = base();
    let id = random_token();
    let exp = now + Duration::minutes(1);
    let calls = (0..tasks).map(|_| {
        let store = store.clone();
        let id = id.clone();
        async move { store.increment(&id, exp, now).await }
    });
    let mut values: Vec<u64> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.expect("increment must not fail"))
        .collect();
    values.sort_unstable();
    let want: Vec<u64> = (1..=tasks as u64).collect();
    assert_eq!(
        values, want,
        "{tasks} concurrent increments must return 1..={tasks}, each once"
    );
    assert_eq!(read(store.as_ref(), &id, now).await, Some(tasks as u64));
}
