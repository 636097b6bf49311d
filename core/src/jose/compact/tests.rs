//! Unit tests (in their own file to keep the module short).

use super::*;

fn b64(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(s)
}

fn token(header: &str) -> String {
    format!("{}.{}.{}", b64(header), b64("{}"), b64("sig"))
}

#[test]
fn a_compact_jws_has_exactly_three_parts_rfc7515_7_1() {
    for (t, n) in [("", 1), ("a.b", 2), ("a.b.c.d", 4), ("a.b.c.d.e", 5)] {
        assert_eq!(
            parse_compact(t).err(),
            Some(JoseError::Parts { found: n }),
            "{t:?}"
        );
    }
    let t = token(r#"{"alg":"ES256","kid":"k","typ":"at+jwt"}"#);
    let ok = parse_compact(&t).expect("parses");
    assert_eq!(ok.header().alg, Algorithm::ES256);
    assert_eq!(ok.header().kid.as_deref(), Some("k"));
    assert_eq!(ok.payload(), b"{}");
    assert_eq!(ok.signature(), b"sig");
    assert!(!ok.header().nonce);
}

#[test]
fn the_signing_input_is_the_first_two_parts_rfc7515_5_2() {
    let t = token(r#"{"alg":"EdDSA"}"#);
    let jws = parse_compact(&t).expect("parses");
    let (input, _) = t.rsplit_once('.').expect("dots");
    assert_eq!(jws.signing_input(), input.as_bytes());
}

#[test]
fn parts_are_base64url_without_padding_rfc7515_2() {
    let h = b64(r#"{"alg":"ES256"}"#);
    for (t, part) in [
        (format!("{h}=.e30.AA"), "header"),
        ("!!.e30.AA".to_owned(), "header"),
        (format!("{h}.e30=.AA"), "payload"),
        (format!("{h}.e30.A+/A"), "signature"),
    ] {
        assert_eq!(
            parse_compact(&t).err(),
            Some(JoseError::NotBase64url { part }),
            "{t}"
        );
    }
}

#[test]
fn crit_is_refused_whatever_it_lists_rfc7515_4_1_11() {
    for header in [
        r#"{"alg":"ES256","crit":["exp-ext"],"exp-ext":1}"#,
        r#"{"alg":"ES256","crit":[]}"#,
        r#"{"alg":"ES256","crit":["b64"],"b64":false}"#,
        r#"{"alg":"ES256","crit":"b64"}"#,
    ] {
        let err = parse_compact(&token(header)).expect_err(header);
        assert!(matches!(err, JoseError::Critical { .. }), "{header}: {err}");
    }
    let err = parse_compact(&token(r#"{"alg":"ES256","crit":["exp-ext"]}"#)).expect_err("crit");
    assert_eq!(
        err,
        JoseError::Critical {
            names: vec!["exp-ext".into()]
        }
    );
    assert!(err.to_string().contains(r#"(crit: ["exp-ext"])"#), "{err}");
}

#[test]
fn alg_none_hmac_unknown_and_missing_are_refused_rfc7518_3_6_rfc8725_3_1() {
    for (header, found) in [
        (r#"{"alg":"none"}"#, "none"),
        (r#"{"alg":"HS256"}"#, "HS256"),
        (r#"{"alg":"RS512"}"#, "RS512"),
        (r#"{"alg":"es256"}"#, "es256"),
        (r#"{"typ":"JWT"}"#, ""),
    ] {
        assert_eq!(
            parse_compact(&token(header)).err(),
            Some(JoseError::UnsupportedAlgorithm {
                found: found.into()
            }),
            "{header}"
        );
    }
}

#[test]
fn repeated_header_members_are_refused_not_resolved_to_the_last_rfc7515_5_2() {
    for (header, name) in [
        (r#"{"alg":"ES256","alg":"none"}"#, "alg"),
        (r#"{"alg":"none","alg":"ES256"}"#, "alg"),
        (r#"{"alg":"ES256","kid":"a","kid":"b"}"#, "kid"),
        // Members idpkit does not read count too.
        (r#"{"alg":"ES256","x5t":"a","x5t":"b"}"#, "x5t"),
    ] {
        let err = parse_compact(&token(header)).expect_err(header);
        assert_eq!(
            err,
            JoseError::Json {
                part: "header",
                error: ObjectError::Duplicate { name: name.into() }
            },
            "{header}"
        );
        assert!(
            err.to_string().contains(&format!(
                "header has the member \"{name}\" more than once; duplicates are refused"
            )),
            "{err}"
        );
    }
}

#[test]
fn a_header_that_is_not_a_json_object_is_refused_rfc7515_4() {
    for (header, found) in [
        (r#"["RS256","rsa-1","at+jwt"]"#, JsonType::Array),
        (r#""RS256""#, JsonType::String),
        ("null", JsonType::Null),
    ] {
        let err = parse_compact(&token(header)).expect_err(header);
        assert_eq!(
            err,
            JoseError::Json {
                part: "header",
                error: ObjectError::NotObject { found }
            },
            "{header}"
        );
    }
    let err = parse_compact(&token(r#"["RS256","rsa-1","at+jwt"]"#)).expect_err("array");
    assert_eq!(
        err.to_string(),
        "the JWS header is an array, not a JSON object"
    );
    let err = parse_compact(&token("not json")).expect_err("not json");
    assert!(
        err.to_string().starts_with("the JWS header is not JSON ("),
        "{err}"
    );
}

#[test]
fn header_members_have_their_rfc7515_4_1_types() {
    let err = parse_compact(&token(r#"{"alg":"ES256","kid":7}"#)).expect_err("kid");
    assert_eq!(
        err,
        JoseError::HeaderMember {
            name: "kid",
            expected: "a string",
            found: JsonType::Number
        }
    );
    assert_eq!(
        err.to_string(),
        "the JWS header member \"kid\" is a number, expected a string"
    );
    let err = parse_compact(&token(r#"{"alg":["RS256"]}"#)).expect_err("alg");
    assert!(matches!(err, JoseError::HeaderMember { name: "alg", .. }));
}

#[test]
fn the_parts_refusal_says_how_many_parts_it_found_rfc7515_7_1() {
    assert_eq!(
        parse_compact("a.b").expect_err("two").to_string(),
        "has 2 parts, not the three dot-separated parts of a JWS compact serialisation"
    );
    assert!(
        parse_compact("opaque")
            .expect_err("one")
            .to_string()
            .starts_with("has 1 part,")
    );
    assert!(
        parse_compact("a.b.c.d.e")
            .expect_err("jwe")
            .to_string()
            .contains("encrypted JWE")
    );
}

#[test]
fn a_header_nonce_is_detected() {
    let t = token(r#"{"alg":"RS256","nonce":"abc"}"#);
    let jws = parse_compact(&t).expect("parses");
    assert!(jws.header().nonce);
}

#[test]
fn overlong_signatures_are_refused_before_any_key_is_used() {
    let t = format!(
        "{}.e30.{}",
        b64(r#"{"alg":"RS256"}"#),
        URL_SAFE_NO_PAD.encode([0u8; MAX_SIGNATURE_LEN + 1])
    );
    assert!(matches!(
        parse_compact(&t),
        Err(JoseError::SignatureTooLong { .. })
    ));
}

#[test]
fn typ_may_omit_application_and_ignores_case_rfc7515_4_1_9() {
    assert!(typ_matches("at+jwt", "at+jwt"));
    assert!(typ_matches("application/AT+JWT", "at+jwt"));
    assert!(!typ_matches("JWT", "at+jwt"));
    assert!(!typ_matches("application/", "at+jwt"));
    assert!(!typ_matches("text/at+jwt", "at+jwt"));
}
