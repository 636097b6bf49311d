//! The demo storefront (issue #15, the flow of Elastic Path Cortex): every visitor gets a
//! guest token from the token endpoint (`grant_type=urn:idpkit:params:oauth:grant-type:guest`,
//! client `demo-shop`), fills a cart with it, logs in (authorization code + PKCE S256) and
//! posts the code here: the same token is then the user's, and the cart with it.
//!
//! Routes (all take `Authorization: Bearer <token>`; a missing or invalid token is 401 with
//! `WWW-Authenticate: Bearer`):
//! - `GET /shop/cart`, `POST /shop/cart` (a JSON object: one item): the cart of the token's
//!   subject, `{"subject", "guest", "items"}`;
//! - `GET /shop/openid-configuration`: `{"authorization-url", "client-id", "scopes"}`;
//! - `POST /shop/openidconnect/form` with `{"authorization-code", "code-verifier",
//!   "original-redirect-uri"}`: upgrades the guest token ([`idpkit::Provider::upgrade_guest`]),
//!   201 with the token response (the same `access_token`), 4xx JSON errors otherwise;
//! - `DELETE /shop/oauth2/tokens`: revokes the bearer token (204; 401 afterwards).
//!
//! The carts are the host's data, keyed by subject, merged from the guest's into the
//! user's by [`MergeCarts`] (the provider's [`idpkit::GuestUpgradeHook`]). Demo state: kept
//! in memory and, when a file is given ([`Carts::persist_to`]: `--data-dir`/carts.json),
//! written there after every change and read back at start.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use idpkit::{GuestMerge, GuestUpgrade, GuestUpgradeHook, OAuthError, Provider, StoreError};
use serde_json::{Value, json};

/// The storefront's client (public, guest grant + authorization code with PKCE).
pub const SHOP_CLIENT: &str = "demo-shop";
/// The scopes the storefront asks for at login.
pub const SHOP_SCOPES: &str = "openid profile email offline_access";

/// The carts, keyed by subject (a guest's or a user's).
#[derive(Debug, Default)]
pub struct Carts {
    items: Mutex<HashMap<String, Vec<Value>>>,
    file: Mutex<Option<PathBuf>>,
}

impl Carts {
    /// Keeps the carts in `path` too (read now if it exists, written after every change).
    pub fn persist_to(&self, path: PathBuf) -> Result<(), String> {
        if let Ok(bytes) = std::fs::read(&path) {
            let loaded: HashMap<String, Vec<Value>> =
                serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            *self.lock_items() = loaded;
        }
        *self.file.lock().unwrap_or_else(|p| p.into_inner()) = Some(path);
        Ok(())
    }

