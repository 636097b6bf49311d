//! The resource-server validator: one crafted token per rejection, each asserting the variant
//! and its sentence; JWKS refetch on rotation; a refetch storm; several issuers.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idpkit_core::SigningKey;
use idpkit_core::http::{HttpClient, HttpError, HttpRequest, HttpResponse};
use idpkit_core::time::Duration;
use idpkit_core::{Algorithm, ClaimRule, Jwks, ManualClock, Rejection, TrustedIssuer, Validator};
use serde_json::{Value, json};

const A: &str = "https://a.example";
const B: &str = "https://b.example";

fn mint(key: &SigningKey, header: Value, claims: Value) -> String {
    let h = URL_SAFE_NO_PAD.encode(header.to_string());
    let p = URL_SAFE_NO_PAD.encode(claims.to_string());
    let sig = key.sign(format!("{h}.{p}").as_bytes()).expect("sign");
    format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode(sig))
}

struct Keys {
    rsa: SigningKey,
    ec: SigningKey,
    ed: SigningKey,
}

/// An RSA key from a file rather than generated: the ring backend cannot generate RSA keys,
/// and these tests run with both backends. (A test-only key, used nowhere else.)
fn fixture_rsa() -> SigningKey {
    let pem = include_str!("fixtures/test-only-rsa2048.pem");
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64");
    SigningKey::from_pkcs8(Algorithm::RS256, &der).expect("pkcs8")
}

fn keys() -> Keys {
    Keys {
        rsa: fixture_rsa(),
        ec: SigningKey::generate(Algorithm::ES256).expect("ec").0,
        ed: SigningKey::generate(Algorithm::EdDSA).expect("ed").0,
    }
}

fn header(key: &SigningKey) -> Value {
    json!({"alg": key.alg().as_str(), "kid": key.kid(), "typ": "at+jwt"})
}

fn claims(now: i64) -> Value {
    json!({"iss": A, "sub": "alice", "aud": ["api"], "exp": now + 300, "iat": now, "scope": "read write", "client_id": "app"})
}

/// A JWKS server in memory: what the issuer publishes, and how often it was asked.
#[derive(Default)]
struct JwksServer {
    body: Mutex<Vec<u8>>,
    fetches: AtomicUsize,
    down: AtomicBool,
}

#[async_trait]
impl HttpClient for JwksServer {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(HttpError {
                url: req.url,
                reason: "connection refused".into(),
            });
        }
        self.fetches.fetch_add(1, Ordering::SeqCst);
        Ok(HttpResponse {
            status: 200,
            headers: Vec::new(),
            body: self.body.lock().expect("lock").clone(),
        })
    }
}

impl JwksServer {
    fn publish(&self, keys: &[&SigningKey]) {
        let jwks = Jwks::new(keys.iter().map(|k| k.public_jwk().clone()).collect());
        *self.body.lock().expect("lock") = jwks.to_json().to_vec();
    }
}

struct Setup {
    k: Keys,
    clock: Arc<ManualClock>,
    server: Arc<JwksServer>,
    validator: Validator,
    now: i64,
}

fn setup() -> Setup {
    let k = keys();
    let clock = Arc::new(ManualClock::starting_now());
    let now = idpkit_core::Clock::now(clock.as_ref()).unix_timestamp();
    let server = Arc::new(JwksServer::default());
    server.publish(&[&k.ec]);
    let validator = Validator::builder()
        .trust(TrustedIssuer::new(A, "api").with_jwks(Jwks::new(vec![
            k.rsa.public_jwk().clone(),
            k.ec.public_jwk().clone(),
            k.ed.public_jwk().clone(),
        ])))
        .trust(TrustedIssuer::new(B, "api").with_jwks_url(format!("{B}/jwks")))
        .require_claim(
            "client_id",
            ClaimRule::AnyOf(vec![json!("app"), json!("other-app")]),
        )
        .clock(clock.clone())
        .http_client(server.clone())
        .build()
        .expect("validator");
    Setup {
        k,
        clock,
        server,
        validator,
        now,
    }
}

async fn rejection(s: &Setup, token: &str) -> Rejection {
    s.validator
        .validate(token)
        .await
        .expect_err("must be refused")
}

