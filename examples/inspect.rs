//! Takes an access token apart: decoded header and claims, then every check with ✓ / ✗ and
//! the reason, and the verdict the API would give. Online (discovery at `--issuer`) or
//! offline with `--jwks FILE`; human-readable or `--json` for scripts.
//!
//! Usage: `cargo run --example inspect --features http-client -- TOKEN|-|@FILE
//! --issuer URL --audience AUD [--audience AUD]... [--jwks FILE] [--scope S]...
//! [--claim NAME[=JSON]]... [--client-id ID]... [--typ at+jwt|jwt|any] [--read-scp]
//! [--max-bytes N] [--json]`
//!
//! `-` reads the token from stdin, `@FILE` (or `--token-file FILE`) from a file: large
//! tokens do not fit one argument. A `Bearer ` prefix and surrounding whitespace are
//! dropped. `--typ jwt` accepts `typ: JWT` from the issuer (Entra ID access tokens carry
//! it), `--typ any` checks no `typ`. Exit status: 0 valid, 1 refused, 2 usage error.
use std::io::Read;
use std::sync::Arc;

use idpkit::http_client::ReqwestClient;
use idpkit::{Algorithm, ClaimRule, Jwk, Jwks, TrustedIssuer, Validator};
use serde_json::{Map, Value, json};

const USAGE: &str = "usage: inspect TOKEN|-|@FILE --issuer URL --audience AUD [--audience AUD]... \
[--jwks FILE] [--scope S]... [--claim NAME[=JSON]]... [--client-id ID]... \
[--typ at+jwt|jwt|any] [--read-scp] [--max-bytes N] [--json]";

/// The command line, parsed.
#[derive(Default)]
struct Args {
    token: Option<String>,
    token_file: Option<String>,
    issuer: Option<String>,
    audiences: Vec<String>,
    jwks: Option<String>,
    scopes: Vec<String>,
    claims: Vec<(String, ClaimRule)>,
    client_ids: Vec<String>,
    typ: Option<String>,
    read_scp: bool,
    max_bytes: Option<usize>,
    json: bool,
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args::default();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--issuer" => a.issuer = Some(value("--issuer")?),
            "--audience" => a.audiences.push(value("--audience")?),
            "--jwks" => a.jwks = Some(value("--jwks")?),
            "--scope" => a.scopes.push(value("--scope")?),
            "--client-id" => a.client_ids.push(value("--client-id")?),
            "--token-file" => a.token_file = Some(value("--token-file")?),
            "--typ" => a.typ = Some(value("--typ")?),
            "--max-bytes" => {
                let v = value("--max-bytes")?;
                a.max_bytes = Some(
                    v.parse()
                        .map_err(|_| format!("--max-bytes {v:?}: not a number"))?,
                );
            }
            "--claim" => {
                let v = value("--claim")?;
                a.claims.push(match v.split_once('=') {
                    None => (v, ClaimRule::Present),
                    Some((name, json)) => (
                        name.to_owned(),
                        // A JSON value, or else the text as a string.
                        ClaimRule::Equals(
                            serde_json::from_str(json)
                                .unwrap_or_else(|_| Value::String(json.into())),
                        ),
                    ),
                });
            }
            "--read-scp" => a.read_scp = true,
            "--json" => a.json = true,
            "-h" | "--help" => return Err(USAGE.into()),
            flag if flag.starts_with("--") => return Err(format!("unknown flag {flag}\n{USAGE}")),
            _ if a.token.is_none() => a.token = Some(arg),
            _ => return Err(format!("one token only\n{USAGE}")),
        }
    }
    Ok(a)
}

/// The token from the argument, `-` (stdin) or `@FILE` / `--token-file`.
fn read_token(a: &Args) -> Result<String, String> {
    let raw = match (a.token.as_deref(), a.token_file.as_deref()) {
        (Some("-"), None) => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| format!("stdin: {e}"))?;
            s
        }
        (Some(t), None) if t.starts_with('@') => {
            std::fs::read_to_string(&t[1..]).map_err(|e| format!("{}: {e}", &t[1..]))?
        }
        (None, Some(f)) => std::fs::read_to_string(f).map_err(|e| format!("{f}: {e}"))?,
        (Some(t), None) => t.to_owned(),
        (None, None) => return Err(format!("no token\n{USAGE}")),
        (Some(_), Some(_)) => return Err(format!("a token and --token-file: give one\n{USAGE}")),
    };
    let t = raw.trim();
    let t = t
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("bearer "))
        .map_or(t, |_| &t[7..]);
    Ok(t.trim().to_owned())
}

