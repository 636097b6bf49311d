//! The path table, CORS and preflights: what every web framework's glue would otherwise
//! write again. A host maps its request into a [`Request`], asks [`Provider::route`] which
//! endpoint the path leads to (`None`: the path is the host's, such as its login page), and
//! answers with [`Provider::handle`]:
//!
//! ```
//! # async fn serve(provider: &idpkit_core::Provider, path: &str, req: &idpkit_core::Request) -> idpkit_core::Response {
//! match provider.route(path) {
//!     Some(route) => provider.handle(&route, req).await,
//!     None => idpkit_core::Response::html(404, "not found".into()),
//! }
//! # }
//! ```
//!
//! CORS (the Fetch standard's CORS protocol): discovery and the JWKS are public documents,
//! readable from every origin (`Access-Control-Allow-Origin: *`). The token, userinfo,
//! revocation and pushed authorization request endpoints answer browser scripts only from
//! origins some client allows ([`Provider::cors_allowed`]), and answer their preflights
//! (`OPTIONS`) with 204, or 403 for any other origin. The authorization endpoint (a browser navigation, never a script's
//! fetch), introspection (server to server) and the federation callback get no CORS headers.

use std::borrow::Cow;

use crate::http_types::{Body, Method, Request, Response};
use crate::provider::Provider;

/// A protocol endpoint a path leads to ([`Provider::route`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Route {
    /// `/.well-known/openid-configuration` or `/.well-known/oauth-authorization-server`
    /// (OpenID Connect Discovery 1.0 §4, RFC 8414 §3).
    Discovery,
    /// The JWKS (`Paths::jwks`).
    Jwks,
    /// The authorization endpoint (`Paths::authorization`, RFC 6749 §3.1), GET or POST.
    Authorize,
    /// The token endpoint (`Paths::token`, RFC 6749 §3.2).
    Token,
    /// The UserInfo endpoint (`Paths::userinfo`, OpenID Connect Core §5.3).
    Userinfo,
    /// The revocation endpoint (`Paths::revocation`, RFC 7009).
    Revocation,
    /// The introspection endpoint (`Paths::introspection`, RFC 7662).
    Introspection,
    /// The end-session endpoint (`Paths::end_session`, OpenID Connect RP-Initiated Logout
    /// 1.0 §2), GET or POST.
    EndSession,
    /// The device authorization endpoint (`Paths::device_authorization`, RFC 8628 §3.1).
    DeviceAuthorization,
    /// The pushed authorization request endpoint (`Paths::pushed_authorization_request`,
    /// RFC 9126 §2).
    PushedAuthorizationRequest,
    /// The client registration endpoint (`Paths::registration`, RFC 7591 §3), POST; routed
    /// only when registration is on.
    Registration,
    /// `<Paths::registration>/<client_id>`: a registered client's configuration endpoint
    /// (RFC 7592 §2), GET, PUT and DELETE; routed only when registration is on.
    ClientConfiguration {
        /// The `client_id` (the last path segment, as sent).
        client_id: String,
    },
    /// `<Paths::federation_callback>/<upstream>`: an upstream provider's redirect back.
    FederationCallback {
        /// The upstream's name (the last path segment, as sent).
        upstream: String,
    },
}

/// Who may read an endpoint's answers from a script of another origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cors {
    /// No CORS headers; preflights are refused (403).
    None,
    /// Every origin (`*`): public documents.
    AnyOrigin,
    /// Origins some client allows, echoed back.
    ClientOrigins,
}

