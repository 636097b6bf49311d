//! Measures what unauthenticated authorization requests cost the grant store (#12 item 1):
//! sends N `/authorize` requests for the demo client in process (no socket) and prints the
//! growth of the SQLite file and of the process's resident memory.
//!
//! Usage: `cargo run -p idpkit-example --example authorize_load -- [memory|sqlite] [N]
//! [small|capped] [one-source|no-source]` (`capped`: `state`, `nonce` and `login_hint` of
//! 2 KiB each, the longest accepted; `one-source`, the default: every request from one
//! address, as one attacker over HTTP; `no-source`: glue that does not say, so only the
//! per-client and total bounds apply).

use idpkit::Request;
use idpkit_example::{Options, app_from_options};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|it| {
            it.flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let storage = args.get(1).map_or("memory", String::as_str);
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let big = args.get(3).is_some_and(|s| s == "capped");
    let source: Option<std::net::IpAddr> = match args.get(4).map(String::as_str) {
        Some("no-source") => None,
        _ => Some("203.0.113.1".parse()?),
    };
    let data = std::env::temp_dir().join(format!("idpkit-load-{}", std::process::id()));
    std::fs::create_dir_all(&data)?;
    let mut opts = Options::for_bind("127.0.0.1:8080".parse()?);
    opts.data_dir = data.clone();
    opts.storage = Some(match storage {
        "sqlite" => format!("sqlite:{}", data.join("grants.db").display()),
        _ => "memory".into(),
    });
    let (_app, provider, _) = app_from_options(&opts).await?;
    let filler = "x".repeat(2048);
    let (s, nonce, hint) = if big {
        (filler.as_str(), filler.as_str(), filler.as_str())
    } else {
        ("st", "n", "alice")
    };
    let query = format!(
        "client_id=demo-client&response_type=code&scope=openid&redirect_uri={}&state={s}&nonce={nonce}&login_hint={hint}",
        idpkit_example::DEMO_REDIRECT_URI
    );
    let (rss0, disk0) = (rss_kib(), dir_bytes(&data));
    let started = std::time::Instant::now();
    let mut interactions = 0;
    for _ in 0..n {
        let req = Request::from_http("GET", Some(&query), [], b"", 65536)?.with_source(source);
        if matches!(
            provider.authorize(&req).await,
            idpkit::Authorization::Interaction(_)
        ) {
            interactions += 1;
        }
    }
    let (rss1, disk1) = (rss_kib(), dir_bytes(&data));
    println!(
        "{storage} {} {} x{n}: {interactions} interactions in {:.1}s; files {:+.1} MB; RSS {:+.1} MiB",
        if big { "capped" } else { "small" },
        if source.is_some() {
            "one-source"
        } else {
            "no-source"
        },
        started.elapsed().as_secs_f64(),
        (disk1 as f64 - disk0 as f64) / 1e6,
        (rss1 as f64 - rss0 as f64) / 1024.0
    );
    if let Ok(entries) = std::fs::read_dir(&data) {
        for e in entries.flatten() {
            if let Ok(m) = e.metadata()
                && m.is_file()
            {
                println!(
                    "  {}: {:.1} MB",
                    e.file_name().to_string_lossy(),
                    m.len() as f64 / 1e6
                );
            }
        }
    }
    std::fs::remove_dir_all(&data).ok();
    Ok(())
}
