//! Federated login: a pending login goes to an upstream provider ([`Subprovider`]) and is
//! finished on the upstream's callback.
//!
//! 1. The login starts at an upstream: at once from the authorization request when it names
//!    one (`idp_hint=NAME`, or an `acr_values` entry `idp:NAME`), or from the host's login
//!    page through [`Provider::federate`]. The upstream's pending state (PKCE verifier,
//!    nonce, state) is stored in the grant store, never in the browser; a cookie names the
//!    interaction.
//! 2. The upstream sends the browser to `Paths::federation_callback`.
//!    [`Provider::federation_callback`] checks that the interaction is bound to this browser,
//!    consumes the pending upstream login (a replayed callback finds it gone), lets the
//!    subprovider verify the callback and the upstream ID token, maps the claims, links the
//!    account and finishes the local login (SSO session, consent, code to the client).
//! 3. Any upstream failure ends the interaction with an error redirect to the client:
//!    `access_denied` (the user or the upstream refused, or the answer could not be
//!    verified) or `temporarily_unavailable` (the upstream could not be reached). No session
//!    is created before the upstream login has been verified.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::crypto;
use crate::endpoint::authorize::{Authorization, InteractionOutcome, Needs, show_error};
use crate::error::{ErrorCode, OAuthError};
use crate::federation::{FederationError, Subprovider};
use crate::http_types::{Method, Request, Response};
use crate::provider::{FEDERATION_COOKIE, Provider};
use crate::store::{Consume, Record, RecordKind};
use crate::token::{AuthzRequest, from_payload, to_payload};
use crate::users::Claims;

/// An upstream, as a login page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpstreamInfo {
    /// The name (for [`Provider::federate`] and `idp_hint`).
    pub name: String,
    /// What to show.
    pub display_name: String,
}

#[derive(Serialize, Deserialize)]
struct UpstreamLoginRecord {
    upstream: String,
    state: String,
}

#[derive(Serialize, Deserialize)]
struct FederatedClaimsRecord {
    upstream: String,
    claims: Claims,
}

fn federated_claims_id(subject: &str) -> String {
    crypto::sha256_b64(subject.as_bytes())
}

/// The error the client receives for an upstream failure.
fn client_error(upstream: &dyn Subprovider, e: FederationError) -> OAuthError {
    let name = upstream.display_name();
    match e {
        FederationError::Denied(d) => OAuthError::new(
            ErrorCode::AccessDenied,
            format!("the login at {name} was denied: {d}")
                .trim_end_matches([':', ' '])
                .to_owned(),
        ),
        FederationError::Unavailable(d) => OAuthError::new(
            ErrorCode::TemporarilyUnavailable,
            format!("{name} is unavailable: {d}"),
        ),
        FederationError::Refused(d) => OAuthError::new(
            ErrorCode::AccessDenied,
            format!("this {name} account is not allowed: {d}"),
        ),
        other => {
            tracing::warn!(upstream = %upstream.name(), error = %other, "idpkit: upstream login could not be verified");
            OAuthError::new(
                ErrorCode::AccessDenied,
                format!("the login at {name} could not be verified: {other}"),
            )
        }
    }
}

fn with_cookie(a: Authorization, cookie: String) -> Authorization {
    match a {
        Authorization::Respond(r) => Authorization::Respond(r.header("Set-Cookie", cookie)),
        Authorization::Interaction(mut p) => {
            p.response = p.response.header("Set-Cookie", cookie);
            Authorization::Interaction(p)
        }
    }
}

impl Provider {
    /// The configured upstream providers, in the order they were added.
    pub fn upstreams(&self) -> Vec<UpstreamInfo> {
        self.inner
            .upstreams
            .iter()
            .map(|u| UpstreamInfo {
                name: u.name().to_owned(),
                display_name: u.display_name().to_owned(),
            })
            .collect()
    }

