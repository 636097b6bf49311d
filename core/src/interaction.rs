//! Interactions: how the host's login and consent pages plug in (DESIGN §4).
//!
//! [`crate::Provider::authorize`] answers at once when it can; otherwise it stores an
//! interaction record, binds it to the browser with a cookie and hands the host a
//! [`PendingInteraction`]. The host renders its own page ([`InteractionDetails`]) and calls
//! [`crate::Provider::finish_interaction`] with an [`InteractionOutcome`].

use serde::{Deserialize, Serialize};

use crate::authorization_request::AuthorizationRequest;
use crate::crypto;
use crate::error::OAuthError;
use crate::http_types::Response;

/// What the authorization endpoint (or a finished interaction step) asks the host to do.
/// Deliberately exhaustive (like [`Needs`]): the host must answer every kind.
#[derive(Debug)]
#[must_use = "an authorization outcome must be answered"]
pub enum Authorization {
    /// Answer with this response: a redirect to the client (with a code or an error), a
    /// form_post page, or an error page for the user when the client cannot be trusted.
    Respond(Response),
    /// The user must log in or consent on the host's page first.
    Interaction(PendingInteraction),
}

impl Authorization {
    /// Adds a `Set-Cookie` header to whatever the answer is.
    pub(crate) fn with_cookie(self, cookie: String) -> Self {
        match self {
            Self::Respond(r) => Self::Respond(r.header("Set-Cookie", cookie)),
            Self::Interaction(mut p) => {
                p.response = p.response.header("Set-Cookie", cookie);
                Self::Interaction(p)
            }
        }
    }
}

/// The answer the host gives for an authorization outcome: the response itself, or the
/// redirect to the host's interaction page (with its browser-binding cookie).
impl From<Authorization> for Response {
    fn from(a: Authorization) -> Self {
        match a {
            Authorization::Respond(r) => r,
            Authorization::Interaction(pending) => pending.response,
        }
    }
}

/// What the host's page must do for a pending interaction.
///
/// Deliberately exhaustive: a host's page must handle every step, so a new one is a
/// compile error for the host rather than a page that silently does nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Needs {
    /// Authenticate the user.
    Login,
    /// Ask the user to approve the scopes.
    Consent,
}

/// A login or consent step the host must complete with
/// [`crate::Provider::finish_interaction`].
#[derive(Debug, Clone)]
pub struct PendingInteraction {
    /// The interaction id (in the URL of the host's page).
    pub id: String,
    /// What is needed.
    pub needs: Needs,
    /// The redirect to the host's interaction page, setting the cookie that binds the
    /// interaction to this browser.
    pub response: Response,
}

/// What the host's login/consent page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InteractionDetails {
    /// The interaction id.
    pub id: String,
    /// What is needed.
    pub needs: Needs,
    /// The client asking.
    pub client_id: String,
    /// The scopes asked for.
    pub scopes: Vec<String>,
    /// The (registered) redirect URI the browser will be sent to: a login page's CSP
    /// `form-action` must allow its origin, since browsers apply it to the redirect that
    /// follows a form submission. Empty for a device authorization ([`Self::device`]).
    pub redirect_uri: String,
    /// `login_hint`, if given.
    pub login_hint: Option<String>,
    /// `prompt` values.
    pub prompt: Vec<String>,
    /// The user, once logged in.
    pub subject: Option<String>,
    /// The upstream provider the client asked for (`idp_hint`, or `acr_values=idp:NAME`),
    /// when it is one of [`crate::Provider::upstreams`].
    pub upstream_hint: Option<String>,
    /// The request comes from a device (RFC 8628): the user entered its user code at
    /// [`Provider::verify_user_code`](crate::Provider::verify_user_code). There is no
    /// redirect (`redirect_uri` is empty); the consent page should say that a device will
    /// be signed in, and that the user should go on only if they started it (§5.4).
    pub device: bool,
    /// The authorization details asked for (RFC 9396 §2), already checked against the
    /// client's registered types and the host's policy: the consent page must show what
    /// each one allows (a payment's amount and payee, say), since the user's consent
    /// grants them as they are.
    pub authorization_details: Vec<crate::AuthorizationDetail>,
    /// The resources (RFC 8707) the access tokens will be for.
    pub resources: Vec<String>,
    /// The `claims` parameter (OIDC Core §5.5): individual claims the client asks for in
    /// the ID token and from userinfo, released when the user has them even without the
    /// scope that would release them; a consent page should list them (and say which the
    /// client calls essential). Empty when not sent.
    pub claims: crate::claims_request::ClaimsRequest,
    /// For a client resolved from its client ID metadata document (its `client_id` is
    /// the document's URL), the URL's host (and port, when it names one): the consent
    /// page should show it, e.g. "client from HOST" (draft-ietf-oauth-client-id-metadata-
    /// document §8.5: "SHOULD display the hostname of the client_id"). `None` otherwise.
    pub client_id_metadata_document_host: Option<String>,
    /// The client's `client_name` (RFC 7591 §2), if it has one. For a self-registered or
    /// metadata-document client it is self-asserted: show it beside the `client_id`.
    pub client_name: Option<String>,
}

