//! The generic OpenID Connect subprovider: idpkit as a relying party of an upstream IdP.
//!
//! It does what a correct RP does: discovery, `state` + `nonce` + PKCE S256 on the
//! authorization request, the exact redirect URI, the code exchange with client
//! authentication, and the ID token checked by the resource-server [`Validator`] (issuer,
//! audience = this client, signature from the upstream JWKS, expiry) plus what makes it an ID
//! token for this client issued now (`typ`, `azp`, `iat`: OIDC Core §3.1.3.7) and the `nonce`.
//! Claims then go through the [`ClaimsMapper`].

mod id_token;

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    ClaimsMapper, ExternalIdentity, FederationError, RuleMapper, Subprovider, UpstreamRedirect,
    UpstreamRequest,
};
use crate::clock::Clock;
use crate::crypto;
use crate::http::{HttpClient, HttpRequest};
use crate::http_types::Params;
use crate::validate::{TrustedIssuer, Validator};

/// What is kept between `start` and `finish` (inside the interaction, never in the browser).
#[derive(Serialize, Deserialize)]
struct Pending {
    state: String,
    nonce: String,
    verifier: String,
}

/// An upstream OpenID Provider.
pub struct OidcSubprovider {
    name: String,
    display_name: String,
    issuer: String,
    client_id: String,
    client_secret: Option<String>,
    scopes: Vec<String>,
    http: Arc<dyn HttpClient>,
    validator: Validator,
    mapper: Box<dyn ClaimsMapper>,
    trust_email_verified: bool,
    endpoints: futures::lock::Mutex<Option<Endpoints>>,
}

/// What discovery told about the upstream.
#[derive(Clone)]
struct Endpoints {
    authorization: String,
    token: String,
    /// RFC 9207: the upstream puts `iss` in its authorization responses, so one without it
    /// is refused (mix-up defence).
    iss_in_response: bool,
}

impl std::fmt::Debug for OidcSubprovider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSubprovider")
            .field("name", &self.name)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

fn upstream(e: impl std::fmt::Display) -> FederationError {
    FederationError::Upstream(e.to_string())
}

fn unavailable(e: impl std::fmt::Display) -> FederationError {
    FederationError::Unavailable(e.to_string())
}

impl OidcSubprovider {
    /// An upstream at `issuer` (discovered), where this gateway is client `client_id`
    /// (confidential with `client_secret`, or public with PKCE alone).
    pub fn new(
        name: impl Into<String>,
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: Option<String>,
        http: Arc<dyn HttpClient>,
    ) -> Result<Self, crate::error::ConfigError> {
        let issuer = issuer.into();
        let client_id = client_id.into();
        let validator = Validator::builder()
            .trust(TrustedIssuer::new(&issuer, &client_id).with_algorithms([
                crate::Algorithm::RS256,
                crate::Algorithm::PS256,
                crate::Algorithm::ES256,
                crate::Algorithm::EdDSA,
            ]))
            .required_type(None)
            .http_client(http.clone())
            .build()?;
        let name = name.into();
        Ok(Self {
            display_name: name.clone(),
            name,
            issuer,
            client_id,
            client_secret,
            scopes: vec!["openid".into(), "profile".into(), "email".into()],
            http,
            validator,
            mapper: Box::new(RuleMapper::default()),
            trust_email_verified: false,
            endpoints: futures::lock::Mutex::new(None),
        })
    }

    /// What the login page shows (default: the name).
    pub fn display_name(mut self, display_name: impl Into<String>) -> Self {
        self.display_name = display_name.into();
        self
    }

    /// The scopes asked of the upstream (default `openid profile email`).
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// How upstream claims become local claims (default: kept, minus protocol claims).
    pub fn mapper(mut self, mapper: impl ClaimsMapper) -> Self {
        self.mapper = Box::new(mapper);
        self
    }

