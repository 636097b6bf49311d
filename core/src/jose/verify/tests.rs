//! Unit tests (in their own file to keep the module short).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use super::*;
use crate::jose::{Jwk, SigningKey};

fn at(t: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t).expect("time")
}

fn mint(key: &SigningKey, header: serde_json::Value, claims: serde_json::Value) -> String {
    let h = URL_SAFE_NO_PAD.encode(header.to_string());
    let p = URL_SAFE_NO_PAD.encode(claims.to_string());
    let sig = key.sign(format!("{h}.{p}").as_bytes()).expect("sign");
    format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode(sig))
}

struct Fixture {
    ec: SigningKey,
    ed: SigningKey,
    set: KeySet,
}

fn fixture() -> Fixture {
    let ec = SigningKey::generate(Algorithm::ES256).expect("ec").0;
    let ed = SigningKey::generate(Algorithm::EdDSA).expect("ed").0;
    let set = KeySet::new(&Jwks::new(vec![
        ec.public_jwk().clone(),
        ed.public_jwk().clone(),
    ]));
    Fixture { ec, ed, set }
}

const ALL: &[Algorithm] = &Algorithm::ALL;

#[test]
fn the_rfc7515_a_3_es256_example_verifies() {
    // RFC 7515 Appendix A.3: header {"alg":"ES256"}, the P-256 key of A.3.1.
    let jwk: Jwk = serde_json::from_value(json!({
        "kty": "EC", "crv": "P-256", "kid": "a3",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
    }))
    .expect("jwk");
    let token = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
    let jws = parse_compact(token).expect("parses");
    let key = VerifyingKey::from_jwk(&jwk).expect("key");
    assert_eq!(verify_signature(&key, "a3", &jws), Ok(()));
    // The example's exp is 1300819380.
    let set = KeySet::new(&Jwks::new(vec![jwk]));
    assert!(
        matches!(
            verify_compact(token, &set, ALL, at(1_300_819_379)),
            Err(VerifyError::UnknownKid { .. })
        ),
        "the example has no kid"
    );
}

#[test]
fn a_good_token_verifies_and_returns_its_payload() {
    let f = fixture();
    let t = mint(
        &f.ec,
        json!({"alg": "ES256", "kid": f.ec.kid(), "typ": "at+jwt"}),
        json!({"exp": 2000, "nbf": 1000, "sub": "alice"}),
    );
    let v = verify_compact(&t, &f.set, ALL, at(1500)).expect("verifies");
    assert!(v.header().typ_is("at+jwt"));
    let claims: serde_json::Value = serde_json::from_slice(v.payload()).expect("json");
    assert_eq!(claims["sub"], "alice");
    let payload = v.payload().to_vec();
    assert_eq!(
        v.into_payload(),
        payload,
        "taken out, the payload is the same bytes"
    );
}

#[test]
fn an_algorithm_outside_the_allow_list_is_refused_rfc8725_3_1() {
    let f = fixture();
    let t = mint(
        &f.ed,
        json!({"alg": "EdDSA", "kid": f.ed.kid()}),
        json!({"exp": 2000}),
    );
    assert_eq!(
        verify_compact(&t, &f.set, &[Algorithm::ES256], at(1500)),
        Err(VerifyError::DisallowedAlgorithm {
            found: Algorithm::EdDSA,
            allowed: vec![Algorithm::ES256]
        })
    );
    assert!(verify_compact(&t, &f.set, &[Algorithm::EdDSA], at(1500)).is_ok());
}

#[test]
fn the_token_does_not_pick_the_key_type_rfc8725_3_1_rfc7517_4_4() {
    let f = fixture();
    // An EdDSA signature claiming ES256 under the EC key's kid ...
    let t = mint(
        &f.ed,
        json!({"alg": "EdDSA", "kid": f.ec.kid()}),
        json!({"exp": 2000}),
    );
    assert!(matches!(
        verify_compact(&t, &f.set, ALL, at(1500)),
        Err(VerifyError::KeyTypeMismatch { .. })
    ));
    // ... and a key that declares another alg than the token names.
    let mut jwk = f.ec.public_jwk().clone();
    jwk.kty = "OKP".into();
    jwk.alg = Some(Algorithm::ES256);
    // (The key type is right for EdDSA here; the JWK's alg pins it to ES256.)
    let set = KeySet::new(&Jwks::new(vec![jwk]));
    assert!(matches!(
        set.key(f.ec.kid(), Algorithm::EdDSA),
        Err(VerifyError::KeyAlgorithmMismatch {
            key_alg: Algorithm::ES256,
            ..
        })
    ));
}

