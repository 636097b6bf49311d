//! Two example-server processes behind one public issuer URL, as behind a load balancer,
//! sharing one key directory and one SQLite grant store: they publish byte-identical JWKS,
//! verify each other's tokens, redeem each other's codes, detect refresh reuse together, and
//! rotate keys under continuous load with zero rejected tokens.

use idpkit_test_support::host as common;

use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idpkit::{Algorithm, Jwk};
use idpkit_example::DEMO_REDIRECT_URI;
use serde_json::Value;

/// The public issuer both instances are configured with (the load balancer's address).
const ISSUER: &str = "http://127.0.0.1:9";

struct Instance {
    base: String,
    child: Child,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

async fn start(data: &Path, name: &str) -> Instance {
    let storage = format!("sqlite:{}", data.join("shared.db").display());
    start_with(data, name, &["--storage", &storage]).await
}

async fn start_with(data: &Path, name: &str, storage_args: &[&str]) -> Instance {
    start_env(data, name, storage_args, &[]).await
}

async fn start_env(data: &Path, name: &str, args: &[&str], env: &[(&str, &str)]) -> Instance {
    let storage_args = args;
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_idpkit-example"))
        .envs(env.iter().copied())
        .args(["--bind", &format!("127.0.0.1:{port}"), "--issuer", ISSUER])
        .arg("--data-dir")
        .arg(data.join(name))
        .args(storage_args)
        .arg("--keys")
        .arg(data.join("keys"))
        .args(["--housekeeping-interval", "1"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the example server");
    let inst = Instance {
        base: format!("http://127.0.0.1:{port}"),
        child,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = common::http()
            .get(format!("{}/jwks", inst.base))
            .send()
            .await
            && r.status() == 200
        {
            return inst;
        }
        assert!(Instant::now() < deadline, "{name} did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn jwks_bytes(base: &str) -> Vec<u8> {
    common::http()
        .get(format!("{base}/jwks"))
        .send()
        .await
        .expect("jwks")
        .bytes()
        .await
        .expect("body")
        .to_vec()
}

async fn client_credentials(base: &str) -> Option<String> {
    let resp = common::http()
        .post(format!("{base}/token"))
        .basic_auth("demo-client", Some("demo-secret"))
        .form(&[("grant_type", "client_credentials"), ("scope", "api:read")])
        .send()
        .await
        .ok()?;
    let body: Value = resp.json().await.ok()?;
    body["access_token"].as_str().map(str::to_owned)
}

/// A strict resource-server check: signature with a key from `jwks` (chosen by `kid`, with the
/// algorithm fixed by the key), issuer and audience. Returns the kid on success.
fn validate(token: &str, jwks: &[Jwk]) -> Result<String, String> {
    let mut parts = token.split('.');
    let (h, p, s) = (
        parts.next().ok_or("no header")?,
        parts.next().ok_or("no payload")?,
        parts.next().ok_or("no sig")?,
    );
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    let kid = header["kid"].as_str().ok_or("no kid")?.to_owned();
    let jwk = jwks
        .iter()
        .find(|k| k.kid.as_deref() == Some(&kid))
        .ok_or_else(|| format!("unknown kid {kid}"))?;
    let alg = jwk.alg.ok_or("key without alg")?;
    let sig = URL_SAFE_NO_PAD.decode(s).map_err(|e| e.to_string())?;
    if !idpkit::jose::verify_with_jwk(jwk, alg, format!("{h}.{p}").as_bytes(), &sig) {
        return Err(format!("bad signature for kid {kid}"));
    }
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    if claims["iss"] != ISSUER || claims["aud"] != serde_json::json!(["demo-api"]) {
        return Err(format!("wrong iss/aud: {claims}"));
    }
    Ok(kid)
}

fn parse_jwks(bytes: &[u8]) -> Vec<Jwk> {
    let v: Value = serde_json::from_slice(bytes).expect("jwks json");
    serde_json::from_value(v["keys"].clone()).expect("keys")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_keys_and_rotate_with_zero_rejected_tokens() {
    let data = tempfile::tempdir().expect("dir");
    let a = start(data.path(), "a").await;
    let b = start(data.path(), "b").await;
    let keys = data.path().join("keys");
    rotate_under_load(
        &a,
        &b,
        || {
            let out = Command::new("openssl")
                .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out"])
                .arg(keys.join("next.pem"))
                .output()
                .expect("openssl");
            assert!(out.status.success());
            std::fs::write(
                keys.join("keys.json"),
                r#"{"keys":[{"file":"signing-rs256.pem","state":"active"},{"file":"signing-es256.pem","state":"active"},{"file":"next.pem","state":"next"}]}"#,
            )
            .expect("manifest");
        },
        || {
            std::fs::write(
                keys.join("keys.json"),
                r#"{"keys":[{"file":"next.pem","state":"active"},{"file":"signing-es256.pem","state":"active"},{"file":"signing-rs256.pem","state":"retiring","until":"2999-01-01T00:00:00Z"}]}"#,
            )
            .expect("manifest");
        },
    )
    .await;
}

#[cfg(feature = "kms")]
use idpkit_test_support::moto;

/// Needs the example built with `kms` (as `cargo test --workspace` does).
#[cfg(feature = "kms")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_kms_keys_rotate_with_zero_rejected_tokens() {
    let Some(moto) = moto::moto().await else {
        return;
    };
    use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
    use aws_sdk_kms::types::{KeySpec, KeyUsageType};
    let kms = aws_sdk_kms::Client::from_conf(
        aws_sdk_kms::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&moto.endpoint)
            .credentials_provider(Credentials::new("test", "test", None, None, "idpkit-test"))
            .build(),
    );
    let mut ids = Vec::new();
    for _ in 0..2 {
        let out = kms
            .create_key()
            .key_usage(KeyUsageType::SignVerify)
            .key_spec(KeySpec::Rsa2048)
            .send()
            .await
            .expect("create key");
        ids.push(out.key_metadata().expect("metadata").key_id().to_owned());
    }
    let data = tempfile::tempdir().expect("dir");
    let list = data.path().join("kms-keys.json");
    std::fs::write(
        &list,
        format!(r#"[{{"key_id":"{}","state":"active"}}]"#, ids[0]),
    )
    .expect("list");
    let storage = format!("sqlite:{}", data.path().join("shared.db").display());
    let args = [
        "--storage",
        storage.as_str(),
        "--kms-keys",
        list.to_str().expect("utf8"),
    ];
    let env = [
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    let a = start_env(data.path(), "a", &args, &env).await;
    let b = start_env(data.path(), "b", &args, &env).await;
    rotate_under_load(
        &a,
        &b,
        || {
            std::fs::write(
                &list,
                format!(r#"[{{"key_id":"{}","state":"active"}},{{"key_id":"{}","state":"next"}}]"#, ids[0], ids[1]),
            )
            .expect("list");
        },
        || {
            std::fs::write(
                &list,
                format!(
                    r#"[{{"key_id":"{}","state":"active"}},{{"key_id":"{}","state":"retiring","until":"2999-01-01T00:00:00Z"}}]"#,
                    ids[1], ids[0]
                ),
            )
            .expect("list");
        },
    )
    .await;
}

/// Byte-identical JWKS at A and B, A's tokens verify with B's JWKS, then a rotation
/// (`publish_next`, wait, `promote`) under continuous load alternating A and B, checked by a
/// validator that caches the JWKS for one second and never refetches on an unknown kid:
/// zero rejected tokens, and both keys seen signing.
async fn rotate_under_load(
    a: &Instance,
    b: &Instance,
    publish_next: impl FnOnce(),
    promote: impl FnOnce(),
) {
    let (ja, jb) = (jwks_bytes(&a.base).await, jwks_bytes(&b.base).await);
    assert_eq!(ja, jb, "both instances publish byte-identical JWKS");
    let token = client_credentials(&a.base).await.expect("token from A");
    validate(&token, &parse_jwks(&jb)).expect("A's token verifies with B's JWKS");

    // Continuous load alternating A and B, checked by a validator that caches the JWKS for
    // one second and never refetches on an unknown kid.
    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(AtomicUsize::new(0));
    let rejected = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let kids = Arc::new(std::sync::Mutex::new(HashSet::<String>::new()));
    let cache = Arc::new(tokio::sync::RwLock::new(parse_jwks(&ja)));
    let refresher = {
        let (cache, stop, base) = (cache.clone(), stop.clone(), b.base.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_secs(1)).await;
                *cache.write().await = parse_jwks(&jwks_bytes(&base).await);
            }
        })
    };
    let mut workers = Vec::new();
    for w in 0..4 {
        let bases = [a.base.clone(), b.base.clone()];
        let (stop, accepted, rejected, kids, cache) = (
            stop.clone(),
            accepted.clone(),
            rejected.clone(),
            kids.clone(),
            cache.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut i = w;
            while !stop.load(Ordering::SeqCst) {
                let base = &bases[i % 2];
                i += 1;
                let Some(token) = client_credentials(base).await else {
                    rejected
                        .lock()
                        .expect("lock")
                        .push(format!("no token from {base}"));
                    continue;
                };
                let jwks = cache.read().await.clone();
                match validate(&token, &jwks) {
                    Ok(kid) => {
                        accepted.fetch_add(1, Ordering::SeqCst);
                        kids.lock().expect("lock").insert(kid);
                    }
                    Err(e) => rejected.lock().expect("lock").push(e),
                }
            }
        }));
    }

    let old_kid = validate(&token, &parse_jwks(&ja)).expect("kid");
    tokio::time::sleep(Duration::from_millis(800)).await;
    // 1. Publish the next key (instances reload every second).
    publish_next();
    // 2. After reload interval + JWKS cache TTL (with margin), promote it and retire the old.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    promote();
    tokio::time::sleep(Duration::from_millis(3000)).await;
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.expect("worker");
    }
    refresher.await.expect("refresher");

    let rejected = rejected.lock().expect("lock").clone();
    let kids = kids.lock().expect("lock").clone();
    let accepted = accepted.load(Ordering::SeqCst);
    eprintln!(
        "rotation under load: {accepted} tokens accepted, {} rejected, kids seen {kids:?}",
        rejected.len()
    );
    assert!(
        rejected.is_empty(),
        "zero rejected tokens, got {rejected:?}"
    );
    assert!(accepted > 20, "the load kept going ({accepted} tokens)");
    assert!(
        kids.contains(&old_kid) && kids.len() == 2,
        "tokens were signed by the old and then the new key: {kids:?}"
    );
    assert_eq!(
        jwks_bytes(&a.base).await,
        jwks_bytes(&b.base).await,
        "still identical after rotation"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_grants_are_shared_code_at_a_exchange_at_b_reuse_detected_at_both() {
    let data = tempfile::tempdir().expect("dir");
    let a = start(data.path(), "a").await;
    let b = start(data.path(), "b").await;
    shared_grants(&a, &b).await;
}

const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_grants_are_shared_code_at_a_exchange_at_b_reuse_detected_at_both() {
    let schema = format!("idpkit_multi_{}", std::process::id());
    let admin = match tokio_postgres::connect(POSTGRES_URL, tokio_postgres::NoTls).await {
        Ok((client, conn)) => {
            tokio::spawn(conn);
            client
        }
        Err(e) => {
            let msg = format!("POSTGRES TEST NOT RUN: cannot reach {POSTGRES_URL}: {e}");
            assert!(std::env::var_os("CI").is_none(), "{msg}");
            eprintln!("\n*** {msg} ***\n");
            return;
        }
    };
    let data = tempfile::tempdir().expect("dir");
    let args = [
        "--storage",
        POSTGRES_URL,
        "--postgres-schema",
        schema.as_str(),
    ];
    let a = start_with(data.path(), "a", &args).await;
    let b = start_with(data.path(), "b", &args).await;
    shared_grants(&a, &b).await;
    drop((a, b));
    admin
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await
        .expect("drop schema");
}

/// Logs alice in through A's login page; returns the code and its PKCE verifier.
async fn login_at(a: &Instance) -> (String, String) {
    let (verifier, challenge) = common::pkce_pair();
    let browser = common::browser();
    let url = format!(
        "{}/authorize?client_id=demo-client&response_type=code&scope=openid%20offline_access&redirect_uri={}&code_challenge={challenge}&code_challenge_method=S256",
        a.base,
        url::form_urlencoded::byte_serialize(DEMO_REDIRECT_URI.as_bytes()).collect::<String>()
    );
    let loc = common::location(&browser.get(&url).send().await.expect("authorize"));
    let resp = browser
        .post(format!("{}{loc}", a.base))
        .form(&[("username", "alice"), ("password", "wonderland")])
        .send()
        .await
        .expect("login");
    let params = common::callback_params(&common::location(&resp));
    assert_eq!(common::param(&params, "iss"), Some(ISSUER));
    (
        common::param(&params, "code").expect("code").to_owned(),
        verifier,
    )
}

/// A token request as demo-client: (status, JSON).
async fn post(base: String, form: Vec<(&'static str, String)>) -> (u16, Value) {
    let resp = common::http()
        .post(format!("{base}/token"))
        .basic_auth("demo-client", Some("demo-secret"))
        .form(&form)
        .send()
        .await
        .expect("token");
    (
        resp.status().as_u16(),
        resp.json::<Value>().await.expect("json"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_refresh_token_survives_sigkill_right_after_the_response() {
    let data = tempfile::tempdir().expect("dir");
    let storage = format!("sqlite:{}", data.path().join("crash.db").display());
    survives_sigkill(data.path(), &storage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sled_refresh_token_survives_sigkill_right_after_the_response() {
    let data = tempfile::tempdir().expect("dir");
    let storage = format!("sled:{}", data.path().join("crash.sled").display());
    survives_sigkill(data.path(), &storage).await;
}

async fn survives_sigkill(data: &Path, storage: &str) {
    let mut a = start_with(data, "a", &["--storage", storage]).await;
    let (code, verifier) = login_at(&a).await;
    let (s, tokens) = post(
        a.base.clone(),
        vec![
            ("grant_type", "authorization_code".into()),
            ("code", code),
            ("redirect_uri", DEMO_REDIRECT_URI.into()),
            ("code_verifier", verifier),
        ],
    )
    .await;
    assert_eq!(s, 200);
    a.child.kill().expect("SIGKILL");
    a.child.wait().expect("reaped");
    let restarted = start_with(data, "a", &["--storage", storage]).await;
    let rt = tokens["refresh_token"].as_str().expect("rt").to_owned();
    let (s, body) = post(
        restarted.base.clone(),
        vec![
            ("grant_type", "refresh_token".into()),
            ("refresh_token", rt),
        ],
    )
    .await;
    assert_eq!(s, 200, "the refresh token outlived the crash: {body}");
    let token = body["access_token"].as_str().expect("at");
    validate(token, &parse_jwks(&jwks_bytes(&restarted.base).await))
        .expect("same keys after the restart");
}

async fn shared_grants(a: &Instance, b: &Instance) {
    // Log in at A.
    let (code, verifier) = login_at(a).await;

    // Exchange at B.
    let (s, t1) = post(
        b.base.clone(),
        vec![
            ("grant_type", "authorization_code".into()),
            ("code", code.clone()),
            ("redirect_uri", DEMO_REDIRECT_URI.into()),
            ("code_verifier", verifier.clone()),
        ],
    )
    .await;
    assert_eq!(s, 200, "B redeems A's code: {t1}");
    // The ID token from B verifies with A's JWKS.
    let id_token = t1["id_token"].as_str().expect("id token");
    let kid: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(id_token.split('.').next().expect("h"))
            .expect("b64"),
    )
    .expect("json");
    let jwks = parse_jwks(&jwks_bytes(&a.base).await);
    let jwk = jwks
        .iter()
        .find(|k| k.kid.as_deref() == kid["kid"].as_str())
        .expect("kid published by A");
    let (h, rest) = id_token.split_once('.').expect("jws");
    let (p, sig) = rest.split_once('.').expect("jws");
    assert!(idpkit::jose::verify_with_jwk(
        jwk,
        Algorithm::RS256,
        format!("{h}.{p}").as_bytes(),
        &URL_SAFE_NO_PAD.decode(sig).expect("sig")
    ));
    // Refresh at A, replay the old refresh token at B: reuse, family revoked at both.
    let r1 = t1["refresh_token"].as_str().expect("rt").to_owned();
    let (s, t2) = post(
        a.base.clone(),
        vec![
            ("grant_type", "refresh_token".into()),
            ("refresh_token", r1.clone()),
        ],
    )
    .await;
    assert_eq!(s, 200);
    let r2 = t2["refresh_token"].as_str().expect("rt").to_owned();
    let (s, body) = post(
        b.base.clone(),
        vec![
            ("grant_type", "refresh_token".into()),
            ("refresh_token", r1),
        ],
    )
    .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "reuse detected at B"
    );
    for base in [&a.base, &b.base] {
        let (s, _) = post(
            base.clone(),
            vec![
                ("grant_type", "refresh_token".into()),
                ("refresh_token", r2.clone()),
            ],
        )
        .await;
        assert_eq!(s, 400, "the family is revoked at {base}");
    }
    // The code is spent everywhere (and its reuse would revoke the grant, so it comes last).
    let (s, _) = post(
        a.base.clone(),
        vec![
            ("grant_type", "authorization_code".into()),
            ("code", code),
            ("redirect_uri", DEMO_REDIRECT_URI.into()),
            ("code_verifier", verifier),
        ],
    )
    .await;
    assert_eq!(s, 400, "a code redeemed at B cannot be redeemed at A");
}

/// RFC 9449 §11.1 across instances: a DPoP proof used at A is refused at B (the proof's
/// `jti` is counted in the shared SQLite store), and B binds its own tokens to a fresh
/// proof's key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dpop_proof_replayed_at_the_other_instance_is_refused() {
    let data = tempfile::tempdir().expect("dir");
    let a = start(data.path(), "a").await;
    let b = start(data.path(), "b").await;
    let key = idpkit::SigningKey::generate(Algorithm::ES256)
        .expect("key")
        .0;
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default()
    };
    let token_url = format!("{ISSUER}/token");
    let request = |base: &str, proof: &str| {
        common::http()
            .post(format!("{base}/token"))
            .basic_auth("demo-client", Some("demo-secret"))
            .header("DPoP", proof.to_owned())
            .form(&[("grant_type", "client_credentials"), ("scope", "api:read")])
            .send()
    };
    let proof = idpkit::dpop::proof(&key, "POST", &token_url, now(), None, None).expect("proof");
    let resp = request(&a.base, &proof).await.expect("token at a");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["token_type"], "DPoP");
    let resp = request(&b.base, &proof).await.expect("token at b");
    assert_eq!(resp.status(), 400, "the proof was used at a");
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "invalid_dpop_proof");
    let fresh = idpkit::dpop::proof(&key, "POST", &token_url, now(), None, None).expect("proof");
    let resp = request(&b.base, &fresh).await.expect("token at b");
    assert_eq!(resp.status(), 200);
}
