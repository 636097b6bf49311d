//! Across OS processes: two processes × 32 tasks race on the same codes, 50 times, with
//! exactly one winner each time; and a record written by a process that is then killed with
//! SIGKILL is still there.
//!
//! The test binary re-runs itself as the child process (`IDPKIT_SQLITE_CHILD`).

use std::io::{BufRead, BufReader};
use std::sync::Arc;

use idpkit_core::testkit::grant_store::{assert_one_winner_per_id, consume_rounds, put_codes};
use idpkit_core::testkit::processes::{print_wins, spawn_self, wins_of};
use idpkit_core::time::{Duration, OffsetDateTime};
use idpkit_core::{GrantStore, Record, RecordKind};
use idpkit_storage_sqlite::SqliteStore;

const ROUNDS: usize = 50;

fn ids() -> Vec<String> {
    (0..ROUNDS).map(|i| format!("race-code-{i}")).collect()
}

/// Child mode: `race <db>` or `write <db>`.
fn child_main(mode: &str, db: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = SqliteStore::open(db).expect("open");
        match mode {
            "race" => {
                let wins = consume_rounds(Arc::new(store), &ids(), 32).await;
                print_wins(&wins);
            }
            "write" => {
                let record = Record {
                    grant_id: Some("family".into()),
                    payload: b"refresh token that the client holds".to_vec(),
                    expires_at: OffsetDateTime::now_utc() + Duration::days(1),
                };
                store
                    .put(RecordKind::RefreshToken, "rt-1", record)
                    .await
                    .expect("put");
                println!("\nIDPKIT-WRITTEN");
                std::thread::sleep(std::time::Duration::from_secs(60));
            }
            other => panic!("unknown child mode {other}"),
        }
    });
}

fn child(mode: &str, db: &std::path::Path) -> std::process::Child {
    spawn_self(
        "child_entry",
        "IDPKIT_SQLITE_CHILD",
        &format!("{mode}:{}", db.display()),
    )
}

/// Entry point of the child processes; does nothing in a normal test run.
#[test]
fn child_entry() {
    if let Ok(spec) = std::env::var("IDPKIT_SQLITE_CHILD") {
        let (mode, db) = spec.split_once(':').expect("mode:path");
        child_main(mode, db);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_racing_on_fifty_codes_have_one_winner_each() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("race.db");
    let store = SqliteStore::open(&db).expect("open");
    put_codes(&store, &ids()).await;
    let (a, b) = (child("race", &db), child("race", &db));
    let (wa, wb) = (wins_of(a), wins_of(b));
    assert_one_winner_per_id(&[wa, wb], ROUNDS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_survives_sigkill_right_after_it_returned() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("crash.db");
    drop(SqliteStore::open(&db).expect("create"));
    let mut c = child("write", &db);
    let stdout = c.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        let mut reader = BufReader::new(stdout);
        while !line.contains("IDPKIT-WRITTEN") {
            line.clear();
            if reader.read_line(&mut line).expect("read") == 0 {
                break;
            }
        }
        line
    });
    let line = tokio::time::timeout(std::time::Duration::from_secs(20), line)
        .await
        .expect("child wrote within 20 s")
        .expect("reader");
    assert!(line.contains("IDPKIT-WRITTEN"), "child output: {line}");
    c.kill().expect("SIGKILL");
    c.wait().expect("reaped");
    let store = SqliteStore::open(&db).expect("reopen after the crash");
    let got = store
        .get(RecordKind::RefreshToken, "rt-1", OffsetDateTime::now_utc())
        .await
        .expect("get")
        .expect("the record returned before the kill is still there");
    assert_eq!(got.record.payload, b"refresh token that the client holds");
}
