//! The authorization endpoint (RFC 6749 §4.1, OIDC Core §3.1.2) and the interactions that
//! hand login and consent to the host.
//!
//! Order of checks matters: the client and the redirect URI are checked first, and any error
//! about them is shown to the user, never redirected (RFC 6749 §4.1.2.1).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::client::{Client, GrantType};
use crate::crypto;
use crate::error::{ErrorCode, OAuthError};
use crate::http_types::{Method, Request, Response};
use crate::pkce;
use crate::provider::{INTERACTION_COOKIE, Provider, SESSION_COOKIE};
use crate::store::{Consume, Record, RecordKind};
use crate::token::{AuthzRequest, CodeRecord, ResponseMode, from_payload, to_payload};

/// What the authorization endpoint (or a finished interaction step) asks the host to do.
#[derive(Debug)]
#[must_use = "an authorization outcome must be answered"]
pub enum Authorization {
    /// Answer with this response: a redirect to the client (with a code or an error), a
    /// form_post page, or an error page for the user when the client cannot be trusted.
    Respond(Response),
    /// The user must log in or consent on the host's page first.
    Interaction(PendingInteraction),
}

/// What the host's page must do for a pending interaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Needs {
    /// Authenticate the user.
    Login,
    /// Ask the user to approve the scopes.
    Consent,
}

/// A login or consent step the host must complete with
/// [`Provider::finish_interaction`].
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
    /// follows a form submission.
    pub redirect_uri: String,
    /// `login_hint`, if given.
    pub login_hint: Option<String>,
    /// `prompt` values.
    pub prompt: Vec<String>,
    /// The user, once logged in.
    pub subject: Option<String>,
    /// The upstream provider the client asked for (`idp_hint`, or `acr_values=idp:NAME`),
    /// when it is one of [`Provider::upstreams`].
    pub upstream_hint: Option<String>,
}

