//! The device authorization grant's endpoints (RFC 8628): the device authorization
//! endpoint (§3.1), and the host's user-code page entering the login and consent steps of
//! an authorization request (§3.3). The rules are in [`crate::device_authorization`]; the
//! token request is the [`crate::grant`] `device_code`.

use crate::authorization_request::{AuthorizationRequest, DeviceRequest, check_length};
use crate::authorization_response::ResponseMode;
use crate::client::GrantType;
use crate::crypto;
use crate::device_authorization::{self as rules, is_pending};
use crate::error::{ErrorCode, OAuthError};
use crate::http_types::{Method, Request, Response};
use crate::interaction::Authorization;
use crate::provider::Provider;
use crate::records::{
    DeviceApproval, DeviceCodeRecord, DeviceStatus, Records, SessionRecord, Taken, UserCodeRecord,
    Write, secret_id,
};
use crate::throttle;

/// How a device authorization ended at the user-code page: the host's page at
/// [`Paths::device_verification`](crate::Paths::device_verification) is sent
/// `?result=` one of these, and tells the user.
pub const DEVICE_APPROVED: &str = "approved";
/// The user denied the device (see [`DEVICE_APPROVED`]).
pub const DEVICE_DENIED: &str = "denied";
/// The code expired or was decided in another browser meanwhile (see [`DEVICE_APPROVED`]).
pub const DEVICE_GONE: &str = "gone";

impl Provider {
    /// `POST` to the device authorization endpoint (RFC 8628 §3.1): the client
    /// authenticates as at the token endpoint (a public client sends its `client_id`), must
    /// be registered for [`GrantType::DeviceCode`], and sends `scope`. The answer (§3.2)
    /// has the `device_code`, the `user_code`, the `verification_uri` (the host's page at
    /// [`Paths::device_verification`](crate::Paths::device_verification)) and
    /// `verification_uri_complete`, `expires_in` and `interval`. Requests are bounded per
    /// source and per client ([`crate::RateLimits`]).
    pub async fn device_authorization(&self, req: &Request) -> Response {
        match self.device_authorization_inner(req).await {
            Ok(body) => Response::json_no_store(200, serde_json::to_vec(&body).unwrap_or_default()),
            Err(e) => {
                if e.code == ErrorCode::ServerError {
                    tracing::warn!(error = %crate::logging::untrusted(&e), "idpkit: device authorization failed");
                }
                Response::from_error(&e)
            }
        }
    }

