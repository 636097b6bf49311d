use serde_json::json;

use super::*;
use crate::client::GrantType;

const ISS: &str = "https://idp.example";
const AT: &str = "urn:ietf:params:oauth:token-type:access_token";
const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";

fn params(pairs: &[(&str, &str)]) -> Params {
    Params::from_pairs(pairs.iter().copied())
}

fn base() -> Vec<(&'static str, &'static str)> {
    vec![("subject_token", "tok"), ("subject_token_type", AT)]
}

fn with(extra: &[(&'static str, &'static str)]) -> Params {
    let mut p = base();
    p.extend_from_slice(extra);
    params(&p)
}

fn client(scopes: &[&str]) -> Client {
    Client::confidential("exchanger", "s")
        .grant_types([GrantType::TokenExchange])
        .scopes(scopes.iter().copied())
        .build()
        .expect("client")
}

fn token(sub: &str, scopes: Option<&[&str]>, aud: &[&str], act: Option<Value>) -> ExchangeToken {
    ExchangeToken {
        token_type: TokenType::AccessToken,
        issuer: ISS.into(),
        own: true,
        sub: sub.into(),
        user: true,
        client_id: Some("web".into()),
        aud: aud.iter().map(|s| (*s).to_owned()).collect(),
        scopes: scopes.map(|s| s.iter().map(|x| (*x).to_owned()).collect()),
        exp: 2_000,
        act,
    }
}

fn strings(s: &[&str]) -> Vec<String> {
    s.iter().map(|x| (*x).to_owned()).collect()
}

fn code(r: Result<impl std::fmt::Debug, OAuthError>) -> ErrorCode {
    r.expect_err("refused").code
}

#[test]
fn subject_token_and_its_type_are_required_rfc8693_2_1() {
    assert_eq!(
        code(parse(&params(&[("subject_token_type", AT)]))),
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        code(parse(&params(&[("subject_token", "t")]))),
        ErrorCode::InvalidRequest
    );
    let params = with(&[]);
    let p = parse(&params).expect("minimal");
    assert_eq!(p.subject.token, "tok");
    assert_eq!(p.subject.token_type, TokenType::AccessToken);
    assert_eq!(p.requested, TokenType::AccessToken, "the default");
    assert!(p.actor.is_none() && p.targets.is_empty() && p.scope.is_none());
}

#[test]
fn an_unknown_subject_token_type_is_invalid_request_rfc8693_2_2_2() {
    let p = params(&[
        ("subject_token", "t"),
        (
            "subject_token_type",
            "urn:ietf:params:oauth:token-type:saml2",
        ),
    ]);
    let e = parse(&p).expect_err("saml");
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    assert!(e.description.contains("saml2"), "{}", e.description);
}

#[test]
fn actor_token_and_actor_token_type_come_together_rfc8693_2_1() {
    assert_eq!(
        code(parse(&with(&[("actor_token", "a")]))),
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        code(parse(&with(&[("actor_token_type", AT)]))),
        ErrorCode::InvalidRequest
    );
    let params = with(&[("actor_token", "a"), ("actor_token_type", JWT)]);
    let p = parse(&params).expect("both");
    let actor = p.actor.expect("actor");
    assert_eq!((actor.token, actor.token_type), ("a", TokenType::Jwt));
}

#[test]
fn only_access_tokens_are_issued_rfc8693_2_1() {
    for ok in [AT, JWT] {
        let params = with(&[("requested_token_type", ok)]);
        let p = parse(&params).expect(ok);
        assert_eq!(p.requested.as_str(), ok);
    }
    for bad in [
        "urn:ietf:params:oauth:token-type:refresh_token",
        "urn:ietf:params:oauth:token-type:id_token",
        "urn:x:anything",
    ] {
        let e = parse(&with(&[("requested_token_type", bad)])).expect_err(bad);
        assert_eq!(e.code, ErrorCode::InvalidRequest, "{bad}");
        assert!(e.description.contains("requested_token_type"));
    }
}

