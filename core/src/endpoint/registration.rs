//! The client registration endpoint (RFC 7591 §3) and each client's configuration endpoint
//! (RFC 7592 §2): admit by policy, rate-limit anonymous registrations, parse, let the host's
//! hook edit or refuse, validate ([`crate::client_metadata`]), persist in the
//! [`ClientRegistry`](crate::ClientRegistry), answer. The rules are in
//! [`crate::registration`].

use std::sync::Arc;

use serde_json::{Value, json};

use crate::client::{Client, ClientRegistration, ClientRegistry, TokenEndpointAuthMethod};
use crate::client_metadata::ClientMetadata;
use crate::error::{ErrorCode, OAuthError};
use crate::http_types::{Method, Request, Response};
use crate::provider::Provider;
use crate::registration::{self as rules, DynamicRegistration, RegistrationContext};

use crate::registration::SERVER_MEMBERS;

impl Provider {
    /// `POST` to the registration endpoint (RFC 7591 §3.1): client metadata as JSON (build
    /// the request with [`Request::from_http_json`]). Answers 201 with the registered
    /// metadata, `client_id`, `client_secret` (once, for the secret methods),
    /// `client_id_issued_at`, `client_secret_expires_at` (0: never),
    /// `registration_access_token` and `registration_client_uri` (RFC 7591 §3.2.1, RFC
    /// 7592 §3), or the error as JSON (§3.2.2).
    pub async fn register_client(&self, req: &Request) -> Response {
        respond(self.register_inner(req).await.map(|v| (201, v)))
    }

    /// The client configuration endpoint of `client_id` (RFC 7592 §2) with
    /// `Authorization: Bearer <registration access token>`: GET reads (200), PUT replaces
    /// the whole metadata (200; the secret is kept unless the new method needs one the
    /// client lacks, and the registration access token is rotated: the response carries the
    /// new one, the old stops working), DELETE removes the client (204). A missing, wrong or
    /// old token, or an unknown client, is 401 `invalid_token`, alike.
    pub async fn client_configuration(&self, client_id: &str, req: &Request) -> Response {
        match self.configuration_inner(client_id, req).await {
            Ok(None) => Response {
                status: 204,
                headers: Vec::new(),
                body: crate::http_types::Body::Empty,
            }
            .no_store(),
            Ok(Some(v)) => respond(Ok((200, v))),
            Err(e) => respond(Err(e)),
        }
    }

    fn registry(&self) -> Result<&Arc<dyn ClientRegistry>, OAuthError> {
        self.inner.client_registry.as_ref().ok_or_else(|| {
            OAuthError::new(
                ErrorCode::AccessDenied,
                "client registration is not enabled",
            )
        })
    }

    async fn register_inner(&self, req: &Request) -> Result<Value, OAuthError> {
        let registry = self.registry()?;
        if req.method != Method::Post {
            return Err(OAuthError::invalid_request(
                "the registration endpoint takes POST",
            ));
        }
        let settings = &self.inner.config.registration;
        let with_token = rules::admit(&settings.policy, req.authorization.as_deref())?;
        if !with_token {
            // Anonymous registrations cost storage: bounded per source.
            let source = req.source.map(crate::rate_limit::source_key);
            let limit = self.inner.config.rate_limits.registrations_per_source;
            let parts = [source.as_deref().unwrap_or("unknown")];
            if let Err(t) = crate::throttle::count(
                self.inner.grants.as_ref(),
                "registration",
                &parts,
                limit,
                self.now(),
            )
            .await?
            {
                return Err(t.into_error("too many client registrations"));
            }
        }
        let mut metadata = self.parse_metadata(req)?;
        let client_id = crate::crypto::random_token();
        if let Some(hook) = &self.inner.registration_hook {
            let context = RegistrationContext {
                client_id: client_id.clone(),
                update: false,
                source: req.source,
                with_initial_access_token: with_token,
            };
            hook.review(&mut metadata, &context).await?;
        }
        let mut metadata = metadata.normalized(&settings.scopes.join(" "));
        let statement = verified_statement(&mut metadata);
        let secret = needs_secret(metadata.auth_method()?).then(crate::crypto::random_token);
        let reg = metadata.to_registration(&client_id, secret.as_deref(), &settings.scopes)?;
        metadata.software_statement = statement;
        let token = crate::crypto::random_token();
        let now = self.now().unix_timestamp();
        let dynamic = DynamicRegistration {
            metadata,
            issued_at: now,
            registration_token_sha256: crate::crypto::sha256_b64(token.as_bytes()),
            anonymous: !with_token,
        };
        let client = store(self, registry.as_ref(), reg, dynamic).await?;
        tracing::info!(client_id = %crate::logging::untrusted(&client.id), "idpkit: client registered");
        Ok(self.answer(&client, secret.as_deref(), &token))
    }

