//! Typed records: every payload type names its [`RecordKind`], so a write is one typed
//! value and a read decodes to the type its kind stores, never to another by mistake.
//!
//! This file is the whole schema of what idpkit keeps in a [`GrantStore`] (JSON payloads;
//! field names are stable across releases, new fields are `#[serde(default)]`). Record ids
//! are [`secret_id`]s (base64url SHA-256 of the secret handed to a client or browser) or ids
//! derived from stable names ([`consent_id`], [`jwt_handle_id`], [`federated_claims_id`]):
//! the secrets themselves are never stored.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::authorization_details::AuthorizationDetail;
use crate::authorization_request::AuthorizationRequest;
use crate::crypto;
use crate::interaction::Needs;
use crate::store::{Consume, GrantStore, Record, RecordKind, StoreError};

/// A payload type stored under one [`RecordKind`].
pub(crate) trait Payload: Serialize + DeserializeOwned {
    /// The kind every record of this type is stored as.
    const KIND: RecordKind;
}

/// The store id of a secret (a code, a token, a cookie value): base64url SHA-256.
pub(crate) fn secret_id(secret: &str) -> String {
    crypto::sha256_b64(secret.as_bytes())
}

/// Store id of a user's consent to a client.
pub(crate) fn consent_id(subject: &str, client_id: &str) -> String {
    crypto::sha256_b64(format!("{subject}\u{0}{client_id}").as_bytes())
}

/// Store id of a JWT's revocation handle: domain-separated from opaque tokens' ids
/// (`sha256(token)`), so that presenting a `jti` can never pass for a token.
pub(crate) fn jwt_handle_id(jti: &str) -> String {
    crypto::sha256_b64(format!("idpkit-jwt-handle:{jti}").as_bytes())
}

/// Store id of a federated subject's mapped claims.
pub(crate) fn federated_claims_id(subject: &str) -> String {
    crypto::sha256_b64(subject.as_bytes())
}

/// One typed write: kind, id and record, built from a payload.
#[derive(Debug, Clone)]
pub(crate) struct Write {
    pub kind: RecordKind,
    pub id: String,
    pub record: Record,
}

impl Write {
    /// The record `value` under `id`, in grant family `grant_id`, until `expires_at`.
    pub fn new<T: Payload>(
        id: String,
        value: &T,
        grant_id: Option<&str>,
        expires_at: OffsetDateTime,
    ) -> Self {
        Self {
            kind: T::KIND,
            id,
            record: Record {
                grant_id: grant_id.map(str::to_owned),
                payload: encode(value),
                expires_at,
            },
        }
    }

    /// The tuple [`GrantStore::put_then_consume`] takes.
    pub fn into_tuple(self) -> (RecordKind, String, Record) {
        (self.kind, self.id, self.record)
    }
}

/// A typed record as read back.
#[derive(Debug, Clone)]
pub(crate) struct Loaded<T> {
    pub value: T,
    pub grant_id: Option<String>,
    pub expires_at: OffsetDateTime,
    pub consumed_at: Option<OffsetDateTime>,
}

/// The outcome of a typed consume.
#[derive(Debug)]
pub(crate) enum Taken<T> {
    /// This call consumed it.
    Consumed(T),
    /// Consumed before.
    AlreadyConsumed,
    /// No such live record.
    NotFound,
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // The payloads are plain structs of strings, numbers and JSON maps: serialising them
    // cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

/// Decodes the payload of record `id` of `T`'s kind.
pub(crate) fn decode<T: Payload>(id: &str, payload: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(payload).map_err(|e| StoreError::Corrupt {
        kind: T::KIND.as_str(),
        id: id.to_owned(),
        reason: e.to_string(),
    })
}

/// Typed access to a grant store.
#[derive(Clone, Copy)]
pub(crate) struct Records<'a>(pub &'a dyn GrantStore);

