//! Every refusal of the resource-server validator states the check, what was expected and
//! what was found: one test per refusal kind, asserting the facts in the message. Then
//! Microsoft Entra ID shaped tokens (built and signed here with test keys, shaped like
//! Entra's v1 and v2 access tokens and a Microsoft Graph token): the refusal says what the
//! operator should change.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idpkit_core::KidLookup;
use idpkit_core::SigningKey;
use idpkit_core::{
    Algorithm, ClaimRule, Jwks, ManualClock, Rejection, TrustedIssuer, Validator, ValidatorBuilder,
};
use serde_json::{Value, json};

const ISS: &str = "https://idp.example";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const API_APP_ID: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
const GRAPH: &str = "00000003-0000-0000-c000-000000000000";

fn v1_issuer() -> String {
    format!("https://sts.windows.net/{TENANT}/")
}

fn v2_issuer() -> String {
    format!("https://login.microsoftonline.com/{TENANT}/v2.0")
}

/// Signs `header.payload` given as raw JSON text (so duplicates and arrays can be built).
fn mint_raw(key: &SigningKey, header: &str, payload: &str) -> String {
    let h = URL_SAFE_NO_PAD.encode(header);
    let p = URL_SAFE_NO_PAD.encode(payload);
    let sig = key.sign(format!("{h}.{p}").as_bytes()).expect("sign");
    format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn mint(key: &SigningKey, header: Value, claims: Value) -> String {
    mint_raw(key, &header.to_string(), &claims.to_string())
}

/// The test-only RSA key of `fixtures/` (the ring backend cannot generate RSA keys).
fn rsa(alg: Algorithm) -> SigningKey {
    let pem = include_str!("fixtures/test-only-rsa2048.pem");
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64");
    SigningKey::from_pkcs8(alg, &der).expect("pkcs8")
}

struct Fx {
    key: SigningKey,
    clock: Arc<ManualClock>,
    now: i64,
}

fn fx() -> Fx {
    let clock = Arc::new(ManualClock::starting_now());
    let now = idpkit_core::Clock::now(clock.as_ref()).unix_timestamp();
    Fx {
        key: rsa(Algorithm::RS256),
        clock,
        now,
    }
}

impl Fx {
    fn header(&self) -> Value {
        json!({"alg": "RS256", "kid": self.key.kid(), "typ": "at+jwt"})
    }

    fn claims(&self) -> Value {
        json!({"iss": ISS, "sub": "alice", "aud": "api", "exp": self.now + 300,
               "iat": self.now, "scope": "read", "client_id": "app"})
    }

    fn jwks(&self) -> Jwks {
        Jwks::new(vec![self.key.public_jwk().clone()])
    }

    fn builder(&self, issuer: TrustedIssuer) -> ValidatorBuilder {
        Validator::builder()
            .trust(issuer.with_jwks(self.jwks()))
            .clock(self.clock.clone())
    }

    fn validator(&self) -> Validator {
        self.builder(TrustedIssuer::new(ISS, "api"))
            .build()
            .expect("validator")
    }

    /// The refusal of `token`, after checking that inspect agrees: same verdict, and its
    /// first failed check says the same.
    async fn refusal(&self, v: &Validator, token: &str) -> Rejection {
        let r = v.validate(token).await.expect_err("must be refused");
        let report = v.inspect(token).await;
        assert_eq!(
            report.verdict.as_ref().err(),
            Some(&r),
            "{:?}",
            report.checks
        );
        let first = report
            .checks
            .iter()
            .find_map(|c| c.outcome.as_ref().err())
            .expect("a failed check");
        assert!(
            matches!(r, Rejection::Expired { .. } | Rejection::NotYetValid { .. })
                || first == &r.to_string(),
            "inspect's first failure {first:?} is not the verdict {r}"
        );
        r
    }
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

fn without(mut v: Value, key: &str) -> Value {
    v.as_object_mut().expect("object").remove(key);
    v
}

// ---------------------------------------------------------------- strict JOSE parsing

#[tokio::test]
async fn a_payload_that_is_a_json_array_is_refused_rfc7519_7_2() {
    let f = fx();
    let v = f.validator();
    let payload = json!([ISS, "alice", "api", f.now + 300, f.now]).to_string();
    let t = mint_raw(&f.key, &f.header().to_string(), &payload);
    let r = f.refusal(&v, &t).await;
    assert_eq!(
        r.to_string(),
        "the token is malformed: payload is an array, not a JSON object (RFC 7519 §7.2)"
    );
}

#[tokio::test]
async fn a_header_that_is_a_json_array_is_refused_rfc7515_4() {
    let f = fx();
    let v = f.validator();
    let t = mint_raw(
        &f.key,
        &json!(["RS256", f.key.kid(), "at+jwt"]).to_string(),
        &f.claims().to_string(),
    );
    let r = f.refusal(&v, &t).await;
    assert!(
        matches!(r, Rejection::Malformed { part: "header", .. }),
        "{r:?}"
    );
    assert!(
        r.to_string()
            .starts_with("the token is malformed: header is an array, not a JSON object"),
        "{r}"
    );
}

#[tokio::test]
async fn duplicate_claims_are_refused_not_resolved_to_the_last_rfc7515_5_2_rfc7519_4() {
    let f = fx();
    let v = f.validator();
    // A second `aud` after the good one: a last-wins parser would read "other-api".
    let payload = format!(
        r#"{{"iss":"{ISS}","aud":"api","exp":{},"client_id":"app","aud":"other-api"}}"#,
        f.now + 300
    );
    let t = mint_raw(&f.key, &f.header().to_string(), &payload);
    let r = f.refusal(&v, &t).await;
    assert_eq!(
        r.to_string(),
        "the token is malformed: payload has the member \"aud\" more than once; duplicates are refused, not resolved to the last one (RFC 7519 §7.2)"
    );
    let header = format!(
        r#"{{"alg":"RS256","kid":"{}","typ":"at+jwt","typ":"JWT"}}"#,
        f.key.kid()
    );
    let t = mint_raw(&f.key, &header, &f.claims().to_string());
    let r = f.refusal(&v, &t).await;
    assert!(
        r.to_string()
            .contains("header has the member \"typ\" more than once; duplicates are refused"),
        "{r}"
    );
}

#[tokio::test]
async fn iat_beyond_the_leeway_is_refused_with_both_times_rfc7519_4_1_6() {
    let f = fx();
    let v = f.validator();
    let year = 365 * 24 * 3600;
    let t = mint(
        &f.key,
        f.header(),
        with(f.claims(), "iat", json!(f.now + year)),
    );
    let r = f.refusal(&v, &t).await;
    assert_eq!(
        r,
        Rejection::IssuedInFuture {
            iat: f.now + year,
            now: f.now,
            leeway: 60
        }
    );
    assert_eq!(
        r.to_string(),
        format!(
            "the token was issued at {}, {year}s after now ({}, leeway 60s): a wrong clock or a forged token",
            f.now + year,
            f.now
        )
    );
    // Within the leeway it is accepted.
    let t = mint(
        &f.key,
        f.header(),
        with(f.claims(), "iat", json!(f.now + 60)),
    );
    v.validate(&t).await.expect("iat within the leeway");
}

#[tokio::test]
async fn a_token_over_the_size_cap_is_refused_before_parsing() {
    let f = fx();
    let v = f
        .builder(TrustedIssuer::new(ISS, "api"))
        .max_token_bytes(4096)
        .build()
        .expect("validator");
    let t = mint(
        &f.key,
        f.header(),
        with(f.claims(), "groups", json!(vec!["g".repeat(36); 200])),
    );
    let r = f.refusal(&v, &t).await;
    assert_eq!(
        r,
        Rejection::TooLarge {
            size: t.len(),
            max: 4096
        }
    );
    assert!(
        r.to_string().starts_with(&format!(
            "the token has {} bytes, more than the 4096 this validator accepts (ValidatorBuilder::max_token_bytes)",
            t.len()
        )),
        "{r}"
    );
    // Garbage of that size is refused the same way, without decoding.
    let garbage = "x".repeat(5000);
    assert!(matches!(
        v.validate(&garbage).await,
        Err(Rejection::TooLarge { size: 5000, .. })
    ));
    // The default cap takes a large token (Entra ID with 200 groups).
    f.validator().validate(&t).await.expect("under 32 KiB");
}

// ---------------------------------------------------------------- every refusal explained

#[tokio::test]
async fn a_wrong_typed_claim_is_named_with_its_type_rfc7519_4_1() {
    let f = fx();
    let v = f.validator();
    for (claim, value, expected) in [
        (
            "exp",
            json!("1700000000"),
            "the token's \"exp\" claim is a string, expected a number (NumericDate, RFC 7519 §2)",
        ),
        (
            "scope",
            json!(["read", "write"]),
            "the token's \"scope\" claim is an array, expected a space-separated string (RFC 9068 §2.2.3, RFC 8693 §4.2)",
        ),
        (
            "aud",
            json!(["api", 7]),
            "the token's \"aud\" claim is an array with a non-string element, expected a string or an array of strings (RFC 7519 §4.1.3)",
        ),
        (
            "iss",
            json!({"url": ISS}),
            "the token's \"iss\" claim is an object, expected a string",
        ),
    ] {
        let t = mint(&f.key, f.header(), with(f.claims(), claim, value));
        let r = f.refusal(&v, &t).await;
        assert_eq!(r.to_string(), expected);
    }
}

#[tokio::test]
async fn an_unknown_kid_with_a_static_jwks_says_nothing_will_be_fetched_rfc7515_4_1_4() {
    let f = fx();
    let v = f.validator();
    let t = mint(
        &f.key,
        with(f.header(), "kid", json!("rotated-away")),
        f.claims(),
    );
    let r = f.refusal(&v, &t).await;
    assert!(
        matches!(
            r,
            Rejection::UnknownKid {
                lookup: KidLookup::Static,
                ..
            }
        ),
        "{r:?}"
    );
    assert_eq!(
        r.to_string(),
        format!(
            "the token's key id \"rotated-away\" is not in the JWKS of {ISS} (known: [\"{}\"]); the key set is configured statically, so nothing will be fetched: add the key to it",
            f.key.kid()
        )
    );
    assert!(!r.to_string().contains("refetched"));
}

#[tokio::test]
async fn a_key_pinned_to_rs256_refuses_a_ps256_token_and_says_so_rfc7517_4_4() {
    let f = fx();
    let ps = rsa(Algorithm::PS256);
    let v = f
        .builder(
            TrustedIssuer::new(ISS, "api").with_algorithms([Algorithm::RS256, Algorithm::PS256]),
        )
        .build()
        .expect("validator");
    let t = mint(
        &ps,
        json!({"alg": "PS256", "kid": f.key.kid(), "typ": "at+jwt"}),
        f.claims(),
    );
    let r = f.refusal(&v, &t).await;
    assert_eq!(
        r.to_string(),
        format!(
            "the token's algorithm is PS256, but key {} is pinned to RS256 by its JWK \"alg\" (RFC 7517 §4.4)",
            f.key.kid()
        )
    );
}

#[tokio::test]
async fn crit_names_the_unsupported_extension_rfc7515_4_1_11() {
    let f = fx();
    let v = f.validator();
    let t = mint(
        &f.key,
        with(
            with(f.header(), "crit", json!(["b64"])),
            "b64",
            json!(false),
        ),
        f.claims(),
    );
    let r = f.refusal(&v, &t).await;
    assert_eq!(
        r,
        Rejection::Critical {
            names: vec!["b64".into()]
        }
    );
    assert!(r.to_string().contains(r#"(crit: ["b64"])"#), "{r}");
}

#[tokio::test]
async fn a_token_with_the_wrong_number_of_parts_says_how_many_rfc7515_7_1() {
    let f = fx();
    let v = f.validator();
    let t = mint(&f.key, f.header(), f.claims());
    let two = t.rsplit_once('.').expect("jws").0;
    let r = f.refusal(&v, two).await;
    assert_eq!(
        r.to_string(),
        "the token is malformed: token has 2 parts, not the three dot-separated parts of a JWS compact serialisation"
    );
}

#[tokio::test]
async fn the_type_refusal_quotes_the_typ_and_never_prints_rust_debug_rfc9068_4() {
    let f = fx();
    let v = f.validator();
    let t = mint(&f.key, with(f.header(), "typ", json!("JWT")), f.claims());
    let msg = f.refusal(&v, &t).await.to_string();
    assert!(
        msg.starts_with(
            "the token's type is \"JWT\", not \"at+jwt\"; an ID token sent as an access token?"
        ),
        "{msg}"
    );
    assert!(!msg.contains("Some("), "{msg}");
    let t = mint(&f.key, without(f.header(), "typ"), f.claims());
    let msg = f.refusal(&v, &t).await.to_string();
    assert_eq!(msg, "the token's type is missing, not \"at+jwt\"");
}

#[tokio::test]
async fn inspect_never_contradicts_its_verdict() {
    let f = fx();
    let v = f.validator();
    // A fractional exp (RFC 7519 §2 allows it) is valid, and inspect says so.
    let t = mint(
        &f.key,
        f.header(),
        with(f.claims(), "exp", json!(f.now as f64 + 300.5)),
    );
    v.validate(&t).await.expect("fractional exp");
    let report = v.inspect(&t).await;
    assert_eq!(report.verdict, Ok(()));
    assert!(
        report.checks.iter().all(|c| c.outcome.is_ok()),
        "{:?}",
        report.checks
    );
    // A bad signature is never listed as valid.
    let good = mint(&f.key, f.header(), f.claims());
    let (hp, _) = good.rsplit_once('.').expect("jws");
    let forged = format!("{hp}.{}", URL_SAFE_NO_PAD.encode([1u8; 256]));
    let report = v.inspect(&forged).await;
    assert!(
        report
            .checks
            .iter()
            .all(|c| c.name != "signature" || c.outcome.is_err()),
        "{:?}",
        report.checks
    );
    f.refusal(&v, &forged).await;
}

#[tokio::test]
async fn inspect_of_an_untrusted_issuer_still_checks_key_signature_and_audience() {
    let f = fx();
    let v = f.validator();
    let t = mint(
        &f.key,
        f.header(),
        with(f.claims(), "iss", json!("https://other.example")),
    );
    let report = v.inspect(&t).await;
    assert!(matches!(
        report.verdict,
        Err(Rejection::UnknownIssuer { .. })
    ));
    let outcome = |name: &str| {
        report
            .checks
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.outcome.clone())
    };
    assert!(
        matches!(outcome("signature"), Some(Ok(ref s)) if s.contains("valid with key") && s.contains("not the token's issuer")),
        "{:?}",
        report.checks
    );
    assert!(matches!(outcome("aud"), Some(Ok(_))), "{:?}", report.checks);
}

#[tokio::test]
async fn the_challenge_carries_the_rfc6750_error_and_a_short_description_only_rfc6750_3() {
    let f = fx();
    let v = f.validator();
    let t = mint(
        &f.key,
        f.header(),
        with(f.claims(), "aud", json!("secret-internal-api")),
    );
    let r = v.validate(&t).await.expect_err("audience");
    let c = r.www_authenticate("api", true);
    assert_eq!(
        c,
        r#"Bearer realm="api", error="invalid_token", error_description="the token is for another audience""#
    );
    assert!(!c.contains("secret-internal-api"));
    assert!(r.to_string().contains("secret-internal-api"));
}

// ---------------------------------------------------------------- Entra ID shaped tokens

/// An Entra ID v1 access token for this API: `iss` sts.windows.net, `aud` the App ID
/// URI, `appid`, `scp` a space-separated string, header `typ: JWT`.
fn entra_v1(f: &Fx) -> (Value, Value) {
    (
        json!({"typ": "JWT", "alg": "RS256", "x5t": f.key.kid(), "kid": f.key.kid()}),
        json!({"aud": format!("api://{API_APP_ID}"), "iss": v1_issuer(), "iat": f.now, "nbf": f.now,
               "exp": f.now + 3600, "appid": "0a4f3fd4-0d18-4a0e-9b57-3b9e0d1a2f7c", "appidacr": "0",
               "scp": "orders.read", "tid": TENANT, "ver": "1.0", "oid": "o", "sub": "s"}),
    )
}

/// An Entra ID v2 access token for this API: `iss` login.microsoftonline.com/.../v2.0,
/// `aud` the application id, `azp`, `scp`.
fn entra_v2(f: &Fx) -> (Value, Value) {
    (
        json!({"typ": "JWT", "alg": "RS256", "kid": f.key.kid()}),
        json!({"aud": API_APP_ID, "iss": v2_issuer(), "iat": f.now, "nbf": f.now, "exp": f.now + 3600,
               "azp": "0a4f3fd4-0d18-4a0e-9b57-3b9e0d1a2f7c", "azpacr": "0", "scp": "orders.read",
               "tid": TENANT, "ver": "2.0", "oid": "o", "sub": "s"}),
    )
}

/// The validator an API team writes for Entra v2 tokens, without the Entra knobs.
fn entra_validator(f: &Fx, issuer: TrustedIssuer) -> ValidatorBuilder {
    f.builder(issuer.with_audience(format!("api://{API_APP_ID}")))
}

#[tokio::test]
async fn a_v1_token_at_a_v2_issuer_says_it_is_the_v1_form_of_the_same_tenant() {
    let f = fx();
    let v = entra_validator(
        &f,
        TrustedIssuer::new(v2_issuer(), API_APP_ID).dangerous_accept_typ_jwt(),
    )
    .build()
    .expect("validator");
    let (h, c) = entra_v1(&f);
    let r = f.refusal(&v, &mint(&f.key, h, c)).await;
    let msg = r.to_string();
    assert!(
        msg.starts_with(&format!("the token's issuer \"{}\" is not trusted (trusted: [\"{}\"]); it is the v1 form of the trusted issuer", v1_issuer(), v2_issuer())),
        "{msg}"
    );
    assert!(msg.contains(&format!("same tenant {TENANT}")), "{msg}");
    assert!(msg.contains("accessTokenAcceptedVersion to 2"), "{msg}");
}

#[tokio::test]
async fn an_issuer_that_differs_by_a_trailing_slash_says_so() {
    let f = fx();
    let v = f
        .builder(TrustedIssuer::new(format!("{ISS}/"), "api"))
        .build()
        .expect("validator");
    let r = f.refusal(&v, &mint(&f.key, f.header(), f.claims())).await;
    assert!(
        r.to_string().contains(&format!(
            "it differs from the trusted \"{ISS}/\" only by a trailing slash or letter case"
        )),
        "{r}"
    );
}

#[tokio::test]
async fn a_microsoft_graph_token_is_named_with_what_the_client_must_request() {
    let f = fx();
    let v = entra_validator(
        &f,
        TrustedIssuer::new(v2_issuer(), API_APP_ID).dangerous_accept_typ_jwt(),
    )
    .build()
    .expect("validator");
    let (h, c) = entra_v2(&f);
    for aud in [GRAPH, "https://graph.microsoft.com/"] {
        let c = with(
            with(c.clone(), "aud", json!(aud)),
            "scp",
            json!("User.Read profile openid email"),
        );
        let r = f.refusal(&v, &mint(&f.key, h.clone(), c)).await;
        let msg = r.to_string();
        assert!(
            msg.starts_with(&format!("the token's audience [\"{aud}\"] does not include [\"{API_APP_ID}\", \"api://{API_APP_ID}\"]; \"{aud}\" is Microsoft Graph: the token was requested for Microsoft Graph, not for this API; the client must request a token for this API's own scope or application id")),
            "{msg}"
        );
    }
    // The real Graph token has a header nonce: refused before anything else.
    let graph = mint(
        &f.key,
        with(h, "nonce", json!("bG9uZy1yYW5kb20")),
        with(c, "aud", json!(GRAPH)),
    );
    let r = f.refusal(&v, &graph).await;
    assert!(matches!(r, Rejection::ForeignToken { .. }));
    assert!(
        r.to_string().contains(
            "minted for a Microsoft API such as Microsoft Graph, and only that API can validate it"
        ),
        "{r}"
    );
}

#[tokio::test]
async fn scp_is_named_when_scope_is_missing_and_read_with_the_knob() {
    let f = fx();
    let (h, c) = entra_v2(&f);
    let t = mint(&f.key, h, c);
    let plain = entra_validator(
        &f,
        TrustedIssuer::new(v2_issuer(), API_APP_ID).dangerous_accept_typ_jwt(),
    )
    .require_scopes(["orders.read"])
    .build()
    .expect("validator");
    let r = f.refusal(&plain, &t).await;
    assert_eq!(
        r.to_string(),
        format!(
            "the token lacks scope [\"orders.read\"] (has []); the token carries \"scp\" (\"orders.read\"), not \"scope\"; to read \"scp\" as the scopes, set TrustedIssuer::read_scp for {}",
            v2_issuer()
        )
    );
    assert_eq!(r.status(), 403);
    let knob = entra_validator(
        &f,
        TrustedIssuer::new(v2_issuer(), API_APP_ID)
            .dangerous_accept_typ_jwt()
            .read_scp(),
    )
    .require_scopes(["orders.read"])
    .build()
    .expect("validator");
    let ok = knob.validate(&t).await.expect("scp read as scopes");
    assert_eq!(ok.scopes, ["orders.read"]);
    // An array `scp` is read too.
    let (h, c) = entra_v2(&f);
    let t = mint(
        &f.key,
        h,
        with(c, "scp", json!(["orders.read", "orders.write"])),
    );
    assert!(
        knob.validate(&t)
            .await
            .expect("array scp")
            .has_scope("orders.write")
    );
    // The API's scope is missing: the refusal lists the scopes the token does carry.
    let (h, c) = entra_v2(&f);
    let t = mint(
        &f.key,
        h,
        with(c, "scp", json!("User.Read profile openid email")),
    );
    let r = f.refusal(&knob, &t).await;
    assert_eq!(
        r.to_string(),
        "the token lacks scope [\"orders.read\"] (has [\"User.Read\", \"profile\", \"openid\", \"email\"])"
    );
}

#[tokio::test]
async fn typ_jwt_is_refused_naming_the_knob_and_accepted_with_it_rfc9068_2_1() {
    let f = fx();
    let (h, c) = entra_v2(&f);
    let t = mint(&f.key, h, c);
    let strict = entra_validator(&f, TrustedIssuer::new(v2_issuer(), API_APP_ID))
        .build()
        .expect("validator");
    let r = f.refusal(&strict, &t).await;
    assert_eq!(
        r.to_string(),
        format!(
            "the token's type is \"JWT\", not \"at+jwt\"; an ID token sent as an access token? If {}'s access tokens carry typ JWT (Entra ID's do), set TrustedIssuer::dangerous_accept_typ_jwt for it",
            v2_issuer()
        )
    );
    let knob = entra_validator(
        &f,
        TrustedIssuer::new(v2_issuer(), API_APP_ID).dangerous_accept_typ_jwt(),
    )
    .build()
    .expect("validator");
    knob.validate(&t)
        .await
        .expect("typ JWT accepted with the knob");
    // The knob accepts JWT, not any typ.
    let (h, c) = entra_v2(&f);
    let r = f
        .refusal(&knob, &mint(&f.key, with(h, "typ", json!("id+jwt")), c))
        .await;
    assert!(matches!(r, Rejection::WrongType { .. }), "{r:?}");
}

#[tokio::test]
async fn a_missing_client_id_mentions_azp_or_appid() {
    let f = fx();
    let rule = ClaimRule::AnyOf(vec![json!("0a4f3fd4-0d18-4a0e-9b57-3b9e0d1a2f7c")]);
    let v = entra_validator(
        &f,
        TrustedIssuer::new(v2_issuer(), API_APP_ID).dangerous_accept_typ_jwt(),
    )
    .require_claim("client_id", rule)
    .build()
    .expect("validator");
    let (h, c) = entra_v2(&f);
    let r = f.refusal(&v, &mint(&f.key, h, c)).await;
    assert_eq!(
        r.to_string(),
        "the token has no \"client_id\" claim; the token names its client in \"azp\" (\"0a4f3fd4-0d18-4a0e-9b57-3b9e0d1a2f7c\") instead (as Entra ID v2 tokens do)"
    );
}

#[tokio::test]
async fn the_app_id_uri_and_the_application_id_are_recognised_as_one_api() {
    let f = fx();
    // Trusts the v1 issuer, but only the bare application id as audience.
    let v = f
        .builder(TrustedIssuer::new(v1_issuer(), API_APP_ID).dangerous_accept_typ_jwt())
        .build()
        .expect("validator");
    let (h, c) = entra_v1(&f);
    let r = f.refusal(&v, &mint(&f.key, h, c)).await;
    assert!(
        r.to_string().contains(&format!(
            "\"api://{API_APP_ID}\" is the same application as the accepted \"{API_APP_ID}\""
        )),
        "{r}"
    );
}