#[test]
fn unknown_kids_bad_signatures_and_header_nonces_are_refused_rfc7515_5_2() {
    let f = fixture();
    let t = mint(
        &f.ec,
        json!({"alg": "ES256", "kid": "nope"}),
        json!({"exp": 2000}),
    );
    assert!(matches!(
        verify_compact(&t, &f.set, ALL, at(1500)),
        Err(VerifyError::UnknownKid { found, .. }) if found == "nope"
    ));
    let t = mint(
        &f.ec,
        json!({"alg": "ES256", "kid": f.ec.kid()}),
        json!({"exp": 2000}),
    );
    let (hp, _) = t.rsplit_once('.').expect("jws");
    let forged = format!("{hp}.{}", URL_SAFE_NO_PAD.encode([7u8; 64]));
    assert!(matches!(
        verify_compact(&forged, &f.set, ALL, at(1500)),
        Err(VerifyError::BadSignature { .. })
    ));
    let t = mint(
        &f.ec,
        json!({"alg": "ES256", "kid": f.ec.kid(), "nonce": "n"}),
        json!({"exp": 2000}),
    );
    assert_eq!(
        verify_compact(&t, &f.set, ALL, at(1500)),
        Err(VerifyError::HeaderNonce)
    );
    let t = mint(
        &f.ec,
        json!({"alg": "ES256", "kid": f.ec.kid(), "crit": ["x"], "x": 1}),
        json!({"exp": 2000}),
    );
    assert!(matches!(
        verify_compact(&t, &f.set, ALL, at(1500)),
        Err(VerifyError::Jose(JoseError::Critical { .. }))
    ));
}

#[test]
fn exp_is_required_and_nbf_respected_rfc7519_4_1_4_and_4_1_5() {
    let f = fixture();
    let h = json!({"alg": "ES256", "kid": f.ec.kid()});
    let run = |claims| verify_compact(&mint(&f.ec, h.clone(), claims), &f.set, ALL, at(1500));
    assert_eq!(run(json!({"sub": "x"})), Err(VerifyError::MissingExp));
    assert!(matches!(
        run(json!({"exp": 1500})),
        Err(VerifyError::Expired { exp: 1500, .. })
    ));
    assert!(matches!(
        run(json!({"exp": 2000, "nbf": 1501})),
        Err(VerifyError::NotYetValid { .. })
    ));
    assert!(run(json!({"exp": 1e300, "nbf": -1e300})).is_ok());
    assert!(matches!(
        run(json!(["exp", 2000])),
        Err(VerifyError::Jose(JoseError::Json {
            part: "payload",
            ..
        }))
    ));
    assert_eq!(
        run(json!({"exp": "2000"})),
        Err(VerifyError::ClaimType {
            name: "exp",
            found: crate::jose::JsonType::String
        })
    );
    assert_eq!(
        check_iat(Some(161), 100, 60),
        Err(VerifyError::IssuedInFuture {
            iat: 161,
            now: 100,
            leeway: 60
        })
    );
    assert_eq!(check_iat(Some(160), 100, 60), Ok(()));
    assert_eq!(check_exp(Some(100), 130, 60), Ok(()));
    assert_eq!(check_nbf(Some(150), 100, 60), Ok(()));
}

#[test]
fn the_cache_rebuilds_only_for_another_jwks() {
    let f = fixture();
    let jwks = Arc::new(Jwks::new(vec![f.ec.public_jwk().clone()]));
    let cache = KeySetCache::new();
    let a = cache.get(&jwks);
    assert!(Arc::ptr_eq(&a, &cache.get(&jwks)));
    let other = Arc::new(Jwks::new(vec![f.ed.public_jwk().clone()]));
    let b = cache.get(&other);
    assert!(!Arc::ptr_eq(&a, &b));
    assert!(b.contains(f.ed.kid()) && !b.contains(f.ec.kid()));
}

#[test]
fn an_unknown_kid_is_reported_with_the_kids_the_set_has_rfc7515_4_1_4() {
    // The rejection names what was known, so that an operator sees a key-rotation gap.
    let f = fixture();
    assert_eq!(
        f.set.kids(),
        vec![f.ec.kid().to_owned(), f.ed.kid().to_owned()]
    );
    let t = mint(
        &f.ec,
        json!({"alg": "ES256", "kid": "nope"}),
        json!({"exp": 2000}),
    );
    assert_eq!(
        verify_compact(&t, &f.set, ALL, at(1500)),
        Err(VerifyError::UnknownKid {
            found: "nope".into(),
            known: f.set.kids(),
        })
    );
    let mut nameless = f.ed.public_jwk().clone();
    nameless.kid = None;
    let set = KeySet::new(&Jwks::new(vec![f.ec.public_jwk().clone(), nameless]));
    assert_eq!(set.kids(), vec![f.ec.kid().to_owned()], "a key without kid");
}

#[test]
fn nbf_is_inclusive_a_token_is_valid_from_that_second_rfc7519_4_1_5() {
    // "MUST NOT be accepted for processing *before*" the nbf time: at nbf - leeway == now
    // it is accepted.
    assert_eq!(check_nbf(Some(160), 100, 60), Ok(()));
    assert_eq!(
        check_nbf(Some(161), 100, 60),
        Err(VerifyError::NotYetValid {
            nbf: 161,
            now: 100,
            leeway: 60
        })
    );
    let f = fixture();
    let h = json!({"alg": "ES256", "kid": f.ec.kid()});
    let t = mint(&f.ec, h, json!({"exp": 2000, "nbf": 1500}));
    assert!(verify_compact(&t, &f.set, ALL, at(1500)).is_ok());
}
