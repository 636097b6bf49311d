//! The generic OIDC subprovider as a relying party of the example provider (the upstream):
//! a login through the upstream's real login page gives an identity with mapped claims, and
//! every callback failure is a clear error, never an identity.

use idpkit_test_support::host as common;

use std::sync::Arc;

use common::*;
use idpkit::Params;
use idpkit::federation::oidc::OidcSubprovider;
use idpkit::federation::{FederationError, MappingRule, RuleMapper, Subprovider, UpstreamRequest};
use idpkit::http_client::ReqwestClient;
use idpkit_example::DEMO_REDIRECT_URI;
use serde_json::json;

fn rp(issuer: &str) -> OidcSubprovider {
    OidcSubprovider::new(
        "corp",
        issuer,
        "demo-client",
        Some("demo-secret".into()),
        Arc::new(ReqwestClient::new().expect("http")),
    )
    .expect("subprovider")
    // The demo IdP verifies its users' addresses: trusted for email_verified, which the
    // rules below require (untrusted, it would be dropped before them).
    .trust_email_verified(true)
    .mapper(RuleMapper {
        rules: vec![
            MappingRule::Rename {
                from: "name".into(),
                to: "display_name".into(),
            },
            MappingRule::Constant {
                claim: "idp".into(),
                value: json!("corp"),
            },
            MappingRule::Require {
                claim: "email_verified".into(),
                equals: Some(json!(true)),
            },
        ],
    })
}

fn query_of(callback: &str) -> Params {
    Params::parse(
        url::Url::parse(callback)
            .expect("url")
            .query()
            .unwrap_or_default()
            .as_bytes(),
    )
}

#[tokio::test]
async fn login_through_the_upstream_gives_a_mapped_identity() {
    let upstream = Host::start().await;
    let sp = rp(&upstream.base);
    let start = sp
        .start(&UpstreamRequest::new("interaction-1", DEMO_REDIRECT_URI))
        .await
        .expect("start");
    let url = url::Url::parse(&start.url).expect("url");
    let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    for p in ["state", "nonce", "code_challenge"] {
        assert!(param(&q, p).is_some(), "the upstream request carries {p}");
    }
    assert_eq!(param(&q, "code_challenge_method"), Some("S256"));
    let callback = login(&browser(), &upstream, &start.url, "alice", "wonderland").await;
    let query = query_of(&callback);
    let id = sp
        .finish(&start.state, &query, DEMO_REDIRECT_URI)
        .await
        .expect("identity");
    assert_eq!(id.provider, "corp");
    assert_eq!(id.subject, "alice");
    assert_eq!(id.claims.get("display_name"), Some(&json!("Alice Liddell")));
    assert_eq!(id.claims.get("email"), Some(&json!("alice@example.com")));
    assert_eq!(id.claims.get("idp"), Some(&json!("corp")));
    assert!(id.claims.get("nonce").is_none() && id.claims.get("iss").is_none());

    // The same callback again: the upstream code is spent, so no second identity.
    let e = sp
        .finish(&start.state, &query, DEMO_REDIRECT_URI)
        .await
        .expect_err("replay");
    assert!(
        matches!(e, FederationError::Upstream(ref m) if m.contains("invalid_grant")),
        "{e}"
    );
}

