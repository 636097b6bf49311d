//! JWT access tokens (RFC 9068): `typ: at+jwt`, the claims of §2.2, and the audience rule of
//! §5 (never the client id, which is an ID token's audience).

use serde::{Deserialize, Serialize};

use crate::client::Client;

/// The JOSE `typ` of an access token (RFC 9068 §2.1).
pub const TYP: &str = "at+jwt";

/// Claims of an idpkit access token (RFC 9068 §2.2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// Subject: the user, or the client itself for client_credentials.
    pub sub: String,
    /// Audience(s).
    pub aud: Vec<String>,
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Token id.
    pub jti: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Space-separated scopes.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub scope: String,
    /// When the user authenticated.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub auth_time: Option<i64>,
    /// The actor of a delegated token (RFC 8693 §4.1): a JSON object with the actor's
    /// `sub` and, for a chain of delegations, the previous actor nested as its own `act`
    /// (the outermost is the current actor).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub act: Option<serde_json::Value>,
    /// The granted authorization details (RFC 9396 §9.1): a JSON array of objects.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub authorization_details: Option<serde_json::Value>,
    /// The confirmation of a sender-constrained token (RFC 7800 §3.1; RFC 9449 §6.1:
    /// `{"jkt": ...}`, the thumbprint of the client's DPoP key).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cnf: Option<Confirmation>,
}

/// The `cnf` claim of a DPoP-bound token (RFC 9449 §6.1).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Confirmation {
    /// The RFC 7638 thumbprint of the DPoP key (`jkt`).
    pub jkt: String,
}

/// The `aud` of a client's access tokens: its configured resource audience, or the issuer
/// itself (the token is then good for userinfo only). Never the client id (RFC 9068 §5).
pub fn audience(issuer: &str, client: &Client) -> Vec<String> {
    if client.audience.is_empty() {
        vec![issuer.to_owned()]
    } else {
        client.audience.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::GrantType;

    fn client(aud: &[&str]) -> Client {
        Client::confidential("web", "s")
            .grant_types([GrantType::ClientCredentials])
            .audience(aud.iter().copied())
            .build()
            .expect("valid")
    }

    #[test]
    fn audience_is_the_api_or_the_issuer_never_the_client_rfc9068_5() {
        assert_eq!(audience("https://iss", &client(&[])), vec!["https://iss"]);
        assert_eq!(
            audience("https://iss", &client(&["orders-api", "billing"])),
            vec!["orders-api", "billing"]
        );
        assert!(!audience("https://iss", &client(&[])).contains(&"web".to_owned()));
    }

    #[test]
    fn claims_serialise_the_rfc9068_2_2_members_and_skip_empty_ones() {
        let c = AccessClaims {
            iss: "https://iss".into(),
            sub: "web".into(),
            aud: vec!["api".into()],
            exp: 2,
            iat: 1,
            jti: "j".into(),
            client_id: "web".into(),
            scope: String::new(),
            auth_time: None,
            act: None,
            authorization_details: None,
            cnf: None,
        };
        let v = serde_json::to_value(&c).expect("json");
        for k in ["iss", "sub", "aud", "exp", "iat", "jti", "client_id"] {
            assert!(v.get(k).is_some(), "{k}");
        }
        assert!(v.get("scope").is_none() && v.get("auth_time").is_none());
        assert!(v.get("cnf").is_none(), "no cnf for a bearer token");
        assert!(
            v.get("act").is_none(),
            "no act without an actor (RFC 8693 §4.1)"
        );
        let back: AccessClaims = serde_json::from_value(v).expect("round trip");
        assert_eq!(back, c);
    }
}
