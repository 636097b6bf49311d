//! Token exchange (RFC 8693): the rules of the
//! `urn:ietf:params:oauth:grant-type:token-exchange` grant, as sync functions of the parsed
//! request, the resolved tokens and `now`.
//!
//! What is exchanged: a `subject_token` (and, for delegation, an `actor_token`) for a new
//! access token, narrowed in audience and scope:
//!
//! - **Subject and actor tokens** of type `urn:ietf:params:oauth:token-type:access_token`
//!   are access tokens of this provider, JWT or opaque, live (not expired, not revoked).
//!   Types `...:id_token` and `...:jwt` are an opt-in: tokens of the issuers trusted by the
//!   [`Validator`](crate::Validator) given to
//!   [`ProviderBuilder::token_exchange_trust`](crate::ProviderBuilder::token_exchange_trust)
//!   (this provider's own ID tokens too, when the host trusts its own issuer there). Their
//!   subject must be a user the host's [`UserStore`](crate::UserStore) knows. Anything
//!   invalid, expired or revoked is `invalid_request` (§2.2.2).
//! - **Who may exchange what** is the host's [`TokenExchangePolicy`]; the default,
//!   [`RefuseAllExchanges`], refuses every request with `unauthorized_client`.
//!   [`ExchangeRules`] is a ready-made, configurable policy.
//! - **Target** (`resource`, `audience`, §2.1): the issued token's `aud` is the requested
//!   targets, each of which the policy must allow (`invalid_target` otherwise), or the
//!   policy's audience when none is asked.
//! - **Scope**: never wider than the subject token's, the client's registered scopes and
//!   the policy's ceiling (`invalid_scope`) — see [`scopes`].
//! - **Lifetime**: the client's access-token lifetime, capped by the subject token's
//!   remaining lifetime and, for delegation, the actor token's ([`lifetime`]).
//! - **`act`** (§4.1): with an actor token, the issued token carries
//!   `act: {"sub": actor}` and, when the subject token was delegated already, its `act`
//!   nested inside (the outermost is the current actor). Without one (impersonation), the
//!   subject token's `act` is kept as it is: a delegated token never turns into one that
//!   looks issued to the user directly ([`act_claim`]).
//! - The issued token belongs to the subject token's grant family when it has one, so
//!   revoking the user's grant (logout, refresh-token reuse) revokes it too. No refresh
//!   token is issued.

mod policy;

pub use policy::{
    ActorRule, ExchangeAllowance, ExchangeRefusal, ExchangeRequest, ExchangeRule, ExchangeRules,
    ExchangeToken, RefuseAllExchanges, TokenExchangePolicy,
};

use serde_json::{Map, Value};
use time::Duration;

use crate::client::Client;
use crate::error::{ErrorCode, OAuthError};
use crate::http_types::Params;

/// The grant type (RFC 8693 §2.1).
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// Longest delegation chain (nested `act` objects) an issued token may carry: a request
/// that would nest deeper is `invalid_request`, so that tokens stay small.
pub const MAX_ACT_DEPTH: usize = 8;

/// A token type identifier (RFC 8693 §3) this provider accepts or issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenType {
    /// `urn:ietf:params:oauth:token-type:access_token`.
    AccessToken,
    /// `urn:ietf:params:oauth:token-type:id_token`.
    IdToken,
    /// `urn:ietf:params:oauth:token-type:jwt`.
    Jwt,
}

impl TokenType {
    /// The URN.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessToken => "urn:ietf:params:oauth:token-type:access_token",
            Self::IdToken => "urn:ietf:params:oauth:token-type:id_token",
            Self::Jwt => "urn:ietf:params:oauth:token-type:jwt",
        }
    }

    /// Parses a URN this provider knows.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::AccessToken, Self::IdToken, Self::Jwt]
            .into_iter()
            .find(|t| t.as_str() == name)
    }
}

/// A token presented in a request: its value and declared type.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Presented<'a> {
    pub token: &'a str,
    pub token_type: TokenType,
}

impl std::fmt::Debug for Presented<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presented")
            .field("token", &"..")
            .field("token_type", &self.token_type)
            .finish()
    }
}

/// A parsed token-exchange request (RFC 8693 §2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExchangeParams<'a> {
    pub subject: Presented<'a>,
    pub actor: Option<Presented<'a>>,
    /// `requested_token_type`: what is issued (access token or JWT access token).
    pub requested: TokenType,
    /// `resource` then `audience` values, in order, without repeats.
    pub targets: Vec<String>,
    /// `scope`, if sent.
    pub scope: Option<&'a str>,
}

