//! The authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1): parsed and validated in
//! one sync function of the parameters and the client.
//!
//! Order matters (RFC 6749 §4.1.2.1): the client and the redirect URI are checked first,
//! and an error about either is shown to the user, never redirected. Once the redirect URI
//! is trusted, every other error goes back to the client, with its `state`, in the response
//! mode it asked for (or `query` when the response mode itself is the problem).

use serde::{Deserialize, Serialize};

use crate::authorization_details::{AuthorizationDetail, AuthorizationDetailsPolicy};
use crate::authorization_response::{ResponseMode, Target};
use crate::claims_request::{self, ClaimsRequest};
use crate::client::{Client, GrantType};
use crate::error::{ErrorCode, OAuthError};
use crate::http_types::Params;
use crate::resource_indicator::Resource;
use crate::{authorization_details, pkce, resource_indicator, scope};

/// What parsing an authorization request needs to know of the provider.
#[derive(Clone, Copy)]
pub(crate) struct Known<'a> {
    /// Whether a name is a configured upstream provider (for `idp_hint`).
    pub is_upstream: &'a dyn Fn(&str) -> bool,
    /// The registered resources (RFC 8707).
    pub resources: &'a [Resource],
    /// The provider's `authorization_details` types (empty: any the client registered).
    pub details_types: &'a [String],
    /// The host's check of authorization details (RFC 9396).
    pub details_policy: &'a dyn AuthorizationDetailsPolicy,
}

impl Known<'static> {
    /// Nothing configured: no upstream, no resource, the default details policy (tests).
    #[cfg(test)]
    pub fn none() -> Self {
        Self {
            is_upstream: &|_| false,
            resources: &[],
            details_types: &[],
            details_policy: &authorization_details::AcceptRegisteredTypes,
        }
    }
}

/// The validated authorization request, kept with an interaction and a code.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    /// Whether the request carried `redirect_uri` (then the token request must too).
    #[serde(default)]
    pub redirect_uri_sent: bool,
    pub response_mode: ResponseMode,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    /// Only kept for OpenID requests.
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Vec<String>,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// The upstream named by `idp_hint` / `acr_values=idp:NAME` (only a configured one).
    #[serde(default)]
    pub upstream_hint: Option<String>,
    /// Set when the request is a device authorization's (RFC 8628 §3.3), entered at the
    /// user-code page: there is no redirect URI, and the user's decision goes to the device
    /// code instead of a code in a redirect.
    #[serde(default)]
    pub device: Option<DeviceRequest>,
    /// The resources asked for (RFC 8707 §2.1), registered ones only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// The authorization details asked for (RFC 9396 §2), checked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_details: Vec<AuthorizationDetail>,
    /// `dpop_jkt` (RFC 9449 §10): the code is bound to this DPoP key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
    /// The `claims` parameter (OIDC Core §5.5).
    #[serde(default, skip_serializing_if = "ClaimsRequest::is_empty")]
    pub claims: ClaimsRequest,
}

/// The device authorization a request continues (RFC 8628): store ids of its device code
/// and its user code.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct DeviceRequest {
    pub device_id: String,
    pub user_code_id: String,
}

impl AuthorizationRequest {
    /// Where the answer to this request goes.
    pub fn target(&self) -> Target {
        Target {
            redirect_uri: self.redirect_uri.clone(),
            mode: self.response_mode,
            state: self.state.clone(),
        }
    }

    /// Whether `prompt` has `value` (OIDC Core §3.1.2.1).
    pub fn prompts(&self, value: &str) -> bool {
        self.prompt.iter().any(|p| p == value)
    }
}

/// Why a request was refused, and how the refusal must be delivered.
#[derive(Debug)]
pub(crate) enum Refused {
    /// The client or redirect URI cannot be trusted: show an error page to the user.
    Show(OAuthError),
    /// Redirect the error to the (trusted) redirect URI.
    Redirect(Target, OAuthError),
}

