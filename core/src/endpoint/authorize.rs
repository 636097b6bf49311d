//! The authorization endpoint (RFC 6749 §4.1, OIDC Core §3.1.2): loads the client and the
//! browser's session, lets [`crate::authorization_request`] and [`crate::session`] decide,
//! and answers with a code, an error redirect, an error page or an interaction.

use crate::authorization_request::{self, AuthorizationRequest, Known, Refused};
use crate::authorization_response::{self, Target};
use crate::client::Client;
use crate::config::Cookie;
use crate::crypto;
use crate::error::OAuthError;
use crate::http_types::{Method, Params, Request};
use crate::interaction::{self, Authorization, Needs};
use crate::provider::Provider;
use crate::pushed_authorization_request as par;
use crate::records::{
    CodeRecord, ConsentRecord, DeviceApproval, InteractionRecord, PushedRequestRecord, Records,
    SessionRecord, Taken, Write, consent_id, secret_id,
};
use crate::session;
use crate::throttle;

impl Provider {
    /// The authorization endpoint (GET or POST). With `client_id` and a `request_uri`
    /// from [`pushed_authorization_request`](Self::pushed_authorization_request) it answers
    /// the pushed request (RFC 9126 §4), ignoring every other parameter; a client that must
    /// push (RFC 9126 §5, §6) gets `invalid_request` without one.
    pub async fn authorize(&self, req: &Request) -> Authorization {
        if !matches!(req.method, Method::Get | Method::Post) {
            return self.show_error(&OAuthError::invalid_request(
                "the authorization endpoint takes GET or POST",
            ));
        }
        let client = match req.params.get("client_id") {
            Ok(Some(id)) => match self.inner.clients.find(id).await {
                Ok(c) => c,
                Err(e) => return self.show_error(&e.into()),
            },
            _ => None,
        };
        // CIMD §5.1: a refused metadata document aborts the request, shown to the user
        // with its reason (never redirected: the redirect URI is unverified).
        if client.is_none()
            && let Ok(Some(id)) = req.params.get("client_id")
            && let Some(reason) = self.metadata_document_failure(id)
        {
            return self.show_error(&OAuthError::invalid_request(format!(
                "the client ID metadata document was refused: {reason}"
            )));
        }
        // OIDC Core §8.1: a pairwise client's sector_identifier_uri is checked on first
        // use; a refusal is shown, never redirected (the redirect URI is not trusted).
        if let Some(c) = client.as_deref()
            && let Err(e) = self.client_ready(c).await
        {
            return self.show_error(&e);
        }
        // RFC 9126 §4: a pushed request, named by its `request_uri`.
        if let Ok(Some(request_uri)) = req.params.get("request_uri") {
            return self.authorize_pushed(req, client, request_uri).await;
        }
        // A request object (RFC 9101) replaces the parameters with its own.
        let resolved;
        let params = match client.as_deref() {
            Some(c) if req.params.all("request").next().is_some() => {
                match self.resolve_request_object(&req.params, c).await {
                    Ok(p) => {
                        resolved = p;
                        &resolved
                    }
                    Err(e) => return self.refuse_request_object(&req.params, c, &e),
                }
            }
            _ => &req.params,
        };
        let request = match self.authorization_request(params, client.as_deref()) {
            Ok(r) => r,
            Err(Refused::Show(e)) => return self.show_error(&e),
            Err(Refused::Redirect(to, e)) => return self.error_redirect(&to, &e),
        };
        let Some(client) = client else {
            // `parse` refuses a missing client; this cannot be reached.
            return self.show_error(&OAuthError::invalid_request("unknown client_id"));
        };
        if par::required(&self.inner.config, &client) {
            return self.error_redirect(&request.target(), &par::not_pushed());
        }
        self.answer_authorization(req, &client, request).await
    }

