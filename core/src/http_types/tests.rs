//! Unit tests (in their own file to keep the module short).

use super::*;

#[test]
fn duplicate_parameters_are_invalid_request() {
    let p = Params::parse(b"a=1&b=2&a=3");
    assert_eq!(p.get("b").expect("single"), Some("2"));
    let e = p.get("a").unwrap_err();
    assert_eq!(e.code.as_str(), "invalid_request");
    assert_eq!(p.first_duplicate(), Some("a"));
}

#[test]
fn empty_values_count_as_absent() {
    let p = Params::parse(b"scope=&state=x");
    assert_eq!(p.get("scope").expect("ok"), None);
}

#[test]
fn oversized_and_unknown_bodies_are_refused() {
    let e = Request::from_http(
        "POST",
        None,
        [("content-type", "application/x-www-form-urlencoded")],
        &[b'a'; 100],
        10,
    )
    .unwrap_err();
    assert_eq!(e.status(), 413);
    let e = Request::from_http("POST", None, [("content-type", "text/plain")], b"a=b", 100)
        .unwrap_err();
    assert_eq!(e.code.as_str(), "invalid_request");
    let r = Request::from_http(
        "POST",
        Some("x=1"),
        [
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", "a=b; c=d"),
        ],
        b"grant_type=client_credentials",
        100,
    )
    .expect("parses");
    assert_eq!(
        r.params.get("grant_type").expect("one"),
        Some("client_credentials")
    );
    assert_eq!(
        r.params.get("x").expect("one"),
        None,
        "a POST's query is kept apart"
    );
    assert_eq!(r.query.get("x").expect("one"), Some("1"));
    assert!(
        r.check_back_channel().is_err(),
        "back-channel endpoints refuse URL parameters"
    );
    assert_eq!(r.cookie("c"), Some("d"));
    let many = (0..200)
        .map(|i| format!("p{i}=v"))
        .collect::<Vec<_>>()
        .join("&");
    let e = Request::from_http("GET", Some(&many), [], b"", 100).expect_err("too many");
    assert_eq!(e.code.as_str(), "invalid_request");
}

#[test]
fn a_json_body_is_refused_at_every_back_channel_endpoint_rfc6749_3_2() {
    let e = Request::from_http(
        "POST",
        None,
        [("Content-Type", "application/json")],
        br#"{"grant_type":"client_credentials"}"#,
        100,
    )
    .expect_err("JSON");
    assert_eq!((e.code.as_str(), e.status()), ("invalid_request", 400));
    assert!(
        e.description.contains("x-www-form-urlencoded"),
        "{}",
        e.description
    );
}

#[test]
fn parameters_that_are_not_utf8_are_refused_never_altered() {
    let e = Request::from_http("GET", Some("client_id=c&state=%FF%FE"), [], b"", 100)
        .expect_err("not UTF-8");
    assert_eq!(e.code.as_str(), "invalid_request");
    assert!(e.description.contains("state"), "{}", e.description);
    let form = [("content-type", "application/x-www-form-urlencoded")];
    assert!(Request::from_http("POST", None, form, b"code=%C3%28", 100).is_err());
    let p = Params::parse_exact(b"state=a+b%20c%2B%zz%E2%82%AC&&x&=v").expect("UTF-8");
    assert_eq!(
        p.pairs(),
        &[
            ("state".to_owned(), "a b c+%zz\u{20ac}".to_owned()),
            ("x".to_owned(), String::new()),
            (String::new(), "v".to_owned()),
        ]
    );
    // Exactly what the lenient parser gives for valid input.
    let raw = b"a=%41%2b+&b=%&c=%4";
    assert_eq!(Params::parse_exact(raw).expect("ok"), Params::parse(raw));
}

