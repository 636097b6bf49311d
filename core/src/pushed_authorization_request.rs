//! Pushed authorization requests (RFC 9126): the client sends the authorization request's
//! parameters to the pushed authorization request endpoint (authenticated like at the
//! token endpoint), gets a `request_uri` back, and sends the browser to the authorization
//! endpoint with `client_id` and that `request_uri` only.
//!
//! The rules:
//! - the pushed parameters are validated exactly as the authorization endpoint validates
//!   them (the same `authorization_request::parse`), and an error is a JSON 400 to the
//!   client (§2.3), never a redirect;
//! - a `request_uri` inside a pushed request is refused (§2.1);
//! - the `request_uri` is `urn:ietf:params:oauth:request_uri:` and 256 random bits, stored
//!   only as its hash; it lives [`Config::pushed_authorization_request_ttl`] (60 s by
//!   default, §2.2 "short") and is consumed by the first authorization request that names
//!   it (one atomic `consume` in the grant store: single use across instances);
//! - at the authorization endpoint, only the pushed parameters are used (§4: "the
//!   authorization server MUST only accept the parameters provided in the pushed
//!   authorization request"): any other parameter besides `client_id` is ignored, and
//!   `client_id` must be the pushing client's (§4);
//! - a client registered with `require_pushed_authorization_requests`, or every client
//!   when the provider requires it (§5, §6), gets no authorization without a pushed
//!   request.
//!
//! [`Config::pushed_authorization_request_ttl`]: crate::Config::pushed_authorization_request_ttl

use crate::client::Client;
use crate::config::Config;
use crate::error::{ErrorCode, OAuthError};
use crate::http_types::Params;

/// The prefix of every `request_uri` this provider hands out (RFC 9126 §2.2).
pub(crate) const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// A fresh `request_uri` (the prefix and 256 random bits).
pub(crate) fn new_request_uri() -> String {
    format!("{REQUEST_URI_PREFIX}{}", crate::crypto::random_token())
}

/// The refusal of a `request_uri` that names nothing live: unknown, expired, used, or
/// another client's. One description for all, so a guess learns nothing.
pub(crate) fn invalid_request_uri() -> OAuthError {
    OAuthError::new(
        ErrorCode::InvalidRequestUri,
        "the request_uri is invalid, expired or already used",
    )
}

/// The checks of a pushed request's parameters before they are parsed as an
/// authorization request: no `request_uri` (§2.1), and a `client_id`, if sent, that is
/// the authenticated client's (§2.1: "the client_id ... MUST" identify the
/// authenticated client). Returns the parameters to parse, with `client_id`.
pub(crate) fn pushed_params(p: &Params, client: &Client) -> Result<Params, OAuthError> {
    if p.get("request_uri")?.is_some() {
        return Err(OAuthError::invalid_request(
            "a pushed authorization request must not contain request_uri (RFC 9126 §2.1)",
        ));
    }
    match p.get("client_id")? {
        Some(id) if id == client.id() => Ok(p.clone()),
        Some(_) => Err(OAuthError::invalid_request(
            "client_id is not the authenticated client",
        )),
        None => {
            let mut out = Params::from_pairs([("client_id", client.id())]);
            out.extend(p.clone());
            Ok(out)
        }
    }
}

/// At the authorization endpoint: a `request_uri` is one of ours (anything else is
/// `invalid_request_uri`; idpkit resolves no other reference, RFC 9126 §4).
pub(crate) fn check_reference(request_uri: &str) -> Result<(), OAuthError> {
    match request_uri.strip_prefix(REQUEST_URI_PREFIX) {
        Some(rest) if !rest.is_empty() => Ok(()),
        _ => Err(invalid_request_uri()),
    }
}

/// §4: the `client_id` of the authorization request is the pushing client's.
pub(crate) fn check_client(pushed_client_id: &str, client_id: &str) -> Result<(), OAuthError> {
    if crate::crypto::constant_time_eq(pushed_client_id.as_bytes(), client_id.as_bytes()) {
        Ok(())
    } else {
        Err(invalid_request_uri())
    }
}

/// §5/§6: whether `client`'s authorization requests must have been pushed.
pub(crate) fn required(config: &Config, client: &Client) -> bool {
    config.require_pushed_authorization_requests || client.require_pushed_authorization_requests
}

/// The refusal of an authorization request that was not pushed when it must be.
pub(crate) fn not_pushed() -> OAuthError {
    OAuthError::invalid_request(
        "this client must push its authorization requests first (RFC 9126 §5)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Client {
        Client::confidential("web", "s")
            .redirect_uri("https://app.example/cb")
            .build()
            .expect("valid")
    }

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn a_pushed_request_must_not_contain_request_uri_rfc9126_2_1() {
        let e = pushed_params(
            &params(&[("request_uri", "urn:ietf:params:oauth:request_uri:x")]),
            &client(),
        )
        .expect_err("refused");
        assert_eq!(e.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn the_pushed_client_id_is_the_authenticated_client_rfc9126_2_1() {
        let e = pushed_params(&params(&[("client_id", "other")]), &client())
            .expect_err("another client");
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        let p = pushed_params(&params(&[("scope", "openid")]), &client()).expect("added");
        assert_eq!(p.get("client_id").expect("one"), Some("web"));
        let p = pushed_params(&params(&[("client_id", "web")]), &client()).expect("same");
        assert_eq!(p.get("client_id").expect("one"), Some("web"));
    }

    #[test]
    fn request_uris_are_urns_with_256_random_bits_rfc9126_2_2() {
        let a = new_request_uri();
        assert!(a.starts_with(REQUEST_URI_PREFIX));
        assert_eq!(a.len(), REQUEST_URI_PREFIX.len() + 43);
        assert_ne!(a, new_request_uri());
        assert!(check_reference(&a).is_ok());
    }

    #[test]
    fn only_our_request_uris_are_resolved_rfc9126_4() {
        for bad in [
            "https://client.example/request.jwt",
            REQUEST_URI_PREFIX,
            "urn:ietf:params:oauth:request_uri",
        ] {
            assert_eq!(
                check_reference(bad).expect_err(bad).code,
                ErrorCode::InvalidRequestUri
            );
        }
    }

    #[test]
    fn the_request_uri_is_bound_to_the_pushing_client_rfc9126_4() {
        assert!(check_client("web", "web").is_ok());
        assert_eq!(
            check_client("web", "other").expect_err("foreign").code,
            ErrorCode::InvalidRequestUri
        );
    }

    #[test]
    fn par_is_required_by_the_client_or_server_wide_rfc9126_5_6() {
        let mut config = crate::Provider::builder("https://x").config_for_tests();
        let plain = client();
        assert!(!required(&config, &plain));
        let strict = Client::confidential("strict", "s")
            .redirect_uri("https://app.example/cb")
            .require_pushed_authorization_requests(true)
            .build()
            .expect("valid");
        assert!(required(&config, &strict));
        config.require_pushed_authorization_requests = true;
        assert!(required(&config, &plain));
    }
}
