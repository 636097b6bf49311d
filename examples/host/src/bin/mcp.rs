//! The example MCP server: MCP (streamable HTTP) at `/mcp`, its tools behind the example
//! provider's access tokens (audience = `--resource`), with protected resource metadata
//! (RFC 9728) for MCP clients to discover the provider from.
//!
//! Usage, next to `cargo run -p idpkit-example -- --registration open --resource
//! http://127.0.0.1:8090/mcp`:
//! `cargo run -p idpkit-example --bin idpkit-mcp-example -- --bind 127.0.0.1:8090
//! --issuer http://127.0.0.1:8080 --resource http://127.0.0.1:8090/mcp`
#![forbid(unsafe_code)]

use std::sync::Arc;

use clap::Parser;
use idpkit_example::mcp::{self, McpOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,rmcp=warn".into()),
        )
        .init();
    let opts = McpOptions::parse();
    let resource = opts.resource();
    let http = Arc::new(idpkit::http_client::ReqwestClient::new()?);
    let validator = mcp::validator(&opts.issuer, &resource, http)?;
    let metadata = validator
        .resource_metadata()
        .map(|m| m.url.clone())
        .unwrap_or_default();
    let router = mcp::app(validator)?;
    let listener = tokio::net::TcpListener::bind(opts.bind).await?;
    println!("idpkit example MCP server");
    println!("  MCP endpoint: {resource} (streamable HTTP; tools whoami, time)");
    println!("  metadata:     {metadata} (RFC 9728)");
    println!(
        "  tokens:       from {} with aud {resource} and scope {}",
        opts.issuer,
        mcp::MCP_SCOPE
    );
    mcp::serve(listener, router, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
