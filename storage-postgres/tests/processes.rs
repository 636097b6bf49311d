//! Across OS processes: two processes × 32 tasks race on the same codes in one PostgreSQL
//! database, 50 times, with exactly one winner each time. The test binary re-runs itself as
//! the child process (`IDPKIT_POSTGRES_CHILD`).

use std::sync::Arc;

use idpkit_core::testkit::grant_store::{assert_one_winner_per_id, consume_rounds, put_codes};
use idpkit_core::testkit::processes::{print_wins, spawn_self, wins_of};
use idpkit_storage_postgres::{PostgresOptions, PostgresStore};

const ROUNDS: usize = 50;

fn url() -> String {
    std::env::var("IDPKIT_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn ids() -> Vec<String> {
    (0..ROUNDS).map(|i| format!("race-code-{i}")).collect()
}

/// Entry point of the child processes; does nothing in a normal test run.
#[test]
fn child_entry() {
    let Ok(schema) = std::env::var("IDPKIT_POSTGRES_CHILD") else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = PostgresStore::connect_with(
            &url(),
            PostgresOptions::default().schema(&schema).pool_size(32),
        )
        .await
        .expect("connect");
        print_wins(&consume_rounds(Arc::new(store), &ids(), 32).await);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_racing_on_fifty_codes_have_one_winner_each() {
    let schema = format!("idpkit_test_procs_{}", std::process::id());
    let store =
        match PostgresStore::connect_with(&url(), PostgresOptions::default().schema(&schema)).await
        {
            Ok(s) => s,
            Err(e) => {
                let msg = format!("POSTGRES TESTS NOT RUN: cannot reach {}: {e}", url());
                assert!(std::env::var_os("CI").is_none(), "{msg}");
                eprintln!("\n*** {msg} ***\n");
                return;
            }
        };
    put_codes(&store, &ids()).await;
    let (a, b) = (
        spawn_self("child_entry", "IDPKIT_POSTGRES_CHILD", &schema),
        spawn_self("child_entry", "IDPKIT_POSTGRES_CHILD", &schema),
    );
    let results = tokio::task::spawn_blocking(move || (wins_of(a), wins_of(b)))
        .await
        .expect("children");
    assert_one_winner_per_id(&[results.0, results.1], ROUNDS);
    let (client, conn) = tokio_postgres::connect(&url(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await
        .expect("drop");
}
