//! The SSO session and consent memory: whether an authorization request can be answered
//! from the browser's session, or needs a login or a consent first (OIDC Core §3.1.2.3,
//! §3.1.2.4, `prompt` and `max_age` in §3.1.2.1).

use time::OffsetDateTime;

use crate::authorization_request::AuthorizationRequest;
use crate::client::Client;
use crate::error::{ErrorCode, OAuthError};
use crate::records::SessionRecord;
use crate::scope;

/// Whether the user must (re-)authenticate: `prompt=login`, no session, or a session older
/// than `max_age` allows ("the End-User MUST be actively re-authenticated").
pub(crate) fn login_required(
    request: &AuthorizationRequest,
    session: Option<&SessionRecord>,
    now: OffsetDateTime,
) -> bool {
    // `max_age=0` is `prompt=login` (OIDC Core §3.1.2.1, errata 2): a session from this
    // very second must not pass for a fresh login.
    let fresh_enough = |s: &SessionRecord| match request.max_age {
        Some(0) => false,
        Some(max) => now.unix_timestamp().saturating_sub(s.auth_time) <= max,
        None => true,
    };
    request.prompts("login") || !session.is_some_and(fresh_enough)
}

/// Whether the user must be asked to consent: `prompt=consent`, or a third-party client
/// whose earlier consent does not cover every asked scope. First-party clients are not
/// asked (unless `prompt=consent`).
pub(crate) fn consent_required(
    request: &AuthorizationRequest,
    client: &Client,
    consented: &[String],
) -> bool {
    if request.prompts("consent") {
        return true;
    }
    !client.first_party && !scope::covered(&request.scopes, consented)
}

/// `prompt=none` when a login is needed: `login_required` (OIDC Core §3.1.2.6).
pub(crate) fn check_silent_login(request: &AuthorizationRequest) -> Result<(), OAuthError> {
    if request.prompts("none") {
        return Err(OAuthError::new(
            ErrorCode::LoginRequired,
            "the user is not logged in",
        ));
    }
    Ok(())
}

/// `prompt=none` when a consent is needed: `consent_required` (OIDC Core §3.1.2.6).
pub(crate) fn check_silent_consent(request: &AuthorizationRequest) -> Result<(), OAuthError> {
    if request.prompts("none") {
        return Err(OAuthError::new(
            ErrorCode::ConsentRequired,
            "the user has not consented",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authorization_response::ResponseMode;
    use time::Duration;

    fn now() -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::days(20_000)
    }

    fn request(prompt: &[&str], max_age: Option<i64>) -> AuthorizationRequest {
        AuthorizationRequest {
            client_id: "c".into(),
            redirect_uri: "https://a.example/cb".into(),
            redirect_uri_sent: false,
            response_mode: ResponseMode::Query,
            scopes: vec!["openid".into(), "profile".into()],
            state: None,
            nonce: None,
            code_challenge: None,
            prompt: prompt.iter().map(|p| (*p).to_owned()).collect(),
            max_age,
            login_hint: None,
            upstream_hint: None,
        }
    }

    fn session(age_secs: i64) -> SessionRecord {
        SessionRecord {
            subject: "alice".into(),
            auth_time: now().unix_timestamp() - age_secs,
        }
    }

    fn client(first_party: bool) -> Client {
        Client::confidential("c", "s")
            .redirect_uri("https://a.example/cb")
            .scopes(["openid", "profile"])
            .first_party(first_party)
            .build()
            .expect("valid")
    }

    #[test]
    fn no_session_means_login_oidc_3_1_2_3() {
        assert!(login_required(&request(&[], None), None, now()));
        assert!(!login_required(
            &request(&[], None),
            Some(&session(10_000)),
            now()
        ));
    }

    #[test]
    fn prompt_login_forces_a_login_despite_a_session_oidc_3_1_2_1() {
        assert!(login_required(
            &request(&["login"], None),
            Some(&session(1)),
            now()
        ));
    }

    #[test]
    fn max_age_forces_a_login_once_the_session_is_older_oidc_3_1_2_1() {
        let r = request(&[], Some(300));
        assert!(
            !login_required(&r, Some(&session(300)), now()),
            "exactly max_age is fine"
        );
        assert!(login_required(&r, Some(&session(301)), now()));
        let zero = request(&[], Some(0));
        assert!(
            login_required(&zero, Some(&session(1)), now()),
            "max_age=0: always"
        );
        assert!(
            login_required(&zero, Some(&session(0)), now()),
            "max_age=0 is prompt=login, even for a login this second"
        );
    }

    #[test]
    fn third_party_clients_need_consent_for_every_new_scope_oidc_3_1_2_4() {
        let r = request(&[], None);
        let third = client(false);
        assert!(consent_required(&r, &third, &[]));
        assert!(consent_required(&r, &third, &["openid".into()]));
        assert!(!consent_required(
            &r,
            &third,
            &["profile".into(), "openid".into()]
        ));
    }

    #[test]
    fn first_party_clients_are_not_asked_unless_prompt_consent() {
        assert!(!consent_required(&request(&[], None), &client(true), &[]));
        assert!(consent_required(
            &request(&["consent"], None),
            &client(true),
            &[]
        ));
        let remembered = ["openid".into(), "profile".into()];
        assert!(consent_required(
            &request(&["consent"], None),
            &client(false),
            &remembered
        ));
    }

    #[test]
    fn prompt_none_turns_a_needed_step_into_its_error_oidc_3_1_2_6() {
        let silent = request(&["none"], None);
        assert_eq!(
            check_silent_login(&silent).expect_err("login").code,
            ErrorCode::LoginRequired
        );
        assert_eq!(
            check_silent_consent(&silent).expect_err("consent").code,
            ErrorCode::ConsentRequired
        );
        assert!(check_silent_login(&request(&[], None)).is_ok());
        assert!(check_silent_consent(&request(&["login"], None)).is_ok());
    }
}
