//! DPoP at the resource server (RFC 9449 §7): `Validator::validate_request` with
//! `Authorization: DPoP` and a proof; every refusal as a `Rejection` saying which check
//! failed, expected vs found; replay across two validators sharing a grant store; nonces;
//! an opaque DPoP token through introspection at the real provider.

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idpkit_core::dpop::{self, ProofError};
use idpkit_core::http::{HttpClient, HttpError, HttpRequest, HttpResponse};
use idpkit_core::testkit::flows::token_request;
use idpkit_core::testkit::users::TestUsers;
use idpkit_core::{
    AccessTokenFormat, Algorithm, Client, Clock, GrantType, Jwks, LocalKeys, ManualClock,
    MemoryGrantStore, Provider, Rejection, Request, ResourceRequest, SigningKey, StaticClients,
    StoreDpopStore, TrustedIssuer, Validator, ValidatorBuilder,
};
use serde_json::{Value, json};

const ISS: &str = "https://idp.example";
const API: &str = "https://api.example";
const ME: &str = "https://api.example/me";

fn mint(key: &SigningKey, claims: Value) -> String {
    let header = json!({"alg": key.alg().as_str(), "kid": key.kid(), "typ": "at+jwt"});
    let h = URL_SAFE_NO_PAD.encode(header.to_string());
    let p = URL_SAFE_NO_PAD.encode(claims.to_string());
    let sig = key.sign(format!("{h}.{p}").as_bytes()).expect("sign");
    format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn jkt(k: &SigningKey) -> String {
    let mut jwk = k.public_jwk().clone();
    jwk.kid = None;
    jwk.thumbprint()
}

struct Rs {
    issuer_key: SigningKey,
    client_key: SigningKey,
    clock: Arc<ManualClock>,
}

impl Rs {
    fn new() -> Self {
        Self {
            issuer_key: SigningKey::generate(Algorithm::ES256).expect("key").0,
            client_key: SigningKey::generate(Algorithm::EdDSA).expect("key").0,
            clock: Arc::new(ManualClock::starting_now()),
        }
    }

    fn now(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }

    fn builder(&self) -> ValidatorBuilder {
        Validator::builder()
            .trust(
                TrustedIssuer::new(ISS, "api")
                    .with_jwks(Jwks::new(vec![self.issuer_key.public_jwk().clone()])),
            )
            .clock(self.clock.clone())
            .external_url(API)
    }

    fn validator(&self) -> Validator {
        self.builder().build().expect("validator")
    }

    /// A JWT access token bound to the client key (or unbound).
    fn token(&self, bound: bool) -> String {
        let now = self.now();
        let mut c = json!({"iss": ISS, "sub": "alice", "aud": ["api"], "exp": now + 300,
            "iat": now, "jti": "t1", "client_id": "app", "scope": "read"});
        if bound {
            c["cnf"] = json!({"jkt": jkt(&self.client_key)});
        }
        mint(&self.issuer_key, c)
    }

    fn proof(&self, method: &str, url: &str, token: Option<&str>) -> String {
        dpop::proof(&self.client_key, method, url, self.now(), token, None).expect("proof")
    }
}

fn request<'a>(auth: &'a str, proof: Option<&'a str>, method: &'a str) -> ResourceRequest<'a> {
    ResourceRequest {
        authorization: Some(auth),
        dpop: proof,
        method,
        target: "/me?x=1",
    }
}

