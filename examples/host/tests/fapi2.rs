//! The FAPI 2.0 Security Profile end to end over HTTP (#16 acceptance): the example host
//! with `--profile fapi2` and a `private_key_jwt` + DPoP client from a `--clients` file,
//! driven by a client written here against the RFCs (RFC 9126 PAR, RFC 7523 assertions,
//! RFC 7636 PKCE, RFC 9449 DPoP): the code flow, a refresh, UserInfo and the example API
//! (`GET /api/me`, `BearerAuth`) with the DPoP-bound token; then every refusal the profile
//! names.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idpkit::time::Duration;
use idpkit::{Algorithm, Clock, SigningKey, dpop};
use idpkit_example::DEMO_REDIRECT_URI;
use idpkit_test_support::host::{
    Host, browser, callback_params, http, location, param, pkce_pair, sign_jws, start_api,
};
use serde_json::{Value, json};

const CLIENT: &str = "fapi-rp";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const SCOPE: &str = "openid profile offline_access api:read";

/// The relying party (registered without `dpop_bound_access_tokens`: the profile requires
/// DPoP of every client): its client-authentication key (ES256, and an RS256 one it also
/// registered, to show the profile refuses RS256 assertions) and its DPoP key.
struct Rp {
    key: SigningKey,
    rsa: SigningKey,
    dpop: SigningKey,
}

struct Fapi {
    host: Host,
    rp: Rp,
    _dir: tempfile::TempDir,
}

async fn start() -> Fapi {
    let rp = Rp {
        key: SigningKey::generate(Algorithm::ES256).expect("key").0,
        rsa: SigningKey::generate(Algorithm::RS256).expect("rsa key").0,
        dpop: SigningKey::generate(Algorithm::ES256).expect("dpop key").0,
    };
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("clients.json");
    let clients = json!([{
        "client_id": CLIENT,
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": [rp.key.public_jwk(), rp.rsa.public_jwk()]},
        "redirect_uris": [DEMO_REDIRECT_URI],
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": SCOPE,
        "audience": ["demo-api"]
    }]);
    std::fs::write(&path, clients.to_string()).expect("write clients");
    let host = Host::start_with(|o| {
        o.clients = Some(path);
        o.profile = "fapi2".into();
    })
    .await;
    Fapi {
        host,
        rp,
        _dir: dir,
    }
}

impl Fapi {
    fn now(&self) -> i64 {
        self.host.clock.now().unix_timestamp()
    }

    fn assertion_with(&self, key: &SigningKey, aud: &str) -> String {
        let now = self.now();
        sign_jws(
            key,
            &json!({"iss": CLIENT, "sub": CLIENT, "aud": aud, "iat": now, "exp": now + 60,
                "jti": idpkit::crypto::random_token()}),
        )
    }

    fn assertion(&self) -> String {
        self.assertion_with(&self.rp.key, &self.host.base)
    }

    fn proof(&self, method: &str, url: &str, at: Option<&str>) -> String {
        self.proof_by(&self.rp.dpop, method, url, at, self.now(), None)
    }

    fn proof_by(
        &self,
        key: &SigningKey,
        method: &str,
        url: &str,
        at: Option<&str>,
        iat: i64,
        nonce: Option<&str>,
    ) -> String {
        dpop::proof(key, method, url, iat, at, nonce).expect("proof")
    }

    /// A POST to `path` with `form`, the client's assertion unless `form` has one, and a
    /// DPoP proof when given.
    async fn post(&self, path: &str, form: &[(&str, &str)], proof: Option<String>) -> (u16, Value) {
        let assertion = self.assertion();
        let mut all: Vec<(&str, &str)> = form.to_vec();
        if !form.iter().any(|(k, _)| *k == "client_assertion") {
            all.push(("client_assertion_type", ASSERTION_TYPE));
            all.push(("client_assertion", &assertion));
        }
        let mut req = http().post(self.host.url(path)).form(&all);
        if let Some(p) = proof {
            req = req.header("DPoP", p);
        }
        let resp = req.send().await.expect("POST");
        (
            resp.status().as_u16(),
            resp.json().await.unwrap_or(Value::Null),
        )
    }

