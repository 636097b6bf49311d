//! End-to-end: a stock relying party (the `openidconnect` crate) against the example host,
//! over HTTP, through the real login page.

use idpkit_test_support::host as common;
use idpkit_test_support::rp;

use common::{Host, browser, callback_params, login, param};
use idpkit_example::DEMO_REDIRECT_URI;
use openidconnect::core::{CoreClient, CoreProviderMetadata, CoreResponseType, CoreUserInfoClaims};
use openidconnect::{
    AccessTokenHash, AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    IntrospectionUrl, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope,
    TokenIntrospectionResponse, TokenResponse,
};
use rp::rp_http;

#[tokio::test]
async fn stock_relying_party_runs_the_whole_code_flow() {
    let host = Host::start().await;
    let http = rp_http();

    // Discovery (OIDC Discovery 1.0) and the JWKS.
    let metadata = CoreProviderMetadata::discover_async(
        IssuerUrl::new(host.base.clone()).expect("issuer"),
        &http,
    )
    .await
    .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new("demo-client".into()),
        Some(ClientSecret::new("demo-secret".into())),
    )
    .set_redirect_uri(RedirectUrl::new(DEMO_REDIRECT_URI.into()).expect("redirect"))
    .set_introspection_url(IntrospectionUrl::new(host.url("/introspect")).expect("url"));

    // Authorization code + PKCE S256, logging in through the HTML form.
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf, nonce) = client
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();
    let callback = login(&browser(), &host, auth_url.as_str(), "alice", "wonderland").await;
    let params = callback_params(&callback);
    assert_eq!(
        param(&params, "state"),
        Some(csrf.secret().as_str()),
        "state echoed"
    );
    assert_eq!(
        param(&params, "iss"),
        Some(host.base.as_str()),
        "RFC 9207 iss in the response"
    );
    let code = param(&params, "code").expect("code").to_owned();

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .expect("token endpoint known")
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");

    // ID token: signature (JWKS), iss, aud, exp, nonce, at_hash.
    let id_token = tokens.id_token().expect("an ID token for the openid scope");
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &nonce)
        .expect("ID token verifies");
    assert_eq!(claims.subject().as_str(), "alice");
    assert_eq!(
        claims.email().map(|e| e.as_str()),
        Some("alice@example.com")
    );
    let at_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().expect("alg"),
        id_token.signing_key(&verifier).expect("key"),
    )
    .expect("hash");
    assert_eq!(
        claims.access_token_hash(),
        Some(&at_hash),
        "at_hash binds the access token"
    );
    let wrong_nonce = id_token.claims(&verifier, &Nonce::new("another".into()));
    assert!(wrong_nonce.is_err(), "a different nonce must be rejected");

    // UserInfo with the access token.
    let userinfo: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), None)
        .expect("userinfo endpoint")
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(userinfo.subject().as_str(), "alice");
    assert_eq!(
        userinfo
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str()),
        Some("Alice Liddell")
    );
    assert_eq!(userinfo.email_verified(), Some(true));

    // Introspection of the access token.
    let intro = client
        .introspect(tokens.access_token())
        .request_async(&http)
        .await
        .expect("introspection");
    assert!(intro.active());
    assert_eq!(intro.sub(), Some("alice"));

    // Refresh with rotation: a new refresh token, the old one dead.
    let first_refresh = tokens
        .refresh_token()
        .expect("offline_access gives a refresh token")
        .clone();
    let refreshed = client
        .exchange_refresh_token(&first_refresh)
        .expect("token endpoint")
        .request_async(&http)
        .await
        .expect("refresh");
    let second_refresh = refreshed
        .refresh_token()
        .expect("rotated refresh token")
        .clone();
    assert_ne!(
        second_refresh.secret(),
        first_refresh.secret(),
        "refresh tokens rotate"
    );

    // Revocation (RFC 7009) of the current refresh token kills the grant. (The oauth2 crate
    // refuses a plain-http revocation URL, so this one request is sent by hand.)
    let (status, _) = common::post_as_demo_client(
        &host,
        "/revoke",
        &[
            ("token", second_refresh.secret()),
            ("token_type_hint", "refresh_token"),
        ],
    )
    .await;
    assert_eq!(status, 200, "revocation answers 200");
    let after = client
        .exchange_refresh_token(&second_refresh)
        .expect("token endpoint")
        .request_async(&http)
        .await;
    assert!(after.is_err(), "a revoked refresh token must not refresh");
    let intro = client
        .introspect(refreshed.access_token())
        .request_async(&http)
        .await
        .expect("introspection");
    assert!(
        !intro.active(),
        "access tokens of a revoked grant are inactive"
    );

    // client_credentials.
    let cc = client
        .exchange_client_credentials()
        .expect("token endpoint")
        .add_scope(Scope::new("api:read".into()))
        .request_async(&http)
        .await
        .expect("client_credentials");
    assert_eq!(
        cc.scopes()
            .map(|s| s.iter().map(|s| s.as_str().to_owned()).collect::<Vec<_>>()),
        Some(vec!["api:read".to_owned()])
    );
    assert!(
        cc.refresh_token().is_none(),
        "client_credentials issues no refresh token"
    );
}

