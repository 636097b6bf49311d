//! The MCP example (#17 item 8) end to end: the example MCP server (`idpkit_example::mcp`,
//! the `idpkit-mcp-example` binary's code) next to the example provider, and a real MCP
//! client nobody here wrote, the official TypeScript SDK (`tests/js/mcp_client.mjs`
//! drives its `Client`, `StreamableHTTPClientTransport` and OAuth flow). The test plays
//! the user: it logs in and consents in the harness's browser and hands the redirect back
//! to the script.
//!
//! - The SDK discovers the provider from the MCP server's 401 and protected resource
//!   metadata (RFC 9728), registers dynamically (RFC 7591), runs the code flow with PKCE
//!   S256 and `resource` (RFC 8707) and calls a tool; the token's `aud` is the resource.
//! - With registration off, the SDK names itself by a client ID metadata document URL
//!   (`clientMetadataUrl`, draft-ietf-oauth-client-id-metadata-document), served over
//!   https by the test with a throwaway CA the provider is told to trust
//!   (`--dangerous-extra-root-ca`, `--dangerous-allow-loopback-fetch`), and runs the same
//!   flow as that client.
//! - A token for another resource is refused with a 401 whose `WWW-Authenticate` says why
//!   and points at the metadata, to a plain HTTP client and to the SDK.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idpkit_example::DEMO_REDIRECT_URI;
use idpkit_example::mcp::{self, MCP_SCOPE};
use idpkit_test_support::host::{Host, browser, http, login, post_as_demo_client};
use idpkit_test_support::js::Node;
use serde_json::{Value, json};

/// How long one SDK run may take, all steps together.
const NODE_TIMEOUT: Duration = Duration::from_secs(60);

/// Another resource the provider knows: tokens for it must not open the MCP server.
const OTHER_RESOURCE: &str = "https://reports.example/api";

/// The provider (`--registration open`, `--resource` the MCP server's and
/// [`OTHER_RESOURCE`]) and the MCP server on its own loopback port: (provider, resource).
async fn provider_and_mcp_server() -> (Host, String) {
    provider_and_mcp_server_with(|_| {}).await
}

/// The same, after adjusting the provider's options.
async fn provider_and_mcp_server_with(
    adjust: impl FnOnce(&mut idpkit_example::Options),
) -> (Host, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let resource = format!("http://{}/mcp", listener.local_addr().expect("addr"));
    let host = Host::start_with(|o| {
        o.registration = "open".into();
        o.resources = vec![resource.clone(), OTHER_RESOURCE.into()];
        adjust(o);
    })
    .await;
    let http = Arc::new(idpkit::http_client::ReqwestClient::new().expect("http client"));
    let validator = mcp::validator(&host.base, &resource, http).expect("validator");
    let router = mcp::app(validator).expect("MCP app");
    tokio::spawn(mcp::serve(listener, router, std::future::pending()));
    (host, resource)
}

fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

fn query(url: &str) -> Vec<(String, String)> {
    url::Url::parse(url)
        .expect("URL")
        .query_pairs()
        .into_owned()
        .collect()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    idpkit_test_support::host::param(params, name)
}

