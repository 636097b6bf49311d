//! The end-session endpoint (OpenID Connect RP-Initiated Logout 1.0): loads the hint's
//! keys, the client and the browser's session, lets [`crate::end_session`] decide, asks the
//! host for the user's confirmation when due, and ends the session: its record and cookie,
//! its grants by [`LogoutRevokes`](crate::LogoutRevokes), and front-channel notifications
//! (Front-Channel Logout 1.0) on the logged-out page.

use std::collections::BTreeSet;

use crate::authorization_response::html_escape;
use crate::config::{Cookie, LogoutRevokes};
use crate::crypto;
use crate::end_session::{self, EndSessionRequest, Hint};
use crate::error::OAuthError;
use crate::http_types::{Method, Request, Response};
use crate::provider::Provider;
use crate::records::{LogoutRecord, Records, SessionRecord, Taken, Write, secret_id};
use crate::token::id_token;

/// What the end-session endpoint asks for.
#[derive(Debug)]
#[must_use = "a logout outcome must be answered"]
pub enum Logout {
    /// Answer with this: an error page (a logout request is never redirected to an
    /// unchecked URI), or the logged-out answer.
    Respond(Response),
    /// The user must confirm on the host's page ([`crate::Paths::logout_confirmation`]):
    /// the response redirects there and binds the pending logout to this browser.
    Confirm(PendingLogout),
}

impl From<Logout> for Response {
    fn from(l: Logout) -> Self {
        match l {
            Logout::Respond(r) => r,
            Logout::Confirm(p) => p.response,
        }
    }
}

/// A logout waiting for the user's confirmation.
#[derive(Debug, Clone)]
pub struct PendingLogout {
    /// The logout id (in the URL of the host's page).
    pub id: String,
    /// The redirect to the host's page, with its browser-binding cookie.
    pub response: Response,
}

/// What the host's confirmation page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogoutDetails {
    /// The logout id.
    pub id: String,
    /// The client that asked, if the request named one.
    pub client_id: Option<String>,
    /// The user whose session would end, if the browser has a live session.
    pub subject: Option<String>,
    /// `logout_hint` of the request (RP-Initiated Logout §2: who the RP thinks is logged
    /// in; the page may show it).
    pub logout_hint: Option<String>,
    /// `ui_locales` of the request.
    pub ui_locales: Option<String>,
}

/// A finished logout: the session ended, and logout tokens for the clients with a
/// `backchannel_logout_uri` are queued (run [`Provider::deliver_logout_tokens`]). The host renders its "logged out" page with
/// [`frontchannel_logout_uris`](Self::frontchannel_logout_uris) in (hidden) iframes and then
/// sends the browser to [`redirect`](Self::redirect), or answers [`response`](Self::response)
/// (a minimal page doing that, or a 303 when there is no iframe to render). Either way it
/// must send [`set_cookie`](Self::set_cookie), which clears the session cookie.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LoggedOut {
    /// The registered `post_logout_redirect_uri` with `state`, if the client asked.
    pub redirect: Option<String>,
    /// Front-channel logout URLs of the session's clients (with `iss` and `sid` where
    /// asked).
    pub frontchannel_logout_uris: Vec<String>,
    /// `Set-Cookie` clearing the session cookie.
    pub set_cookie: String,
    /// The default answer: the page or redirect, with the cookie cleared.
    pub response: Response,
}

impl Provider {
    /// The end-session endpoint (GET or POST; RP-Initiated Logout §2).
    pub async fn end_session(&self, req: &Request) -> Logout {
        match self.end_session_inner(req).await {
            Ok(l) => l,
            Err(e) => Logout::Respond(crate::authorization_response::error_page(&e)),
        }
    }

