//! Unit tests (in their own file to keep the module short).

use super::*;

const CB: &str = "https://app.example/cb";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn confidential() -> Client {
    Client::confidential("web", "s")
        .redirect_uri(CB)
        .scopes(["openid", "profile", "offline_access"])
        .build()
        .expect("valid")
}

fn public() -> Client {
    Client::public("spa")
        .redirect_uri(CB)
        .redirect_uri("https://app.example/cb2")
        .scopes(["openid", "profile"])
        .build()
        .expect("valid")
}

fn params(pairs: &[(&str, &str)]) -> Params {
    Params::from_pairs(pairs.iter().copied())
}

fn base() -> Vec<(&'static str, &'static str)> {
    vec![
        ("client_id", "web"),
        ("response_type", "code"),
        ("scope", "openid profile"),
        ("state", "st"),
    ]
}

fn with(extra: &[(&'static str, &'static str)]) -> Params {
    let mut v = base();
    for (k, val) in extra {
        v.retain(|(kk, _)| kk != k);
        v.push((k, val));
    }
    params(&v)
}

fn ok(p: &Params, c: &Client) -> AuthorizationRequest {
    match parse(p, Some(c), &Known::none()) {
        Ok(r) => r,
        Err(e) => panic!("refused: {e:?}"),
    }
}

fn redirected(p: &Params, c: &Client) -> (Target, OAuthError) {
    match parse(p, Some(c), &Known::none()) {
        Err(Refused::Redirect(t, e)) => (t, e),
        other => panic!("expected a redirected error, got {other:?}"),
    }
}

fn shown(p: &Params, c: Option<&Client>) -> OAuthError {
    match parse(p, c, &Known::none()) {
        Err(Refused::Show(e)) => e,
        other => panic!("expected an error page, got {other:?}"),
    }
}

#[test]
fn a_valid_request_keeps_what_the_code_binds_rfc6749_4_1_1() {
    let r = ok(
        &with(&[("nonce", "n-1"), ("redirect_uri", CB)]),
        &confidential(),
    );
    assert_eq!(r.client_id, "web");
    assert_eq!(r.redirect_uri, CB);
    assert!(r.redirect_uri_sent);
    assert_eq!(r.scopes, vec!["openid", "profile"]);
    assert_eq!(r.state.as_deref(), Some("st"));
    assert_eq!(r.nonce.as_deref(), Some("n-1"));
    assert_eq!(r.response_mode, ResponseMode::Query);
}

#[test]
fn a_single_registered_redirect_uri_may_be_left_out_rfc6749_3_1_2_3() {
    let r = ok(&with(&[]), &confidential());
    assert_eq!(r.redirect_uri, CB);
    assert!(!r.redirect_uri_sent, "the token request need not repeat it");
    let e = shown(
        &params(&[("client_id", "spa"), ("response_type", "code")]),
        Some(&public()),
    );
    assert_eq!(
        e.description, "missing redirect_uri",
        "two registered: required"
    );
}

#[test]
fn unknown_client_and_bad_redirect_are_shown_never_redirected_rfc6749_4_1_2_1() {
    assert_eq!(shown(&with(&[]), None).description, "unknown client_id");
    let e = shown(
        &with(&[("redirect_uri", "https://evil.example/cb")]),
        Some(&confidential()),
    );
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    assert!(e.description.contains("not registered"));
    let e = shown(&params(&[("response_type", "code")]), None);
    assert_eq!(e.description, "missing parameter client_id");
}

#[test]
fn client_and_redirect_are_checked_before_anything_that_could_redirect() {
    // Every other parameter is wrong too; the redirect URI still decides.
    let p = with(&[
        ("redirect_uri", "https://evil.example/cb"),
        ("response_type", "token"),
        ("response_mode", "bogus"),
        ("prompt", "bogus"),
    ]);
    assert!(
        shown(&p, Some(&confidential()))
            .description
            .contains("not registered")
    );
    let dup = params(&[("client_id", "web"), ("client_id", "web")]);
    assert!(
        shown(&dup, Some(&confidential()))
            .description
            .contains("more than once")
    );
}

#[test]
fn errors_after_the_redirect_check_go_back_with_state_and_mode() {
    let (t, e) = redirected(
        &with(&[("response_type", "token"), ("response_mode", "fragment")]),
        &confidential(),
    );
    assert_eq!(e.code, ErrorCode::UnsupportedResponseType);
    assert_eq!(t.mode, ResponseMode::Fragment);
    assert_eq!(t.state.as_deref(), Some("st"));
    assert_eq!(t.redirect_uri, CB);
}

#[test]
fn an_unknown_response_mode_is_answered_in_query_mode() {
    let (t, e) = redirected(&with(&[("response_mode", "jwt")]), &confidential());
    assert_eq!(e.description, "unsupported response_mode");
    assert_eq!(t.mode, ResponseMode::Query);
    assert_eq!(t.state.as_deref(), Some("st"));
    let r = ok(&with(&[("response_mode", "form_post")]), &confidential());
    assert_eq!(r.response_mode, ResponseMode::FormPost);
}

