//! Every answer of the example host carries `nosniff` and refuses framing (#12 item 10),
//! whoever produced it: idpkit's endpoints, the host's pages, or the fallback 404.

use idpkit_test_support::host::{Host, browser};

#[tokio::test]
async fn every_answer_is_nosniff_and_unframeable() {
    let host = Host::start().await;
    let b = browser();
    for path in [
        "/.well-known/openid-configuration",
        "/jwks",
        "/authorize?client_id=demo-client&response_type=code&scope=openid",
        "/authorize?client_id=nobody",
        "/interaction/unknown",
        "/no-such-page",
        "/",
    ] {
        let r = b.get(host.url(path)).send().await.expect("request");
        let h = r.headers();
        assert_eq!(
            h.get("x-content-type-options")
                .and_then(|v| v.to_str().ok()),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            h.get("x-frame-options").and_then(|v| v.to_str().ok()),
            Some("DENY"),
            "{path}"
        );
        let csp = h
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
    }
    let token = b
        .post(host.url("/token"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token");
    assert_eq!(
        token
            .headers()
            .get("x-content-type-options")
            .and_then(|v| v.to_str().ok()),
        Some("nosniff"),
        "JSON answers too"
    );
}
