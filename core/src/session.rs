//! The SSO session and consent memory: whether an authorization request can be answered
//! from the browser's session, or needs a login or a consent first (OIDC Core §3.1.2.3,
//! §3.1.2.4, `prompt` and `max_age` in §3.1.2.1).

use time::{Duration, OffsetDateTime};

use crate::authorization_request::AuthorizationRequest;
use crate::client::Client;
use crate::error::{ErrorCode, OAuthError};
use crate::records::{SessionGrant, SessionRecord};
use crate::scope;

/// The most grants a session remembers (for logout): a session answering more drops its
/// oldest ones from the list (their tokens then live out their own lifetimes).
pub(crate) const MAX_SESSION_GRANTS: usize = 64;

/// When a session ends: `idle` after its last use, and never later than `absolute` after
/// it began.
pub(crate) fn expiry(
    created_at: i64,
    now: OffsetDateTime,
    absolute: Duration,
    idle: Duration,
) -> OffsetDateTime {
    let created = OffsetDateTime::from_unix_timestamp(created_at).unwrap_or(now);
    (created + absolute).min(now + idle)
}

/// A new session for `subject`, who authenticated at `auth_time`, with a fresh `sid`.
pub(crate) fn new_session(subject: &str, auth_time: i64, now: OffsetDateTime) -> SessionRecord {
    SessionRecord {
        subject: subject.to_owned(),
        auth_time,
        sid: crate::crypto::random_token(),
        created_at: now.unix_timestamp(),
        last_used: now.unix_timestamp(),
        grants: Vec::new(),
        epoch: 0,
    }
}

/// The most sessions a subject's list keeps: a login beyond it ends the oldest session's
/// SSO (not its grants).
pub(crate) const MAX_SUBJECT_SESSIONS: usize = 32;

/// Adds session `id` to a subject's list (newest last); returns the sessions pushed out
/// beyond [`MAX_SUBJECT_SESSIONS`], which the caller ends.
pub(crate) fn remember_session(list: &mut Vec<String>, id: &str) -> Vec<String> {
    list.retain(|s| s != id);
    list.push(id.to_owned());
    let excess = list.len().saturating_sub(MAX_SUBJECT_SESSIONS);
    list.drain(..excess).collect()
}

/// Records that the session answered an authorization request of `client_id` with the
/// grant `grant_id`: last use now, the grant remembered (the oldest dropped beyond
/// [`MAX_SESSION_GRANTS`]). A session stored before sessions had a `sid` gets one, and
/// counts its lifetime from its login.
pub(crate) fn record_use(
    session: &mut SessionRecord,
    client_id: &str,
    grant_id: &str,
    scopes: &[String],
    now: OffsetDateTime,
) {
    if session.sid.is_empty() {
        session.sid = crate::crypto::random_token();
    }
    if session.created_at == 0 {
        session.created_at = session.auth_time;
    }
    session.last_used = now.unix_timestamp();
    session.grants.push(SessionGrant {
        client_id: client_id.to_owned(),
        grant_id: grant_id.to_owned(),
        offline: scope::is_offline(scopes),
    });
    let excess = session.grants.len().saturating_sub(MAX_SESSION_GRANTS);
    session.grants.drain(..excess);
}

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
    // A client ID metadata document client is whoever controls its URL today: the user
    // approves every authorization, seeing the URL's host (draft-ietf-oauth-client-id-
    // metadata-document §8.4, §8.5, §8.9); nothing remembered skips it.
    if client.metadata_document {
        return true;
    }
    // A remembered consent is to scopes; authorization details are one transaction's
    // (RFC 9396 §1: a payment of this amount to this payee), so a third-party client's
    // request with them is always put to the user.
    if !client.first_party && !request.authorization_details.is_empty() {
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
            claims: Default::default(),
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
            device: None,
            resources: Vec::new(),
            authorization_details: Vec::new(),
            dpop_jkt: None,
        }
    }

    fn session(age_secs: i64) -> SessionRecord {
        let mut s = new_session("alice", now().unix_timestamp() - age_secs, now());
        s.created_at = s.auth_time;
        s
    }

    #[test]
    fn a_subject_keeps_a_bounded_list_of_sessions_oldest_out_first() {
        let mut list = Vec::new();
        for n in 0..MAX_SUBJECT_SESSIONS {
            assert!(remember_session(&mut list, &format!("s{n}")).is_empty());
        }
        assert_eq!(remember_session(&mut list, "new"), vec!["s0".to_owned()]);
        assert_eq!(list.len(), MAX_SUBJECT_SESSIONS);
        assert!(
            remember_session(&mut list, "s5").is_empty(),
            "a known one moves to the end"
        );
        assert_eq!(list.last().map(String::as_str), Some("s5"));
    }

    #[test]
    fn a_session_ends_idle_after_its_last_use_and_never_past_its_absolute_lifetime() {
        let created = now().unix_timestamp();
        let (abs, idle) = (Duration::days(14), Duration::days(1));
        assert_eq!(
            expiry(created, now(), abs, idle),
            now() + idle,
            "idle first"
        );
        let late = now() + Duration::days(13) + Duration::hours(12);
        assert_eq!(
            expiry(created, late, abs, idle),
            now() + abs,
            "a used session still ends at its absolute lifetime"
        );
    }

    #[test]
    fn every_session_gets_its_own_sid_and_remembers_a_bounded_list_of_grants() {
        let (a, b) = (
            new_session("alice", 1, now()),
            new_session("alice", 1, now()),
        );
        assert_ne!(a.sid, b.sid);
        assert!(a.sid.len() >= 32, "unguessable");
        let mut s = a;
        let offline = ["openid".to_owned(), "offline_access".to_owned()];
        record_use(&mut s, "web", "g0", &offline, now());
        assert!(s.grants[0].offline);
        for n in 1..=MAX_SESSION_GRANTS {
            record_use(&mut s, "web", &format!("g{n}"), &[], now());
        }
        assert_eq!(s.grants.len(), MAX_SESSION_GRANTS);
        assert_eq!(s.grants[0].grant_id, "g1", "the oldest is dropped");
        assert!(!s.grants[MAX_SESSION_GRANTS - 1].offline);
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
    fn authorization_details_are_always_put_to_the_user_of_a_third_party_client_rfc9396_1() {
        let mut r = request(&[], None);
        r.authorization_details =
            serde_json::from_str(r#"[{"type":"payment_initiation"}]"#).expect("details");
        let remembered = ["openid".into(), "profile".into()];
        assert!(consent_required(&r, &client(false), &remembered));
        assert!(!consent_required(&r, &client(true), &[]), "first party");
    }

    #[test]
    fn metadata_document_clients_are_asked_every_time_cimd_8_5() {
        let mut c = client(false);
        c.metadata_document = true;
        let remembered = ["openid".into(), "profile".into()];
        assert!(consent_required(&request(&[], None), &c, &remembered));
        c.first_party = true;
        assert!(consent_required(&request(&[], None), &c, &remembered));
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