#[tokio::test]
async fn a_good_token_passes_with_its_claims() {
    let s = setup();
    let t = s
        .validator
        .validate(&mint(&s.k.rsa, header(&s.k.rsa), claims(s.now)))
        .await
        .expect("valid");
    assert_eq!(t.issuer, A);
    assert_eq!(t.subject.as_deref(), Some("alice"));
    assert!(t.has_scope("write"));
    assert_eq!(t.alg, Some(Algorithm::RS256));
    let t = s
        .validator
        .validate(&mint(&s.k.ec, header(&s.k.ec), claims(s.now)))
        .await
        .expect("valid ES256");
    assert_eq!(t.alg, Some(Algorithm::ES256));
}

/// A crafted token, the variant it must get, and a phrase its sentence must contain.
type Case = (String, fn(&Rejection) -> bool, &'static str);

#[tokio::test]
async fn every_rejection_names_what_failed() {
    let s = setup();
    let now = s.now;
    let good_h = header(&s.k.rsa);
    let cases: Vec<Case> = vec![
        (
            "a.b".into(),
            |r| matches!(r, Rejection::Malformed { part: "token", .. }),
            "three dot-separated parts",
        ),
        (
            "!!.e30.AA".into(),
            |r| matches!(r, Rejection::Malformed { part: "header", .. }),
            "header is not base64url",
        ),
        (
            format!(
                "{}.{}.",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt"}"#),
                URL_SAFE_NO_PAD.encode(claims(now).to_string())
            ),
            |r| matches!(r, Rejection::UnsupportedAlgorithm { found } if found == "none"),
            "\"none\" is not supported",
        ),
        (
            mint(
                &s.k.rsa,
                json!({"alg": "HS256", "kid": s.k.rsa.kid(), "typ": "at+jwt"}),
                claims(now),
            ),
            |r| matches!(r, Rejection::UnsupportedAlgorithm { .. }),
            "HMAC never",
        ),
        (
            mint(
                &s.k.rsa,
                good_h.clone(),
                json!({"iss": "https://evil.example", "aud": "api", "exp": now + 60}),
            ),
            |r| matches!(r, Rejection::UnknownIssuer { .. }),
            "issuer \"https://evil.example\" is not trusted",
        ),
        (
            mint(&s.k.ed, header(&s.k.ed), claims(now)),
            |r| {
                matches!(
                    r,
                    Rejection::DisallowedAlgorithm {
                        found: Algorithm::EdDSA,
                        ..
                    }
                )
            },
            "EdDSA is not allowed for issuer https://a.example",
        ),
        (
            mint(
                &s.k.rsa,
                json!({"alg": "RS256", "kid": "nope", "typ": "at+jwt"}),
                claims(now),
            ),
            |r| matches!(r, Rejection::UnknownKid { found, .. } if found == "nope"),
            "key id \"nope\" is not in the JWKS of https://a.example",
        ),
        (
            mint(
                &s.k.ec,
                json!({"alg": "ES256", "kid": s.k.rsa.kid(), "typ": "at+jwt"}),
                claims(now),
            ),
            |r| matches!(r, Rejection::KeyTypeMismatch { .. }),
            "does not get to choose the key type",
        ),
        (
            {
                let t = mint(&s.k.rsa, good_h.clone(), claims(now));
                let (hp, sig) = t.rsplit_once('.').expect("jws");
                let (h, _) = hp.split_once('.').expect("jws");
                let forged = URL_SAFE_NO_PAD.encode(json!({"iss": A, "aud": "api", "exp": now + 60, "scope": "admin", "client_id": "app"}).to_string());
                format!("{h}.{forged}.{sig}")
            },
            |r| {
                matches!(
                    r,
                    Rejection::BadSignature {
                        alg: Algorithm::RS256,
                        ..
                    }
                )
            },
            "signature does not verify",
        ),
        (
            mint(
                &s.k.rsa,
                good_h.clone(),
                json!({"iss": A, "aud": "api", "exp": now - 120, "client_id": "app"}),
            ),
            |r| matches!(r, Rejection::Expired { leeway: 60, .. }),
            "expired at",
        ),
        (
            mint(
                &s.k.rsa,
                good_h.clone(),
                json!({"iss": A, "aud": "api", "exp": now + 600, "nbf": now + 300, "client_id": "app"}),
            ),
            |r| matches!(r, Rejection::NotYetValid { .. }),
            "clocks in sync",
        ),
        (
            mint(
                &s.k.rsa,
                good_h.clone(),
                json!({"iss": A, "aud": "other-api", "exp": now + 60, "client_id": "app"}),
            ),
            |r| matches!(r, Rejection::AudienceMismatch { hint: None, .. }),
            "audience [\"other-api\"] does not include [\"api\"]",
        ),
        (
            mint(
                &s.k.rsa,
                good_h.clone(),
                json!({"iss": A, "aud": "app", "azp": "app", "exp": now + 60, "client_id": "app"}),
            ),
            |r| matches!(r, Rejection::AudienceMismatch { hint: Some(_), .. }),
            "looks like an ID token sent as an access token",
        ),
        (
            mint(
                &s.k.rsa,
                json!({"alg": "RS256", "kid": s.k.rsa.kid(), "typ": "JWT"}),
                claims(now),
            ),
            |r| matches!(r, Rejection::WrongType { .. }),
            "an ID token sent as an access token?",
        ),
        (
            mint(
                &s.k.rsa,
                good_h.clone(),
                json!({"iss": A, "aud": "api", "exp": now + 60}),
            ),
            |r| matches!(r, Rejection::MissingClaim { name, .. } if name == "client_id"),
            "no \"client_id\" claim",
        ),
        (
            mint(
                &s.k.rsa,
                good_h.clone(),
                json!({"iss": A, "aud": "api", "exp": now + 60, "client_id": "intruder"}),
            ),
            |r| matches!(r, Rejection::ClaimMismatch { .. }),
            "\"client_id\" claim is \"intruder\", expected one of",
        ),
        (
            mint(
                &s.k.rsa,
                json!({"alg": "RS256", "kid": s.k.rsa.kid(), "typ": "at+jwt", "nonce": "x"}),
                claims(now),
            ),
            |r| matches!(r, Rejection::ForeignToken { .. }),
            "minted for a Microsoft API such as Microsoft Graph",
        ),
    ];
    for (token, is_variant, sentence) in cases {
        let r = rejection(&s, &token).await;
        assert!(is_variant(&r), "unexpected variant {r:?} for {sentence:?}");
        let msg = r.to_string();
        assert!(
            msg.contains(sentence),
            "{msg:?} should contain {sentence:?}"
        );
        assert_eq!(r.status(), 401);
        let challenge = r.www_authenticate("api", true);
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        assert!(
            !r.www_authenticate("api", false)
                .contains("error_description")
        );
    }
}

#[tokio::test]
async fn missing_scope_is_403_insufficient_scope() {
    let s = setup();
    let v = Validator::builder()
        .trust(
            TrustedIssuer::new(A, "api").with_jwks(Jwks::new(vec![s.k.rsa.public_jwk().clone()])),
        )
        .require_scopes(["read", "admin"])
        .clock(s.clock.clone())
        .build()
        .expect("validator");
    let r = v
        .validate(&mint(&s.k.rsa, header(&s.k.rsa), claims(s.now)))
        .await
        .expect_err("refused");
    assert!(
        matches!(&r, Rejection::InsufficientScope { missing, .. } if missing == &vec!["admin".to_owned()])
    );
    assert_eq!(r.status(), 403);
    let challenge = r.www_authenticate("api", true);
    assert!(
        challenge.contains("error=\"insufficient_scope\"") && challenge.contains("scope=\"admin\""),
        "{challenge}"
    );
}

fn b_claims(now: i64) -> Value {
    json!({"iss": B, "aud": "api", "exp": now + 3600, "client_id": "app"})
}

#[tokio::test]
async fn a_new_kid_triggers_one_refetch_then_validates() {
    let s = setup();
    let t1 = mint(&s.k.ec, header(&s.k.ec), b_claims(s.now));
    s.validator.validate(&t1).await.expect("first key");
    assert_eq!(
        s.server.fetches.load(Ordering::SeqCst),
        1,
        "fetched once, then cached"
    );
    s.validator.validate(&t1).await.expect("cached");
    assert_eq!(s.server.fetches.load(Ordering::SeqCst), 1);
    // The issuer rotates: a new key appears in its JWKS.
    let next = SigningKey::generate(Algorithm::ES256).expect("key").0;
    s.server.publish(&[&s.k.ec, &next]);
    let t2 = mint(&next, header(&next), b_claims(s.now));
    s.validator
        .validate(&t2)
        .await
        .expect("accepted after one refetch");
    assert_eq!(s.server.fetches.load(Ordering::SeqCst), 2);
    // The cache expires with its TTL.
    s.clock.advance(Duration::minutes(6));
    s.validator
        .validate(&t2)
        .await
        .expect("refetched after the TTL");
    assert_eq!(s.server.fetches.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_flood_of_unknown_kids_causes_at_most_one_refetch() {
    let s = setup();
    s.validator
        .validate(&mint(&s.k.ec, header(&s.k.ec), b_claims(s.now)))
        .await
        .expect("warm");
    let tokens: Vec<String> = (0..1000)
        .map(|i| {
            mint(
                &s.k.ec,
                json!({"alg": "ES256", "kid": format!("random-{i}"), "typ": "at+jwt"}),
                b_claims(s.now),
            )
        })
        .collect();
    let results = futures::future::join_all(tokens.iter().map(|t| s.validator.validate(t))).await;
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(Rejection::UnknownKid { .. })))
    );
    let fetches = s.server.fetches.load(Ordering::SeqCst);
    assert!(
        fetches <= 2,
        "1,000 unknown kids caused {fetches} JWKS fetches"
    );
    let refetched = results
        .iter()
        .filter(|r| {
            matches!(
                r,
                Err(Rejection::UnknownKid {
                    lookup: idpkit_core::KidLookup::Refetched,
                    ..
                })
            )
        })
        .count();
    assert!(
        refetched <= 1,
        "one token paid for a refetch, the rest were rate-limited ({refetched})"
    );
}