impl Records<'_> {
    /// Reads a live record of type `T`.
    pub async fn get<T: Payload>(
        &self,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Loaded<T>>, StoreError> {
        let Some(stored) = self.0.get(T::KIND, id, now).await? else {
            return Ok(None);
        };
        Ok(Some(Loaded {
            value: decode(id, &stored.record.payload)?,
            grant_id: stored.record.grant_id,
            expires_at: stored.record.expires_at,
            consumed_at: stored.consumed_at,
        }))
    }

    /// Writes one record.
    pub async fn put(&self, w: Write) -> Result<(), StoreError> {
        self.0.put(w.kind, &w.id, w.record).await
    }

    /// Writes every record, in order.
    pub async fn put_all(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        for w in writes {
            self.put(w).await?;
        }
        Ok(())
    }

    /// Consumes a record of type `T` atomically.
    pub async fn consume<T: Payload>(
        &self,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Taken<T>, StoreError> {
        Ok(match self.0.consume(T::KIND, id, now).await? {
            Consume::Consumed(r) => Taken::Consumed(decode(id, &r.payload)?),
            Consume::AlreadyConsumed { .. } => Taken::AlreadyConsumed,
            Consume::NotFound => Taken::NotFound,
        })
    }

    /// Deletes a record of type `T`.
    pub async fn delete<T: Payload>(&self, id: &str) -> Result<(), StoreError> {
        self.0.delete(T::KIND, id).await
    }
}

/// A stored authorization code (RFC 6749 §4.1.2): bound to client, redirect URI, PKCE
/// challenge and nonce.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct CodeRecord {
    pub client_id: String,
    pub redirect_uri: String,
    /// Whether the authorization request carried `redirect_uri` (then the token request
    /// must too, RFC 6749 §4.1.3).
    #[serde(default)]
    pub redirect_uri_sent: bool,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub subject: String,
    pub auth_time: i64,
    /// `sid` of the session the code came from, for the ID token.
    #[serde(default)]
    pub sid: Option<String>,
    /// The resources of the authorization (RFC 8707 §2.1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// The granted authorization details (RFC 9396 §2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_details: Vec<AuthorizationDetail>,
    /// `dpop_jkt` of the authorization request (RFC 9449 §10): the code is redeemed only
    /// with a DPoP proof of that key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
    /// The `claims` parameter of the authorization request (OIDC Core §5.5).
    #[serde(
        default,
        skip_serializing_if = "crate::claims_request::ClaimsRequest::is_empty"
    )]
    pub claims: crate::claims_request::ClaimsRequest,
}

impl Payload for CodeRecord {
    const KIND: RecordKind = RecordKind::AuthorizationCode;
}

/// A stored refresh token (RFC 6749 §6).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct RefreshRecord {
    pub client_id: String,
    pub subject: String,
    /// The scopes originally granted; a refresh may narrow, never widen.
    pub scopes: Vec<String>,
    pub auth_time: i64,
    pub iat: i64,
    /// `sid` of the session the grant came from, kept through rotations so refreshed ID
    /// tokens carry it (OIDC Core §12.2: the same `sid`).
    #[serde(default)]
    pub sid: Option<String>,
    /// The resources of the authorization (RFC 8707 §2.2: a refresh may narrow them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// The granted authorization details (RFC 9396 §7), kept through rotations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_details: Vec<AuthorizationDetail>,
    /// The DPoP key (`jkt`) the refresh token of a public client is bound to (RFC 9449
    /// §5): a refresh needs a proof of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jkt: Option<String>,
    /// The `claims` parameter of the authorization (OIDC Core §5.5), kept through
    /// rotations so refreshed ID tokens carry the requested claims.
    #[serde(
        default,
        skip_serializing_if = "crate::claims_request::ClaimsRequest::is_empty"
    )]
    pub claims: crate::claims_request::ClaimsRequest,
}

impl Payload for RefreshRecord {
    const KIND: RecordKind = RecordKind::RefreshToken;
}

/// A stored access token: the whole token for opaque ones, the revocation handle (keyed by
/// [`jwt_handle_id`]) for grant-bound JWTs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct AccessRecord {
    /// `true` for the revocation handle of a JWT; `false` for an opaque token. An opaque
    /// lookup must never find a JWT's handle.
    #[serde(default)]
    pub jwt: bool,
    pub client_id: String,
    pub subject: Option<String>,
    pub scopes: Vec<String>,
    pub aud: Vec<String>,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The actor of a delegated (token-exchanged) token, RFC 8693 §4.1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<serde_json::Value>,
    /// When the user authenticated (token exchange carries it to the exchanged token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// The `sub` of a token without a user that is not the client it was issued to: a
    /// token exchange of another client's token (RFC 8693 §1.1). `None`: the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_subject: Option<String>,
    /// A guest token ([`crate::guest`]): its subject is anonymous, and
    /// [`Provider::upgrade_guest`](crate::Provider::upgrade_guest) may give it to a user.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub guest: bool,
    /// The granted authorization details (RFC 9396 §9.2: introspection returns them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_details: Vec<AuthorizationDetail>,
    /// The DPoP key (`jkt`) the token is bound to (RFC 9449 §6), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jkt: Option<String>,
    /// The claims the `claims` parameter requested from userinfo (OIDC Core §5.5), for a
    /// user's token.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub userinfo_claims: Vec<String>,
}

