//! Pushed authorization requests (RFC 9126), in process: push, then authorize with the
//! `request_uri`; single use, expiry, client binding, "pushed parameters win", PAR
//! required per client and server-wide, and PAR at one instance, authorization at another.

mod support;

use idpkit_core::time::Duration;
use idpkit_core::{Client, GrantType, StaticClients};
use support::*;

const PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// Pushes `extra` on top of demo-client's usual request; returns the `request_uri`.
async fn push_ok(env: &Env, client_id: &str, scope: &str, extra: &[(&str, &str)]) -> String {
    let (status, body) = env.push(client_id, &authz(client_id, scope, extra)).await;
    assert_eq!(status, 201, "{body}");
    body["request_uri"]
        .as_str()
        .expect("request_uri")
        .to_owned()
}

fn by_reference<'a>(client_id: &'a str, request_uri: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("client_id", client_id), ("request_uri", request_uri)]
}

#[tokio::test]
async fn a_pushed_request_is_authorized_by_its_request_uri_rfc9126_4() {
    let env = env();
    let (status, body) = env
        .push(
            DEMO_CLIENT,
            &authz(DEMO_CLIENT, "openid api:read", &[("state", "st-1")]),
        )
        .await;
    assert_eq!(status, 201, "RFC 9126 §2.2: 201 Created; {body}");
    let uri = body["request_uri"].as_str().expect("request_uri");
    assert!(uri.starts_with(PREFIX), "{uri}");
    assert_eq!(body["expires_in"], 60, "short-lived by default");
    let r = env
        .run_authorization(&mut Browser::new(), &by_reference(DEMO_CLIENT, uri))
        .await;
    let p = redirect_params(&r);
    assert_eq!(param(&p, "state"), Some("st-1"), "the pushed state");
    assert_eq!(param(&p, "iss"), Some(ISSUER));
    let code = param(&p, "code").expect("a code");
    let (status, tokens) = env.exchange(DEMO_CLIENT, code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["scope"], "openid api:read");
}