#[test]
fn resource_and_audience_repeat_and_resource_is_an_absolute_uri_rfc8693_2_1() {
    let params = with(&[
        ("resource", "https://api.example/orders"),
        ("audience", "backend"),
        ("audience", "billing"),
        ("audience", "backend"),
    ]);
    let p = parse(&params).expect("targets");
    assert_eq!(
        p.targets,
        strings(&["https://api.example/orders", "backend", "billing"])
    );
    for bad in ["orders", "https://api.example/x#frag", "/relative"] {
        assert_eq!(
            code(parse(&with(&[("resource", bad)]))),
            ErrorCode::InvalidTarget,
            "{bad} (RFC 8707 §2)"
        );
    }
}

#[test]
fn public_clients_cannot_exchange_rfc8693_2_1() {
    let mut public = Client::public("spa")
        .redirect_uri("https://a.example/cb")
        .build()
        .expect("public");
    assert!(
        Client::public("spa2")
            .redirect_uri("https://a.example/cb")
            .grant_types([GrantType::TokenExchange])
            .build()
            .is_err(),
        "the client builder refuses it"
    );
    public.grant_types.push(GrantType::TokenExchange);
    assert_eq!(code(check_client(&public)), ErrorCode::UnauthorizedClient);
    assert!(check_client(&client(&[])).is_ok());
}

#[test]
fn every_target_must_be_allowed_else_invalid_target_rfc8693_2_2_2() {
    let allowed = ExchangeAllowance {
        audience: strings(&["backend", "billing"]),
        max_scopes: Vec::new(),
    };
    assert_eq!(
        audience(&strings(&["backend"]), &allowed).expect("ok"),
        strings(&["backend"])
    );
    assert_eq!(
        code(audience(&strings(&["backend", "payroll"]), &allowed)),
        ErrorCode::InvalidTarget
    );
    assert_eq!(
        audience(&[], &allowed).expect("default"),
        strings(&["backend", "billing"]),
        "no target: the policy's audience"
    );
    let nothing = ExchangeAllowance {
        audience: Vec::new(),
        max_scopes: Vec::new(),
    };
    assert_eq!(code(audience(&[], &nothing)), ErrorCode::InvalidTarget);
}

#[test]
fn scope_never_exceeds_the_subject_token_rfc8693_2_2_2() {
    let c = client(&["api:read", "api:write"]);
    let ceiling = strings(&["api:read", "api:write"]);
    let subject = token("alice", Some(&["api:read"]), &["api"], None);
    let e = scopes(Some("api:read api:write"), &subject, &c, &ceiling).expect_err("wider");
    assert_eq!(e.code, ErrorCode::InvalidScope);
    assert!(e.description.contains("api:write") && e.description.contains("subject"));
    assert_eq!(
        scopes(Some("api:read"), &subject, &c, &ceiling).expect("narrow"),
        strings(&["api:read"])
    );
    assert_eq!(
        scopes(None, &subject, &c, &ceiling).expect("default"),
        strings(&["api:read"])
    );
}

#[test]
fn scope_never_exceeds_the_clients_allowance_or_the_policy_rfc8693_2_2_2() {
    let subject = token(
        "alice",
        Some(&["api:read", "api:write", "openid"]),
        &["api"],
        None,
    );
    let c = client(&["api:read", "api:write"]);
    let ceiling = strings(&["api:read", "openid"]);
    let e = scopes(Some("openid"), &subject, &c, &ceiling).expect_err("client");
    assert!(e.description.contains("client"), "{}", e.description);
    let e = scopes(Some("api:write"), &subject, &c, &ceiling).expect_err("policy");
    assert_eq!(e.code, ErrorCode::InvalidScope);
    assert!(e.description.contains("policy"), "{}", e.description);
    assert_eq!(
        scopes(None, &subject, &c, &ceiling).expect("default"),
        strings(&["api:read"]),
        "the default is within all three"
    );
    // A token without scopes (an ID token) leaves the client and the policy as limits.
    let id_token = token("alice", None, &["web"], None);
    assert_eq!(
        scopes(None, &id_token, &c, &ceiling).expect("default"),
        strings(&["api:read"])
    );
    assert_eq!(
        code(scopes(Some("api:write"), &id_token, &c, &ceiling)),
        ErrorCode::InvalidScope
    );
}

