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
//! readable from every origin (`Access-Control-Allow-Origin: *`). The token, userinfo and
//! revocation endpoints answer browser scripts only from origins some client allows
//! ([`Provider::cors_allowed`]), and answer their preflights (`OPTIONS`) with 204, or 403
//! for any other origin. The authorization endpoint (a browser navigation, never a script's
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
    /// `revocation`, `introspection`, `federation_callback`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Discovery => "discovery",
            Self::Jwks => "jwks",
            Self::Authorize => "authorize",
            Self::Token => "token",
            Self::Userinfo => "userinfo",
            Self::Revocation => "revocation",
            Self::Introspection => "introspection",
            Self::FederationCallback { .. } => "federation_callback",
        }
    }

    fn cors(&self) -> Cors {
        match self {
            Self::Discovery | Self::Jwks => Cors::AnyOrigin,
            Self::Token | Self::Userinfo | Self::Revocation => Cors::ClientOrigins,
            Self::Authorize | Self::Introspection | Self::FederationCallback { .. } => Cors::None,
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
        ];
        if let Some((_, route)) = exact.into_iter().find(|(p, _)| p.as_str() == path) {
            return Some(route);
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
            ]
            .into_iter()
            .map(|p| MountPoint::Exact(p.clone())),
        );
        out.push(MountPoint::PrefixAndSegment(
            paths.federation_callback.clone(),
        ));
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
        Route::FederationCallback { upstream } => p.federation_callback(upstream, req).await.into(),
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
mod tests {
    use super::*;
    use crate::client::{Client, GrantType, StaticClients};
    use crate::config::Paths;
    use crate::http_types::Params;
    use crate::interaction::Authorization;
    use crate::keys::LocalKeys;
    use crate::store::{MemoryGrantStore, StoreError};
    use crate::users::{Claims, UserStore};

    const SPA: &str = "https://spa.example";
    const EVIL: &str = "https://evil.example";

    struct NoUsers;

    #[async_trait::async_trait]
    impl UserStore for NoUsers {
        async fn claims(&self, _: &str, _: &[String]) -> Result<Option<Claims>, StoreError> {
            Ok(None)
        }
    }

    fn provider_with(paths: Paths) -> Provider {
        let svc = Client::confidential("svc", "svc-secret")
            .grant_types([GrantType::ClientCredentials])
            .scopes(["api:read"])
            .build()
            .expect("client");
        let spa = Client::public("spa")
            .redirect_uri("https://spa.example/callback")
            .allowed_origin(SPA)
            .grant_types([GrantType::AuthorizationCode])
            .scopes(["openid"])
            .build()
            .expect("client");
        Provider::builder("https://idp.example")
            .grant_store(MemoryGrantStore::new())
            .keys(LocalKeys::ephemeral_for_development().expect("keys"))
            .clients(StaticClients::new([svc, spa]).expect("clients"))
            .users(NoUsers)
            .paths(paths)
            .dangerous_allow_development_backends()
            .build()
            .expect("provider")
    }

    fn provider() -> Provider {
        provider_with(Paths::default())
    }

    fn request(method: Method, origin: Option<&str>) -> Request {
        let mut r = Request::new(method);
        r.origin = origin.map(str::to_owned);
        r
    }

    fn client_credentials(origin: Option<&str>) -> Request {
        let mut r = request(Method::Post, origin);
        r.params = Params::from_pairs([
            ("grant_type", "client_credentials"),
            ("client_id", "svc"),
            ("client_secret", "svc-secret"),
        ]);
        r
    }

    fn cors_headers(r: &Response) -> Vec<(&str, &str)> {
        r.headers
            .iter()
            .filter(|(k, _)| k.starts_with("Access-Control-") || k == "Vary")
            .map(|(k, v)| (k.as_ref(), v.as_str()))
            .collect()
    }

    fn upstream(name: &str) -> Route {
        Route::FederationCallback {
            upstream: name.to_owned(),
        }
    }

