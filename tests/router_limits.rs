//! The facade router's limits (#12 items 4 and 5): a request that takes too long (a body
//! trickled in) is answered 503 with `Retry-After`, and the client address a host's layer
//! determined ([`idpkit::axum::ClientIp`]) is the source of the per-source limits. All on
//! loopback, bounded.

use idpkit_test_support::host as common;

use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::middleware::Next;
use idpkit::axum::{ClientIp, RouterLimits, router_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Serves the provider of `host` with `limits`, taking the client address from the
/// `x-test-client-ip` header as a trusted proxy's header would be.
async fn serve(host: &common::Host, limits: RouterLimits) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = router_with(host.provider.clone(), limits).layer(axum::middleware::from_fn(
        |mut req: Request, next: Next| async move {
            let ip = req
                .headers()
                .get("x-test-client-ip")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok());
            if let Some(ip) = ip {
                req.extensions_mut().insert(ClientIp(ip));
            }
            next.run(req).await
        },
    ));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    addr
}

#[tokio::test]
async fn a_request_trickling_its_body_is_answered_503_at_the_timeout() {
    let host = common::Host::start().await;
    let mut limits = RouterLimits::default();
    limits.request_timeout = Duration::from_millis(400);
    let addr = serve(&host, limits).await;
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(
        b"POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\nConnection: close\r\n\r\ngrant_type=",
    )
    .await
    .expect("write");
    let started = Instant::now();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .expect("answered within the bound")
        .expect("read");
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(
        text.to_ascii_lowercase().contains("retry-after: 1"),
        "{text}"
    );
    assert!(text.contains("temporarily_unavailable"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn the_client_address_of_a_host_layer_keys_the_client_authentication_limit() {
    let host = common::Host::start().await;
    let addr = serve(&host, RouterLimits::default()).await;
    let http = common::http();
    let token = |ip: &'static str, secret: &'static str| {
        http.post(format!("http://{addr}/token"))
            .header("x-test-client-ip", ip)
            .basic_auth("demo-client", Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
    };
    // The default: 20 failures a minute per client and source.
    for _ in 0..20 {
        assert_eq!(
            token("203.0.113.4", "guess").await.expect("send").status(),
            401
        );
    }
    let r = token("203.0.113.4", "demo-secret").await.expect("send");
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(
        token("198.51.100.4", "demo-secret")
            .await
            .expect("send")
            .status(),
        200,
        "another address is another source"
    );
}