#[test]
fn lifetime_never_exceeds_the_subject_tokens_remaining_lifetime_rfc8693_2_2_1() {
    let hour = Duration::hours(1);
    assert_eq!(
        lifetime(1_000, hour, 1_300, None).expect("capped"),
        Duration::seconds(300)
    );
    assert_eq!(
        lifetime(1_000, Duration::seconds(60), 1_300, None).expect("client"),
        Duration::seconds(60)
    );
    assert_eq!(
        lifetime(1_000, hour, 1_300, Some(1_100)).expect("actor"),
        Duration::seconds(100),
        "nor the actor token's"
    );
    assert_eq!(
        code(lifetime(1_000, hour, 1_000, None)),
        ErrorCode::InvalidRequest
    );
    let e = lifetime(1_000, hour, 1_300, Some(999)).expect_err("actor expired");
    assert!(e.description.contains("actor_token"));
}

#[test]
fn delegation_names_the_actor_in_act_rfc8693_4_1() {
    let actor = token("svc-a", Some(&[]), &["api"], None);
    assert_eq!(
        act_claim(ISS, None, Some(&actor)).expect("act"),
        Some(json!({"sub": "svc-a"}))
    );
    let mut foreign = actor.clone();
    foreign.issuer = "https://other.example".into();
    assert_eq!(
        act_claim(ISS, None, Some(&foreign)).expect("act"),
        Some(json!({"sub": "svc-a", "iss": "https://other.example"})),
        "another issuer's actor is qualified by its issuer"
    );
}

#[test]
fn a_chain_nests_the_previous_actor_inside_the_current_one_rfc8693_4_1() {
    let previous = json!({"sub": "svc-a"});
    let actor = token(
        "svc-b",
        Some(&[]),
        &["api"],
        Some(json!({"sub": "ignored"})),
    );
    assert_eq!(
        act_claim(ISS, Some(&previous), Some(&actor)).expect("nested"),
        Some(json!({"sub": "svc-b", "act": {"sub": "svc-a"}})),
        "the outermost is the current actor; the actor token's own act is not carried"
    );
}

#[test]
fn impersonation_keeps_the_subject_tokens_act_rfc8693_1_1() {
    assert_eq!(act_claim(ISS, None, None).expect("none"), None);
    let previous = json!({"sub": "svc-a"});
    assert_eq!(
        act_claim(ISS, Some(&previous), None).expect("kept"),
        Some(previous),
        "a delegated token never becomes one without its actor"
    );
}

#[test]
fn a_delegation_chain_has_a_bounded_depth_rfc8693_4_1() {
    let actor = token("svc", Some(&[]), &["api"], None);
    let mut chain = json!({"sub": "svc-0"});
    for i in 1..MAX_ACT_DEPTH {
        chain = json!({"sub": format!("svc-{i}"), "act": chain});
    }
    assert_eq!(depth(&chain), MAX_ACT_DEPTH);
    assert_eq!(
        code(act_claim(ISS, Some(&chain), Some(&actor))),
        ErrorCode::InvalidRequest
    );
    let shorter = chain.get("act").cloned().expect("inner");
    assert!(act_claim(ISS, Some(&shorter), Some(&actor)).is_ok());
}

#[test]
fn act_must_be_a_json_object_rfc8693_4_1() {
    assert_eq!(act_of(Some(&json!("svc"))), None);
    assert_eq!(
        act_of(Some(&json!({"sub": "svc"}))),
        Some(json!({"sub": "svc"}))
    );
    assert_eq!(act_of(None), None);
}

#[test]
fn token_type_urns_round_trip_rfc8693_3() {
    for t in [TokenType::AccessToken, TokenType::IdToken, TokenType::Jwt] {
        assert_eq!(TokenType::from_name(t.as_str()), Some(t));
    }
    assert_eq!(TokenType::from_name("access_token"), None);
    assert_eq!(
        GrantType::from_name(GRANT_TYPE),
        Some(GrantType::TokenExchange)
    );
    assert_eq!(GrantType::TokenExchange.as_str(), GRANT_TYPE);
}

mod policy {
    use super::*;

    fn rules() -> ExchangeRules {
        ExchangeRules::new([
            ExchangeRule::new("exchanger")
                .subject_audience("api")
                .audience("backend")
                .max_scopes(["api:read"])
                .actor(ActorRule::Optional),
            ExchangeRule::new("delegate-only")
                .subject_audience("api")
                .audience("backend")
                .actor(ActorRule::Required),
            ExchangeRule::new("impersonate-only")
                .subject_audience("api")
                .audience("backend"),
        ])
    }

