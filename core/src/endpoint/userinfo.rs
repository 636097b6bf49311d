//! The UserInfo endpoint (OIDC Core §5.3).

use crate::bearer::Scheme;
use crate::error::{ErrorCode, OAuthError};
use crate::http_types::{Body, Method, Request, Response};
use crate::provider::Provider;

impl Provider {
    /// The UserInfo endpoint (GET or POST) with a Bearer token (RFC 6750 §2.1 header, or
    /// §2.2 form body on POST).
    ///
    /// A DPoP-bound token (RFC 9449) must come as `Authorization: DPoP` with a `DPoP`
    /// proof for this request (`htm`, `htu` = the UserInfo URL, `ath`) of the key it is
    /// bound to; refusals then carry a `WWW-Authenticate: DPoP` challenge (§7.1), and a
    /// bound token sent as `Bearer` is refused (§7.2).
    pub async fn userinfo(&self, req: &Request) -> Response {
        match self.userinfo_inner(req).await {
            Ok(Answer::Json(body)) => Response::json_no_store(200, body),
            Ok(Answer::Jwt(jws)) => Response {
                status: 200,
                headers: Vec::new(),
                body: Body::Jwt(jws),
            }
            .no_store(),
            Err(Refusal { error, dpop: false }) => bearer_error(&error),
            Err(Refusal { error, dpop: true }) => {
                let response = dpop_error(&error, &self.inner.config.dpop.algs());
                if error.code == ErrorCode::UseDpopNonce {
                    return self.dpop_nonce_response(response).await;
                }
                response
            }
        }
    }

    async fn userinfo_inner(&self, req: &Request) -> Result<Answer, Refusal> {
        // A GET's parameters are its query; a POST's are its body (its query apart).
        let (body_token, query_token) = match req.method {
            Method::Post => (
                req.params.get("access_token")?,
                req.query.get("access_token")?,
            ),
            _ => (None, req.params.get("access_token")?),
        };
        let (scheme, token) = crate::bearer::presented_with_scheme(
            req.authorization.as_deref(),
            body_token,
            query_token,
        )?;
        let invalid = || {
            OAuthError::new(
                ErrorCode::InvalidToken,
                "the access token is invalid, expired or revoked",
            )
        };
        let now = self.now();
        let active = crate::token::lookup::access_token(self.inner.services(), token, now)
            .await?
            .ok_or_else(invalid)?;
        self.check_sender(req, scheme, token, active.jkt.as_deref())
            .await?;
        let Some(subject) = active.subject else {
            return Err(
                OAuthError::new(ErrorCode::InsufficientScope, "the token has no user").into(),
            );
        };
        if !active.scopes.iter().any(|s| s == "openid") {
            return Err(OAuthError::new(
                ErrorCode::InsufficientScope,
                "the openid scope is required",
            )
            .into());
        }
        let claims =
            crate::claims::user_claims(self.inner.services(), &subject, &active.scopes, now)
                .await?
                .ok_or_else(invalid)?;
        let mut claims = if active.userinfo_claims.is_empty() {
            crate::users::filter_claims(claims, &active.scopes)
        } else {
            // OIDC Core §5.5: also the claims the `claims` parameter asked for here.
            let mut released = crate::users::filter_claims(claims.clone(), &active.scopes);
            crate::claims_request::add_requested(&mut released, &claims, &active.userinfo_claims);
            released
        };
        // RFC 7592 §2.3: a deleted (or expired) client's tokens are invalid at once.
        let client = Some(
            self.inner
                .clients
                .find(&active.client_id)
                .await?
                .ok_or_else(invalid)?,
        );
        // OIDC Core §5.3.2: `sub` as in the client's ID token (pairwise, §8.1, for a
        // pairwise client).
        let sub = match &client {
            Some(c) => crate::pairwise::subject_for(&self.inner.config, c, &subject),
            None => subject,
        };
        claims.insert("sub".into(), sub.into());
        let Some(client) = client else {
            return Ok(Answer::Json(
                serde_json::to_vec(&claims).unwrap_or_default(),
            ));
        };
        // §5.3.2: encrypted to the client's key when it registered
        // `userinfo_encrypted_response_alg` (its key is found first).
        let encryption = match client.userinfo_encrypted_response() {
            Some(setting) => Some((
                self.inner
                    .client_keys
                    .recipient(&client, setting.0, self.inner.http.as_deref(), now)
                    .await
                    .map_err(|e| {
                        tracing::warn!(client_id = %crate::logging::untrusted(client.id()), reason = %e, "idpkit: no key to encrypt userinfo to");
                        OAuthError::invalid_request(e.to_string())
                    })?,
                setting,
            )),
            None => None,
        };
        let signed = match client.userinfo_signed_response_alg() {
            Some(alg) => {
                // §5.3.2: a signed response carries `iss` and `aud` (the client).
                claims.insert("iss".into(), self.inner.config.issuer.clone().into());
                claims.insert("aud".into(), client.id().into());
                Some(
                    crate::token::jwt::sign(
                        self.inner.keys.as_ref(),
                        alg,
                        crate::token::id_token::TYP,
                        &claims,
                    )
                    .await?,
                )
            }
            None => None,
        };
        match (encryption, signed) {
            // Signed, then encrypted: a nested JWT (`cty: JWT`, §16.14).
            (Some((recipient, setting)), Some(jws)) => Ok(Answer::Jwt(crate::jose::jwe::nest(
                &recipient, setting, &jws,
            )?)),
            // Encrypted only: the JWE's plaintext is the claims' JSON (§5.3.2).
            (Some((recipient, (alg, enc))), None) => Ok(Answer::Jwt(
                crate::jose::jwe::encrypt(
                    &recipient,
                    alg,
                    enc,
                    crate::jose::jwe::HeaderOptions::default(),
                    &serde_json::to_vec(&claims).unwrap_or_default(),
                )
                .map_err(|e| OAuthError::server_error(&e))?,
            )),
            (None, Some(jws)) => Ok(Answer::Jwt(jws)),
            (None, None) => Ok(Answer::Json(
                serde_json::to_vec(&claims).unwrap_or_default(),
            )),
        }
    }

