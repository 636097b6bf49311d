//! Races: many tasks (or processes) redeeming one record at once must leave exactly one
//! winner.

use std::sync::Arc;

use time::Duration;

use super::{base, record};
use crate::crypto::random_token;
use crate::store::{Consume, GrantStore, RecordKind};

/// `tasks` concurrent `consume` calls on one record (polled together, so a backend that
/// hands work to threads or connections really races): exactly one winner.
pub async fn concurrent_consume_has_one_winner(store: Arc<dyn GrantStore>, tasks: usize) {
    let now = base();
    let id = random_token();
    store
        .put(
            RecordKind::AuthorizationCode,
            &id,
            record(Some("race"), "code", now + Duration::minutes(1)),
        )
        .await
        .expect("put");
    let calls = (0..tasks).map(|_| {
        let store = store.clone();
        let id = id.clone();
        async move { store.consume(RecordKind::AuthorizationCode, &id, now).await }
    });
    let results = futures::future::join_all(calls).await;
    let mut winners = 0;
    let mut losers = 0;
    for r in results {
        match r.expect("consume must not fail") {
            Consume::Consumed(_) => winners += 1,
            Consume::AlreadyConsumed { .. } => losers += 1,
            Consume::NotFound => panic!("a live record was reported missing during the race"),
        }
    }
    assert_eq!(
        winners, 1,
        "exactly one of {tasks} concurrent consume calls must win"
    );
    assert_eq!(losers, tasks - 1);
}

/// `tasks` concurrent `put_then_consume` calls on one record, each writing its own record:
/// exactly one wins, and the winner's write is stored.
pub async fn concurrent_put_then_consume_has_one_winner(store: Arc<dyn GrantStore>, tasks: usize) {
    let now = base();
    let id = random_token();
    let exp = now + Duration::minutes(1);
    store
        .put(
            RecordKind::AuthorizationCode,
            &id,
            record(Some("race2"), "code", exp),
        )
        .await
        .expect("put");
    let calls = (0..tasks).map(|_| {
        let store = store.clone();
        let id = id.clone();
        let mine = random_token();
        async move {
            let out = store
                .put_then_consume(
                    vec![(
                        RecordKind::AccessToken,
                        mine.clone(),
                        record(Some("race2"), "at", exp),
                    )],
                    RecordKind::AuthorizationCode,
                    &id,
                    now,
                )
                .await;
            (mine, out)
        }
    });
    let results = futures::future::join_all(calls).await;
    let mut winners = Vec::new();
    for (mine, r) in results {
        match r.expect("put_then_consume must not fail") {
            Consume::Consumed(_) => winners.push(mine),
            Consume::AlreadyConsumed { .. } => {}
            Consume::NotFound => panic!("a live record was reported missing during the race"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one of {tasks} must win");
    assert!(
        store
            .get(RecordKind::AccessToken, &winners[0], now)
            .await
            .expect("get")
            .is_some(),
        "the winner's write is stored"
    );
}

/// The child side of a cross-process race: for each id in turn, `tasks` concurrent `consume`
/// calls; returns how many won per id. Run it in several processes at once on the same store
/// and add the counts: every id must total exactly one ([`assert_one_winner_per_id`]).
pub async fn consume_rounds(
    store: Arc<dyn GrantStore>,
    ids: &[String],
    tasks: usize,
) -> Vec<usize> {
    let now = base();
    let mut wins = Vec::with_capacity(ids.len());
    for id in ids {
        let calls = (0..tasks).map(|_| {
            let store = store.clone();
            async move { store.consume(RecordKind::AuthorizationCode, id, now).await }
        });
        let won = futures::future::join_all(calls)
            .await
            .into_iter()
            .filter(|r| matches!(r, Ok(Consume::Consumed(_))))
            .count();
        wins.push(won);
    }
    wins
}

/// Puts one live authorization code per id, for [`consume_rounds`].
pub async fn put_codes(store: &dyn GrantStore, ids: &[String]) {
    let now = base();
    for id in ids {
        store
            .put(
                RecordKind::AuthorizationCode,
                id,
                record(Some("race"), "code", now + Duration::minutes(10)),
            )
            .await
            .expect("put");
    }
}

/// Adds the per-id win counts reported by several processes and asserts exactly one winner
/// for every id.
pub fn assert_one_winner_per_id(per_process: &[Vec<usize>], ids: usize) {
    for i in 0..ids {
        let total: usize = per_process
            .iter()
            .map(|w| w.get(i).copied().unwrap_or(0))
            .sum();
        assert_eq!(
            total,
            1,
            "id #{i}: {total} winners across {} processes",
            per_process.len()
        );
    }
}
