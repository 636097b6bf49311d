//! Serving the example over HTTP/1.1 with the limits a public identity provider needs
//! (#12 item 4): a client that trickles its request headers is dropped after
//! [`ServeLimits::header_read_timeout`], a connection lives at most
//! [`ServeLimits::connection_lifetime`], and at most [`ServeLimits::max_connections`] are
//! served at once (further ones wait in the listen backlog until a slot frees), so a few
//! hundred half-open connections cannot exhaust the process's file descriptors or starve
//! everybody else.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Connection limits of [`serve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// How long a client may take to send a request's headers (slow-loris defence); hyper
    /// applies it to a keep-alive connection idling between requests too.
    pub header_read_timeout: Duration,
    /// The longest a connection (keep-alive included) is served; the client reconnects.
    pub connection_lifetime: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            connection_lifetime: Duration::from_secs(300),
            max_connections: 512,
        }
    }
}

/// Serves `app` on `listener` with `limits` until `shutdown` completes (then stops
/// accepting; connections in flight finish on their own within their lifetime).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    tokio::pin!(shutdown);
    loop {
        // Take a slot first: at the cap, new connections wait in the backlog.
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return Ok(()),
            },
            () = &mut shutdown => return Ok(()),
        };
        let (stream, peer) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or a reset before accept: log and go on.
                    tracing::warn!(error = %e, "example: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => return Ok(()),
        };
        // The peer address as axum's `ConnectInfo`: the source of idpkit's per-source
        // limits (a host behind a proxy would set `idpkit::axum::ClientIp` instead).
        let service = TowerToHyperService::new(
            app.clone()
                .layer(axum::Extension(axum::extract::ConnectInfo(peer))),
        );
        tokio::spawn(async move {
            let _permit = permit;
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .serve_connection(TokioIo::new(stream), service);
            match tokio::time::timeout(limits.connection_lifetime, conn).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "example: connection ended"),
                Err(_) => tracing::debug!(%peer, "example: connection lifetime reached"),
            }
        });
    }
}
