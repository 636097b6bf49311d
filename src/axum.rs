//! axum glue: [`router`] mounts every endpoint of a [`Provider`]; [`into_request`] and
//! [`into_response`] convert between axum and idpkit values for host pages (login, consent)
//! that call [`Provider::interaction`] and [`Provider::finish_interaction`].
//!
//! Where a request came from ([`Request::source`], the key of the per-source
//! [`RateLimits`](crate::RateLimits)) is read from a [`ClientIp`] extension if a layer of
//! the host set one (behind a reverse proxy: from the header the proxy sets, after
//! checking the peer is the proxy), else from axum's `ConnectInfo<SocketAddr>` (serve with
//! `into_make_service_with_connect_info::<SocketAddr>()`), else it is unknown.

use axum::Router;
use axum::body::{Body as AxumBody, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, Method as HttpMethod, StatusCode, Uri, header};
use axum::response::IntoResponse;
use axum::routing::any;
use tracing::Instrument;

use crate::logging::untrusted;

use crate::{Body, MountPoint, OAuthError, Provider, Request, Response};

/// The client's address as the host determined it (e.g. from a trusted proxy's
/// `X-Forwarded-For`): put it in the request's extensions and the glue uses it as
/// [`Request::source`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub std::net::IpAddr);

/// Where a request came from: a [`ClientIp`] extension, else axum's `ConnectInfo`.
pub fn source_of(extensions: &axum::http::Extensions) -> Option<std::net::IpAddr> {
    if let Some(ClientIp(ip)) = extensions.get::<ClientIp>() {
        return Some(*ip);
    }
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Limits of [`router_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RouterLimits {
    /// The longest a request may take, body upload included (default 30 s); then it is
    /// answered `503 temporarily_unavailable` with `Retry-After: 1`. Header-read and idle
    /// timeouts belong to the server (hyper's `header_read_timeout`; see the example host).
    pub request_timeout: std::time::Duration,
}

impl Default for RouterLimits {
    fn default() -> Self {
        Self {
            request_timeout: std::time::Duration::from_secs(30),
        }
    }
}

/// Converts an axum request's parts into an idpkit [`Request`]. Bodies larger than the
/// provider's `max_body_bytes` are refused (413), bad encodings are `invalid_request`.
pub fn into_request(
    provider: &Provider,
    method: &HttpMethod,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Request, OAuthError> {
    // A value that is not visible ASCII is passed as U+FFFD, never dropped: idpkit refuses
    // such an `Authorization` header instead of treating the request as anonymous.
    let pairs = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.to_str().unwrap_or("\u{FFFD}")));
    Request::from_http(
        method.as_str(),
        uri.query(),
        pairs,
        body,
        provider.config().max_body_bytes,
    )
}

/// [`into_request`] for the endpoints whose body is JSON ([`Route::takes_json`](crate::Route::takes_json):
/// client registration), built with [`Request::from_http_json`].
pub fn into_json_request(
    provider: &Provider,
    method: &HttpMethod,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Request, OAuthError> {
    let pairs = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.to_str().unwrap_or("\u{FFFD}")));
    Request::from_http_json(
        method.as_str(),
        uri.query(),
        pairs,
        body,
        provider.config().max_body_bytes,
    )
}

/// Converts an idpkit [`Response`] into an axum response.
pub fn into_response(response: Response) -> axum::response::Response {
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let content_type = match &response.body {
        Body::Empty => None,
        Body::Json(_) => Some("application/json"),
        Body::Html(_) => Some("text/html; charset=utf-8"),
        Body::Jwt(_) => Some("application/jwt"),
    };
    let body = match response.body {
        Body::Empty => AxumBody::empty(),
        Body::Json(bytes) => AxumBody::from(Bytes::from_owner(bytes)),
        Body::Html(html) => AxumBody::from(html),
        Body::Jwt(jws) => AxumBody::from(jws),
    };
    let mut out = (status, body).into_response();
    let headers = out.headers_mut();
    if let Some(ct) = content_type {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    for (name, value) in response.headers {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.append(name, value);
        }
    }
    out
}

/// The client a request names (`client_id` parameter or the Basic user), for logs only.
fn client_for_log(req: &Request) -> String {
    let id = match req.params.get("client_id") {
        Ok(Some(id)) => id.to_owned(),
        _ => req
            .authorization
            .as_deref()
            .and_then(crate::client_id_from_basic)
            .unwrap_or_default(),
    };
    // Chosen by whoever sent the request: escaped and capped, never a forged log line.
    untrusted(id).to_string()
}

/// Every mounted path: core's [`Provider::route`] and [`Provider::handle`] decide the
/// endpoint, CORS and preflights; this converts and logs.
async fn handle(
    State(provider): State<Provider>,
    method: HttpMethod,
    uri: Uri,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    body: Bytes,
) -> axum::response::Response {
    let Some(route) = provider.route(uri.path()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let span = tracing::info_span!(
        "idpkit",
        endpoint = route.name(),
        client_id = tracing::field::Empty,
        status = tracing::field::Empty
    );
    async move {
        let converted = if route.takes_json() {
            into_json_request(&provider, &method, &uri, &headers, &body)
        } else {
            into_request(&provider, &method, &uri, &headers, &body)
        };
        let req = match converted {
            Ok(r) => r.with_source(source_of(&extensions)),
            Err(e) => return into_response(Response::from_error(&e)),
        };
        tracing::Span::current().record("client_id", client_for_log(&req).as_str());
        let response = provider.handle(&route, &req).await;
        tracing::Span::current().record("status", response.status);
        tracing::info!("idpkit: request handled");
        into_response(response)
    }
    .instrument(span)
    .await
}

/// A router with every endpoint of `provider` at its configured path, plus
/// `/.well-known/openid-configuration` and `/.well-known/oauth-authorization-server`
/// ([`Provider::mount_points`]), with CORS as [`Provider::handle`] answers it.
/// The host adds its own interaction page at `Paths::interaction`. Bodies are capped at
/// `Config::max_body_bytes` (413) and requests at [`RouterLimits::default`]'s timeout.
pub fn router(provider: Provider) -> Router {
    router_with(provider, RouterLimits::default())
}

/// [`router`] with other [`RouterLimits`].
pub fn router_with(provider: Provider, limits: RouterLimits) -> Router {
    let limit = provider.config().max_body_bytes;
    let timeout = limits.request_timeout;
    provider
        .mount_points()
        .into_iter()
        .fold(Router::new(), |router, mount| {
            let path = match mount {
                MountPoint::Exact(path) => path,
                MountPoint::PrefixAndSegment(prefix) => format!("{prefix}/{{upstream}}"),
            };
            router.route(&path, any(handle))
        })
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| async move {
                match tokio::time::timeout(timeout, next.run(req)).await {
                    Ok(response) => response,
                    Err(_) => timed_out(),
                }
            },
        ))
        .with_state(provider)
}

/// The answer to a request that took longer than [`RouterLimits::request_timeout`].
fn timed_out() -> axum::response::Response {
    tracing::info!("idpkit: request timed out");
    let mut e = OAuthError::new(
        crate::ErrorCode::TemporarilyUnavailable,
        "the request took too long",
    );
    e.status = Some(503);
    e.retry_after = Some(1);
    into_response(Response::from_error(&e))
}

/// The middleware function behind [`BearerAuth::layer`].
type BearerFn = fn(
    State<BearerAuth>,
    axum::extract::Request,
    axum::middleware::Next,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = axum::response::Response> + Send>,
>;

/// The layer [`BearerAuth::layer`] returns.
pub type BearerLayer = axum::middleware::FromFnLayer<
    BearerFn,
    BearerAuth,
    (State<BearerAuth>, axum::extract::Request),
>;

/// Bearer-token authentication for a resource server's routes (RFC 6750): validates
/// `Authorization: Bearer` with a [`Validator`](crate::Validator), answers 401 / 403 with
/// `WWW-Authenticate` saying why, and hands the [`ValidatedToken`](crate::ValidatedToken) to
/// handlers as an `Extension`.
///
/// DPoP (RFC 9449 §7) too: `Authorization: DPoP` with a `DPoP` proof header goes through
/// [`Validator::validate_request`](crate::Validator::validate_request) (`htu` is the
/// validator's [`external_url`](crate::ValidatorBuilder::external_url) joined with the
/// request's path), a DPoP-bound token sent as `Bearer` is refused, DPoP refusals carry a
/// `WWW-Authenticate: DPoP algs="…" error="…"` challenge (and `DPoP-Nonce` when the
/// validator wants its nonce), and the 401 of a request without credentials offers both
/// schemes.
///
/// Protected resource metadata (RFC 9728), when the validator has
/// [`resource_metadata`](crate::ValidatorBuilder::resource_metadata): every challenge of
/// the layer (401 and 403, `Bearer` and `DPoP`) carries `resource_metadata="<URL>"`
/// (§5.1), and [`metadata_router`](Self::metadata_router) serves the document at its
/// well-known path (§3).
///
/// ```no_run
/// # async fn demo(validator: idpkit::Validator) {
/// use axum::{Extension, Router, routing::get};
/// use idpkit::axum::BearerAuth;
/// let auth = BearerAuth::new(validator);
/// let app: Router = Router::new()
///     .route("/orders", get(|Extension(t): Extension<idpkit::ValidatedToken>| async move {
///         format!("hello {}", t.subject.unwrap_or_default())
///     }))
///     .route_layer(auth.require_scope("orders:read").layer());
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct BearerAuth {
    validator: std::sync::Arc<crate::Validator>,
    scopes: std::sync::Arc<Vec<String>>,
    realm: std::sync::Arc<str>,
    detail: bool,
}

impl BearerAuth {
    /// Authentication with `validator`; error descriptions are sent (see
    /// [`hide_details`](Self::hide_details)).
    pub fn new(validator: crate::Validator) -> Self {
        Self::shared(std::sync::Arc::new(validator))
    }

    /// The same with a shared validator.
    pub fn shared(validator: std::sync::Arc<crate::Validator>) -> Self {
        Self {
            validator,
            scopes: std::sync::Arc::new(Vec::new()),
            realm: "api".into(),
            detail: true,
        }
    }

    /// Also requires `scope` (403 `insufficient_scope` without it).
    pub fn require_scope(&self, scope: &str) -> Self {
        let mut s = self.clone();
        let mut scopes = (*s.scopes).clone();
        scopes.push(scope.to_owned());
        s.scopes = std::sync::Arc::new(scopes);
        s
    }

    /// Leaves `error_description` out of the answers (the reason is still logged).
    pub fn hide_details(mut self) -> Self {
        self.detail = false;
        self
    }

    /// The realm named in `WWW-Authenticate` (default `api`).
    pub fn realm(mut self, realm: &str) -> Self {
        self.realm = realm.into();
        self
    }

    /// A router answering `GET` at the well-known path of the validator's protected
    /// resource metadata (RFC 9728 §3: `/.well-known/oauth-protected-resource/mcp` for
    /// the resource `https://host/mcp`) with the document built at validator build, as
    /// `application/json`; merge it into the app, outside the bearer layer (the document
    /// is public). Empty when the validator has no metadata.
    pub fn metadata_router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let Some(m) = self.validator.resource_metadata() else {
            return Router::new();
        };
        // The route matches the path; a query in the resource identifier is ignored here.
        let path = m.path.split('?').next().unwrap_or(&m.path).to_owned();
        let doc = Bytes::from(m.document.clone());
        Router::new().route(
            &path,
            axum::routing::get(move || {
                let doc = doc.clone();
                async move {
                    (
                        [
                            (header::CONTENT_TYPE, "application/json"),
                            (header::CACHE_CONTROL, "max-age=300"),
                        ],
                        doc,
                    )
                }
            }),
        )
    }

    /// `challenge` with `resource_metadata` (RFC 9728 §5.1) when there is metadata.
    fn with_metadata(&self, challenge: String) -> String {
        match self.validator.resource_metadata() {
            Some(m) => m.add_to_challenge(challenge),
            None => challenge,
        }
    }

    /// The layer to put on routes (`route_layer` or `layer`).
    pub fn layer(self) -> BearerLayer {
        axum::middleware::from_fn_with_state(self, |s, r, n| Box::pin(bearer(s, r, n)))
    }

    /// The refusal: status and `WWW-Authenticate` with the RFC 6750 error code and the
    /// short [`Rejection::description`](crate::Rejection::description) (the JSON body
    /// says the same); the full reason goes to the log at debug level and, as the
    /// [`Rejection`](crate::Rejection) itself, into the response's extensions for an outer
    /// layer or handler. Neither ever contains the token.
    async fn refuse(&self, r: crate::Rejection, dpop: bool) -> axum::response::Response {
        tracing::debug!(reason = %untrusted(&r), code = r.error_code().as_str(), "idpkit: bearer token refused");
        let status = StatusCode::from_u16(r.status()).unwrap_or(StatusCode::UNAUTHORIZED);
        let body = if self.detail {
            serde_json::json!({"error": r.error_code().as_str(), "error_description": r.description()})
        } else {
            serde_json::json!({"error": r.error_code().as_str()})
        };
        let mut resp = (status, axum::Json(body)).into_response();
        let challenge = if dpop || r.is_dpop() {
            r.www_authenticate_dpop(&self.realm, &self.validator.dpop_algs(), self.detail)
        } else {
            r.www_authenticate(&self.realm, self.detail)
        };
        let challenge = self.with_metadata(challenge);
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        if r.error_code() == crate::ErrorCode::UseDpopNonce {
            // RFC 9449 §9: the refusal carries the nonce to use.
            match self.validator.dpop_nonce().await {
                Ok(n) => {
                    if let Ok(v) = HeaderValue::from_str(&n) {
                        resp.headers_mut().insert("dpop-nonce", v);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "idpkit: no DPoP nonce could be stored"),
            }
        }
        resp.extensions_mut().insert(r);
        resp
    }
}

async fn bearer(
    State(auth): State<BearerAuth>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let Some((scheme, _)) = authorization.and_then(crate::bearer::authorization_token) else {
        // RFC 6750 §3.1: no error code when the request carried no credentials; both
        // schemes are offered (RFC 9449 §7.1).
        let mut resp = StatusCode::UNAUTHORIZED.into_response();
        let challenges = [
            crate::bearer::challenge(&auth.realm, None, None),
            crate::bearer::dpop_challenge(&auth.realm, &auth.validator.dpop_algs(), None),
        ];
        for c in challenges {
            if let Ok(v) = HeaderValue::from_str(&auth.with_metadata(c)) {
                resp.headers_mut().append(header::WWW_AUTHENTICATE, v);
            }
        }
        return resp;
    };
    let dpop = scheme == crate::bearer::Scheme::DPoP;
    let mut proofs = req.headers().get_all("dpop").iter();
    let proof = proofs.next().map(|v| v.to_str().unwrap_or("\u{FFFD}"));
    if proofs.next().is_some() {
        // RFC 9449 §4.3 step 1.
        let r = crate::Rejection::DpopProof(crate::dpop::ProofError::Presence(
            "more than one DPoP header",
        ));
        return auth.refuse(r, true).await;
    }
    let target = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned());
    let resource = crate::ResourceRequest {
        authorization,
        dpop: proof,
        method: req.method().as_str(),
        target: &target,
    };
    match auth.validator.validate_request(&resource).await {
        Ok(t) => {
            if let Err(r) = t.require_scopes(&auth.scopes) {
                return auth.refuse(r, dpop).await;
            }
            req.extensions_mut().insert(t);
            next.run(req).await
        }
        Err(r) => auth.refuse(r, dpop).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_logged_client_id_cannot_forge_a_log_line() {
        let req = Request::from_http(
            "GET",
            Some("client_id=demo%0A2026-01-01%20INFO%20idpkit%3A%20admin%20logged%20in"),
            [],
            b"",
            1024,
        )
        .expect("request");
        let logged = client_for_log(&req);
        assert!(!logged.contains('\n'), "{logged:?}");
        assert_eq!(logged, "demo\\n2026-01-01 INFO idpkit: admin logged in");
    }
}
