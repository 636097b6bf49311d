//! The example's server drops clients that trickle their headers (slow loris) and keeps
//! serving everybody else, with a connection cap (#12 item 4). All on loopback, bounded.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use idpkit_example::serve::{ServeLimits, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn start(limits: ServeLimits) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = Router::new().route("/", get(|| async { "ok" }));
    tokio::spawn(serve(listener, app, limits, std::future::pending()));
    addr
}

/// Sends a partial request and never finishes it.
async fn slow_loris(addr: std::net::SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .expect("write");
    s
}

/// A complete request; the response's first line.
async fn get_root(addr: std::net::SocketAddr) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.expect("read");
    String::from_utf8_lossy(&out)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Whether the server closed the connection (EOF or reset) within `within`.
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 256];
    loop {
        match tokio::time::timeout(within, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // A 408-style answer before closing is fine; keep reading to the close.
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test]
async fn a_client_trickling_its_headers_is_dropped_after_the_header_timeout() {
    let addr = start(ServeLimits {
        header_read_timeout: Duration::from_millis(300),
        ..ServeLimits::default()
    })
    .await;
    let mut slow = slow_loris(addr).await;
    assert!(
        closed_within(&mut slow, Duration::from_secs(10)).await,
        "a slow-loris connection must be closed by the server"
    );
    assert_eq!(get_root(addr).await, "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn slow_clients_holding_every_slot_do_not_lock_others_out() {
    let addr = start(ServeLimits {
        header_read_timeout: Duration::from_millis(300),
        max_connections: 4,
        ..ServeLimits::default()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(slow_loris(addr).await);
    }
    // Every slot is taken by a slow client; the next request waits for one to be
    // dropped, then is served.
    let served = tokio::time::timeout(Duration::from_secs(15), get_root(addr))
        .await
        .expect("served once the slow clients are dropped");
    assert_eq!(served, "HTTP/1.1 200 OK");
    drop(held);
}

#[tokio::test]
async fn a_connection_is_closed_at_its_lifetime() {
    let addr = start(ServeLimits {
        connection_lifetime: Duration::from_millis(500),
        ..ServeLimits::default()
    })
    .await;
    // A keep-alive connection that sent one full request and then idles.
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("write");
    assert!(closed_within(&mut s, Duration::from_secs(10)).await);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    // Idle between requests is waiting for the next request's headers: the same timeout.
    let addr = start(ServeLimits {
        header_read_timeout: Duration::from_millis(300),
        ..ServeLimits::default()
    })
    .await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("write");
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).await.expect("response");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    assert!(
        closed_within(&mut s, Duration::from_secs(5)).await,
        "an idle keep-alive connection must not be held for the whole lifetime (300 s)"
    );
}
