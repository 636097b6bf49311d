//! What the operator should change, computed from the values of a refused token: generic
//! near misses first (a trailing slash, letter case, an ID token, a missing claim carried
//! under another name), then the few vendor facts idpkit knows, kept in the two tables
//! below and nowhere else.

use super::TrustedIssuer;
use super::claims::StdClaims;

/// Audiences of well-known APIs whose tokens only those APIs can use.
const WELL_KNOWN_AUDIENCES: &[(&str, &str)] = &[
    ("00000003-0000-0000-c000-000000000000", "Microsoft Graph"),
    ("https://graph.microsoft.com", "Microsoft Graph"),
    ("https://management.azure.com", "Azure Resource Manager"),
];

/// Issuer URL forms of one tenant: `(name, prefix, suffix)`, the tenant between them.
/// Microsoft Entra ID issues v1 tokens as `https://sts.windows.net/{tenant}/` and v2
/// tokens as `https://login.microsoftonline.com/{tenant}/v2.0`; which one an API gets is
/// set by `accessTokenAcceptedVersion` (`requestedAccessTokenVersion`) in its app
/// registration, not by the endpoint the client used.
const ISSUER_FORMS: &[(&str, &str, &str)] = &[
    ("v1", "https://sts.windows.net/", "/"),
    ("v2", "https://login.microsoftonline.com/", "/v2.0"),
];

/// Equal after dropping trailing slashes and ASCII case.
fn near(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}

/// The tenant and form name of an issuer in one of the [`ISSUER_FORMS`].
fn issuer_form(iss: &str) -> Option<(&'static str, &str)> {
    ISSUER_FORMS.iter().find_map(|(name, prefix, suffix)| {
        let tenant = iss.strip_prefix(prefix)?.strip_suffix(suffix)?;
        (!tenant.is_empty() && !tenant.contains('/')).then_some((*name, tenant))
    })
}

/// Why `found` may not match any of `trusted`.
pub(super) fn issuer(found: &str, trusted: &[&TrustedIssuer]) -> Option<String> {
    if found.is_empty() {
        return Some("the token has no \"iss\" claim (RFC 9068 §2.2 requires it)".into());
    }
    for t in trusted {
        if near(found, &t.issuer) {
            return Some(format!(
                "it differs from the trusted {:?} only by a trailing slash or letter case, and issuers are compared exactly (RFC 9068 §4): trust the exact value the issuer puts in its tokens",
                t.issuer
            ));
        }
    }
    let (form, tenant) = issuer_form(found)?;
    for t in trusted {
        if let Some((trusted_form, trusted_tenant)) = issuer_form(&t.issuer)
            && trusted_tenant.eq_ignore_ascii_case(tenant)
            && trusted_form != form
        {
            return Some(format!(
                "it is the {form} form of the trusted issuer {:?} (same tenant {tenant}): Entra ID issues {form} tokens to this API because of its app registration's accessTokenAcceptedVersion; trust {found:?} as well, or set accessTokenAcceptedVersion to {}",
                t.issuer,
                if trusted_form == "v2" {
                    "2"
                } else {
                    "null (v1)"
                }
            ));
        }
    }
    Some(format!(
        "it is a {form} issuer of tenant {tenant}, which is not trusted: a token from another tenant?"
    ))
}

/// Why the audiences do not match.
pub(super) fn audience(
    expected: &[String],
    found: &[&str],
    claims: &StdClaims<'_>,
) -> Option<String> {
    if found.is_empty() {
        return Some(
            "the token has no audience at all; the client must request it for this API (RFC 8707 resource, or the API's scope)".into(),
        );
    }
    let client = claims.azp.as_deref().or(claims.client_id.as_deref());
    if claims.nonce || client.is_some_and(|c| found.contains(&c)) {
        return Some(
            "its audience is the client itself, so this looks like an ID token sent as an access token".into(),
        );
    }
    for f in found {
        for e in expected {
            if near(f, e) {
                return Some(format!(
                    "{f:?} differs from the accepted {e:?} only by a trailing slash or letter case; audiences are compared exactly"
                ));
            }
            if f.strip_prefix("api://") == Some(e.as_str()) || e.strip_prefix("api://") == Some(*f)
            {
                return Some(format!(
                    "{f:?} is the same application as the accepted {e:?} (App ID URI vs application id: Entra v1 tokens carry the first, v2 tokens the second); accept both"
                ));
            }
        }
    }
    for f in found {
        if let Some((_, api)) = WELL_KNOWN_AUDIENCES.iter().find(|(aud, _)| near(f, aud)) {
            return Some(format!(
                "{f:?} is {api}: the token was requested for {api}, not for this API; the client must request a token for this API's own scope or application id (for Entra ID, `api://<app id>/.default` or a scope of this API)"
            ));
        }
    }
    None
}

/// Where the scopes may be when the token has none of the required ones.
pub(super) fn scope(claims: &StdClaims<'_>, issuer: &str, read_scp: bool) -> Option<String> {
    if claims.scope.is_some() {
        return None;
    }
    if let Some(scp) = &claims.scp {
        if read_scp {
            return None;
        }
        return Some(format!(
            "the token carries \"scp\" ({:?}), not \"scope\"; to read \"scp\" as the scopes, set TrustedIssuer::read_scp for {}",
            scp.join(" "),
            issuer
        ));
    }
    if claims.roles {
        return Some(
            "the token carries \"roles\" (application permissions), not scopes: an app-only token where a delegated one was expected?".into(),
        );
    }
    None
}

/// Where a missing claim may be instead.
pub(super) fn missing_claim(name: &str, claims: &StdClaims<'_>) -> Option<String> {
    if name != "client_id" {
        return None;
    }
    if let Some(azp) = &claims.azp {
        return Some(format!(
            "the token names its client in \"azp\" ({azp:?}) instead (as Entra ID v2 tokens do)"
        ));
    }
    claims.appid.as_ref().map(|appid| {
        format!(
            "the token names its client in \"appid\" ({appid:?}) instead (as Entra ID v1 tokens do)"
        )
    })
}

/// Why `typ` may be wrong, and the knob that accepts it.
pub(super) fn typ(found: Option<&str>, issuer: Option<&TrustedIssuer>) -> Option<String> {
    let jwt = found.is_some_and(|t| crate::jose::typ_matches(t, "JWT"));
    match (jwt, issuer) {
        (true, Some(i)) => Some(format!(
            "an ID token sent as an access token? If {}'s access tokens carry typ JWT (Entra ID's do), set TrustedIssuer::dangerous_accept_typ_jwt for it",
            i.issuer
        )),
        (true, None) => Some("an ID token sent as an access token?".into()),
        (false, _) => None,
    }
}
