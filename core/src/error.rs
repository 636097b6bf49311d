//! Errors: the RFC 6749 / 6750 wire errors and the configuration errors of the builder.
//!
//! The mapping from an error code to its HTTP status lives in one place,
//! [`ErrorCode::status`]. Client-visible descriptions are short; internal detail goes to
//! `tracing`.

use std::borrow::Cow;
use std::fmt;

/// An OAuth 2.0 / OpenID Connect error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorCode {
    /// RFC 6749 `invalid_request`.
    InvalidRequest,
    /// RFC 6749 `invalid_client`.
    InvalidClient,
    /// RFC 6749 `invalid_grant`.
    InvalidGrant,
    /// RFC 6749 `unauthorized_client`.
    UnauthorizedClient,
    /// RFC 6749 `unsupported_grant_type`.
    UnsupportedGrantType,
    /// RFC 6749 `invalid_scope`.
    InvalidScope,
    /// RFC 6749 `access_denied`.
    AccessDenied,
    /// RFC 6749 `unsupported_response_type`.
    UnsupportedResponseType,
    /// RFC 6749 `server_error`.
    ServerError,
    /// RFC 6749 `temporarily_unavailable`.
    TemporarilyUnavailable,
    /// OIDC `login_required`.
    LoginRequired,
    /// OIDC `consent_required`.
    ConsentRequired,
    /// OIDC `interaction_required`.
    InteractionRequired,
    /// OIDC `request_not_supported`.
    RequestNotSupported,
    /// OIDC Core §3.1.2.6 / RFC 9101 §6.2 `invalid_request_object`: the request object
    /// does not verify or breaks a rule.
    InvalidRequestObject,
    /// OIDC `request_uri_not_supported`.
    RequestUriNotSupported,
    /// RFC 6750 `invalid_token`.
    InvalidToken,
    /// RFC 6750 `insufficient_scope`.
    InsufficientScope,
    /// RFC 7009 `unsupported_token_type`.
    UnsupportedTokenType,
    /// RFC 8628 §3.5 `authorization_pending`: the user has not decided yet.
    AuthorizationPending,
    /// RFC 8628 §3.5 `slow_down`: poll less often (the interval grows by 5 seconds).
    SlowDown,
    /// RFC 8628 §3.5 `expired_token`: the device code has expired.
    ExpiredToken,
    /// RFC 8707 §2 / RFC 8693 §2.2.2 `invalid_target`: the server is unwilling or unable to
    /// issue a token for the requested resource or audience.
    InvalidTarget,
    /// RFC 9396 §5 `invalid_authorization_details`: an authorization detail is malformed,
    /// of a type the client may not use, or refused by the host's policy.
    InvalidAuthorizationDetails,
    /// RFC 9101 §6.2 `invalid_request_uri`: the `request_uri` is unknown, expired, used
    /// already, or another client's (RFC 9126 §4).
    InvalidRequestUri,
    /// RFC 9449 §5, §7.1 `invalid_dpop_proof`: the DPoP proof is missing, invalid, replayed
    /// or for another key.
    InvalidDpopProof,
    /// RFC 9449 §8 `use_dpop_nonce`: retry with the nonce of the `DPoP-Nonce` header.
    UseDpopNonce,
    /// RFC 7591 §3.2.2 `invalid_redirect_uri`: a `redirect_uris` value is refused.
    InvalidRedirectUri,
    /// RFC 7591 §3.2.2 `invalid_client_metadata`: a metadata member (named in the
    /// description) is invalid, or the body is not a JSON object within the size cap.
    InvalidClientMetadata,
    /// RFC 7591 §3.2.2 `invalid_software_statement`: a software statement that is
    /// malformed, expired, or whose signature does not verify.
    InvalidSoftwareStatement,
    /// RFC 7591 §3.2.2 `unapproved_software_statement`: a software statement no trusted
    /// issuer signed (or none is trusted).
    UnapprovedSoftwareStatement,
}

