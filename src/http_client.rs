//! An [`HttpClient`](crate::http::HttpClient) on reqwest (feature `http-client`): what the validator uses to fetch
//! discovery documents and JWKS. Bounded timeouts, no redirects, rustls.

use std::time::Duration;

use crate::http::{HttpClient, HttpError, HttpRequest, HttpResponse};

/// reqwest with a 5 s timeout and no redirect following.
#[derive(Debug, Clone)]
pub struct ReqwestClient {
    inner: reqwest::Client,
}

impl ReqwestClient {
    /// A client with the default timeouts.
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
        Ok(Self { inner })
    }
}

#[async_trait::async_trait]
impl HttpClient for ReqwestClient {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let fail = |e: reqwest::Error| HttpError {
            url: request.url.clone(),
            reason: e.to_string(),
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
        let resp = builder.send().await.map_err(fail)?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let body = resp.bytes().await.map_err(fail)?.to_vec();
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}
