//! Who may exchange what: the host's [`TokenExchangePolicy`], its refusing default and the
//! ready-made [`ExchangeRules`].

use async_trait::async_trait;
use serde_json::Value;

use super::TokenType;
use crate::client::Client;
use crate::error::{ErrorCode, OAuthError};

/// A subject or actor token as the policy sees it: resolved and checked (live, signed by
/// this provider or a trusted issuer).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ExchangeToken {
    /// The declared type.
    pub token_type: TokenType,
    /// `iss`: this provider's issuer for its own tokens.
    pub issuer: String,
    /// Whether this provider issued it.
    pub own: bool,
    /// `sub`: a user, or for a token without a user the client it stands for.
    pub sub: String,
    /// Whether `sub` is a user (not a client).
    pub user: bool,
    /// The client it was issued to (`client_id`, or `azp` of a foreign token), if known.
    pub client_id: Option<String>,
    /// `aud`.
    pub aud: Vec<String>,
    /// Its scopes; `None` when it carries no `scope` claim (an ID token).
    pub scopes: Option<Vec<String>>,
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// Its `act` claim, if it was delegated already (RFC 8693 §4.1).
    pub act: Option<Value>,
}

/// One exchange, as the policy is asked about it.
#[derive(Debug)]
#[non_exhaustive]
pub struct ExchangeRequest<'a> {
    /// The authenticated client asking.
    pub client: &'a Client,
    /// The subject token.
    pub subject: &'a ExchangeToken,
    /// The actor token, for delegation; `None` for impersonation.
    pub actor: Option<&'a ExchangeToken>,
    /// The requested targets: `resource` then `audience` values (may be empty).
    pub targets: &'a [String],
    /// The requested scopes, if `scope` was sent.
    pub scopes: Option<&'a [String]>,
}

/// What the policy allows for one exchange. The issued token's `aud` is the requested
/// targets, each of which must be in `audience` (`invalid_target` otherwise), or
/// `audience` itself when none is asked; its scopes stay within `max_scopes` (and within
/// the subject token's and the client's, `invalid_scope` otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeAllowance {
    /// The audiences the issued token may have.
    pub audience: Vec<String>,
    /// The widest scopes it may have.
    pub max_scopes: Vec<String>,
}

/// Why the policy refuses: the RFC 8693 §2.2.2 codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeRefusal {
    /// `unauthorized_client`: this client may not exchange this token (or with this
    /// actor, or without one).
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(String),
    /// `invalid_target`: no token is issued for the requested audience or resource.
    #[error("invalid_target: {0}")]
    InvalidTarget(String),
    /// `invalid_scope`.
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
    /// The policy could not decide (its own store failed): `temporarily_unavailable`.
    #[error("temporarily_unavailable: {0}")]
    Unavailable(String),
}

impl From<ExchangeRefusal> for OAuthError {
    fn from(r: ExchangeRefusal) -> Self {
        match r {
            ExchangeRefusal::UnauthorizedClient(d) => Self::new(ErrorCode::UnauthorizedClient, d),
            ExchangeRefusal::InvalidTarget(d) => Self::new(ErrorCode::InvalidTarget, d),
            ExchangeRefusal::InvalidScope(d) => Self::new(ErrorCode::InvalidScope, d),
            ExchangeRefusal::Unavailable(d) => {
                tracing::warn!(reason = %crate::logging::untrusted(&d), "idpkit: the token exchange policy failed");
                Self::new(
                    ErrorCode::TemporarilyUnavailable,
                    "the token exchange cannot be decided now",
                )
            }
        }
    }
}

/// Decides who (the client) may exchange what (the subject token, the actor token) for
/// which audience and scopes. Set with
/// [`ProviderBuilder::token_exchange_policy`](crate::ProviderBuilder::token_exchange_policy);
/// the default is [`RefuseAllExchanges`].
///
/// # Contract
/// `decide` is called after the client is authenticated and allowed the token-exchange
/// grant type, and after both tokens are resolved and found live; it must not be the only
/// check of anything the provider checks itself (targets against the allowance, scopes
/// against the subject token and the client, lifetimes). It answers a refusal with the
/// RFC 8693 §2.2.2 code that fits, keeps no per-instance state that must hold across
/// instances, and is not told the token values.
#[async_trait]
pub trait TokenExchangePolicy: Send + Sync + 'static {
    /// Allows the exchange (with its limits) or refuses it.
    async fn decide(
        &self,
        request: &ExchangeRequest<'_>,
    ) -> Result<ExchangeAllowance, ExchangeRefusal>;
}

/// The default policy: refuses every exchange with `unauthorized_client`, so that enabling
/// the grant type for a client does nothing until the host says what it may exchange.
#[derive(Debug, Clone, Copy, Default)]
pub struct RefuseAllExchanges;

#[async_trait]
impl TokenExchangePolicy for RefuseAllExchanges {
    async fn decide(&self, _: &ExchangeRequest<'_>) -> Result<ExchangeAllowance, ExchangeRefusal> {
        Err(ExchangeRefusal::UnauthorizedClient(
            "token exchange is not enabled for this client".into(),
        ))
    }
}

/// Whether an [`ExchangeRule`] takes an actor token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ActorRule {
    /// Impersonation only: an actor token is refused (the default).
    #[default]
    Forbidden,
    /// With or without an actor token.
    Optional,
    /// Delegation only: an actor token is required.
    Required,
}

