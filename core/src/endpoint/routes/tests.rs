//! Unit tests (in their own file to keep the module short).

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
        // ES256: the ring backend's development keys have no RSA key.
        .signing_alg(crate::Algorithm::ES256)
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
        ("/par", Route::PushedAuthorizationRequest),
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
            "device_authorization",
            "discovery",
            "end_session",
            "federation_callback",
            "introspection",
            "jwks",
            "pushed_authorization_request",
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
