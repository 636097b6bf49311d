//! An [`HttpClient`](crate::http::HttpClient) on reqwest (feature `http-client`): what the validator uses to fetch
//! discovery documents and JWKS, and federation to talk to upstream providers. Bounded
//! timeouts, bounded response bodies (read as a stream, cut at the cap), no redirects, rustls.
//!
//! `ReqwestClient::public_only` is the client for fetches on a client's behalf (client
//! ID metadata documents, a self-registered client's `jwks_uri` and
//! `sector_identifier_uri`; give it to
//! [`ProviderBuilder::untrusted_http_client`](crate::ProviderBuilder::untrusted_http_client)):
//! https only, no proxy, a 64 KiB body cap, and a DNS resolver that refuses a name
//! resolving to any special-use address ([`idpkit_core::ssrf::permitted`]), IP literals
//! checked the same way.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::http::{DEFAULT_MAX_RESPONSE_BYTES, HttpClient, HttpError, HttpRequest, HttpResponse};

/// The response body cap of [`ReqwestClient::public_only`]: 64 KiB (client metadata,
/// key sets and sector documents are small).
pub const UNTRUSTED_MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// reqwest with a 5 s timeout, no redirect following, and response bodies of at most
/// [`DEFAULT_MAX_RESPONSE_BYTES`] (1 MiB; [`ReqwestClient::max_response_bytes`]).
#[derive(Debug, Clone)]
pub struct ReqwestClient {
    inner: reqwest::Client,
    max_response_bytes: usize,
    /// `Some(allow_loopback)`: targets are checked with [`idpkit_core::ssrf`].
    public_only: Option<bool>,
}

/// Builds a [`ReqwestClient`] ([`ReqwestClient::builder`]).
#[derive(Debug, Default)]
pub struct ReqwestClientBuilder {
    public_only: bool,
    allow_loopback: bool,
    extra_roots: Vec<reqwest::Certificate>,
    max_response_bytes: Option<usize>,
}

impl ReqwestClientBuilder {
    /// Only public targets (see [`ReqwestClient::public_only`]).
    pub fn public_only(mut self, yes: bool) -> Self {
        self.public_only = yes;
        self
    }

    /// **Dangerous, tests only**: a [`public_only`](Self::public_only) client may reach
    /// loopback addresses too (127.0.0.0/8, `::1`); every other special-use address stays
    /// refused.
    pub fn dangerous_allow_loopback(mut self, yes: bool) -> Self {
        self.allow_loopback = yes;
        self
    }

    /// Trusts the root certificates in `pem` (PEM) in addition to the built-in roots
    /// (tests serving https with a throwaway CA).
    pub fn extra_root_ca_pem(mut self, pem: &[u8]) -> Result<Self, HttpError> {
        let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| HttpError {
            url: String::new(),
            reason: format!("the extra root CA is not PEM: {e}"),
        })?;
        if certs.is_empty() {
            return Err(HttpError {
                url: String::new(),
                reason: "the extra root CA PEM holds no certificate".into(),
            });
        }
        self.extra_roots.extend(certs);
        Ok(self)
    }

    /// The largest response body accepted (default [`DEFAULT_MAX_RESPONSE_BYTES`], or
    /// [`UNTRUSTED_MAX_RESPONSE_BYTES`] for a public-only client).
    pub fn max_response_bytes(mut self, max: usize) -> Self {
        self.max_response_bytes = Some(max);
        self
    }

    /// The client.
    pub fn build(self) -> Result<ReqwestClient, HttpError> {
        let mut b = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(2))
            .redirect(reqwest::redirect::Policy::none());
        for c in self.extra_roots {
            b = b.add_root_certificate(c);
        }
        if self.public_only {
            // A proxy would resolve the name itself, out of the resolver's sight.
            b = b
                .https_only(true)
                .no_proxy()
                .dns_resolver(Arc::new(PublicOnlyResolver {
                    allow_loopback: self.allow_loopback,
                }));
        }
        let inner = b.build().map_err(|e| HttpError {
            url: String::new(),
            reason: e.to_string(),
        })?;
        let default_cap = if self.public_only {
            UNTRUSTED_MAX_RESPONSE_BYTES
        } else {
            DEFAULT_MAX_RESPONSE_BYTES
        };
        Ok(ReqwestClient {
            inner,
            max_response_bytes: self.max_response_bytes.unwrap_or(default_cap),
            public_only: self.public_only.then_some(self.allow_loopback),
        })
    }
}

