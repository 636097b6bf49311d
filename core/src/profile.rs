//! Security profiles: the FAPI 2.0 Security Profile (Final, February 2025) as one switch,
//! [`ProviderBuilder::profile`](crate::ProviderBuilder::profile).
//!
//! The switch sets what the profile fixes, and refuses at build time a configuration that
//! contradicts it; what it checks per request is in the functions of this module:
//! - pushed authorization requests required (§5.3.2.2 item 1, RFC 9126);
//! - PKCE with S256 for every authorization request (§5.3.2.2 item 2);
//! - confidential clients only (§5.3.2.1 item 1), authenticated with `private_key_jwt`
//!   (§5.3.2.1 item 4; mTLS is not offered), the assertion's `aud` the issuer only
//!   (§5.3.2.1 item 8) and its `iat`/`nbf` at most 10 s ahead (§5.3.2.1 item 9);
//! - sender-constrained access tokens only: DPoP for every token request (§5.3.2.1 items
//!   2-3), proofs signed with PS256, ES256 or EdDSA (§5.4);
//! - signing algorithms PS256, ES256 or EdDSA for ID tokens and JWT access tokens (§5.4);
//! - authorization codes live at most 60 s (§5.3.2.1 item 6);
//! - `iss` in every authorization response (§5.3.2.2 item 4: always on in idpkit);
//! - refresh tokens: idpkit rotates them, so §5.3.2.1 item 10 requires that a retry of the
//!   previous refresh token succeeds when the response with the new one was lost. The
//!   profile turns on the retry window
//!   ([`refresh_reuse_grace`](crate::ProviderBuilder::refresh_reuse_grace)) for at least
//!   [`FAPI2_REFRESH_RETRY`]: one retry inside it succeeds, any other replay still revokes
//!   the grant (RFC 9700 §4.14.2). Rotation is kept rather than turned off because the
//!   refresh grant is one implementation for every client, and because reuse detection
//!   keeps working.

use time::Duration;

use crate::Algorithm;
use crate::authorization_request::AuthorizationRequest;
use crate::client::Client;
use crate::error::{ConfigError, ErrorCode, OAuthError};

/// A security profile a provider enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Profile {
    /// idpkit's defaults (RFC 9700 posture).
    #[default]
    Default,
    /// The FAPI 2.0 Security Profile (Final): see [`ProviderBuilder::profile`](crate::ProviderBuilder::profile)
    /// and the README section "FAPI 2.0 and sender-constrained tokens".
    Fapi2,
}

/// The signing algorithms FAPI 2.0 allows (§5.4.1: PS256, ES256, EdDSA with Ed25519).
pub const FAPI2_ALGORITHMS: [Algorithm; 3] = [Algorithm::PS256, Algorithm::ES256, Algorithm::EdDSA];

/// The longest authorization code lifetime under FAPI 2.0 (§5.3.2.1: "shall not ... longer
/// than 60 seconds").
pub const FAPI2_MAX_CODE_TTL: Duration = Duration::seconds(60);

/// The shortest refresh-token retry window under FAPI 2.0 in idpkit (see the module
/// documentation).
pub const FAPI2_REFRESH_RETRY: Duration = Duration::seconds(30);

/// The configuration checks of a profile at build time: `signing_alg` and `code_ttl`.
pub(crate) fn check_config(
    profile: Profile,
    signing_alg: Algorithm,
    code_ttl: Duration,
) -> Result<(), ConfigError> {
    if profile != Profile::Fapi2 {
        return Ok(());
    }
    if !FAPI2_ALGORITHMS.contains(&signing_alg) {
        return Err(ConfigError::Setting {
            knob: "signing_alg",
            reason: format!(
                "FAPI 2.0 (§5.4) allows PS256, ES256 and EdDSA only, not {signing_alg}"
            ),
        });
    }
    if code_ttl > FAPI2_MAX_CODE_TTL {
        return Err(ConfigError::Setting {
            knob: "code_ttl",
            reason: "FAPI 2.0 (§5.3.2.1) allows authorization codes of at most 60 seconds".into(),
        });
    }
    Ok(())
}