    async fn end_session_inner(&self, req: &Request) -> Result<Logout, OAuthError> {
        if !matches!(req.method, Method::Get | Method::Post) {
            return Err(OAuthError::invalid_request(
                "the end-session endpoint takes GET or POST",
            ));
        }
        let request = end_session::parse(&req.params)?;
        let hint = match &request.id_token_hint {
            Some(token) => Some(self.verify_hint(token).await?),
            None => None,
        };
        let client_id = end_session::client_of(&request, hint.as_ref())?;
        let client = match &client_id {
            Some(id) => Some(
                self.inner
                    .clients
                    .find(id)
                    .await?
                    .ok_or_else(|| OAuthError::invalid_request("unknown client_id"))?,
            ),
            None => None,
        };
        let redirect = end_session::redirect_after(&request, client.as_deref())?;
        let now = self.now();
        let session_id = self.read_cookie(req, Cookie::Session).map(secret_id);
        let session = match &session_id {
            Some(id) => Records(self.inner.grants.as_ref())
                .get::<SessionRecord>(id, now)
                .await?
                .map(|l| l.value),
            None => None,
        };
        let Some(session) = session else {
            // Nobody is logged in here: nothing to end, nothing to confirm.
            return Ok(Logout::Respond(
                self.logged_out(redirect, Vec::new()).response,
            ));
        };
        // The hint counts only when it is about this session's user, by the `sub` its
        // client knows the user by (pairwise maps back, OIDC Core §8.1).
        let hint = hint.filter(|h| {
            let seen = match client.as_deref() {
                Some(c) => crate::pairwise::subject_for(&self.inner.config, c, &session.subject),
                None => session.subject.clone(),
            };
            end_session::names_subject(h, &seen)
        });
        let confirm = end_session::needs_confirmation(
            self.inner.config.logout_skip_confirmation_with_session_hint,
            hint.as_ref(),
            Some(&session.sid),
        );
        if !confirm {
            let fronts = self.end_browser_session(session_id.as_deref()).await?;
            return Ok(Logout::Respond(self.logged_out(redirect, fronts).response));
        }
        self.pending_logout(req, request, client_id, redirect, session_id)
            .await
    }

    /// Verifies an `id_token_hint`: one of our ID tokens (our keys, `typ`, issuer), even
    /// expired.
    async fn verify_hint(&self, token: &str) -> Result<Hint, OAuthError> {
        let bad =
            || OAuthError::invalid_request("id_token_hint is not an ID token of this provider");
        let jwks = self.inner.keys.jwks().await?;
        let keys = self.inner.key_sets.get(&jwks);
        let verified = crate::jose::verify_compact_signature(token, &keys, &self.inner.algorithms)
            .map_err(|_| bad())?;
        if !verified.header().typ_is(id_token::TYP) {
            return Err(bad());
        }
        let claims: serde_json::Value =
            serde_json::from_slice(verified.payload()).map_err(|_| bad())?;
        end_session::hint(&claims, &self.inner.config.issuer)
    }

    /// Stores a logout waiting for confirmation (bounded like interactions: it costs
    /// storage before anyone has proved anything) and redirects to the host's page.
    async fn pending_logout(
        &self,
        req: &Request,
        request: EndSessionRequest,
        client_id: Option<String>,
        redirect: Option<String>,
        session_id: Option<String>,
    ) -> Result<Logout, OAuthError> {
        self.count_interaction(req.source, client_id.as_deref().unwrap_or("-"))
            .await?;
        let id = crypto::random_token();
        let binding = crypto::random_token();
        let record = LogoutRecord {
            request,
            binding: secret_id(&binding),
            client_id,
            redirect,
            session_id,
        };
        let ttl = self.inner.config.interaction_ttl;
        Records(self.inner.grants.as_ref())
            .put(Write::new(id.clone(), &record, None, self.now() + ttl))
            .await?;
        let location = self
            .inner
            .config
            .paths
            .logout_confirmation
            .replace("{id}", &id);
        let response = Response::redirect(location).header(
            "Set-Cookie",
            self.cookie(Cookie::Interaction, &binding, ttl),
        );
        Ok(Logout::Confirm(PendingLogout { id, response }))
    }

    async fn load_logout(&self, id: &str, req: &Request) -> Result<LogoutRecord, OAuthError> {
        let loaded = Records(self.inner.grants.as_ref())
            .get::<LogoutRecord>(id, self.now())
            .await?
            .filter(|l| l.consumed_at.is_none())
            .ok_or_else(|| OAuthError::invalid_request("this logout request has expired"))?;
        if !crate::interaction::bound_to(
            &loaded.value.binding,
            self.read_cookie(req, Cookie::Interaction),
        ) {
            return Err(OAuthError::invalid_request(
                "this logout request was started in another browser",
            ));
        }
        Ok(loaded.value)
    }

    /// What the host's confirmation page for logout `id` shows (checking this browser's
    /// binding cookie).
    pub async fn logout_details(
        &self,
        id: &str,
        req: &Request,
    ) -> Result<LogoutDetails, OAuthError> {
        let record = self.load_logout(id, req).await?;
        let subject = match &record.session_id {
            Some(sid) => Records(self.inner.grants.as_ref())
                .get::<SessionRecord>(sid, self.now())
                .await?
                .map(|l| l.value.subject),
            None => None,
        };
        Ok(LogoutDetails {
            id: id.to_owned(),
            client_id: record.client_id,
            subject,
            logout_hint: record.request.logout_hint,
            ui_locales: record.request.ui_locales,
        })
    }