    /// Parses and validates an authorization request's parameters for `client` (`None`:
    /// unknown): the one entry point of the authorization endpoint and of pushed
    /// authorization requests (RFC 9126 §2.1: validated as at the authorization endpoint).
    pub(crate) fn authorization_request(
        &self,
        params: &Params,
        client: Option<&Client>,
    ) -> Result<AuthorizationRequest, Refused> {
        let upstreams = &self.inner.upstreams;
        let is_upstream = |n: &str| upstreams.iter().any(|u| u.name() == n);
        let config = &self.inner.config;
        let known = Known {
            is_upstream: &is_upstream,
            resources: &config.resources,
            details_types: &config.authorization_details_types_supported,
            details_policy: self.inner.authorization_details_policy.as_ref(),
        };
        let request = authorization_request::parse(params, client, &known)?;
        crate::profile::check_authorization_request(config.profile, &request)
            .map_err(|e| Refused::Redirect(request.target(), e))?;
        Ok(request)
    }

    /// An authorization request naming a pushed request (RFC 9126 §4): only `client_id`
    /// and `request_uri` are read, and the pushed parameters are used, whatever else the
    /// URL carries. The `request_uri` is consumed (single use, across instances) and must
    /// be the same client's. Refusals are shown to the user: without the pushed request
    /// there is no trusted redirect URI.
    async fn authorize_pushed(
        &self,
        req: &Request,
        client: Option<std::sync::Arc<Client>>,
        request_uri: &str,
    ) -> Authorization {
        let Some(client) = client else {
            return self.show_error(&OAuthError::invalid_request("missing or unknown client_id"));
        };
        if let Err(e) = par::check_reference(request_uri) {
            return self.show_error(&e);
        }
        let taken = Records(self.inner.grants.as_ref())
            .consume::<PushedRequestRecord>(&secret_id(request_uri), self.now())
            .await;
        let pushed = match taken {
            Ok(Taken::Consumed(p)) => p,
            Ok(Taken::AlreadyConsumed | Taken::NotFound) => {
                return self.show_error(&par::invalid_request_uri());
            }
            Err(e) => return self.show_error(&e.into()),
        };
        if let Err(e) = par::check_client(&pushed.request.client_id, &client.id) {
            tracing::warn!(client_id = %crate::logging::untrusted(&client.id), "idpkit: a request_uri was presented by another client; it is spent");
            return self.show_error(&e);
        }
        self.answer_authorization(req, &client, pushed.request)
            .await
    }

    /// A validated request, answered: a code, an interaction, or an error redirect.
    async fn answer_authorization(
        &self,
        req: &Request,
        client: &Client,
        request: AuthorizationRequest,
    ) -> Authorization {
        let to = request.target();
        match self.continue_authorization(req, client, request).await {
            Ok(a) => a,
            // Throttled: the browser is told to wait, the client is not involved.
            Err(e) if e.status == Some(429) => self.show_error(&e),
            Err(e) => self.error_redirect(&to, &e),
        }
    }

