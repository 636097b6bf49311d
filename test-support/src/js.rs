//! Stock JavaScript clients for the tests: the npm packages pinned in `tests/js`
//! (`@modelcontextprotocol/sdk`, `jose`), run with the machine's Node.js.
//!
//! [`package_dir`] installs them (`npm ci`, from the committed lock file) the first time a
//! test needs them; test binaries racing for it take turns through a lock directory.
//! [`run`] runs a script of that folder with a bounded time and returns its stdout;
//! [`Node`] (feature `host`) runs one that the test converses with (JSON lines on stdout,
//! lines on stdin), for flows where the test plays the user in between.

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

/// A node script the test converses with: it prints one JSON object per line on stdout
/// and reads lines from stdin. Every wait is bounded by the deadline given at
/// [`spawn`](Self::spawn); the process is killed when this is dropped (a failing test
/// leaves no node behind).
#[cfg(feature = "host")]
pub struct Node {
    script: String,
    child: tokio::process::Child,
    stdin: Option<tokio::process::ChildStdin>,
    stdout: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
    deadline: tokio::time::Instant,
}

#[cfg(feature = "host")]
impl Node {
    /// Starts `node SCRIPT ARGS…` in [`package_dir`] with `env` added to its environment;
    /// it must be done within `timeout`.
    pub fn spawn(script: &str, args: &[&str], env: &[(&str, &str)], timeout: Duration) -> Self {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt};
        let dir = package_dir();
        let mut child = tokio::process::Command::new("node")
            .arg(script)
            .args(args)
            .envs(env.iter().copied())
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node starts (install Node.js)");
        let stdin = child.stdin.take();
        let stdout = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut err = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .expect("stderr buffer")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Self {
            script: script.to_owned(),
            child,
            stdin,
            stdout,
            stderr,
            deadline: tokio::time::Instant::now() + timeout,
        }
    }

    fn fail(&self, what: &str) -> ! {
        panic!(
            "node {}: {what}\nstderr:\n{}",
            self.script,
            self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
        )
    }

    /// The next JSON object the script prints (lines that are not JSON are skipped);
    /// panics, with the script's stderr, when it ends or the deadline passes first, or
    /// when it reports `{"event": "error"}`.
    pub async fn next(&mut self) -> serde_json::Value {
        loop {
            let line = match tokio::time::timeout_at(self.deadline, self.stdout.next_line()).await {
                Err(_) => self.fail("timed out waiting for output"),
                Ok(Err(e)) => self.fail(&format!("stdout: {e}")),
                Ok(Ok(None)) => self.fail("ended before printing the expected line"),
                Ok(Ok(Some(line))) => line,
            };
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                if v["event"] == "error" {
                    self.fail(&format!("reported an error: {}", v["message"]));
                }
                return v;
            }
        }
    }

    /// The next JSON object whose `event` is `event`, skipping the others.
    pub async fn next_event(&mut self, event: &str) -> serde_json::Value {
        loop {
            let v = self.next().await;
            if v["event"] == event {
                return v;
            }
        }
    }

    /// Writes `line` and a newline to the script's stdin.
    pub async fn send_line(&mut self, line: &str) {
        use tokio::io::AsyncWriteExt;
        let Some(stdin) = self.stdin.as_mut() else {
            self.fail("stdin already closed")
        };
        let write = async {
            stdin.write_all(line.as_bytes()).await?;
            stdin.write_all(b"\n").await?;
            stdin.flush().await
        };
        match tokio::time::timeout_at(self.deadline, write).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.fail(&format!("stdin: {e}")),
            Err(_) => self.fail("timed out writing to stdin"),
        }
    }

    /// Waits for the script to exit (before the deadline) and asserts it succeeded.
    pub async fn success(mut self) {
        self.stdin = None;
        match tokio::time::timeout_at(self.deadline, self.child.wait()).await {
            Ok(Ok(status)) if status.success() => {}
            Ok(Ok(status)) => self.fail(&format!("exited with {status}")),
            Ok(Err(e)) => self.fail(&format!("wait: {e}")),
            Err(_) => self.fail("timed out waiting for exit"),
        }
    }
}