/// The per-client algorithm a FAPI 2.0 provider signs with must be one it allows.
pub(crate) fn check_client_signing(profile: Profile, client: &Client) -> Result<(), OAuthError> {
    match (profile, client.signing_alg) {
        (Profile::Fapi2, Some(alg)) if !FAPI2_ALGORITHMS.contains(&alg) => Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            format!("this client is registered for {alg} tokens, which FAPI 2.0 does not allow"),
        )),
        _ => Ok(()),
    }
}

/// FAPI 2.0 §5.3.2.2 item 2: every authorization request carries a PKCE S256 challenge
/// (idpkit supports no other method).
pub(crate) fn check_authorization_request(
    profile: Profile,
    request: &AuthorizationRequest,
) -> Result<(), OAuthError> {
    if profile == Profile::Fapi2 && request.device.is_none() && request.code_challenge.is_none() {
        return Err(OAuthError::invalid_request(
            "FAPI 2.0 requires PKCE: send code_challenge with code_challenge_method=S256",
        ));
    }
    Ok(())
}

/// FAPI 2.0 §5.3.2.1 items 1 and 4: only confidential clients, authenticated with
/// `private_key_jwt` (`with_private_key_jwt`: this request's client authentication was a
/// `private_key_jwt` assertion).
pub(crate) fn check_client_authentication(
    profile: Profile,
    client: &Client,
    with_private_key_jwt: bool,
) -> Result<(), OAuthError> {
    if profile != Profile::Fapi2 {
        return Ok(());
    }
    if !client.is_confidential() {
        return Err(OAuthError::invalid_client(
            "FAPI 2.0 supports confidential clients only",
        ));
    }
    if !with_private_key_jwt {
        return Err(OAuthError::invalid_client(
            "FAPI 2.0 requires private_key_jwt client authentication",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authorization_response::ResponseMode;

    fn request(challenge: Option<&str>) -> AuthorizationRequest {
        AuthorizationRequest {
            client_id: "c".into(),
            redirect_uri: "https://a.example/cb".into(),
            redirect_uri_sent: true,
            response_mode: ResponseMode::Query,
            scopes: vec!["openid".into()],
            state: None,
            nonce: None,
            code_challenge: challenge.map(str::to_owned),
            prompt: Vec::new(),
            max_age: None,
            login_hint: None,
            upstream_hint: None,
            device: None,
            resources: Vec::new(),
            authorization_details: Vec::new(),
            dpop_jkt: None,
            claims: Default::default(),
        }
    }

    #[test]
    fn fapi2_signs_with_ps256_es256_or_eddsa_only_fapi2_5_4() {
        let ttl = Duration::seconds(60);
        for alg in FAPI2_ALGORITHMS {
            assert!(check_config(Profile::Fapi2, alg, ttl).is_ok(), "{alg}");
        }
        let e = check_config(Profile::Fapi2, Algorithm::RS256, ttl).expect_err("RS256");
        assert!(e.to_string().contains("signing_alg"), "{e}");
        assert!(check_config(Profile::Default, Algorithm::RS256, ttl).is_ok());
    }

    #[test]
    fn fapi2_codes_live_at_most_60_seconds_fapi2_5_3_2_1() {
        assert!(check_config(Profile::Fapi2, Algorithm::ES256, Duration::seconds(60)).is_ok());
        let e = check_config(Profile::Fapi2, Algorithm::ES256, Duration::seconds(61))
            .expect_err("too long");
        assert!(e.to_string().contains("code_ttl"), "{e}");
        assert!(check_config(Profile::Default, Algorithm::ES256, Duration::minutes(10)).is_ok());
    }

    #[test]
    fn fapi2_requires_pkce_on_every_authorization_request_fapi2_5_3_2_2() {
        let e = check_authorization_request(Profile::Fapi2, &request(None)).expect_err("no PKCE");
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(check_authorization_request(Profile::Fapi2, &request(Some("c"))).is_ok());
        assert!(check_authorization_request(Profile::Default, &request(None)).is_ok());
    }

    #[test]
    fn fapi2_client_tokens_are_signed_with_allowed_algorithms_only_fapi2_5_4() {
        let rs = Client::confidential("c", "s")
            .redirect_uri("https://a.example/cb")
            .signing_alg(Algorithm::RS256)
            .build()
            .expect("valid");
        assert_eq!(
            check_client_signing(Profile::Fapi2, &rs)
                .expect_err("RS256")
                .code,
            ErrorCode::UnauthorizedClient
        );
        assert!(check_client_signing(Profile::Default, &rs).is_ok());
    }
}