impl Payload for AccessRecord {
    const KIND: RecordKind = RecordKind::AccessToken;
}

/// The one allowed retry of a rotated refresh token: names the successor to revoke.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct GraceRecord {
    pub successor_id: String,
    /// Revocation handles of the access tokens issued with the successor.
    #[serde(default)]
    pub access_token_ids: Vec<String>,
}

impl Payload for GraceRecord {
    const KIND: RecordKind = RecordKind::RefreshGrace;
}

/// A pending login/consent interaction, keyed by the interaction id.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct InteractionRecord {
    pub request: AuthorizationRequest,
    /// SHA-256 of the browser-binding cookie value.
    pub binding: String,
    pub needs: Needs,
    pub subject: Option<String>,
    pub auth_time: Option<i64>,
    /// Store id of the SSO session this interaction continues: created at its login, or
    /// the session it started from (a consent after SSO).
    pub new_session: Option<String>,
    /// Store id of the session the browser had when the interaction started: a new login
    /// replaces it.
    #[serde(default)]
    pub previous_session: Option<String>,
}

impl Payload for InteractionRecord {
    const KIND: RecordKind = RecordKind::Interaction;
}

/// A browser's SSO session, keyed by the [`secret_id`] of its cookie.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct SessionRecord {
    pub subject: String,
    pub auth_time: i64,
    /// The session id of ID tokens (`sid`, Front-/Back-Channel Logout §2/§2.1): random,
    /// not the cookie's secret. Empty for sessions stored before it existed.
    #[serde(default)]
    pub sid: String,
    /// When the session began (Unix seconds): the absolute lifetime counts from here.
    #[serde(default)]
    pub created_at: i64,
    /// When it was last used to answer an authorization request.
    #[serde(default)]
    pub last_used: i64,
    /// The grants issued in this session (newest last, at most
    /// [`crate::session::MAX_SESSION_GRANTS`]): what logout revokes and whom it tells.
    #[serde(default)]
    pub grants: Vec<SessionGrant>,
    /// The subject's session epoch at login: "log out everywhere" moves the epoch on, and
    /// every session of an older one is over, on every instance at once.
    #[serde(default)]
    pub epoch: u64,
}

/// A grant issued in a session.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct SessionGrant {
    pub client_id: String,
    pub grant_id: String,
    /// The user granted `offline_access`: the default logout policy keeps it (OIDC Core
    /// §11).
    pub offline: bool,
}

impl Payload for SessionRecord {
    const KIND: RecordKind = RecordKind::Session;
}

/// A logout waiting for the user's confirmation, keyed by its id (in the host page's URL)
/// and bound to the browser like an interaction.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct LogoutRecord {
    pub request: crate::end_session::EndSessionRequest,
    /// SHA-256 of the browser-binding cookie value.
    pub binding: String,
    /// The client the request comes from (hint or `client_id`), if any.
    pub client_id: Option<String>,
    /// Where to send the browser afterwards (checked, with `state`).
    pub redirect: Option<String>,
    /// Store id of the session the request would end.
    pub session_id: Option<String>,
}

impl Payload for LogoutRecord {
    const KIND: RecordKind = RecordKind::Logout;
}

/// The SSO sessions of a subject (store ids, newest last), keyed by
/// [`subject_sessions_id`]: what the session API lists and ends.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub(crate) struct SubjectSessionsRecord {
    pub sessions: Vec<String>,
}

impl Payload for SubjectSessionsRecord {
    const KIND: RecordKind = RecordKind::SubjectSessions;
}