/// One allowance of [`ExchangeRules`]: client `client_id` may exchange subject tokens
/// whose `aud` contains one of [`subject_audience`](Self::subject_audience) for a token
/// whose audiences are among [`audience`](Self::audience), with at most
/// [`max_scopes`](Self::max_scopes), with an actor token as [`actor`](Self::actor) says.
/// Only this provider's own tokens are accepted as subject unless
/// [`subject_issuer`](Self::subject_issuer) names a trusted issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeRule {
    client_id: String,
    subject_audiences: Vec<String>,
    subject_issuers: Vec<String>,
    audiences: Vec<String>,
    max_scopes: Vec<String>,
    actor: ActorRule,
}

impl ExchangeRule {
    /// A rule for client `client_id` that allows nothing until audiences are added.
    pub fn new(client_id: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            subject_audiences: Vec::new(),
            subject_issuers: Vec::new(),
            audiences: Vec::new(),
            max_scopes: Vec::new(),
            actor: ActorRule::Forbidden,
        }
    }

    /// Accepts subject tokens whose `aud` contains `aud` (repeatable). At least one is
    /// needed: a rule without any matches no subject token.
    pub fn subject_audience(mut self, aud: impl Into<String>) -> Self {
        self.subject_audiences.push(aud.into());
        self
    }

    /// Also accepts subject tokens of trusted issuer `iss` (see
    /// [`ProviderBuilder::token_exchange_trust`](crate::ProviderBuilder::token_exchange_trust)).
    pub fn subject_issuer(mut self, iss: impl Into<String>) -> Self {
        self.subject_issuers.push(iss.into());
        self
    }

    /// Allows issuing tokens for audience `aud` (repeatable; the first ones are the
    /// default when the request names no target).
    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        self.audiences.push(aud.into());
        self
    }

    /// The widest scopes the issued token may have.
    pub fn max_scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.max_scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Whether an actor token is refused, optional or required (default
    /// [`ActorRule::Forbidden`]).
    pub fn actor(mut self, rule: ActorRule) -> Self {
        self.actor = rule;
        self
    }

    fn takes_subject(&self, t: &ExchangeToken) -> bool {
        let issuer_ok = t.own || self.subject_issuers.contains(&t.issuer);
        issuer_ok && t.aud.iter().any(|a| self.subject_audiences.contains(a))
    }

    fn takes_actor(&self, actor: bool) -> bool {
        match self.actor {
            ActorRule::Forbidden => !actor,
            ActorRule::Optional => true,
            ActorRule::Required => actor,
        }
    }

    fn takes_targets(&self, targets: &[String]) -> bool {
        targets.iter().all(|t| self.audiences.contains(t))
    }
}

/// A ready-made [`TokenExchangePolicy`]: a list of [`ExchangeRule`]s, the first that
/// matches the client, the subject token, the actor and the targets decides. Refusals:
/// no rule for the client, none for this subject token (audience, issuer) or none for the
/// presence of an actor token → `unauthorized_client`; none for the targets →
/// `invalid_target`.
///
/// ```
/// use idpkit_core::{ActorRule, ExchangeRule, ExchangeRules};
///
/// let policy = ExchangeRules::new([ExchangeRule::new("demo-exchanger")
///     .subject_audience("demo-api")
///     .audience("demo-backend")
///     .max_scopes(["api:read"])
///     .actor(ActorRule::Optional)]);
/// # let _ = policy;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExchangeRules {
    rules: Vec<ExchangeRule>,
}

impl ExchangeRules {
    /// A policy of these rules.
    pub fn new(rules: impl IntoIterator<Item = ExchangeRule>) -> Self {
        Self {
            rules: rules.into_iter().collect(),
        }
    }

    /// The decision, as a sync function of the request.
    pub fn decide_sync(
        &self,
        req: &ExchangeRequest<'_>,
    ) -> Result<ExchangeAllowance, ExchangeRefusal> {
        let unauthorized = |d: &str| Err(ExchangeRefusal::UnauthorizedClient(d.to_owned()));
        let mine: Vec<&ExchangeRule> = self
            .rules
            .iter()
            .filter(|r| r.client_id == req.client.id())
            .collect();
        if mine.is_empty() {
            return unauthorized("this client may not exchange tokens");
        }
        let subject: Vec<&ExchangeRule> = mine
            .into_iter()
            .filter(|r| r.takes_subject(req.subject))
            .collect();
        if subject.is_empty() {
            return unauthorized("this client may not exchange tokens of this audience or issuer");
        }
        let actor: Vec<&ExchangeRule> = subject
            .into_iter()
            .filter(|r| r.takes_actor(req.actor.is_some()))
            .collect();
        if actor.is_empty() {
            return unauthorized(if req.actor.is_some() {
                "this client may not exchange with an actor token"
            } else {
                "this client needs an actor token for this exchange"
            });
        }
        let Some(rule) = actor.into_iter().find(|r| r.takes_targets(req.targets)) else {
            return Err(ExchangeRefusal::InvalidTarget(
                "this client may not get tokens for the requested audience".into(),
            ));
        };
        Ok(ExchangeAllowance {
            audience: if req.targets.is_empty() {
                rule.audiences.clone()
            } else {
                req.targets.to_vec()
            },
            max_scopes: rule.max_scopes.clone(),
        })
    }
}

#[async_trait]
impl TokenExchangePolicy for ExchangeRules {
    async fn decide(
        &self,
        request: &ExchangeRequest<'_>,
    ) -> Result<ExchangeAllowance, ExchangeRefusal> {
        self.decide_sync(request)
    }
}