impl ErrorCode {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InteractionRequired => "interaction_required",
            Self::RequestNotSupported => "request_not_supported",
            Self::InvalidRequestObject => "invalid_request_object",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::ExpiredToken => "expired_token",
            Self::InvalidTarget => "invalid_target",
            Self::InvalidAuthorizationDetails => "invalid_authorization_details",
            Self::InvalidRequestUri => "invalid_request_uri",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidClientMetadata => "invalid_client_metadata",
            Self::InvalidSoftwareStatement => "invalid_software_statement",
            Self::UnapprovedSoftwareStatement => "unapproved_software_statement",
        }
    }

    /// The HTTP status this error is answered with when it is not a redirect.
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidClient | Self::InvalidToken => 401,
            Self::InsufficientScope => 403,
            Self::ServerError => 500,
            Self::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error answered to a client: a code and a short description.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct OAuthError {
    /// The error code.
    pub code: ErrorCode,
    /// The `error_description` (short, safe to show to the client).
    pub description: Cow<'static, str>,
    /// Overrides the status of [`ErrorCode::status`] (e.g. 413 for an oversized request).
    pub status: Option<u16>,
    /// Seconds to wait before retrying, sent as `Retry-After` (429 refusals of
    /// [`crate::RateLimits`]).
    pub retry_after: Option<u64>,
}

impl OAuthError {
    /// An error with a code and a description.
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            description: clean_description(description.into()),
            status: None,
            retry_after: None,
        }
    }

    /// `invalid_request`.
    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    /// `invalid_grant`.
    pub fn invalid_grant(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }

    /// `invalid_client`.
    pub fn invalid_client(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidClient, description)
    }

    /// `server_error` with a generic description; `detail` is logged, not sent.
    pub fn server_error(detail: &dyn fmt::Display) -> Self {
        tracing::error!(error = %crate::logging::untrusted(&detail), "idpkit: server error");
        Self::new(
            ErrorCode::ServerError,
            "the server could not complete the request",
        )
    }

    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        self.status.unwrap_or_else(|| self.code.status())
    }

    /// The JSON error object `{"error": .., "error_description": ..}`.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "error": self.code.as_str(),
            "error_description": self.description,
        }))
        .unwrap_or_default()
    }
}

impl From<crate::store::StoreError> for OAuthError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::server_error(&e)
    }
}

impl From<crate::keys::KeyError> for OAuthError {
    fn from(e: crate::keys::KeyError) -> Self {
        match e {
            crate::keys::KeyError::Unavailable(detail) => {
                tracing::warn!(error = %crate::logging::untrusted(&detail), "idpkit: signing key service unavailable");
                Self::new(
                    ErrorCode::TemporarilyUnavailable,
                    "the signing service is unavailable; retry later",
                )
            }
            other => Self::server_error(&other),
        }
    }
}

