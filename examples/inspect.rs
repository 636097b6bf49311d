//! Takes an access token apart: decoded header and claims, then every check with ✓ / ✗ and
//! the reason. Online (discovery at `--issuer`) or offline with `--jwks FILE`.
//!
//! Usage: `cargo run --example inspect -- TOKEN --issuer URL --audience AUD [--jwks FILE]
//! [--scope S]...`
use std::sync::Arc;

use idpkit::http_client::ReqwestClient;
use idpkit::{Jwk, Jwks, TrustedIssuer, Validator};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let usage = "usage: inspect TOKEN --issuer URL --audience AUD [--jwks FILE] [--scope S]...";
    let token = args.first().filter(|t| !t.starts_with("--")).ok_or(usage)?;
    let issuer = value("--issuer").ok_or(usage)?;
    let audience = value("--audience").ok_or(usage)?;
    let mut trusted = TrustedIssuer::new(&issuer, &audience).with_algorithms([
        idpkit::Algorithm::RS256,
        idpkit::Algorithm::PS256,
        idpkit::Algorithm::ES256,
        idpkit::Algorithm::EdDSA,
    ]);
    let mut builder = Validator::builder();
    if let Some(path) = value("--jwks") {
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?)?;
        let keys: Vec<Jwk> =
            serde_json::from_value(doc["keys"].clone()).map_err(|e| format!("{path}: {e}"))?;
        trusted = trusted.with_jwks(Jwks::new(keys));
    } else {
        builder = builder.http_client(Arc::new(ReqwestClient::new()?));
    }
    let scopes: Vec<String> = args
        .windows(2)
        .filter(|w| w[0] == "--scope")
        .map(|w| w[1].clone())
        .collect();
    let validator = builder.trust(trusted).require_scopes(scopes).build()?;
    let report = validator.inspect(token).await;
    let pretty = |m: &Option<serde_json::Map<String, serde_json::Value>>| {
        m.as_ref()
            .and_then(|m| serde_json::to_string_pretty(m).ok())
            .unwrap_or_else(|| "(does not decode)".into())
    };
    println!(
        "header:\n{}\nclaims:\n{}\nchecks:",
        pretty(&report.header),
        pretty(&report.claims)
    );
    for check in &report.checks {
        match &check.outcome {
            Ok(found) => println!("  ✓ {:<10} {found}", check.name),
            Err(why) => println!("  ✗ {:<10} {why}", check.name),
        }
    }
    match report.verdict {
        Ok(()) => println!("verdict: VALID"),
        Err(r) => {
            println!("verdict: REJECTED: {r}");
            std::process::exit(1);
        }
    }
    Ok(())
}
