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
    assert_eq!(again.schema_version().await.expect("version"), 3);
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

/// Tables from before the client indexes (schema 2) are migrated at connect, and the
/// clients stored before get their origins and unused-since entries; the CORS check and
/// the purge listing then use those indexes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrating_to_schema_3_indexes_the_clients_stored_before() {
    use idpkit_core::{ClientRegistry, ClientStore};
    let schema = format!("idpkit_test_migrate_{}", std::process::id());
    let Ok((admin, conn)) = tokio_postgres::connect(&url(), tokio_postgres::NoTls).await else {
        assert!(std::env::var_os("CI").is_none(), "POSTGRES TESTS NOT RUN");
        eprintln!("\n*** POSTGRES TESTS NOT RUN: cannot reach {} ***\n", url());
        return;
    };
    tokio::spawn(conn);
    let spa = idpkit_core::Client::public("spa")
        .redirect_uri("https://spa.example/cb")
        .allowed_origin("https://spa.example")
        .allowed_origin("https://www.spa.example")
        .build()
        .expect("valid");
    let agent_metadata = idpkit_core::ClientMetadata {
        redirect_uris: vec!["https://agent.example/cb".into()],
        token_endpoint_auth_method: Some("none".into()),
        ..Default::default()
    }
    .normalized("openid");
    let mut reg = agent_metadata
        .to_registration("agent", None, &["openid".to_owned()])
        .expect("valid");
    reg.dynamic = Some(
        serde_json::from_value(serde_json::json!({
            "metadata": agent_metadata,
            "issued_at": 1_000_000_000i64,
            "registration_token_sha256": "x",
            "anonymous": true,
        }))
        .expect("dynamic registration"),
    );
    let agent = reg.into_client().expect("valid");
    admin
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};
             CREATE TABLE {schema}.idpkit_grants (kind TEXT NOT NULL, id TEXT NOT NULL,
               grant_id TEXT, payload BYTEA NOT NULL, expires_at BIGINT NOT NULL,
               consumed_at BIGINT, PRIMARY KEY (kind, id));
             CREATE TABLE {schema}.idpkit_clients (id TEXT PRIMARY KEY, registration BYTEA NOT NULL);
             CREATE TABLE {schema}.idpkit_grants_schema_version (version INTEGER NOT NULL);
             INSERT INTO {schema}.idpkit_grants_schema_version VALUES (2);
             INSERT INTO {schema}.idpkit_clients VALUES ('broken', '\\x00');"
        ))
        .await
        .expect("schema 2");
    for c in [&spa, &agent] {
        admin
            .execute(
                &format!("INSERT INTO {schema}.idpkit_clients VALUES ($1, $2)"),
                &[&c.id(), &idpkit_core::backend::client_to_json(c)],
            )
            .await
            .expect("insert");
    }
    let store = PostgresStore::connect_with(&url(), PostgresOptions::default().schema(&schema))
        .await
        .expect("connect migrates");
    assert_eq!(store.schema_version().await.expect("version"), 3);
    for o in ["https://spa.example", "https://www.spa.example"] {
        assert!(store.origin_allowed(o).await.expect("origin"), "{o}");
    }
    assert!(
        !store
            .origin_allowed("https://agent.example")
            .await
            .expect("origin")
    );
    let at = idpkit_core::time::OffsetDateTime::from_unix_timestamp(1_000_000_000).expect("t");
    assert_eq!(
        store.unused_registrations(at, 10).await.expect("unused"),
        vec!["agent".to_owned()]
    );
    store.remove("spa").await.expect("remove");
    assert!(
        !store
            .origin_allowed("https://spa.example")
            .await
            .expect("origin")
    );
    // With sequential scans priced out, the planner shows which index each query can use.
    let plan = |sql: String| {
        let admin = &admin;
        async move {
            admin
                .batch_execute("SET enable_seqscan = off")
                .await
                .expect("set");
            let rows = admin
                .query(&format!("EXPLAIN {sql}"), &[])
                .await
                .expect("explain");
            rows.iter()
                .map(|r| r.get::<_, String>(0))
                .collect::<Vec<_>>()
                .join(" | ")
        }
    };
    let origin = plan(format!(
        "SELECT EXISTS (SELECT 1 FROM {schema}.idpkit_client_origins WHERE origin = 'x')"
    ))
    .await;
    assert!(
        origin.contains("idpkit_client_origins_pkey"),
        "origin plan: {origin}"
    );
    let unused = plan(format!(
        "SELECT id FROM {schema}.idpkit_clients WHERE unused_since IS NOT NULL
         AND unused_since <= 5 ORDER BY unused_since, id LIMIT 500"
    ))
    .await;
    assert!(
        unused.contains("idpkit_clients_unused") && !unused.contains("Sort"),
        "unused plan: {unused}"
    );
    drop_schema(&schema).await;
}