    async fn device_authorization_inner(
        &self,
        req: &Request,
    ) -> Result<serde_json::Map<String, serde_json::Value>, OAuthError> {
        if req.method != Method::Post {
            return Err(OAuthError::invalid_request(
                "the device authorization endpoint takes POST",
            ));
        }
        req.check_back_channel()?;
        let client = self.authenticate_client(req).await?;
        self.client_ready(&client).await?;
        if !client.allows_grant(GrantType::DeviceCode) {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "the client may not use the device authorization grant",
            ));
        }
        if let Some(dup) = req.params.first_duplicate() {
            return Err(OAuthError::invalid_request(format!(
                "parameter {dup} is included more than once"
            )));
        }
        let scope = req.params.get("scope")?;
        check_length("scope", scope)?;
        let scopes = rules::scopes(&client, scope)?;
        self.count_device_authorization(req.source, &client.id)
            .await?;
        let config = &self.inner.config;
        let now = self.now();
        let records = Records(self.inner.grants.as_ref());
        // A user code must name one device code: draw again on the (2^-34) chance that a
        // live one is drawn.
        let mut user_code = rules::new_user_code();
        for _ in 0..3 {
            let taken = records
                .get::<UserCodeRecord>(&rules::user_code_id(&user_code), now)
                .await?
                .is_some();
            if !taken {
                break;
            }
            user_code = rules::new_user_code();
        }
        let device_code = crypto::random_token();
        let device_id = secret_id(&device_code);
        let grant_id = crypto::random_token();
        let user_code_id = rules::user_code_id(&user_code);
        let ends = now + config.device_code_ttl;
        records
            .put(Write::new(
                user_code_id.clone(),
                &UserCodeRecord {
                    device_id: device_id.clone(),
                },
                None,
                ends,
            ))
            .await?;
        let record = DeviceCodeRecord {
            client_id: client.id.clone(),
            scopes,
            user_code_id,
            expires_at: ends.unix_timestamp(),
            interval: config.device_poll_interval.whole_seconds(),
            status: DeviceStatus::Pending,
        };
        // Kept as long again past its end, so that a late poll learns `expired_token`.
        records
            .put(Write::new(
                device_id,
                &record,
                Some(&grant_id),
                ends + config.device_code_ttl,
            ))
            .await?;
        tracing::info!(client_id = %crate::logging::untrusted(&client.id), "idpkit: device authorization started");
        Ok(rules::response(
            &device_code,
            &user_code,
            &self.device_verification_uri(),
            config.device_code_ttl,
            config.device_poll_interval,
        ))
    }

    /// The `verification_uri` of device authorizations (RFC 8628 §3.2): the host's
    /// user-code page at [`Paths::device_verification`](crate::Paths::device_verification).
    pub fn device_verification_uri(&self) -> String {
        format!(
            "{}{}",
            self.inner.config.issuer, self.inner.config.paths.device_verification
        )
    }

    /// The host's user-code page (the `verification_uri`, RFC 8628 §3.3) received
    /// `user_code` from the user (its form's `user_code` input, or the query of
    /// `verification_uri_complete`). A valid, pending code continues like an authorization
    /// request of the device's client: the answer is the redirect to the host's login page,
    /// or with an SSO session straight to its consent page. The user is always asked to
    /// approve a device, even for a first-party client ([`InteractionDetails::device`]),
    /// because a user code can be phished (§5.4). When the user decides, the browser is
    /// sent back to the page with `?result=`[`DEVICE_APPROVED`] (or [`DEVICE_DENIED`],
    /// [`DEVICE_GONE`]), and the device's next poll gets its tokens (or `access_denied`).
    ///
    /// Errors are for the page to show: one `invalid_request` for a mistyped, unknown,
    /// expired or used code; 429 (`temporarily_unavailable` with
    /// [`OAuthError::retry_after`]) once a source, or everyone, has entered too many wrong
    /// codes (§5.1, [`crate::RateLimits`]).
    ///
    /// [`InteractionDetails::device`]: crate::InteractionDetails::device
    pub async fn verify_user_code(
        &self,
        req: &Request,
        user_code: &str,
    ) -> Result<Authorization, OAuthError> {
        let limits = &self.inner.config.rate_limits;
        let grants = self.inner.grants.as_ref();
        let now = self.now();
        let source = throttle::source_part(req.source);
        let counts = [
            (
                "user-code-failures-source",
                source.as_str(),
                limits.user_code_failures_per_source,
            ),
            ("user-code-failures", "", limits.user_code_failures_total),
        ];
        for (scope, key, limit) in counts {
            throttle::peek(grants, scope, &[key], limit, now)
                .await?
                .map_err(|t| t.into_error("too many wrong codes; try again later"))?;
        }
        // What cannot be a code costs no lookup and tells nothing: it is not counted.
        let code = rules::normalize(user_code).ok_or_else(rules::unknown_user_code)?;
        let Some((device_id, device, user_code_id)) = self.pending_device(&code).await? else {
            for (scope, key, limit) in counts {
                throttle::count(grants, scope, &[key], limit, now)
                    .await?
                    .ok();
            }
            tracing::info!("idpkit: a wrong user code was entered");
            return Err(rules::unknown_user_code());
        };
        let client = self
            .inner
            .clients
            .find(&device.client_id)
            .await?
            .ok_or_else(rules::unknown_user_code)?;
        let request = AuthorizationRequest {
            client_id: device.client_id.clone(),
            redirect_uri: String::new(),
            redirect_uri_sent: false,
            response_mode: ResponseMode::Query,
            scopes: device.scopes,
            state: None,
            nonce: None,
            code_challenge: None,
            prompt: Vec::new(),
            max_age: None,
            login_hint: None,
            upstream_hint: None,
            device: Some(DeviceRequest {
                device_id,
                user_code_id,
            }),
            resources: Vec::new(),
            authorization_details: Vec::new(),
            dpop_jkt: None,
            claims: Default::default(),
        };
        self.continue_authorization(req, &client, request).await
    }

    /// The device code a user code names, while it can still be decided.
    async fn pending_device(
        &self,
        code: &str,
    ) -> Result<Option<(String, DeviceCodeRecord, String)>, OAuthError> {
        let now = self.now();
        let records = Records(self.inner.grants.as_ref());
        let user_code_id = rules::user_code_id(code);
        let Some(user) = records
            .get::<UserCodeRecord>(&user_code_id, now)
            .await?
            .filter(|l| l.consumed_at.is_none())
        else {
            return Ok(None);
        };
        let device_id = user.value.device_id;
        Ok(records
            .get::<DeviceCodeRecord>(&device_id, now)
            .await?
            .filter(|l| l.consumed_at.is_none() && is_pending(&l.value, now))
            .map(|l| (device_id, l.value, user_code_id)))
    }

    /// Device authorization requests cost storage before anyone has approved them: bounded
    /// per source, then per client ([`crate::RateLimits`]).
    async fn count_device_authorization(
        &self,
        source: Option<std::net::IpAddr>,
        client_id: &str,
    ) -> Result<(), OAuthError> {
        let limits = &self.inner.config.rate_limits;
        let grants = self.inner.grants.as_ref();
        let now = self.now();
        let source = throttle::source_part(source);
        let counts = [
            (
                "device-authorizations-source",
                source.as_str(),
                limits.device_authorizations_per_source,
            ),
            (
                "device-authorizations-client",
                client_id,
                limits.device_authorizations_per_client,
            ),
        ];
        throttle::count_each(grants, &counts, now)
            .await?
            .map_err(|t| {
                t.into_error("too many device authorizations are pending; try again later")
            })
    }

    /// The user approved the device authorization `device` as `subject`: the user code is
    /// consumed (of two browsers deciding one code, one wins), the device code records the
    /// approval (the device's next poll redeems it), and the browser session records the
    /// grant. Answers the redirect to the host's user-code page with the result.
    pub(crate) async fn approve_device(
        &self,
        device: &DeviceRequest,
        approval: DeviceApproval,
        set_cookie: Option<String>,
        session: Option<(String, SessionRecord)>,
    ) -> Result<Authorization, OAuthError> {
        let records = Records(self.inner.grants.as_ref());
        let Some((loaded, client_id)) = self.decide(device).await? else {
            return Ok(self.device_result(DEVICE_GONE, set_cookie));
        };
        let grant_id = loaded.grant_id.clone().unwrap_or_default();
        let mut approval = approval;
        approval.sid = self
            .record_session_grant(session, &client_id, &grant_id, &approval.scopes)
            .await?;
        let mut record = loaded.value;
        record.status = DeviceStatus::Approved(approval);
        records
            .put(Write::new(
                device.device_id.clone(),
                &record,
                Some(&grant_id),
                loaded.expires_at,
            ))
            .await?;
        tracing::info!(client_id = %crate::logging::untrusted(&client_id), "idpkit: device authorization approved");
        Ok(self.device_result(DEVICE_APPROVED, set_cookie))
    }

    /// The user denied the device authorization `device`: its next poll gets
    /// `access_denied`.
    pub(crate) async fn deny_device(
        &self,
        device: &DeviceRequest,
    ) -> Result<Authorization, OAuthError> {
        let records = Records(self.inner.grants.as_ref());
        let Some((loaded, _)) = self.decide(device).await? else {
            return Ok(self.device_result(DEVICE_GONE, None));
        };
        let grant_id = loaded.grant_id.clone();
        let mut record = loaded.value;
        record.status = DeviceStatus::Denied;
        records
            .put(Write::new(
                device.device_id.clone(),
                &record,
                grant_id.as_deref(),
                loaded.expires_at,
            ))
            .await?;
        tracing::info!("idpkit: device authorization denied");
        Ok(self.device_result(DEVICE_DENIED, None))
    }

    /// Consumes the user code of `device` and loads its device code, if this call decides
    /// it and it is still pending.
    async fn decide(
        &self,
        device: &DeviceRequest,
    ) -> Result<Option<(crate::records::Loaded<DeviceCodeRecord>, String)>, OAuthError> {
        let now = self.now();
        let records = Records(self.inner.grants.as_ref());
        if !matches!(
            records
                .consume::<UserCodeRecord>(&device.user_code_id, now)
                .await?,
            Taken::Consumed(_)
        ) {
            return Ok(None);
        }
        Ok(records
            .get::<DeviceCodeRecord>(&device.device_id, now)
            .await?
            .filter(|l| l.consumed_at.is_none() && is_pending(&l.value, now))
            .map(|l| {
                let client_id = l.value.client_id.clone();
                (l, client_id)
            }))
    }

    /// The redirect back to the host's user-code page with `?result=`.
    fn device_result(&self, result: &str, set_cookie: Option<String>) -> Authorization {
        let location = format!(
            "{}?result={result}",
            self.inner.config.paths.device_verification
        );
        let mut response = Response::redirect(location).no_store();
        if let Some(c) = set_cookie {
            response = response.header("Set-Cookie", c);
        }
        Authorization::Respond(response)
    }
}