fn token_type(param: &str, value: &str) -> Result<TokenType, OAuthError> {
    TokenType::from_name(value).ok_or_else(|| {
        OAuthError::invalid_request(format!(
            "{param} {value} is not supported; use {} (or, when trusted issuers are configured, {} or {})",
            TokenType::AccessToken.as_str(),
            TokenType::IdToken.as_str(),
            TokenType::Jwt.as_str()
        ))
    })
}

/// Parses the request parameters (§2.1): `subject_token` and `subject_token_type`
/// required; `actor_token` and `actor_token_type` both or neither; `requested_token_type`
/// an access token (`...:access_token` or `...:jwt`, default the former); each `resource`
/// an absolute URI without a fragment (`invalid_target` otherwise, RFC 8707 §2).
pub(crate) fn parse(params: &Params) -> Result<ExchangeParams<'_>, OAuthError> {
    let subject = Presented {
        token: params.require("subject_token")?,
        token_type: token_type("subject_token_type", params.require("subject_token_type")?)?,
    };
    let actor = match (params.get("actor_token")?, params.get("actor_token_type")?) {
        (Some(token), Some(t)) => Some(Presented {
            token,
            token_type: token_type("actor_token_type", t)?,
        }),
        (None, None) => None,
        (Some(_), None) => {
            return Err(OAuthError::invalid_request(
                "actor_token_type is required with actor_token (RFC 8693 §2.1)",
            ));
        }
        (None, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "actor_token_type must not be sent without actor_token (RFC 8693 §2.1)",
            ));
        }
    };
    let requested = match params.get("requested_token_type")? {
        None => TokenType::AccessToken,
        Some(t) => match TokenType::from_name(t) {
            Some(t @ (TokenType::AccessToken | TokenType::Jwt)) => t,
            _ => {
                return Err(OAuthError::invalid_request(format!(
                    "requested_token_type {t} is not issued here; ask for {} or {}",
                    TokenType::AccessToken.as_str(),
                    TokenType::Jwt.as_str()
                )));
            }
        },
    };
    let mut targets: Vec<String> = Vec::new();
    for r in params.all("resource") {
        if !crate::client::is_absolute_uri(r) || r.contains('#') {
            return Err(OAuthError::new(
                ErrorCode::InvalidTarget,
                "resource must be an absolute URI without a fragment (RFC 8707 §2)",
            ));
        }
        if !targets.iter().any(|t| t == r) {
            targets.push(r.to_owned());
        }
    }
    for a in params.all("audience") {
        if a.chars().any(char::is_control) {
            return Err(OAuthError::invalid_request(
                "audience must be printable text",
            ));
        }
        if !targets.iter().any(|t| t == a) {
            targets.push(a.to_owned());
        }
    }
    Ok(ExchangeParams {
        subject,
        actor,
        requested,
        targets,
        scope: params.get("scope")?,
    })
}

/// The requesting client must be confidential (RFC 8693 §2.1: client authentication
/// identifies who exchanges; a public client proves nothing).
pub(crate) fn check_client(client: &Client) -> Result<(), OAuthError> {
    if client.is_confidential() {
        Ok(())
    } else {
        Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "token exchange needs a confidential client",
        ))
    }
}

/// `invalid_request` for a subject or actor token that is not a live token this provider
/// accepts (§2.2.2: "If ... the subject_token or actor_token is invalid for any reason,
/// including if it is expired or revoked").
pub(crate) fn invalid_token(param: &str) -> OAuthError {
    OAuthError::invalid_request(format!(
        "the {param} is invalid, expired or revoked (RFC 8693 §2.2.2)"
    ))
}

/// The `aud` of the issued token (§2.1, §2.2.2): the requested targets, every one of
/// which the policy's allowance must contain (`invalid_target` names the first that is
/// not); without a target, the allowance's audience, which must not be empty.
pub(crate) fn audience(
    targets: &[String],
    allowed: &ExchangeAllowance,
) -> Result<Vec<String>, OAuthError> {
    if let Some(bad) = targets.iter().find(|t| !allowed.audience.contains(t)) {
        return Err(OAuthError::new(
            ErrorCode::InvalidTarget,
            format!("no token is issued here for {bad}"),
        ));
    }
    if !targets.is_empty() {
        return Ok(targets.to_vec());
    }
    if allowed.audience.is_empty() {
        return Err(OAuthError::new(
            ErrorCode::InvalidTarget,
            "name the target with audience or resource",
        ));
    }
    Ok(allowed.audience.clone())
}

