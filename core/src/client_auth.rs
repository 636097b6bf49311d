//! Client authentication at the token, revocation and introspection endpoints
//! (RFC 6749 §2.3): `client_secret_basic`, `client_secret_post`, a JWT
//! (`client_secret_jwt`, `private_key_jwt`: the rules are in [`crate::client_assertion`]),
//! or `none` for public clients. Exactly one method per request (§2.3: "MUST NOT use more
//! than one"), and only the one the client registered (`token_endpoint_auth_method`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::client::{Client, TokenEndpointAuthMethod};
use crate::client_assertion::CLIENT_ASSERTION_TYPE;
use crate::error::OAuthError;
use crate::http_types::Params;

/// The credentials a request presents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Presented {
    pub client_id: String,
    pub secret: Option<String>,
    /// How: for a JWT, [`TokenEndpointAuthMethod::PrivateKeyJwt`] stands for both JWT
    /// methods (which one the client registered decides how it is verified).
    pub method: TokenEndpointAuthMethod,
    /// The `client_assertion` (RFC 7521 §4.2).
    pub assertion: Option<String>,
}

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

/// What the request presents: the Basic header, or `client_id` (+ `client_secret`) in the
/// body, never both methods; a body `client_id` must agree with the header's.
pub(crate) fn presented(
    params: &Params,
    authorization: Option<&str>,
) -> Result<Presented, OAuthError> {
    let form_id = params.get("client_id")?;
    let form_secret = params.get("client_secret")?;
    let assertion_type = params.get("client_assertion_type")?;
    let assertion = params.get("client_assertion")?;
    if assertion_type.is_some() || assertion.is_some() {
        // RFC 7521 §4.2: both parameters, the JWT type, and no other method.
        if authorization.is_some() || form_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "more than one client authentication method in the request",
            ));
        }
        let (Some(t), Some(a)) = (assertion_type, assertion) else {
            return Err(OAuthError::invalid_request(
                "client_assertion and client_assertion_type go together (RFC 7521 §4.2)",
            ));
        };
        if t != CLIENT_ASSERTION_TYPE {
            return Err(OAuthError::invalid_client(
                "unsupported client_assertion_type; use urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ));
        }
        let claimed = crate::client_assertion::claimed_client_id(a)
            .map_err(|e| OAuthError::invalid_client(format!("client_assertion: {e}")))?;
        // RFC 7521 §4.2: a client_id, when sent, identifies the same client.
        if form_id.is_some_and(|f| f != claimed) {
            return Err(OAuthError::invalid_client(
                "client_id does not match the client_assertion's sub",
            ));
        }
        return Ok(Presented {
            client_id: claimed,
            secret: None,
            method: TokenEndpointAuthMethod::PrivateKeyJwt,
            assertion: Some(a.to_owned()),
        });
    }
    let basic = match authorization {
        Some(h) => Some(parse_basic(h)?),
        None => None,
    };
    match (basic, form_secret) {
        (Some(_), Some(_)) => Err(OAuthError::invalid_request(
            "more than one client authentication method in the request",
        )),
        (Some((id, secret)), None) => {
            if form_id.is_some_and(|f| f != id) {
                return Err(OAuthError::invalid_request(
                    "client_id in the body does not match the Authorization header",
                ));
            }
            Ok(Presented {
                client_id: id,
                secret: Some(secret),
                method: TokenEndpointAuthMethod::ClientSecretBasic,
                assertion: None,
            })
        }
        (None, secret) => match form_id {
            Some(id) => Ok(Presented {
                client_id: id.to_owned(),
                method: if secret.is_some() {
                    TokenEndpointAuthMethod::ClientSecretPost
                } else {
                    TokenEndpointAuthMethod::None
                },
                secret: secret.map(str::to_owned),
                assertion: None,
            }),
            None => Err(OAuthError::invalid_client(
                "client authentication is required",
            )),
        },
    }
}

/// Checks the presented secret against the client (constant time, through the stored
/// hash). `Err` carries the reason for the log; the client only ever sees
/// `invalid_client`.
pub(crate) fn verify(client: &Client, secret: Option<&str>) -> Result<(), &'static str> {
    match (&client.secret, secret) {
        (Some(hash), Some(presented)) if hash.verify(presented) => Ok(()),
        (Some(_), _) => Err("unknown client or bad credentials"),
        (None, _) if client.is_confidential() => {
            Err("this client authenticates with a JWT (client_assertion)")
        }
        (None, None) => Ok(()),
        (None, Some(_)) => Err("a public client has no secret to present"),
    }
}

