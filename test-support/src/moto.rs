//! A KMS-compatible endpoint for tests: `moto_server` (PyPI `moto[server]`) started on a
//! free loopback port, or the endpoint in `IDPKIT_TEST_KMS_ENDPOINT`. Shared by the keys-kms
//! tests and the example's multi-instance tests.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running endpoint; the server is stopped when dropped.
pub struct Moto {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The server process, when this harness started it.
    pub child: Option<Child>,
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = Command::new("kill")
                .args(["-CONT", &c.id().to_string()])
                .status();
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Moto {
    /// Stops (SIGSTOP) or resumes (SIGCONT) the endpoint: a KMS that stops answering.
    pub fn signal(&self, sig: &str) {
        let pid = self
            .child
            .as_ref()
            .expect("a moto_server started by the test")
            .id();
        assert!(
            Command::new("kill")
                .args([sig, &pid.to_string()])
                .status()
                .expect("kill")
                .success()
        );
    }
}

/// Starts (or finds) the endpoint; `None`, loudly, when `moto_server` is missing outside CI.
pub async fn moto() -> Option<Moto> {
    if let Ok(endpoint) = std::env::var("IDPKIT_TEST_KMS_ENDPOINT") {
        return Some(Moto {
            endpoint,
            child: None,
        });
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let child = match Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            let msg = format!(
                "KMS TESTS NOT RUN: moto_server not found ({e}); pip install 'moto[server]'"
            );
            assert!(std::env::var_os("CI").is_none(), "{msg}");
            eprintln!("\n*** {msg} ***\n");
            return None;
        }
    };
    let moto = Moto {
        endpoint: format!("http://127.0.0.1:{port}"),
        child: Some(child),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "moto_server did not start within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Some(moto)
}