#[tokio::test]
async fn a_public_client_pushes_with_pkce_rfc9126_2_1() {
    let env = env();
    let uri = push_ok(&env, DEMO_PUBLIC, "openid", &[]).await;
    let r = env
        .run_authorization(&mut Browser::new(), &by_reference(DEMO_PUBLIC, &uri))
        .await;
    let code = param(&redirect_params(&r), "code")
        .expect("code")
        .to_owned();
    let (status, body) = env.exchange(DEMO_PUBLIC, &code).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn pushed_request_errors_are_json_never_redirects_rfc9126_2_3() {
    let env = env();
    for (extra, code) in [
        (vec![("scope", "admin")], "invalid_scope"),
        (
            vec![("redirect_uri", "https://evil.example/cb")],
            "invalid_request",
        ),
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (
            vec![("request_uri", "urn:ietf:params:oauth:request_uri:abc")],
            "invalid_request",
        ),
    ] {
        let mut pairs = vec![("response_type", "code"), ("scope", "openid")];
        pairs.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
        pairs.extend(extra.iter().copied());
        let (status, body) = env.push(DEMO_CLIENT, &pairs).await;
        assert_eq!((status, error(&body)), (400, code), "{extra:?}: {body}");
    }
    // Client authentication exactly as at the token endpoint.
    let r = env
        .provider
        .pushed_authorization_request(&idpkit_core::testkit::flows::token_request(
            &authz(DEMO_CLIENT, "openid", &[])[1..],
            DEMO_CLIENT,
            Some("wrong-secret"),
        ))
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(error(&r.json_value()), "invalid_client");
    // Another client's id in the body.
    let (status, body) = env
        .push(
            DEMO_CLIENT,
            &[
                ("response_type", "code"),
                ("scope", "openid"),
                ("client_id", DEMO_CLIENT),
            ],
        )
        .await;
    assert_eq!(status, 201, "its own client_id is fine: {body}");
}

#[tokio::test]
async fn a_request_uri_is_single_use_rfc9126_4() {
    let env = env();
    let uri = push_ok(&env, DEMO_CLIENT, "openid", &[]).await;
    let r = env
        .run_authorization(&mut Browser::new(), &by_reference(DEMO_CLIENT, &uri))
        .await;
    assert!(param(&redirect_params(&r), "code").is_some());
    let again = env
        .authorize(&mut Browser::new(), &by_reference(DEMO_CLIENT, &uri))
        .await;
    assert_shown_error(again, "request_uri");
}

#[tokio::test]
async fn a_request_uri_expires_rfc9126_2_2() {
    let env = env_with(|b| b.pushed_authorization_request_ttl(Duration::seconds(30)));
    let (_, body) = env
        .push(DEMO_CLIENT, &authz(DEMO_CLIENT, "openid", &[]))
        .await;
    assert_eq!(body["expires_in"], 30);
    let uri = body["request_uri"].as_str().expect("uri").to_owned();
    env.advance(Duration::seconds(31));
    let a = env
        .authorize(&mut Browser::new(), &by_reference(DEMO_CLIENT, &uri))
        .await;
    assert_shown_error(a, "request_uri");
}

#[tokio::test]
async fn a_request_uri_is_bound_to_the_client_that_pushed_it_rfc9126_4() {
    let env = env();
    let uri = push_ok(&env, DEMO_CLIENT, "openid", &[]).await;
    let a = env
        .authorize(&mut Browser::new(), &by_reference(DEMO_PUBLIC, &uri))
        .await;
    assert_shown_error(a, "request_uri");
    // Without client_id, nothing is looked up.
    let a = env
        .authorize(&mut Browser::new(), &[("request_uri", uri.as_str())])
        .await;
    assert_shown_error(a, "client_id");
    // A reference that is not ours is refused.
    let a = env
        .authorize(
            &mut Browser::new(),
            &by_reference(DEMO_CLIENT, "https://client.example/req.jwt"),
        )
        .await;
    assert_shown_error(a, "request_uri");
}

#[tokio::test]
async fn only_the_pushed_parameters_are_used_rfc9126_4() {
    let env = env();
    let uri = push_ok(&env, DEMO_CLIENT, "openid", &[("state", "pushed")]).await;
    let mut params = by_reference(DEMO_CLIENT, &uri);
    params.extend([
        ("scope", "openid api:read offline_access"),
        ("state", "front"),
        ("redirect_uri", "https://evil.example/cb"),
        ("response_mode", "fragment"),
    ]);
    let r = env.run_authorization(&mut Browser::new(), &params).await;
    assert!(
        location(&r).starts_with(&format!("{REDIRECT}?")),
        "{}",
        location(&r)
    );
    let p = redirect_params(&r);
    assert_eq!(param(&p, "state"), Some("pushed"));
    let (status, tokens) = env
        .exchange(DEMO_CLIENT, param(&p, "code").expect("code"))
        .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["scope"], "openid", "the pushed scope, not the URL's");
    assert!(tokens.get("refresh_token").is_none());
}

fn strict_client() -> Client {
    Client::confidential("strict", "strict-secret")
        .redirect_uri(REDIRECT)
        .grant_types([GrantType::AuthorizationCode])
        .scopes(["openid"])
        .first_party(true)
        .require_pushed_authorization_requests(true)
        .build()
        .expect("strict")
}

#[tokio::test]
async fn a_client_that_requires_par_gets_no_authorization_without_it_rfc9126_6() {
    let env = env_with(|b| {
        let mut clients = clients();
        clients.push(strict_client());
        b.clients(StaticClients::new(clients).expect("clients"))
    });
    let a = env
        .authorize(
            &mut Browser::new(),
            &authz("strict", "openid", &[("state", "s")]),
        )
        .await;
    let p = assert_error_redirect(a, "invalid_request", Some("s"));
    assert!(param(&p, "error_description").is_some_and(|d| d.contains("push")));
    // Other clients are not affected.
    let r = env
        .run_authorization(&mut Browser::new(), &authz(DEMO_CLIENT, "openid", &[]))
        .await;
    assert!(param(&redirect_params(&r), "code").is_some());
    // Pushed, it works.
    let r = env
        .provider
        .pushed_authorization_request(&idpkit_core::testkit::flows::token_request(
            &[("response_type", "code"), ("scope", "openid")],
            "strict",
            Some("strict-secret"),
        ))
        .await;
    assert_eq!(r.status, 201);
    let uri = r.json_value()["request_uri"]
        .as_str()
        .expect("uri")
        .to_owned();
    let r = env
        .run_authorization(&mut Browser::new(), &by_reference("strict", &uri))
        .await;
    assert!(param(&redirect_params(&r), "code").is_some());
}

