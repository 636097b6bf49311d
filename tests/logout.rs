//! RP-Initiated Logout end to end over HTTP against the example host (#14): a relying
//! party logs the user in, sends the browser to `end_session_endpoint` with
//! `id_token_hint`, `post_logout_redirect_uri` and `state`; the user confirms on the host's
//! page and lands back at the RP with `state`; the next authorization needs the password.

use idpkit_test_support::host as common;

use common::*;
use idpkit_example::{DEMO_POST_LOGOUT_URI, DEMO_REDIRECT_URI};
use serde_json::Value;

#[tokio::test]
async fn an_rp_logs_the_user_out_through_the_end_session_endpoint() {
    let host = Host::start().await;
    let b = browser();
    let (verifier, challenge) = pkce_pair();
    let url = authorize_url(
        &host,
        "demo-client",
        &[
            ("response_type", "code"),
            ("scope", "openid"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let cb = login(&b, &host, &url, "alice", "wonderland").await;
    let code = param(&callback_params(&cb), "code").expect("code").to_owned();
    let tokens: Value = exchange(&host, &code, &verifier)
        .await
        .json()
        .await
        .expect("json");
    let id_token = tokens["id_token"].as_str().expect("id token");
    let discovery: Value = http()
        .get(host.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    let end_session = discovery["end_session_endpoint"]
        .as_str()
        .expect("end_session_endpoint advertised");
    assert_eq!(discovery["frontchannel_logout_supported"], true);
    let mut logout = url::Url::parse(end_session).expect("url");
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", id_token)
        .append_pair("post_logout_redirect_uri", DEMO_POST_LOGOUT_URI)
        .append_pair("state", "bye-123");
    let r = b.get(logout.as_str()).send().await.expect("end session");
    assert_eq!(r.status(), 303);
    let confirm = host.url(&location(&r));
    let page = b.get(&confirm).send().await.expect("confirm page");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("value=\"logout\""), "{html}");
    let done = b
        .post(&confirm)
        .form(&[("action", "logout")])
        .send()
        .await
        .expect("confirm");
    assert_eq!(done.status(), 303);
    assert_eq!(location(&done), format!("{DEMO_POST_LOGOUT_URI}?state=bye-123"));
    // The session is gone: the next authorization asks for the password again.
    let again = b.get(&url).send().await.expect("authorize");
    let next = location(&again);
    assert!(
        !next.starts_with(DEMO_REDIRECT_URI) && next.contains("/interaction/"),
        "a login page, not a code: {next}"
    );
    // A refused logout is an error page, never a redirect.
    let mut bad = url::Url::parse(end_session).expect("url");
    bad.query_pairs_mut()
        .append_pair("client_id", "demo-client")
        .append_pair("post_logout_redirect_uri", "https://evil.example/");
    let r = b.get(bad.as_str()).send().await.expect("bad logout");
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
}
