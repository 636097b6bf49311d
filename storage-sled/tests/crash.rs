//! Durability: a `put` that has returned survives the process being killed with `SIGKILL`.
//!
//! Each test re-executes this test binary as a child (selected by the
//! `IDPKIT_SLED_CRASH_CHILD=<db path>` environment variable and `--exact <test name>`). The
//! child opens the store, `put`s a refresh token, prints `written` and sleeps with the store
//! still open; the parent kills it with `SIGKILL` as soon as it reads that line, reopens the
//! database and expects the record back, byte for byte. Nothing ran sled's `Drop`, so only
//! the store's own flush can have put the record on disk.
#![cfg(unix)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use idpkit_core::time::OffsetDateTime;
use idpkit_core::{GrantStore, Record, RecordKind};
use idpkit_storage_sled::SledStore;

/// Set in the child to the database path; switches a test into child mode.
const CHILD_ENV: &str = "IDPKIT_SLED_CRASH_CHILD";
/// How long the parent waits for the child's `written` line.
const PARENT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long the child waits to be killed before giving up (so no child outlives a parent
/// that died itself).
const CHILD_LIFETIME: Duration = Duration::from_secs(60);
const ID: &str = "refresh-token-hash";
const GRANT: &str = "grant-family-1";

/// How the child opens the store.
#[derive(Debug, Clone, Copy)]
enum Open {
    /// `SledStore::open`, as an application would.
    Default,
    /// sled's periodic background flush turned off, so the store's own flush is the only
    /// thing that can write the record out before the kill.
    NoBackgroundFlush,
}

fn payload() -> Vec<u8> {
    let mut p = b"{\"sub\":\"alice\",\"scope\":\"openid offline_access\"}".to_vec();
    p.extend((0..=255u8).rev());
    p.extend_from_slice(&[0, 0xFF, 0]);
    p
}

fn record() -> Record {
    Record {
        grant_id: Some(GRANT.to_owned()),
        payload: payload(),
        // 2100-01-01T00:00:00Z: live whenever this test runs.
        expires_at: OffsetDateTime::from_unix_timestamp(4_102_444_800).expect("valid time"),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn open(path: &Path, how: Open) -> SledStore {
    match how {
        Open::Default => SledStore::open(path).expect("open"),
        Open::NoBackgroundFlush => SledStore::from_db(
            sled::Config::new()
                .path(path)
                .flush_every_ms(None)
                .open()
                .expect("open sled"),
        )
        .expect("open store"),
    }
}

/// Child mode: write, report, then wait to be killed with the store still open.
fn child(path: PathBuf, how: Open) -> ! {
    let rt = runtime();
    let store = open(&path, how);
    rt.block_on(store.put(RecordKind::RefreshToken, ID, record()))
        .expect("put");
    let mut out = std::io::stdout().lock();
    // A line of its own, whatever the test harness printed before.
    writeln!(out, "\nwritten").expect("write to stdout");
    out.flush().expect("flush stdout");
    std::thread::sleep(CHILD_LIFETIME);
    // Not killed: the parent is gone. `exit` runs no destructor, so the store is not
    // flushed by dropping it here either.
    std::process::exit(3)
}

/// Kills the child if the parent panics before doing so.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn parent(test_name: &str, how: Open) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("crash.sled");
    let exe = std::env::current_exe().expect("current_exe");
    let mut child = KillOnDrop(
        Command::new(exe)
            .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the child test process"),
    );
    let stdout = child.0.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            match line {
                Ok(line) if line.trim() == "written" => {
                    let _ = tx.send(());
                    return;
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    match rx.recv_timeout(PARENT_TIMEOUT) {
        Ok(()) => {}
        Err(mpsc::RecvTimeoutError::Timeout) => panic!(
            "the child did not print `written` within {PARENT_TIMEOUT:?} (db at {})",
            path.display()
        ),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!(
            "the child closed stdout without printing `written`: {:?}",
            child.0.wait()
        ),
    }

    // `Child::kill` sends SIGKILL on Unix: no destructor, no atexit, no flush in the child.
    child.0.kill().expect("kill the child");
    let status = child.0.wait().expect("wait for the child");
    assert_eq!(
        status.signal(),
        Some(9),
        "the child must die of SIGKILL, not exit on its own: {status:?}"
    );

    let store = SledStore::open(&path).expect("reopen after the crash");
    let got = runtime()
        .block_on(store.get(RecordKind::RefreshToken, ID, OffsetDateTime::now_utc()))
        .expect("get after the crash")
        .unwrap_or_else(|| panic!("a put that returned must survive SIGKILL ({how:?})"));
    assert_eq!(got.record, record(), "the record must read back exactly");
    assert_eq!(got.consumed_at, None);
}

fn run(test_name: &str, how: Open) {
    match std::env::var_os(CHILD_ENV) {
        Some(path) => child(PathBuf::from(path), how),
        None => parent(test_name, how),
    }
}

#[test]
fn returned_put_survives_sigkill() {
    run("returned_put_survives_sigkill", Open::Default);
}

#[test]
fn returned_put_survives_sigkill_without_background_flush() {
    run(
        "returned_put_survives_sigkill_without_background_flush",
        Open::NoBackgroundFlush,
    );
}