#[test]
fn a_repeated_idpkit_cookie_is_refused_others_are_left_alone() {
    let twice = [
        ("Cookie", "idpkit_session=a; other=1"),
        ("Cookie", "idpkit_session=b"),
    ];
    let e = Request::from_http("GET", None, twice, b"", 100).expect_err("repeated");
    assert!(
        e.description.contains("idpkit_session"),
        "{}",
        e.description
    );
    let one = [("Cookie", "idpkit_interaction=a; idpkit_session=b; x=1; x=2")];
    let r = Request::from_http("GET", None, one, b"", 100).expect("the host's own cookies");
    assert_eq!(r.cookie(crate::config::SESSION_COOKIE), Some("b"));
    let host_twice = [("Cookie", "__Host-idpkit_session=a; __Host-idpkit_session=b")];
    let e = Request::from_http("GET", None, host_twice, b"", 100).expect_err("repeated");
    assert!(
        e.description.contains("__Host-idpkit_session"),
        "{}",
        e.description
    );
}

#[test]
fn a_non_ascii_authorization_header_is_refused() {
    for bad in ["Bearer t\u{e9}st", "Bearer \u{FFFD}", "Bearer a\x01b"] {
        let e = Request::from_http("GET", None, [("Authorization", bad)], b"", 100).expect_err(bad);
        assert_eq!(e.code.as_str(), "invalid_request");
    }
    let r = Request::from_http(
        "GET",
        None,
        [("Authorization", "Bearer abc.DEF-_~+/=")],
        b"",
        100,
    )
    .expect("token68");
    assert_eq!(r.authorization.as_deref(), Some("Bearer abc.DEF-_~+/="));
}

#[test]
fn a_get_reads_the_query_and_ignores_a_body() {
    let r = Request::from_http("GET", Some("client_id=c&scope=openid"), [], b"x=1", 100)
        .expect("parses");
    assert_eq!(r.method, Method::Get);
    assert_eq!(r.params.get("client_id").expect("one"), Some("c"));
    assert_eq!(r.params.get("x").expect("one"), None);
    assert!(r.query.is_empty());
}

#[test]
fn two_authorization_headers_are_refused_rfc9110_5_3() {
    let e = Request::from_http(
        "POST",
        None,
        [("Authorization", "Basic a"), ("authorization", "Basic b")],
        b"",
        100,
    )
    .expect_err("ambiguous credentials");
    assert_eq!(e.description, "more than one Authorization header");
}

#[test]
fn json_bodies_take_strings_numbers_and_booleans_only() {
    let p = Params::from_json(br#"{"a":"x","n":3,"b":true}"#).expect("ok");
    assert_eq!(p.get("n").expect("one"), Some("3"));
    assert_eq!(p.get("b").expect("one"), Some("true"));
    assert!(Params::from_json(br#"{"a":["x"]}"#).is_err());
    assert!(Params::from_json(b"[1]").is_err());
}

#[test]
fn cookies_parse_with_spaces_and_quotes() {
    let c: Vec<(String, String)> = parse_cookies(" a=1 ;b=\"two\"; junk; c = 3").collect();
    assert_eq!(
        c,
        vec![
            ("a".into(), "1".into()),
            ("b".into(), "two".into()),
            ("c".into(), "3".into())
        ]
    );
}

#[test]
fn methods_map_head_to_get_and_unknown_to_other() {
    assert_eq!(Method::from_name("HEAD"), Method::Get);
    assert_eq!(Method::from_name("OPTIONS"), Method::Options);
    assert_eq!(Method::from_name("PUT"), Method::Put);
    assert_eq!(Method::from_name("PATCH"), Method::Other);
    assert_eq!(
        Method::from_name("get"),
        Method::Other,
        "method names are case-sensitive"
    );
}

#[test]
fn responses_answer_errors_as_json_with_basic_challenge_for_invalid_client() {
    let r = Response::from_error(&OAuthError::invalid_client("bad secret"));
    assert_eq!(r.status, 401);
    assert!(
        r.header_value("www-authenticate")
            .is_some_and(|v| v.starts_with("Basic"))
    );
    assert_eq!(r.header_value("cache-control"), Some("no-store"));
    assert_eq!(r.json_value()["error"], "invalid_client");
    let r = Response::from_error(&OAuthError::invalid_grant("x"));
    assert!(r.header_value("www-authenticate").is_none());
}