    fn find_upstream(&self, name: &str) -> Option<&Arc<dyn Subprovider>> {
        self.inner.upstreams.iter().find(|u| u.name() == name)
    }

    /// The redirect URI to register at every upstream provider.
    pub fn federation_callback_url(&self) -> String {
        self.url(&self.inner.config.paths.federation_callback)
    }

    /// Sends the login of interaction `id` to upstream `upstream` (the host's login page
    /// calls this when the user picks it). Returns the redirect to the upstream, or the
    /// error redirect to the client when the upstream cannot be reached. Errors are for the
    /// user's page: the interaction is unknown, expired, bound to another browser, or not
    /// at its login step, or there is no such upstream.
    pub async fn federate(
        &self,
        id: &str,
        req: &Request,
        upstream: &str,
    ) -> Result<Authorization, OAuthError> {
        let record = self.load_interaction(id, req).await?;
        if record.needs != Needs::Login {
            return Err(OAuthError::invalid_request(
                "this interaction step needs a consent decision, not a login",
            ));
        }
        if self.find_upstream(upstream).is_none() {
            return Err(OAuthError::invalid_request(format!(
                "there is no upstream provider named {upstream:?}"
            )));
        }
        self.go_upstream(id, &record.request, upstream, Vec::new())
            .await
    }

    /// Starts the upstream login for interaction `id`; `cookies` are set on the redirect too.
    pub(crate) async fn go_upstream(
        &self,
        id: &str,
        request: &AuthzRequest,
        name: &str,
        cookies: Vec<String>,
    ) -> Result<Authorization, OAuthError> {
        let Some(upstream) = self.find_upstream(name) else {
            return Err(OAuthError::server_error(&format!("no upstream {name}")));
        };
        let redirect = match upstream.start(id, &self.federation_callback_url()).await {
            Ok(r) => r,
            Err(e) => {
                // The interaction ends here: no half-made login is left behind.
                let _ = self.take_interaction(id).await;
                return Ok(self.error_to_client(request, &client_error(upstream.as_ref(), e)));
            }
        };
        let ttl = self.inner.config.interaction_ttl;
        self.inner
            .grants
            .put(
                RecordKind::UpstreamLogin,
                id,
                Record {
                    grant_id: None,
                    payload: to_payload(&UpstreamLoginRecord {
                        upstream: name.to_owned(),
                        state: redirect.state,
                    }),
                    expires_at: self.now() + ttl,
                },
            )
            .await?;
        tracing::info!(upstream = %name, client_id = %request.client_id, "idpkit: login sent upstream");
        let mut response = Response::redirect(redirect.url).no_store();
        for c in cookies {
            response = response.header("Set-Cookie", c);
        }
        response = response.header("Set-Cookie", self.cookie(FEDERATION_COOKIE, id, ttl));
        Ok(Authorization::Respond(response))
    }

    /// The federation callback endpoint (`Paths::federation_callback`, GET or POST): finishes
    /// the upstream login and continues the local one. Answers the client with its code (or
    /// the consent step first), or with an error redirect when the upstream login failed; a
    /// callback without a pending login in this browser (replayed, expired, or from another
    /// browser) gets an error page, never a redirect.
    pub async fn federation_callback(&self, req: &Request) -> Authorization {
        match self.federation_callback_inner(req).await {
            Ok(a) => a,
            Err(e) => show_error(&e),
        }
    }