#[tokio::test]
async fn the_typescript_sdk_registers_authorizes_with_pkce_and_resource_and_calls_a_tool() {
    let (host, resource) = provider_and_mcp_server().await;
    let mut node = Node::spawn(
        "mcp_client.mjs",
        &["--server", &resource, "--redirect", DEMO_REDIRECT_URI],
        &[],
        NODE_TIMEOUT,
    );

    // The SDK registered itself (RFC 7591) at the provider it found through the MCP
    // server's metadata, then sent the user to the provider's authorization endpoint.
    let registered = node.next_event("client").await;
    let client_id = registered["client"]["client_id"]
        .as_str()
        .expect("a registered client_id")
        .to_owned();
    // RFC 7591 §3.2.1: the provider's answer (the SDK keeps the members it knows).
    assert!(
        registered["client"]["client_id_issued_at"].is_u64(),
        "dynamic registration at the provider: {registered}"
    );
    assert_eq!(registered["client"]["issuer"], host.base.as_str());
    assert_eq!(registered["client"]["scope"], MCP_SCOPE);
    let authorize = node.next_event("authorize").await;
    let url = authorize["url"].as_str().expect("authorization URL");
    assert!(url.starts_with(&host.url("/authorize?")), "{url}");
    let q = query(url);
    assert_eq!(param(&q, "client_id"), Some(client_id.as_str()));
    assert_eq!(param(&q, "response_type"), Some("code"));
    assert_eq!(param(&q, "code_challenge_method"), Some("S256"));
    assert!(param(&q, "code_challenge").is_some_and(|c| c.len() >= 43));
    assert_eq!(param(&q, "resource"), Some(resource.as_str()));
    // The scope the MCP server's metadata lists (RFC 9728 `scopes_supported`).
    assert_eq!(param(&q, "scope"), Some(MCP_SCOPE));

    // The user logs in and consents; the browser lands on the client's redirect URI.
    let callback = login(&browser(), &host, url, "alice", "wonderland").await;
    node.send_line(&callback).await;

    let result = node.next_event("result").await;
    node.success().await;
    assert_eq!(
        result["discovery"]["authorization_server"]
            .as_str()
            .map(|s| s.trim_end_matches('/')),
        Some(host.base.as_str()),
        "{result}"
    );
    assert_eq!(
        result["discovery"]["resource_metadata"]["resource"],
        resource
    );
    let tools = result["tools"].as_array().expect("tools");
    assert!(
        tools.contains(&json!("whoami")) && tools.contains(&json!("time")),
        "{result}"
    );
    let whoami = &result["result"]["structuredContent"];
    assert_eq!(result["result"]["isError"], false, "{result}");
    assert_eq!(whoami["subject"], "alice", "{result}");
    assert_eq!(whoami["client_id"], client_id.as_str());
    assert_eq!(whoami["scopes"], json!([MCP_SCOPE]));
    // The provider saw `resource` (RFC 8707): the token is for the MCP server only.
    let access_token = result["tokens"]["access_token"].as_str().expect("token");
    let claims = jwt_claims(access_token);
    assert_eq!(claims["aud"], json!([resource]), "{claims}");
    assert_eq!(whoami["audience"], json!([resource]));
    assert_eq!(claims["client_id"], client_id.as_str());

    // The same token opens the MCP endpoint to any HTTP client, but only under the
    // resource's own authority: another `Host` is refused (DNS-rebinding defence).
    let resp = initialize(&resource, Some(access_token)).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("JSON-RPC answer");
    assert_eq!(body["result"]["serverInfo"]["name"], "idpkit-mcp-example");
    let resp = http()
        .post(&resource)
        .header("host", "attacker.example")
        .header("accept", "application/json, text/event-stream")
        .bearer_auth(access_token)
        .json(&initialize_request())
        .send()
        .await
        .expect("MCP request");
    assert_eq!(resp.status(), 403, "a foreign Host header");
}

/// A token for [`OTHER_RESOURCE`] from the provider (client credentials as demo-client).
async fn token_for(host: &Host, resource: &str, scope: &str) -> String {
    let (status, body) = post_as_demo_client(
        host,
        "/token",
        &[
            ("grant_type", "client_credentials"),
            ("scope", scope),
            ("resource", resource),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().expect("token").to_owned()
}

fn initialize_request() -> Value {
    json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "test", "version": "0"}}
    })
}

async fn initialize(resource: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = http()
        .post(resource)
        .header("accept", "application/json, text/event-stream")
        .json(&initialize_request());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("MCP request")
}

