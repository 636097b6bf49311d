//! The host's side of interactions: [`Provider::interaction`] tells the login/consent page
//! what to show, [`Provider::finish_interaction`] completes a step. Both require the cookie
//! that binds the interaction to the browser that started it.

use std::sync::Arc;

use crate::authorization_response::Target;
use crate::client::Client;
use crate::config::Cookie;
use crate::crypto;
use crate::error::{ErrorCode, OAuthError};
use crate::http_types::Request;
use crate::interaction::{self, Authorization, InteractionDetails, InteractionOutcome, Needs};
use crate::provider::Provider;
use crate::records::{
    ConsentRecord, InteractionRecord, Records, SessionRecord, Taken, Write, consent_id, secret_id,
};
use crate::scope;
use crate::session;

impl Provider {
    /// What a page names the client by: the host of its metadata document when it is
    /// resolved from one, and its `client_name`.
    async fn client_labels(&self, client_id: &str) -> (Option<String>, Option<String>) {
        match self.inner.clients.find(client_id).await {
            Ok(Some(c)) => {
                let host = (self.inner.metadata_documents.is_some() && c.is_metadata_document())
                    .then(|| crate::client_id_metadata_document::host(client_id))
                    .flatten();
                (host, c.name().map(str::to_owned))
            }
            _ => (None, None),
        }
    }

    /// What the host's page for interaction `id` must show. The request must carry the
    /// cookie set when the interaction started (it binds the interaction to the browser).
    pub async fn interaction(
        &self,
        id: &str,
        req: &Request,
    ) -> Result<InteractionDetails, OAuthError> {
        let record = self.load_interaction(id, req).await?;
        let (host, name) = self.client_labels(&record.request.client_id).await;
        Ok(interaction::details(
            id,
            record.request,
            record.needs,
            record.subject,
            host,
            name,
        ))
    }

    /// Completes a step of interaction `id`. Returns the next interaction (consent after
    /// login) or the response to the client (its redirect with a code, or `access_denied`).
    /// Errors are for the user's page: the interaction is unknown, expired, used, or bound
    /// to another browser. A page that needs the details to decide the outcome loads the
    /// interaction once with [`Provider::open_interaction`] instead.
    pub async fn finish_interaction(
        &self,
        id: &str,
        req: &Request,
        outcome: InteractionOutcome,
    ) -> Result<Authorization, OAuthError> {
        let record = self.load_interaction(id, req).await?;
        self.finish_loaded(id, record, outcome).await
    }

