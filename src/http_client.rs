//! An [`HttpClient`](crate::http::HttpClient) on reqwest (feature `http-client`): what the validator uses to fetch
//! discovery documents and JWKS, and federation to talk to upstream providers. Bounded
//! timeouts, bounded response bodies (read as a stream, cut at the cap), no redirects, rustls.

use std::time::Duration;

use crate::http::{DEFAULT_MAX_RESPONSE_BYTES, HttpClient, HttpError, HttpRequest, HttpResponse};

/// reqwest with a 5 s timeout, no redirect following, and response bodies of at most
/// [`DEFAULT_MAX_RESPONSE_BYTES`] (1 MiB; [`ReqwestClient::max_response_bytes`]).
#[derive(Debug, Clone)]
pub struct ReqwestClient {
    inner: reqwest::Client,
    max_response_bytes: usize,
}

impl ReqwestClient {
    /// A client with the default timeouts and response size cap.
    pub fn new() -> Result<Self, HttpError> {
        let inner = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(2))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| HttpError {
                url: String::new(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            inner,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        })
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
