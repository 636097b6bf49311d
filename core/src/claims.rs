//! The claims of a subject for ID tokens and userinfo (OIDC Core §5): the host's [`crate::UserStore`]
//! decides for its own accounts; the mapped claims of the subject's last federated login
//! fill in (or, for a federated-only subject, are) the rest.

use time::{Duration, OffsetDateTime};

use crate::config::Config;
use crate::error::OAuthError;
use crate::records::{FederatedClaimsRecord, Records, Write, federated_claims_id};
use crate::services::Services;
use crate::users::Claims;

/// Claims that only make sense together: when the host sets one of a group, the upstream's
/// claims of that group are not mixed in (an upstream `email_verified` must never vouch for
/// the host's `email`).
const CLAIM_GROUPS: &[&[&str]] = &[
    &["email", "email_verified"],
    &["phone_number", "phone_number_verified"],
];

/// The host's claims, filled in from the upstream's where the host sets neither the claim
/// nor any claim of its group.
pub(crate) fn merge(mut host: Claims, upstream: Claims) -> Claims {
    // Decide against the host's own claims, not against what this loop already added:
    // a group the host does not set comes over whole.
    let host_sets = |host: &Claims, k: &str| {
        let group = CLAIM_GROUPS
            .iter()
            .find(|g| g.contains(&k))
            .copied()
            .unwrap_or(&[]);
        host.contains_key(k) || group.iter().any(|g| host.contains_key(*g))
    };
    let fill: Vec<(String, serde_json::Value)> = upstream
        .into_iter()
        .filter(|(k, _)| !host_sets(&host, k))
        .collect();
    host.extend(fill);
    host
}

/// How long mapped claims are kept after the last login or token issue.
pub(crate) fn ttl(c: &Config) -> Duration {
    c.refresh_token_ttl
        .max(c.session_ttl)
        .max(c.access_token_ttl)
}

/// Stores the mapped claims of `subject`'s login.
pub(crate) async fn save(
    services: Services<'_>,
    subject: &str,
    record: &FederatedClaimsRecord,
    now: OffsetDateTime,
) -> Result<(), OAuthError> {
    Records(services.grants)
        .put(Write::new(
            federated_claims_id(subject),
            record,
            None,
            now + ttl(services.config),
        ))
        .await?;
    Ok(())
}

/// Claims of `subject`: `None` when the user is gone. A host account's claims come from the
/// host (`None` there wins, whatever the upstream said), filled in by the mapped claims of
/// its last federated login (never half of a pair such as `email` / `email_verified`). A
/// federated-only subject's claims are the mapped ones, while its upstream is configured.
pub(crate) async fn user_claims(
    services: Services<'_>,
    subject: &str,
    scopes: &[String],
    now: OffsetDateTime,
) -> Result<Option<Claims>, OAuthError> {
    let host = services.users.claims(subject, scopes).await?;
    if services.upstreams.is_empty() {
        return Ok(host);
    }
    let id = federated_claims_id(subject);
    let Some(stored) = Records(services.grants)
        .get::<FederatedClaimsRecord>(&id, now)
        .await?
    else {
        return Ok(host);
    };
    let record = stored.value;
    if !services
        .upstreams
        .iter()
        .any(|u| u.name() == record.upstream)
    {
        // That upstream was removed: its logins no longer vouch for anyone.
        return Ok(host);
    }
    match (host, record.host_account) {
        (Some(h), _) => Ok(Some(merge(h, record.claims))),
        (None, true) => Ok(None),
        (None, false) => {
            // Tokens keep being issued (refresh): keep the claims as long as they are.
            if stored.expires_at - now < ttl(services.config) / 2 {
                save(services, subject, &record, now).await?;
            }
            Ok(Some(record.claims))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(pairs: &[(&str, serde_json::Value)]) -> Claims {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn host_claims_win_and_upstream_claims_fill_in() {
        let host = claims(&[("name", json!("Alice L."))]);
        let up = claims(&[("name", json!("alice")), ("nickname", json!("al"))]);
        let m = merge(host, up);
        assert_eq!(m["name"], "Alice L.");
        assert_eq!(m["nickname"], "al");
    }

    #[test]
    fn an_upstream_never_vouches_for_half_of_a_host_pair() {
        let host = claims(&[("email", json!("alice@host.example"))]);
        let up = claims(&[
            ("email_verified", json!(true)),
            ("phone_number", json!("+1")),
            ("phone_number_verified", json!(true)),
        ]);
        let m = merge(host, up);
        assert!(
            m.get("email_verified").is_none(),
            "host email, upstream verification"
        );
        assert_eq!(
            m["phone_number"], "+1",
            "a group the host does not set comes whole"
        );
        assert_eq!(m["phone_number_verified"], true);
    }
}
