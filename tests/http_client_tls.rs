//! The facade's reqwest client against an https server with a throwaway CA
//! (`test_support::tls`): an extra root CA is trusted in addition to the built-in roots,
//! and a public-only client reaches a loopback server only with the dangerous knob
//! (draft-ietf-oauth-client-id-metadata-document §8.6), never following a redirect.

use idpkit::http::{HttpClient, HttpRequest};
use idpkit::http_client::ReqwestClient;
use idpkit_test_support::tls::https_server;

fn get(url: &str) -> HttpRequest {
    HttpRequest {
        method: "GET",
        url: url.to_owned(),
        headers: Vec::new(),
        body: Vec::new(),
    }
}

async fn server() -> idpkit_test_support::tls::TlsServer {
    let router = axum::Router::new()
        .route("/doc", axum::routing::get(|| async { "{}" }))
        .route(
            "/moved",
            axum::routing::get(|| async { axum::response::Redirect::temporary("/doc") }),
        );
    https_server(router).await
}

#[tokio::test]
async fn the_extra_root_ca_is_trusted_and_loopback_needs_the_knob() {
    let s = server().await;
    let pem = std::fs::read(&s.ca_pem_path).expect("CA PEM");
    let trusting = |loopback: bool| {
        ReqwestClient::builder()
            .public_only(true)
            .dangerous_allow_loopback(loopback)
            .extra_root_ca_pem(&pem)
            .expect("PEM")
            .build()
            .expect("client")
    };
    let r = trusting(true)
        .send(get(&s.url("/doc")))
        .await
        .expect("fetched");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"{}"[..]));
    let r = trusting(true)
        .send(get(&s.localhost_url("/doc")))
        .await
        .expect("localhost resolves to loopback: allowed by the knob");
    assert_eq!(r.status, 200);
    // A redirect is answered as it is, never followed.
    let r = trusting(true)
        .send(get(&s.url("/moved")))
        .await
        .expect("answer");
    assert_eq!(r.status, 307);
    for url in [s.url("/doc"), s.localhost_url("/doc")] {
        let e = trusting(false).send(get(&url)).await.expect_err("loopback");
        assert!(e.reason.contains("SSRF"), "{url}: {e}");
    }
    // Without the extra root the throwaway certificate is not trusted.
    let plain = ReqwestClient::builder()
        .public_only(true)
        .dangerous_allow_loopback(true)
        .build()
        .expect("client");
    assert!(plain.send(get(&s.url("/doc"))).await.is_err());
    // The host's ordinary client takes the extra root too.
    let ordinary = ReqwestClient::builder()
        .extra_root_ca_pem(&pem)
        .expect("PEM")
        .build()
        .expect("client");
    assert_eq!(
        ordinary.send(get(&s.url("/doc"))).await.expect("ok").status,
        200
    );
}
