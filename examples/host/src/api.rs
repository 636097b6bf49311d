//! A resource server (an API) protected by idpkit's bearer authentication, accepting the
//! example provider's access tokens for audience `demo-api`. `examples/api.rs` runs it.

use axum::routing::get;
use axum::{Extension, Json, Router};
use idpkit::axum::BearerAuth;
use idpkit::{ValidatedToken, Validator};
use serde_json::{Value, json};

/// The API: `GET /api/me` (any valid token) and `GET /api/orders` (needs `api:read`), and
/// its protected resource metadata (RFC 9728) when the validator has some
/// (`GET /.well-known/oauth-protected-resource/api` for the resource `http://HOST/api`).
pub fn app(validator: Validator) -> Router {
    let auth = BearerAuth::new(validator);
    Router::new()
        .merge(auth.metadata_router())
        .route("/api/me", get(me).route_layer(auth.clone().layer()))
        .route(
            "/api/orders",
            get(orders).route_layer(auth.require_scope("api:read").layer()),
        )
}

async fn me(Extension(token): Extension<ValidatedToken>) -> Json<Value> {
    Json(json!({
        "issuer": token.issuer,
        "subject": token.subject,
        "client_id": token.client_id,
        "scopes": token.scopes,
    }))
}

async fn orders(Extension(token): Extension<ValidatedToken>) -> Json<Value> {
    Json(json!({
        "orders": [{"id": 1, "item": "tea"}],
        "for": token.subject,
    }))
}