#[tokio::test]
async fn an_unreachable_jwks_is_issuer_unreachable_but_a_cached_key_keeps_working() {
    let s = setup();
    let t = mint(&s.k.ec, header(&s.k.ec), b_claims(s.now));
    s.server.down.store(true, Ordering::SeqCst);
    let r = s.validator.validate(&t).await.expect_err("no keys yet");
    assert!(
        matches!(&r, Rejection::IssuerUnreachable { issuer, .. } if issuer == B),
        "{r:?}"
    );
    assert!(r.to_string().contains("connection refused"));
    assert_eq!(r.status(), 503);
    // Right after a failure nobody queues behind another fetch: answered at once, no fetch.
    s.server.down.store(false, Ordering::SeqCst);
    let fetches = s.server.fetches.load(Ordering::SeqCst);
    for _ in 0..50 {
        let r = s.validator.validate(&t).await.expect_err("backing off");
        assert!(r.to_string().contains("not retrying yet"), "{r}");
    }
    assert_eq!(
        s.server.fetches.load(Ordering::SeqCst),
        fetches,
        "no fetch during the back-off"
    );
    s.clock.advance(Duration::seconds(31));
    s.validator
        .validate(&t)
        .await
        .expect("reachable again after the back-off");
    s.server.down.store(true, Ordering::SeqCst);
    s.clock.advance(Duration::minutes(6));
    s.validator
        .validate(&t)
        .await
        .expect("stale cache serves while the issuer is down");
}

