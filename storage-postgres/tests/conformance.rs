//! The PostgreSQL store passes core's grant-store conformance kit, against the PostgreSQL
//! server on this machine (`IDPKIT_TEST_POSTGRES`, default
//! `postgres://postgres@127.0.0.1:5432/test`). Each run uses a schema of its own and drops it.

use std::sync::Arc;

use idpkit_storage_postgres::{PostgresOptions, PostgresStore};

fn url() -> String {
    std::env::var("IDPKIT_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A store in a fresh schema, or `None` (loudly) when PostgreSQL is not reachable outside CI.
async fn store(tag: &str) -> Option<(PostgresStore, String)> {
    let schema = format!("idpkit_test_{tag}_{}", std::process::id());
    // Each test's connections carry their own application name, so a test that kills
    // connections kills only its own.
    let app_url = format!("{}?application_name={schema}", url());
    match PostgresStore::connect_with(&app_url, PostgresOptions::default().schema(&schema)).await {
        Ok(s) => Some((s, schema)),
        Err(e) => {
            let msg = format!("POSTGRES TESTS NOT RUN: cannot reach {}: {e}", url());
            assert!(std::env::var_os("CI").is_none(), "{msg}");
            eprintln!("\n*** {msg} ***\n");
            None
        }
    }
}

async fn drop_schema(schema: &str) {
    let (client, conn) = tokio_postgres::connect(&url(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await
        .expect("drop schema");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_passes_the_testkit() {
    let Some((store, schema)) = store("kit").await else {
        return;
    };
    idpkit_core::testkit::grant_store::run_all(Arc::new(store.clone())).await;
    // A second instance on the same schema: migrations are not re-applied.
    let again = PostgresStore::connect_with(&url(), PostgresOptions::default().schema(&schema))
        .await
        .expect("second instance");
    assert_eq!(again.schema_version().await.expect("version"), 2);
    idpkit_core::testkit::client_store::run_all(&again).await;
    idpkit_core::testkit::grant_store::run_all(Arc::new(again)).await;
    drop_schema(&schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pools_racing_on_one_code_have_one_winner_every_time() {
    let Some((a, schema)) = store("race").await else {
        return;
    };
    let b = PostgresStore::connect_with(&url(), PostgresOptions::default().schema(&schema))
        .await
        .expect("second instance");
    use idpkit_core::time::{Duration, OffsetDateTime};
    use idpkit_core::{Consume, GrantStore, Record, RecordKind};
    for round in 0..20 {
        let id = format!("code-{round}");
        let now = OffsetDateTime::now_utc();
        a.put(
            RecordKind::AuthorizationCode,
            &id,
            Record {
                grant_id: Some("g".into()),
                payload: b"x".to_vec(),
                expires_at: now + Duration::minutes(1),
            },
        )
        .await
        .expect("put");
        let calls = (0..32).map(|i| {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            let id = id.clone();
            async move { s.consume(RecordKind::AuthorizationCode, &id, now).await }
        });
        let results = futures::future::join_all(calls).await;
        let winners = results
            .iter()
            .filter(|r| matches!(r, Ok(Consume::Consumed(_))))
            .count();
        assert_eq!(
            winners, 1,
            "round {round}: exactly one winner across two pools"
        );
    }
    drop_schema(&schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_schema_names_are_refused_before_any_sql() {
    let e =
        PostgresStore::connect_with(&url(), PostgresOptions::default().schema("x; DROP TABLE y"))
            .await
            .expect_err("refused");
    assert!(e.to_string().contains("schema"), "{e}");
    // Long names would be truncated by PostgreSQL (63 bytes) and could collide: refused.
    let long = "s".repeat(33);
    let e = PostgresStore::connect_with(&url(), PostgresOptions::default().schema(&long))
        .await
        .expect_err("too long");
    assert!(e.to_string().contains("1-32 characters"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_by_itself_after_its_connections_are_killed() {
    use idpkit_core::time::{Duration, OffsetDateTime};
    use idpkit_core::{GrantStore, Record, RecordKind};
    let Some((store, schema)) = store("reconnect").await else {
        return;
    };
    let now = OffsetDateTime::now_utc();
    let record = Record {
        grant_id: None,
        payload: b"kept".to_vec(),
        expires_at: now + Duration::minutes(5),
    };
    store
        .put(RecordKind::Session, "s1", record.clone())
        .await
        .expect("put");
    // Kill every server connection of this store's pool, as a server restart would.
    let (admin, conn) = tokio_postgres::connect(&url(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    let killed = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&schema],
        )
        .await
        .expect("terminate");
    assert!(!killed.is_empty(), "the pool had connections to kill");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // A call may fail once with a clear backend error (answered as server_error) ...
    let mut errors = Vec::new();
    let mut got = None;
    for _ in 0..3 {
        match store.get(RecordKind::Session, "s1", now).await {
            Ok(v) => {
                got = v;
                break;
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    assert!(
        errors
            .iter()
            .all(|e| e.starts_with("storage backend failure: postgres")),
        "{errors:?}"
    );
    // ... then the pool has reconnected, and nothing stored was lost.
    assert_eq!(got.expect("record readable after reconnect").record, record);
    drop_schema(&schema).await;
}
