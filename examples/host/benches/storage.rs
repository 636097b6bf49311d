//! Grant-store throughput per backend: put / get / consume operations per second at 1 and 32
//! concurrent tasks, the full code-exchange token request in-process on each backend, and
//! (with `IDPKIT_BENCH_MILLION=1`) consume latency and size on disk with 1,000,000 live
//! refresh tokens. Bounded: fixed operation counts, no server.
//!
//! Usage: `cargo bench -p idpkit-example --bench storage` (PostgreSQL from
//! `IDPKIT_TEST_POSTGRES`, default `postgres://postgres@127.0.0.1:5432/test`, skipped when
//! unreachable).
#![allow(missing_docs)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use idpkit::storage::postgres::{PostgresOptions, PostgresStore};
use idpkit::storage::sled::SledStore;
use idpkit::storage::sqlite::SqliteStore;
use idpkit::testkit::flows::{code_after_login, token_request};
use idpkit::time::{Duration, OffsetDateTime};
use idpkit::{
    Algorithm, Client, GrantStore, GrantType, LocalKeys, MemoryGrantStore, Provider, Record,
    RecordKind, StaticClients,
};

const OPS: usize = 20_000;

fn pg_url() -> String {
    std::env::var("IDPKIT_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn record(exp: OffsetDateTime) -> Record {
    Record {
        grant_id: Some(idpkit::crypto::random_token()),
        payload: br#"{"client_id":"demo-client","subject":"alice","scopes":["openid","offline_access"],"auth_time":1,"iat":1}"#
            .to_vec(),
        expires_at: exp,
    }
}

/// Runs `OPS` operations split over `tasks` tasks; returns operations per second.
async fn rate<F, Fut>(tasks: usize, op: F) -> f64
where
    F: Fn(usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let start = Instant::now();
    let per = OPS / tasks;
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let op = op.clone();
            tokio::spawn(async move {
                for i in 0..per {
                    op(t * per + i).await;
                }
            })
        })
        .collect();
    for h in handles {
        h.await.expect("task");
    }
    (per * tasks) as f64 / start.elapsed().as_secs_f64()
}

async fn store_rates(name: &str, store: Arc<dyn GrantStore>) {
    let now = OffsetDateTime::now_utc();
    let exp = now + Duration::days(1);
    let prefix = idpkit::crypto::random_token();
    for tasks in [1, 32] {
        let ids: Arc<Vec<String>> =
            Arc::new((0..OPS).map(|i| format!("{prefix}-{tasks}-{i}")).collect());
        let (s, ids2) = (store.clone(), ids.clone());
        let put = rate(tasks, move |i| {
            let (s, ids) = (s.clone(), ids2.clone());
            async move {
                s.put(RecordKind::RefreshToken, &ids[i], record(exp))
                    .await
                    .expect("put")
            }
        })
        .await;
        let (s, ids2) = (store.clone(), ids.clone());
        let get = rate(tasks, move |i| {
            let (s, ids) = (s.clone(), ids2.clone());
            async move {
                s.get(RecordKind::RefreshToken, &ids[(i * 7919) % OPS], now)
                    .await
                    .expect("get")
                    .expect("present");
            }
        })
        .await;
        let (s, ids2) = (store.clone(), ids.clone());
        let consume = rate(tasks, move |i| {
            let (s, ids) = (s.clone(), ids2.clone());
            async move {
                s.consume(RecordKind::RefreshToken, &ids[i], now)
                    .await
                    .expect("consume");
            }
        })
        .await;
        println!("| {name} | {tasks} | {put:.0} | {get:.0} | {consume:.0} |");
    }
}

const REDIRECT: &str = "https://app.example/cb";

/// The full code exchange (client auth, code lookup, PKCE-less confidential client, RS256
/// access and ID tokens, refresh token written, code consumed) on `store`.
async fn code_exchange(name: &str, store: Arc<dyn GrantStore>) {
    let client = Client::confidential("bench", "bench-secret-0123456789")
        .redirect_uri(REDIRECT)
        .grant_types([GrantType::AuthorizationCode, GrantType::RefreshToken])
        .scopes(["openid", "offline_access"])
        .first_party(true)
        .build()
        .expect("client");
    let p = Provider::builder("https://idp.example")
        .grant_store_arc(store)
        .keys(LocalKeys::ephemeral_for_development().expect("keys"))
        .clients(StaticClients::new([client]).expect("clients"))
        .users(idpkit::testkit::users::TestUsers::one("u", "u", "pw"))
        .signing_alg(Algorithm::RS256)
        .dangerous_allow_development_backends()
        .build()
        .expect("provider");
    let n = 300;
    let mut total = StdDuration::ZERO;
    for _ in 0..n {
        let code = code_after_login(&p, "bench", REDIRECT, "openid offline_access", "u").await;
        let token = token_request(
            &[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT),
            ],
            "bench",
            Some("bench-secret-0123456789"),
        );
        let start = Instant::now();
        let r = p.token(&token).await;
        total += start.elapsed();
        assert_eq!(r.status, 200);
    }
    let mean = total / n;
    println!(
        "| {name} | {:.0} | {:.0} µs |",
        1.0 / mean.as_secs_f64(),
        mean.as_secs_f64() * 1e6
    );
}

fn dir_size(p: &Path) -> u64 {
    let Ok(meta) = std::fs::metadata(p) else {
        return 0;
    };
    if meta.is_file() {
        return meta.len();
    }
    std::fs::read_dir(p)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| dir_size(&e.path())).sum())
        .unwrap_or(0)
}