/// The presented method must be the client's (RFC 7591 §2 `token_endpoint_auth_method`):
/// a client registered for `private_key_jwt` cannot fall back to a secret, nor one
/// registered for `client_secret_basic` to `client_secret_post`.
pub(crate) fn check_method(
    client: &Client,
    presented: TokenEndpointAuthMethod,
) -> Result<(), &'static str> {
    use TokenEndpointAuthMethod as M;
    let allowed = match presented {
        M::PrivateKeyJwt | M::ClientSecretJwt => {
            client.allows_auth_method(M::PrivateKeyJwt)
                || client.allows_auth_method(M::ClientSecretJwt)
        }
        m => client.allows_auth_method(m),
    };
    if allowed {
        Ok(())
    } else {
        Err("the client is registered for another token_endpoint_auth_method")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn basic(raw: &str) -> String {
        format!("Basic {}", STANDARD.encode(raw))
    }

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn basic_credentials_are_form_url_decoded_rfc6749_2_3_1() {
        // "my%3Aclient:p%40ss+word" → id "my:client", secret "p@ss word"
        let (id, secret) = parse_basic(&basic("my%3Aclient:p%40ss+word")).expect("parses");
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
        assert!(parse_basic(&basic("nocolon")).is_err());
        assert!(parse_basic("Basic").is_err());
    }

    #[test]
    fn the_basic_scheme_name_is_case_insensitive_rfc7617_2() {
        let h = format!("bAsIc {}", STANDARD.encode("c:s"));
        assert_eq!(parse_basic(&h).expect("ok"), ("c".into(), "s".into()));
    }

    #[test]
    fn one_method_only_rfc6749_2_3() {
        let e = presented(&params(&[("client_secret", "s")]), Some(&basic("c:s")))
            .expect_err("two methods");
        assert_eq!(e.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn a_body_client_id_must_match_the_header() {
        let e = presented(&params(&[("client_id", "other")]), Some(&basic("c:s")))
            .expect_err("mismatch");
        assert!(e.description.contains("does not match"));
        let p = presented(&params(&[("client_id", "c")]), Some(&basic("c:s"))).expect("same");
        assert_eq!(p.client_id, "c");
    }

    #[test]
    fn post_and_none_present_from_the_body() {
        let p =
            presented(&params(&[("client_id", "c"), ("client_secret", "s")]), None).expect("post");
        assert_eq!(
            (p.client_id.as_str(), p.secret.as_deref()),
            ("c", Some("s"))
        );
        let p = presented(&params(&[("client_id", "spa")]), None).expect("none");
        assert_eq!(p.secret, None);
        let e = presented(&params(&[]), None).expect_err("nothing");
        assert_eq!(e.code, ErrorCode::InvalidClient);
    }

    #[test]
    fn an_assertion_is_one_method_of_its_own_rfc7521_4_2() {
        let jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJjIn0.c2ln";
        let ok = presented(
            &params(&[
                ("client_assertion_type", CLIENT_ASSERTION_TYPE),
                ("client_assertion", jwt),
            ]),
            None,
        )
        .expect("assertion");
        assert_eq!(ok.client_id, "c", "the client is the assertion's sub");
        assert_eq!(ok.method, TokenEndpointAuthMethod::PrivateKeyJwt);
        let two = presented(
            &params(&[
                ("client_assertion_type", CLIENT_ASSERTION_TYPE),
                ("client_assertion", jwt),
            ]),
            Some(&basic("c:s")),
        )
        .expect_err("two methods");
        assert_eq!(two.code, ErrorCode::InvalidRequest);
        let other = presented(
            &params(&[
                ("client_id", "d"),
                ("client_assertion_type", CLIENT_ASSERTION_TYPE),
                ("client_assertion", jwt),
            ]),
            None,
        )
        .expect_err("another client_id");
        assert_eq!(other.code, ErrorCode::InvalidClient);
        let saml = presented(
            &params(&[
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
                ),
                ("client_assertion", jwt),
            ]),
            None,
        )
        .expect_err("saml");
        assert_eq!(saml.code, ErrorCode::InvalidClient);
        let half = presented(&params(&[("client_assertion", jwt)]), None).expect_err("half");
        assert_eq!(half.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn the_registered_method_is_enforced_rfc7591_2() {
        let jwt_client = Client::private_key_jwt("k")
            .jwks(crate::Jwks::new(vec![]))
            .grant_types([crate::GrantType::ClientCredentials])
            .build()
            .expect("valid");
        assert!(check_method(&jwt_client, TokenEndpointAuthMethod::PrivateKeyJwt).is_ok());
        for m in [
            TokenEndpointAuthMethod::ClientSecretBasic,
            TokenEndpointAuthMethod::ClientSecretPost,
            TokenEndpointAuthMethod::None,
        ] {
            assert!(check_method(&jwt_client, m).is_err(), "{m}");
        }
        assert!(
            verify(&jwt_client, None).is_err(),
            "a JWT client presenting nothing is not authenticated"
        );
        let basic_only = Client::confidential("b", "s")
            .redirect_uri("https://a.example/cb")
            .token_endpoint_auth_method(TokenEndpointAuthMethod::ClientSecretBasic)
            .build()
            .expect("valid");
        assert!(check_method(&basic_only, TokenEndpointAuthMethod::ClientSecretBasic).is_ok());
        assert!(check_method(&basic_only, TokenEndpointAuthMethod::ClientSecretPost).is_err());
        let either = Client::confidential("e", "s")
            .redirect_uri("https://a.example/cb")
            .build()
            .expect("valid");
        assert!(check_method(&either, TokenEndpointAuthMethod::ClientSecretPost).is_ok());
        assert!(check_method(&either, TokenEndpointAuthMethod::PrivateKeyJwt).is_err());
    }

    #[test]
    fn secrets_verify_in_constant_time_through_the_hash_and_public_clients_have_none() {
        let c = Client::confidential("c", "s3cret")
            .redirect_uri("https://a.example/cb")
            .build()
            .expect("valid");
        assert!(verify(&c, Some("s3cret")).is_ok());
        assert!(verify(&c, Some("s3creT")).is_err());
        assert!(
            verify(&c, None).is_err(),
            "a confidential client must authenticate"
        );
        let p = Client::public("spa")
            .redirect_uri("https://a.example/cb")
            .build()
            .expect("valid");
        assert!(verify(&p, None).is_ok());
        assert_eq!(
            verify(&p, Some("x")),
            Err("a public client has no secret to present")
        );
    }
}