impl Route {
    /// A short name for logs: `discovery`, `jwks`, `authorize`, `token`, `userinfo`,
    /// `revocation`, `introspection`, `end_session`, `device_authorization`,
    /// `pushed_authorization_request`, `federation_callback`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Discovery => "discovery",
            Self::Jwks => "jwks",
            Self::Authorize => "authorize",
            Self::Token => "token",
            Self::Userinfo => "userinfo",
            Self::Revocation => "revocation",
            Self::Introspection => "introspection",
            Self::EndSession => "end_session",
            Self::DeviceAuthorization => "device_authorization",
            Self::PushedAuthorizationRequest => "pushed_authorization_request",
            Self::FederationCallback { .. } => "federation_callback",
            Self::Registration => "registration",
            Self::ClientConfiguration { .. } => "client_configuration",
        }
    }

    /// Whether the endpoint's body is JSON (build its [`Request`] with
    /// [`Request::from_http_json`]): the registration and client configuration endpoints.
    pub fn takes_json(&self) -> bool {
        matches!(self, Self::Registration | Self::ClientConfiguration { .. })
    }

    fn cors(&self) -> Cors {
        match self {
            Self::Discovery | Self::Jwks => Cors::AnyOrigin,
            Self::Token | Self::Userinfo | Self::Revocation | Self::PushedAuthorizationRequest => {
                Cors::ClientOrigins
            }
            Self::Authorize
            | Self::Introspection
            | Self::EndSession
            | Self::DeviceAuthorization
            | Self::Registration
            | Self::ClientConfiguration { .. }
            | Self::FederationCallback { .. } => Cors::None,
        }
    }
}

/// A path pattern under which a router registers [`Provider::handle`], for frameworks that
/// register routes one by one ([`Provider::mount_points`]). Deliberately exhaustive: a
/// router must mount every kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountPoint {
    /// This path exactly.
    Exact(String),
    /// This prefix, then `/` and one non-empty segment (the federation callback's
    /// `<prefix>/<upstream>`).
    PrefixAndSegment(String),
}

/// The two discovery paths (OpenID Connect Discovery 1.0 §4, RFC 8414 §3).
const DISCOVERY_PATHS: [&str; 2] = [
    "/.well-known/openid-configuration",
    "/.well-known/oauth-authorization-server",
];

impl Provider {
    /// The endpoint `path` (the request URI's path, without query) leads to under the
    /// configured [`Paths`](crate::Paths), or `None` when it is not the provider's (the
    /// host's own pages, such as the interaction page, are among those).
    pub fn route(&self, path: &str) -> Option<Route> {
        let paths = &self.config().paths;
        if DISCOVERY_PATHS.contains(&path) {
            return Some(Route::Discovery);
        }
        let exact = [
            (&paths.jwks, Route::Jwks),
            (&paths.authorization, Route::Authorize),
            (&paths.token, Route::Token),
            (&paths.userinfo, Route::Userinfo),
            (&paths.revocation, Route::Revocation),
            (&paths.introspection, Route::Introspection),
            (&paths.end_session, Route::EndSession),
            (&paths.device_authorization, Route::DeviceAuthorization),
            (
                &paths.pushed_authorization_request,
                Route::PushedAuthorizationRequest,
            ),
        ];
        if let Some((_, route)) = exact.into_iter().find(|(p, _)| p.as_str() == path) {
            return Some(route);
        }
        if self.config().registration.policy.is_on() {
            if path == paths.registration {
                return Some(Route::Registration);
            }
            if let Some(id) = path
                .strip_prefix(paths.registration.as_str())
                .and_then(|r| r.strip_prefix('/'))
                && !id.is_empty()
                && !id.contains('/')
            {
                return Some(Route::ClientConfiguration {
                    client_id: id.to_owned(),
                });
            }
        }
        let upstream = path
            .strip_prefix(paths.federation_callback.as_str())?
            .strip_prefix('/')?;
        (!upstream.is_empty() && !upstream.contains('/')).then(|| Route::FederationCallback {
            upstream: upstream.to_owned(),
        })
    }