#[tokio::test]
async fn issuers_are_kept_apart() {
    let s = setup();
    // Signed with A's key but claiming issuer B: B's JWKS does not have that key.
    let t = mint(&s.k.rsa, header(&s.k.rsa), b_claims(s.now));
    assert!(matches!(
        s.validator.validate(&t).await,
        Err(Rejection::UnknownKid { .. })
    ));
    // B accepts only its own keys and A only its own.
    let ok_b = mint(&s.k.ec, header(&s.k.ec), b_claims(s.now));
    assert_eq!(s.validator.validate(&ok_b).await.expect("B").issuer, B);
}

#[tokio::test]
async fn inspect_reports_every_check_with_the_failures() {
    let s = setup();
    let t = mint(
        &s.k.rsa,
        header(&s.k.rsa),
        json!({"iss": A, "aud": "elsewhere", "exp": s.now - 600, "client_id": "app"}),
    );
    let report = s.validator.inspect(&t).await;
    let outcome = |name: &str| {
        report
            .checks
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.outcome.clone())
    };
    assert!(
        matches!(outcome("signature"), Some(Ok(_))),
        "{:?}",
        report.checks
    );
    assert!(
        matches!(outcome("exp"), Some(Err(ref e)) if e.contains("expired 600s ago")),
        "{:?}",
        report.checks
    );
    assert!(
        matches!(outcome("aud"), Some(Err(ref e)) if e.contains("elsewhere")),
        "{:?}",
        report.checks
    );
    assert!(matches!(report.verdict, Err(Rejection::Expired { .. })));
    assert_eq!(report.claims.expect("claims")["aud"], "elsewhere");
    let garbage = s.validator.inspect("not-a-token").await;
    assert!(matches!(&garbage.checks[1].outcome, Err(e) if e.contains("has 1 part,")));
}

