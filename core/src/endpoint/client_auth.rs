//! Client authentication at the token, revocation and introspection endpoints
//! (RFC 6749 §2.3): `client_secret_basic`, `client_secret_post`, `none`.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::client::Client;
use crate::error::OAuthError;
use crate::http_types::Request;
use crate::provider::Provider;

/// Decodes `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
pub(crate) fn parse_basic(header: &str) -> Result<(String, String), OAuthError> {
    let bad = || OAuthError::invalid_client("malformed Basic credentials");
    let (scheme, rest) = header.split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client(
            "unsupported Authorization scheme; use Basic",
        ));
    }
    let decoded = STANDARD.decode(rest.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| -> Result<String, OAuthError> {
        // form-urlencoded decoding, where '+' is a space.
        let pairs: Vec<(String, String)> = form_urlencoded::parse(format!("v={s}").as_bytes())
            .into_owned()
            .collect();
        pairs.into_iter().next().map(|(_, v)| v).ok_or_else(bad)
    };
    Ok((unescape(id)?, unescape(secret)?))
}

impl Provider {
    /// Authenticates the client of a back-channel request. Public clients identify with
    /// `client_id` alone; confidential ones must present their secret by exactly one method.
    pub(crate) async fn authenticate_client(
        &self,
        req: &Request,
    ) -> Result<Arc<Client>, OAuthError> {
        let form_id = req.params.get("client_id")?;
        let form_secret = req.params.get("client_secret")?;
        let basic = match &req.authorization {
            Some(h) => Some(parse_basic(h)?),
            None => None,
        };
        let (client_id, secret) = match (basic, form_secret) {
            (Some(_), Some(_)) => {
                return Err(OAuthError::invalid_request(
                    "more than one client authentication method in the request",
                ));
            }
            (Some((id, secret)), None) => {
                if form_id.is_some_and(|f| f != id) {
                    return Err(OAuthError::invalid_request(
                        "client_id in the body does not match the Authorization header",
                    ));
                }
                (id, Some(secret))
            }
            (None, secret) => match form_id {
                Some(id) => (id.to_owned(), secret.map(str::to_owned)),
                None => {
                    return Err(OAuthError::invalid_client(
                        "client authentication is required",
                    ));
                }
            },
        };
        let failed = |desc: &'static str| {
            // Answered 401 with `WWW-Authenticate: Basic` (see `Response::from_error`).
            let e = OAuthError::invalid_client(desc);
            tracing::info!(client_id = %client_id, reason = desc, "idpkit: client authentication failed");
            e
        };
        let Some(client) = self.inner.clients.find(&client_id).await? else {
            return Err(failed("unknown client or bad credentials"));
        };
        match (&client.secret, secret) {
            (Some(hash), Some(presented)) if hash.verify(&presented) => Ok(client),
            (Some(_), _) => Err(failed("unknown client or bad credentials")),
            (None, None) => Ok(client),
            (None, Some(_)) => Err(failed("a public client has no secret to present")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_url_decoded() {
        // "my%3Aclient:p%40ss+word" → id "my:client", secret "p@ss word"
        let header = format!("Basic {}", STANDARD.encode("my%3Aclient:p%40ss+word"));
        let (id, secret) = parse_basic(&header).expect("parses");
        assert_eq!(id, "my:client");
        assert_eq!(secret, "p@ss word");
    }

    #[test]
    fn malformed_basic_is_invalid_client() {
        assert_eq!(
            parse_basic("Basic !!!").unwrap_err().code.as_str(),
            "invalid_client"
        );
        assert_eq!(
            parse_basic("Bearer x").unwrap_err().code.as_str(),
            "invalid_client"
        );
        let no_colon = format!("Basic {}", STANDARD.encode("nocolon"));
        assert!(parse_basic(&no_colon).is_err());
    }
}
