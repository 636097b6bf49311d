//! The discovery and JWKS endpoints: the metadata document ([`crate::discovery`]) was
//! serialised once at `build()` and is served as bytes.

use crate::http_types::Response;
use crate::provider::Provider;

impl Provider {
    /// `GET /.well-known/openid-configuration` (and `/.well-known/oauth-authorization-server`):
    /// the metadata document, serialised once when the provider was built.
    pub fn discovery(&self) -> Response {
        Response::json(200, self.inner.discovery.clone())
            .header("Cache-Control", "public, max-age=300")
    }

    /// `GET` on the JWKS path: the published keys.
    pub async fn jwks(&self) -> Response {
        match self.inner.keys.jwks().await {
            Ok(jwks) => {
                Response::json(200, jwks.to_json()).header("Cache-Control", "public, max-age=300")
            }
            Err(e) => Response::from_error(&e.into()),
        }
    }
}