/// How the host finishes an interaction step.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InteractionOutcome {
    /// The host authenticated the user as `subject`.
    Login {
        /// The authenticated subject.
        subject: String,
    },
    /// The user approved these scopes (a subset of those asked for).
    Consent {
        /// Approved scopes.
        scopes: Vec<String>,
    },
    /// The user refused, or could not log in: the client receives `access_denied`.
    Deny,
}

/// What the host's page shows for interaction `id` at step `needs` of `request`.
pub(crate) fn details(
    id: &str,
    request: AuthorizationRequest,
    needs: Needs,
    subject: Option<String>,
    client_id_metadata_document_host: Option<String>,
    client_name: Option<String>,
) -> InteractionDetails {
    InteractionDetails {
        client_id_metadata_document_host,
        client_name,
        id: id.to_owned(),
        needs,
        client_id: request.client_id,
        scopes: request.scopes,
        redirect_uri: request.redirect_uri,
        login_hint: request.login_hint,
        prompt: request.prompt,
        subject,
        upstream_hint: request.upstream_hint,
        device: request.device.is_some(),
        authorization_details: request.authorization_details,
        resources: request.resources,
        claims: request.claims,
    }
}

/// Whether the browser presented the binding cookie whose hash the interaction keeps
/// (`binding`), compared in constant time. An interaction finished from another browser is
/// a login CSRF (RFC 9700 §4.7).
pub(crate) fn bound_to(binding: &str, presented: Option<&str>) -> bool {
    let presented = presented.unwrap_or_default();
    crypto::constant_time_eq(
        crypto::sha256_b64(presented.as_bytes()).as_bytes(),
        binding.as_bytes(),
    )
}

/// Checks that `outcome` answers the step the interaction is at: a login outcome for a
/// login step, a consent outcome for a consent step (`Deny` answers either).
pub(crate) fn check_step(outcome: &InteractionOutcome, needs: Needs) -> Result<(), OAuthError> {
    match (outcome, needs) {
        (InteractionOutcome::Deny, _)
        | (InteractionOutcome::Login { .. }, Needs::Login)
        | (InteractionOutcome::Consent { .. }, Needs::Consent) => Ok(()),
        (_, needs) => Err(OAuthError::invalid_request(format!(
            "this interaction step needs {}",
            match needs {
                Needs::Login => "a login",
                Needs::Consent => "a consent decision",
            }
        ))),
    }
}

