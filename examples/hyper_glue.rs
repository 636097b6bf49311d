//! idpkit without axum: every endpoint, CORS included, served by plain hyper in a few lines
//! of glue around core's [`Provider::route`] and [`Provider::handle`].
//!
//! Usage: `cargo run --example hyper_glue`, then
//! `curl -u demo-client:demo-secret -d grant_type=client_credentials http://127.0.0.1:8081/token`
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use idpkit::{Body, OAuthError, Provider, Request, Response, SystemClock};

/// Answers one request: core finds the endpoint and answers it (CORS and preflights
/// included); paths that are not the provider's get 404 (a host would serve its pages).
pub async fn handle(
    p: Provider,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, hyper::http::Error> {
    let (parts, body) = req.into_parts();
    let response = match p.route(parts.uri.path()) {
        None => Response::html(404, "not found".into()),
        Some(route) => {
            let max = p.config().max_body_bytes;
            match Limited::new(body, max).collect().await {
                Err(_) => Response::from_error(&OAuthError::invalid_request(
                    "unreadable or oversized body",
                )),
                Ok(body) => {
                    let headers = parts
                        .headers
                        .iter()
                        // Unreadable values as U+FFFD, never dropped (see Request::from_http).
                        .map(|(k, v)| (k.as_str(), v.to_str().unwrap_or("\u{FFFD}")));
                    let query = parts.uri.query();
                    match Request::from_http(
                        parts.method.as_str(),
                        query,
                        headers,
                        &body.to_bytes(),
                        max,
                    ) {
                        Ok(r) => p.handle(&route, &r).await,
                        Err(e) => Response::from_error(&e),
                    }
                }
            }
        }
    };
    let mut out = hyper::Response::builder().status(response.status);
    match response.body {
        Body::Json(_) => out = out.header("content-type", "application/json"),
        Body::Html(_) => out = out.header("content-type", "text/html; charset=utf-8"),
        Body::Jwt(_) => out = out.header("content-type", "application/jwt"),
        Body::Empty => {}
    }
    for (name, value) in &response.headers {
        out = out.header(name.as_ref(), value);
    }
    out.body(Full::new(Bytes::copy_from_slice(response.body_bytes())))
}

/// Serves `provider` on `listener`, one task per connection, until accepting fails.
pub async fn serve(listener: tokio::net::TcpListener, provider: Provider) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let p = provider.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(p.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let opts = idpkit_example::Options::for_bind("127.0.0.1:8081".parse()?);
    let users = Arc::new(idpkit_example::DemoUsers::new().map_err(|e| e.to_string())?);
    let provider = idpkit_example::build_provider(&opts, Arc::new(SystemClock), users).await?;
    let listener = tokio::net::TcpListener::bind(opts.bind).await?;
    println!(
        "hyper glue serving {} (no login page here: see examples/host)",
        provider.issuer()
    );
    Ok(serve(listener, provider).await?)
}
