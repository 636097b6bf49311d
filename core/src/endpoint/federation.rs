//! Federated login: a pending login goes to an upstream provider ([`Subprovider`]) and is
//! finished on the upstream's callback.
//!
//! 1. The login starts at an upstream: at once from the authorization request when it names
//!    one (`idp_hint=NAME`, or an `acr_values` entry `idp:NAME`), or from the host's login
//!    page through [`Provider::federate`]. The upstream's pending state (PKCE verifier,
//!    nonce, state) is stored in the grant store, never in the browser; a cookie names the
//!    interaction.
//! 2. The upstream sends the browser to its own callback URL,
//!    `<issuer><Paths::federation_callback>/<name>` (one per upstream, so that an answer
//!    meant for one upstream cannot be fed to another: RFC 9700 §4.4 mix-up).
//!    [`Provider::federation_callback`] checks that the interaction is bound to this browser,
//!    consumes the pending upstream login (a replayed callback finds it gone), lets the
//!    subprovider verify the callback and the upstream ID token, maps the claims, links the
//!    account and finishes the local login (SSO session, consent, code to the client).
//! 3. Any upstream failure ends the interaction with an error redirect to the client:
//!    `access_denied` (the user or the upstream refused, or the answer could not be
//!    verified) or `temporarily_unavailable` (the upstream could not be reached). No session
//!    is created before the upstream login has been verified.

use std::sync::Arc;

use crate::authorization_request::AuthorizationRequest;
use crate::config::Cookie;
use crate::error::{ErrorCode, OAuthError};
use crate::federation::{FederationError, Link, Subprovider, UpstreamRequest};
use crate::http_types::{Method, Request, Response};
use crate::interaction::{Authorization, Needs};
use crate::logging::untrusted;
use crate::provider::Provider;
use crate::records::{FederatedClaimsRecord, Records, Taken, UpstreamLoginRecord, Write};

/// An upstream, as a login page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpstreamInfo {
    /// The name (for [`Provider::federate`] and `idp_hint`).
    pub name: String,
    /// What to show.
    pub display_name: String,
}