    /// RFC 9449 §7: a bound token (`jkt`) only with the DPoP scheme and a proof of its key
    /// for this request; an unbound one only as `Bearer`.
    async fn check_sender(
        &self,
        req: &Request,
        scheme: Scheme,
        token: &str,
        jkt: Option<&str>,
    ) -> Result<(), Refusal> {
        let dpop = |e: OAuthError| Refusal {
            error: e,
            dpop: true,
        };
        let invalid_token = |d: &'static str| dpop(OAuthError::new(ErrorCode::InvalidToken, d));
        match (scheme, jkt) {
            (Scheme::Bearer, None) => Ok(()),
            (Scheme::Bearer, Some(_)) => Err(invalid_token(
                "the access token is DPoP-bound: send it with the DPoP scheme and a proof",
            )),
            (Scheme::DPoP, None) => Err(invalid_token(
                "the access token is not DPoP-bound: send it with the Bearer scheme",
            )),
            (Scheme::DPoP, Some(bound)) => {
                let url = self.url_of(&self.inner.config.paths.userinfo);
                let proof = self
                    .verify_dpop(req, &url, Some(token))
                    .await
                    .map_err(|e| dpop(resource_error(e)))?
                    .ok_or_else(|| {
                        dpop(resource_error(crate::dpop::ProofError::Presence(
                            "a DPoP token needs a DPoP proof header",
                        )))
                    })?;
                crate::dpop::check_binding("access token", bound, &proof.jkt)
                    .map_err(|e| dpop(resource_error(e)))
            }
        }
    }
}

/// A UserInfo answer: JSON, or a JWT: signed (`userinfo_signed_response_alg`), encrypted
/// (`userinfo_encrypted_response_alg`), or both.
enum Answer {
    Json(Vec<u8>),
    Jwt(String),
}

/// A UserInfo refusal, and whether it is answered with the DPoP challenge.
pub(crate) struct Refusal {
    error: OAuthError,
    dpop: bool,
}

impl From<OAuthError> for Refusal {
    fn from(error: OAuthError) -> Self {
        Self { error, dpop: false }
    }
}

impl From<crate::store::StoreError> for Refusal {
    fn from(e: crate::store::StoreError) -> Self {
        OAuthError::from(e).into()
    }
}

/// A proof refusal at a protected resource (RFC 9449 §7.1): `use_dpop_nonce`, else
/// `invalid_token` for a token bound to another key, else `invalid_dpop_proof`; 401.
pub(crate) fn resource_error(e: crate::dpop::ProofError) -> OAuthError {
    let code = match &e {
        crate::dpop::ProofError::Nonce(_) => ErrorCode::UseDpopNonce,
        crate::dpop::ProofError::KeyMismatch { .. } => ErrorCode::InvalidToken,
        _ => ErrorCode::InvalidDpopProof,
    };
    tracing::debug!(reason = %e, "idpkit: DPoP proof refused at a resource");
    let mut err = OAuthError::new(code, e.description());
    err.status = Some(401);
    err
}

/// An RFC 9449 §7.1 error: 401 with `WWW-Authenticate: DPoP algs=..., error=...`.
pub(crate) fn dpop_error(e: &OAuthError, algs: &str) -> Response {
    let mut r = Response::json_no_store(401, e.to_json());
    if e.code == ErrorCode::InvalidRequest || e.code == ErrorCode::InsufficientScope {
        r.status = e.status();
    }
    r.header(
        "WWW-Authenticate",
        crate::bearer::dpop_challenge(
            "idpkit",
            algs,
            Some((e.code.as_str(), Some(e.description.as_ref()))),
        ),
    )
}

/// An RFC 6750 §3 error: `WWW-Authenticate: Bearer error=..., error_description=...`
/// (built by [`crate::bearer::challenge`]).
pub(crate) fn bearer_error(e: &OAuthError) -> Response {
    let mut r = Response::json_no_store(e.status(), e.to_json());
    // §3.1: no error code when the request had no authentication at all.
    let no_credentials =
        e.code == ErrorCode::InvalidRequest && e.description == "missing access token";
    let error = (!no_credentials).then(|| (e.code.as_str(), Some(e.description.as_ref())));
    let challenge = crate::bearer::challenge("idpkit", error, None);
    if e.status() == 400 || e.status() == 401 || e.status() == 403 {
        r = r.header("WWW-Authenticate", challenge);
    }
    if no_credentials {
        r.status = 401;
    }
    r
}
