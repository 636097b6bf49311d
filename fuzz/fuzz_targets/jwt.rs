//! The compact JWS / JWT parser and the validator's claim decoding: `jose::parse_compact`,
//! `Validator::validate` and `Validator::inspect` with a static JWKS (an Ed25519 and a
//! P-256 key) and a fixed clock.
//!
//! Input: the first byte picks what is fuzzed:
//! - 0: the whole token (header, payload, signature all fuzzed);
//! - 1: the payload, signed with the trusted Ed25519 key under a good header, so that the
//!   claim checks past the signature are reached;
//! - 2: the header, signed with that key over good claims.
//!
//! Invariants: no panic; `inspect` answers exactly `validate`'s verdict; an accepted token
//! parses, is signed with an allowed algorithm, and has the trusted `iss`, the audience
//! and an unexpired `exp` (RFC 9068 §4, RFC 7519 §4.1).
#![no_main]

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::executor::block_on;
use idpkit_core::jose::parse_compact;
use idpkit_core::{Algorithm, Jwks, SigningKey, TrustedIssuer, Validator};
use idpkit_fuzz::{AUDIENCE, ISSUER, NOW, clock, ec_key, ed_key};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

struct Fixture {
    validator: Validator,
    ed: SigningKey,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let ed = ed_key(7, "ed-1");
        let ec = ec_key("ec-1");
        let validator = Validator::builder()
            .trust(
                TrustedIssuer::new(ISSUER, AUDIENCE)
                    .with_jwks(Jwks::new(vec![
                        ed.public_jwk().clone(),
                        ec.public_jwk().clone(),
                    ]))
                    .with_algorithms([Algorithm::EdDSA, Algorithm::ES256]),
            )
            .clock(clock())
            .build()
            .expect("validator");
        Fixture { validator, ed }
    })
}

fn sign(key: &SigningKey, header: &[u8], payload: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let sig = key.sign(input.as_bytes()).expect("sign");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let f = fixture();
    let good_header = br#"{"alg":"EdDSA","kid":"ed-1","typ":"at+jwt"}"#;
    let good_claims = format!(
        r#"{{"iss":"{ISSUER}","sub":"alice","aud":"{AUDIENCE}","exp":{},"iat":{NOW},"client_id":"app","scope":"read"}}"#,
        NOW + 300
    );
    let token = match mode % 3 {
        0 => String::from_utf8_lossy(rest).into_owned(),
        1 => sign(&f.ed, good_header, rest),
        _ => sign(&f.ed, rest, good_claims.as_bytes()),
    };

    let _ = parse_compact(&token);
    let verdict = block_on(f.validator.validate(&token));
    let inspection = block_on(f.validator.inspect(&token));
    assert_eq!(
        inspection.verdict,
        verdict.as_ref().map(|_| ()).map_err(Clone::clone),
        "inspect and validate disagree"
    );
    let Ok(valid) = verdict else {
        return;
    };
    let jws = parse_compact(&token).expect("an accepted token parses");
    assert!(matches!(
        jws.header().alg,
        Algorithm::EdDSA | Algorithm::ES256
    ));
    let claims = valid.claims();
    assert_eq!(claims.get("iss"), Some(&Value::from(ISSUER)));
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == AUDIENCE,
        Some(Value::Array(a)) => a.iter().any(|v| v == AUDIENCE),
        _ => false,
    };
    assert!(aud_ok, "accepted without the audience: {claims:?}");
    let exp = claims.get("exp").and_then(Value::as_f64).expect("exp");
    assert!(exp + 60.0 > NOW as f64, "accepted an expired token");
});