    #[test]
    fn default_paths_lead_to_their_endpoints() {
        let p = provider();
        for (path, route) in [
            ("/.well-known/openid-configuration", Route::Discovery),
            ("/.well-known/oauth-authorization-server", Route::Discovery),
            ("/jwks", Route::Jwks),
            ("/authorize", Route::Authorize),
            ("/token", Route::Token),
            ("/userinfo", Route::Userinfo),
            ("/revoke", Route::Revocation),
            ("/introspect", Route::Introspection),
            ("/federation/callback/corp", upstream("corp")),
        ] {
            assert_eq!(p.route(path), Some(route), "{path}");
        }
    }

    #[test]
    fn the_hosts_paths_are_not_the_providers() {
        let p = provider();
        for path in [
            "/",
            "/interaction/abc",
            "/token/",
            "/Token",
            "/tokens",
            "/.well-known/openid-configuration/",
            "/federation/callback",
            "/federation/callback/",
            "/federation/callback/corp/",
            "/federation/callback/a/b",
            "/federation/callbackcorp",
        ] {
            assert_eq!(p.route(path), None, "{path}");
        }
    }

    #[test]
    fn configured_paths_replace_the_defaults() {
        let p = provider_with(Paths {
            token: "/oauth2/token".into(),
            jwks: "/.well-known/jwks.json".into(),
            federation_callback: "/sso".into(),
            ..Paths::default()
        });
        assert_eq!(p.route("/oauth2/token"), Some(Route::Token));
        assert_eq!(p.route("/token"), None);
        assert_eq!(p.route("/.well-known/jwks.json"), Some(Route::Jwks));
        assert_eq!(p.route("/jwks"), None);
        assert_eq!(p.route("/sso/corp"), Some(upstream("corp")));
        assert_eq!(p.route("/federation/callback/corp"), None);
    }

    #[test]
    fn every_mount_point_routes_and_every_route_is_mounted() {
        let p = provider();
        let mounts = p.mount_points();
        let mut names: Vec<&str> = mounts
            .iter()
            .map(|m| match m {
                MountPoint::Exact(path) => p.route(path),
                MountPoint::PrefixAndSegment(prefix) => p.route(&format!("{prefix}/x")),
            })
            .map(|r| r.expect("a mount point routes").name())
            .collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(
            names,
            [
                "authorize",
                "discovery",
                "federation_callback",
                "introspection",
                "jwks",
                "revocation",
                "token",
                "userinfo"
            ]
        );
    }

    #[test]
    fn cors_headers_only_for_an_allowed_origin() {
        assert_eq!(preflight(None).status, 403);
        assert!(preflight(None).headers.is_empty());
        let ok = preflight(Some(SPA));
        assert_eq!(ok.status, 204);
        assert_eq!(ok.body, Body::Empty);
        assert_eq!(
            cors_headers(&ok),
            [
                ("Access-Control-Allow-Origin", SPA),
                ("Vary", "Origin"),
                ("Access-Control-Allow-Methods", "GET, POST, OPTIONS"),
                (
                    "Access-Control-Allow-Headers",
                    "Authorization, Content-Type"
                ),
                ("Access-Control-Max-Age", "600"),
            ]
        );
        let plain = Response::json(200, b"{}".to_vec());
        assert_eq!(with_cors(plain.clone(), None), plain);
    }

    #[tokio::test]
    async fn preflights_of_token_userinfo_revocation_pass_for_allowed_origins_only() {
        let p = provider();
        for route in [Route::Token, Route::Userinfo, Route::Revocation] {
            let ok = p.handle(&route, &request(Method::Options, Some(SPA))).await;
            assert_eq!(ok.status, 204, "{route:?}");
            assert_eq!(
                ok.header_value("access-control-allow-origin"),
                Some(SPA),
                "{route:?}"
            );
            for origin in [Some(EVIL), None] {
                let refused = p.handle(&route, &request(Method::Options, origin)).await;
                assert_eq!(refused.status, 403, "{route:?} {origin:?}");
                assert!(cors_headers(&refused).is_empty(), "{route:?} {origin:?}");
            }
        }
    }