#[tokio::test]
async fn public_client_gets_consent_once_then_sso() {
    let host = Host::start().await;
    let http = rp_http();
    let metadata = CoreProviderMetadata::discover_async(
        IssuerUrl::new(host.base.clone()).expect("issuer"),
        &http,
    )
    .await
    .expect("discovery");
    let client =
        CoreClient::from_provider_metadata(metadata, ClientId::new("demo-public".into()), None)
            .set_redirect_uri(RedirectUrl::new(DEMO_REDIRECT_URI.into()).expect("redirect"));
    let browser = browser();

    let run = |browser: reqwest::Client| {
        let client = client.clone();
        let host_base = host.base.clone();
        async move {
            let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
            let (url, _csrf, nonce) = client
                .authorize_url(
                    AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                    CsrfToken::new_random,
                    Nonce::new_random,
                )
                .add_scope(Scope::new("email".into()))
                .set_pkce_challenge(challenge)
                .url();
            let first = browser.get(url.as_str()).send().await.expect("authorize");
            let loc = common::location(&first);
            (loc, verifier, nonce, host_base)
        }
    };

    // First time: login, then the consent page.
    let (loc, verifier, nonce, _) = run(browser.clone()).await;
    assert!(
        loc.starts_with("/interaction/"),
        "login page first, got {loc}"
    );
    let page = browser.get(host.url(&loc)).send().await.expect("page");
    assert_eq!(
        page.headers()
            .get("x-frame-options")
            .map(|v| v.to_str().unwrap_or("")),
        Some("DENY")
    );
    let csp = page
        .headers()
        .get("content-security-policy")
        .expect("CSP")
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let resp = browser
        .post(host.url(&loc))
        .form(&[("username", "alice"), ("password", "wonderland")])
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status(), 303);
    let consent = common::location(&resp);
    assert_eq!(
        consent, loc,
        "a third-party client gets the consent page next"
    );
    let html = browser
        .get(host.url(&consent))
        .send()
        .await
        .expect("consent")
        .text()
        .await
        .expect("html");
    assert!(
        html.contains("name=\"decision\"") && html.contains("value=\"allow\""),
        "{html}"
    );
    let resp = browser
        .post(host.url(&consent))
        .form(&[("decision", "allow")])
        .send()
        .await
        .expect("allow");
    let cb = common::location(&resp);
    let code = param(&callback_params(&cb), "code")
        .expect("code")
        .to_owned();
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .expect("token endpoint")
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("public client exchanges with PKCE and no secret");
    tokens
        .id_token()
        .expect("id token")
        .claims(&client.id_token_verifier(), &nonce)
        .expect("verifies");

    // Second time in the same browser: SSO session and remembered consent, straight back.
    let (loc, _, _, _) = run(browser.clone()).await;
    assert!(
        loc.starts_with(DEMO_REDIRECT_URI),
        "no login or consent the second time, got {loc}"
    );
    assert!(param(&callback_params(&loc), "code").is_some());
}