fn validator(a: &Args) -> Result<Validator, Box<dyn std::error::Error>> {
    let issuer = a.issuer.as_deref().ok_or(USAGE)?;
    let (first, more) = a.audiences.split_first().ok_or(USAGE)?;
    let mut trusted = TrustedIssuer::new(issuer, first).with_algorithms(Algorithm::ALL);
    for aud in more {
        trusted = trusted.with_audience(aud);
    }
    if a.read_scp {
        trusted = trusted.read_scp();
    }
    let mut builder = Validator::builder();
    match a.typ.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("at+jwt") => {}
        Some("jwt") => trusted = trusted.dangerous_accept_typ_jwt(),
        Some("any") => builder = builder.required_type(None),
        Some(other) => return Err(format!("--typ {other:?}: at+jwt, jwt or any\n{USAGE}").into()),
    }
    if let Some(path) = &a.jwks {
        let doc: Value =
            serde_json::from_slice(&std::fs::read(path).map_err(|e| format!("{path}: {e}"))?)
                .map_err(|e| format!("{path}: {e}"))?;
        let keys: Vec<Jwk> =
            serde_json::from_value(doc["keys"].clone()).map_err(|e| format!("{path}: {e}"))?;
        trusted = trusted.with_jwks(Jwks::new(keys));
    } else {
        builder = builder.http_client(Arc::new(ReqwestClient::new()?));
    }
    if !a.client_ids.is_empty() {
        let ids = a
            .client_ids
            .iter()
            .map(|c| Value::String(c.clone()))
            .collect();
        builder = builder.require_claim("client_id", ClaimRule::AnyOf(ids));
    }
    for (name, rule) in &a.claims {
        builder = builder.require_claim(name.clone(), rule.clone());
    }
    if let Some(max) = a.max_bytes {
        builder = builder.max_token_bytes(max);
    }
    Ok(builder
        .trust(trusted)
        .require_scopes(a.scopes.clone())
        .build()?)
}

#[tokio::main]
async fn main() {
    let code = match run().await {
        Ok(valid) => i32::from(!valid),
        Err(e) => {
            eprintln!("{e}");
            2
        }
    };
    std::process::exit(code);
}

/// Whether the token is valid.
async fn run() -> Result<bool, Box<dyn std::error::Error>> {
    let args = parse(std::env::args().skip(1))?;
    let token = read_token(&args)?;
    let report = validator(&args)?.inspect(&token).await;
    let valid = report.verdict.is_ok();
    if args.json {
        let checks: Vec<Value> = report
            .checks
            .iter()
            .map(|c| match &c.outcome {
                Ok(found) => json!({"name": c.name, "ok": true, "found": found}),
                Err(why) => json!({"name": c.name, "ok": false, "reason": why}),
            })
            .collect();
        let verdict = match &report.verdict {
            Ok(()) => json!({"valid": true}),
            Err(r) => {
                json!({"valid": false, "status": r.status(), "error": r.error_code().as_str(),
                             "error_description": r.description(), "reason": r.to_string()})
            }
        };
        let out = json!({"header": report.header, "claims": report.claims,
                         "checks": checks, "verdict": verdict});
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(valid);
    }
    let pretty = |m: &Option<Map<String, Value>>| {
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
            Ok(found) => println!("  ✓ {:<11} {found}", check.name),
            Err(why) => println!("  ✗ {:<11} {why}", check.name),
        }
    }
    match &report.verdict {
        Ok(()) => println!("verdict: VALID"),
        Err(r) => println!(
            "verdict: REJECTED ({} {}): {r}",
            r.status(),
            r.error_code().as_str()
        ),
    }
    Ok(valid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Result<Args, String> {
        parse(s.split(' ').map(str::to_owned))
    }

    #[test]
    fn todays_flags_keep_working() {
        let a = args("t.o.k --issuer https://i --audience api --jwks j.json --scope a --scope b")
            .expect("parses");
        assert_eq!(a.token.as_deref(), Some("t.o.k"));
        assert_eq!(a.scopes, ["a", "b"]);
        assert_eq!(a.jwks.as_deref(), Some("j.json"));
    }

    #[test]
    fn the_new_flags_parse() {
        let a = args("- --issuer i --audience a --claim tid=\"x\" --claim oid --client-id c --typ jwt --json")
            .expect("parses");
        assert_eq!(a.token.as_deref(), Some("-"));
        assert_eq!(a.claims[0], ("tid".into(), ClaimRule::Equals(json!("x"))));
        assert_eq!(a.claims[1], ("oid".into(), ClaimRule::Present));
        assert!(a.json && a.client_ids == ["c"]);
        assert!(args("t --bogus").is_err());
    }
}