fn challenge(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_token_for_another_resource_is_refused_with_a_challenge_naming_the_metadata() {
    let (host, resource) = provider_and_mcp_server().await;
    let metadata = resource.replace("/mcp", "/.well-known/oauth-protected-resource/mcp");

    // No token: 401 pointing at the metadata (RFC 9728 §5.1), which names the provider.
    let resp = initialize(&resource, None).await;
    assert_eq!(resp.status(), 401);
    let c = challenge(&resp);
    assert!(c.starts_with("Bearer "), "{c}");
    assert!(
        c.contains(&format!("resource_metadata=\"{metadata}\"")),
        "{c}"
    );
    for path in [
        metadata.as_str(),
        &resource.replace("/mcp", "/.well-known/oauth-protected-resource"),
    ] {
        let doc: Value = http()
            .get(path)
            .send()
            .await
            .expect("metadata")
            .json()
            .await
            .expect("json");
        assert_eq!(doc["resource"], resource.as_str(), "{path}");
        assert_eq!(doc["authorization_servers"], json!([host.base]), "{path}");
        assert_eq!(doc["scopes_supported"], json!([MCP_SCOPE]), "{path}");
    }

    // A valid token of the same provider, but for another resource: 401 invalid_token
    // (RFC 6750 §3.1), the challenge saying why and where to look.
    let other = token_for(&host, OTHER_RESOURCE, "api:read").await;
    assert_eq!(jwt_claims(&other)["aud"], json!([OTHER_RESOURCE]));
    let resp = initialize(&resource, Some(&other)).await;
    assert_eq!(resp.status(), 401);
    let c = challenge(&resp);
    assert!(c.contains("error=\"invalid_token\""), "{c}");
    assert!(
        c.contains("audience"),
        "the description names the audience: {c}"
    );
    assert!(
        c.contains(&format!("resource_metadata=\"{metadata}\"")),
        "{c}"
    );

    // The same token through the TypeScript SDK: the connection is refused with 401.
    let mut node = Node::spawn(
        "mcp_client.mjs",
        &["--server", &resource, "--token", &other],
        &[],
        NODE_TIMEOUT,
    );
    let refused = node.next_event("refused").await;
    node.success().await;
    assert_eq!(refused["status"], 401, "{refused}");

    // A token for this resource passes the audience check; without the MCP scope it
    // is 403 insufficient_scope naming the scope to ask for (RFC 6750 §3.1).
    let own = token_for(&host, &resource, "api:read").await;
    let resp = initialize(&resource, Some(&own)).await;
    assert_eq!(resp.status(), 403);
    let c = challenge(&resp);
    assert!(c.contains("error=\"insufficient_scope\""), "{c}");
    assert!(c.contains(MCP_SCOPE), "{c}");
}

#[test]
fn the_binary_takes_the_flags_the_issue_names() {
    use clap::Parser;
    let o = mcp::McpOptions::try_parse_from([
        "idpkit-mcp-example",
        "--bind",
        "127.0.0.1:8090",
        "--issuer",
        "http://127.0.0.1:8080",
        "--resource",
        "http://127.0.0.1:8090/mcp",
    ])
    .expect("flags");
    assert_eq!(o.bind.to_string(), "127.0.0.1:8090");
    assert_eq!(o.issuer, "http://127.0.0.1:8080");
    assert_eq!(o.resource(), "http://127.0.0.1:8090/mcp");
    let o = mcp::McpOptions::try_parse_from(["idpkit-mcp-example", "--bind", "127.0.0.1:9"])
        .expect("defaults");
    assert_eq!(o.resource(), "http://127.0.0.1:9/mcp");
}

#[test]
fn a_resource_not_ending_in_the_mcp_path_is_refused() {
    let http = Arc::new(idpkit::http_client::ReqwestClient::new().expect("http client"));
    let e = mcp::validator("http://127.0.0.1:8080", "http://127.0.0.1:8090/api", http)
        .expect_err("not /mcp");
    assert!(e.to_string().contains("/mcp"), "{e}");
}

/// The client ID metadata document the SDK names by URL (draft-ietf-oauth-client-id-
/// metadata-document), served over https by the test with a throwaway CA.
fn client_document(url: &str) -> Value {
    json!({
        "client_id": url,
        "client_name": "idpkit MCP test client (metadata document)",
        "redirect_uris": [DEMO_REDIRECT_URI],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none"
    })
}

#[tokio::test]
async fn the_typescript_sdk_identifies_itself_by_a_client_id_metadata_document() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    // The document's URL is only known once the https server has its port.
    let fetched = Arc::new(AtomicUsize::new(0));
    let doc_url = Arc::new(std::sync::OnceLock::<String>::new());
    let router = {
        let fetched = fetched.clone();
        let doc_url = doc_url.clone();
        axum::Router::new().route(
            "/mcp-client.json",
            axum::routing::get(move || {
                let fetched = fetched.clone();
                let doc_url = doc_url.clone();
                async move {
                    fetched.fetch_add(1, Ordering::SeqCst);
                    axum::Json(client_document(doc_url.get().expect("URL set")))
                }
            }),
        )
    };
    let tls = idpkit_test_support::tls::https_server(router).await;
    let url = tls.url("/mcp-client.json");
    doc_url.set(url.clone()).expect("set once");
    let ca = tls.ca_pem_path.clone();
    // Registration off: the document is the only way in.
    let (host, resource) = provider_and_mcp_server_with(|o| {
        o.registration = "off".into();
        o.dangerous_allow_loopback_fetch = true;
        o.dangerous_extra_root_ca = Some(ca.clone());
    })
    .await;
    // SDK 1.32.2 only checks that the URL is https; the provider is the one fetching it.
    // Node trusts the CA all the same, so the run does not hinge on that detail.
    let ca_env = ca.display().to_string();
    let mut node = Node::spawn(
        "mcp_client.mjs",
        &[
            "--server",
            &resource,
            "--redirect",
            DEMO_REDIRECT_URI,
            "--client-metadata-url",
            &url,
        ],
        &[("NODE_EXTRA_CA_CERTS", &ca_env)],
        NODE_TIMEOUT,
    );
    let client = node.next_event("client").await;
    assert_eq!(client["client"]["client_id"], url.as_str(), "{client}");
    let authorize = node.next_event("authorize").await;
    let auth_url = authorize["url"].as_str().expect("authorization URL");
    let q = query(auth_url);
    assert_eq!(param(&q, "client_id"), Some(url.as_str()));
    assert_eq!(param(&q, "code_challenge_method"), Some("S256"));
    assert_eq!(param(&q, "resource"), Some(resource.as_str()));
    let callback = login(&browser(), &host, auth_url, "alice", "wonderland").await;
    assert!(
        fetched.load(Ordering::SeqCst) >= 1,
        "the provider fetched the document"
    );
    node.send_line(&callback).await;
    let result = node.next_event("result").await;
    node.success().await;
    let whoami = &result["result"]["structuredContent"];
    assert_eq!(whoami["subject"], "alice", "{result}");
    assert_eq!(whoami["client_id"], url.as_str());
    let claims = jwt_claims(result["tokens"]["access_token"].as_str().expect("token"));
    assert_eq!(claims["aud"], json!([resource]));
    assert_eq!(claims["client_id"], url.as_str());
}
