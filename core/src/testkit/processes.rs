//! Helpers for cross-process tests: a backend's test binary re-runs itself as a child
//! process (selected by an environment variable) so that several OS processes share one
//! store. Test support only: nothing here runs outside tests.

use std::process::{Child, Command, Stdio};

/// Spawns the current test binary running only the test `entry`, with `env_var=value`.
pub fn spawn_self(entry: &str, env_var: &str, value: &str) -> Child {
    Command::new(std::env::current_exe().expect("test executable"))
        .args(["--exact", entry, "--nocapture", "--test-threads=1"])
        .env(env_var, value)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child process")
}

/// Prints per-id win counts in the form [`wins_of`] reads (child side).
pub fn print_wins(wins: &[usize]) {
    let list: Vec<String> = wins.iter().map(usize::to_string).collect();
    println!("\nIDPKIT-WINS:{}", list.join(","));
}

/// Waits for a child started with [`spawn_self`] and reads its win counts.
pub fn wins_of(child: Child) -> Vec<usize> {
    let out = child.wait_with_output().expect("child output");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "child process failed: {text}");
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("IDPKIT-WINS:"))
        .unwrap_or_else(|| panic!("no result line in child output: {text}"));
    line.split(',').map(|n| n.parse().expect("count")).collect()
}