/// How the host finishes an interaction step.
#[derive(Debug, Clone, PartialEq, Eq)]
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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct InteractionRecord {
    pub(crate) request: AuthzRequest,
    binding: String,
    pub(crate) needs: Needs,
    subject: Option<String>,
    auth_time: Option<i64>,
    /// Store id of the SSO session to create on completion (hash of the cookie value).
    new_session: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SessionRecord {
    subject: String,
    auth_time: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
struct ConsentRecord {
    scopes: Vec<String>,
}

fn consent_id(subject: &str, client_id: &str) -> String {
    crypto::sha256_b64(format!("{subject}\u{0}{client_id}").as_bytes())
}

/// An error page for the user: used when the client or redirect URI cannot be trusted.
pub(crate) fn show_error(err: &OAuthError) -> Authorization {
    tracing::info!(error = %err, "idpkit: authorization request refused without redirect");
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Authorization error</title></head>\
         <body><h1>The application sent an invalid request</h1><p><code>{}</code>: {}</p></body></html>",
        err.code,
        html_escape(&err.description)
    );
    Authorization::Respond(
        Response::html(err.status(), html)
            .no_store()
            .header("X-Frame-Options", "DENY")
            .header(
                "Content-Security-Policy",
                "default-src 'none'; frame-ancestors 'none'",
            ),
    )
}

pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

impl Provider {
    /// The authorization endpoint (GET or POST).
    pub async fn authorize(&self, req: &Request) -> Authorization {
        match self.authorize_inner(req).await {
            Ok(a) => a,
            Err(e) => show_error(&e),
        }
    }

    /// Errors returned here are shown to the user; errors that may be redirected are
    /// turned into redirects inside.
    async fn authorize_inner(&self, req: &Request) -> Result<Authorization, OAuthError> {
        if !matches!(req.method, Method::Get | Method::Post) {
            return Err(OAuthError::invalid_request(
                "the authorization endpoint takes GET or POST",
            ));
        }
        let p = &req.params;
        let client_id = p.require("client_id")?;
        let client = self
            .inner
            .clients
            .find(client_id)
            .await?
            .ok_or_else(|| OAuthError::invalid_request("unknown client_id"))?;
        let redirect_uri = match p.get("redirect_uri")? {
            Some(uri) if client.redirect_uri_matches(uri) => uri.to_owned(),
            Some(_) => {
                return Err(OAuthError::invalid_request(
                    "redirect_uri is not registered for this client",
                ));
            }
            None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
            None => return Err(OAuthError::invalid_request("missing redirect_uri")),
        };
        // From here on the redirect URI is trusted: errors go back to the client.
        let response_mode = match p.get("response_mode") {
            Ok(None) => ResponseMode::Query,
            Ok(Some("query")) => ResponseMode::Query,
            Ok(Some("fragment")) => ResponseMode::Fragment,
            Ok(Some("form_post")) => ResponseMode::FormPost,
            Ok(Some(_)) | Err(_) => {
                let to = Target {
                    redirect_uri: &redirect_uri,
                    mode: ResponseMode::Query,
                    state: p.get("state").ok().flatten(),
                };
                return Ok(self.error_redirect(
                    &to,
                    &OAuthError::invalid_request("unsupported response_mode"),
                ));
            }
        };
        let state = match p.get("state") {
            Ok(s) => s,
            Err(e) => {
                let to = Target {
                    redirect_uri: &redirect_uri,
                    mode: response_mode,
                    state: None,
                };
                return Ok(self.error_redirect(&to, &e));
            }
        };
        let to = Target {
            redirect_uri: &redirect_uri,
            mode: response_mode,
            state,
        };
        match self.validate_request(req, &client, &redirect_uri, response_mode, state) {
            Ok(request) => match self.continue_authorization(req, &client, request).await {
                Ok(a) => Ok(a),
                Err(e) => Ok(self.error_redirect(&to, &e)),
            },
            Err(e) => Ok(self.error_redirect(&to, &e)),
        }
    }

    fn validate_request(
        &self,
        req: &Request,
        client: &Client,
        redirect_uri: &str,
        response_mode: ResponseMode,
        state: Option<&str>,
    ) -> Result<AuthzRequest, OAuthError> {
        let p = &req.params;
        if let Some(dup) = p.first_duplicate() {
            return Err(OAuthError::invalid_request(format!(
                "parameter {dup} is included more than once"
            )));
        }
        if p.get("request")?.is_some() {
            return Err(OAuthError::new(
                ErrorCode::RequestNotSupported,
                "request objects are not supported",
            ));
        }
        if p.get("request_uri")?.is_some() {
            return Err(OAuthError::new(
                ErrorCode::RequestUriNotSupported,
                "request_uri is not supported",
            ));
        }
        match p.get("response_type")? {
            Some("code") => {}
            Some(_) => {
                return Err(OAuthError::new(
                    ErrorCode::UnsupportedResponseType,
                    "only response_type=code is supported",
                ));
            }
            None => {
                return Err(OAuthError::invalid_request(
                    "missing parameter response_type",
                ));
            }
        }
        if !client.allows_grant(GrantType::AuthorizationCode) {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "the client may not use the authorization code grant",
            ));
        }
        let scopes = parse_scopes(p.get("scope")?);
        if scopes.is_empty() {
            return Err(OAuthError::new(
                ErrorCode::InvalidScope,
                "scope is required",
            ));
        }
        if let Some(bad) = scopes.iter().find(|s| !client.allows_scope(s)) {
            return Err(OAuthError::new(
                ErrorCode::InvalidScope,
                format!("scope {bad} is not allowed for this client"),
            ));
        }
        let code_challenge = match p.get("code_challenge")? {
            Some(challenge) => {
                pkce::check_challenge(challenge, p.get("code_challenge_method")?)?;
                Some(challenge.to_owned())
            }
            None if client.require_pkce => {
                return Err(OAuthError::invalid_request(
                    "code_challenge is required (PKCE with S256) for this client",
                ));
            }
            None => None,
        };
        let prompt: Vec<String> = p
            .get("prompt")?
            .map(|v| {
                v.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        for v in &prompt {
            if !matches!(v.as_str(), "none" | "login" | "consent" | "select_account") {
                return Err(OAuthError::invalid_request(format!(
                    "unsupported prompt value {v}"
                )));
            }
        }
        if prompt.iter().any(|v| v == "none") && prompt.len() > 1 {
            return Err(OAuthError::invalid_request(
                "prompt=none cannot be combined with other values",
            ));
        }
        let max_age = match p.get("max_age")? {
            Some(v) => Some(v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                OAuthError::invalid_request("max_age must be a non-negative integer")
            })?),
            None => None,
        };
        let openid = scopes.iter().any(|s| s == "openid");
        Ok(AuthzRequest {
            client_id: client.id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            redirect_uri_sent: p.get("redirect_uri")?.is_some(),
            response_mode,
            scopes,
            state: state.map(str::to_owned),
            nonce: if openid {
                p.get("nonce")?.map(str::to_owned)
            } else {
                None
            },
            code_challenge,
            prompt,
            max_age,
            login_hint: p.get("login_hint")?.map(str::to_owned),
            upstream_hint: self.upstream_hint(p)?,
        })
    }

    /// `idp_hint=NAME`, or the first `acr_values` entry `idp:NAME`, when NAME is a
    /// configured upstream (other values are ignored: the login page shows every choice).
    fn upstream_hint(&self, p: &crate::http_types::Params) -> Result<Option<String>, OAuthError> {
        let named = p.get("idp_hint")?.map(str::to_owned).or(p
            .get("acr_values")?
            .and_then(|v| v.split(' ').find_map(|a| a.strip_prefix("idp:")))
            .map(str::to_owned));
        Ok(named.filter(|n| {
            let known = self.inner.upstreams.iter().any(|u| u.name() == n);
            if !known {
                tracing::info!(upstream = %n, "idpkit: idp_hint names no configured upstream; ignored");
            }
            known
        }))
    }

    async fn continue_authorization(
        &self,
        req: &Request,
        client: &Client,
        request: AuthzRequest,
    ) -> Result<Authorization, OAuthError> {
        let now = self.now();
        let prompt_none = request.prompt.iter().any(|v| v == "none");
        let session = match req.cookie(SESSION_COOKIE) {
            Some(sid) => {
                let id = crypto::sha256_b64(sid.as_bytes());
                match self.inner.grants.get(RecordKind::Session, &id, now).await? {
                    Some(s) => Some(from_payload::<SessionRecord>(
                        RecordKind::Session,
                        &id,
                        &s.record.payload,
                    )?),
                    None => None,
                }
            }
            None => None,
        };
        let fresh_enough = |s: &SessionRecord| match request.max_age {
            Some(max) => now.unix_timestamp() - s.auth_time <= max,
            None => true,
        };
        let login_needed = request.prompt.iter().any(|v| v == "login")
            || !session.as_ref().is_some_and(fresh_enough);
        if login_needed {
            if prompt_none {
                return Err(OAuthError::new(
                    ErrorCode::LoginRequired,
                    "the user is not logged in",
                ));
            }
            let upstream = request.upstream_hint.clone().map(|n| (n, request.clone()));
            let started = self
                .start_interaction(request, Needs::Login, None, None)
                .await?;
            return match (upstream, started) {
                (Some((name, request)), Authorization::Interaction(pending)) => {
                    let cookies = pending
                        .response
                        .headers
                        .iter()
                        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
                        .map(|(_, v)| v.clone())
                        .collect();
                    self.go_upstream(&pending.id, &request, &name, cookies)
                        .await
                }
                (_, other) => Ok(other),
            };
        }
        let Some(session) = session else {
            return Err(OAuthError::server_error(&"session vanished"));
        };
        if self
            .needs_consent(client, &request, &session.subject)
            .await?
        {
            if prompt_none {
                return Err(OAuthError::new(
                    ErrorCode::ConsentRequired,
                    "the user has not consented",
                ));
            }
            return self
                .start_interaction(
                    request,
                    Needs::Consent,
                    Some(session.subject),
                    Some(session.auth_time),
                )
                .await;
        }
        let scopes = request.scopes.clone();
        self.issue_code(&request, &session.subject, session.auth_time, scopes, None)
            .await
    }

    async fn needs_consent(
        &self,
        client: &Client,
        request: &AuthzRequest,
        subject: &str,
    ) -> Result<bool, OAuthError> {
        if request.prompt.iter().any(|v| v == "consent") {
            return Ok(true);
        }
        if client.first_party {
            return Ok(false);
        }
        let id = consent_id(subject, &client.id);
        let given = match self
            .inner
            .grants
            .get(RecordKind::Consent, &id, self.now())
            .await?
        {
            Some(s) => {
                from_payload::<ConsentRecord>(RecordKind::Consent, &id, &s.record.payload)?.scopes
            }
            None => Vec::new(),
        };
        Ok(!request.scopes.iter().all(|s| given.contains(s)))
    }

    async fn start_interaction(
        &self,
        request: AuthzRequest,
        needs: Needs,
        subject: Option<String>,
        auth_time: Option<i64>,
    ) -> Result<Authorization, OAuthError> {
        let id = crypto::random_token();
        let binding = crypto::random_token();
        let record = InteractionRecord {
            request,
            binding: crypto::sha256_b64(binding.as_bytes()),
            needs,
            subject,
            auth_time,
            new_session: None,
        };
        self.save_interaction(&id, &record).await?;
        let cookie = self.cookie(
            INTERACTION_COOKIE,
            &binding,
            self.inner.config.interaction_ttl,
        );
        Ok(self.interaction_redirect(id, needs, Some(cookie)))
    }

    fn interaction_redirect(
        &self,
        id: String,
        needs: Needs,
        cookie: Option<String>,
    ) -> Authorization {
        let location = self.inner.config.paths.interaction.replace("{id}", &id);
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

    async fn save_interaction(
        &self,
        id: &str,
        record: &InteractionRecord,
    ) -> Result<(), OAuthError> {
        self.inner
            .grants
            .put(
                RecordKind::Interaction,
                id,
                Record {
                    grant_id: None,
                    payload: to_payload(record),
                    expires_at: self.now() + self.inner.config.interaction_ttl,
                },
            )
            .await?;
        Ok(())
    }

    pub(crate) async fn load_interaction(
        &self,
        id: &str,
        req: &Request,
    ) -> Result<InteractionRecord, OAuthError> {
        let gone = || {
            OAuthError::invalid_request(
                "this login request has expired or was already completed; start again",
            )
        };
        let stored = self
            .inner
            .grants
            .get(RecordKind::Interaction, id, self.now())
            .await?
            .filter(|s| s.consumed_at.is_none())
            .ok_or_else(gone)?;
        let record: InteractionRecord =
            from_payload(RecordKind::Interaction, id, &stored.record.payload)?;
        let presented = req.cookie(INTERACTION_COOKIE).unwrap_or_default();
        if !crypto::constant_time_eq(
            crypto::sha256_b64(presented.as_bytes()).as_bytes(),
            record.binding.as_bytes(),
        ) {
            return Err(OAuthError::invalid_request(
                "this login request was started in another browser; start again",
            ));
        }
        Ok(record)
    }

    /// What the host's page for interaction `id` must show. The request must carry the
    /// cookie set when the interaction started (it binds the interaction to the browser).
    pub async fn interaction(
        &self,
        id: &str,
        req: &Request,
    ) -> Result<InteractionDetails, OAuthError> {
        let record = self.load_interaction(id, req).await?;
        Ok(InteractionDetails {
            id: id.to_owned(),
            needs: record.needs,
            client_id: record.request.client_id,
            scopes: record.request.scopes,
            redirect_uri: record.request.redirect_uri,
            login_hint: record.request.login_hint,
            prompt: record.request.prompt,
            subject: record.subject,
            upstream_hint: record.request.upstream_hint,
        })
    }

    /// Completes a step of interaction `id`. Returns the next interaction (consent after
    /// login) or the response to the client (its redirect with a code, or `access_denied`).
    /// Errors are for the user's page: the interaction is unknown, expired, used, or bound
    /// to another browser.
    pub async fn finish_interaction(
        &self,
        id: &str,
        req: &Request,
        outcome: InteractionOutcome,
    ) -> Result<Authorization, OAuthError> {
        let record = self.load_interaction(id, req).await?;
        let (client, target) = self.client_and_target(&record).await?;
        let now = self.now();
        match (outcome, record.needs) {
            (InteractionOutcome::Deny, _) => {
                self.take_interaction(id).await?;
                Ok(self.error_redirect(
                    &target.borrow(),
                    &OAuthError::new(ErrorCode::AccessDenied, "the user denied the request"),
                ))
            }
            (InteractionOutcome::Login { subject }, Needs::Login) => {
                self.complete_login(id, record, &client, &target, subject, now.unix_timestamp())
                    .await
            }
            (InteractionOutcome::Consent { scopes }, Needs::Consent) => {
                let (Some(subject), Some(auth_time)) = (record.subject.clone(), record.auth_time)
                else {
                    return Err(OAuthError::invalid_request("consent given before login"));
                };
                let granted: Vec<String> = record
                    .request
                    .scopes
                    .iter()
                    .filter(|s| scopes.contains(s))
                    .cloned()
                    .collect();
                if granted.is_empty() {
                    self.take_interaction(id).await?;
                    return Ok(self.error_redirect(
                        &target.borrow(),
                        &OAuthError::new(ErrorCode::AccessDenied, "the user approved no scope"),
                    ));
                }
                let cid = consent_id(&subject, &client.id);
                let mut consent = match self
                    .inner
                    .grants
                    .get(RecordKind::Consent, &cid, now)
                    .await?
                {
                    Some(s) => {
                        from_payload::<ConsentRecord>(RecordKind::Consent, &cid, &s.record.payload)?
                    }
                    None => ConsentRecord::default(),
                };
                for s in &granted {
                    if !consent.scopes.contains(s) {
                        consent.scopes.push(s.clone());
                    }
                }
                self.inner
                    .grants
                    .put(
                        RecordKind::Consent,
                        &cid,
                        Record {
                            grant_id: None,
                            payload: to_payload(&consent),
                            expires_at: now + self.inner.config.consent_ttl,
                        },
                    )
                    .await?;
                self.take_interaction(id).await?;
                self.issue_code(&record.request, &subject, auth_time, granted, None)
                    .await
                    .or_else(|e| Ok(self.error_redirect(&target.borrow(), &e)))
            }
            (_, needs) => Err(OAuthError::invalid_request(format!(
                "this interaction step needs {}",
                match needs {
                    Needs::Login => "a login",
                    Needs::Consent => "a consent decision",
                }
            ))),
        }
    }

    /// The login step of interaction `id` succeeded for `subject`, who authenticated at
    /// `auth_time`: SSO session, then consent (when due) or the code.
    pub(crate) async fn complete_login(
        &self,
        id: &str,
        mut record: InteractionRecord,
        client: &Client,
        target: &OwnedTarget,
        subject: String,
        auth_time: i64,
    ) -> Result<Authorization, OAuthError> {
        let now = self.now();
        if subject.is_empty() {
            return Err(OAuthError::invalid_request(
                "login finished without a subject",
            ));
        }
        let session_token = crypto::random_token();
        let session_id = crypto::sha256_b64(session_token.as_bytes());
        record.subject = Some(subject.clone());
        record.auth_time = Some(auth_time);
        record.new_session = Some(session_id.clone());
        self.inner
            .grants
            .put(
                RecordKind::Session,
                &session_id,
                Record {
                    grant_id: None,
                    payload: to_payload(&SessionRecord {
                        subject: subject.clone(),
                        auth_time,
                    }),
                    expires_at: now + self.inner.config.session_ttl,
                },
            )
            .await?;
        let session_cookie = self.cookie(
            SESSION_COOKIE,
            &session_token,
            self.inner.config.session_ttl,
        );
        let mut consent_request = record.request.clone();
        consent_request.prompt.retain(|p| p != "login");
        if self
            .needs_consent(client, &consent_request, &subject)
            .await?
        {
            record.needs = Needs::Consent;
            self.save_interaction(id, &record).await?;
            return Ok(
                match self.interaction_redirect(id.to_owned(), Needs::Consent, None) {
                    Authorization::Interaction(mut pending) => {
                        pending.response = pending.response.header("Set-Cookie", session_cookie);
                        Authorization::Interaction(pending)
                    }
                    other => other,
                },
            );
        }
        self.take_interaction(id).await?;
        let scopes = record.request.scopes.clone();
        self.issue_code(
            &record.request,
            &subject,
            auth_time,
            scopes,
            Some(session_cookie),
        )
        .await
        .or_else(|e| Ok(self.error_redirect(&target.borrow(), &e)))
    }

    /// Finishes the login step of interaction `id` for a user authenticated elsewhere (an
    /// upstream provider) at `auth_time`.
    pub(crate) async fn finish_external_login(
        &self,
        id: &str,
        req: &Request,
        subject: String,
        auth_time: i64,
    ) -> Result<Authorization, OAuthError> {
        let record = self.load_interaction(id, req).await?;
        if record.needs != Needs::Login {
            return Err(OAuthError::invalid_request(
                "this interaction is past its login step",
            ));
        }
        let (client, target) = self.client_and_target(&record).await?;
        self.complete_login(id, record, &client, &target, subject, auth_time)
            .await
    }

    /// The client of a stored interaction (still registered) and where its answer goes.
    async fn client_and_target(
        &self,
        record: &InteractionRecord,
    ) -> Result<(Arc<Client>, OwnedTarget), OAuthError> {
        let client = self
            .inner
            .clients
            .find(&record.request.client_id)
            .await?
            .ok_or_else(|| OAuthError::invalid_request("the client is no longer registered"))?;
        let target = OwnedTarget {
            redirect_uri: record.request.redirect_uri.clone(),
            mode: record.request.response_mode,
            state: record.request.state.clone(),
        };
        Ok((client, target))
    }

    /// Consumes the interaction so that a second submission cannot complete it again.
    pub(crate) async fn take_interaction(&self, id: &str) -> Result<(), OAuthError> {
        match self
            .inner
            .grants
            .consume(RecordKind::Interaction, id, self.now())
            .await?
        {
            Consume::Consumed(_) => Ok(()),
            _ => Err(OAuthError::invalid_request(
                "this login request was already completed",
            )),
        }
    }

    async fn issue_code(
        &self,
        request: &AuthzRequest,
        subject: &str,
        auth_time: i64,
        scopes: Vec<String>,
        set_cookie: Option<String>,
    ) -> Result<Authorization, OAuthError> {
        let code = crypto::random_token();
        let record = CodeRecord {
            client_id: request.client_id.clone(),
            redirect_uri: request.redirect_uri.clone(),
            redirect_uri_sent: request.redirect_uri_sent,
            scopes,
            nonce: request.nonce.clone(),
            code_challenge: request.code_challenge.clone(),
            subject: subject.to_owned(),
            auth_time,
        };
        let now = self.now();
        self.inner
            .grants
            .put(
                RecordKind::AuthorizationCode,
                &crypto::sha256_b64(code.as_bytes()),
                Record {
                    grant_id: Some(crypto::random_token()),
                    payload: to_payload(&record),
                    expires_at: now + self.inner.config.code_ttl,
                },
            )
            .await?;
        tracing::info!(client_id = %request.client_id, "idpkit: authorization code issued");
        let target = Target {
            redirect_uri: &request.redirect_uri,
            mode: request.response_mode,
            state: request.state.as_deref(),
        };
        let mut response = self.respond_to_client(&target, &[("code", code.as_str())]);
        if let Some(c) = set_cookie {
            response = response.header("Set-Cookie", c);
        }
        Ok(Authorization::Respond(response))
    }

    /// The error redirect to the client of a stored authorization request.
    pub(crate) fn error_to_client(
        &self,
        request: &AuthzRequest,
        err: &OAuthError,
    ) -> Authorization {
        self.error_redirect(
            &Target {
                redirect_uri: &request.redirect_uri,
                mode: request.response_mode,
                state: request.state.as_deref(),
            },
            err,
        )
    }

    pub(crate) fn error_redirect(&self, to: &Target<'_>, err: &OAuthError) -> Authorization {
        if err.code == ErrorCode::ServerError || err.code == ErrorCode::TemporarilyUnavailable {
            tracing::warn!(error = %err, "idpkit: authorization failed");
        }
        Authorization::Respond(self.respond_to_client(
            to,
            &[
                ("error", err.code.as_str()),
                ("error_description", &err.description),
            ],
        ))
    }

    /// The authorization response, with `state` and RFC 9207 `iss`, in the response mode.
    fn respond_to_client(&self, to: &Target<'_>, params: &[(&str, &str)]) -> Response {
        let issuer = self.inner.config.issuer.as_str();
        let mut all: Vec<(&str, &str)> = params.to_vec();
        if let Some(s) = to.state {
            all.push(("state", s));
        }
        all.push(("iss", issuer));
        match to.mode {
            ResponseMode::Query | ResponseMode::Fragment => {
                let encoded = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(all)
                    .finish();
                let location = if to.mode == ResponseMode::Fragment {
                    format!("{}#{}", to.redirect_uri, encoded)
                } else if to.redirect_uri.contains('?') {
                    format!("{}&{}", to.redirect_uri, encoded)
                } else {
                    format!("{}?{}", to.redirect_uri, encoded)
                };
                Response::redirect(location).no_store()
            }
            ResponseMode::FormPost => {
                let inputs: String = all
                    .iter()
                    .map(|(k, v)| {
                        format!(
                            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                            html_escape(k),
                            html_escape(v)
                        )
                    })
                    .collect();
                let html = format!(
                    "<!doctype html><html><head><meta charset=\"utf-8\"><title>Submit</title></head>\
                     <body onload=\"document.forms[0].submit()\"><form method=\"post\" action=\"{}\">{}\
                     <noscript><button type=\"submit\">Continue</button></noscript></form></body></html>",
                    html_escape(to.redirect_uri),
                    inputs
                );
                let origin = url::Url::parse(to.redirect_uri)
                    .map(|u| u.origin().ascii_serialization())
                    .unwrap_or_else(|_| "'none'".to_owned());
                Response::html(200, html)
                    .no_store()
                    .header("X-Frame-Options", "DENY")
                    .header(
                        "Content-Security-Policy",
                        format!(
                            "default-src 'none'; script-src-attr 'unsafe-inline'; form-action {origin}; frame-ancestors 'none'"
                        ),
                    )
            }
        }
    }
}

/// Where an authorization response goes.
pub(crate) struct Target<'a> {
    redirect_uri: &'a str,
    mode: ResponseMode,
    state: Option<&'a str>,
}

pub(crate) struct OwnedTarget {
    redirect_uri: String,
    mode: ResponseMode,
    state: Option<String>,
}

impl OwnedTarget {
    fn borrow(&self) -> Target<'_> {
        Target {
            redirect_uri: &self.redirect_uri,
            mode: self.mode,
            state: self.state.as_deref(),
        }
    }
}

/// Splits a `scope` parameter into distinct scopes, in order.
pub(crate) fn parse_scopes(scope: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in scope
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
    {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    out
}
