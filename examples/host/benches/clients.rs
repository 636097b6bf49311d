//! Client lookups at scale (issue #17): `find`, client authentication (the token
//! endpoint's `client_secret_post` path, through the provider's introspection endpoint: find
//! the client, check the failure throttle, compare the secret's hash in constant time, then
//! one grant-store miss for the unknown token) and the CORS origin check
//! (`Provider::cors_allowed`, hit and miss), on SQLite and PostgreSQL with 100 and 100,000
//! registered clients. The figures must not grow with the number of clients.
//!
//! Usage: `cargo bench -p idpkit-example --bench clients -- --measurement-time 3
//! --warm-up-time 1` (PostgreSQL from `IDPKIT_TEST_POSTGRES`, default
//! `postgres://postgres@127.0.0.1:5432/test`, skipped when unreachable;
//! `IDPKIT_BENCH_ONLY=sqlite` or `postgres` limits the run to one backend).
//!
//! Seeding 100,000 clients takes a while, so the databases are kept between runs: SQLite
//! files in `$TMPDIR/idpkit-bench-clients/`, PostgreSQL schemas `idpkit_bench_clients_<n>`
//! (drop them to start again). A database seeded by an older version is migrated when
//! opened, like any deployment's.
#![allow(missing_docs)]

use std::time::Instant;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use idpkit::storage::postgres::{PostgresOptions, PostgresStore};
use idpkit::storage::sqlite::SqliteStore;
use idpkit::testkit::flows::token_request;
use idpkit::{
    Client, ClientRegistry, ClientStore, GrantStore, GrantType, LocalKeys, Provider, Request,
};

const SIZES: [usize; 2] = [100, 100_000];

fn pg_url() -> String {
    std::env::var("IDPKIT_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn id(i: usize) -> String {
    format!("client-{i:06}")
}

fn secret(i: usize) -> String {
    format!("secret-{i:06}-0123456789abcdef")
}

fn origin(i: usize) -> String {
    format!("https://c{i:06}.example")
}

fn client(i: usize) -> Client {
    Client::confidential(id(i), &secret(i))
        .redirect_uri(format!("{}/cb", origin(i)))
        .grant_types([GrantType::AuthorizationCode, GrantType::RefreshToken])
        .scopes(["openid", "profile", "offline_access"])
        .allowed_origin(origin(i))
        .build()
        .expect("valid client")
}

/// Registers clients `0..n` unless the store has them already (the last one is the mark).
async fn seed<S: ClientRegistry + Clone>(name: &str, store: &S, n: usize) {
    if store.find(&id(n - 1)).await.expect("find").is_some() {
        return;
    }
    let start = Instant::now();
    let tasks = 16;
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let s = store.clone();
            tokio::spawn(async move {
                for i in (t..n).step_by(tasks) {
                    s.register(&client(i)).await.expect("register");
                }
            })
        })
        .collect();
    for h in handles {
        h.await.expect("task");
    }
    eprintln!(
        "seeded {n} clients into {name} in {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

async fn sqlite(n: usize) -> SqliteStore {
    let dir = std::env::temp_dir().join("idpkit-bench-clients");
    std::fs::create_dir_all(&dir).expect("bench dir");
    let start = Instant::now();
    let store = SqliteStore::open(dir.join(format!("sqlite-{n}.db"))).expect("sqlite");
    eprintln!(
        "opened sqlite ({n} clients, migrations included) in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    seed("sqlite", &store, n).await;
    store
}

async fn postgres(n: usize) -> Option<PostgresStore> {
    let options = PostgresOptions::default()
        .schema(format!("idpkit_bench_clients_{n}"))
        .pool_size(16);
    // Seeding only: commits need not wait for the WAL flush.
    let seeding = format!("{}?options=-c%20synchronous_commit%3Doff", pg_url());
    let start = Instant::now();
    match PostgresStore::connect_with(&seeding, options.clone()).await {
        Ok(s) => {
            eprintln!(
                "connected to postgres ({n} clients, migrations included) in {:.1} s",
                start.elapsed().as_secs_f64()
            );
            seed("postgres", &s, n).await
        }
        Err(e) => {
            eprintln!("*** PostgreSQL not reachable ({e}); its rows are skipped ***");
            return None;
        }
    }
    PostgresStore::connect_with(&pg_url(), options).await.ok()
}

fn provider<S: GrantStore + ClientStore + Clone>(store: &S) -> Provider {
    Provider::builder("https://idp.example")
        .grant_store(store.clone())
        .keys(LocalKeys::ephemeral_for_development().expect("keys"))
        .clients(store.clone())
        .users(idpkit::testkit::users::TestUsers::none())
        .dangerous_allow_development_backends()
        .build()
        .expect("provider")
}

fn introspection(i: usize) -> Request {
    token_request(
        &[("token", "not-a-token-anyone-was-given")],
        &id(i),
        Some(&secret(i)),
    )
}

fn bench_store<S>(c: &mut Criterion, rt: &tokio::runtime::Runtime, name: &str, store: &S, n: usize)
where
    S: GrantStore + ClientRegistry + Clone,
{
    let p = provider(store);
    // The last client: a scan meets it last.
    let last = n - 1;
    let mut g = c.benchmark_group(format!("{name}/clients"));
    g.bench_with_input(BenchmarkId::new("find", n), &n, |b, _| {
        let k = id(last);
        b.to_async(rt).iter(|| async {
            assert!(store.find(&k).await.expect("find").is_some());
        });
    });
    g.bench_with_input(BenchmarkId::new("client_auth", n), &n, |b, _| {
        let req = introspection(last);
        b.to_async(rt).iter(|| async {
            let r = p.introspect(&req).await;
            assert_eq!(r.status, 200, "the client authenticated");
        });
    });
    g.bench_with_input(BenchmarkId::new("origin_allowed_hit", n), &n, |b, _| {
        let o = origin(last);
        b.to_async(rt).iter(|| async {
            assert!(p.cors_allowed(&o).await);
        });
    });
    g.bench_with_input(BenchmarkId::new("origin_allowed_miss", n), &n, |b, _| {
        b.to_async(rt).iter(|| async {
            assert!(!p.cors_allowed("https://nobody.example").await);
        });
    });
    g.finish();
}

fn clients(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let only = std::env::var("IDPKIT_BENCH_ONLY").unwrap_or_default();
    let want = |name: &str| only.is_empty() || only.split(',').any(|o| o == name);
    for n in SIZES {
        if want("sqlite") {
            let store = rt.block_on(sqlite(n));
            bench_store(c, &rt, "sqlite", &store, n);
        }
        if want("postgres")
            && let Some(store) = rt.block_on(postgres(n))
        {
            bench_store(c, &rt, "postgres", &store, n);
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = clients
}
criterion_main!(benches);