#[test]
fn a_repeated_state_is_redirected_without_state_rfc6749_3_1() {
    let mut v = base();
    v.push(("state", "again"));
    let (t, e) = redirected(&params(&v), &confidential());
    assert!(e.description.contains("more than once"));
    assert_eq!(t.state, None);
}

#[test]
fn repeated_parameters_are_invalid_request_rfc6749_3_1() {
    let mut v = base();
    v.push(("scope", "openid"));
    let (_, e) = redirected(&params(&v), &confidential());
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    assert_eq!(e.description, "parameter scope is included more than once");
}

#[test]
fn request_objects_are_refused_with_their_own_codes_oidc_6_1() {
    let (_, e) = redirected(&with(&[("request", "eyJ...")]), &confidential());
    assert_eq!(e.code, ErrorCode::RequestNotSupported);
    let (_, e) = redirected(&with(&[("request_uri", "urn:x")]), &confidential());
    assert_eq!(e.code, ErrorCode::RequestUriNotSupported);
}

#[test]
fn only_the_code_response_type_rfc6749_4_1_1() {
    let (_, e) = redirected(
        &with(&[("response_type", "code id_token")]),
        &confidential(),
    );
    assert_eq!(e.code, ErrorCode::UnsupportedResponseType);
    let mut v = base();
    v.retain(|(k, _)| *k != "response_type");
    let (_, e) = redirected(&params(&v), &confidential());
    assert_eq!(e.description, "missing parameter response_type");
}

#[test]
fn a_client_without_the_code_grant_is_unauthorized_client_rfc6749_4_1_2_1() {
    let c = Client::confidential("m2m", "s")
        .redirect_uri(CB)
        .grant_types([GrantType::ClientCredentials])
        .build()
        .expect("valid");
    let p = params(&[
        ("client_id", "m2m"),
        ("response_type", "code"),
        ("scope", "x"),
    ]);
    let (_, e) = redirected(&p, &c);
    assert_eq!(e.code, ErrorCode::UnauthorizedClient);
}

#[test]
fn scope_is_required_and_must_be_registered_rfc6749_3_3() {
    let (_, e) = redirected(&with(&[("scope", " ")]), &confidential());
    assert_eq!(
        (e.code, e.description.as_ref()),
        (ErrorCode::InvalidScope, "scope is required")
    );
    let (_, e) = redirected(&with(&[("scope", "openid admin")]), &confidential());
    assert_eq!(e.code, ErrorCode::InvalidScope);
}

#[test]
fn public_clients_must_send_an_s256_challenge_rfc9700_2_1_1() {
    let spa = |extra: &[(&'static str, &'static str)]| {
        let mut v = vec![
            ("client_id", "spa"),
            ("response_type", "code"),
            ("scope", "openid"),
            ("redirect_uri", CB),
        ];
        v.extend_from_slice(extra);
        params(&v)
    };
    let (_, e) = redirected(&spa(&[]), &public());
    assert!(e.description.contains("code_challenge is required"));
    let (_, e) = redirected(
        &spa(&[
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "plain"),
        ]),
        &public(),
    );
    assert!(e.description.contains("plain"));
    let (_, e) = redirected(&spa(&[("code_challenge", CHALLENGE)]), &public());
    assert!(
        e.description.contains("S256"),
        "no method means plain: refused"
    );
    let r = ok(
        &spa(&[
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ]),
        &public(),
    );
    assert_eq!(r.code_challenge.as_deref(), Some(CHALLENGE));
}

#[test]
fn a_confidential_client_may_send_a_challenge_and_it_is_then_bound_rfc7636_4_3() {
    let r = ok(
        &with(&[
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ]),
        &confidential(),
    );
    assert_eq!(r.code_challenge.as_deref(), Some(CHALLENGE));
    assert_eq!(ok(&with(&[]), &confidential()).code_challenge, None);
}

#[test]
fn prompt_values_and_none_alone_oidc_3_1_2_1() {
    assert_eq!(
        prompt(Some("login consent")).expect("ok"),
        vec!["login", "consent"]
    );
    assert!(prompt(None).expect("ok").is_empty());
    assert!(prompt(Some("select_account")).is_ok());
    let e = prompt(Some("none login")).expect_err("none alone");
    assert!(e.description.contains("cannot be combined"));
    let e = prompt(Some("create")).expect_err("unknown");
    assert_eq!(e.description, "unsupported prompt value create");
    let (_, e) = redirected(&with(&[("prompt", "none consent")]), &confidential());
    assert_eq!(e.code, ErrorCode::InvalidRequest);
}

#[test]
fn max_age_is_a_non_negative_integer_oidc_3_1_2_1() {
    assert_eq!(max_age(Some("0")).expect("zero"), Some(0));
    assert_eq!(max_age(Some("3600")).expect("ok"), Some(3600));
    assert_eq!(max_age(None).expect("absent"), None);
    for bad in ["-1", "1.5", "soon", "99999999999999999999"] {
        assert!(max_age(Some(bad)).is_err(), "{bad}");
    }
}