    /// A valid request: answer from the SSO session, or hand a login or consent step to
    /// the host.
    pub(crate) async fn continue_authorization(
        &self,
        req: &Request,
        client: &Client,
        request: AuthorizationRequest,
    ) -> Result<Authorization, OAuthError> {
        let now = self.now();
        let session_id = self.read_cookie(req, Cookie::Session).map(secret_id);
        let session = match &session_id {
            Some(id) => self.live_session(id, &request).await?,
            None => None,
        };
        let (session_id, session) = match (session_id, session) {
            (Some(id), Some(s)) if !session::login_required(&request, Some(&s), now) => (id, s),
            _ => {
                session::check_silent_login(&request)?;
                let upstream = request.upstream_hint.clone().map(|n| (n, request.clone()));
                let started = self
                    .start_interaction(req, request, Needs::Login, None)
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
        };
        if self
            .needs_consent(client, &request, &session.subject)
            .await?
        {
            session::check_silent_consent(&request)?;
            return self
                .start_interaction(req, request, Needs::Consent, Some((session_id, &session)))
                .await;
        }
        let scopes = request.scopes.clone();
        let (subject, auth_time) = (session.subject.clone(), session.auth_time);
        self.issue_code(
            &request,
            &subject,
            auth_time,
            scopes,
            None,
            Some((session_id, session)),
        )
        .await
    }

    /// The SSO session stored under `id`, if its user still exists. A session whose user
    /// the host (or a configured upstream) no longer vouches for is deleted, and the
    /// request goes on as if there were none: a login (or `login_required`).
    async fn live_session(
        &self,
        id: &str,
        request: &AuthorizationRequest,
    ) -> Result<Option<SessionRecord>, OAuthError> {
        let now = self.now();
        let records = Records(self.inner.grants.as_ref());
        let Some(session) = records
            .get::<SessionRecord>(id, now)
            .await?
            .map(|l| l.value)
        else {
            return Ok(None);
        };
        if session.epoch < self.session_epoch(&session.subject).await? {
            // "Log out everywhere" ended it, at whichever instance.
            records.delete::<SessionRecord>(id).await?;
            return Ok(None);
        }
        let claims = crate::claims::user_claims(
            self.inner.services(),
            &session.subject,
            &request.scopes,
            now,
        )
        .await?;
        if claims.is_none() {
            records.delete::<SessionRecord>(id).await?;
            tracing::warn!("idpkit: the user of an SSO session is gone; the session was ended");
            return Ok(None);
        }
        Ok(Some(session))
    }

    /// Loads what `subject` consented to for `client` and asks [`session::consent_required`].
    pub(crate) async fn needs_consent(
        &self,
        client: &Client,
        request: &AuthorizationRequest,
        subject: &str,
    ) -> Result<bool, OAuthError> {
        // A device is always approved explicitly: its user code may have been phished
        // (RFC 8628 §5.4), and the user must see which client a device claims to be.
        if request.device.is_some() {
            return Ok(true);
        }

        let given = if request.prompts("consent") || client.first_party {
            Vec::new()
        } else {
            Records(self.inner.grants.as_ref())
                .get::<ConsentRecord>(&consent_id(subject, &client.id), self.now())
                .await?
                .map(|l| l.value.scopes)
                .unwrap_or_default()
        };
        Ok(session::consent_required(request, client, &given))
    }

    /// Stores a new interaction bound to this browser and redirects to the host's page. A
    /// consent step continues `session` (store id and record); a login step remembers the
    /// browser's current session, which the new login replaces.
    async fn start_interaction(
        &self,
        req: &Request,
        request: AuthorizationRequest,
        needs: Needs,
        session: Option<(String, &SessionRecord)>,
    ) -> Result<Authorization, OAuthError> {
        self.count_interaction(req.source, &request.client_id)
            .await?;
        let id = crypto::random_token();
        let binding = crypto::random_token();
        let record = InteractionRecord {
            request,
            binding: secret_id(&binding),
            needs,
            subject: session.as_ref().map(|(_, s)| s.subject.clone()),
            auth_time: session.as_ref().map(|(_, s)| s.auth_time),
            previous_session: self.read_cookie(req, Cookie::Session).map(secret_id),
            new_session: session.map(|(id, _)| id),
        };
        self.save_interaction(&id, &record).await?;
        let cookie = self.cookie(
            Cookie::Interaction,
            &binding,
            self.inner.config.interaction_ttl,
        );
        Ok(interaction::redirect(
            &self.inner.config.paths.interaction,
            id,
            needs,
            Some(cookie),
        ))
    }

    /// Interactions cost storage before anyone has logged in, so their number is bounded
    /// ([`crate::RateLimits`]): per source, per client and in all, counted in that order,
    /// so that a flood refused at its source uses up nobody else's allowance. Without a
    /// source (the glue did not say) there is no per-source count.
    pub(crate) async fn count_interaction(
        &self,
        source: Option<std::net::IpAddr>,
        client_id: &str,
    ) -> Result<(), OAuthError> {
        let limits = &self.inner.config.rate_limits;
        let grants = self.inner.grants.as_ref();
        let now = self.now();
        let source = source.map(crate::rate_limit::source_key);
        let counts = [
            (
                "interactions-source",
                source.as_deref(),
                limits.interactions_per_source,
            ),
            (
                "interactions-client",
                Some(client_id),
                limits.interactions_per_client,
            ),
            ("interactions", Some(""), limits.interactions_total),
        ];
        let counts: Vec<_> = counts
            .into_iter()
            .filter_map(|(scope, key, limit)| key.map(|k| (scope, k, limit)))
            .collect();
        throttle::count_each(grants, &counts, now)
            .await?
            .map_err(|t| t.into_error("too many sign-ins are in progress; try again later"))
    }

    /// Issues a code for `subject` bound to the request (RFC 6749 §4.1.2) and redirects to
    /// the client with it. The browser session it comes from (store id and record) records
    /// the grant and its use, and gives the code its `sid`.
    pub(crate) async fn issue_code(
        &self,
        request: &AuthorizationRequest,
        subject: &str,
        auth_time: i64,
        scopes: Vec<String>,
        set_cookie: Option<String>,
        session: Option<(String, SessionRecord)>,
    ) -> Result<Authorization, OAuthError> {
        if let Some(device) = &request.device {
            let approval = DeviceApproval {
                subject: subject.to_owned(),
                scopes,
                auth_time,
                sid: None,
            };
            return self
                .approve_device(device, approval, set_cookie, session)
                .await;
        }
        let now = self.now();
        let code = crypto::random_token();
        let grant_id = crypto::random_token();
        let records = Records(self.inner.grants.as_ref());
        let sid = self
            .record_session_grant(session, &request.client_id, &grant_id, &scopes)
            .await?;
        let record = CodeRecord {
            client_id: request.client_id.clone(),
            redirect_uri: request.redirect_uri.clone(),
            redirect_uri_sent: request.redirect_uri_sent,
            scopes,
            nonce: request.nonce.clone(),
            code_challenge: request.code_challenge.clone(),
            subject: subject.to_owned(),
            auth_time,
            sid,
            resources: request.resources.clone(),
            authorization_details: request.authorization_details.clone(),
            dpop_jkt: request.dpop_jkt.clone(),
            claims: request.claims.clone(),
        };
        let expires_at = now + self.inner.config.code_ttl;
        records
            .put(Write::new(
                secret_id(&code),
                &record,
                Some(&grant_id),
                expires_at,
            ))
            .await?;
        tracing::info!(client_id = %crate::logging::untrusted(&request.client_id), "idpkit: authorization code issued");
        let mut response = authorization_response::code(&request.target(), self.issuer(), &code);
        if let Some(c) = set_cookie {
            response = response.header("Set-Cookie", c);
        }
        Ok(Authorization::Respond(response))
    }

    /// The browser session a grant is issued in (store id and record) records the grant
    /// and its use; returns the session's `sid` for the grant's ID tokens.
    pub(crate) async fn record_session_grant(
        &self,
        session: Option<(String, SessionRecord)>,
        client_id: &str,
        grant_id: &str,
        scopes: &[String],
    ) -> Result<Option<String>, OAuthError> {
        let Some((id, mut s)) = session else {
            return Ok(None);
        };
        let now = self.now();
        session::record_use(&mut s, client_id, grant_id, scopes, now);
        let config = &self.inner.config;
        let expires_at = session::expiry(
            s.created_at,
            now,
            config.session_ttl,
            config.session_idle_ttl,
        );
        let sid = Some(s.sid.clone()).filter(|s| !s.is_empty());
        Records(self.inner.grants.as_ref())
            .put(Write::new(id, &s, None, expires_at))
            .await?;
        Ok(sid)
    }

    /// The error redirect to the client (with `state` and `iss`); the error page when there
    /// is nowhere to redirect to (a device authorization's request has no redirect URI).
    pub(crate) fn error_redirect(&self, to: &Target, err: &OAuthError) -> Authorization {
        if to.redirect_uri.is_empty() {
            return self.show_error(err);
        }
        Authorization::Respond(authorization_response::error(to, self.issuer(), err))
    }

    /// The error page for the user (the client or redirect URI cannot be trusted).
    pub(crate) fn show_error(&self, err: &OAuthError) -> Authorization {
        Authorization::Respond(authorization_response::error_page(err))
    }
}
