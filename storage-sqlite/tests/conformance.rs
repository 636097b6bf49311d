//! The SQLite store passes core's grant-store conformance kit.

use std::sync::Arc;

use idpkit_core::GrantStore;
use idpkit_storage_sqlite::SqliteStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_passes_the_testkit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(SqliteStore::open(dir.path().join("idp.db")).expect("open"));
    idpkit_core::testkit::grant_store::run_all(store.clone()).await;
    // Twice on the same file: the kit uses fresh ids, and reopening keeps the schema.
    let reopened = Arc::new(SqliteStore::open(dir.path().join("idp.db")).expect("reopen"));
    assert_eq!(reopened.schema_version().await.expect("version"), 3);
    idpkit_core::testkit::grant_store::run_all(reopened).await;
}

#[test]
fn purge_and_revoke_use_their_indexes_not_a_table_scan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("idp.db");
    drop(SqliteStore::open(&path).expect("open"));
    let conn = rusqlite::Connection::open(&path).expect("raw connection");
    let plan = |sql: &str| -> String {
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("explain");
        let rows = stmt.query_map([], |r| r.get::<_, String>(3)).expect("rows");
        rows.map(|r| r.expect("row"))
            .collect::<Vec<_>>()
            .join(" | ")
    };
    let purge = plan(
        "DELETE FROM idpkit_grants WHERE (kind, id) IN
         (SELECT kind, id FROM idpkit_grants WHERE expires_at <= 0 LIMIT 5000)",
    );
    assert!(
        purge.contains("idpkit_grants_expiry"),
        "purge plan: {purge}"
    );
    let revoke = plan("DELETE FROM idpkit_grants WHERE grant_id = 'g'");
    assert!(
        revoke.contains("idpkit_grants_family"),
        "revoke plan: {revoke}"
    );
    // The CORS check and the purge of unused registrations never read every client.
    let origin = plan(
        "SELECT EXISTS (SELECT 1 FROM idpkit_client_origins WHERE origin = 'https://a.example')",
    );
    assert!(
        origin.contains("SEARCH idpkit_client_origins USING PRIMARY KEY (origin=?)"),
        "origin plan: {origin}"
    );
    let unused = plan(
        "SELECT id FROM idpkit_clients WHERE unused_since IS NOT NULL AND unused_since <= 5
         ORDER BY unused_since, id LIMIT 500",
    );
    assert!(
        unused.contains("idpkit_clients_unused") && !unused.contains("TEMP B-TREE"),
        "unused plan: {unused}"
    );
    let forget = plan("DELETE FROM idpkit_client_origins WHERE client_id = 'c'");
    assert!(
        forget.contains("idpkit_client_origins_client"),
        "origin removal plan: {forget}"
    );
}