/// The error the client receives for an upstream failure: a fixed description per kind
/// (the details, which may name internal hosts, go to the log).
fn client_error(upstream: &dyn Subprovider, e: FederationError) -> OAuthError {
    let name = upstream.display_name();
    tracing::warn!(upstream = %untrusted(upstream.name()), error = %untrusted(&e), "idpkit: upstream login failed");
    match e {
        FederationError::Denied(_) => OAuthError::new(
            ErrorCode::AccessDenied,
            format!("the login at {name} was denied"),
        ),
        FederationError::MaxAge(_) => OAuthError::new(
            ErrorCode::AccessDenied,
            format!("the login at {name} is not recent enough for max_age"),
        ),
        FederationError::Unavailable(_) => OAuthError::new(
            ErrorCode::TemporarilyUnavailable,
            format!("{name} is unavailable; try again later"),
        ),
        // The reason comes from the provider's own mapping rules.
        FederationError::Refused(d) => OAuthError::new(
            ErrorCode::AccessDenied,
            format!("this {name} account is not allowed: {d}"),
        ),
        _ => OAuthError::new(
            ErrorCode::AccessDenied,
            format!("the answer from {name} could not be verified"),
        ),
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

    /// The redirect URI to register at upstream `name`:
    /// `<issuer><Paths::federation_callback>/<name>`.
    pub fn federation_callback_url(&self, name: &str) -> String {
        self.url(&format!(
            "{}/{name}",
            self.inner.config.paths.federation_callback
        ))
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
        request: &AuthorizationRequest,
        name: &str,
        cookies: Vec<String>,
    ) -> Result<Authorization, OAuthError> {
        let Some(upstream) = self.find_upstream(name) else {
            return Err(OAuthError::server_error(&format!("no upstream {name}")));
        };
        let mut up = UpstreamRequest::new(id, self.federation_callback_url(name));
        up.force_login = request.prompt.iter().any(|p| p == "login");
        up.max_age = request.max_age;
        up.login_hint = request.login_hint.clone();
        let redirect = match upstream.start(&up).await {
            Ok(r) => r,
            Err(e) => {
                // The interaction ends here: no half-made login is left behind.
                let _ = self.take_interaction(id).await;
                return Ok(
                    self.error_redirect(&request.target(), &client_error(upstream.as_ref(), e))
                );
            }
        };
        let ttl = self.inner.config.interaction_ttl;
        let pending = UpstreamLoginRecord {
            upstream: name.to_owned(),
            state: redirect.state,
        };
        Records(self.inner.grants.as_ref())
            .put(Write::new(id.to_owned(), &pending, None, self.now() + ttl))
            .await?;
        tracing::info!(upstream = %untrusted(name), client_id = %untrusted(&request.client_id), "idpkit: login sent upstream");
        let mut response = Response::redirect(redirect.url).no_store();
        for c in cookies {
            response = response.header("Set-Cookie", c);
        }
        response = response.header("Set-Cookie", self.cookie(Cookie::Federation, id, ttl));
        Ok(Authorization::Respond(response))
    }

    /// The federation callback endpoint of upstream `upstream`
    /// (`<Paths::federation_callback>/<upstream>`, GET: the upstream answers in the query,
    /// and the browser-binding cookies are `SameSite=Lax`). Finishes the upstream login and
    /// continues the local one: answers the client with its code (or the consent step
    /// first), or with an error redirect when the upstream login failed. A callback without
    /// a pending login in this browser (replayed, expired, or from another browser) gets an
    /// error page, never a redirect.
    pub async fn federation_callback(&self, upstream: &str, req: &Request) -> Authorization {
        match self.federation_callback_inner(upstream, req).await {
            Ok(a) => a,
            Err(e) => self.show_error(&e),
        }
    }

    async fn federation_callback_inner(
        &self,
        callback_of: &str,
        req: &Request,
    ) -> Result<Authorization, OAuthError> {
        if req.method != Method::Get {
            return Err(OAuthError::invalid_request(
                "the federation callback takes GET",
            ));
        }
        let id = self
            .read_cookie(req, Cookie::Federation)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                OAuthError::invalid_request(
                    "no upstream login is in progress in this browser; start again",
                )
            })?
            .to_owned();
        let record = self.load_interaction(&id, req).await?;
        let now = self.now();
        let pending = match Records(self.inner.grants.as_ref())
            .consume::<UpstreamLoginRecord>(&id, now)
            .await?
        {
            Taken::Consumed(p) => p,
            Taken::AlreadyConsumed | Taken::NotFound => {
                return Err(OAuthError::invalid_request(
                    "this upstream login was already completed or has expired; start again",
                ));
            }
        };
        let clear = self.cookie(Cookie::Federation, "", time::Duration::ZERO);
        let Some(upstream) = self.find_upstream(&pending.upstream).cloned() else {
            let _ = self.take_interaction(&id).await;
            return Ok(self
                .error_redirect(
                    &record.request.target(),
                    &OAuthError::server_error(&format!(
                        "upstream {} is no longer configured",
                        pending.upstream
                    )),
                )
                .with_cookie(clear));
        };
        if callback_of != upstream.name() {
            // The answer came to another upstream's callback: a mix-up attempt (or a
            // misconfigured upstream). Nothing from it is used.
            return Ok(self
                .end_login(
                    &id,
                    &record.request,
                    &clear,
                    OAuthError::new(
                        ErrorCode::AccessDenied,
                        format!(
                            "the answer for {} arrived at the callback of {callback_of:?}",
                            upstream.display_name()
                        ),
                    ),
                )
                .await);
        }
        let identity = match upstream
            .finish(
                &pending.state,
                &req.params,
                &self.federation_callback_url(upstream.name()),
            )
            .await
        {
            Ok(i) => i,
            Err(e) => {
                return Ok(self
                    .end_login(
                        &id,
                        &record.request,
                        &clear,
                        client_error(upstream.as_ref(), e),
                    )
                    .await);
            }
        };
        // max_age holds for the upstream login too (OIDC Core §3.1.2.1): the upstream was
        // asked for it, and its auth_time shows whether it obeyed.
        let auth_time = match crate::federation::local_auth_time(
            record.request.max_age,
            identity.auth_time,
            self.now().unix_timestamp(),
        ) {
            Ok(t) => t,
            Err(e) => {
                return Ok(self
                    .end_login(
                        &id,
                        &record.request,
                        &clear,
                        client_error(upstream.as_ref(), e),
                    )
                    .await);
            }
        };
        let link = match self.inner.linker.link(upstream.issuer(), &identity).await {
            Ok(l) if !l.subject().is_empty() => l,
            Ok(_) => {
                return Ok(self
                    .end_login(
                        &id,
                        &record.request,
                        &clear,
                        OAuthError::server_error(&"account linking gave an empty subject"),
                    )
                    .await);
            }
            Err(e) => {
                return Ok(self
                    .end_login(&id, &record.request, &clear, OAuthError::server_error(&e))
                    .await);
            }
        };
        let known = self
            .inner
            .users
            .claims(link.subject(), &record.request.scopes)
            .await?
            .is_some();
        let host_account = match (&link, known) {
            (Link::Existing(_), true) => true,
            (Link::Federated(_), false) => false,
            (Link::Existing(s), false) => {
                return Ok(self.end_login(&id, &record.request, &clear, OAuthError::server_error(&format!(
                    "the account linker named local account {s:?}, which the user store does not know"
                )))
                .await);
            }
            (Link::Federated(s), true) => {
                return Ok(self
                    .end_login(
                        &id,
                        &record.request,
                        &clear,
                        OAuthError::server_error(&format!(
                            "federated subject {s:?} belongs to a local account; refusing the login"
                        )),
                    )
                    .await);
            }
        };
        let subject = link.subject().to_owned();
        let next = self
            .finish_external_login(&id, req, subject.clone(), auth_time)
            .await?;
        crate::claims::save(
            self.inner.services(),
            &subject,
            &FederatedClaimsRecord {
                upstream: upstream.name().to_owned(),
                host_account,
                claims: identity.claims,
            },
            self.now(),
        )
        .await?;
        tracing::info!(upstream = %untrusted(upstream.name()), "idpkit: upstream login verified");
        Ok(next.with_cookie(clear))
    }

    /// Ends a federated login that failed: the interaction is consumed and the client gets
    /// the error redirect.
    async fn end_login(
        &self,
        id: &str,
        request: &AuthorizationRequest,
        clear: &str,
        err: OAuthError,
    ) -> Authorization {
        let _ = self.take_interaction(id).await;
        tracing::warn!(error = %untrusted(&err), "idpkit: federated login ended");
        self.error_redirect(&request.target(), &err)
            .with_cookie(clear.to_owned())
    }
}
