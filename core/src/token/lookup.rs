//! Finding a token this provider issued, whatever its shape: for userinfo, introspection
//! and revocation.
//!
//! A JWT access token is verified (a published key of the algorithm named in the header
//! *and* of that algorithm's key type, `typ: at+jwt`, issuer, expiry) and, when bound to a
//! user grant, checked against its revocation handle; an opaque token is looked up by the
//! hash of its value.

use time::OffsetDateTime;

use super::access_token::{self, AccessClaims};
use crate::error::OAuthError;
use crate::records::{AccessRecord, Records, RefreshRecord, jwt_handle_id, secret_id};
use crate::services::Services;

/// A live access token, however it is shaped.
#[derive(Debug, Clone)]
pub(crate) struct ActiveToken {
    pub client_id: String,
    /// The user, if the token has one.
    pub subject: Option<String>,
    /// Its `sub`: the user, else the client whose token it is (the one it was issued to,
    /// or for an exchanged client token the subject token's client).
    pub sub: String,
    pub scopes: Vec<String>,
    pub aud: Vec<String>,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// Store id of the record that makes it revocable, if any.
    pub record_id: Option<String>,
    /// Its grant family, if any (what revoking the user's grant revokes).
    pub grant_id: Option<String>,
    /// When the user authenticated, when known.
    pub auth_time: Option<i64>,
    /// The actor of a delegated token (RFC 8693 §4.1).
    pub act: Option<serde_json::Value>,
    /// A guest token ([`crate::guest`]): `subject` is an anonymous guest.
    pub guest: bool,
    /// The granted authorization details (RFC 9396 §9.2), a JSON array, if any.
    pub authorization_details: Option<serde_json::Value>,
    /// The DPoP key it is bound to (`cnf.jkt`, RFC 9449 §6), if any.
    pub jkt: Option<String>,
    /// The claims the `claims` parameter requested from userinfo (OIDC Core §5.5).
    pub userinfo_claims: Vec<String>,
}

/// A live refresh token.
#[derive(Debug, Clone)]
pub(crate) struct ActiveRefresh {
    pub id: String,
    pub record: RefreshRecord,
    pub grant_id: Option<String>,
    pub expires_at: OffsetDateTime,
    pub consumed: bool,
}

/// The refresh token `token`, if it is one of ours (rotated ones included: `consumed`).
pub(crate) async fn refresh_token(
    services: Services<'_>,
    token: &str,
    now: OffsetDateTime,
) -> Result<Option<ActiveRefresh>, OAuthError> {
    let id = secret_id(token);
    Ok(Records(services.grants)
        .get::<RefreshRecord>(&id, now)
        .await?
        .map(|l| ActiveRefresh {
            id,
            record: l.value,
            grant_id: l.grant_id,
            expires_at: l.expires_at,
            consumed: l.consumed_at.is_some(),
        }))
}

/// Resolves an access token issued here; `None` for anything not active.
pub(crate) async fn access_token(
    services: Services<'_>,
    token: &str,
    now: OffsetDateTime,
) -> Result<Option<ActiveToken>, OAuthError> {
    let records = Records(services.grants);
    if token.contains('.') {
        let Some(claims) = verify_own_access_token(services, token, now).await else {
            return Ok(None);
        };
        // A user's token, and a guest's, has a revocation handle: it must still exist.
        let user_bound = claims.auth_time.is_some() || crate::guest::is_guest_subject(&claims.sub);
        let record_id = jwt_handle_id(&claims.jti);
        let mut grant_id = None;
        let mut guest = false;
        let mut userinfo_claims = Vec::new();
        let mut subject = None;
        if user_bound {
            let Some(handle) = records.get::<AccessRecord>(&record_id, now).await? else {
                return Ok(None);
            };
            grant_id = handle.grant_id;
            guest = handle.value.guest;
            userinfo_claims = handle.value.userinfo_claims;
            // The local subject: the JWT's `sub` is pairwise for a pairwise client.
            subject = Some(handle.value.subject.unwrap_or_else(|| claims.sub.clone()));
        }
        return Ok(Some(ActiveToken {
            guest,
            subject,
            sub: claims.sub,
            client_id: claims.client_id,
            scopes: crate::scope::parse(Some(&claims.scope)),
            aud: claims.aud,
            iat: claims.iat,
            exp: claims.exp,
            jti: claims.jti,
            record_id: user_bound.then_some(record_id),
            grant_id,
            auth_time: claims.auth_time,
            act: claims.act,
            authorization_details: claims.authorization_details,
            jkt: claims.cnf.map(|c| c.jkt),
            userinfo_claims,
        }));
    }
    let id = secret_id(token);
    let Some(loaded) = records.get::<AccessRecord>(&id, now).await? else {
        return Ok(None);
    };
    let rec = loaded.value;
    if rec.jwt {
        // A JWT's revocation handle is never a token.
        return Ok(None);
    }
    let sub = rec
        .subject
        .clone()
        .or(rec.client_subject)
        .unwrap_or_else(|| rec.client_id.clone());
    Ok(Some(ActiveToken {
        guest: rec.guest,
        client_id: rec.client_id,
        subject: rec.subject,
        sub,
        scopes: rec.scopes,
        aud: rec.aud,
        iat: rec.iat,
        exp: rec.exp,
        jti: rec.jti,
        record_id: Some(id),
        grant_id: loaded.grant_id,
        auth_time: rec.auth_time,
        act: rec.act,
        authorization_details: crate::authorization_details::to_json(&rec.authorization_details),
        jkt: rec.jkt,
        userinfo_claims: rec.userinfo_claims,
    }))
}

/// Verifies a JWT access token issued by this provider with the shared check list
/// ([`crate::jose::verify_compact`]: no `crit`, an allowed algorithm, a published key of the
/// algorithm's own type, the signature, `exp`), with keys parsed once per JWKS; then
/// `typ: at+jwt` (RFC 9068 §4) and our issuer. Returns `None` for anything else.
async fn verify_own_access_token(
    services: Services<'_>,
    token: &str,
    now: OffsetDateTime,
) -> Option<AccessClaims> {
    let jwks = services.keys.jwks().await.ok()?;
    let keys = services.key_sets.get(&jwks);
    let verified = crate::jose::verify_compact(token, &keys, services.algorithms, now).ok()?;
    if !verified.header().typ_is(access_token::TYP) {
        return None;
    }
    let claims: AccessClaims = serde_json::from_slice(verified.payload()).ok()?;
    (claims.iss == services.config.issuer).then_some(claims)
}
