//! An MCP server (Model Context Protocol, streamable HTTP transport, built with the `rmcp`
//! crate) whose tools sit behind idpkit's [`BearerAuth`], as the MCP authorization spec
//! asks of a protected MCP server: it publishes protected resource metadata (RFC 9728)
//! naming the example provider as its authorization server, answers 401 with
//! `WWW-Authenticate: Bearer resource_metadata="…"` without a valid token, and accepts
//! only access tokens whose `aud` is its own resource identifier (RFC 8707), validated
//! against the provider's keys (found through the issuer's discovery document).
//!
//! `src/bin/mcp.rs` runs it: `cargo run -p idpkit-example --bin idpkit-mcp-example --
//! --bind 127.0.0.1:8090 --issuer http://127.0.0.1:8080 --resource
//! http://127.0.0.1:8090/mcp`, next to the provider started with the same `--resource`.
//! Tests call [`app`] with a listener on `127.0.0.1:0`.
//!
//! Routes:
//! - `POST|GET|DELETE /mcp`: MCP over streamable HTTP, scope [`MCP_SCOPE`] required. The
//!   transport runs stateless (no `Mcp-Session-Id`): every request carries its token and
//!   is served on its own, so no session lives in process memory and any instance
//!   behind a load balancer answers any request.
//! - `GET /.well-known/oauth-protected-resource/mcp` (RFC 9728 §3.1) and, for clients
//!   that look at the root, `GET /.well-known/oauth-protected-resource`: the metadata.
//!
//! Tools (none takes a required argument): `whoami` (the token's subject, client, scopes
//! and audience) and `time` (the server's clock, RFC 3339).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use idpkit_example::mcp;
//! let http = Arc::new(idpkit::http_client::ReqwestClient::new()?);
//! let validator = mcp::validator("http://127.0.0.1:8080", "http://127.0.0.1:8090/mcp", http)?;
//! let app = mcp::app(validator)?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8090").await?;
//! mcp::serve(listener, app, std::future::pending()).await?;
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::header;
use idpkit::axum::BearerAuth;
use idpkit::protected_resource_metadata::{ProtectedResourceMetadata, WELL_KNOWN};
use idpkit::{TrustedIssuer, ValidatedToken, Validator};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::Extension;
use rmcp::model::{CallToolResult, ErrorData, Implementation, ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use serde_json::json;

/// The scope the MCP server's protected resource metadata lists in `scopes_supported`
/// and every request to `/mcp` needs (403 `insufficient_scope` without it).
pub const MCP_SCOPE: &str = "mcp:tools";

/// The path the MCP endpoint is served at.
pub const MCP_PATH: &str = "/mcp";

/// Command-line options of `idpkit-mcp-example`.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "idpkit-mcp-example",
    about = "Example MCP server (streamable HTTP) whose tools need an access token from the example provider"
)]
pub struct McpOptions {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    pub bind: SocketAddr,
    /// The authorization server's issuer identifier: its keys are found through
    /// `ISSUER/.well-known/openid-configuration`, and the protected resource metadata
    /// names it in `authorization_servers`.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub issuer: String,
    /// This server's resource identifier (RFC 8707, RFC 9728): the URL clients reach the
    /// MCP endpoint at, and the only token audience accepted. Start the provider with the
    /// same `--resource`. Default: `http://BIND/mcp`.
    #[arg(long)]
    pub resource: Option<String>,
}

impl McpOptions {
    /// `--resource`, or `http://BIND/mcp`.
    pub fn resource(&self) -> String {
        self.resource
            .clone()
            .unwrap_or_else(|| format!("http://{}{MCP_PATH}", self.bind))
    }
}

/// Why the MCP server cannot be set up.
#[derive(Debug)]
#[non_exhaustive]
pub enum McpError {
    /// The resource identifier is not one (RFC 9728 §1.2), or its path is not `/mcp`.
    Resource(String),
    /// The validator refused its configuration.
    Validator(idpkit::ConfigError),
}

impl std::fmt::Display for McpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Resource(reason) => write!(f, "--resource: {reason}"),
            Self::Validator(e) => write!(f, "token validator: {e}"),
        }
    }
}

impl std::error::Error for McpError {}

