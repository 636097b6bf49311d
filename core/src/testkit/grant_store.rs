//! The [`GrantStore`] contract as executable checks. Every check uses fresh random ids, so a
//! persistent store can run the kit again and again. A failed check panics with the
//! contract point that failed.

use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use crate::crypto::random_token;
use crate::store::{Consume, GrantStore, Record, RecordKind};

mod counters;
mod races;

pub use counters::{concurrent_increments_lose_nothing, increment_counts_and_expires};

pub use races::{
    assert_one_winner_per_id, concurrent_consume_has_one_winner,
    concurrent_put_then_consume_has_one_winner, consume_rounds, put_codes,
};

pub(super) fn record(grant: Option<&str>, payload: &str, expires_at: OffsetDateTime) -> Record {
    Record {
        grant_id: grant.map(str::to_owned),
        payload: payload.as_bytes().to_vec(),
        expires_at,
    }
}

/// A base time: the current second, so that stores keeping real timestamps behave.
pub(super) fn base() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}

/// Runs every check.
pub async fn run_all(store: Arc<dyn GrantStore>) {
    put_get_round_trip(store.as_ref()).await;
    put_replaces_and_resets_consumption(store.as_ref()).await;
    expired_records_are_invisible(store.as_ref()).await;
    consume_is_once(store.as_ref()).await;
    delete_removes_one_record(store.as_ref()).await;
    revoke_grant_removes_the_family_and_nothing_else(store.as_ref()).await;
    purge_expired_deletes_only_expired(store.as_ref()).await;
    concurrent_consume_has_one_winner(store.clone(), 64).await;
    put_then_consume_writes_and_consumes(store.as_ref()).await;
    concurrent_put_then_consume_has_one_winner(store.clone(), 32).await;
    increment_counts_and_expires(store.as_ref()).await;
    concurrent_increments_lose_nothing(store.clone(), 64).await;
}

/// `put` then `get` returns the record; kinds are separate namespaces.
pub async fn put_get_round_trip(store: &dyn GrantStore) {
    let now = base();
    let id = random_token();
    let rec = record(Some("g"), "{\"a\":1}", now + Duration::minutes(5));
    store
        .put(RecordKind::AuthorizationCode, &id, rec.clone())
        .await
        .expect("put");
    let got = store
        .get(RecordKind::AuthorizationCode, &id, now)
        .await
        .expect("get");
    let got = got.expect("a stored record must be readable");
    assert_eq!(got.record, rec, "get must return exactly what was put");
    assert_eq!(got.consumed_at, None, "a fresh record is not consumed");
    assert!(
        store
            .get(RecordKind::RefreshToken, &id, now)
            .await
            .expect("get")
            .is_none(),
        "kinds must not share ids"
    );
    assert!(
        store
            .get(RecordKind::AuthorizationCode, &random_token(), now)
            .await
            .expect("get")
            .is_none()
    );
}

/// `put` on an existing id replaces it and clears its consumption.
pub async fn put_replaces_and_resets_consumption(store: &dyn GrantStore) {
    let now = base();
    let id = random_token();
    store
        .put(
            RecordKind::Interaction,
            &id,
            record(None, "one", now + Duration::minutes(5)),
        )
        .await
        .expect("put");
    assert!(matches!(
        store
            .consume(RecordKind::Interaction, &id, now)
            .await
            .expect("consume"),
        Consume::Consumed(_)
    ));
    store
        .put(
            RecordKind::Interaction,
            &id,
            record(None, "two", now + Duration::minutes(5)),
        )
        .await
        .expect("put");
    let got = store
        .get(RecordKind::Interaction, &id, now)
        .await
        .expect("get")
        .expect("present");
    assert_eq!(got.record.payload, b"two", "put must replace the payload");
    assert_eq!(got.consumed_at, None, "put must clear consumption");
}

