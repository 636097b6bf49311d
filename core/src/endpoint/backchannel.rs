//! Back-channel logout delivery, the store and HTTP side of [`crate::backchannel`]: when a
//! session ends its logout tokens are signed and queued in the grant store; the host runs
//! [`Provider::deliver_logout_tokens`] (the example does every second, and right after a
//! logout) and any instance delivers what is due. The user's logout never waits for a
//! delivery.

use time::OffsetDateTime;

use crate::backchannel::{self, Outcome};
use crate::error::OAuthError;
use crate::http::HttpRequest;
use crate::provider::Provider;
use crate::records::{LogoutDeliveryRecord, Records, SessionRecord, Taken, Write};
use crate::store::{RecordKind, counter_value};
use crate::token::{jwt, logout_token};

/// The queue's last position (a counter).
const TAIL: &str = "idpkit-backchannel-tail";
/// Every position up to this one is done (a counter, moved forward by deliverers).
const HEAD: &str = "idpkit-backchannel-head";
/// The most queue positions one delivery run looks at.
const SCAN: u64 = 256;
/// A claimed delivery whose deliverer died is taken over after this long.
const CLAIM_TIMEOUT: time::Duration = time::Duration::seconds(60);

fn position_id(n: u64) -> String {
    format!("q:{n}")
}

/// What one delivery run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Deliveries {
    /// Tokens the RPs accepted (200 or 204).
    pub delivered: usize,
    /// Tokens an RP refused (4xx): logged, not retried.
    pub refused: usize,
    /// Failed attempts that will be retried.
    pub retrying: usize,
    /// Tokens given up on: their lifetime ended before an RP took them.
    pub expired: usize,
}

impl Provider {
    /// Signs and queues a logout token for every client of `session` that registered a
    /// `backchannel_logout_uri` (with `sid`, and `sub`). Returns how many were queued.
    pub(crate) async fn queue_logout_tokens(
        &self,
        session: &SessionRecord,
    ) -> Result<usize, OAuthError> {
        if self.inner.http.is_none() {
            return Ok(0);
        }
        let now = self.now();
        let mut clients: Vec<&str> = session
            .grants
            .iter()
            .map(|g| g.client_id.as_str())
            .collect();
        clients.sort_unstable();
        clients.dedup();
        let records = Records(self.inner.grants.as_ref());
        let mut queued = 0;
        for id in clients {
            let Some(client) = self.inner.clients.find(id).await? else {
                continue;
            };
            let Some(uri) = client.backchannel_logout_uri() else {
                continue;
            };
            // The `sub` this client knows the user by (OIDC Core §8.1).
            let subject =
                crate::pairwise::subject_for(&self.inner.config, &client, &session.subject);
            let claims = logout_token::claims(
                &logout_token::Subject {
                    issuer: self.issuer(),
                    client_id: id,
                    subject: &subject,
                    sid: Some(&session.sid)
                        .filter(|s| !s.is_empty())
                        .map(String::as_str),
                },
                now,
            );
            let alg = client.signing_alg.unwrap_or(self.inner.config.signing_alg);
            let token =
                jwt::sign(self.inner.keys.as_ref(), alg, logout_token::TYP, &claims).await?;
            let n = self
                .inner
                .grants
                .increment(TAIL, now + time::Duration::days(3650), now)
                .await?;
            let record = LogoutDeliveryRecord {
                client_id: id.to_owned(),
                uri: uri.to_owned(),
                token,
                attempts: 0,
                next_at: now.unix_timestamp(),
                self_registered: client.is_self_registered(),
            };
            records
                .put(Write::new(
                    position_id(n),
                    &record,
                    None,
                    now + logout_token::TTL,
                ))
                .await?;
            queued += 1;
        }
        Ok(queued)
    }

