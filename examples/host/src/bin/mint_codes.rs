//! Mints authorization codes into the example provider's store, for load tests of the code
//! exchange (`bench/compare.py`): each code comes from a real authorization request and a
//! finished login interaction, run in-process against the same storage, keys and issuer the
//! server uses, so the server redeems them as its own.
//!
//! Usage: `mint_codes [server options] --count N --out FILE [--client-id demo-client]
//! [--scope "openid api:read"]` (the server options are those of `idpkit-example`; pass the
//! same `--storage`, `--keys`/`--data-dir`, `--issuer`/`--bind` and `--code-ttl`).
#![forbid(unsafe_code)]

use std::io::Write;
use std::sync::Arc;

use clap::Parser;
use futures::StreamExt;
use idpkit::{
    Authorization, InteractionOutcome, Method, Params, Request, SystemClock, parse_cookies,
};
use idpkit_example::{DEMO_REDIRECT_URI, DemoUsers, Options, build_provider};

#[derive(Debug, Parser)]
#[command(name = "mint_codes", about = "Mint authorization codes for load tests")]
struct Args {
    #[command(flatten)]
    server: Options,
    /// How many codes.
    #[arg(long)]
    count: usize,
    /// Where to write them, one per line.
    #[arg(long)]
    out: std::path::PathBuf,
    /// The (first-party, confidential) client the codes are for.
    #[arg(long, default_value = "demo-client")]
    client_id: String,
    /// The scope of each code.
    #[arg(long, default_value = "openid api:read")]
    scope: String,
    /// Flows run at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
}

async fn one_code(p: &idpkit::Provider, client_id: &str, scope: &str) -> Result<String, String> {
    let mut req = Request::new(Method::Get);
    req.params = Params::from_pairs([
        ("client_id", client_id),
        ("redirect_uri", DEMO_REDIRECT_URI),
        ("response_type", "code"),
        ("scope", scope),
    ]);
    let Authorization::Interaction(pending) = p.authorize(&req).await else {
        return Err("the authorization request did not ask for a login".into());
    };
    let cookie = pending
        .response
        .header_value("set-cookie")
        .ok_or("no binding cookie")?;
    req.cookies = parse_cookies(cookie.split(';').next().unwrap_or_default()).collect();
    let outcome = InteractionOutcome::Login {
        subject: "alice".into(),
    };
    match p.finish_interaction(&pending.id, &req, outcome).await {
        Ok(Authorization::Respond(r)) => {
            let location = r.header_value("location").ok_or("no redirect")?;
            let query = location.split_once('?').ok_or("no query")?.1;
            Params::parse(query.as_bytes())
                .get("code")
                .ok()
                .flatten()
                .map(str::to_owned)
                .ok_or_else(|| format!("no code in {location}"))
        }
        Ok(Authorization::Interaction(_)) => {
            Err("the client needs consent; use a first-party one".into())
        }
        Err(e) => Err(e.to_string()),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = Args::parse();
    // Every code is one interaction of one client from one process: the load test lifts
    // the interaction bounds to its count.
    let n = u64::try_from(args.count).unwrap_or(u64::MAX);
    args.server.max_interactions_per_client = args.server.max_interactions_per_client.max(n);
    args.server.max_interactions = args.server.max_interactions.max(n);
    let users = Arc::new(DemoUsers::new().map_err(|e| e.to_string())?);
    let provider = build_provider(&args.server, Arc::new(SystemClock), users).await?;
    let codes: Vec<Result<String, String>> = futures::stream::iter(0..args.count)
        .map(|_| one_code(&provider, &args.client_id, &args.scope))
        .buffer_unordered(args.concurrency.max(1))
        .collect()
        .await;
    let mut out = std::io::BufWriter::new(std::fs::File::create(&args.out)?);
    for code in codes {
        writeln!(out, "{}", code?)?;
    }
    out.flush()?;
    Ok(())
}