#[test]
fn nonce_is_kept_only_for_openid_requests_oidc_3_1_2_1() {
    let r = ok(
        &with(&[("scope", "profile"), ("nonce", "n")]),
        &confidential(),
    );
    assert_eq!(r.nonce, None);
    let r = ok(&with(&[("nonce", "n")]), &confidential());
    assert_eq!(r.nonce.as_deref(), Some("n"));
}

#[test]
fn idp_hint_names_only_configured_upstreams() {
    let p = with(&[("idp_hint", "corp")]);
    let r = parse(&p, Some(&confidential()), &corp()).expect("ok");
    assert_eq!(r.upstream_hint.as_deref(), Some("corp"));
    let r = parse(&p, Some(&confidential()), &Known::none()).expect("ok");
    assert_eq!(r.upstream_hint, None, "an unknown upstream is ignored");
    let p = with(&[("acr_values", "urn:mace:loa:2 idp:corp")]);
    let r = parse(&p, Some(&confidential()), &corp()).expect("ok");
    assert_eq!(r.upstream_hint.as_deref(), Some("corp"));
}

#[test]
fn login_hint_is_kept_and_prompts_are_queryable() {
    let r = ok(
        &with(&[("login_hint", "alice"), ("prompt", "login")]),
        &confidential(),
    );
    assert_eq!(r.login_hint.as_deref(), Some("alice"));
    assert!(r.prompts("login"));
    assert!(!r.prompts("none"));
    let t = r.target();
    assert_eq!(
        (t.redirect_uri.as_str(), t.state.as_deref()),
        (CB, Some("st"))
    );
}

#[test]
fn what_an_unauthenticated_request_makes_idpkit_keep_is_bounded() {
    let c = confidential();
    let at_limit: &'static str = Box::leak("s".repeat(MAX_PARAM_BYTES).into_boxed_str());
    let over: &'static str = Box::leak("s".repeat(MAX_PARAM_BYTES + 1).into_boxed_str());
    let r = ok(
        &with(&[
            ("state", at_limit),
            ("nonce", at_limit),
            ("login_hint", at_limit),
        ]),
        &c,
    );
    assert_eq!(
        r.state.as_deref(),
        Some(at_limit),
        "kept exactly up to the limit"
    );
    // A `state` too long to echo is shown to the user, never redirected.
    let e = shown(&with(&[("state", over)]), Some(&c));
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    assert!(e.description.contains("state"), "{}", e.description);
    // The other kept parameters go back to the client, with its state.
    for name in ["nonce", "login_hint", "scope", "idp_hint", "acr_values"] {
        let (to, e) = redirected(&with(&[(name, over)]), &c);
        assert_eq!(e.code, ErrorCode::InvalidRequest, "{name}");
        assert!(e.description.contains(name), "{}", e.description);
        assert_eq!(to.state.as_deref(), Some("st"));
    }
}

fn corp() -> Known<'static> {
    Known {
        is_upstream: &|n| n == "corp",
        ..Known::none()
    }
}

fn with_resources() -> Known<'static> {
    static RESOURCES: std::sync::OnceLock<Vec<Resource>> = std::sync::OnceLock::new();
    Known {
        resources: RESOURCES.get_or_init(|| {
            vec![
                Resource::new("urn:demo-api", "demo-api"),
                Resource::new("https://files.example/", "files"),
            ]
        }),
        ..Known::none()
    }
}

#[test]
fn resource_may_repeat_and_is_kept_other_parameters_may_not_rfc8707_2() {
    let mut v = base();
    v.push(("resource", "urn:demo-api"));
    v.push(("resource", "https://files.example/"));
    let r = match parse(&params(&v), Some(&confidential()), &with_resources()) {
        Ok(r) => r,
        Err(e) => panic!("refused: {e:?}"),
    };
    assert_eq!(r.resources, vec!["urn:demo-api", "https://files.example/"]);
    v.push(("ui_locales", "en"));
    v.push(("ui_locales", "fr"));
    match parse(&params(&v), Some(&confidential()), &with_resources()) {
        Err(Refused::Redirect(_, e)) => {
            assert_eq!(e.code, ErrorCode::InvalidRequest);
            assert!(e.description.contains("ui_locales"), "{}", e.description);
        }
        other => panic!("expected a redirected error, got {other:?}"),
    }
}

#[test]
fn an_unknown_resource_is_redirected_as_invalid_target_rfc8707_2() {
    let (_, e) = redirected(&with(&[("resource", "urn:demo-api")]), &confidential());
    assert_eq!(e.code, ErrorCode::InvalidTarget, "none registered here");
}

#[test]
fn authorization_details_need_a_registered_type_rfc9396_5() {
    let (_, e) = redirected(
        &with(&[(
            "authorization_details",
            r#"[{"type":"payment_initiation"}]"#,
        )]),
        &confidential(),
    );
    assert_eq!(e.code, ErrorCode::InvalidAuthorizationDetails);
}