    async fn configuration_inner(
        &self,
        client_id: &str,
        req: &Request,
    ) -> Result<Option<Value>, OAuthError> {
        let registry = self.registry()?;
        // The presented token is hashed before the lookup, whatever it finds, so an
        // unknown client costs the same work as a wrong token.
        let presented = rules::bearer(req.authorization.as_deref()).unwrap_or("");
        let presented_sha256 = crate::crypto::sha256_b64(presented.as_bytes());
        // Through the provider's lookup: an expired unused registration is gone here too.
        let found = self.inner.clients.find(client_id).await?;
        let client = match found {
            Some(c)
                if c.dynamic
                    .as_ref()
                    .is_some_and(|d| d.token_hash_matches(&presented_sha256)) =>
            {
                c
            }
            _ => return Err(rules::invalid_registration_token()),
        };
        let dynamic = client
            .dynamic
            .clone()
            .ok_or_else(rules::invalid_registration_token)?;
        match req.method {
            Method::Get => Ok(Some(self.answer(&client, None, presented))),
            Method::Delete => {
                registry.remove(client_id).await?;
                tracing::info!(client_id = %crate::logging::untrusted(client_id), "idpkit: client deleted");
                Ok(None)
            }
            Method::Put => {
                let settings = &self.inner.config.registration;
                let body = req.json.as_deref().unwrap_or_default();
                let raw: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
                // RFC 7592 §2.2: the body carries the client_id, which must match.
                if raw.get("client_id").and_then(Value::as_str) != Some(client_id) {
                    return Err(OAuthError::new(
                        ErrorCode::InvalidClientMetadata,
                        "client_id: must be present and equal the client's",
                    ));
                }
                let mut metadata = self.parse_metadata(req)?;
                if let Some(sent) = metadata.extra.get("client_secret").and_then(Value::as_str)
                    && !current_secret_matches(&client, sent)
                {
                    return Err(OAuthError::new(
                        ErrorCode::InvalidClientMetadata,
                        "client_secret: does not match the client's",
                    ));
                }
                if let Some(hook) = &self.inner.registration_hook {
                    let context = RegistrationContext {
                        client_id: client_id.to_owned(),
                        update: true,
                        source: req.source,
                        with_initial_access_token: false,
                    };
                    hook.review(&mut metadata, &context).await?;
                }
                let mut metadata = metadata.normalized(&settings.scopes.join(" "));
                let statement = verified_statement(&mut metadata);
                let method = metadata.auth_method()?;
                let old = client.to_registration();
                let kept = keep_secret(&old, method);
                let new_secret = (needs_secret(method) && !kept).then(crate::crypto::random_token);
                let reg = if kept {
                    metadata.registration_with(
                        client_id,
                        old.secret_sha256.clone().filter(|_| !method.is_jwt()),
                        old.client_secret.clone(),
                        &settings.scopes,
                    )?
                } else {
                    metadata.to_registration(client_id, new_secret.as_deref(), &settings.scopes)?
                };
                metadata.software_statement = statement;
                let token = crate::crypto::random_token();
                let dynamic = DynamicRegistration {
                    metadata,
                    issued_at: dynamic.issued_at,
                    registration_token_sha256: crate::crypto::sha256_b64(token.as_bytes()),
                    anonymous: dynamic.anonymous,
                };
                let client = store(self, registry.as_ref(), reg, dynamic).await?;
                tracing::info!(client_id = %crate::logging::untrusted(client_id), "idpkit: client updated");
                Ok(Some(self.answer(&client, new_secret.as_deref(), &token)))
            }
            _ => Err(OAuthError::invalid_request(
                "the client configuration endpoint takes GET, PUT and DELETE",
            )),
        }
    }

    /// The metadata of the request body, within the size cap.
    fn parse_metadata(&self, req: &Request) -> Result<ClientMetadata, OAuthError> {
        let body = req.json.as_deref().ok_or_else(|| {
            OAuthError::new(
                ErrorCode::InvalidClientMetadata,
                "the body must be a JSON object sent as application/json (RFC 7591 §3.1)",
            )
        })?;
        if body.len() > self.inner.config.registration.max_bytes {
            return Err(OAuthError::new(
                ErrorCode::InvalidClientMetadata,
                "the client metadata is too large",
            ));
        }
        let mut metadata = ClientMetadata::from_json(body)?;
        if let Some(statement) = metadata.software_statement.clone() {
            // RFC 7591 §3.1.1: a trusted statement's claims take precedence over the
            // same members sent as plain JSON.
            let claims = crate::software_statement::verify(
                &statement,
                &self.inner.config.registration.software_statement_issuers,
                self.now(),
            )?;
            let raw: serde_json::Map<String, Value> =
                serde_json::from_slice(body).unwrap_or_default();
            let merged = crate::software_statement::overlay(raw, &claims);
            metadata = ClientMetadata::from_json(&serde_json::to_vec(&merged).unwrap_or_default())?;
        } else if self.inner.config.registration.require_software_statement {
            return Err(OAuthError::new(
                ErrorCode::InvalidSoftwareStatement,
                "software_statement: required by this server (RFC 7591 §3.1.1)",
            ));
        }
        for m in SERVER_MEMBERS {
            if m != "client_secret" {
                metadata.extra.remove(m);
            }
        }
        Ok(metadata)
    }