async fn check(v: &Validator, auth: &str, proof: Option<&str>) -> Result<String, Rejection> {
    v.validate_request(&request(auth, proof, "GET"))
        .await
        .map(|t| t.jkt().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn a_dpop_token_with_a_proof_of_its_key_for_this_request_passes_rfc9449_7_1() {
    let rs = Rs::new();
    let v = rs.validator();
    let t = rs.token(true);
    let p = rs.proof("GET", ME, Some(&t));
    let jkt_found = check(&v, &format!("DPoP {t}"), Some(&p))
        .await
        .expect("valid");
    assert_eq!(jkt_found, jkt(&rs.client_key));
    // A bearer token stays a bearer token.
    let plain = rs.token(false);
    assert!(check(&v, &format!("Bearer {plain}"), None).await.is_ok());
}

#[tokio::test]
async fn every_proof_check_refuses_and_says_which_rfc9449_4_3() {
    let rs = Rs::new();
    let v = rs.validator();
    let t = rs.token(true);
    let auth = format!("DPoP {t}");
    let other = SigningKey::generate(Algorithm::ES256).expect("key").0;
    let stale = dpop::proof(&rs.client_key, "GET", ME, rs.now() - 301, Some(&t), None).expect("p");
    type Case = (&'static str, Option<String>, fn(&ProofError) -> bool);
    let cases: Vec<Case> = vec![
        ("no proof", None, |e| matches!(e, ProofError::Presence(_))),
        ("htm", Some(rs.proof("POST", ME, Some(&t))), |e| {
            matches!(e, ProofError::MethodMismatch { .. })
        }),
        (
            "htu",
            Some(rs.proof("GET", "https://api.example/other", Some(&t))),
            |e| matches!(e, ProofError::UriMismatch { .. }),
        ),
        (
            "ath",
            Some(rs.proof("GET", ME, Some("another-token"))),
            |e| matches!(e, ProofError::AthMismatch { .. }),
        ),
        ("stale iat", Some(stale), |e| {
            matches!(e, ProofError::Stale { .. })
        }),
        (
            "another key",
            Some(dpop::proof(&other, "GET", ME, rs.now(), Some(&t), None).expect("p")),
            |e| matches!(e, ProofError::KeyMismatch { .. }),
        ),
    ];
    for (what, proof, is) in cases {
        let r = check(&v, &auth, proof.as_deref()).await.expect_err(what);
        let Rejection::DpopProof(e) = &r else {
            panic!("{what}: {r:?}");
        };
        assert!(is(e), "{what}: {e:?}");
        assert!(r.is_dpop());
        assert_eq!(r.status(), 401);
        let challenge = r.www_authenticate_dpop("api", &v.dpop_algs(), true);
        assert!(
            challenge.starts_with("DPoP realm=\"api\", algs=\"ES256 PS256 EdDSA RS256\""),
            "{challenge}"
        );
        let code = if what == "another key" {
            "invalid_token"
        } else {
            "invalid_dpop_proof"
        };
        assert_eq!(r.error_code().as_str(), code, "{what}");
    }
    // Expected vs found in the sentence.
    let r = check(
        &v,
        &auth,
        Some(&rs.proof("GET", "https://api.example/other", Some(&t))),
    )
    .await
    .expect_err("htu");
    let text = r.to_string();
    assert!(
        text.contains(ME) && text.contains("https://api.example/other"),
        "{text}"
    );
}

#[tokio::test]
async fn a_bound_token_as_bearer_and_an_unbound_one_as_dpop_are_refused_rfc9449_7_2() {
    let rs = Rs::new();
    let v = rs.validator();
    let t = rs.token(true);
    let r = check(&v, &format!("Bearer {t}"), None)
        .await
        .expect_err("bearer");
    assert!(
        matches!(r, Rejection::DpopBoundAsBearer { ref jkt } if *jkt == self::jkt(&rs.client_key))
    );
    assert_eq!(r.error_code().as_str(), "invalid_token");
    assert!(r.to_string().contains("Bearer scheme"), "{r}");
    assert!(
        matches!(
            v.validate(&t).await,
            Err(Rejection::DpopBoundAsBearer { .. })
        ),
        "validate() is the Bearer presentation"
    );
    let plain = rs.token(false);
    let p = rs.proof("GET", ME, Some(&plain));
    let r = check(&v, &format!("DPoP {plain}"), Some(&p))
        .await
        .expect_err("unbound");
    assert_eq!(r, Rejection::NotDpopBound);
}

#[tokio::test]
async fn a_replayed_proof_is_refused_across_validators_sharing_a_store_rfc9449_11_1() {
    let rs = Rs::new();
    let store = Arc::new(MemoryGrantStore::new());
    let a = rs
        .builder()
        .dpop_store(Arc::new(StoreDpopStore(store.clone())))
        .build()
        .expect("a");
    let b = rs
        .builder()
        .dpop_store(Arc::new(StoreDpopStore(store)))
        .build()
        .expect("b");
    let t = rs.token(true);
    let auth = format!("DPoP {t}");
    let p = rs.proof("GET", ME, Some(&t));
    assert!(check(&a, &auth, Some(&p)).await.is_ok());
    assert_eq!(
        check(&a, &auth, Some(&p)).await.expect_err("replay"),
        Rejection::DpopProof(ProofError::Replayed)
    );
    assert_eq!(
        check(&b, &auth, Some(&p)).await.expect_err("replay at b"),
        Rejection::DpopProof(ProofError::Replayed)
    );
    // The default memory store detects replays at one instance.
    let single = rs.validator();
    let p = rs.proof("GET", ME, Some(&t));
    assert!(check(&single, &auth, Some(&p)).await.is_ok());
    assert!(check(&single, &auth, Some(&p)).await.is_err());
}

#[tokio::test]
async fn a_required_nonce_is_asked_for_then_accepted_rfc9449_9() {
    let rs = Rs::new();
    let v = rs.builder().dpop_require_nonce(true).build().expect("v");
    let t = rs.token(true);
    let auth = format!("DPoP {t}");
    let r = check(&v, &auth, Some(&rs.proof("GET", ME, Some(&t))))
        .await
        .expect_err("no nonce");
    assert_eq!(r.error_code().as_str(), "use_dpop_nonce");
    let nonce = v.dpop_nonce().await.expect("nonce");
    let made_up = dpop::proof(&rs.client_key, "GET", ME, rs.now(), Some(&t), Some("x")).expect("p");
    assert_eq!(
        check(&v, &auth, Some(&made_up))
            .await
            .expect_err("unknown")
            .error_code()
            .as_str(),
        "use_dpop_nonce"
    );
    let good = dpop::proof(&rs.client_key, "GET", ME, rs.now(), Some(&t), Some(&nonce)).expect("p");
    assert!(check(&v, &auth, Some(&good)).await.is_ok());
}

#[tokio::test]
async fn without_an_external_url_a_relative_target_cannot_be_checked() {
    let rs = Rs::new();
    let v = Validator::builder()
        .trust(
            TrustedIssuer::new(ISS, "api")
                .with_jwks(Jwks::new(vec![rs.issuer_key.public_jwk().clone()])),
        )
        .clock(rs.clock.clone())
        .build()
        .expect("v");
    let t = rs.token(true);
    let p = rs.proof("GET", ME, Some(&t));
    let r = check(&v, &format!("DPoP {t}"), Some(&p))
        .await
        .expect_err("unconfigured");
    assert_eq!(r, Rejection::DpopUnconfigured);
    // An absolute target works without it.
    let ok = v
        .validate_request(&ResourceRequest {
            authorization: Some(&format!("DPoP {t}")),
            dpop: Some(&rs.proof("GET", ME, Some(&t))),
            method: "GET",
            target: ME,
        })
        .await;
    assert!(ok.is_ok(), "{ok:?}");
}

/// Delivers HTTP requests to the provider's introspection endpoint in-process.
struct ToProvider(Provider);

#[async_trait]
impl HttpClient for ToProvider {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let headers: Vec<(&str, &str)> = req
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let parsed =
            Request::from_http(req.method, None, headers, &req.body, 65536).map_err(|e| {
                HttpError {
                    url: req.url.clone(),
                    reason: e.to_string(),
                }
            })?;
        let r = self.0.introspect(&parsed).await;
        Ok(HttpResponse {
            status: r.status,
            headers: Vec::new(),
            body: r.body_bytes().to_vec(),
        })
    }
}

#[tokio::test]
async fn an_opaque_dpop_token_carries_cnf_through_introspection_rfc9449_6_2() {
    let svc = Client::confidential("svc", "svc-secret")
        .grant_types([GrantType::ClientCredentials])
        .scopes(["orders:read"])
        .audience(["orders-api"])
        .access_token_format(AccessTokenFormat::Opaque)
        .build()
        .expect("client");
    let rs_client = Client::confidential("orders-api", "rs-secret")
        .grant_types([])
        .resource_server_for(["orders-api"])
        .build()
        .expect("rs");
    let clock = Arc::new(ManualClock::starting_now());
    let provider = Provider::builder(ISS)
        .grant_store(MemoryGrantStore::new())
        .keys(LocalKeys::ephemeral_for_development().expect("keys"))
        .clients(StaticClients::new([svc, rs_client]).expect("clients"))
        .users(TestUsers::none())
        .clock(clock.clone())
        .signing_alg(Algorithm::ES256)
        .dangerous_allow_development_backends()
        .build()
        .expect("provider");
    let key = SigningKey::generate(Algorithm::ES256).expect("key").0;
    let now = clock.now().unix_timestamp();
    let p = dpop::proof(&key, "POST", &format!("{ISS}/token"), now, None, None).expect("p");
    let r = provider
        .token(
            &token_request(
                &[("grant_type", "client_credentials")],
                "svc",
                Some("svc-secret"),
            )
            .with_dpop(p),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.json_value());
    assert_eq!(r.json_value()["token_type"], "DPoP");
    let token = r.json_value()["access_token"]
        .as_str()
        .expect("at")
        .to_owned();
    let v = Validator::builder()
        .trust(
            TrustedIssuer::new(ISS, "orders-api")
                .with_jwks(Jwks::new(Vec::new()))
                .with_introspection(format!("{ISS}/introspect"), "orders-api", "rs-secret"),
        )
        .clock(clock.clone())
        .http_client(Arc::new(ToProvider(provider.clone())))
        .external_url("https://orders.example")
        .build()
        .expect("validator");
    let url = "https://orders.example/orders";
    let p = dpop::proof(&key, "GET", url, now, Some(&token), None).expect("p");
    let ok = v
        .validate_request(&ResourceRequest {
            authorization: Some(&format!("DPoP {token}")),
            dpop: Some(&p),
            method: "GET",
            target: "/orders",
        })
        .await
        .expect("valid");
    assert_eq!(ok.jkt(), Some(jkt(&key).as_str()));
    let r = v
        .validate_request(&ResourceRequest {
            authorization: Some(&format!("Bearer {token}")),
            dpop: None,
            method: "GET",
            target: "/orders",
        })
        .await
        .expect_err("as bearer");
    assert!(matches!(r, Rejection::DpopBoundAsBearer { .. }));
}
