//! The practical ceiling for a token endpoint on this machine, for `bench/compare.py`: a bare
//! axum + aws-lc-rs endpoint that only checks Basic client authentication, signs a JWT
//! access token with a key parsed once at start, and answers JSON. No library, no storage,
//! no client lookup, no scope handling. It is not an identity provider; it shows how close
//! the real one gets to the cost of the signature plus HTTP.
//!
//! Usage: `bare_ceiling PORT ALG KEY.pem` (ALG = RS256 or ES256; PKCS#8 PEM).
//!
//! `bare_ceiling --sign ALG KEY.pem SECONDS THREADS` measures the raw signature alone
//! instead: THREADS threads sign a token-sized input in a loop for SECONDS and it prints
//! `SIGN_JSON {"signs": N}` (the caller reads the CPU time from the process accounting).
#![forbid(unsafe_code)]

use std::sync::Arc;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{self, EcdsaKeyPair, RsaKeyPair};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

enum Key {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

struct State {
    key: Key,
    header_b64: String,
    expected_basic: String,
    rng: SystemRandom,
}

fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).expect("PEM body")
}

async fn token(
    axum::extract::State(st): axum::extract::State<Arc<State>>,
    headers: HeaderMap,
    _body: axum::body::Bytes,
) -> axum::response::Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if aws_lc_rs::constant_time::verify_slices_are_equal(
        presented.as_bytes(),
        st.expected_basic.as_bytes(),
    )
    .is_err()
    {
        return (StatusCode::UNAUTHORIZED, "{\"error\":\"invalid_client\"}").into_response();
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let mut jti = [0u8; 32];
    st.rng.fill(&mut jti).expect("rng");
    let claims = serde_json::json!({
        "iss": "http://127.0.0.1", "sub": "bench-client", "aud": "demo-api",
        "exp": now + 3600, "iat": now, "jti": URL_SAFE_NO_PAD.encode(jti),
        "client_id": "bench-client", "scope": "api:read",
    });
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("json"));
    let input = format!("{}.{}", st.header_b64, payload);
    let sig = match &st.key {
        Key::Rsa(k) => {
            let mut sig = vec![0u8; k.public_modulus_len()];
            k.sign(
                &signature::RSA_PKCS1_SHA256,
                &st.rng,
                input.as_bytes(),
                &mut sig,
            )
            .expect("sign");
            sig
        }
        Key::Ec(k) => k
            .sign(&st.rng, input.as_bytes())
            .expect("sign")
            .as_ref()
            .to_vec(),
    };
    let body = serde_json::json!({
        "access_token": format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)),
        "token_type": "Bearer", "expires_in": 3600, "scope": "api:read",
    });
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        serde_json::to_vec(&body).expect("json"),
    )
        .into_response()
}

fn load(alg: &str, key_path: &str) -> Key {
    let der = pem_der(&std::fs::read_to_string(key_path).expect("key file"));
    match alg {
        "RS256" => Key::Rsa(RsaKeyPair::from_pkcs8(&der).expect("RSA PKCS#8")),
        "ES256" => Key::Ec(
            EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &der)
                .expect("EC PKCS#8"),
        ),
        other => panic!("unsupported alg {other}"),
    }
}

fn sign(key: &Key, rng: &SystemRandom, input: &[u8]) -> Vec<u8> {
    match key {
        Key::Rsa(k) => {
            let mut sig = vec![0u8; k.public_modulus_len()];
            k.sign(&signature::RSA_PKCS1_SHA256, rng, input, &mut sig)
                .expect("sign");
            sig
        }
        Key::Ec(k) => k.sign(rng, input).expect("sign").as_ref().to_vec(),
    }
}

fn sign_only(args: &[String]) {
    let key = Arc::new(load(&args[2], &args[3]));
    let seconds: f64 = args[4].parse().expect("seconds");
    let threads: usize = args[5].parse().expect("threads");
    let input = vec![b'a'; 330];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs_f64(seconds);
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let key = key.clone();
            let input = input.clone();
            std::thread::spawn(move || {
                let rng = SystemRandom::new();
                let mut n = 0u64;
                while std::time::Instant::now() < deadline {
                    std::hint::black_box(sign(&key, &rng, &input));
                    n += 1;
                }
                n
            })
        })
        .collect();
    let signs: u64 = handles.into_iter().map(|h| h.join().expect("thread")).sum();
    println!("SIGN_JSON {{\"signs\": {signs}}}");
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args[1] == "--sign" {
        return sign_only(&args);
    }
    let (port, alg, key_path) = (&args[1], &args[2], &args[3]);
    let key = load(alg, key_path);
    let header_b64 = URL_SAFE_NO_PAD.encode(format!(
        "{{\"alg\":\"{alg}\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}}"
    ));
    let state = Arc::new(State {
        key,
        header_b64,
        expected_basic: format!("Basic {}", STANDARD.encode("bench-client:bench-secret")),
        rng: SystemRandom::new(),
    });
    let app = axum::Router::new()
        .route("/token", axum::routing::post(token))
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(|| async { "{}" }),
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}"))
        .await
        .expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