    fn lock_items(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Value>>> {
        // A panic while holding the lock leaves a usable map: take it.
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The items of `subject`'s cart.
    pub fn items(&self, subject: &str) -> Vec<Value> {
        self.lock_items().get(subject).cloned().unwrap_or_default()
    }

    /// Adds an item; returns the cart.
    pub fn add(&self, subject: &str, item: Value) -> Result<Vec<Value>, StoreError> {
        let mut items = self.lock_items();
        let cart = items.entry(subject.to_owned()).or_default();
        cart.push(item);
        let cart = cart.clone();
        self.save(&items)?;
        Ok(cart)
    }

    /// Moves the guest's items into the user's cart (idempotent: a second call finds the
    /// guest's cart empty).
    pub fn merge(&self, guest: &str, user: &str) -> Result<(), StoreError> {
        let mut items = self.lock_items();
        let moved = items.remove(guest).unwrap_or_default();
        if moved.is_empty() {
            return Ok(());
        }
        items.entry(user.to_owned()).or_default().extend(moved);
        self.save(&items)
    }

    fn save(&self, items: &HashMap<String, Vec<Value>>) -> Result<(), StoreError> {
        let file = self.file.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let Some(path) = file else { return Ok(()) };
        let tmp = path.with_extension("json.tmp");
        let bytes = serde_json::to_vec(items).map_err(StoreError::backend)?;
        std::fs::write(&tmp, bytes).map_err(StoreError::backend)?;
        std::fs::rename(&tmp, &path).map_err(StoreError::backend)
    }
}

/// The provider's upgrade hook: the guest's cart goes to the user who logged in.
#[derive(Debug, Clone)]
pub struct MergeCarts(pub Arc<Carts>);

#[async_trait::async_trait]
impl GuestUpgradeHook for MergeCarts {
    async fn merge(&self, m: &GuestMerge) -> Result<(), StoreError> {
        self.0.merge(&m.guest_subject, &m.user_subject)?;
        tracing::info!(client_id = %m.client_id, "example: a guest's cart went to the user who logged in");
        Ok(())
    }
}

#[derive(Clone)]
struct Shop {
    provider: Provider,
    carts: Arc<Carts>,
}

/// The storefront's routes (see the module documentation).
pub fn routes(provider: Provider, carts: Arc<Carts>) -> Router {
    Router::new()
        .route("/shop/cart", get(cart).post(add_to_cart))
        .route("/shop/openid-configuration", get(openid_configuration))
        .route("/shop/openidconnect/form", post(upgrade))
        .route("/shop/oauth2/tokens", delete(revoke))
        .with_state(Shop { provider, carts })
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(body),
    )
        .into_response()
}

/// 401 with `WWW-Authenticate: Bearer` (RFC 6750 §3; no error code without credentials).
fn unauthorized(presented: bool) -> Response {
    let error = presented.then_some((
        "invalid_token",
        Some("the access token is invalid, expired or revoked"),
    ));
    let mut r = json_response(
        StatusCode::UNAUTHORIZED,
        json!({"error": "invalid_token", "error_description": "a valid bearer token is required"}),
    );
    if let Ok(v) = idpkit::bearer::challenge("demo-shop", error, None).parse() {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

fn oauth_error(e: &OAuthError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    json_response(
        status,
        json!({"error": e.code.as_str(), "error_description": e.description}),
    )
}

fn bad_request(description: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        json!({"error": "invalid_request", "error_description": description}),
    )
}

/// The bearer token of `headers`, if any (`Authorization: Bearer …`, scheme case-insensitive).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The live token of the request and what it says, or the 401 to answer.
async fn authenticated(
    shop: &Shop,
    headers: &HeaderMap,
) -> Result<(String, idpkit::AccessTokenInfo), Response> {
    let Some(token) = bearer(headers) else {
        return Err(unauthorized(false));
    };
    match shop.provider.access_token_info(token).await {
        Ok(Some(info)) if info.subject.is_some() => Ok((token.to_owned(), info)),
        Ok(_) => Err(unauthorized(true)),
        Err(e) => Err(oauth_error(&e)),
    }
}

fn cart_body(carts: &Carts, info: &idpkit::AccessTokenInfo) -> Value {
    let subject = info.subject.clone().unwrap_or_default();
    json!({
        "subject": subject,
        "guest": info.guest,
        "items": carts.items(&subject),
    })
}

async fn cart(State(shop): State<Shop>, headers: HeaderMap) -> Response {
    match authenticated(&shop, &headers).await {
        Ok((_, info)) => json_response(StatusCode::OK, cart_body(&shop.carts, &info)),
        Err(r) => r,
    }
}

async fn add_to_cart(State(shop): State<Shop>, headers: HeaderMap, body: Bytes) -> Response {
    let (_, info) = match authenticated(&shop, &headers).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let item: Value = match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_)) => v,
        _ => return bad_request("the body must be one item, a JSON object"),
    };
    let subject = info.subject.clone().unwrap_or_default();
    if let Err(e) = shop.carts.add(&subject, item) {
        return oauth_error(&e.into());
    }
    json_response(StatusCode::CREATED, cart_body(&shop.carts, &info))
}

async fn openid_configuration(State(shop): State<Shop>, headers: HeaderMap) -> Response {
    if let Err(r) = authenticated(&shop, &headers).await {
        return r;
    }
    json_response(
        StatusCode::OK,
        json!({
            "authorization-url": shop.provider.url(&shop.provider.config().paths.authorization),
            "client-id": SHOP_CLIENT,
            "scopes": SHOP_SCOPES,
        }),
    )
}

/// The form of `POST /shop/openidconnect/form` (Cortex's `openidconnect.create-openid`).
#[derive(Debug, serde::Deserialize)]
struct UpgradeForm {
    #[serde(rename = "authorization-code")]
    code: String,
    #[serde(rename = "code-verifier")]
    code_verifier: Option<String>,
    #[serde(rename = "original-redirect-uri")]
    redirect_uri: Option<String>,
}

async fn upgrade(State(shop): State<Shop>, headers: HeaderMap, body: Bytes) -> Response {
    let (token, _) = match authenticated(&shop, &headers).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let form: UpgradeForm = match serde_json::from_slice(&body) {
        Ok(f) => f,
        Err(_) => {
            return bad_request(
                "the body must be JSON with authorization-code, code-verifier and original-redirect-uri",
            );
        }
    };
    let request = GuestUpgrade {
        guest_token: &token,
        code: &form.code,
        code_verifier: form.code_verifier.as_deref(),
        redirect_uri: form.redirect_uri.as_deref(),
    };
    match shop.provider.upgrade_guest(&request).await {
        // "If the HTTP response is 201, then the public access token you obtained in step 1
        // has been successfully upgraded to a registered access token."
        Ok(up) => json_response(StatusCode::CREATED, Value::Object(up.response.into_body())),
        Err(e) => oauth_error(&e),
    }
}

async fn revoke(State(shop): State<Shop>, headers: HeaderMap) -> Response {
    let (token, _) = match authenticated(&shop, &headers).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    match shop.provider.revoke_access_token(&token).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => oauth_error(&e),
    }
}
