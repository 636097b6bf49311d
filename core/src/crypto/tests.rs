//! Unit tests of the crypto primitives (in their own file to keep the module short).

use super::*;

fn verifier(key: &KeyPair) -> VerifyingKey {
    VerifyingKey::new(key.public_key().expect("public key"), None)
}

#[test]
fn es256_signatures_are_64_byte_jose_form_and_verify_rfc7518_3_4() {
    let (key, _) = KeyPair::generate(Algorithm::ES256).expect("generate");
    let sig = key.sign(b"header.payload").expect("sign");
    assert_eq!(sig.len(), 64);
    let v = verifier(&key);
    assert!(v.verify(Algorithm::ES256, b"header.payload", &sig));
    assert!(!v.verify(Algorithm::ES256, b"header.payloaX", &sig));
}

#[test]
fn verify_refuses_an_algorithm_that_does_not_match_the_key_type_rfc8725_3_1() {
    let (key, _) = KeyPair::generate(Algorithm::EdDSA).expect("generate");
    let sig = key.sign(b"m").expect("sign");
    let v = verifier(&key);
    assert!(v.verify(Algorithm::EdDSA, b"m", &sig));
    assert!(!v.verify(Algorithm::ES256, b"m", &sig));
    assert!(!v.verify(Algorithm::RS256, b"m", &sig));
    assert!(!v.fits(Algorithm::RS256));
}

#[cfg(not(feature = "ring"))]
#[test]
fn rsa_keys_round_trip_through_pkcs8_and_a_declared_alg_limits_verification() {
    let (key, der) = KeyPair::generate(Algorithm::RS256).expect("generate");
    let again = KeyPair::from_pkcs8(Algorithm::RS256, &der).expect("parse");
    assert_eq!(key.public_key().ok(), again.public_key().ok());
    let sig = again.sign(b"abc").expect("sign");
    assert!(verifier(&key).verify(Algorithm::RS256, b"abc", &sig));
    let ps = KeyPair::from_pkcs8(Algorithm::PS256, &der).expect("parse");
    let sig = ps.sign(b"abc").expect("sign");
    let only_ps = VerifyingKey::new(ps.public_key().expect("public"), Some(Algorithm::PS256));
    assert!(only_ps.verify(Algorithm::PS256, b"abc", &sig));
    assert!(!only_ps.verify(Algorithm::RS256, b"abc", &sig));
}

#[test]
fn spki_public_keys_are_read_for_p256_and_refused_for_other_curves() {
    let (key, _) = KeyPair::generate(Algorithm::ES256).expect("generate");
    let PublicKey::P256 { x, y } = key.public_key().expect("public") else {
        panic!("a P-256 key")
    };
    let mut point = vec![0, 4];
    point.extend(x);
    point.extend(y);
    let spki = |curve: &[u8]| {
        der::seq(&[
            &der::seq(&[&der::oid(der::oid::EC), &der::oid(curve)]),
            &der::tlv(der::tag::BIT_STRING, &point),
        ])
    };
    assert_eq!(
        PublicKey::from_spki(&spki(der::oid::P256)),
        key.public_key().ok()
    );
    assert_eq!(PublicKey::from_spki(&spki(der::oid::P384)), None);
}

#[test]
fn ecdsa_der_signatures_become_64_byte_jose_form() {
    // r with a leading 0x00 (high bit set), s short (leading zero byte dropped by DER).
    let mut r = vec![0x00, 0x80];
    r.extend([0x11; 31]);
    let s_val = vec![0x7f; 31];
    let mut body = vec![0x02, r.len() as u8];
    body.extend(&r);
    body.extend([0x02, s_val.len() as u8]);
    body.extend(&s_val);
    let mut der = vec![0x30, body.len() as u8];
    der.extend(body);
    let jose = ecdsa_der_to_jose(&der).expect("converts");
    assert_eq!(jose[0], 0x80);
    assert_eq!(&jose[1..32], &[0x11; 31]);
    assert_eq!(jose[32], 0x00, "short s is left-padded");
    assert_eq!(&jose[33..], &[0x7f; 31]);
    assert!(
        ecdsa_der_to_jose(&der[..der.len() - 1]).is_none(),
        "truncated DER is refused"
    );
    // A real signature: DER from a key we also hold, verified after conversion.
    let (key, _) = KeyPair::generate(Algorithm::ES256).expect("key");
    let jose = key.sign(b"m").expect("sign");
    let mut der = Vec::new();
    for half in [&jose[..32], &jose[32..]] {
        let mut v: Vec<u8> = half.iter().copied().skip_while(|b| *b == 0).collect();
        if v.first().is_some_and(|b| b & 0x80 != 0) {
            v.insert(0, 0);
        }
        der.push(0x02);
        der.push(v.len() as u8);
        der.extend(v);
    }
    let mut seq = vec![0x30, der.len() as u8];
    seq.extend(der);
    let back = ecdsa_der_to_jose(&seq).expect("converts");
    assert!(verifier(&key).verify(Algorithm::ES256, b"m", &back));
}

#[test]
fn constant_time_eq_compares_content_and_length() {
    assert!(constant_time_eq(b"abc", b"abc"));
    assert!(!constant_time_eq(b"abc", b"abd"));
    assert!(!constant_time_eq(b"abc", b"ab"));
}

const EDDSA_AT_HASH: &str = "8xltSlOGYrWy8W9yNvRlEth1i_bXW-JROWPLvCv5zog";

#[test]
fn left_half_hash_matches_a_published_at_hash_example() {
    // Worked example of the at_hash computation (SHA-256, left 128 bits, base64url).
    assert_eq!(
        left_half_hash(Algorithm::RS256, "dNZX1hEZ9wBCzNL40Upu646bdzQA"),
        "wfgvmE9VxjAudsl9lc6TqA"
    );
    // EdDSA: left half of SHA-512 (computed independently with Python's hashlib).
    assert_eq!(
        left_half_hash(Algorithm::EdDSA, "dNZX1hEZ9wBCzNL40Upu646bdzQA"),
        EDDSA_AT_HASH
    );
}
