//! A resource server protected by idpkit's bearer authentication, accepting tokens from the
//! example provider (issuer discovered at `--issuer`, audience `demo-api`).
//!
//! Usage: `cargo run -p idpkit-example` in one terminal, then
//! `cargo run --example api -- [--issuer http://127.0.0.1:8080] [--bind 127.0.0.1:8081]`, then
//! `curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8081/api/orders`. DPoP-bound
//! tokens go as `Authorization: DPoP $TOKEN` with a `DPoP` proof whose `htu` is
//! `--external-url` (default `http://BIND`) joined with the path. The protected resource
//! metadata (RFC 9728) of `--resource` (default `EXTERNAL_URL/api`) is at
//! `/.well-known/oauth-protected-resource/api`.
use std::sync::Arc;

use idpkit::http_client::ReqwestClient;
use idpkit::protected_resource_metadata::ProtectedResourceMetadata;
use idpkit::{TrustedIssuer, Validator};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str, default: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
            .unwrap_or_else(|| default.to_owned())
    };
    let issuer = flag("--issuer", "http://127.0.0.1:8080");
    let bind = flag("--bind", "127.0.0.1:8081");
    let external_url = flag("--external-url", &format!("http://{bind}"));
    let resource = flag("--resource", &format!("{external_url}/api"));
    let validator = Validator::builder()
        .trust(TrustedIssuer::new(&issuer, "demo-api"))
        .resource_metadata(
            ProtectedResourceMetadata::new(&resource)
                .scopes(["api:read"])
                .name("idpkit example API"),
        )
        .external_url(external_url)
        .http_client(Arc::new(ReqwestClient::new()?))
        .build()?;
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    println!("example API on http://{bind}, trusting {issuer} for audience demo-api");
    println!("  GET /api/me (any valid token), GET /api/orders (scope api:read)");
    println!(
        "  resource {resource}: metadata at {}",
        idpkit::protected_resource_metadata::metadata_url(&resource)?
    );
    axum::serve(listener, idpkit_example::api::app(validator)).await?;
    Ok(())
}