#[tokio::test]
async fn callback_failures_are_clear_errors() {
    let upstream = Host::start().await;
    let sp = rp(&upstream.base);
    let b = browser();

    // A callback for another login (state mismatch).
    let first = sp
        .start(&UpstreamRequest::new("i", DEMO_REDIRECT_URI))
        .await
        .expect("start");
    let other = sp
        .start(&UpstreamRequest::new("j", DEMO_REDIRECT_URI))
        .await
        .expect("start");
    let callback = login(&b, &upstream, &first.url, "alice", "wonderland").await;
    let e = sp
        .finish(&other.state, &query_of(&callback), DEMO_REDIRECT_URI)
        .await
        .expect_err("state");
    assert!(
        matches!(e, FederationError::Callback(ref m) if m.contains("state")),
        "{e}"
    );

    // The upstream denied the login.
    let denied = Params::parse(
        format!(
            "state={}&error=access_denied&error_description=the+user+said+no",
            {
                let v: serde_json::Value = serde_json::from_str(&first.state).expect("json");
                v["state"].as_str().expect("state").to_owned()
            }
        )
        .as_bytes(),
    );
    let e = sp
        .finish(&first.state, &denied, DEMO_REDIRECT_URI)
        .await
        .expect_err("denied");
    assert!(
        matches!(e, FederationError::Denied(ref m) if m.contains("the user said no")),
        "{e}"
    );

    // An ID token whose nonce is not this login's.
    let next = sp
        .start(&UpstreamRequest::new("k", DEMO_REDIRECT_URI))
        .await
        .expect("start");
    let callback = login(&b, &upstream, &next.url, "alice", "wonderland").await;
    let mut kept: serde_json::Value = serde_json::from_str(&next.state).expect("json");
    kept["nonce"] = json!("another-login");
    let e = sp
        .finish(&kept.to_string(), &query_of(&callback), DEMO_REDIRECT_URI)
        .await
        .expect_err("nonce");
    assert!(
        matches!(e, FederationError::Callback(ref m) if m.contains("nonce")),
        "{e}"
    );

    // The answer without RFC 9207 `iss` (this upstream advertises it) or from another
    // issuer: refused before the code is used.
    let next = sp
        .start(&UpstreamRequest::new("k2", DEMO_REDIRECT_URI))
        .await
        .expect("start");
    let callback = login(&b, &upstream, &next.url, "alice", "wonderland").await;
    let pairs: Vec<(String, String)> = url::Url::parse(&callback)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect();
    let without_iss = Params::from_pairs(pairs.iter().filter(|(k, _)| k != "iss").cloned());
    let e = sp
        .finish(&next.state, &without_iss, DEMO_REDIRECT_URI)
        .await
        .expect_err("no iss");
    assert!(
        matches!(e, FederationError::Callback(ref m) if m.contains("RFC 9207")),
        "{e}"
    );
    let other_iss = Params::from_pairs(pairs.iter().map(|(k, v)| {
        if k == "iss" {
            (k.clone(), "https://evil.example".to_owned())
        } else {
            (k.clone(), v.clone())
        }
    }));
    let e = sp
        .finish(&next.state, &other_iss, DEMO_REDIRECT_URI)
        .await
        .expect_err("other iss");
    assert!(
        matches!(e, FederationError::Callback(ref m) if m.contains("evil.example")),
        "{e}"
    );
    // The genuine answer still works (nothing was spent).
    sp.finish(&next.state, &query_of(&callback), DEMO_REDIRECT_URI)
        .await
        .expect("identity");

    // A mapping rule refuses the identity.
    let strict = rp(&upstream.base).mapper(RuleMapper {
        rules: vec![MappingRule::Require {
            claim: "department".into(),
            equals: None,
        }],
    });
    let s = strict
        .start(&UpstreamRequest::new("l", DEMO_REDIRECT_URI))
        .await
        .expect("start");
    let callback = login(&b, &upstream, &s.url, "alice", "wonderland").await;
    let e = strict
        .finish(&s.state, &query_of(&callback), DEMO_REDIRECT_URI)
        .await
        .expect_err("refused");
    assert!(
        matches!(e, FederationError::Refused(ref m) if m.contains("department")),
        "{e}"
    );

    // An unreachable upstream.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let gone = rp(&format!("http://127.0.0.1:{port}"));
    let e = gone
        .start(&UpstreamRequest::new("m", DEMO_REDIRECT_URI))
        .await
        .expect_err("unreachable");
    assert!(matches!(e, FederationError::Unavailable(_)), "{e}");
}