/// The longest `state`, `nonce`, `login_hint`, `scope`, `idp_hint` or `acr_values` kept
/// (bytes). An unauthenticated request is stored with its interaction until the user acts,
/// so what it may make idpkit keep (and echo) is bounded.
pub(crate) const MAX_PARAM_BYTES: usize = 2048;

/// The parameters an authorization request makes idpkit keep or echo, besides `state`.
const KEPT: [&str; 5] = ["nonce", "login_hint", "scope", "idp_hint", "acr_values"];

/// `invalid_request` for a kept parameter longer than [`MAX_PARAM_BYTES`].
pub(crate) fn check_length(name: &str, value: Option<&str>) -> Result<(), OAuthError> {
    match value {
        Some(v) if v.len() > MAX_PARAM_BYTES => Err(OAuthError::invalid_request(format!(
            "parameter {name} is longer than {MAX_PARAM_BYTES} bytes"
        ))),
        _ => Ok(()),
    }
}

/// Parses and validates an authorization request for `client` (`None`: no such client),
/// with what the provider knows (`known`: upstreams, resources, authorization details).
pub(crate) fn parse(
    p: &Params,
    client: Option<&Client>,
    known: &Known<'_>,
) -> Result<AuthorizationRequest, Refused> {
    p.require("client_id").map_err(Refused::Show)?;
    let client =
        client.ok_or_else(|| Refused::Show(OAuthError::invalid_request("unknown client_id")))?;
    let redirect_uri = redirect_uri(p, client).map_err(Refused::Show)?;
    // A `state` too long to keep cannot be echoed either (RFC 6749 §4.1.2.1 would need it
    // on the error redirect): the user sees the error.
    check_length("state", p.get("state").ok().flatten()).map_err(Refused::Show)?;
    // From here on the redirect URI is trusted: errors go back to the client.
    let Some(mode) = p
        .get("response_mode")
        .ok()
        .and_then(ResponseMode::from_param)
    else {
        let to = Target {
            redirect_uri,
            mode: ResponseMode::Query,
            state: p.get("state").ok().flatten().map(str::to_owned),
        };
        return Err(Refused::Redirect(
            to,
            OAuthError::invalid_request("unsupported response_mode"),
        ));
    };
    let state = match p.get("state") {
        Ok(s) => s.map(str::to_owned),
        Err(e) => {
            let to = Target {
                redirect_uri,
                mode,
                state: None,
            };
            return Err(Refused::Redirect(to, e));
        }
    };
    validate(p, client, &redirect_uri, mode, state.clone(), known).map_err(|e| {
        Refused::Redirect(
            Target {
                redirect_uri,
                mode,
                state,
            },
            e,
        )
    })
}

/// The redirect URI: one registered for the client, compared exactly (RFC 9700 §4.1.3);
/// may be left out only when the client registered exactly one (RFC 6749 §3.1.2.3).
pub(crate) fn redirect_uri(p: &Params, client: &Client) -> Result<String, OAuthError> {
    match p.get("redirect_uri")? {
        Some(uri) if client.redirect_uri_matches(uri) => Ok(uri.to_owned()),
        Some(_) => Err(OAuthError::invalid_request(
            "redirect_uri is not registered for this client",
        )),
        None if client.redirect_uris.len() == 1 => Ok(client.redirect_uris[0].clone()),
        None => Err(OAuthError::invalid_request("missing redirect_uri")),
    }
}