    /// Whether this upstream vouches for the email addresses it sends (default `false`).
    /// Untrusted, its `email_verified` is dropped before the mapping rules run
    /// ([`super::drop_untrusted_claims`]): its `email` still passes on, as an unverified
    /// address, so that no upstream account can claim a local user's verified address (the
    /// "nOAuth" pattern). Set `true` only for an upstream that verifies addresses and whose
    /// addresses you accept as proof (your own corporate IdP), never for a multi-tenant one
    /// where anyone can create an account and set any address.
    pub fn trust_email_verified(mut self, trust: bool) -> Self {
        self.trust_email_verified = trust;
        self
    }

    /// The upstream's endpoints, discovered once.
    async fn endpoints(&self) -> Result<Endpoints, FederationError> {
        let mut cached = self.endpoints.lock().await;
        if let Some(e) = cached.as_ref() {
            return Ok(e.clone());
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let resp = self
            .http
            .send(HttpRequest {
                method: "GET",
                url: url.clone(),
                headers: vec![("accept".into(), "application/json".into())],
                body: Vec::new(),
            })
            .await
            .map_err(|e| unavailable(format!("{url}: {e}")))?;
        if resp.status != 200 {
            return Err(unavailable(format!("{url} answered {}", resp.status)));
        }
        let doc: Value =
            serde_json::from_slice(&resp.body).map_err(|e| upstream(format!("{url}: {e}")))?;
        if doc.get("issuer").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err(upstream(format!("{url} names another issuer")));
        }
        let get = |k: &str| {
            doc.get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| upstream(format!("{url} has no {k}")))
        };
        let e = Endpoints {
            authorization: get("authorization_endpoint")?,
            token: get("token_endpoint")?,
            iss_in_response: doc
                .get("authorization_response_iss_parameter_supported")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        };
        *cached = Some(e.clone());
        Ok(e)
    }
}

#[async_trait::async_trait]
impl Subprovider for OidcSubprovider {
    fn name(&self) -> &str {
        &self.name
    }

    fn display_name(&self) -> &str {
        &self.display_name
    }

    fn issuer(&self) -> &str {
        &self.issuer
    }

