//! The JWS algorithms idpkit signs and verifies with (RFC 7518 §3.1).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A JWS algorithm idpkit signs with. `none` and HMAC algorithms do not exist here
/// (RFC 7518 §3.1 lists them; RFC 8725 §3.1 and §3.2 say why a verifier must not accept them
/// from the token).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (required by OpenID Connect).
    RS256,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// Ed25519.
    EdDSA,
}

impl Algorithm {
    /// Every algorithm, in the order discovery lists them.
    pub const ALL: [Algorithm; 4] = [Self::RS256, Self::PS256, Self::ES256, Self::EdDSA];

    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }

    /// Parses a JOSE name; `none`, HMAC and unknown names give `None`. Names are
    /// case-sensitive (RFC 7515 §4.1.1).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(Self::RS256),
            "PS256" => Some(Self::PS256),
            "ES256" => Some(Self::ES256),
            "EdDSA" => Some(Self::EdDSA),
            _ => None,
        }
    }

    /// The JWK `kty` a key for this algorithm has (RFC 7518 §6.1, RFC 8037 §2).
    pub fn key_type(self) -> &'static str {
        match self {
            Self::RS256 | Self::PS256 => "RSA",
            Self::ES256 => "EC",
            Self::EdDSA => "OKP",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An HMAC JWS algorithm (RFC 7518 §3.2), for one use only: `client_secret_jwt` client
/// assertions (OIDC Core §9), keyed with a secret the client and idpkit share. It is a
/// type of its own, apart from [`Algorithm`], so no verifier of asymmetric signatures can
/// be made to accept an HMAC (RFC 8725 §3.1: no key confusion).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MacAlgorithm {
    /// HMAC with SHA-256.
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
}

impl MacAlgorithm {
    /// Every HMAC algorithm, in the order discovery lists them.
    pub const ALL: [MacAlgorithm; 3] = [Self::HS256, Self::HS384, Self::HS512];

    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::HS384 => "HS384",
            Self::HS512 => "HS512",
        }
    }

    /// Parses a JOSE name (case-sensitive, RFC 7515 §4.1.1).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "HS256" => Some(Self::HS256),
            "HS384" => Some(Self::HS384),
            "HS512" => Some(Self::HS512),
            _ => None,
        }
    }

    /// The hash output size in bytes: RFC 7518 §3.2 requires a key at least this long.
    pub fn min_key_len(self) -> usize {
        match self {
            Self::HS256 => 32,
            Self::HS384 => 48,
            Self::HS512 => 64,
        }
    }
}

impl fmt::Display for MacAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_and_hmac_are_not_algorithms_rfc8725_3_1() {
        for name in [
            "none", "None", "NONE", "HS256", "HS384", "HS512", "rs256", "",
        ] {
            assert_eq!(Algorithm::from_name(name), None, "{name:?}");
        }
    }

    #[test]
    fn names_round_trip_case_sensitively_rfc7515_4_1_1() {
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(alg.as_str()), Some(alg));
        }
    }

    #[test]
    fn key_types_follow_rfc7518_6_1_and_rfc8037_2() {
        assert_eq!(Algorithm::RS256.key_type(), "RSA");
        assert_eq!(Algorithm::PS256.key_type(), "RSA");
        assert_eq!(Algorithm::ES256.key_type(), "EC");
        assert_eq!(Algorithm::EdDSA.key_type(), "OKP");
    }
}