/// Resolves names and refuses any that resolves to a special-use address: one bad
/// address refuses the name (a name mixing public and private addresses is an attack).
#[derive(Debug)]
struct PublicOnlyResolver {
    allow_loopback: bool,
}

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_loopback = self.allow_loopback;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(bad) = addrs.iter().find_map(|a| {
                idpkit_core::ssrf::permitted(a.ip(), allow_loopback)
                    .err()
                    .map(|k| (a.ip(), k))
            }) {
                return Err(format!(
                    "{host} resolves to {} (a {:?} address): not fetched (SSRF defence)",
                    bad.0, bad.1
                )
                .into());
            }
            if addrs.is_empty() {
                return Err(format!("{host} resolves to no address").into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

impl ReqwestClient {
    /// A client with the default timeouts and response size cap.
    pub fn new() -> Result<Self, HttpError> {
        Self::builder().build()
    }

    /// A builder (public-only targets, extra roots, size cap).
    pub fn builder() -> ReqwestClientBuilder {
        ReqwestClientBuilder::default()
    }

    /// A client for fetches on a client's behalf: https only, no proxy, no redirects,
    /// bodies of at most [`UNTRUSTED_MAX_RESPONSE_BYTES`], and no special-use target
    /// address (private, loopback, link-local, unique-local, CGNAT, multicast,
    /// unspecified, IPv4-mapped ones...), neither as an IP literal nor after name
    /// resolution ([`idpkit_core::ssrf`]).
    pub fn public_only() -> Result<Self, HttpError> {
        Self::builder().public_only(true).build()
    }

    /// The largest response body accepted (default [`DEFAULT_MAX_RESPONSE_BYTES`]). A
    /// larger one (declared in `Content-Length` or found while reading) is an
    /// [`HttpError`]; reading stops at the cap.
    pub fn max_response_bytes(mut self, max: usize) -> Self {
        self.max_response_bytes = max;
        self
    }
}

#[async_trait::async_trait]
impl HttpClient for ReqwestClient {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let fail = |e: reqwest::Error| HttpError {
            url: request.url.clone(),
            reason: e.to_string(),
        };
        let too_large = || HttpError {
            url: request.url.clone(),
            reason: format!(
                "the response body is larger than {} bytes",
                self.max_response_bytes
            ),
        };
        // IP literals are not resolved, so the resolver never sees them: checked here.
        if let Some(allow_loopback) = self.public_only {
            idpkit_core::ssrf::check_url(&request.url, allow_loopback).map_err(|e| HttpError {
                url: request.url.clone(),
                reason: e.to_string(),
            })?;
        }
        let method =
            reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|e| HttpError {
                url: request.url.clone(),
                reason: e.to_string(),
            })?;
        let mut builder = self
            .inner
            .request(method, &request.url)
            .body(request.body.clone());
        for (k, v) in &request.headers {
            builder = builder.header(k, v);
        }
        let mut resp = builder.send().await.map_err(fail)?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        // Refused before reading when the size is announced; otherwise read as a stream
        // and cut at the cap (never buffered whole and checked afterwards).
        if resp
            .content_length()
            .is_some_and(|n| n > self.max_response_bytes as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(fail)? {
            if chunk.len() > self.max_response_bytes.saturating_sub(body.len()) {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server answering every connection with `head` and then `body_chunks` chunks of
    /// 64 KiB (chunked transfer encoding when `head` says so); counts the bytes it sent.
    async fn server(head: &'static str, body_chunks: usize) -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/", listener.local_addr().expect("addr"));
        let sent = Arc::new(AtomicUsize::new(0));
        let counter = sent.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    if s.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    let chunked = head.contains("chunked");
                    let data = vec![b'x'; 64 * 1024];
                    for _ in 0..body_chunks {
                        let r = if chunked {
                            let mut framed = format!("{:x}\r\n", data.len()).into_bytes();
                            framed.extend_from_slice(&data);
                            framed.extend_from_slice(b"\r\n");
                            s.write_all(&framed).await
                        } else {
                            s.write_all(&data).await
                        };
                        if r.is_err() {
                            return;
                        }
                        counter.fetch_add(data.len(), Ordering::SeqCst);
                    }
                    if chunked {
                        let _ = s.write_all(b"0\r\n\r\n").await;
                    }
                });
            }
        });
        (url, sent)
    }

    fn get(url: &str) -> HttpRequest {
        HttpRequest {
            method: "GET",
            url: url.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    #[tokio::test]
    async fn a_streamed_body_over_the_cap_is_an_error_and_reading_stops_at_the_cap() {
        // 64 MiB offered without a Content-Length (chunked): the read stops near 1 MiB.
        let (url, sent) = server(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
            64 * 16,
        )
        .await;
        let client = ReqwestClient::new().expect("client");
        let e = client.send(get(&url)).await.expect_err("too large");
        assert!(e.reason.contains("larger than 1048576 bytes"), "{e}");
        // What the server managed to push: the cap plus what the socket buffers took,
        // never the 64 MiB.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let pushed = sent.load(Ordering::SeqCst);
        assert!(
            pushed < 32 * 1024 * 1024,
            "the server pushed {pushed} bytes"
        );
    }

    #[tokio::test]
    async fn the_public_only_resolver_refuses_names_of_special_use_addresses_cimd_8_6() {
        use reqwest::dns::Resolve;
        use std::str::FromStr;
        let name = || reqwest::dns::Name::from_str("localhost").expect("name");
        let refused = PublicOnlyResolver {
            allow_loopback: false,
        }
        .resolve(name())
        .await;
        let e = refused.err().expect("localhost resolves to loopback");
        assert!(e.to_string().contains("Loopback"), "{e}");
        let allowed = PublicOnlyResolver {
            allow_loopback: true,
        }
        .resolve(name())
        .await
        .expect("loopback allowed by the knob");
        let addrs: Vec<SocketAddr> = allowed.collect();
        assert!(!addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()));
    }

    #[tokio::test]
    async fn public_only_refuses_http_and_special_use_literals_before_connecting() {
        let (url, sent) = server("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n", 0).await;
        let port = url
            .trim_start_matches("http://127.0.0.1:")
            .trim_end_matches('/');
        let client = ReqwestClient::public_only().expect("client");
        let e = client.send(get(&url)).await.expect_err("http");
        assert!(e.reason.contains("not https"), "{e}");
        for target in [
            format!("https://127.0.0.1:{port}/"),
            format!("https://[::ffff:127.0.0.1]:{port}/"),
            format!("https://localhost:{port}/"),
            "https://10.0.0.1/".to_owned(),
            "https://169.254.169.254/".to_owned(),
        ] {
            let e = client.send(get(&target)).await.expect_err("special use");
            assert!(e.reason.contains("SSRF"), "{target}: {e}");
        }
        assert_eq!(sent.load(Ordering::SeqCst), 0);
        assert_eq!(
            ReqwestClient::builder()
                .public_only(true)
                .build()
                .expect("client")
                .max_response_bytes,
            UNTRUSTED_MAX_RESPONSE_BYTES
        );
        assert!(
            ReqwestClient::builder()
                .extra_root_ca_pem(b"not pem")
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_declared_content_length_over_the_cap_is_refused_before_reading() {
        let (url, _) = server("HTTP/1.1 200 OK\r\ncontent-length: 314572800\r\n\r\n", 1).await;
        let client = ReqwestClient::new().expect("client");
        let e = client.send(get(&url)).await.expect_err("too large");
        assert!(e.reason.contains("larger than"), "{e}");
    }

    #[tokio::test]
    async fn a_body_within_the_cap_is_read_whole_and_the_cap_is_a_knob() {
        let (url, _) = server("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", 2).await;
        let client = ReqwestClient::new().expect("client");
        let r = client.send(get(&url)).await.expect("128 KiB is fine");
        assert_eq!(r.status, 200);
        assert_eq!(r.body.len(), 128 * 1024);
        let small = ReqwestClient::new()
            .expect("client")
            .max_response_bytes(100 * 1024);
        let e = small.send(get(&url)).await.expect_err("over 100 KiB");
        assert!(e.reason.contains("larger than 102400 bytes"), "{e}");
    }
}