    async fn federation_callback_inner(&self, req: &Request) -> Result<Authorization, OAuthError> {
        if !matches!(req.method, Method::Get | Method::Post) {
            return Err(OAuthError::invalid_request(
                "the federation callback takes GET or POST",
            ));
        }
        let id = req
            .cookie(FEDERATION_COOKIE)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                OAuthError::invalid_request(
                    "no upstream login is in progress in this browser; start again",
                )
            })?
            .to_owned();
        let record = self.load_interaction(&id, req).await?;
        let now = self.now();
        let pending = match self
            .inner
            .grants
            .consume(RecordKind::UpstreamLogin, &id, now)
            .await?
        {
            Consume::Consumed(r) => {
                from_payload::<UpstreamLoginRecord>(RecordKind::UpstreamLogin, &id, &r.payload)?
            }
            Consume::AlreadyConsumed { .. } | Consume::NotFound => {
                return Err(OAuthError::invalid_request(
                    "this upstream login was already completed or has expired; start again",
                ));
            }
        };
        let clear = self.cookie(FEDERATION_COOKIE, "", time::Duration::ZERO);
        let Some(upstream) = self.find_upstream(&pending.upstream).cloned() else {
            let _ = self.take_interaction(&id).await;
            return Ok(with_cookie(
                self.error_to_client(
                    &record.request,
                    &OAuthError::server_error(&format!(
                        "upstream {} is no longer configured",
                        pending.upstream
                    )),
                ),
                clear,
            ));
        };
        let identity = match upstream
            .finish(&pending.state, &req.params, &self.federation_callback_url())
            .await
        {
            Ok(i) => i,
            Err(e) => {
                let _ = self.take_interaction(&id).await;
                let err = client_error(upstream.as_ref(), e);
                return Ok(with_cookie(
                    self.error_to_client(&record.request, &err),
                    clear,
                ));
            }
        };
        let subject = match self.inner.linker.link(upstream.issuer(), &identity).await {
            Ok(s) if !s.is_empty() => s,
            Ok(_) => {
                let _ = self.take_interaction(&id).await;
                return Ok(with_cookie(
                    self.error_to_client(
                        &record.request,
                        &OAuthError::server_error(&"account linking gave an empty subject"),
                    ),
                    clear,
                ));
            }
            Err(e) => {
                let _ = self.take_interaction(&id).await;
                return Ok(with_cookie(
                    self.error_to_client(&record.request, &OAuthError::server_error(&e)),
                    clear,
                ));
            }
        };
        let c = &self.inner.config;
        let keep = c
            .refresh_token_ttl
            .max(c.session_ttl)
            .max(c.access_token_ttl);
        self.inner
            .grants
            .put(
                RecordKind::FederatedClaims,
                &federated_claims_id(&subject),
                Record {
                    grant_id: None,
                    payload: to_payload(&FederatedClaimsRecord {
                        upstream: upstream.name().to_owned(),
                        claims: identity.claims,
                    }),
                    expires_at: now + keep,
                },
            )
            .await?;
        tracing::info!(upstream = %upstream.name(), "idpkit: upstream login verified");
        let next = self
            .finish_interaction(&id, req, InteractionOutcome::Login { subject })
            .await?;
        Ok(with_cookie(next, clear))
    }

    /// Claims of `subject` for ID tokens and userinfo: the host's [`crate::UserStore`], plus
    /// (when upstreams are configured) the mapped claims of the user's last federated login
    /// for the names the host does not set. A subject the host does not know is a federated
    /// user when such claims exist.
    pub(crate) async fn user_claims(
        &self,
        subject: &str,
        scopes: &[String],
    ) -> Result<Option<Claims>, OAuthError> {
        let host = self.inner.users.claims(subject, scopes).await?;
        if self.inner.upstreams.is_empty() {
            return Ok(host);
        }
        let id = federated_claims_id(subject);
        let federated = match self
            .inner
            .grants
            .get(RecordKind::FederatedClaims, &id, self.now())
            .await?
        {
            Some(s) => Some(
                from_payload::<FederatedClaimsRecord>(
                    RecordKind::FederatedClaims,
                    &id,
                    &s.record.payload,
                )?
                .claims,
            ),
            None => None,
        };
        Ok(match (host, federated) {
            (Some(mut h), Some(f)) => {
                for (k, v) in f {
                    h.entry(k).or_insert(v);
                }
                Some(h)
            }
            (h, f) => h.or(f),
        })
    }
}
