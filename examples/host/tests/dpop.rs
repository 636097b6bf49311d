//! DPoP (RFC 9449) end to end over HTTP (#16 items 4 and 5): a client written against the
//! RFC (proofs signed with an ES256 key of its own) runs the code flow of `demo-public`
//! with a proof at the token endpoint, refreshes, calls UserInfo and the example API
//! (`GET /api/me`, idpkit's `BearerAuth`) with the DPoP-bound token; and the refusals:
//! a replayed proof, wrong `htu`/`htm`/`ath`, the bound token as `Bearer`, a proof of
//! another key, and the API's nonce.

use idpkit::dpop;
use idpkit::{Algorithm, Clock, SigningKey};
use idpkit_example::DEMO_REDIRECT_URI;
use idpkit_test_support::host::{
    Host, authorize_url, browser, callback_params, http, login, param, pkce_pair, start_api,
};
use serde_json::Value;

const SCOPE: &str = "openid profile offline_access api:read";

struct DpopClient {
    key: SigningKey,
}

impl DpopClient {
    fn new() -> Self {
        Self {
            key: SigningKey::generate(Algorithm::ES256).expect("key").0,
        }
    }

    fn proof(&self, host: &Host, method: &str, url: &str, at: Option<&str>) -> String {
        let iat = host.clock.now().unix_timestamp();
        dpop::proof(&self.key, method, url, iat, at, None).expect("proof")
    }
}

/// The code flow of demo-public: (code, verifier).
async fn code(host: &Host) -> (String, String) {
    let (verifier, challenge) = pkce_pair();
    let url = authorize_url(
        host,
        "demo-public",
        &[
            ("response_type", "code"),
            ("scope", SCOPE),
            ("state", "s1"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let cb = login(&browser(), host, &url, "alice", "wonderland").await;
    let params = callback_params(&cb);
    (param(&params, "code").expect("code").to_owned(), verifier)
}

async fn token(host: &Host, form: &[(&str, &str)], proof: Option<String>) -> (u16, Value) {
    let mut req = http().post(host.url("/token")).form(form);
    if let Some(p) = proof {
        req = req.header("DPoP", p);
    }
    let resp = req.send().await.expect("token request");
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

async fn get(url: &str, auth: &str, proof: Option<String>) -> reqwest::Response {
    let mut req = http().get(url).header("Authorization", auth);
    if let Some(p) = proof {
        req = req.header("DPoP", p);
    }
    req.send().await.expect("GET")
}

fn challenge(r: &reqwest::Response) -> String {
    r.headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn jwt_claims(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON")
}

#[tokio::test]
async fn a_dpop_code_flow_refresh_userinfo_and_api_call_rfc9449() {
    let host = Host::start().await;
    let api = start_api(&host, false).await;
    let client = DpopClient::new();
    let token_url = host.url("/token");

    // Discovery advertises the proof algorithms (RFC 9449 §5.1).
    let meta: Value = http()
        .get(host.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    assert!(
        meta["dpop_signing_alg_values_supported"]
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v == "ES256")),
        "{meta}"
    );

    // The code exchange with a proof: a DPoP-bound token.
    let (code, verifier) = code(&host).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", DEMO_REDIRECT_URI),
        ("client_id", "demo-public"),
        ("code_verifier", verifier.as_str()),
    ];
    let (status, t) = token(
        &host,
        &form,
        Some(client.proof(&host, "POST", &token_url, None)),
    )
    .await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["token_type"], "DPoP");
    let at = t["access_token"].as_str().expect("at").to_owned();
    let rt = t["refresh_token"].as_str().expect("rt").to_owned();
    let mut jwk = client.key.public_jwk().clone();
    jwk.kid = None;
    assert_eq!(jwt_claims(&at)["cnf"]["jkt"], jwk.thumbprint());

    // Refresh: the public client's refresh token needs a proof of the same key.
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt.as_str()),
        ("client_id", "demo-public"),
    ];
    let (status, body) = token(&host, &refresh, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof"))
    );
    let (status, t2) = token(
        &host,
        &refresh,
        Some(client.proof(&host, "POST", &token_url, None)),
    )
    .await;
    assert_eq!(status, 200, "{t2}");
    assert_eq!(t2["token_type"], "DPoP");
    let at = t2["access_token"].as_str().expect("at").to_owned();

    // UserInfo with Authorization: DPoP and ath.
    let userinfo = host.url("/userinfo");
    let r = get(
        &userinfo,
        &format!("DPoP {at}"),
        Some(client.proof(&host, "GET", &userinfo, Some(&at))),
    )
    .await;
    assert_eq!(r.status(), 200);
    let claims: Value = r.json().await.expect("json");
    assert_eq!(claims["sub"], "alice");
    let r = get(&userinfo, &format!("Bearer {at}"), None).await;
    assert_eq!(r.status(), 401, "a DPoP-bound token as Bearer");
    assert!(challenge(&r).starts_with("DPoP "), "{}", challenge(&r));

    // The example API (BearerAuth) with the DPoP-bound token.
    let me = format!("{api}/api/me");
    let proof = client.proof(&host, "GET", &me, Some(&at));
    let r = get(&me, &format!("DPoP {at}"), Some(proof.clone())).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["client_id"], "demo-public");
    assert_eq!(body["subject"], "alice");

    // Refusals at the API, each with a DPoP challenge naming the error.
    let other = DpopClient::new();
    for (what, auth, proof, error) in [
        (
            "replayed proof",
            format!("DPoP {at}"),
            Some(proof),
            "invalid_dpop_proof",
        ),
        (
            "wrong htu",
            format!("DPoP {at}"),
            Some(client.proof(&host, "GET", &format!("{api}/api/orders"), Some(&at))),
            "invalid_dpop_proof",
        ),
        (
            "wrong htm",
            format!("DPoP {at}"),
            Some(client.proof(&host, "POST", &me, Some(&at))),
            "invalid_dpop_proof",
        ),
        (
            "wrong ath",
            format!("DPoP {at}"),
            Some(client.proof(&host, "GET", &me, Some("another"))),
            "invalid_dpop_proof",
        ),
        ("no proof", format!("DPoP {at}"), None, "invalid_dpop_proof"),
        (
            "another key",
            format!("DPoP {at}"),
            Some(other.proof(&host, "GET", &me, Some(&at))),
            "invalid_token",
        ),
        ("as Bearer", format!("Bearer {at}"), None, "invalid_token"),
    ] {
        let r = get(&me, &auth, proof).await;
        assert_eq!(r.status(), 401, "{what}");
        let c = challenge(&r);
        assert!(c.starts_with("DPoP realm=\"api\", algs=\""), "{what}: {c}");
        assert!(c.contains(&format!("error=\"{error}\"")), "{what}: {c}");
    }
    // Two DPoP headers (RFC 9449 §4.3 step 1), even with a good proof first.
    let r = http()
        .get(&me)
        .header("Authorization", format!("DPoP {at}"))
        .header("DPoP", client.proof(&host, "GET", &me, Some(&at)))
        .header("DPoP", client.proof(&host, "GET", &me, Some(&at)))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 401, "two DPoP headers");
    assert!(
        challenge(&r).contains("invalid_dpop_proof"),
        "{}",
        challenge(&r)
    );
    // A stale proof.
    let stale = dpop::proof(
        &client.key,
        "GET",
        &me,
        host.clock.now().unix_timestamp() - 600,
        Some(&at),
        None,
    )
    .expect("p");
    let r = get(&me, &format!("DPoP {at}"), Some(stale)).await;
    assert_eq!(r.status(), 401, "stale iat");
}

