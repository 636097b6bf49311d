//! A real browser (headless Chromium through WebDriver) logs in on the example host's login
//! page and lands on the client's callback with a code.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them). Without them
//! the test says so loudly and fails under CI (`CI` set); elsewhere it reports the skip.

use idpkit_test_support::host as common;

use std::process::{Child, Command, Stdio};
use std::time::Duration as StdDuration;

use common::{Host, authorize_url, callback_params, param, pkce_pair};
use fantoccini::{ClientBuilder, Locator};
use idpkit_example::DEMO_REDIRECT_URI;

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn find_chromedriver() -> Option<String> {
    ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(str::to_owned)
}

#[tokio::test]
async fn headless_chromium_logs_in_through_the_login_page() {
    let Some(chromedriver) = find_chromedriver() else {
        let msg = "BROWSER TEST NOT RUN: chromedriver not found (apt-get install chromium chromium-driver)";
        assert!(std::env::var_os("CI").is_none(), "{msg}");
        eprintln!("\n*** {msg} ***\n");
        return;
    };
    // Both rustls providers are compiled into this test binary: pick one explicitly.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let host = Host::start().await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        l.local_addr().expect("addr").port()
    };
    let _driver = Driver(
        Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver"),
    );
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage"]
        }),
    );
    let webdriver = format!("http://127.0.0.1:{port}");
    let mut browser = None;
    for _ in 0..50 {
        match ClientBuilder::rustls()
            .expect("tls")
            .capabilities(caps.clone())
            .connect(&webdriver)
            .await
        {
            Ok(c) => {
                browser = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(StdDuration::from_millis(200)).await,
        }
    }
    let browser = browser.expect("chromedriver did not come up within 10 s");

    let (_, challenge) = pkce_pair();
    let url = authorize_url(
        &host,
        "demo-client",
        &[
            ("response_type", "code"),
            ("scope", "openid profile"),
            ("state", "browser-state"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    browser.goto(&url).await.expect("open authorize URL");
    let current = browser.current_url().await.expect("url");
    assert!(
        current.path().starts_with("/interaction/"),
        "on the login page: {current}"
    );
    browser
        .find(Locator::Css("input[name=username]"))
        .await
        .expect("username")
        .send_keys("alice")
        .await
        .expect("type");
    browser
        .find(Locator::Css("input[name=password]"))
        .await
        .expect("password")
        .send_keys("wonderland")
        .await
        .expect("type");
    browser
        .find(Locator::Css("button[type=submit]"))
        .await
        .expect("button")
        .click()
        .await
        .expect("click");

    // Nothing listens on the callback port: the browser shows an error page, but the URL it
    // was sent to is what matters.
    let mut landed = None;
    for _ in 0..50 {
        let u = browser.current_url().await.expect("url");
        if u.as_str().starts_with(DEMO_REDIRECT_URI) {
            landed = Some(u);
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    let Some(landed) = landed else {
        let at = browser.current_url().await.expect("url");
        let html = browser.source().await.unwrap_or_default();
        panic!("the browser did not reach the callback; it is at {at}: {html}");
    };
    let params = callback_params(landed.as_str());
    assert!(
        param(&params, "code").is_some_and(|c| c.len() == 43),
        "{landed}"
    );
    assert_eq!(param(&params, "state"), Some("browser-state"));
    assert_eq!(param(&params, "iss"), Some(host.base.as_str()));
    browser.close().await.expect("close");
}