    #[tokio::test]
    async fn token_responses_echo_an_allowed_origin() {
        let p = provider();
        let ok = p
            .handle(&Route::Token, &client_credentials(Some(SPA)))
            .await;
        assert_eq!(ok.status, 200);
        assert!(ok.json_value()["access_token"].is_string());
        assert_eq!(ok.header_value("access-control-allow-origin"), Some(SPA));
        assert_eq!(ok.header_value("vary"), Some("Origin"));
        assert_eq!(ok.header_value("cache-control"), Some("no-store"));
        for origin in [Some(EVIL), None] {
            let r = p.handle(&Route::Token, &client_credentials(origin)).await;
            assert_eq!(r.status, 200);
            assert!(cors_headers(&r).is_empty(), "{origin:?}");
        }
        let revoked = p
            .handle(&Route::Revocation, &client_credentials(Some(SPA)))
            .await;
        assert_eq!(
            revoked.header_value("access-control-allow-origin"),
            Some(SPA)
        );
    }

    #[tokio::test]
    async fn authorization_introspection_and_callbacks_get_no_cors() {
        let p = provider();
        for route in [Route::Authorize, Route::Introspection, upstream("corp")] {
            let pre = p.handle(&route, &request(Method::Options, Some(SPA))).await;
            assert_eq!(pre.status, 403, "{route:?}");
            assert!(cors_headers(&pre).is_empty(), "{route:?}");
        }
        let mut authz = request(Method::Get, Some(SPA));
        authz.params = Params::from_pairs([
            ("client_id", "spa"),
            ("redirect_uri", "https://spa.example/callback"),
            ("response_type", "code"),
            ("scope", "openid"),
        ]);
        let r = p.handle(&Route::Authorize, &authz).await;
        assert!(cors_headers(&r).is_empty());
        let intro = p
            .handle(&Route::Introspection, &client_credentials(Some(SPA)))
            .await;
        assert!(cors_headers(&intro).is_empty());
    }

    #[tokio::test]
    async fn discovery_and_jwks_are_public_to_every_origin_and_get_only() {
        let p = provider();
        let doc = p
            .handle(&Route::Discovery, &request(Method::Get, None))
            .await;
        assert_eq!(doc.status, 200);
        assert_eq!(doc.json_value()["issuer"], "https://idp.example");
        assert_eq!(doc.header_value("access-control-allow-origin"), Some("*"));
        assert_eq!(
            doc.header_value("cache-control"),
            Some("public, max-age=300")
        );
        let jwks = p
            .handle(&Route::Jwks, &request(Method::Get, Some(EVIL)))
            .await;
        assert!(jwks.json_value()["keys"].is_array());
        assert_eq!(jwks.header_value("access-control-allow-origin"), Some("*"));
        for route in [Route::Discovery, Route::Jwks] {
            for method in [Method::Post, Method::Options, Method::Other] {
                let r = p.handle(&route, &request(method, Some(SPA))).await;
                assert_eq!(r.status, 405, "{route:?} {method:?}");
                assert_eq!(r.header_value("allow"), Some("GET,HEAD"));
                assert_eq!(r.body, Body::Empty);
            }
        }
    }

    #[tokio::test]
    async fn the_authorization_endpoint_answers_with_the_outcomes_response() {
        let p = provider();
        let mut authz = request(Method::Get, None);
        authz.params = Params::from_pairs([
            ("client_id", "spa"),
            ("redirect_uri", "https://spa.example/callback"),
            ("response_type", "code"),
            ("scope", "openid"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
        ]);
        let Authorization::Interaction(pending) = p.authorize(&authz).await else {
            panic!("a login is needed first")
        };
        assert_eq!(pending.response.status, 303);
        let via_route = p.handle(&Route::Authorize, &authz).await;
        assert_eq!(via_route.status, pending.response.status);
        assert!(
            via_route
                .header_value("location")
                .is_some_and(|l| l.contains("/interaction/")),
            "the redirect to the host's page"
        );
        let callback = p
            .handle(&upstream("nope"), &request(Method::Get, None))
            .await;
        let direct: Response = p
            .federation_callback("nope", &request(Method::Get, None))
            .await
            .into();
        assert_eq!(callback, direct, "an unknown upstream: the same error page");
    }
}
