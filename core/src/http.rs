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

/// Makes outgoing HTTP requests.
///
/// # Contract
/// Implementations apply a bounded timeout and never follow redirects to another origin
/// without being asked; a non-2xx answer is a response, not an error.
#[async_trait]
pub trait HttpClient: Send + Sync + 'static {
    /// Sends the request.
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError>;
}