/// Store id of a subject's session list.
pub(crate) fn subject_sessions_id(subject: &str) -> String {
    crypto::sha256_b64(format!("idpkit-subject-sessions:{subject}").as_bytes())
}

/// A back-channel logout token waiting for delivery, keyed by its queue position.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct LogoutDeliveryRecord {
    pub client_id: String,
    pub uri: String,
    /// The signed logout token (the same for every attempt: the RP dedupes by `jti`).
    pub token: String,
    pub attempts: u32,
    /// Not before (Unix seconds).
    pub next_at: i64,
    /// The client registered itself (RFC 7591, or a metadata document): its URI is
    /// reached only through the SSRF guard.
    #[serde(default)]
    pub self_registered: bool,
}

impl Payload for LogoutDeliveryRecord {
    const KIND: RecordKind = RecordKind::LogoutDelivery;
}

/// Where a device authorization stands.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DeviceStatus {
    /// The user has not decided yet.
    Pending,
    /// A user approved it.
    Approved(DeviceApproval),
    /// The user denied it.
    Denied,
}

/// Who approved a device authorization, and what.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct DeviceApproval {
    pub subject: String,
    /// The scopes the user approved (a subset of those asked for).
    pub scopes: Vec<String>,
    pub auth_time: i64,
    /// `sid` of the browser session it was approved in.
    #[serde(default)]
    pub sid: Option<String>,
}

/// A device authorization (RFC 8628 §3.2), keyed by the `secret_id` of its `device_code`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct DeviceCodeRecord {
    pub client_id: String,
    /// The scopes asked for.
    pub scopes: Vec<String>,
    /// Store id of its user code.
    pub user_code_id: String,
    /// When the device code expires (Unix seconds). The record is kept a while longer, so
    /// that a poll after the end learns `expired_token` rather than `invalid_grant`.
    pub expires_at: i64,
    /// The base polling interval (seconds).
    pub interval: i64,
    pub status: DeviceStatus,
}

impl Payload for DeviceCodeRecord {
    const KIND: RecordKind = RecordKind::DeviceCode;
}

/// A user code (RFC 8628 §3.2), keyed by [`crate::device_authorization::user_code_id`]:
/// names its device code. Consumed by the user's decision.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct UserCodeRecord {
    /// Store id of the device code.
    pub device_id: String,
}

impl Payload for UserCodeRecord {
    const KIND: RecordKind = RecordKind::UserCode;
}

/// The scopes a user approved for a client, keyed by [`consent_id`].
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub(crate) struct ConsentRecord {
    pub scopes: Vec<String>,
}

impl Payload for ConsentRecord {
    const KIND: RecordKind = RecordKind::Consent;
}

/// A pushed authorization request (RFC 9126 §2), keyed by the [`secret_id`] of its
/// `request_uri`: the request as validated at the push, consumed by the authorization
/// request that names it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct PushedRequestRecord {
    pub request: AuthorizationRequest,
}

impl Payload for PushedRequestRecord {
    const KIND: RecordKind = RecordKind::PushedAuthorizationRequest;
}

/// A login sent to an upstream provider, keyed by the interaction id.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct UpstreamLoginRecord {
    pub upstream: String,
    pub state: String,
}

impl Payload for UpstreamLoginRecord {
    const KIND: RecordKind = RecordKind::UpstreamLogin;
}

/// The mapped claims of a federated subject, keyed by [`federated_claims_id`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct FederatedClaimsRecord {
    pub upstream: String,
    /// The subject is an account of the host (`Link::Existing`): the host's user store
    /// decides whether it exists, these claims only fill in.
    pub host_account: bool,
    pub claims: serde_json::Map<String, serde_json::Value>,
}

impl Payload for FederatedClaimsRecord {
    const KIND: RecordKind = RecordKind::FederatedClaims;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryGrantStore;
    use time::Duration;

