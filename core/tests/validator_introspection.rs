//! Opaque access tokens at the resource server: validated by RFC 7662 introspection at the
//! real provider (reached in-process through an `HttpClient`), with a short answer cache.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use idpkit_core::http::{HttpClient, HttpError, HttpRequest, HttpResponse};
use idpkit_core::testkit::flows::token_request;
use idpkit_core::testkit::users::TestUsers;
use idpkit_core::time::Duration;
use idpkit_core::{
    AccessTokenFormat, Algorithm, Client, GrantType, LocalKeys, ManualClock, MemoryGrantStore,
    Provider, Rejection, Request, StaticClients, TrustedIssuer, Validator,
};

/// Delivers HTTP requests to the provider's introspection endpoint in-process.
struct ToProvider {
    provider: Provider,
    calls: AtomicUsize,
}

#[async_trait]
impl HttpClient for ToProvider {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let headers: Vec<(&str, &str)> = req
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let parsed =
            Request::from_http(req.method, None, headers, &req.body, 65536).map_err(|e| {
                HttpError {
                    url: req.url.clone(),
                    reason: e.to_string(),
                }
            })?;
        let r = self.provider.introspect(&parsed).await;
        Ok(HttpResponse {
            status: r.status,
            headers: Vec::new(),
            body: r.body_bytes().to_vec(),
        })
    }
}

#[tokio::test]
async fn opaque_tokens_are_introspected_cached_briefly_and_revocable() {
    let issuer = "https://idp.example";
    let svc = Client::confidential("svc", "svc-secret")
        .grant_types([GrantType::ClientCredentials])
        .scopes(["orders:read"])
        .audience(["orders-api"])
        .access_token_format(AccessTokenFormat::Opaque)
        .build()
        .expect("client");
    let rs = Client::confidential("orders-api", "rs-secret")
        .grant_types([])
        .resource_server_for(["orders-api"])
        .build()
        .expect("resource server client");
    let clock = Arc::new(ManualClock::starting_now());
    let provider = Provider::builder(issuer)
        .grant_store(MemoryGrantStore::new())
        .keys(LocalKeys::ephemeral_for_development().expect("keys"))
        .clients(StaticClients::new([svc, rs]).expect("clients"))
        .users(TestUsers::none())
        .clock(clock.clone())
        .signing_alg(Algorithm::ES256)
        .dangerous_allow_development_backends()
        .build()
        .expect("provider");
    let http = Arc::new(ToProvider {
        provider: provider.clone(),
        calls: AtomicUsize::new(0),
    });
    let validator = Validator::builder()
        .trust(
            TrustedIssuer::new(issuer, "orders-api")
                .with_jwks(idpkit_core::Jwks::new(Vec::new()))
                .with_introspection(format!("{issuer}/introspect"), "orders-api", "rs-secret"),
        )
        .require_scopes(["orders:read"])
        .clock(clock.clone())
        .http_client(http.clone())
        .build()
        .expect("validator");

    let r = provider
        .token(&token_request(
            &[("grant_type", "client_credentials")],
            "svc",
            Some("svc-secret"),
        ))
        .await;
    let token = r.json_value()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert!(!token.contains('.'), "opaque");
    let ok = validator.validate(&token).await.expect("active");
    assert_eq!(ok.client_id.as_deref(), Some("svc"));
    assert!(ok.has_scope("orders:read"));
    assert_eq!((ok.kid, ok.alg), (None, None));
    validator.validate(&token).await.expect("cached");
    assert_eq!(
        http.calls.load(Ordering::SeqCst),
        1,
        "the second validation used the cache"
    );

    // Revoked at the provider: refused once the short cache has expired.
    provider
        .revoke(&token_request(
            &[("token", &token)],
            "svc",
            Some("svc-secret"),
        ))
        .await;
    clock.advance(Duration::seconds(11));
    let r = validator.validate(&token).await.expect_err("revoked");
    assert!(matches!(r, Rejection::Inactive { .. }), "{r:?}");
    assert!(r.to_string().contains("not active"));
    assert_eq!(
        validator
            .validate("unknown-opaque-token")
            .await
            .expect_err("unknown")
            .status(),
        401
    );
}