    /// The RFC 7591 §3.2.1 / RFC 7592 §3 response body.
    fn answer(&self, client: &Client, secret: Option<&str>, token: &str) -> Value {
        let dynamic = client.dynamic.as_deref();
        let mut body = dynamic
            .map(|d| serde_json::to_value(&d.metadata).unwrap_or_else(|_| json!({})))
            .unwrap_or_else(|| json!({}));
        if let Some(obj) = body.as_object_mut() {
            obj.insert("client_id".into(), json!(client.id));
            if let Some(d) = dynamic {
                obj.insert("client_id_issued_at".into(), json!(d.issued_at));
            }
            if let Some(s) = secret {
                obj.insert("client_secret".into(), json!(s));
            }
            if client.is_confidential()
                && client.jwt.method != Some(TokenEndpointAuthMethod::PrivateKeyJwt)
            {
                // 0: the secret does not expire (RFC 7591 §3.2.1).
                obj.insert("client_secret_expires_at".into(), json!(0));
            }
            obj.insert("registration_access_token".into(), json!(token));
            obj.insert(
                "registration_client_uri".into(),
                json!(self.url(&format!(
                    "{}/{}",
                    self.inner.config.paths.registration, client.id
                ))),
            );
        }
        body
    }
}

/// Takes the software statement out of metadata whose statement [`Provider::parse_metadata`]
/// has verified and laid over it, so the model's own rule (an unverified statement is
/// refused) passes; the caller puts it back to be stored and echoed (RFC 7591 §3.2.1).
fn verified_statement(metadata: &mut ClientMetadata) -> Option<String> {
    metadata.software_statement.take()
}

/// Whether `method` authenticates with a secret the provider generates.
fn needs_secret(method: TokenEndpointAuthMethod) -> bool {
    matches!(
        method,
        TokenEndpointAuthMethod::ClientSecretBasic
            | TokenEndpointAuthMethod::ClientSecretPost
            | TokenEndpointAuthMethod::ClientSecretJwt
    )
}

/// Whether an update to `method` keeps the client's secret: it has one of the same kind
/// (hashed for basic/post, clear for client_secret_jwt).
fn keep_secret(old: &ClientRegistration, method: TokenEndpointAuthMethod) -> bool {
    match method {
        TokenEndpointAuthMethod::ClientSecretBasic | TokenEndpointAuthMethod::ClientSecretPost => {
            old.secret_sha256.is_some()
        }
        TokenEndpointAuthMethod::ClientSecretJwt => old.client_secret.is_some(),
        _ => false,
    }
}

/// Whether `sent` is the client's current secret (constant time).
fn current_secret_matches(client: &Client, sent: &str) -> bool {
    match (&client.secret, &client.jwt.hmac_key) {
        (Some(hash), _) => hash.verify(sent),
        (None, Some(key)) => crate::crypto::constant_time_eq(&key.0, sent.as_bytes()),
        (None, None) => false,
    }
}

/// Validates the registration with its state and stores it.
async fn store(
    provider: &Provider,
    registry: &dyn ClientRegistry,
    mut reg: ClientRegistration,
    dynamic: DynamicRegistration,
) -> Result<Client, OAuthError> {
    reg.dynamic = Some(dynamic);
    let client = reg
        .into_client()
        .map_err(|e| OAuthError::new(ErrorCode::InvalidClientMetadata, e.to_string()))?;
    // Checked now rather than at first use (OIDC Registration §5: the OP verifies a
    // `sector_identifier_uri` when the client registers): a pairwise client whose
    // document does not list its redirect URIs, or metadata the provider cannot serve,
    // is never stored.
    provider
        .inner
        .pairwise
        .check(
            &provider.inner.config,
            &provider.inner.algorithms,
            &client,
            provider.inner.http.as_deref(),
            provider.now(),
        )
        .await
        .map_err(|reason| OAuthError::new(ErrorCode::InvalidClientMetadata, reason))?;
    registry.register(&client).await?;
    Ok(client)
}

/// The JSON response (no-store: it carries secrets), or the error; 401s get
/// `WWW-Authenticate: Bearer` (RFC 6750 §3).
fn respond(result: Result<(u16, Value), OAuthError>) -> Response {
    match result {
        Ok((status, v)) => {
            Response::json_no_store(status, serde_json::to_vec(&v).unwrap_or_default())
        }
        Err(e) => {
            if e.code == ErrorCode::ServerError {
                tracing::warn!(error = %crate::logging::untrusted(&e), "idpkit: client registration failed");
            }
            let mut r = Response::from_error(&e);
            if e.code == ErrorCode::InvalidToken {
                r = r.header(
                    "WWW-Authenticate",
                    format!(
                        "Bearer error=\"invalid_token\", error_description=\"{}\"",
                        e.description
                    ),
                );
            }
            r
        }
    }
}