/// Records whose `expires_at` has passed are invisible to `get` and `consume` at once.
pub async fn expired_records_are_invisible(store: &dyn GrantStore) {
    let now = base();
    let id = random_token();
    store
        .put(
            RecordKind::AuthorizationCode,
            &id,
            record(Some("g"), "x", now + Duration::seconds(60)),
        )
        .await
        .expect("put");
    let later = now + Duration::seconds(61);
    assert!(
        store
            .get(RecordKind::AuthorizationCode, &id, later)
            .await
            .expect("get")
            .is_none(),
        "expired record visible to get"
    );
    assert_eq!(
        store
            .consume(RecordKind::AuthorizationCode, &id, later)
            .await
            .expect("consume"),
        Consume::NotFound,
        "expired record consumable"
    );
    let at_expiry = now + Duration::seconds(60);
    assert!(
        store
            .get(RecordKind::AuthorizationCode, &id, at_expiry)
            .await
            .expect("get")
            .is_none(),
        "expires_at is exclusive"
    );
    assert!(
        store
            .get(RecordKind::AuthorizationCode, &id, now)
            .await
            .expect("get")
            .is_some(),
        "still live before expiry"
    );
}

/// The first `consume` wins; later ones see `AlreadyConsumed` with the first time.
pub async fn consume_is_once(store: &dyn GrantStore) {
    let now = base();
    let id = random_token();
    let rec = record(Some("fam"), "code", now + Duration::minutes(1));
    assert_eq!(
        store
            .consume(RecordKind::AuthorizationCode, &id, now)
            .await
            .expect("consume"),
        Consume::NotFound
    );
    store
        .put(RecordKind::AuthorizationCode, &id, rec.clone())
        .await
        .expect("put");
    assert_eq!(
        store
            .consume(RecordKind::AuthorizationCode, &id, now)
            .await
            .expect("consume"),
        Consume::Consumed(rec.clone())
    );
    let second = store
        .consume(
            RecordKind::AuthorizationCode,
            &id,
            now + Duration::seconds(2),
        )
        .await
        .expect("consume");
    match second {
        Consume::AlreadyConsumed {
            record,
            consumed_at,
        } => {
            assert_eq!(record, rec);
            assert_eq!(
                consumed_at, now,
                "consumed_at is the time of the first consume"
            );
        }
        other => panic!("second consume must be AlreadyConsumed, got {other:?}"),
    }
    let got = store
        .get(RecordKind::AuthorizationCode, &id, now)
        .await
        .expect("get")
        .expect("still readable");
    assert_eq!(got.consumed_at, Some(now), "get must show consumption");
}

/// `delete` removes one record; deleting a missing record is fine.
pub async fn delete_removes_one_record(store: &dyn GrantStore) {
    let now = base();
    let (a, b) = (random_token(), random_token());
    for id in [&a, &b] {
        store
            .put(
                RecordKind::Session,
                id,
                record(None, "s", now + Duration::hours(1)),
            )
            .await
            .expect("put");
    }
    store.delete(RecordKind::Session, &a).await.expect("delete");
    store
        .delete(RecordKind::Session, &a)
        .await
        .expect("deleting twice is not an error");
    assert!(
        store
            .get(RecordKind::Session, &a, now)
            .await
            .expect("get")
            .is_none()
    );
    assert!(
        store
            .get(RecordKind::Session, &b, now)
            .await
            .expect("get")
            .is_some(),
        "delete removed another record"
    );
}

/// `revoke_grant` removes every record of a family, of every kind, and nothing else.
pub async fn revoke_grant_removes_the_family_and_nothing_else(store: &dyn GrantStore) {
    let now = base();
    let family = random_token();
    let other = random_token();
    let exp = now + Duration::hours(1);
    let mine = [
        (RecordKind::AuthorizationCode, random_token()),
        (RecordKind::RefreshToken, random_token()),
        (RecordKind::RefreshToken, random_token()),
        (RecordKind::AccessToken, random_token()),
    ];
    for (kind, id) in &mine {
        store
            .put(*kind, id, record(Some(&family), "m", exp))
            .await
            .expect("put");
    }
    store
        .consume(RecordKind::RefreshToken, &mine[1].1, now)
        .await
        .expect("consume");
    let theirs = (RecordKind::RefreshToken, random_token());
    store
        .put(theirs.0, &theirs.1, record(Some(&other), "t", exp))
        .await
        .expect("put");
    let loose = (RecordKind::Session, random_token());
    store
        .put(loose.0, &loose.1, record(None, "l", exp))
        .await
        .expect("put");

    let n = store.revoke_grant(&family).await.expect("revoke");
    assert_eq!(
        n,
        mine.len() as u64,
        "revoke_grant must count what it deleted, consumed records included"
    );
    for (kind, id) in &mine {
        assert!(
            store.get(*kind, id, now).await.expect("get").is_none(),
            "{kind:?} of the family survived"
        );
    }
    assert!(
        store
            .get(theirs.0, &theirs.1, now)
            .await
            .expect("get")
            .is_some(),
        "another family was touched"
    );
    assert!(
        store
            .get(loose.0, &loose.1, now)
            .await
            .expect("get")
            .is_some(),
        "a record without grant was touched"
    );
    assert_eq!(
        store.revoke_grant(&family).await.expect("revoke"),
        0,
        "revoking again deletes nothing"
    );
}