    /// PAR with PKCE: (request_uri, verifier).
    async fn push(&self, extra: &[(&str, &str)]) -> (u16, Value, String) {
        let (verifier, challenge) = pkce_pair();
        let mut form = vec![
            ("client_id", CLIENT),
            ("response_type", "code"),
            ("scope", SCOPE),
            ("redirect_uri", DEMO_REDIRECT_URI),
            ("state", "st"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        form.extend_from_slice(extra);
        let (status, body) = self.post("/par", &form, None).await;
        (status, body, verifier)
    }

    /// Logs alice in through the authorization URL; the callback's parameters.
    async fn authorize(&self, request_uri: &str) -> Vec<(String, String)> {
        let url = format!(
            "{}/authorize?client_id={CLIENT}&request_uri={}",
            self.host.base,
            url_escape(request_uri)
        );
        let cb =
            idpkit_test_support::host::login(&browser(), &self.host, &url, "alice", "wonderland")
                .await;
        callback_params(&cb)
    }

    /// PAR, login and the DPoP-bound code exchange: the token response.
    async fn tokens(&self) -> Value {
        let (status, pushed, verifier) = self.push(&[]).await;
        assert_eq!(status, 201, "{pushed}");
        let params = self
            .authorize(pushed["request_uri"].as_str().expect("request_uri"))
            .await;
        assert_eq!(
            param(&params, "iss"),
            Some(self.host.base.as_str()),
            "RFC 9207"
        );
        let code = param(&params, "code").expect("code").to_owned();
        let token_url = self.host.url("/token");
        let (status, body) = self
            .post(
                "/token",
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", DEMO_REDIRECT_URI),
                    ("code_verifier", &verifier),
                ],
                Some(self.proof("POST", &token_url, None)),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

/// A refresh request (with a refresh token that does not exist) authenticated by `a`.
fn form(a: &str) -> [(&str, &str); 4] {
    [
        ("grant_type", "refresh_token"),
        ("refresh_token", "x"),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", a),
    ]
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

async fn get(url: &str, auth: &str, proof: Option<String>) -> reqwest::Response {
    let mut req = http().get(url).header("Authorization", auth);
    if let Some(p) = proof {
        req = req.header("DPoP", p);
    }
    req.send().await.expect("GET")
}

#[tokio::test]
async fn a_fapi2_client_runs_par_private_key_jwt_pkce_and_dpop_end_to_end() {
    let f = start().await;
    let doc: Value = http()
        .get(f.host.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    assert_eq!(doc["require_pushed_authorization_requests"], true);
    for key in [
        "token_endpoint_auth_methods_supported",
        "revocation_endpoint_auth_methods_supported",
        "introspection_endpoint_auth_methods_supported",
    ] {
        assert_eq!(doc[key], json!(["private_key_jwt"]), "{key}");
    }
    for key in [
        "id_token_signing_alg_values_supported",
        "dpop_signing_alg_values_supported",
    ] {
        let algs = doc[key].as_array().expect(key);
        assert!(!algs.iter().any(|a| a == "RS256"), "{key}: {algs:?}");
    }

    let tokens = f.tokens().await;
    assert_eq!(tokens["token_type"], "DPoP");
    let access = tokens["access_token"].as_str().expect("access token");
    let at = claims(access);
    assert_eq!(
        at["cnf"]["jkt"],
        f.rp.dpop.public_jwk().thumbprint(),
        "bound to the proof key"
    );
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(access.split('.').next().expect("header"))
            .expect("b64"),
    )
    .expect("json");
    assert_eq!(header["alg"], "ES256", "FAPI 2.0 §5.4");

    // Refresh: a new assertion and a new proof.
    let token_url = f.host.url("/token");
    let (status, refreshed) = f
        .post(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                (
                    "refresh_token",
                    tokens["refresh_token"].as_str().expect("rt"),
                ),
            ],
            Some(f.proof("POST", &token_url, None)),
        )
        .await;
    assert_eq!(status, 200, "{refreshed}");
    let access = refreshed["access_token"].as_str().expect("access token");

    // UserInfo with the DPoP-bound token.
    let userinfo_url = f.host.url("/userinfo");
    let r = get(
        &userinfo_url,
        &format!("DPoP {access}"),
        Some(f.proof("GET", &userinfo_url, Some(access))),
    )
    .await;
    assert_eq!(r.status(), 200);
    let info: Value = r.json().await.expect("json");
    assert_eq!(info["sub"], "alice");

    // The example API through BearerAuth.
    let api = start_api(&f.host, false).await;
    let me = format!("{api}/api/me");
    let r = get(
        &me,
        &format!("DPoP {access}"),
        Some(f.proof("GET", &me, Some(access))),
    )
    .await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
}

#[tokio::test]
async fn the_profile_refuses_what_fapi2_forbids() {
    let f = start().await;
    let base = f.host.base.clone();
    let token_url = f.host.url("/token");

    // A replayed client assertion.
    let assertion = f.assertion();
    let (status, _) = f
        .post(
            "/token",
            &form(&assertion),
            Some(f.proof("POST", &token_url, None)),
        )
        .await;
    assert_eq!(
        status, 400,
        "the first use authenticates (the refresh token is bad)"
    );
    let (status, body) = f
        .post(
            "/token",
            &form(&assertion),
            Some(f.proof("POST", &token_url, None)),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "replayed: {body}"
    );

    // An assertion with the token endpoint as `aud` (fine outside the profile).
    let to_endpoint = f.assertion_with(&f.rp.key, &token_url);
    let (status, body) = f
        .post(
            "/token",
            &form(&to_endpoint),
            Some(f.proof("POST", &token_url, None)),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "aud: {body}"
    );

    // An RS256 assertion with a registered RSA key.
    let rs256 = f.assertion_with(&f.rp.rsa, &base);
    let (status, body) = f
        .post(
            "/token",
            &form(&rs256),
            Some(f.proof("POST", &token_url, None)),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "RS256: {body}"
    );

    // A client secret instead of private_key_jwt (demo-client), and a public client.
    let r = http()
        .post(&token_url)
        .basic_auth("demo-client", Some("demo-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), 401, "client_secret_basic is not FAPI 2.0");
    let r = http()
        .post(&token_url)
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", "demo-public"),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), 401, "public clients are not FAPI 2.0");

    // An authorization request without PAR: an error redirect.
    let (_, challenge) = pkce_pair();
    let url = format!(
        "{base}/authorize?client_id={CLIENT}&response_type=code&scope=openid&redirect_uri={}&code_challenge={challenge}&code_challenge_method=S256&state=s",
        url_escape(DEMO_REDIRECT_URI)
    );
    let r = browser().get(&url).send().await.expect("authorize");
    let loc = location(&r);
    assert!(loc.starts_with(DEMO_REDIRECT_URI), "{loc}");
    assert_eq!(
        param(&callback_params(&loc), "error"),
        Some("invalid_request")
    );

    // PAR without PKCE.
    let (status, body) = f
        .post(
            "/par",
            &[
                ("client_id", CLIENT),
                ("response_type", "code"),
                ("scope", "openid"),
                ("redirect_uri", DEMO_REDIRECT_URI),
            ],
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );

    // An unknown resource.
    let (status, body, _) = f.push(&[("resource", "https://unknown.example/api")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_target")),
        "{body}"
    );

    // A reused and an expired request_uri.
    let (_, pushed, _) = f.push(&[]).await;
    let request_uri = pushed["request_uri"].as_str().expect("request_uri");
    f.authorize(request_uri).await;
    let url = format!(
        "{base}/authorize?client_id={CLIENT}&request_uri={}",
        url_escape(request_uri)
    );
    let r = browser().get(&url).send().await.expect("authorize");
    assert_eq!(r.status(), 400, "reused request_uri");
    assert!(
        r.text()
            .await
            .expect("page")
            .contains("invalid_request_uri")
    );
    let (_, pushed, _) = f.push(&[]).await;
    f.host.clock.advance(Duration::seconds(61));
    let url = format!(
        "{base}/authorize?client_id={CLIENT}&request_uri={}",
        url_escape(pushed["request_uri"].as_str().expect("request_uri"))
    );
    let r = browser().get(&url).send().await.expect("authorize");
    assert_eq!(r.status(), 400, "expired request_uri");
}

#[tokio::test]
async fn dpop_refusals_under_the_profile_rfc9449() {
    let f = start().await;
    let token_url = f.host.url("/token");
    let tokens = f.tokens().await;
    let access = tokens["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    let refresh = tokens["refresh_token"].as_str().expect("rt").to_owned();
    let refresh_form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
    ];

    // No proof at the token endpoint.
    let (status, body) = f.post("/token", &refresh_form, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof")),
        "{body}"
    );
    // Wrong htm, wrong htu, stale iat.
    for proof in [
        f.proof("GET", &token_url, None),
        f.proof("POST", &f.host.url("/par"), None),
        f.proof_by(&f.rp.dpop, "POST", &token_url, None, f.now() - 3600, None),
    ] {
        let (status, body) = f.post("/token", &refresh_form, Some(proof)).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_dpop_proof")),
            "{body}"
        );
    }
    // A replayed proof.
    let once = f.proof("POST", &token_url, None);
    let (status, body) = f.post("/token", &refresh_form, Some(once.clone())).await;
    assert_eq!(status, 200, "{body}");
    let refresh = body["refresh_token"].as_str().expect("rotated").to_owned();
    let (status, body) = f
        .post(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh.as_str()),
            ],
            Some(once),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof")),
        "replay: {body}"
    );

    // At UserInfo: the bound token as Bearer, a proof of another key, a wrong ath.
    let userinfo_url = f.host.url("/userinfo");
    let r = get(&userinfo_url, &format!("Bearer {access}"), None).await;
    assert_eq!(r.status(), 401, "a DPoP-bound token is not a bearer token");
    let other = SigningKey::generate(Algorithm::ES256).expect("key").0;
    let r = get(
        &userinfo_url,
        &format!("DPoP {access}"),
        Some(f.proof_by(&other, "GET", &userinfo_url, Some(&access), f.now(), None)),
    )
    .await;
    assert_eq!(r.status(), 401, "bound to another key");
    let r = get(
        &userinfo_url,
        &format!("DPoP {access}"),
        Some(f.proof("GET", &userinfo_url, Some("another-token"))),
    )
    .await;
    assert_eq!(r.status(), 401, "wrong ath");

    // The API asks for a nonce; the retry with it passes.
    let api = start_api(&f.host, true).await;
    let me = format!("{api}/api/me");
    let r = get(
        &me,
        &format!("DPoP {access}"),
        Some(f.proof("GET", &me, Some(&access))),
    )
    .await;
    assert_eq!(r.status(), 401);
    let nonce = r
        .headers()
        .get("dpop-nonce")
        .and_then(|v| v.to_str().ok())
        .expect("DPoP-Nonce")
        .to_owned();
    assert!(
        r.headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.contains("use_dpop_nonce")),
        "the challenge names the error"
    );
    let proof = f.proof_by(&f.rp.dpop, "GET", &me, Some(&access), f.now(), Some(&nonce));
    let r = get(&me, &format!("DPoP {access}"), Some(proof)).await;
    assert_eq!(r.status(), 200);
}