/// `resource` parsed, if it is a URL whose path is [`MCP_PATH`].
fn mcp_url(resource: &str) -> Result<url::Url, McpError> {
    let url =
        url::Url::parse(resource).map_err(|e| McpError::Resource(format!("{resource:?}: {e}")))?;
    if url.path() != MCP_PATH {
        return Err(McpError::Resource(format!(
            "{resource:?} must end in the MCP endpoint's path {MCP_PATH}"
        )));
    }
    Ok(url)
}

/// The validator of the MCP server: tokens from `issuer` (keys by discovery, fetched with
/// `http`) whose `aud` contains `resource`, and the protected resource metadata of
/// `resource` (`scopes_supported: ["mcp:tools"]`, `authorization_servers: [issuer]`).
pub fn validator(
    issuer: &str,
    resource: &str,
    http: Arc<dyn idpkit::http::HttpClient>,
) -> Result<Validator, McpError> {
    let url = mcp_url(resource)?;
    let external_url = url.origin().ascii_serialization();
    Validator::builder()
        .trust(TrustedIssuer::new(issuer, resource))
        .resource_metadata(
            ProtectedResourceMetadata::new(resource)
                .scopes([MCP_SCOPE])
                .name("idpkit MCP example"),
        )
        .external_url(external_url)
        .http_client(http)
        .build()
        .map_err(McpError::Validator)
}

/// The MCP server's routes (see the module docs) for a validator made by [`validator`]
/// (or any validator with protected resource metadata for a resource whose path is
/// `/mcp`).
pub fn app(validator: Validator) -> Result<Router, McpError> {
    let Some(published) = validator.resource_metadata() else {
        return Err(McpError::Resource(
            "the validator has no protected resource metadata".into(),
        ));
    };
    let document: serde_json::Value =
        serde_json::from_slice(&published.document).unwrap_or_default();
    let resource = document["resource"].as_str().unwrap_or_default().to_owned();
    let url = mcp_url(&resource)?;
    let host = url
        .host_str()
        .ok_or_else(|| McpError::Resource(format!("{resource:?} has no host")))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    // DNS-rebinding defence of the transport: only the resource's own authority is
    // accepted in `Host` (a port-less entry matches the default port of any scheme).
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    };
    let root_document = axum::body::Bytes::from(published.document.clone());
    let auth = BearerAuth::new(validator).realm("mcp");
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts([authority])
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None);
    let service = StreamableHttpService::new(
        || Ok(Tools::new()),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    // The bearer layer wraps `/mcp` only: the metadata is public (RFC 9728 §3).
    let protected = Router::new()
        .route_service(MCP_PATH, service)
        .route_layer(auth.require_scope(MCP_SCOPE).layer());
    Ok(protected.merge(auth.metadata_router()).route(
        WELL_KNOWN,
        axum::routing::get(move || {
            let doc = root_document.clone();
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
    ))
}

/// Runs the MCP server on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// The MCP tools. Each call reads the access token that [`BearerAuth`] validated for the
/// HTTP request carrying it.
#[derive(Debug, Clone)]
struct Tools {
    tool_router: ToolRouter<Self>,
}

impl Tools {
    fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
        }
    }
}

/// The token of the HTTP request a tool call came in (the bearer layer puts it there).
fn token_of(parts: &axum::http::request::Parts) -> Result<&ValidatedToken, ErrorData> {
    parts
        .extensions
        .get::<ValidatedToken>()
        .ok_or_else(|| ErrorData::internal_error("no validated access token", None))
}

#[tool_router]
impl Tools {
    #[tool(description = "Who is calling: the access token's subject, client, scopes and audience")]
    async fn whoami(
        &self,
        Extension(parts): Extension<axum::http::request::Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        let token = token_of(&parts)?;
        Ok(CallToolResult::structured(json!({
            "issuer": token.issuer,
            "subject": token.subject,
            "client_id": token.client_id,
            "scopes": token.scopes,
            "audience": token.claim("aud"),
        })))
    }

    #[tool(description = "The server's current time (UTC, RFC 3339)")]
    async fn time(
        &self,
        Extension(parts): Extension<axum::http::request::Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        token_of(&parts)?;
        let now = idpkit::time::OffsetDateTime::now_utc()
            .format(&idpkit::time::format_description::well_known::Rfc3339)
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        Ok(CallToolResult::structured(json!({ "now": now })))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Tools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "idpkit-mcp-example",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(
                "Example tools behind OAuth: `whoami` tells who the access token is for; `time` tells the time.",
            )
    }
}