/// Fills `store` with `n` live refresh tokens through the API (32 tasks), then times 1,000
/// consumes of random ones.
async fn million(name: &str, store: Arc<dyn GrantStore>, n: usize, size: impl Fn() -> u64) {
    let exp = OffsetDateTime::now_utc() + Duration::days(1);
    let start = Instant::now();
    let tasks = 32;
    let per = n / tasks;
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let s = store.clone();
            tokio::spawn(async move {
                for i in 0..per {
                    s.put(
                        RecordKind::RefreshToken,
                        &format!("m-{}", t * per + i),
                        record(exp),
                    )
                    .await
                    .expect("put");
                }
            })
        })
        .collect();
    for h in handles {
        h.await.expect("task");
    }
    let fill = start.elapsed();
    let now = OffsetDateTime::now_utc();
    let mut lat = Vec::new();
    for i in 0..1000usize {
        let id = format!("m-{}", (i * 104_729) % (per * tasks));
        let t = Instant::now();
        store
            .consume(RecordKind::RefreshToken, &id, now)
            .await
            .expect("consume");
        lat.push(t.elapsed());
    }
    lat.sort();
    // Housekeeping (purge, and for SQLite the WAL checkpoint) runs before the size is taken.
    store.purge_expired(now).await.expect("purge");
    println!(
        "| {name} | {} | {:.0} s | {:.0} µs | {:.0} µs | {:.1} MiB |",
        per * tasks,
        fill.as_secs_f64(),
        lat[500].as_secs_f64() * 1e6,
        lat[990].as_secs_f64() * 1e6,
        size() as f64 / (1024.0 * 1024.0)
    );
}

async fn postgres(schema: &str) -> Option<PostgresStore> {
    match PostgresStore::connect_with(
        &pg_url(),
        PostgresOptions::default().schema(schema).pool_size(32),
    )
    .await
    {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!("*** PostgreSQL not reachable ({e}); its rows are skipped ***");
            None
        }
    }
}

async fn drop_schema(schema: &str) {
    if let Ok((c, conn)) = tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls).await {
        tokio::spawn(conn);
        let _ = c
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .await;
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a plain `cargo test` of benches passes nothing useful.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("dir");
        let schema = format!("idpkit_bench_{}", std::process::id());
        // IDPKIT_BENCH_ONLY=sqlite,postgres limits the run to those backends.
        let only = std::env::var("IDPKIT_BENCH_ONLY").unwrap_or_default();
        let want = |name: &str| only.is_empty() || only.split(',').any(|o| o == name);
        println!("\n| backend | tasks | put/s | get/s | consume/s |\n|---|---|---|---|---|");
        if want("memory") {
            store_rates("memory", Arc::new(MemoryGrantStore::new())).await;
        }
        if want("sqlite") {
            store_rates("sqlite", Arc::new(SqliteStore::open(dir.path().join("b.db")).expect("sqlite"))).await;
        }
        if want("sled") {
            store_rates("sled", Arc::new(SledStore::open(dir.path().join("b.sled")).expect("sled"))).await;
        }
        if want("postgres")
            && let Some(pg) = postgres(&schema).await
        {
            store_rates("postgres", Arc::new(pg)).await;
        }

        println!("\n| backend | code exchanges/s (RS256, in-process) | mean latency |\n|---|---|---|");
        if want("memory") {
            code_exchange("memory", Arc::new(MemoryGrantStore::new())).await;
        }
        if want("sqlite") {
            code_exchange("sqlite", Arc::new(SqliteStore::open(dir.path().join("c.db")).expect("sqlite"))).await;
        }
        if want("sled") {
            code_exchange("sled", Arc::new(SledStore::open(dir.path().join("c.sled")).expect("sled"))).await;
        }
        if want("postgres")
            && let Some(pg) = postgres(&format!("{schema}_c")).await
        {
            code_exchange("postgres", Arc::new(pg)).await;
        }

        if std::env::var_os("IDPKIT_BENCH_MILLION").is_some() {
            let n = 1_000_000;
            println!("\n| backend | live refresh tokens | fill time | consume p50 | consume p99 | size on disk |\n|---|---|---|---|---|---|");
            if want("sqlite") {
                let path = dir.path().join("m.db");
                let store = Arc::new(SqliteStore::open(&path).expect("sqlite"));
                let d = dir.path().to_path_buf();
                million("sqlite", store, n, move || ["m.db", "m.db-wal", "m.db-shm"].iter().map(|f| dir_size(&d.join(f))).sum()).await;
            }
            if want("sled") {
                let path = dir.path().join("m.sled");
                let store = Arc::new(SledStore::open(&path).expect("sled"));
                million("sled", store, n, move || dir_size(&path)).await;
            }
            if want("postgres")
                && let Some(pg) = postgres(&format!("{schema}_m")).await
            {
                let table = pg.table().to_owned();
                million("postgres", Arc::new(pg), n, || 0).await;
                if let Ok((c, conn)) = tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls).await {
                    tokio::spawn(conn);
                    if let Ok(row) = c.query_one(&format!("SELECT pg_total_relation_size('{table}')"), &[]).await {
                        let bytes: i64 = row.get(0);
                        println!("(postgres table with indexes: {:.1} MiB)", bytes as f64 / (1024.0 * 1024.0));
                    }
                }
            }
            drop_schema(&format!("{schema}_m")).await;
        }
        drop_schema(&schema).await;
        drop_schema(&format!("{schema}_c")).await;
    });
}