#[tokio::test]
async fn the_api_asks_for_its_nonce_then_accepts_it_rfc9449_9() {
    let host = Host::start().await;
    let api = start_api(&host, true).await;
    let client = DpopClient::new();
    let token_url = host.url("/token");
    let (code, verifier) = code(&host).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", DEMO_REDIRECT_URI),
        ("client_id", "demo-public"),
        ("code_verifier", verifier.as_str()),
    ];
    let (status, t) = token(
        &host,
        &form,
        Some(client.proof(&host, "POST", &token_url, None)),
    )
    .await;
    assert_eq!(status, 200, "{t}");
    let at = t["access_token"].as_str().expect("at").to_owned();
    let me = format!("{api}/api/me");
    let r = get(
        &me,
        &format!("DPoP {at}"),
        Some(client.proof(&host, "GET", &me, Some(&at))),
    )
    .await;
    assert_eq!(r.status(), 401);
    assert!(
        challenge(&r).contains("error=\"use_dpop_nonce\""),
        "{}",
        challenge(&r)
    );
    let nonce = r
        .headers()
        .get("dpop-nonce")
        .and_then(|v| v.to_str().ok())
        .expect("DPoP-Nonce")
        .to_owned();
    let iat = host.clock.now().unix_timestamp();
    let p = dpop::proof(&client.key, "GET", &me, iat, Some(&at), Some(&nonce)).expect("p");
    let r = get(&me, &format!("DPoP {at}"), Some(p)).await;
    assert_eq!(r.status(), 200);
}