/// RFC 6749 §5.2 allows `%x20-21 / %x23-5B / %x5D-7E` in `error_description`. Descriptions
/// that quote request input are cleaned to that set and cut to 200 characters, so nothing a
/// client sends is reflected verbatim.
fn clean_description(d: Cow<'static, str>) -> Cow<'static, str> {
    let ok = |c: char| matches!(c, '\x20'..='\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E');
    if d.len() <= 200 && d.chars().all(ok) {
        return d;
    }
    let cleaned: String = d
        .chars()
        .take(200)
        .map(|c| if ok(c) { c } else { '?' })
        .collect();
    Cow::Owned(cleaned)
}

/// The provider or a client was configured in a way idpkit refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required part was not given to the builder.
    #[error("the provider needs {0}: call ProviderBuilder::{0}(..)")]
    Missing(&'static str),
    /// The issuer URL is not acceptable.
    #[error("issuer {issuer:?} is not acceptable: {reason}")]
    Issuer {
        /// The issuer given.
        issuer: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A development-only backend was given without opting in.
    #[error(
        "{what} is for development only (nothing survives a restart and instances do not agree); \
         call ProviderBuilder::dangerous_allow_development_backends() to use it anyway"
    )]
    DevelopmentBackend {
        /// Which backend.
        what: &'static str,
    },
    /// A client registration is unsafe or inconsistent.
    #[error("client {client_id:?}: {reason}")]
    Client {
        /// The client.
        client_id: String,
        /// What is wrong.
        reason: String,
    },
    /// A setting is out of its allowed range.
    #[error("{knob}: {reason}")]
    Setting {
        /// The setting's name.
        knob: &'static str,
        /// What is wrong.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_rfc6749_5_2_and_rfc6750_3_1() {
        assert_eq!(ErrorCode::InvalidRequest.status(), 400);
        assert_eq!(ErrorCode::InvalidGrant.status(), 400);
        assert_eq!(ErrorCode::InvalidClient.status(), 401);
        assert_eq!(ErrorCode::InvalidToken.status(), 401);
        assert_eq!(ErrorCode::InsufficientScope.status(), 403);
        assert_eq!(ErrorCode::ServerError.status(), 500);
        assert_eq!(ErrorCode::TemporarilyUnavailable.status(), 503);
        let mut e = OAuthError::invalid_request("too large");
        e.status = Some(413);
        assert_eq!(e.status(), 413, "an explicit status wins");
    }

    #[test]
    fn the_wire_object_has_error_and_description_rfc6749_5_2() {
        let e = OAuthError::invalid_grant("the code is used");
        let v: serde_json::Value = serde_json::from_slice(&e.to_json()).expect("json");
        assert_eq!(
            v,
            serde_json::json!({"error": "invalid_grant", "error_description": "the code is used"})
        );
        assert_eq!(e.to_string(), "invalid_grant: the code is used");
    }

    #[test]
    fn descriptions_are_cleaned_to_the_rfc6749_5_2_charset_and_cut() {
        let e = OAuthError::invalid_request("bad \"scope\" \\ <é>\n");
        assert_eq!(e.description, "bad ?scope? ? <?>?");
        let long = OAuthError::invalid_request("x".repeat(500));
        assert_eq!(long.description.len(), 200);
        let fine = OAuthError::invalid_request("plain words");
        assert!(
            matches!(fine.description, Cow::Borrowed(_)),
            "no copy when clean"
        );
    }

    #[test]
    fn server_errors_never_carry_the_detail() {
        let e = OAuthError::server_error(&"connection to 10.0.0.7 refused");
        assert_eq!(e.code, ErrorCode::ServerError);
        assert!(!e.description.contains("10.0.0.7"));
        let from_store: OAuthError = crate::store::StoreError::backend("db password wrong").into();
        assert!(!from_store.description.contains("password"));
    }

    #[test]
    fn a_signing_outage_is_temporarily_unavailable() {
        let e: OAuthError = crate::keys::KeyError::Unavailable("kms timeout".into()).into();
        assert_eq!(e.code, ErrorCode::TemporarilyUnavailable);
        assert_eq!(e.status(), 503);
    }

    #[test]
    fn every_code_has_a_distinct_snake_case_name() {
        let all = [
            ErrorCode::InvalidRequest,
            ErrorCode::InvalidClient,
            ErrorCode::InvalidGrant,
            ErrorCode::UnauthorizedClient,
            ErrorCode::UnsupportedGrantType,
            ErrorCode::InvalidScope,
            ErrorCode::AccessDenied,
            ErrorCode::UnsupportedResponseType,
            ErrorCode::ServerError,
            ErrorCode::TemporarilyUnavailable,
            ErrorCode::LoginRequired,
            ErrorCode::ConsentRequired,
            ErrorCode::InteractionRequired,
            ErrorCode::RequestNotSupported,
            ErrorCode::InvalidRequestObject,
            ErrorCode::RequestUriNotSupported,
            ErrorCode::InvalidToken,
            ErrorCode::InsufficientScope,
            ErrorCode::UnsupportedTokenType,
            ErrorCode::AuthorizationPending,
            ErrorCode::SlowDown,
            ErrorCode::ExpiredToken,
            ErrorCode::InvalidTarget,
        ];
        let mut names: Vec<&str> = all.iter().map(|c| c.as_str()).collect();
        assert!(
            names
                .iter()
                .all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        );
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
    }
}