/// The scopes of the issued token: each asked scope must be one the subject token has
/// (when it carries scopes at all: an ID token carries none, and then only the other two
/// limits apply), one the client is registered for, and within the policy's ceiling —
/// `invalid_scope` names the first that is not. None asked gives every scope within all
/// three.
pub(crate) fn scopes(
    asked: Option<&str>,
    subject: &ExchangeToken,
    client: &Client,
    ceiling: &[String],
) -> Result<Vec<String>, OAuthError> {
    let within_subject = |s: &String| subject.scopes.as_ref().is_none_or(|had| had.contains(s));
    let Some(asked) = asked else {
        let base = subject.scopes.as_deref().unwrap_or(ceiling);
        return Ok(base
            .iter()
            .filter(|s| client.allows_scope(s) && ceiling.contains(s) && within_subject(s))
            .cloned()
            .collect());
    };
    let asked = crate::scope::parse(Some(asked));
    for s in &asked {
        let why = if !within_subject(s) {
            "the subject token does not have it"
        } else if !client.allows_scope(s) {
            "it is not allowed for this client"
        } else if !ceiling.contains(s) {
            "the exchange policy does not allow it"
        } else {
            continue;
        };
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("scope {s} cannot be issued: {why}"),
        ));
    }
    Ok(asked)
}

/// The issued token's lifetime: the client's access-token lifetime, never longer than what
/// remains of the subject token nor, for delegation, of the actor token (the actor's
/// authority is part of what the token asserts). Nothing left: `invalid_request`.
pub(crate) fn lifetime(
    now: i64,
    client_ttl: Duration,
    subject_exp: i64,
    actor_exp: Option<i64>,
) -> Result<Duration, OAuthError> {
    let subject_left = subject_exp.saturating_sub(now);
    if subject_left <= 0 {
        return Err(invalid_token("subject_token"));
    }
    let mut left = subject_left;
    if let Some(exp) = actor_exp {
        let actor_left = exp.saturating_sub(now);
        if actor_left <= 0 {
            return Err(invalid_token("actor_token"));
        }
        left = left.min(actor_left);
    }
    Ok(client_ttl.min(Duration::seconds(left)))
}

/// The issued token's `act` (§4.1). With an actor: `{"sub": actor}` (plus `iss` when the
/// actor's token is another issuer's), with the subject token's own `act` nested, so the
/// outermost is the current actor and the chain reads inwards. Without one
/// (impersonation): the subject token's `act`, unchanged. Claims of the actor token's own
/// `act` are not carried (§4.1: only the chain of the subject matters). A chain deeper
/// than [`MAX_ACT_DEPTH`] is `invalid_request`.
pub(crate) fn act_claim(
    own_issuer: &str,
    subject_act: Option<&Value>,
    actor: Option<&ExchangeToken>,
) -> Result<Option<Value>, OAuthError> {
    let Some(actor) = actor else {
        return Ok(subject_act.cloned());
    };
    let mut act = Map::new();
    act.insert("sub".into(), actor.sub.clone().into());
    if actor.issuer != own_issuer {
        act.insert("iss".into(), actor.issuer.clone().into());
    }
    if let Some(previous) = subject_act {
        act.insert("act".into(), previous.clone());
    }
    let act = Value::Object(act);
    if depth(&act) > MAX_ACT_DEPTH {
        return Err(OAuthError::invalid_request(format!(
            "the delegation chain would be longer than {MAX_ACT_DEPTH} actors"
        )));
    }
    Ok(Some(act))
}

/// How many actors a (nested) `act` names.
fn depth(act: &Value) -> usize {
    let mut n = 0;
    let mut cur = Some(act);
    while let Some(a) = cur {
        n += 1;
        cur = a.get("act");
    }
    n
}

/// The `act` claim of a token, if it is a JSON object (§4.1: "MUST be a JSON object");
/// anything else is not an actor.
pub(crate) fn act_of(value: Option<&Value>) -> Option<Value> {
    value.filter(|v| v.is_object()).cloned()
}

#[cfg(test)]
mod tests;
