//! Rich authorization requests (RFC 9396), in process: `authorization_details` checked
//! against the client's registered types and the host's policy, shown on the consent
//! page, carried through the code into the token response, the access token, the refresh
//! and introspection; at the token endpoint for client_credentials.

mod support;

use idpkit_core::testkit::flows::token_request;
use idpkit_core::{
    AccessTokenFormat, AuthorizationDetail, AuthorizationDetailsPolicy, Client, GrantType,
    InteractionOutcome, Method, Needs, StaticClients,
};
use serde_json::{Value, json};
use support::*;

const PUBLIC: &str = "rar-public";
const WEB: &str = "rar-web";
const WEB_SECRET: &str = "rar-web-secret";
const PAYMENT: &str = r#"[{"type":"payment_initiation","actions":["initiate"],"locations":["https://bank.example/payments"],"instructedAmount":{"currency":"EUR","amount":"123.50"},"creditorName":"Merchant A"}]"#;

fn rar_clients() -> Vec<Client> {
    let mut all = clients();
    all.push(
        Client::public(PUBLIC)
            .redirect_uri(REDIRECT)
            .scopes(["openid", "offline_access"])
            .authorization_details_types(["payment_initiation"])
            .build()
            .expect("rar-public"),
    );
    all.push(
        Client::confidential(WEB, WEB_SECRET)
            .redirect_uri(REDIRECT)
            .grant_types([
                GrantType::AuthorizationCode,
                GrantType::RefreshToken,
                GrantType::ClientCredentials,
            ])
            .scopes(["openid", "offline_access", "payments"])
            .access_token_format(AccessTokenFormat::Opaque)
            .authorization_details_types(["payment_initiation", "account_information"])
            .build()
            .expect("rar-web"),
    );
    all
}

fn env() -> Env {
    env_with(|b| b.clients(StaticClients::new(rar_clients()).expect("clients")))
}

fn payment() -> Value {
    serde_json::from_str(PAYMENT).expect("json")
}

async fn introspect_as_web(env: &Env, token: &str) -> Value {
    env.provider
        .introspect(&token_request(&[("token", token)], WEB, Some(WEB_SECRET)))
        .await
        .json_value()
}

#[tokio::test]
async fn details_are_shown_at_consent_and_carried_into_the_tokens_rfc9396_7_9() {
    let env = env();
    let mut b = Browser::new();
    let params = authz(
        PUBLIC,
        "openid offline_access",
        &[("authorization_details", PAYMENT)],
    );
    let login = pending_for(env.authorize(&mut b, &params).await, Needs::Login);
    let consent = env
        .finish(
            &mut b,
            &login.id,
            InteractionOutcome::Login {
                subject: "alice".into(),
            },
        )
        .await
        .expect("login");
    let consent = pending_for(consent, Needs::Consent);
    let details = env
        .provider
        .interaction(&consent.id, &b.request(Method::Get, &[]))
        .await
        .expect("details");
    assert_eq!(
        serde_json::to_value(&details.authorization_details).expect("json"),
        payment(),
        "the consent page sees every detail as asked"
    );
    let done = env
        .finish(
            &mut b,
            &consent.id,
            InteractionOutcome::Consent {
                scopes: details.scopes.clone(),
            },
        )
        .await
        .expect("consent");
    let code = param(&redirect_params(&respond(done)), "code")
        .expect("code")
        .to_owned();
    let (status, tokens) = env.exchange(PUBLIC, &code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["authorization_details"], payment(), "RFC 9396 §7");
    let at = tokens["access_token"].as_str().expect("at");
    assert_eq!(
        jwt_claims(at)["authorization_details"],
        payment(),
        "RFC 9396 §9.1"
    );
    let (status, refreshed) = env
        .refresh(PUBLIC, tokens["refresh_token"].as_str().expect("rt"))
        .await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(refreshed["authorization_details"], payment());
    // The same request again: a remembered consent to scopes does not cover new details.
    let again = env.authorize(&mut b, &params).await;
    pending_for(again, Needs::Consent);
}

#[tokio::test]
async fn introspection_returns_the_details_of_an_opaque_token_rfc9396_9_2() {
    let env = env();
    let r = env
        .run_authorization(
            &mut Browser::new(),
            &[
                ("client_id", WEB),
                ("response_type", "code"),
                ("scope", "openid payments"),
                ("authorization_details", PAYMENT),
            ],
        )
        .await;
    let code = param(&redirect_params(&r), "code")
        .expect("code")
        .to_owned();
    let resp = env
        .provider
        .token(&token_request(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
            ],
            WEB,
            Some(WEB_SECRET),
        ))
        .await;
    let tokens = resp.json_value();
    assert_eq!(resp.status, 200, "{tokens}");
    let i = introspect_as_web(&env, tokens["access_token"].as_str().expect("at")).await;
    assert_eq!(i["active"], true);
    assert_eq!(i["authorization_details"], payment());
}