    /// Loads interaction `id` once (checking this browser's binding cookie): its details
    /// for the page, and [`OpenInteraction::finish`] to complete the step without loading
    /// it again.
    pub async fn open_interaction(
        &self,
        id: &str,
        req: &Request,
    ) -> Result<OpenInteraction<'_>, OAuthError> {
        let record = self.load_interaction(id, req).await?;
        let (host, name) = self.client_labels(&record.request.client_id).await;
        Ok(OpenInteraction {
            provider: self,
            details: interaction::details(
                id,
                record.request.clone(),
                record.needs,
                record.subject.clone(),
                host,
                name,
            ),
            id: id.to_owned(),
            record,
        })
    }

    async fn finish_loaded(
        &self,
        id: &str,
        record: InteractionRecord,
        outcome: InteractionOutcome,
    ) -> Result<Authorization, OAuthError> {
        interaction::check_step(&outcome, record.needs)?;
        let (client, target) = self.client_and_target(&record).await?;
        match outcome {
            InteractionOutcome::Login { subject } => {
                let now = self.now().unix_timestamp();
                self.complete_login(id, record, &client, &target, subject, now)
                    .await
            }
            InteractionOutcome::Consent { scopes } => {
                self.complete_consent(id, record, &client, &target, &scopes)
                    .await
            }
            // `Deny`, and any outcome a later version adds.
            _ => {
                self.take_interaction(id).await?;
                if let Some(device) = &record.request.device {
                    return self.deny_device(device).await;
                }
                Ok(self.error_redirect(
                    &target,
                    &OAuthError::new(ErrorCode::AccessDenied, "the user denied the request"),
                ))
            }
        }
    }

    async fn complete_consent(
        &self,
        id: &str,
        record: InteractionRecord,
        client: &Client,
        target: &Target,
        approved: &[String],
    ) -> Result<Authorization, OAuthError> {
        let (Some(subject), Some(auth_time)) = (record.subject.clone(), record.auth_time) else {
            return Err(OAuthError::invalid_request("consent given before login"));
        };
        let granted = scope::approved(&record.request.scopes, approved);
        if granted.is_empty() {
            self.take_interaction(id).await?;
            if let Some(device) = &record.request.device {
                return self.deny_device(device).await;
            }
            return Ok(self.error_redirect(
                target,
                &OAuthError::new(ErrorCode::AccessDenied, "the user approved no scope"),
            ));
        }
        let now = self.now();
        let records = Records(self.inner.grants.as_ref());
        let cid = consent_id(&subject, &client.id);
        let mut consent = records
            .get::<ConsentRecord>(&cid, now)
            .await?
            .map(|l| l.value)
            .unwrap_or_default();
        scope::merge(&mut consent.scopes, &granted);
        records
            .put(Write::new(
                cid,
                &consent,
                None,
                now + self.inner.config.consent_ttl,
            ))
            .await?;
        self.take_interaction(id).await?;
        let session = match &record.new_session {
            Some(sid) => records
                .get::<SessionRecord>(sid, now)
                .await?
                .map(|l| (sid.clone(), l.value)),
            None => None,
        };
        self.issue_code(&record.request, &subject, auth_time, granted, None, session)
            .await
            .or_else(|e| Ok(self.error_redirect(target, &e)))
    }

    /// The login step of interaction `id` succeeded for `subject`, who authenticated at
    /// `auth_time`: SSO session, then consent (when due) or the code.
    pub(crate) async fn complete_login(
        &self,
        id: &str,
        mut record: InteractionRecord,
        client: &Client,
        target: &Target,
        subject: String,
        auth_time: i64,
    ) -> Result<Authorization, OAuthError> {
        if subject.is_empty() {
            return Err(OAuthError::invalid_request(
                "login finished without a subject",
            ));
        }
        let now = self.now();
        let session_token = crypto::random_token();
        let session_id = secret_id(&session_token);
        record.subject = Some(subject.clone());
        record.auth_time = Some(auth_time);
        record.new_session = Some(session_id.clone());
        let mut session = session::new_session(&subject, auth_time, now);
        session.epoch = self.session_epoch(&subject).await?;
        let records = Records(self.inner.grants.as_ref());
        // A new login replaces the session the browser had: it cannot go on issuing codes.
        if let Some(old) = record.previous_session.take() {
            records.delete::<SessionRecord>(&old).await?;
        }
        let config = &self.inner.config;
        records
            .put(Write::new(
                session_id.clone(),
                &session,
                None,
                session::expiry(
                    session.created_at,
                    now,
                    config.session_ttl,
                    config.session_idle_ttl,
                ),
            ))
            .await?;
        self.remember_session(&subject, &session_id).await?;
        let session_cookie = self.cookie(
            Cookie::Session,
            &session_token,
            self.inner.config.session_ttl,
        );
        // The login just happened: `prompt=login` is satisfied, `prompt=consent` still holds.
        let mut consent_request = record.request.clone();
        consent_request.prompt.retain(|p| p != "login");
        if self
            .needs_consent(client, &consent_request, &subject)
            .await?
        {
            record.needs = Needs::Consent;
            self.save_interaction(id, &record).await?;
            return Ok(interaction::redirect(
                &self.inner.config.paths.interaction,
                id.to_owned(),
                Needs::Consent,
                None,
            )
            .with_cookie(session_cookie));
        }
        self.take_interaction(id).await?;
        let scopes = record.request.scopes.clone();
        self.issue_code(
            &record.request,
            &subject,
            auth_time,
            scopes,
            Some(session_cookie),
            Some((session_id, session)),
        )
        .await
        .or_else(|e| Ok(self.error_redirect(target, &e)))
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
    ) -> Result<(Arc<Client>, Target), OAuthError> {
        let client = self
            .inner
            .clients
            .find(&record.request.client_id)
            .await?
            .ok_or_else(|| OAuthError::invalid_request("the client is no longer registered"))?;
        Ok((client, record.request.target()))
    }

    /// Consumes the interaction so that a second submission cannot complete it again.
    pub(crate) async fn take_interaction(&self, id: &str) -> Result<(), OAuthError> {
        match Records(self.inner.grants.as_ref())
            .consume::<InteractionRecord>(id, self.now())
            .await?
        {
            Taken::Consumed(_) => Ok(()),
            _ => Err(OAuthError::invalid_request(
                "this login request was already completed",
            )),
        }
    }

    pub(crate) async fn save_interaction(
        &self,
        id: &str,
        record: &InteractionRecord,
    ) -> Result<(), OAuthError> {
        let expires_at = self.now() + self.inner.config.interaction_ttl;
        Records(self.inner.grants.as_ref())
            .put(Write::new(id.to_owned(), record, None, expires_at))
            .await?;
        Ok(())
    }

    /// The live, unconsumed interaction `id`, if this browser presents its binding cookie.
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
        let loaded = Records(self.inner.grants.as_ref())
            .get::<InteractionRecord>(id, self.now())
            .await?
            .filter(|l| l.consumed_at.is_none())
            .ok_or_else(gone)?;
        if !interaction::bound_to(
            &loaded.value.binding,
            self.read_cookie(req, Cookie::Interaction),
        ) {
            return Err(OAuthError::invalid_request(
                "this login request was started in another browser; start again",
            ));
        }
        Ok(loaded.value)
    }
}

/// An interaction loaded for one submission of the host's page: what it shows, and the one
/// call that completes the step. Completing consumes the stored step, so a second
/// submission (this handle or another) is refused.
#[must_use = "finish the interaction, or drop it to leave it pending"]
pub struct OpenInteraction<'p> {
    provider: &'p Provider,
    id: String,
    record: InteractionRecord,
    details: InteractionDetails,
}

impl std::fmt::Debug for OpenInteraction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenInteraction")
            .field("details", &self.details)
            .finish_non_exhaustive()
    }
}

impl OpenInteraction<'_> {
    /// What the page shows.
    pub fn details(&self) -> &InteractionDetails {
        &self.details
    }

    /// Completes the step, as [`Provider::finish_interaction`] does.
    pub async fn finish(self, outcome: InteractionOutcome) -> Result<Authorization, OAuthError> {
        self.provider
            .finish_loaded(&self.id, self.record, outcome)
            .await
    }
}