#[tokio::test]
async fn escaped_json_strings_in_claims_are_read_correctly() {
    let s = setup();
    let v = Validator::builder()
        .trust(
            TrustedIssuer::new(A, "https://api.example/v1")
                .with_jwks(Jwks::new(vec![s.k.rsa.public_jwk().clone()])),
        )
        .clock(s.clock.clone())
        .build()
        .expect("validator");
    // Some serialisers escape slashes: "https:\/\/api.example\/v1".
    let h = URL_SAFE_NO_PAD.encode(header(&s.k.rsa).to_string());
    let raw = format!(
        r#"{{"iss":"https:\/\/a.example","aud":["https:\/\/api.example\/v1"],"exp":{},"scope":"read","sub":"al\u0069ce"}}"#,
        s.now + 60
    );
    let p = URL_SAFE_NO_PAD.encode(raw);
    let sig = s.k.rsa.sign(format!("{h}.{p}").as_bytes()).expect("sign");
    let token = format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode(sig));
    let t = v.validate(&token).await.expect("escaped strings decode");
    assert_eq!(t.subject.as_deref(), Some("alice"));
    assert_eq!(t.claim("aud"), Some(&json!(["https://api.example/v1"])));
}

#[tokio::test]
async fn critical_extensions_and_absurd_times_are_handled_without_panic() {
    let s = setup();
    let crit = mint(
        &s.k.rsa,
        json!({"alg": "RS256", "kid": s.k.rsa.kid(), "typ": "at+jwt", "crit": ["exp-ext"], "exp-ext": 1}),
        claims(s.now),
    );
    let r = s.validator.validate(&crit).await.expect_err("crit refused");
    assert!(
        r.to_string()
            .contains(r#"marks extensions as critical (crit: ["exp-ext"])"#),
        "{r}"
    );
    for (exp, nbf) in [(1e300, -1e300), (-1e300, 1e300), (9.3e18, 0.0)] {
        let t = mint(
            &s.k.rsa,
            header(&s.k.rsa),
            json!({"iss": A, "aud": "api", "exp": exp, "nbf": nbf, "client_id": "app"}),
        );
        // Any verdict, but never a panic from the arithmetic.
        let _ = s.validator.validate(&t).await;
        let _ = s.validator.inspect(&t).await;
    }
}

fn outcome_of(report: &idpkit_core::Inspection, name: &str) -> Option<Result<String, String>> {
    report
        .checks
        .iter()
        .find(|c| c.name == name)
        .map(|c| c.outcome.clone())
}

#[tokio::test]
async fn inspect_reports_the_alg_allow_list_crit_and_header_nonce_rfc8725_3_1_rfc7515_4_1_11() {
    let s = setup();
    // RFC 8725 §3.1: the issuer's allow-list (RS256, ES256 here) refuses EdDSA.
    let ed = mint(&s.k.ed, header(&s.k.ed), claims(s.now));
    let report = s.validator.inspect(&ed).await;
    assert!(
        matches!(outcome_of(&report, "alg allowed"), Some(Err(ref e)) if e.contains("EdDSA is not allowed")),
        "{:?}",
        report.checks
    );
    assert!(matches!(
        report.verdict,
        Err(Rejection::DisallowedAlgorithm { .. })
    ));
    assert!(
        matches!(outcome_of(&report, "exp"), Some(Ok(_))),
        "later checks are still reported: {:?}",
        report.checks
    );
    // RFC 7515 §4.1.11: critical extensions are refused.
    let crit = mint(
        &s.k.rsa,
        json!({"alg": "RS256", "kid": s.k.rsa.kid(), "typ": "at+jwt", "crit": ["exp-ext"], "exp-ext": 1}),
        claims(s.now),
    );
    let report = s.validator.inspect(&crit).await;
    assert!(
        matches!(outcome_of(&report, "crit"), Some(Err(ref e)) if e.contains("marks extensions as critical")),
        "{:?}",
        report.checks
    );
    assert!(matches!(
        report.verdict,
        Err(Rejection::Critical { ref names }) if names == &["exp-ext".to_owned()]
    ));
    // A header nonce: a token for another vendor's API.
    let nonce = mint(
        &s.k.rsa,
        json!({"alg": "RS256", "kid": s.k.rsa.kid(), "typ": "at+jwt", "nonce": "x"}),
        claims(s.now),
    );
    let report = s.validator.inspect(&nonce).await;
    assert!(
        matches!(outcome_of(&report, "nonce"), Some(Err(ref e)) if e.contains("only that API can validate it")),
        "{:?}",
        report.checks
    );
    assert!(matches!(
        report.verdict,
        Err(Rejection::ForeignToken { .. })
    ));
    assert!(
        matches!(outcome_of(&report, "signature"), Some(Ok(_))),
        "{:?}",
        report.checks
    );
}

#[tokio::test]
async fn inspect_and_validate_give_the_same_verdict_for_every_kind_of_token() {
    let s = setup();
    let now = s.now;
    let tokens = vec![
        "not-a-token".to_owned(),
        "a.b.c.d.e".to_owned(),
        mint(&s.k.rsa, header(&s.k.rsa), claims(now)),
        mint(&s.k.ed, header(&s.k.ed), claims(now)),
        mint(
            &s.k.ec,
            json!({"alg": "ES256", "kid": s.k.rsa.kid(), "typ": "at+jwt"}),
            claims(now),
        ),
        mint(
            &s.k.rsa,
            json!({"alg": "RS256", "kid": s.k.rsa.kid(), "typ": "JWT"}),
            claims(now),
        ),
        mint(
            &s.k.rsa,
            header(&s.k.rsa),
            json!({"iss": A, "aud": "api", "exp": now - 600, "client_id": "app"}),
        ),
        mint(
            &s.k.rsa,
            header(&s.k.rsa),
            json!({"iss": "https://evil.example", "aud": "api", "exp": now + 60}),
        ),
        mint(
            &s.k.rsa,
            json!({"alg": "RS256", "kid": s.k.rsa.kid(), "typ": "at+jwt", "crit": ["x"]}),
            claims(now),
        ),
        mint(
            &s.k.rsa,
            json!({"alg": "RS256", "kid": s.k.rsa.kid(), "typ": "at+jwt", "nonce": "n"}),
            claims(now),
        ),
    ];
    for t in tokens {
        let validated = s.validator.validate(&t).await.map(|_| ());
        let inspected = s.validator.inspect(&t).await;
        assert_eq!(inspected.verdict, validated, "{t}: {:?}", inspected.checks);
        if let Err(r) = &validated {
            assert!(
                inspected.checks.iter().any(|c| c.outcome.is_err()),
                "{r}: the failure is among the checks"
            );
        }
    }
}

#[test]
fn resource_metadata_is_built_once_from_the_validator_rfc9728_2_and_3_1() {
    use idpkit_core::dpop::DpopRules;
    use idpkit_core::protected_resource_metadata::ProtectedResourceMetadata;
    let trust = || TrustedIssuer::new(A, "api").with_jwks(Jwks::new(Vec::new()));
    let mut rules = DpopRules::default();
    rules.algorithms = vec![Algorithm::ES256];
    let v = Validator::builder()
        .trust(trust())
        .dpop_rules(rules)
        .resource_metadata(ProtectedResourceMetadata::new("https://api.example/mcp"))
        .build()
        .expect("validator");
    let m = v.resource_metadata().expect("metadata");
    assert_eq!(m.path, "/.well-known/oauth-protected-resource/mcp");
    assert_eq!(
        m.url,
        "https://api.example/.well-known/oauth-protected-resource/mcp"
    );
    let doc: Value = serde_json::from_slice(&m.document).expect("json");
    // Left empty: the trusted issuers and the DPoP algorithms.
    assert_eq!(doc["authorization_servers"], json!([A]));
    assert_eq!(doc["dpop_signing_alg_values_supported"], json!(["ES256"]));
    assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
    // Set: kept as given.
    let v = Validator::builder()
        .trust(trust())
        .resource_metadata(
            ProtectedResourceMetadata::new("https://api.example")
                .authorization_server("https://other.example"),
        )
        .build()
        .expect("validator");
    let m = v.resource_metadata().expect("metadata");
    assert_eq!(m.path, "/.well-known/oauth-protected-resource");
    let doc: Value = serde_json::from_slice(&m.document).expect("json");
    assert_eq!(
        doc["authorization_servers"],
        json!(["https://other.example"])
    );
    // Not configured: none. A resource identifier with a fragment: refused at build,
    // naming the knob.
    assert!(
        Validator::builder()
            .trust(trust())
            .build()
            .expect("validator")
            .resource_metadata()
            .is_none()
    );
    let e = Validator::builder()
        .trust(trust())
        .resource_metadata(ProtectedResourceMetadata::new("https://api.example/#x"))
        .build()
        .expect_err("a fragment");
    assert!(e.to_string().contains("resource_metadata"), "{e}");
}
