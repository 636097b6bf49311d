//! Protocol flows driven through core's API, for tests and benchmarks of hosts and backends:
//! a code after a login, and token requests.

use crate::http_types::{Method, Params, Request, parse_cookies};
use crate::interaction::{Authorization, InteractionOutcome};
use crate::provider::Provider;

/// Runs the authorization endpoint for a first-party `client_id` (no PKCE), logs `subject`
/// in through [`Provider::finish_interaction`] with the browser-binding cookie, and returns
/// the code from the redirect. Panics if the flow does not go that way.
pub async fn code_after_login(
    p: &Provider,
    client_id: &str,
    redirect_uri: &str,
    scope: &str,
    subject: &str,
) -> String {
    let mut req = Request::new(Method::Get);
    req.params = Params::from_pairs([
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("response_type", "code"),
        ("scope", scope),
    ]);
    let Authorization::Interaction(pending) = p.authorize(&req).await else {
        panic!("the authorization request should need a login")
    };
    let cookie = pending
        .response
        .header_value("set-cookie")
        .expect("binding cookie");
    req.cookies = parse_cookies(cookie.split(';').next().unwrap_or_default()).collect();
    let outcome = InteractionOutcome::Login {
        subject: subject.to_owned(),
    };
    let Ok(Authorization::Respond(r)) = p.finish_interaction(&pending.id, &req, outcome).await
    else {
        panic!("the login should end with the redirect to the client")
    };
    let location = r.header_value("location").expect("location");
    let query = location.split_once('?').expect("a query response").1;
    Params::parse(query.as_bytes())
        .get("code")
        .expect("one code")
        .expect("a code")
        .to_owned()
}

/// Runs a device authorization (RFC 8628) for public client `client_id` with `scope`, enters
/// its user code with [`Provider::verify_user_code`], logs `subject` in and approves every
/// scope, and returns the approved `device_code` (its first poll gets the tokens). Panics
/// if the flow does not go that way.
pub async fn approved_device_code(
    p: &Provider,
    client_id: &str,
    scope: &str,
    subject: &str,
) -> String {
    let r = p
        .device_authorization(&token_request(&[("scope", scope)], client_id, None))
        .await;
    assert_eq!(r.status, 200, "device authorization");
    let body = r.json_value();
    let device_code = body["device_code"]
        .as_str()
        .expect("device_code")
        .to_owned();
    let user_code = body["user_code"].as_str().expect("user_code");
    let mut req = Request::new(Method::Post);
    let Ok(Authorization::Interaction(pending)) = p.verify_user_code(&req, user_code).await else {
        panic!("the user code should lead to a login")
    };
    let cookie = pending
        .response
        .header_value("set-cookie")
        .expect("binding cookie");
    req.cookies = parse_cookies(cookie.split(';').next().unwrap_or_default()).collect();
    let login = InteractionOutcome::Login {
        subject: subject.to_owned(),
    };
    let Ok(Authorization::Interaction(consent)) =
        p.finish_interaction(&pending.id, &req, login).await
    else {
        panic!("a device authorization always asks for consent")
    };
    let scopes = crate::scope::parse(Some(scope));
    let Ok(Authorization::Respond(done)) = p
        .finish_interaction(&consent.id, &req, InteractionOutcome::Consent { scopes })
        .await
    else {
        panic!("the consent should end the device authorization")
    };
    assert_eq!(
        done.header_value("location"),
        Some(format!("{}?result=approved", p.config().paths.device_verification).as_str())
    );
    device_code
}

/// A token-endpoint (or revocation / introspection) POST with `pairs` and
/// `client_secret_post` credentials (or `client_id` alone when `secret` is `None`).
pub fn token_request(pairs: &[(&str, &str)], client_id: &str, secret: Option<&str>) -> Request {
    let mut r = Request::new(Method::Post);
    r.params = Params::from_pairs(pairs.iter().map(|(k, v)| (*k, *v)));
    r.params
        .extend(Params::from_pairs([("client_id", client_id)]));
    if let Some(s) = secret {
        r.params.extend(Params::from_pairs([("client_secret", s)]));
    }
    r
}