/// The redirect to the host's interaction page (`path` with `{id}` replaced), setting
/// `cookie` when given.
pub(crate) fn redirect(
    path: &str,
    id: String,
    needs: Needs,
    cookie: Option<String>,
) -> Authorization {
    let location = path.replace("{id}", &id);
    let mut response = Response::redirect(location).no_store();
    if let Some(c) = cookie {
        response = response.header("Set-Cookie", c);
    }
    Authorization::Interaction(PendingInteraction {
        id,
        needs,
        response,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authorization_response::ResponseMode;
    use crate::records::InteractionRecord;

    fn record(binding_secret: &str) -> InteractionRecord {
        InteractionRecord {
            request: AuthorizationRequest {
                claims: Default::default(),
                client_id: "c".into(),
                redirect_uri: "https://a.example/cb".into(),
                redirect_uri_sent: true,
                response_mode: ResponseMode::Query,
                scopes: vec!["openid".into()],
                state: Some("s".into()),
                nonce: None,
                code_challenge: None,
                prompt: vec!["login".into()],
                max_age: None,
                login_hint: Some("alice".into()),
                upstream_hint: None,
                device: None,
                resources: Vec::new(),
                authorization_details: Vec::new(),
                dpop_jkt: None,
            },
            binding: crypto::sha256_b64(binding_secret.as_bytes()),
            needs: Needs::Login,
            subject: None,
            auth_time: None,
            new_session: None,
            previous_session: None,
        }
    }

    #[test]
    fn an_interaction_is_bound_to_the_browser_that_started_it_rfc9700_4_7() {
        let r = record("cookie-value");
        assert!(bound_to(&r.binding, Some("cookie-value")));
        assert!(!bound_to(&r.binding, Some("cookie-valuE")));
        assert!(!bound_to(&r.binding, Some("")));
        assert!(!bound_to(&r.binding, None));
    }

    #[test]
    fn an_outcome_must_answer_the_current_step() {
        let login = InteractionOutcome::Login {
            subject: "alice".into(),
        };
        let consent = InteractionOutcome::Consent { scopes: vec![] };
        assert!(check_step(&login, Needs::Login).is_ok());
        assert!(check_step(&consent, Needs::Consent).is_ok());
        assert!(check_step(&InteractionOutcome::Deny, Needs::Login).is_ok());
        assert!(check_step(&InteractionOutcome::Deny, Needs::Consent).is_ok());
        let e = check_step(&consent, Needs::Login).expect_err("consent before login");
        assert_eq!(e.description, "this interaction step needs a login");
        let e = check_step(&login, Needs::Consent).expect_err("login at consent");
        assert_eq!(
            e.description,
            "this interaction step needs a consent decision"
        );
    }

    #[test]
    fn details_show_what_the_page_needs() {
        let r = record("x");
        let d = details("i-1", r.request, r.needs, r.subject, None, None);
        assert_eq!(d.id, "i-1");
        assert_eq!(d.needs, Needs::Login);
        assert_eq!(d.client_id, "c");
        assert_eq!(d.login_hint.as_deref(), Some("alice"));
        assert_eq!(d.prompt, vec!["login"]);
        assert_eq!(d.redirect_uri, "https://a.example/cb");
    }

    #[test]
    fn the_interaction_redirect_names_the_page_and_sets_the_binding_cookie() {
        let a = redirect(
            "/interaction/{id}",
            "abc".into(),
            Needs::Consent,
            Some("k=v".into()),
        );
        let Authorization::Interaction(p) = a else {
            panic!("an interaction")
        };
        assert_eq!(p.id, "abc");
        assert_eq!(p.needs, Needs::Consent);
        assert_eq!(
            p.response.header_value("Location"),
            Some("/interaction/abc")
        );
        assert_eq!(p.response.header_value("Set-Cookie"), Some("k=v"));
        assert_eq!(p.response.header_value("Cache-Control"), Some("no-store"));
    }

    #[test]
    fn a_cookie_is_added_to_either_kind_of_answer() {
        let r = Authorization::Respond(Response::redirect("https://a/cb".into()))
            .with_cookie("a=1".into());
        let Authorization::Respond(r) = r else {
            panic!("respond")
        };
        assert_eq!(r.header_value("Set-Cookie"), Some("a=1"));
        let i = redirect("/i/{id}", "x".into(), Needs::Login, None).with_cookie("b=2".into());
        let Authorization::Interaction(p) = i else {
            panic!("interaction")
        };
        assert_eq!(p.response.header_value("Set-Cookie"), Some("b=2"));
    }
}