    /// Delivers the queued back-channel logout tokens that are due, concurrently: each is
    /// claimed first (one instance at a time sends it), a 200/204 ends it, a 4xx is logged
    /// and dropped, anything else is retried with back-off while the token is valid (ten
    /// minutes). Safe to run on every instance at once; the host calls it periodically.
    pub async fn deliver_logout_tokens(&self) -> Result<Deliveries, OAuthError> {
        let Some(http) = self.inner.http.clone() else {
            return Ok(Deliveries::default());
        };
        let now = self.now();
        let grants = self.inner.grants.as_ref();
        let count = |id: &'static str| async move {
            let stored = grants.get(RecordKind::Counter, id, now).await?;
            Ok::<u64, OAuthError>(
                stored
                    .and_then(|s| counter_value(&s.record.payload).ok())
                    .unwrap_or(0),
            )
        };
        let (tail, head) = (count(TAIL).await?, count(HEAD).await?);
        let records = Records(grants);
        let mut new_head = head;
        let mut due = Vec::new();
        for n in head + 1..=tail.min(head + SCAN) {
            let id = position_id(n);
            match records.get::<LogoutDeliveryRecord>(&id, now).await? {
                None if new_head == n - 1 => new_head = n,
                None => {}
                Some(l) => {
                    let claimed_long_ago = l.consumed_at.is_some_and(|c| now - c > CLAIM_TIMEOUT);
                    if claimed_long_ago {
                        // Its deliverer died after claiming it: put it back, take it over.
                        records
                            .put(Write::new(id.clone(), &l.value, None, l.expires_at))
                            .await?;
                        due.push((id, l.expires_at));
                    } else if l.consumed_at.is_none() && l.value.next_at <= now.unix_timestamp() {
                        due.push((id, l.expires_at));
                    }
                }
            }
        }
        if new_head > head {
            grants
                .put(
                    RecordKind::Counter,
                    HEAD,
                    crate::store::Record {
                        grant_id: None,
                        payload: new_head.to_string().into_bytes(),
                        expires_at: now + time::Duration::days(3650),
                    },
                )
                .await?;
        }
        let attempts = due
            .into_iter()
            .map(|(id, expires_at)| self.deliver_one(http.as_ref(), id, expires_at, now));
        let mut report = Deliveries::default();
        for outcome in futures::future::join_all(attempts).await {
            match outcome? {
                Some(Step::Delivered) => report.delivered += 1,
                Some(Step::Refused) => report.refused += 1,
                Some(Step::Retrying) => report.retrying += 1,
                Some(Step::Expired) => report.expired += 1,
                None => {}
            }
        }
        Ok(report)
    }

    /// Claims the delivery at `id` and attempts it; `None` when another instance has it.
    async fn deliver_one(
        &self,
        http: &dyn crate::http::HttpClient,
        id: String,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Option<Step>, OAuthError> {
        let records = Records(self.inner.grants.as_ref());
        let Taken::Consumed(mut record) = records.consume::<LogoutDeliveryRecord>(&id, now).await?
        else {
            return Ok(None);
        };
        // A URI the client registered itself is reached only through the SSRF guard
        // (https, no special-use address, no redirect).
        let http = match (&record.self_registered, self.inner.client_notify.as_deref()) {
            (true, Some(guarded)) => guarded,
            _ => http,
        };
        let answer = http
            .send(HttpRequest {
                method: "POST",
                url: record.uri.clone(),
                headers: vec![(
                    "Content-Type".into(),
                    "application/x-www-form-urlencoded".into(),
                )],
                body: backchannel::body(&record.token),
            })
            .await;
        let status = answer.as_ref().ok().map(|r| r.status);
        let client = crate::logging::untrusted(&record.client_id);
        match backchannel::outcome(status) {
            Outcome::Delivered => {
                records.delete::<LogoutDeliveryRecord>(&id).await?;
                tracing::info!(client_id = %client, "idpkit: back-channel logout delivered");
                Ok(Some(Step::Delivered))
            }
            Outcome::Refused => {
                records.delete::<LogoutDeliveryRecord>(&id).await?;
                tracing::warn!(client_id = %client, status, "idpkit: back-channel logout refused by the client; not retried");
                Ok(Some(Step::Refused))
            }
            Outcome::Retry => match backchannel::retry_at(record.attempts, now, expires_at) {
                Some(at) => {
                    record.attempts += 1;
                    record.next_at = at.unix_timestamp();
                    records
                        .put(Write::new(id, &record, None, expires_at))
                        .await?;
                    tracing::info!(client_id = %client, status, attempts = record.attempts, "idpkit: back-channel logout failed; will retry");
                    Ok(Some(Step::Retrying))
                }
                None => {
                    records.delete::<LogoutDeliveryRecord>(&id).await?;
                    tracing::warn!(client_id = %client, "idpkit: back-channel logout given up: the token expired undelivered");
                    Ok(Some(Step::Expired))
                }
            },
        }
    }
}

enum Step {
    Delivered,
    Refused,
    Retrying,
    Expired,
}
