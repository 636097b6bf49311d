//! The example's login page is guarded against password guessing (#12 item 5): after the
//! free failures each attempt waits for an exponential back-off, even with the right
//! password, and the page says how long (429 with `Retry-After`).

use idpkit_test_support::host as common;

use common::{Host, authorize_url, browser, location, pkce_pair};

/// Opens the login page of a fresh authorization request; its URL.
async fn login_page(host: &Host, b: &reqwest::Client) -> String {
    let (_, challenge) = pkce_pair();
    let url = authorize_url(
        host,
        "demo-public",
        &[
            ("response_type", "code"),
            ("scope", "openid"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let resp = b.get(url).send().await.expect("authorize");
    let page = host.url(&location(&resp));
    let html = b
        .get(&page)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(html.contains("name=\"password\""), "{html}");
    page
}

async fn submit(b: &reqwest::Client, page: &str, password: &str) -> reqwest::Response {
    b.post(page)
        .form(&[
            ("username", "alice"),
            ("password", password),
            ("action", "login"),
        ])
        .send()
        .await
        .expect("submit")
}

#[tokio::test]
async fn wrong_passwords_make_the_next_attempt_wait_even_with_the_right_one() {
    let host = Host::start().await;
    let b = browser();
    let page = login_page(&host, &b).await;
    for i in 0..5 {
        let r = submit(&b, &page, "not-it").await;
        assert_eq!(r.status(), 401, "free failure {i}");
    }
    let r = submit(&b, &page, "wonderland").await;
    assert_eq!(
        r.status(),
        429,
        "backing off: the password is not even checked"
    );
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .expect("Retry-After");
    let html = r.text().await.expect("html");
    assert!(html.contains(&format!("Try again in {retry} s")), "{html}");
    // Another browser, another interaction: the account is what is counted.
    let b2 = browser();
    let page2 = login_page(&host, &b2).await;
    assert_eq!(submit(&b2, &page2, "wonderland").await.status(), 429);
    // After the wait the right password works.
    host.clock.advance(idpkit::time::Duration::seconds(2));
    let r = submit(&b, &page, "wonderland").await;
    assert_eq!(r.status(), 303, "logged in after the back-off");
}