/// A database from before the client indexes (schema 2) is migrated at open, and the
/// clients stored before get their origins and unused-since entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrating_to_schema_3_indexes_the_clients_stored_before() {
    use idpkit_core::{ClientRegistry, ClientStore};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("old.db");
    let spa = idpkit_core::Client::public("spa")
        .redirect_uri("https://spa.example/cb")
        .allowed_origin("https://spa.example")
        .allowed_origin("https://www.spa.example")
        .build()
        .expect("valid");
    let mut agent = idpkit_core::ClientMetadata {
        redirect_uris: vec!["https://agent.example/cb".into()],
        token_endpoint_auth_method: Some("none".into()),
        ..Default::default()
    }
    .normalized("openid");
    agent.client_name = Some("agent".into());
    let mut reg = agent
        .to_registration("agent", None, &["openid".to_owned()])
        .expect("valid");
    let json = serde_json::json!({
        "metadata": agent,
        "issued_at": 1_000_000_000i64,
        "registration_token_sha256": "x",
        "anonymous": true,
    });
    reg.dynamic = Some(serde_json::from_value(json).expect("dynamic registration"));
    let agent = reg.into_client().expect("valid");
    {
        let conn = rusqlite::Connection::open(&path).expect("raw");
        conn.execute_batch(
            "CREATE TABLE idpkit_grants (kind TEXT NOT NULL, id TEXT NOT NULL, grant_id TEXT,
               payload BLOB NOT NULL, expires_at INTEGER NOT NULL, consumed_at INTEGER,
               PRIMARY KEY (kind, id)) WITHOUT ROWID;
             CREATE INDEX idpkit_grants_family ON idpkit_grants (grant_id) WHERE grant_id IS NOT NULL;
             CREATE INDEX idpkit_grants_expiry ON idpkit_grants (expires_at);
             CREATE TABLE idpkit_clients (id TEXT PRIMARY KEY NOT NULL, registration BLOB NOT NULL) WITHOUT ROWID;
             PRAGMA user_version = 2;",
        )
        .expect("schema 2");
        for c in [&spa, &agent] {
            conn.execute(
                "INSERT INTO idpkit_clients (id, registration) VALUES (?1, ?2)",
                rusqlite::params![c.id(), idpkit_core::backend::client_to_json(c)],
            )
            .expect("insert");
        }
        conn.execute(
            "INSERT INTO idpkit_clients (id, registration) VALUES ('broken', x'00')",
            [],
        )
        .expect("insert");
    }
    let store = SqliteStore::open(&path).expect("open migrates");
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
    // The migrated indexes follow later changes like new ones.
    store.remove("spa").await.expect("remove");
    assert!(
        !store
            .origin_allowed("https://spa.example")
            .await
            .expect("origin")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_passes_the_client_store_kit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path().join("idp.db")).expect("open");
    idpkit_core::testkit::client_store::run_all(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_purge_deletes_everything_expired_in_batches_and_nothing_else() {
    use idpkit_core::time::{Duration, OffsetDateTime};
    use idpkit_core::{GrantStore, RecordKind};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("idp.db");
    let now = OffsetDateTime::now_utc();
    {
        // 12,345 expired rows (more than two batches) and 10 live ones, written directly.
        let mut conn = rusqlite::Connection::open(&path).expect("raw");
        drop(SqliteStore::open(&path).expect("schema"));
        let tx = conn.transaction().expect("tx");
        for i in 0..12_355i64 {
            let exp = if i < 12_345 {
                now - Duration::minutes(1)
            } else {
                now + Duration::hours(1)
            };
            tx.execute(
                "INSERT INTO idpkit_grants (kind, id, grant_id, payload, expires_at) VALUES ('code', ?1, NULL, x'00', ?2)",
                rusqlite::params![format!("c{i}"), idpkit_core::backend::unix_nanos(exp)],
            )
            .expect("insert");
        }
        tx.commit().expect("commit");
    }
    let store = SqliteStore::open(&path).expect("open");
    assert_eq!(store.purge_expired(now).await.expect("purge"), 12_345);
    assert_eq!(store.purge_expired(now).await.expect("purge"), 0);
    for i in 12_345..12_355 {
        assert!(
            store
                .get(RecordKind::AuthorizationCode, &format!("c{i}"), now)
                .await
                .expect("get")
                .is_some(),
            "live record c{i} kept"
        );
    }
}

#[cfg(unix)]
#[tokio::test]
async fn a_new_database_and_its_wal_are_readable_by_the_owner_only() {
    use idpkit_core::time::{Duration, OffsetDateTime};
    use idpkit_core::{GrantStore, Record, RecordKind};
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("grants.db");
    let store = SqliteStore::open(&path).expect("open");
    store
        .put(
            RecordKind::Session,
            "s",
            Record {
                grant_id: None,
                payload: b"{}".to_vec(),
                expires_at: OffsetDateTime::now_utc() + Duration::minutes(1),
            },
        )
        .await
        .expect("put");
    for f in ["grants.db", "grants.db-wal", "grants.db-shm"] {
        let p = dir.path().join(f);
        if let Ok(meta) = std::fs::metadata(&p) {
            assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{f}");
        } else {
            assert_ne!(f, "grants.db", "the database exists");
        }
    }
}

/// Counters and consumes are RETURNING statements: they must be stepped to the end, or
/// SQLite never runs its WAL auto-checkpoint and the `-wal` file grows with every write
/// (it reached 167 MB for 20,000 counted authorization requests).
#[tokio::test]
async fn counting_keeps_the_wal_bounded() {
    let dir = tempfile::tempdir().expect("dir");
    let store = SqliteStore::open(dir.path().join("g.db")).expect("open");
    let now = idpkit_core::time::OffsetDateTime::now_utc();
    let exp = now + idpkit_core::time::Duration::minutes(1);
    for _ in 0..3_000 {
        store.increment("c", exp, now).await.expect("increment");
    }
    let wal = std::fs::metadata(dir.path().join("g.db-wal")).map_or(0, |m| m.len());
    assert!(
        wal < 8 * 1024 * 1024,
        "3,000 increments left a {wal}-byte WAL: the auto-checkpoint did not run"
    );
}