    fn ask(
        client_id: &str,
        subject: &ExchangeToken,
        actor: Option<&ExchangeToken>,
        targets: &[&str],
    ) -> Result<ExchangeAllowance, ExchangeRefusal> {
        let c = Client::confidential(client_id, "s")
            .grant_types([GrantType::TokenExchange])
            .build()
            .expect("client");
        let targets = strings(targets);
        rules().decide_sync(&ExchangeRequest {
            client: &c,
            subject,
            actor,
            targets: &targets,
            scopes: None,
        })
    }

    #[test]
    fn the_default_policy_refuses_everything_with_unauthorized_client_rfc8693_2_2_2() {
        let c = client(&[]);
        let subject = token("alice", Some(&[]), &["api"], None);
        let r = futures::executor::block_on(RefuseAllExchanges.decide(&ExchangeRequest {
            client: &c,
            subject: &subject,
            actor: None,
            targets: &[],
            scopes: None,
        }));
        assert!(
            matches!(r, Err(ExchangeRefusal::UnauthorizedClient(_))),
            "{r:?}"
        );
        let e: OAuthError = r.expect_err("refused").into();
        assert_eq!(e.code, ErrorCode::UnauthorizedClient);
    }

    #[test]
    fn a_client_without_a_rule_is_unauthorized_rfc8693_2_2_2() {
        let subject = token("alice", Some(&[]), &["api"], None);
        assert!(matches!(
            ask("stranger", &subject, None, &["backend"]),
            Err(ExchangeRefusal::UnauthorizedClient(_))
        ));
        let ok = ask("exchanger", &subject, None, &["backend"]).expect("allowed");
        assert_eq!(ok.audience, strings(&["backend"]));
        assert_eq!(ok.max_scopes, strings(&["api:read"]));
    }

    #[test]
    fn a_subject_token_for_another_audience_is_unauthorized_rfc8693_2_2_2() {
        let other = token("alice", Some(&[]), &["billing"], None);
        assert!(matches!(
            ask("exchanger", &other, None, &["backend"]),
            Err(ExchangeRefusal::UnauthorizedClient(_))
        ));
        let mut foreign = token("alice", Some(&[]), &["api"], None);
        foreign.own = false;
        foreign.issuer = "https://other.example".into();
        assert!(
            matches!(
                ask("exchanger", &foreign, None, &["backend"]),
                Err(ExchangeRefusal::UnauthorizedClient(_))
            ),
            "another issuer's token needs subject_issuer"
        );
    }

    #[test]
    fn another_target_is_invalid_target_rfc8693_2_2_2() {
        let subject = token("alice", Some(&[]), &["api"], None);
        let r = ask("exchanger", &subject, None, &["payroll"]);
        assert!(matches!(r, Err(ExchangeRefusal::InvalidTarget(_))), "{r:?}");
        let e: OAuthError = r.expect_err("refused").into();
        assert_eq!(e.code.as_str(), "invalid_target");
        assert_eq!(
            ask("exchanger", &subject, None, &[])
                .expect("default")
                .audience,
            strings(&["backend"]),
            "no target asked: the rule's audience"
        );
    }

    #[test]
    fn the_actor_rule_decides_delegation_and_impersonation_rfc8693_1_1() {
        let subject = token("alice", Some(&[]), &["api"], None);
        let actor = token("svc", Some(&[]), &["api"], None);
        assert!(ask("exchanger", &subject, Some(&actor), &["backend"]).is_ok());
        assert!(ask("exchanger", &subject, None, &["backend"]).is_ok());
        assert!(ask("delegate-only", &subject, Some(&actor), &["backend"]).is_ok());
        assert!(matches!(
            ask("delegate-only", &subject, None, &["backend"]),
            Err(ExchangeRefusal::UnauthorizedClient(_))
        ));
        assert!(ask("impersonate-only", &subject, None, &["backend"]).is_ok());
        assert!(matches!(
            ask("impersonate-only", &subject, Some(&actor), &["backend"]),
            Err(ExchangeRefusal::UnauthorizedClient(_))
        ));
    }
}
