//! The example identity provider: idpkit embedded in an axum app with a real login page.
//!
//! Usage: `cargo run -p idpkit-example -- [--bind 127.0.0.1:8080] [--issuer URL] [--data-dir DIR]`
#![forbid(unsafe_code)]

use clap::Parser;
use idpkit_example::{Options, app_from_options};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let opts = Options::parse();
    let (app, provider, backends) = app_from_options(&opts).await?;
    idpkit_example::spawn_housekeeping(
        provider.clone(),
        &backends,
        std::time::Duration::from_secs(opts.housekeeping_interval.max(1)),
    );
    let listener = tokio::net::TcpListener::bind(opts.bind).await?;
    println!("idpkit example identity provider");
    println!("  issuer:    {}", provider.issuer());
    println!(
        "  discovery: {}/.well-known/openid-configuration",
        provider.issuer()
    );
    println!("  demo user: alice / wonderland");
    println!(
        "  clients:   demo-client (secret demo-secret), demo-public (PKCE), demo-device (device flow)"
    );
    println!("  devices:   {}", provider.device_verification_uri());
    if provider.config().registration.policy.is_on() {
        println!(
            "  registration: {} (RFC 7591, --registration)",
            provider.url(&provider.config().paths.registration)
        );
    }
    println!(
        "  exchange:  demo-exchanger (secret demo-exchanger-secret): demo-api -> demo-backend"
    );
    println!(
        "  storefront: demo-shop (guest tokens upgraded at login, /shop/...), demo-kiosk (guest only)"
    );
    println!("  redirect:  {}", idpkit_example::DEMO_REDIRECT_URI);
    println!("  storage:   {}", backends.storage);
    println!("  keys:      {}", backends.keys);
    for u in provider.upstreams() {
        println!(
            "  upstream:  {} ({}); redirect URI to register there: {}",
            u.name,
            u.display_name,
            provider.federation_callback_url(&u.name)
        );
    }
    if backends.storage == "memory" {
        println!(
            "  WARNING:   in-memory grants are lost on restart and not shared between instances"
        );
    }
    // Header-read timeout, connection lifetime and a connection cap (slow clients cannot
    // hold the server): see `idpkit_example::serve`.
    idpkit_example::serve::serve(listener, app, opts.serve_limits(), async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