    /// The user confirmed logout `id` on the host's page (a POST from the browser that
    /// started it): the session ends. Single use. To decline, the host does not call this
    /// (the pending logout expires with the interaction lifetime).
    pub async fn finish_logout(&self, id: &str, req: &Request) -> Result<LoggedOut, OAuthError> {
        let record = self.load_logout(id, req).await?;
        match Records(self.inner.grants.as_ref())
            .consume::<LogoutRecord>(id, self.now())
            .await?
        {
            Taken::Consumed(_) => {}
            _ => {
                return Err(OAuthError::invalid_request(
                    "this logout was already completed",
                ));
            }
        }
        let fronts = self
            .end_browser_session(record.session_id.as_deref())
            .await?;
        Ok(self.logged_out(record.redirect, fronts))
    }

    /// Ends the session stored under `session_id`: its record, and its grants as the policy
    /// says. Returns the front-channel URLs of its clients. Every instance sharing the
    /// store sees the session gone at once.
    pub(crate) async fn end_browser_session(
        &self,
        session_id: Option<&str>,
    ) -> Result<Vec<String>, OAuthError> {
        let Some(session_id) = session_id else {
            return Ok(Vec::new());
        };
        let records = Records(self.inner.grants.as_ref());
        let Some(session) = records
            .get::<SessionRecord>(session_id, self.now())
            .await?
            .map(|l| l.value)
        else {
            return Ok(Vec::new());
        };
        records.delete::<SessionRecord>(session_id).await?;
        let all = self.inner.config.logout_revokes == LogoutRevokes::AllSessionGrants;
        for g in session.grants.iter().filter(|g| all || !g.offline) {
            self.inner.grants.revoke_grant(&g.grant_id).await?;
        }
        let clients: BTreeSet<&str> = session
            .grants
            .iter()
            .map(|g| g.client_id.as_str())
            .collect();
        let mut fronts = Vec::new();
        for id in clients {
            if let Some(c) = self.inner.clients.find(id).await?
                && let Some(url) = end_session::frontchannel_url(&c, self.issuer(), &session.sid)
            {
                fronts.push(url);
            }
        }
        let queued = self.queue_logout_tokens(&session).await?;
        tracing::info!(
            frontchannel = fronts.len(),
            backchannel = queued,
            "idpkit: session ended by logout"
        );
        Ok(fronts)
    }

    /// The logged-out answer: a 303 to `redirect` when no iframe is due, else a page with
    /// the front-channel iframes that then goes on to `redirect` (or says the user is
    /// logged out); the session cookie cleared either way.
    fn logged_out(&self, redirect: Option<String>, fronts: Vec<String>) -> LoggedOut {
        let set_cookie = self.cookie(Cookie::Session, "", time::Duration::ZERO);
        let response = match (&redirect, fronts.is_empty()) {
            (Some(to), true) => Response::redirect(to.clone()),
            _ => logged_out_page(redirect.as_deref(), &fronts),
        }
        .no_store()
        .header("Set-Cookie", set_cookie.clone());
        LoggedOut {
            redirect,
            frontchannel_logout_uris: fronts,
            set_cookie,
            response,
        }
    }
}

/// A minimal logged-out page: hidden front-channel iframes (their origins allowed by
/// `frame-src`), then a refresh to `redirect` after two seconds (Front-Channel Logout §4
/// leaves the wait to the OP).
fn logged_out_page(redirect: Option<&str>, fronts: &[String]) -> Response {
    let frames: String = fronts
        .iter()
        .map(|u| format!("<iframe src=\"{}\" hidden></iframe>", html_escape(u)))
        .collect();
    let origins: Vec<String> = fronts
        .iter()
        .filter_map(|u| url::Url::parse(u).ok())
        .map(|u| u.origin().ascii_serialization())
        .collect();
    let (refresh, next) = match redirect {
        Some(to) => (
            format!(
                "<meta http-equiv=\"refresh\" content=\"2;url={}\">",
                html_escape(to)
            ),
            format!("<p><a href=\"{}\">Continue</a></p>", html_escape(to)),
        ),
        None => (String::new(), String::new()),
    };
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\">{refresh}<title>Logged out</title></head>\
         <body><h1>You are logged out</h1>{next}{frames}</body></html>"
    );
    let frame_src = if origins.is_empty() {
        "'none'".to_owned()
    } else {
        origins.join(" ")
    };
    Response::html(200, html)
        .header("X-Frame-Options", "DENY")
        .header(
            "Content-Security-Policy",
            format!("default-src 'none'; frame-src {frame_src}; frame-ancestors 'none'"),
        )
}
