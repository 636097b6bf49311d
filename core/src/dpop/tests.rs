use super::*;
use crate::SigningKey;

const T0: i64 = 1_800_000_000;
const TOKEN_URL: &str = "https://login.example/token";

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(T0).expect("in range")
}

fn key(alg: Algorithm) -> SigningKey {
    SigningKey::generate(alg).expect("key").0
}

fn expected(token: Option<&str>) -> Expected<'_> {
    Expected {
        method: "POST",
        uri: TOKEN_URL,
        access_token: token,
    }
}

fn sign_with(key: &SigningKey, header: serde_json::Value, claims: serde_json::Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = key.sign(input.as_bytes()).expect("sign");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn header(key: &SigningKey) -> serde_json::Value {
    serde_json::json!({"typ": TYP, "alg": key.alg().as_str(), "jwk": key.public_jwk()})
}

fn claims() -> serde_json::Value {
    serde_json::json!({"jti": "j1", "htm": "POST", "htu": TOKEN_URL, "iat": T0})
}

fn check(p: &str) -> Result<Proof, ProofError> {
    verify(p, &DpopRules::default(), &expected(None), now())
}

#[test]
fn a_proof_verifies_and_its_jkt_is_the_rfc7638_thumbprint_rfc9449_4_3() {
    for alg in [Algorithm::ES256, Algorithm::EdDSA] {
        let k = key(alg);
        let p = proof(&k, "POST", TOKEN_URL, T0, None, None).expect("proof");
        let ok = check(&p).expect("valid");
        assert_eq!(ok.jkt, k.public_jwk().thumbprint());
        assert_eq!(ok.alg, alg);
    }
}

#[test]
fn the_typ_must_be_dpop_jwt_rfc9449_4_2() {
    let k = key(Algorithm::ES256);
    let mut h = header(&k);
    h["typ"] = "JWT".into();
    assert!(matches!(
        check(&sign_with(&k, h, claims())),
        Err(ProofError::WrongType { .. })
    ));
    let mut h = header(&k);
    h.as_object_mut().expect("object").remove("typ");
    assert!(matches!(
        check(&sign_with(&k, h, claims())),
        Err(ProofError::WrongType { .. })
    ));
}

#[test]
fn the_algorithm_must_be_in_the_allow_list_rfc9449_4_3_5() {
    let k = key(Algorithm::EdDSA);
    let p = proof(&k, "POST", TOKEN_URL, T0, None, None).expect("proof");
    let strict = DpopRules::default().with_algorithms([Algorithm::ES256]);
    assert!(matches!(
        verify(&p, &strict, &expected(None), now()),
        Err(ProofError::DisallowedAlgorithm {
            found: Algorithm::EdDSA,
            ..
        })
    ));
    // HMAC and `none` never parse.
    let hs = format!(
        "{}.{}.sig",
        URL_SAFE_NO_PAD.encode(r#"{"typ":"dpop+jwt","alg":"HS256"}"#),
        URL_SAFE_NO_PAD.encode(claims().to_string())
    );
    assert!(matches!(check(&hs), Err(ProofError::Malformed(_))));
}

#[test]
fn the_jwk_must_be_a_public_key_of_the_algorithms_type_rfc9449_4_3_6() {
    let k = key(Algorithm::ES256);
    let mut h = header(&k);
    h["jwk"]["d"] = "c2VjcmV0".into();
    assert!(
        matches!(check(&sign_with(&k, h, claims())), Err(ProofError::Jwk(m)) if m.contains("private"))
    );
    let mut h = header(&k);
    h.as_object_mut().expect("object").remove("jwk");
    assert!(matches!(
        check(&sign_with(&k, h, claims())),
        Err(ProofError::Jwk(_))
    ));
    // An Ed25519 key in the header of an ES256 proof.
    let other = key(Algorithm::EdDSA);
    let mut h = header(&k);
    h["jwk"] = serde_json::to_value(other.public_jwk()).expect("jwk");
    assert!(matches!(
        check(&sign_with(&k, h, claims())),
        Err(ProofError::Jwk(_))
    ));
}

#[test]
fn the_signature_must_verify_with_the_header_jwk_rfc9449_4_3_7() {
    let k = key(Algorithm::ES256);
    let other = key(Algorithm::ES256);
    let mut h = header(&k);
    h["jwk"] = serde_json::to_value(other.public_jwk()).expect("jwk");
    assert!(matches!(
        check(&sign_with(&k, h, claims())),
        Err(ProofError::BadSignature { .. })
    ));
}

#[test]
fn htm_must_be_the_request_method_rfc9449_4_3_8() {
    let k = key(Algorithm::ES256);
    let p = proof(&k, "GET", TOKEN_URL, T0, None, None).expect("proof");
    assert!(matches!(check(&p), Err(ProofError::MethodMismatch { .. })));
}

#[test]
fn htu_is_compared_after_rfc3986_normalisation_rfc9449_4_3_9() {
    let k = key(Algorithm::ES256);
    for same in [
        "HTTPS://Login.Example/token",
        "https://login.example:443/token",
        "https://login.example/token?x=1#f",
    ] {
        let p = proof(&k, "POST", same, T0, None, None).expect("proof");
        assert!(check(&p).is_ok(), "{same}");
    }
    for other in [
        "https://login.example/token/",
        "https://login.example:8443/token",
        "http://login.example/token",
        "https://evil.example/token",
        "/token",
    ] {
        let p = proof(&k, "POST", other, T0, None, None).expect("proof");
        assert!(
            matches!(check(&p), Err(ProofError::UriMismatch { .. })),
            "{other}"
        );
    }
    assert_eq!(
        normalize_htu("http://A.example:80").as_deref(),
        Some("http://a.example/")
    );
}

#[test]
fn iat_must_be_inside_the_window_rfc9449_4_3_11() {
    let k = key(Algorithm::ES256);
    let rules = DpopRules::default();
    let at = |iat| {
        verify(
            &proof(&k, "POST", TOKEN_URL, iat, None, None).expect("p"),
            &rules,
            &expected(None),
            now(),
        )
    };
    assert!(at(T0 - 300).is_ok());
    assert!(matches!(at(T0 - 301), Err(ProofError::Stale { .. })));
    assert!(at(T0 + 60).is_ok());
    assert!(matches!(at(T0 + 61), Err(ProofError::Future { .. })));
}

#[test]
fn jti_htm_htu_and_iat_are_required_rfc9449_4_2() {
    let k = key(Algorithm::ES256);
    for name in ["jti", "htm", "htu", "iat"] {
        let mut c = claims();
        c.as_object_mut().expect("object").remove(name);
        assert!(
            matches!(check(&sign_with(&k, header(&k), c)), Err(ProofError::Claim { name: n, .. }) if n == name),
            "{name}"
        );
    }
    let mut c = claims();
    c["iat"] = "now".into();
    assert!(matches!(
        check(&sign_with(&k, header(&k), c)),
        Err(ProofError::Claim { name: "iat", .. })
    ));
}

#[test]
fn ath_must_hash_the_presented_token_rfc9449_4_3_12() {
    let k = key(Algorithm::ES256);
    let rules = DpopRules::default();
    let good = proof(&k, "POST", TOKEN_URL, T0, Some("the-token"), None).expect("p");
    assert!(verify(&good, &rules, &expected(Some("the-token")), now()).is_ok());
    assert!(matches!(
        verify(&good, &rules, &expected(Some("another-token")), now()),
        Err(ProofError::AthMismatch { found: Some(_) })
    ));
    let none = proof(&k, "POST", TOKEN_URL, T0, None, None).expect("p");
    assert!(matches!(
        verify(&none, &rules, &expected(Some("the-token")), now()),
        Err(ProofError::AthMismatch { found: None })
    ));
    // RFC 9449 §4.2 example value.
    assert_eq!(
        ath("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    );
}

#[test]
fn a_required_nonce_must_be_present_rfc9449_8() {
    let k = key(Algorithm::ES256);
    let rules = DpopRules::default().with_required_nonce(true);
    let without = proof(&k, "POST", TOKEN_URL, T0, None, None).expect("p");
    let e = verify(&without, &rules, &expected(None), now()).expect_err("no nonce");
    assert!(e.wants_nonce());
    let with = proof(&k, "POST", TOKEN_URL, T0, None, Some("n-1")).expect("p");
    assert_eq!(
        verify(&with, &rules, &expected(None), now())
            .expect("ok")
            .nonce
            .as_deref(),
        Some("n-1")
    );
}

#[test]
fn a_binding_needs_the_same_key_rfc9449_6_1() {
    assert!(check_binding("access token", "abc", "abc").is_ok());
    assert!(matches!(
        check_binding("access token", "abc", "abd"),
        Err(ProofError::KeyMismatch { .. })
    ));
}

#[test]
fn replay_ids_separate_jti_per_endpoint_rfc9449_11_1() {
    let k = key(Algorithm::ES256);
    let p = check(&proof(&k, "POST", TOKEN_URL, T0, None, None).expect("p")).expect("ok");
    let mut q = p.clone();
    q.htu = "https://login.example/userinfo".into();
    assert_ne!(replay_id(&p), replay_id(&q));
    assert_ne!(replay_id(&p), nonce_id(&p.jti));
    assert!(replay_expiry(&p, &DpopRules::default(), now()) >= now() + Duration::minutes(5));
}