#[tokio::test]
async fn an_unregistered_type_is_invalid_authorization_details_rfc9396_5() {
    let env = env();
    for (client, details) in [
        (PUBLIC, r#"[{"type":"account_information"}]"#),
        (DEMO_PUBLIC, PAYMENT),
        (PUBLIC, r#"[{"actions":["read"]}]"#),
        (PUBLIC, r#"{"type":"payment_initiation"}"#),
    ] {
        let a = env
            .authorize(
                &mut Browser::new(),
                &authz(
                    client,
                    "openid",
                    &[("authorization_details", details), ("state", "s")],
                ),
            )
            .await;
        assert_error_redirect(a, "invalid_authorization_details", Some("s"));
    }
}

struct Limit;
impl AuthorizationDetailsPolicy for Limit {
    fn check(&self, _: &Client, d: &AuthorizationDetail) -> Result<(), String> {
        let amount = d
            .get("instructedAmount")
            .and_then(|a| a["amount"].as_str())
            .and_then(|a| a.parse::<f64>().ok());
        match amount {
            Some(a) if a > 100.0 => Err("the amount is over the limit".into()),
            _ => Ok(()),
        }
    }
}

#[tokio::test]
async fn the_host_policy_refuses_a_detail_by_its_content_rfc9396_5() {
    let env = env_with(|b| {
        b.clients(StaticClients::new(rar_clients()).expect("clients"))
            .authorization_details_policy(Limit)
    });
    let a = env
        .authorize(
            &mut Browser::new(),
            &authz(PUBLIC, "openid", &[("authorization_details", PAYMENT)]),
        )
        .await;
    let p = assert_error_redirect(a, "invalid_authorization_details", None);
    assert_eq!(
        param(&p, "error_description"),
        Some("the amount is over the limit")
    );
    let small = PAYMENT.replace("123.50", "12.00");
    let a = env
        .authorize(
            &mut Browser::new(),
            &authz(PUBLIC, "openid", &[("authorization_details", &small)]),
        )
        .await;
    pending_for(a, Needs::Login);
}

#[tokio::test]
async fn client_credentials_take_authorization_details_rfc9396_6() {
    let env = env();
    let resp = env
        .provider
        .token(&token_request(
            &[
                ("grant_type", "client_credentials"),
                ("scope", "payments"),
                ("authorization_details", PAYMENT),
            ],
            WEB,
            Some(WEB_SECRET),
        ))
        .await;
    let body = resp.json_value();
    assert_eq!(resp.status, 200, "{body}");
    assert_eq!(body["authorization_details"], payment());
    let i = introspect_as_web(&env, body["access_token"].as_str().expect("at")).await;
    assert_eq!(i["authorization_details"], payment());
    let resp = env
        .provider
        .token(&token_request(
            &[
                ("grant_type", "client_credentials"),
                ("authorization_details", r#"[{"type":"other"}]"#),
            ],
            WEB,
            Some(WEB_SECRET),
        ))
        .await;
    assert_eq!(resp.status, 400);
    assert_eq!(error(&resp.json_value()), "invalid_authorization_details");
}

#[tokio::test]
async fn pushed_details_reach_the_consent_page_rfc9396_4_rfc9126() {
    let env = env();
    let (status, body) = env
        .push(
            PUBLIC,
            &authz(PUBLIC, "openid", &[("authorization_details", PAYMENT)]),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let uri = body["request_uri"].as_str().expect("uri");
    let mut b = Browser::new();
    let login = pending_for(
        env.authorize(&mut b, &[("client_id", PUBLIC), ("request_uri", uri)])
            .await,
        Needs::Login,
    );
    let consent = pending_for(
        env.finish(
            &mut b,
            &login.id,
            InteractionOutcome::Login {
                subject: "alice".into(),
            },
        )
        .await
        .expect("login"),
        Needs::Consent,
    );
    let d = env
        .provider
        .interaction(&consent.id, &b.request(Method::Get, &[]))
        .await
        .expect("details");
    assert_eq!(d.authorization_details.len(), 1);
    assert_eq!(
        d.authorization_details[0].detail_type(),
        "payment_initiation"
    );
    let (status, body) = env
        .push(
            PUBLIC,
            &authz(
                PUBLIC,
                "openid",
                &[("authorization_details", r#"[{"type":"x"}]"#)],
            ),
        )
        .await;
    assert_eq!(
        (status, error(&body)),
        (400, "invalid_authorization_details")
    );
}

#[tokio::test]
async fn supported_types_are_advertised_when_listed_rfc9396_10() {
    let env = env_with(|b| {
        b.clients(StaticClients::new(rar_clients()).expect("clients"))
            .authorization_details_types_supported(["payment_initiation"])
    });
    assert_eq!(
        env.provider.discovery().json_value()["authorization_details_types_supported"],
        json!(["payment_initiation"])
    );
    // rar-web registered account_information, but the provider does not support it.
    let a = env
        .authorize(
            &mut Browser::new(),
            &[
                ("client_id", WEB),
                ("response_type", "code"),
                ("scope", "openid"),
                (
                    "authorization_details",
                    r#"[{"type":"account_information"}]"#,
                ),
            ],
        )
        .await;
    assert_error_redirect(a, "invalid_authorization_details", None);
}