/// `purge_expired` deletes expired records and keeps live ones.
pub async fn purge_expired_deletes_only_expired(store: &dyn GrantStore) {
    let now = base();
    // Purge what earlier checks left expired at `now + 2h`, so the counts below are exact.
    let far = now + Duration::hours(2);
    store.purge_expired(far).await.expect("purge");
    let expired: Vec<String> = (0..3).map(|_| random_token()).collect();
    let live = random_token();
    for id in &expired {
        store
            .put(
                RecordKind::AccessToken,
                id,
                record(None, "e", far + Duration::seconds(1)),
            )
            .await
            .expect("put");
    }
    store
        .put(
            RecordKind::AccessToken,
            &live,
            record(None, "l", far + Duration::hours(10)),
        )
        .await
        .expect("put");
    let later = far + Duration::seconds(5);
    let n = store.purge_expired(later).await.expect("purge");
    assert!(
        n >= expired.len() as u64,
        "purge_expired must delete every expired record (deleted {n})"
    );
    for id in &expired {
        assert!(
            store
                .get(RecordKind::AccessToken, id, far)
                .await
                .expect("get")
                .is_none(),
            "expired record not purged"
        );
    }
    assert!(
        store
            .get(RecordKind::AccessToken, &live, later)
            .await
            .expect("get")
            .is_some(),
        "live record purged"
    );
}

/// `put_then_consume`: on a live record the writes are stored and the record consumed; a
/// second call reports `AlreadyConsumed`, a missing record `NotFound`.
pub async fn put_then_consume_writes_and_consumes(store: &dyn GrantStore) {
    let now = base();
    let code = random_token();
    let grant = random_token();
    let exp = now + Duration::minutes(1);
    store
        .put(
            RecordKind::AuthorizationCode,
            &code,
            record(Some(&grant), "code", exp),
        )
        .await
        .expect("put");
    let issued = random_token();
    let out = store
        .put_then_consume(
            vec![(
                RecordKind::RefreshToken,
                issued.clone(),
                record(Some(&grant), "rt", exp),
            )],
            RecordKind::AuthorizationCode,
            &code,
            now,
        )
        .await
        .expect("put_then_consume");
    match out {
        Consume::Consumed(r) => assert_eq!(r.payload, b"code", "the consumed record is returned"),
        other => panic!("put_then_consume of a live record must consume it, got {other:?}"),
    }
    let written = store
        .get(RecordKind::RefreshToken, &issued, now)
        .await
        .expect("get")
        .expect("the writes of a successful put_then_consume are stored");
    assert_eq!(written.record.payload, b"rt");
    assert_eq!(written.record.grant_id.as_deref(), Some(grant.as_str()));
    let again = store
        .put_then_consume(
            vec![(
                RecordKind::RefreshToken,
                random_token(),
                record(Some(&grant), "rt2", exp),
            )],
            RecordKind::AuthorizationCode,
            &code,
            now,
        )
        .await
        .expect("put_then_consume");
    assert!(
        matches!(again, Consume::AlreadyConsumed { .. }),
        "a second put_then_consume must see the record consumed, got {again:?}"
    );
    let missing = store
        .put_then_consume(
            Vec::new(),
            RecordKind::AuthorizationCode,
            &random_token(),
            now,
        )
        .await
        .expect("put_then_consume");
    assert!(matches!(missing, Consume::NotFound), "got {missing:?}");
}