    /// Every path [`route`](Self::route) answers, for routers that register paths one by
    /// one: the discovery paths, the configured endpoint paths and the federation callback.
    pub fn mount_points(&self) -> Vec<MountPoint> {
        let paths = &self.config().paths;
        let mut out: Vec<MountPoint> = DISCOVERY_PATHS
            .iter()
            .map(|p| MountPoint::Exact((*p).to_owned()))
            .collect();
        out.extend(
            [
                &paths.jwks,
                &paths.authorization,
                &paths.token,
                &paths.userinfo,
                &paths.revocation,
                &paths.introspection,
                &paths.end_session,
                &paths.device_authorization,
                &paths.pushed_authorization_request,
            ]
            .into_iter()
            .map(|p| MountPoint::Exact(p.clone())),
        );
        out.push(MountPoint::PrefixAndSegment(
            paths.federation_callback.clone(),
        ));
        if self.config().registration.policy.is_on() {
            out.push(MountPoint::Exact(paths.registration.clone()));
            out.push(MountPoint::PrefixAndSegment(paths.registration.clone()));
        }
        out
    }

    /// Answers `req` at `route`: the endpoint's response with its CORS headers, or the
    /// answer to a CORS preflight (`OPTIONS`). Discovery and the JWKS take GET (and HEAD)
    /// only: other methods get 405 with `Allow: GET,HEAD`.
    pub async fn handle(&self, route: &Route, req: &Request) -> Response {
        let allowed_origin = match route.cors() {
            Cors::AnyOrigin if req.method != Method::Get => return method_not_allowed(),
            Cors::AnyOrigin => return public_document(endpoint(self, route, req).await),
            Cors::ClientOrigins => match &req.origin {
                Some(origin) if self.cors_allowed(origin).await => Some(origin.as_str()),
                _ => None,
            },
            Cors::None => None,
        };
        if req.method == Method::Options {
            return preflight(allowed_origin);
        }
        with_cors(endpoint(self, route, req).await, allowed_origin)
    }
}

/// The endpoint's own answer, before CORS.
async fn endpoint(p: &Provider, route: &Route, req: &Request) -> Response {
    match route {
        Route::Discovery => p.discovery(),
        Route::Jwks => p.jwks().await,
        Route::Authorize => p.authorize(req).await.into(),
        Route::Token => p.token(req).await,
        Route::Userinfo => p.userinfo(req).await,
        Route::Revocation => p.revoke(req).await,
        Route::Introspection => p.introspect(req).await,
        Route::EndSession => p.end_session(req).await.into(),
        Route::DeviceAuthorization => p.device_authorization(req).await,
        Route::PushedAuthorizationRequest => p.pushed_authorization_request(req).await,
        Route::FederationCallback { upstream } => p.federation_callback(upstream, req).await.into(),
        Route::Registration => p.register_client(req).await,
        Route::ClientConfiguration { client_id } => p.client_configuration(client_id, req).await,
    }
}

/// A public document: readable by scripts of every origin.
fn public_document(response: Response) -> Response {
    response.header("Access-Control-Allow-Origin", "*")
}

/// 405 for a method a GET-only document does not take (RFC 9110 §15.5.6: with `Allow`).
fn method_not_allowed() -> Response {
    Response {
        status: 405,
        headers: vec![(Cow::Borrowed("Allow"), "GET,HEAD".to_owned())],
        body: Body::Empty,
    }
}

/// The answer to a preflight: 204 with the CORS headers for an allowed origin, else 403.
fn preflight(allowed_origin: Option<&str>) -> Response {
    let response = Response {
        status: if allowed_origin.is_some() { 204 } else { 403 },
        headers: Vec::new(),
        body: Body::Empty,
    };
    with_cors(response, allowed_origin)
}

/// Adds the CORS headers for `allowed_origin` (none when `None`).
fn with_cors(response: Response, allowed_origin: Option<&str>) -> Response {
    match allowed_origin {
        None => response,
        Some(origin) => response
            .header("Access-Control-Allow-Origin", origin.to_owned())
            .header("Vary", "Origin")
            .header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
            .header(
                "Access-Control-Allow-Headers",
                "Authorization, Content-Type",
            )
            .header("Access-Control-Max-Age", "600"),
    }
}

#[cfg(test)]
mod tests;