#[tokio::test]
async fn par_required_server_wide_refuses_every_unpushed_request_rfc9126_5() {
    let env = env_with(|b| b.require_pushed_authorization_requests(true));
    let a = env
        .authorize(&mut Browser::new(), &authz(DEMO_PUBLIC, "openid", &[]))
        .await;
    assert_error_redirect(a, "invalid_request", None);
    let d = env.provider.discovery().json_value();
    assert_eq!(d["require_pushed_authorization_requests"], true);
    assert_eq!(
        d["pushed_authorization_request_endpoint"],
        format!("{ISSUER}/par")
    );
    let uri = push_ok(&env, DEMO_PUBLIC, "openid", &[]).await;
    let r = env
        .run_authorization(&mut Browser::new(), &by_reference(DEMO_PUBLIC, &uri))
        .await;
    assert!(param(&redirect_params(&r), "code").is_some());
}

#[tokio::test]
async fn pushed_at_one_instance_authorized_at_another_once_rfc9126_4() {
    let a = env();
    let b = env_on(a.store.clone(), a.clock.clone(), |b| b);
    let uri = push_ok(&a, DEMO_CLIENT, "openid", &[]).await;
    let r = b
        .run_authorization(&mut Browser::new(), &by_reference(DEMO_CLIENT, &uri))
        .await;
    let code = param(&redirect_params(&r), "code")
        .expect("a code at B")
        .to_owned();
    let (status, body) = a.exchange(DEMO_CLIENT, &code).await;
    assert_eq!(status, 200, "{body}");
    let again = a
        .authorize(&mut Browser::new(), &by_reference(DEMO_CLIENT, &uri))
        .await;
    assert_shown_error(again, "request_uri");
}

#[tokio::test]
async fn pushes_are_bounded_per_source_then_per_client() {
    // A pushed request costs storage until it expires, and a public client pushes with its
    // client_id alone (RFC 9126 §2.1): the number of stored pushes is bounded.
    let env = env_with(|b| {
        let mut limits = idpkit_core::RateLimits::default();
        limits.pushed_requests_per_source = idpkit_core::Limit::new(2, Duration::minutes(10));
        limits.pushed_requests_per_client = idpkit_core::Limit::new(3, Duration::minutes(10));
        b.rate_limits(limits)
    });
    let push_from = |ip: &'static str| {
        let env = &env;
        async move {
            let pairs = authz(DEMO_PUBLIC, "openid", &[]);
            let pairs: Vec<(&str, &str)> = pairs
                .iter()
                .copied()
                .filter(|(k, _)| *k != "client_id")
                .collect();
            let mut r = idpkit_core::testkit::flows::token_request(&pairs, DEMO_PUBLIC, None);
            r.source = Some(ip.parse().expect("ip"));
            env.provider.pushed_authorization_request(&r).await
        }
    };
    for _ in 0..2 {
        assert_eq!(push_from("192.0.2.1").await.status, 201);
    }
    let r = push_from("192.0.2.1").await;
    assert_eq!(r.status, 429, "per source");
    assert!(r.header_value("retry-after").is_some());
    assert_eq!(push_from("192.0.2.2").await.status, 201, "another source");
    let r = push_from("192.0.2.3").await;
    assert_eq!(r.status, 429, "per client: 3 pushes stored");
    assert_eq!(r.json_value()["error"], "temporarily_unavailable");
    // Refused pushes stored nothing: the confidential client still pushes.
    let (status, _) = env
        .push(DEMO_CLIENT, &authz(DEMO_CLIENT, "openid", &[]))
        .await;
    assert_eq!(status, 201);
}