    async fn start(&self, request: &UpstreamRequest) -> Result<UpstreamRedirect, FederationError> {
        let authorize = self.endpoints().await?.authorization;
        let pending = Pending {
            state: crypto::random_token(),
            nonce: crypto::random_token(),
            verifier: crypto::random_token(),
        };
        let challenge = crypto::sha256_b64(pending.verifier.as_bytes());
        let mut url = url::Url::parse(&authorize).map_err(upstream)?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", &request.redirect_uri)
            .append_pair("scope", &self.scopes.join(" "))
            .append_pair("state", &pending.state)
            .append_pair("nonce", &pending.nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        if request.force_login {
            url.query_pairs_mut().append_pair("prompt", "login");
        }
        if let Some(max_age) = request.max_age {
            url.query_pairs_mut()
                .append_pair("max_age", &max_age.to_string());
        }
        if let Some(hint) = &request.login_hint {
            url.query_pairs_mut().append_pair("login_hint", hint);
        }
        Ok(UpstreamRedirect {
            url: url.to_string(),
            state: serde_json::to_string(&pending).map_err(upstream)?,
        })
    }

    async fn finish(
        &self,
        state: &str,
        params: &Params,
        redirect_uri: &str,
    ) -> Result<ExternalIdentity, FederationError> {
        let pending: Pending = serde_json::from_str(state)
            .map_err(|_| FederationError::Callback("no pending login".into()))?;
        let get = |k: &str| {
            params
                .get(k)
                .map_err(|e| FederationError::Callback(e.description.to_string()))
        };
        let returned_state = get("state")?.unwrap_or_default();
        if !crypto::constant_time_eq(returned_state.as_bytes(), pending.state.as_bytes()) {
            return Err(FederationError::Callback(
                "the state does not match this login".into(),
            ));
        }
        if let Some(error) = get("error")? {
            let description = get("error_description")?.unwrap_or_default();
            return Err(if error == "access_denied" {
                FederationError::Denied(description.to_owned())
            } else if error == "temporarily_unavailable" || error == "server_error" {
                FederationError::Unavailable(format!("{error}: {description}"))
            } else {
                FederationError::Upstream(format!("{error}: {description}"))
            });
        }
        let endpoints = self.endpoints().await?;
        match get("iss")? {
            Some(iss) if iss != self.issuer => {
                return Err(FederationError::Callback(format!(
                    "the response came from {iss}, not {}",
                    self.issuer
                )));
            }
            None if endpoints.iss_in_response => {
                return Err(FederationError::Callback(
                    "the response has no iss although the upstream sends one (RFC 9207)".into(),
                ));
            }
            _ => {}
        }
        let code = get("code")?
            .ok_or_else(|| FederationError::Callback("no code in the callback".into()))?;
        let token_endpoint = endpoints.token;
        let mut headers = vec![(
            "content-type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        )];
        let form_body = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "authorization_code")
                .append_pair("code", code)
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("code_verifier", &pending.verifier);
            match &self.client_secret {
                Some(secret) => {
                    let enc =
                        |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
                    let basic =
                        STANDARD.encode(format!("{}:{}", enc(&self.client_id), enc(secret)));
                    headers.push(("authorization".into(), format!("Basic {basic}")));
                }
                None => {
                    form.append_pair("client_id", &self.client_id);
                }
            }
            form.finish()
        };
        let resp = self
            .http
            .send(HttpRequest {
                method: "POST",
                url: token_endpoint,
                headers,
                body: form_body.into_bytes(),
            })
            .await
            .map_err(|e| unavailable(format!("the token endpoint: {e}")))?;
        if resp.status >= 500 {
            return Err(unavailable(format!(
                "the token endpoint answered {}",
                resp.status
            )));
        }
        let body: Value = serde_json::from_slice(&resp.body).map_err(upstream)?;
        if resp.status != 200 {
            return Err(FederationError::Upstream(format!(
                "the code exchange failed: {} {}",
                body["error"].as_str().unwrap_or("?"),
                body["error_description"].as_str().unwrap_or_default()
            )));
        }
        let id_token = body["id_token"].as_str().ok_or_else(|| {
            FederationError::Upstream("the token response has no id_token".into())
        })?;
        let token = self
            .validator
            .validate(id_token)
            .await
            .map_err(|r| match r {
                crate::validate::Rejection::IssuerUnreachable { .. } => {
                    unavailable(format!("the upstream keys could not be fetched: {r}"))
                }
                r => FederationError::Upstream(format!("the upstream ID token is refused: {r}")),
            })?;
        let typ = crate::jose::parse_compact(id_token)
            .map_err(|e| upstream(format!("the upstream ID token is refused: {e}")))?
            .header()
            .typ
            .clone();
        // The validator reads the system clock too.
        let now = crate::clock::SystemClock.now().unix_timestamp();
        id_token::check(typ.as_deref(), token.claims(), &self.client_id, now)?;
        let nonce = token
            .claim("nonce")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !crypto::constant_time_eq(nonce.as_bytes(), pending.nonce.as_bytes()) {
            return Err(FederationError::Callback(
                "the ID token's nonce does not match this login".into(),
            ));
        }
        let subject = token
            .subject
            .clone()
            .ok_or_else(|| FederationError::Upstream("the ID token has no sub".into()))?;
        let auth_time = token.claim("auth_time").and_then(Value::as_i64);
        let claims = self.mapper.map(&super::drop_untrusted_claims(
            token.claims(),
            self.trust_email_verified,
        ))?;
        Ok(ExternalIdentity {
            provider: self.name.clone(),
            subject,
            claims,
            auth_time,
        })
    }
}