fn validate(
    p: &Params,
    client: &Client,
    redirect_uri: &str,
    response_mode: ResponseMode,
    state: Option<String>,
    known: &Known<'_>,
) -> Result<AuthorizationRequest, OAuthError> {
    // RFC 6749 §3.1, except `resource`, which RFC 8707 §2 lets repeat.
    if let Some(dup) = first_duplicate_but_resource(p) {
        return Err(OAuthError::invalid_request(format!(
            "parameter {dup} is included more than once"
        )));
    }
    for name in KEPT {
        check_length(name, p.get(name)?)?;
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
    let scopes = scope::parse(p.get("scope")?);
    if scopes.is_empty() {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "scope is required",
        ));
    }
    scope::check_allowed(client, &scopes)?;
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
    let prompt = prompt(p.get("prompt")?)?;
    let max_age = max_age(p.get("max_age")?)?;
    let openid = scope::is_openid(&scopes);
    // OIDC Core §5.5: checked whenever sent, kept for OpenID requests (the claims it names
    // go into ID tokens and userinfo, which only those have).
    let claims = match p.get("claims")? {
        Some(raw) => claims_request::parse(raw)?,
        None => ClaimsRequest::default(),
    };
    Ok(AuthorizationRequest {
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        redirect_uri_sent: p.get("redirect_uri")?.is_some(),
        response_mode,
        scopes,
        state,
        nonce: if openid {
            p.get("nonce")?.map(str::to_owned)
        } else {
            None
        },
        code_challenge,
        prompt,
        max_age,
        login_hint: p.get("login_hint")?.map(str::to_owned),
        upstream_hint: upstream_hint(p, known.is_upstream)?,
        device: None,
        resources: resource_indicator::requested(p, known.resources)?,
        authorization_details: authorization_details::parse(
            p.get("authorization_details")?,
            client,
            known.details_types,
            known.details_policy,
        )?,
        dpop_jkt: match p.get("dpop_jkt")? {
            Some(jkt) => Some(crate::dpop::check_jkt_syntax(jkt)?.to_owned()),
            None => None,
        },
        claims: if openid {
            claims
        } else {
            ClaimsRequest::default()
        },
    })
}

/// The first repeated parameter other than `resource` (RFC 8707 §2 lets it repeat).
fn first_duplicate_but_resource(p: &Params) -> Option<&str> {
    let mut seen = std::collections::HashSet::new();
    p.pairs()
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| *k != "resource")
        .find(|k| !seen.insert(*k))
}

/// `prompt` (OIDC Core §3.1.2.1): space-delimited `none`, `login`, `consent`,
/// `select_account`; `none` stands alone.
pub(crate) fn prompt(v: Option<&str>) -> Result<Vec<String>, OAuthError> {
    let prompt: Vec<String> = v
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(v) = prompt
        .iter()
        .find(|v| !matches!(v.as_str(), "none" | "login" | "consent" | "select_account"))
    {
        return Err(OAuthError::invalid_request(format!(
            "unsupported prompt value {v}"
        )));
    }
    if prompt.iter().any(|v| v == "none") && prompt.len() > 1 {
        return Err(OAuthError::invalid_request(
            "prompt=none cannot be combined with other values",
        ));
    }
    Ok(prompt)
}

/// `max_age` (OIDC Core §3.1.2.1): a non-negative number of seconds.
pub(crate) fn max_age(v: Option<&str>) -> Result<Option<i64>, OAuthError> {
    match v {
        Some(v) => Ok(Some(v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(
            || OAuthError::invalid_request("max_age must be a non-negative integer"),
        )?)),
        None => Ok(None),
    }
}

/// `idp_hint=NAME`, or the first `acr_values` entry `idp:NAME`, when NAME is a configured
/// upstream (other values are ignored: the login page shows every choice).
fn upstream_hint(
    p: &Params,
    is_upstream: impl Fn(&str) -> bool,
) -> Result<Option<String>, OAuthError> {
    let named = p.get("idp_hint")?.map(str::to_owned).or(p
        .get("acr_values")?
        .and_then(|v| v.split(' ').find_map(|a| a.strip_prefix("idp:")))
        .map(str::to_owned));
    Ok(named.filter(|n| {
        let known = is_upstream(n);
        if !known {
            tracing::info!(upstream = %crate::logging::untrusted(n), "idpkit: idp_hint names no configured upstream; ignored");
        }
        known
    }))
}

#[cfg(test)]
mod tests;