    fn t0() -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::days(20_000)
    }

    #[test]
    fn every_payload_type_names_a_distinct_kind() {
        let kinds = [
            CodeRecord::KIND,
            RefreshRecord::KIND,
            AccessRecord::KIND,
            GraceRecord::KIND,
            InteractionRecord::KIND,
            SessionRecord::KIND,
            ConsentRecord::KIND,
            UpstreamLoginRecord::KIND,
            FederatedClaimsRecord::KIND,
            // Counters are written by `GrantStore::increment` (decimal digits), not as a
            // payload type: see `crate::throttle`.
            LogoutRecord::KIND,
            LogoutDeliveryRecord::KIND,
            SubjectSessionsRecord::KIND,
            RecordKind::Counter,
            DeviceCodeRecord::KIND,
            UserCodeRecord::KIND,
            PushedRequestRecord::KIND,
        ];
        let mut sorted = kinds.to_vec();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), kinds.len());
        assert_eq!(
            sorted.len(),
            RecordKind::ALL.len(),
            "every kind has its payload type"
        );
    }

    #[test]
    fn ids_are_hashes_never_the_secret_and_are_domain_separated() {
        let id = secret_id("the-code");
        assert_ne!(id, "the-code");
        assert_eq!(id.len(), 43, "base64url SHA-256");
        assert_ne!(
            jwt_handle_id("x"),
            secret_id("x"),
            "a jti never passes for a token"
        );
        assert_ne!(
            consent_id("a", "bc"),
            consent_id("ab", "c"),
            "separator between parts"
        );
    }

    #[test]
    fn a_write_carries_its_kind_grant_and_expiry() {
        let w = Write::new(
            "id".into(),
            &SessionRecord {
                subject: "alice".into(),
                auth_time: 1,
                sid: "sid".into(),
                created_at: 1,
                last_used: 1,
                grants: Vec::new(),
                epoch: 0,
            },
            Some("g"),
            t0(),
        );
        assert_eq!(w.kind, RecordKind::Session);
        assert_eq!(w.record.grant_id.as_deref(), Some("g"));
        assert_eq!(w.record.expires_at, t0());
        let back: SessionRecord = decode("id", &w.record.payload).expect("round trip");
        assert_eq!(back.subject, "alice");
    }

    #[test]
    fn a_corrupt_payload_names_kind_and_id() {
        let e = decode::<CodeRecord>("abc", b"{not json").expect_err("corrupt");
        assert!(
            matches!(e, StoreError::Corrupt { kind: "code", ref id, .. } if id == "abc"),
            "{e}"
        );
    }

    #[test]
    fn older_records_without_new_fields_still_decode() {
        let code: CodeRecord = decode(
            "c",
            br#"{"client_id":"c","redirect_uri":"https://a/cb","scopes":["openid"],
                "nonce":null,"code_challenge":null,"subject":"s","auth_time":1}"#,
        )
        .expect("defaults");
        assert!(!code.redirect_uri_sent);
        let access: AccessRecord = decode(
            "a",
            br#"{"client_id":"c","subject":null,"scopes":[],"aud":[],"iat":1,"exp":2,"jti":"j"}"#,
        )
        .expect("defaults");
        assert!(!access.jwt, "an old record is an opaque token");
        assert!(
            access.act.is_none() && access.auth_time.is_none() && access.client_subject.is_none()
        );
        assert!(!access.guest, "and not a guest token");
    }

    #[tokio::test]
    async fn typed_reads_consume_and_delete_through_the_store() {
        let store = MemoryGrantStore::default();
        let r = Records(&store);
        let rec = ConsentRecord {
            scopes: vec!["openid".into()],
        };
        r.put(Write::new(
            "k".into(),
            &rec,
            None,
            t0() + Duration::minutes(1),
        ))
        .await
        .expect("put");
        let got = r.get::<ConsentRecord>("k", t0()).await.expect("get");
        assert_eq!(got.map(|l| l.value), Some(rec.clone()));
        assert!(
            r.get::<ConsentRecord>("k", t0() + Duration::minutes(1))
                .await
                .expect("get")
                .is_none(),
            "expired at expires_at"
        );
        assert!(matches!(
            r.consume::<ConsentRecord>("k", t0()).await.expect("consume"),
            Taken::Consumed(ref v) if *v == rec
        ));
        assert!(matches!(
            r.consume::<ConsentRecord>("k", t0())
                .await
                .expect("consume"),
            Taken::AlreadyConsumed
        ));
        r.delete::<ConsentRecord>("k").await.expect("delete");
        assert!(matches!(
            r.consume::<ConsentRecord>("k", t0())
                .await
                .expect("consume"),
            Taken::NotFound
        ));
    }
}
