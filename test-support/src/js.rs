//! Stock JavaScript clients for the tests: the npm packages pinned in `tests/js`
//! (`@modelcontextprotocol/sdk`, `jose`), run with the machine's Node.js.
//!
//! [`package_dir`] installs them (`npm ci`, from the committed lock file) the first time a
//! test needs them; test binaries racing for it take turns through a lock directory.
//! [`run`] runs a script of that folder with a bounded time and returns its stdout.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `tests/js` of the workspace, with its `node_modules` installed.
///
/// Panics with the reason when Node.js or npm is missing or `npm ci` fails: a test that
/// needs a stock client must not pass without one.
pub fn package_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/js");
    let dir = dir.canonicalize().expect("tests/js exists");
    let installed = || dir.join("node_modules/.package-lock.json").exists();
    if installed() {
        return dir;
    }
    let lock = dir.join(".install-lock");
    let started = Instant::now();
    loop {
        match std::fs::create_dir(&lock) {
            Ok(()) => break,
            Err(_) if installed() => return dir,
            Err(_) if started.elapsed() > Duration::from_secs(300) => {
                panic!("{} is held for over 5 minutes; remove it", lock.display())
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
    let result = if installed() {
        Ok(())
    } else {
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .status()
            .map_err(|e| format!("npm could not be started ({e}); install Node.js and npm"))
            .and_then(|s| {
                s.success()
                    .then_some(())
                    .ok_or_else(|| format!("npm ci in {} failed: {s}", dir.display()))
            })
    };
    let _ = std::fs::remove_dir(&lock);
    if let Err(e) = result {
        panic!("{e}");
    }
    dir
}

/// Runs `node SCRIPT ARGS…` in [`package_dir`] (so its imports resolve to the pinned
/// packages), killed after `timeout`; returns stdout. Panics with stdout and stderr
/// when the script fails or times out.
pub fn run(script: &str, args: &[&str], timeout: Duration) -> String {
    let dir = package_dir();
    let mut child = Command::new("node")
        .arg(script)
        .args(args)
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node starts (install Node.js)");
    let started = Instant::now();
    loop {
        match child.try_wait().expect("wait for node") {
            Some(_) => break,
            None if started.elapsed() > timeout => {
                let _ = child.kill();
                break;
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    let out = child.wait_with_output().expect("node output");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "node {script} failed ({}; timeout {timeout:?})\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
