//! The session API for hosts (#14 item 6): list a subject's SSO sessions, end one, or end
//! all of them ("log out everywhere", e.g. after a password change), with the same
//! grant revocation and back-channel notifications as a logout. State is in the grant
//! store: a session ended at one instance is ended at all.

use time::OffsetDateTime;

use crate::error::OAuthError;
use crate::provider::Provider;
use crate::rate_limit::counter_id;
use crate::records::{Records, SessionRecord, SubjectSessionsRecord, Write, subject_sessions_id};
use crate::session;
use crate::store::{RecordKind, counter_value};

/// One SSO session of a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionInfo {
    /// The session id (`sid` of its ID tokens).
    pub sid: String,
    /// When the user logged in.
    pub auth_time: OffsetDateTime,
    /// When the session began.
    pub created_at: OffsetDateTime,
    /// When it last answered an authorization request.
    pub last_used: OffsetDateTime,
    /// The clients it issued codes to (each once).
    pub clients: Vec<String>,
}

fn epoch_id(subject: &str) -> String {
    counter_id("session-epoch", &[subject])
}

fn time_of(t: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

impl Provider {
    /// The subject's current session epoch (see [`Provider::end_all_sessions`]).
    pub(crate) async fn session_epoch(&self, subject: &str) -> Result<u64, OAuthError> {
        let stored = self
            .inner
            .grants
            .get(RecordKind::Counter, &epoch_id(subject), self.now())
            .await?;
        Ok(stored
            .and_then(|s| counter_value(&s.record.payload).ok())
            .unwrap_or(0))
    }

    /// Records a new session `id` of `subject` in its list. A session pushed out of the
    /// bounded list loses its SSO (its record is deleted: the browser must log in again),
    /// but not its grants: a user signing in on a 33rd device must not have the tokens
    /// apps got on the first revoked.
    pub(crate) async fn remember_session(&self, subject: &str, id: &str) -> Result<(), OAuthError> {
        let records = Records(self.inner.grants.as_ref());
        let list_id = subject_sessions_id(subject);
        let now = self.now();
        let mut list = records
            .get::<SubjectSessionsRecord>(&list_id, now)
            .await?
            .map(|l| l.value)
            .unwrap_or_default();
        let pushed_out = session::remember_session(&mut list.sessions, id);
        let config = &self.inner.config;
        records
            .put(Write::new(list_id, &list, None, now + config.session_ttl))
            .await?;
        for old in pushed_out {
            records.delete::<SessionRecord>(&old).await?;
        }
        Ok(())
    }

    /// The live SSO sessions of `subject`, oldest first.
    pub async fn sessions_of(&self, subject: &str) -> Result<Vec<SessionInfo>, OAuthError> {
        let now = self.now();
        let records = Records(self.inner.grants.as_ref());
        let Some(list) = records
            .get::<SubjectSessionsRecord>(&subject_sessions_id(subject), now)
            .await?
        else {
            return Ok(Vec::new());
        };
        let epoch = self.session_epoch(subject).await?;
        let mut out = Vec::new();
        for id in &list.value.sessions {
            let Some(s) = records.get::<SessionRecord>(id, now).await? else {
                continue;
            };
            if s.value.epoch < epoch || s.value.subject != subject {
                continue;
            }
            let mut clients: Vec<String> =
                s.value.grants.iter().map(|g| g.client_id.clone()).collect();
            clients.sort();
            clients.dedup();
            out.push(SessionInfo {
                sid: s.value.sid,
                auth_time: time_of(s.value.auth_time),
                created_at: time_of(s.value.created_at),
                last_used: time_of(s.value.last_used),
                clients,
            });
        }
        Ok(out)
    }

    /// Ends the session `sid` of `subject` (its grants by the logout policy, back-channel
    /// notifications queued). `false` when there is no such live session.
    pub async fn end_session_of(&self, subject: &str, sid: &str) -> Result<bool, OAuthError> {
        let now = self.now();
        let records = Records(self.inner.grants.as_ref());
        let Some(list) = records
            .get::<SubjectSessionsRecord>(&subject_sessions_id(subject), now)
            .await?
        else {
            return Ok(false);
        };
        for id in &list.value.sessions {
            if let Some(s) = records.get::<SessionRecord>(id, now).await?
                && s.value.subject == subject
                && crate::crypto::constant_time_eq(s.value.sid.as_bytes(), sid.as_bytes())
            {
                self.end_browser_session(Some(id)).await?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Ends every session of `subject` ("log out everywhere", e.g. after a password
    /// change): the subject's session epoch moves on, so that no session from before can
    /// answer again on any instance (even one missing from the list), and each listed
    /// session is ended like a logout (grants, back-channel notifications). Returns how
    /// many listed sessions were ended.
    pub async fn end_all_sessions(&self, subject: &str) -> Result<usize, OAuthError> {
        let now = self.now();
        self.inner
            .grants
            .increment(&epoch_id(subject), now + time::Duration::days(3650), now)
            .await?;
        let records = Records(self.inner.grants.as_ref());
        let list_id = subject_sessions_id(subject);
        let Some(list) = records.get::<SubjectSessionsRecord>(&list_id, now).await? else {
            return Ok(0);
        };
        let mut ended = 0;
        for id in &list.value.sessions {
            if records.get::<SessionRecord>(id, now).await?.is_some() {
                self.end_browser_session(Some(id)).await?;
                ended += 1;
            }
        }
        records.delete::<SubjectSessionsRecord>(&list_id).await?;
        tracing::info!(ended, "idpkit: every session of a subject was ended");
        Ok(ended)
    }
}
