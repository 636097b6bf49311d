//! The [`HttpClient`] trait: how core asks the host to make an outgoing HTTP request
//! (upstream IdPs in federation, JWKS fetches by the validator). Core opens no socket.

use async_trait::async_trait;

/// An outgoing HTTP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// Absolute URL.
    pub url: String,
    /// Header name/value pairs.
    pub headers: Vec<(String, String)>,
    /// Body bytes (empty for GET).
    pub body: Vec<u8>,
}

/// An HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Header name/value pairs (names lower-case).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// Transport failures (connection refused, timeout, ...).
#[derive(Debug, thiserror::Error)]
#[error("HTTP request to {url} failed: {reason}")]
pub struct HttpError {
    /// The URL requested.
    pub url: String,
    /// What went wrong.
    pub reason: String,
}

/// The response body size an [`HttpClient`] accepts by default: 1 MiB, far more than a
/// discovery document, a JWKS or a token response needs.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Makes outgoing HTTP requests.
///
/// # Contract
/// Implementations apply a bounded timeout and never follow redirects to another origin
/// without being asked; a non-2xx answer is a response, not an error.
///
/// They bound the response body (by default [`DEFAULT_MAX_RESPONSE_BYTES`]): a body that
/// is, or declares itself (`Content-Length`), larger is an [`HttpError`], and no more than
/// the cap (plus one read) is ever held in memory: the body is read as a stream and the
/// read stops at the cap, never buffered whole and checked afterwards. An upstream (or
/// anything the provider fetches from) must not be able to exhaust the provider's memory
/// with one answer. The facade's `ReqwestClient` does this (`max_response_bytes`).
#[async_trait]
pub trait HttpClient: Send + Sync + 'static {
    /// Sends the request.
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError>;
}
